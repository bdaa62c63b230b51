// Package synctest is the conformance suite every sync destination
// passes, and helpers for the tests of sync and its destinations. It is
// a non-test package so that each destination's tests run the same suite
// (TestClient_Conformance in tenant, s3 and webhook).
package synctest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"testing"
	"time"

	axsync "github.com/axiomops/axiom-audit/app/sync"
	"github.com/axiomops/axiom-audit/storage"
	"github.com/axiomops/axiom-audit/storage/keystore"
)

// Harness is one destination under test.
type Harness struct {
	// Destination delivers to a receiver on loopback.
	Destination axsync.Destination
	// Stored returns every event line the receiver holds for org, in any
	// order, duplicates included.
	Stored func(t testing.TB, org string) []axsync.Line
}

// NewStore returns a real store in a temporary directory with an
// in-memory keystore, closed when the test ends.
func NewStore(t testing.TB) *storage.Store {
	t.Helper()
	st, err := storage.Open(context.Background(), t.TempDir(), keystore.NewMemory(), storage.Options{})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// Event returns a valid event of org, n making it distinct.
func Event(org string, n int, at time.Time) storage.Event {
	return storage.Event{
		Timestamp:      at.UTC(),
		OrganizationID: org,
		UserID:         "alice@example.com",
		Provider:       "aws",
		ActionType:     "user.signed_in",
		ResourceIDs:    []string{"arn:aws:iam::123456789012:user/alice"},
		Status:         "applied",
		RiskLevel:      "low",
		Metadata:       []byte(fmt.Sprintf(`{"n":%d}`, n)),
	}
}

// Append appends n events to org's log in batches and returns their
// receipts' seqs.
func Append(t testing.TB, st *storage.Store, org string, n int) {
	t.Helper()
	now := time.Now().UTC()
	for i := 0; i < n; {
		k := min(n-i, 500)
		evs := make([]storage.Event, k)
		for j := range evs {
			evs[j] = Event(org, i+j, now)
		}
		if _, err := st.Append(context.Background(), evs); err != nil {
			t.Fatalf("append: %v", err)
		}
		i += k
	}
}

// Read returns org's events after seq (up to limit).
func Read(t testing.TB, st *storage.Store, org string, after uint64, limit int) []storage.StoredEvent {
	t.Helper()
	evs, err := st.ReadFrom(context.Background(), org, after, limit, false)
	if err != nil {
		t.Fatalf("ReadFrom: %v", err)
	}
	return evs
}

// Dedup removes duplicate lines by their key (org, seq, id), failing the
// test if two lines with one key differ, and returns them in seq order.
func Dedup(t testing.TB, lines []axsync.Line) []axsync.Line {
	t.Helper()
	seen := map[string]axsync.Line{}
	var out []axsync.Line
	for _, l := range lines {
		if old, ok := seen[l.Key()]; ok {
			if !bytes.Equal(old.Record, l.Record) {
				t.Errorf("two different records under key %s", l.Key())
			}
			continue
		}
		seen[l.Key()] = l
		out = append(out, l)
	}
	slices.SortFunc(out, func(a, b axsync.Line) int {
		if a.Org != b.Org {
			if a.Org < b.Org {
				return -1
			}
			return 1
		}
		return int(a.Seq) - int(b.Seq)
	})
	return out
}

// CheckOrder fails the test unless org's lines, in the order the receiver
// got them, first show each event in seq order: a resend may repeat
// earlier events, but no event arrives before one with a lower seq that
// has not arrived yet.
func CheckOrder(t testing.TB, org string, lines []axsync.Line) {
	t.Helper()
	seen := map[uint64]bool{}
	var next uint64 = 1
	for _, l := range lines {
		if l.Org != org || seen[l.Seq] {
			continue
		}
		if l.Seq != next {
			t.Fatalf("seq %d of %s arrived before seq %d (reordered or lost)", l.Seq, org, next)
		}
		seen[l.Seq] = true
		next++
	}
}

// CheckComplete fails the test unless lines arrived in order (CheckOrder)
// and, deduplicated, are exactly org's events 1..n of st, byte for byte, with correct leaf hashes.
func CheckComplete(t testing.TB, st *storage.Store, org string, lines []axsync.Line, n int) {
	t.Helper()
	CheckOrder(t, org, lines)
	got := Dedup(t, lines)
	if len(got) != n {
		t.Fatalf("receiver holds %d distinct events of %s, want %d", len(got), org, n)
	}
	want := Read(t, st, org, 0, n)
	for i, l := range got {
		w := want[i]
		if l.Org != org || l.Seq != w.Seq || l.ID != w.ID {
			t.Fatalf("event %d: got %s/%d/%s, want %s/%d/%s (lost or reordered)", i, l.Org, l.Seq, l.ID, org, w.Seq, w.ID)
		}
		if !bytes.Equal(l.Record, w.Public) {
			t.Fatalf("seq %d: record differs from the public record", w.Seq)
		}
		leaf := sha256.Sum256(append([]byte{0}, l.Record...))
		if hex.EncodeToString(leaf[:]) != l.LeafHash || l.LeafHash != w.LeafHash {
			t.Fatalf("seq %d: leaf hash does not match the record", w.Seq)
		}
	}
}

// Run runs the conformance suite against the destination newHarness
// returns (a fresh receiver per subtest).
func Run(t *testing.T, newHarness func(t *testing.T) Harness) {
	ctx := context.Background()
	t.Run("Deliver", func(t *testing.T) {
		h := newHarness(t)
		st := NewStore(t)
		Append(t, st, "acme", 25)
		b := axsync.Batch{Org: "acme", Events: Read(t, st, "acme", 0, 100)}
		ack, err := h.Destination.Deliver(ctx, b)
		if err != nil {
			t.Fatalf("Deliver: %v", err)
		}
		if ack.Seq != 25 {
			t.Fatalf("ack %d, want 25", ack.Seq)
		}
		CheckComplete(t, st, "acme", h.Stored(t, "acme"), 25)
	})
	t.Run("Consecutive", func(t *testing.T) {
		h := newHarness(t)
		st := NewStore(t)
		Append(t, st, "acme", 30)
		for after := uint64(0); after < 30; after += 10 {
			ack, err := h.Destination.Deliver(ctx, axsync.Batch{Org: "acme", Events: Read(t, st, "acme", after, 10)})
			if err != nil || ack.Seq != after+10 {
				t.Fatalf("Deliver after %d: ack %d, %v", after, ack.Seq, err)
			}
		}
		CheckComplete(t, st, "acme", h.Stored(t, "acme"), 30)
	})
	t.Run("Idempotent", func(t *testing.T) {
		h := newHarness(t)
		st := NewStore(t)
		Append(t, st, "acme", 12)
		b := axsync.Batch{Org: "acme", Events: Read(t, st, "acme", 0, 12)}
		for i := 0; i < 3; i++ {
			if ack, err := h.Destination.Deliver(ctx, b); err != nil || ack.Seq != 12 {
				t.Fatalf("delivery %d: ack %d, %v", i, ack.Seq, err)
			}
		}
		// Overlapping resend, as after a crash between send and cursor.
		if _, err := h.Destination.Deliver(ctx, axsync.Batch{Org: "acme", Events: Read(t, st, "acme", 5, 7)}); err != nil {
			t.Fatal(err)
		}
		CheckComplete(t, st, "acme", h.Stored(t, "acme"), 12)
	})
	t.Run("Isolation", func(t *testing.T) {
		h := newHarness(t)
		st := NewStore(t)
		Append(t, st, "acme", 5)
		Append(t, st, "globex", 7)
		for _, org := range []string{"acme", "globex"} {
			if _, err := h.Destination.Deliver(ctx, axsync.Batch{Org: org, Events: Read(t, st, org, 0, 100)}); err != nil {
				t.Fatal(err)
			}
		}
		CheckComplete(t, st, "acme", h.Stored(t, "acme"), 5)
		CheckComplete(t, st, "globex", h.Stored(t, "globex"), 7)
	})
	t.Run("Cancelled", func(t *testing.T) {
		h := newHarness(t)
		st := NewStore(t)
		Append(t, st, "acme", 3)
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if ack, err := h.Destination.Deliver(cctx, axsync.Batch{Org: "acme", Events: Read(t, st, "acme", 0, 3)}); err == nil {
			t.Fatalf("Deliver with a cancelled context acknowledged %d", ack.Seq)
		}
	})
	t.Run("Syncer", func(t *testing.T) {
		h := newHarness(t)
		st := NewStore(t)
		Append(t, st, "acme", 300)
		s := axsync.New(axsync.Options{
			Store: st, Keystore: keystore.NewMemory(), BatchSize: 64,
			Open: func(context.Context, axsync.Config, []byte) (axsync.Destination, error) { return h.Destination, nil },
		})
		defer s.Close()
		if err := s.Enable(ctx, axsync.Config{Org: "acme", Kind: axsync.KindWebhook, URL: "http://127.0.0.1/", Format: "jsonl"}, nil); err != nil {
			t.Fatal(err)
		}
		st0, err := s.RunNow(ctx, "acme")
		if err != nil {
			t.Fatalf("RunNow: %v", err)
		}
		if len(st0) != 1 || st0[0].LagEvents != 0 || st0[0].DeliveredSeq != 300 || st0[0].LastSuccess == nil {
			t.Fatalf("status after RunNow: %+v", st0)
		}
		CheckComplete(t, st, "acme", h.Stored(t, "acme"), 300)
		if err := s.Start(ctx); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		Append(t, st, "acme", 1)
		for len(Dedup(t, h.Stored(t, "acme"))) < 301 {
			if time.Since(start) > 2*time.Second {
				t.Fatal("a new event did not leave within 2 s")
			}
			time.Sleep(10 * time.Millisecond)
		}
		CheckComplete(t, st, "acme", h.Stored(t, "acme"), 301)
	})
}

// WaitFor polls ok until it holds, failing t after d with what (called
// then, so it can describe the state it found).
func WaitFor(t testing.TB, d time.Duration, ok func() bool, what func() string) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s: %s", d, what())
		}
		time.Sleep(5 * time.Millisecond)
	}
}
