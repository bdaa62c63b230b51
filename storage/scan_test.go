package storage

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func FuzzDecodePublicFast(f *testing.F) {
	f.Add([]byte(`{"actionType":"user.signed_in","category":"user","formatVersion":1,"id":"a","metadata":{"k":"v\"}","n":[1,{"x":"}"}]},"organizationId":"o","prevHash":"00","provider":"aws","recordedAt":"2026-01-01T00:00:00.000000000Z","resourceIds":["r1","r2"],"riskLevel":"low","seq":7,"status":"applied","timestamp":"2026-01-01T00:00:00.000000000Z","userId":"u"}`))
	f.Add([]byte(`{"actionType":"a","afterStateCommitment":"ab","beforeStateCommitment":"cd","category":"c","formatVersion":1,"id":"i","organizationId":"o","prevHash":"p","provider":"gcp","recordedAt":"r","resourceIds":[],"riskLevel":"high","seq":1,"status":"s","timestamp":"t","userId":"ü"}`))
	f.Add([]byte(`{"id":"x\n","seq":1}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		fast, ok := decodePublicFast(b)
		if !ok {
			return
		}
		slow, err := decodePublic(b)
		if err != nil {
			t.Fatalf("fast accepts %q, decodePublic: %v", b, err)
		}
		if !reflect.DeepEqual(fast, slow) {
			t.Fatalf("%q:\nfast %+v\nslow %+v", b, fast, slow)
		}
		// The metadata is reported canonical exactly when canonicalSimple
		// is sure of it.
		_, _, metaCanonical := decodePublicView(bytes.Clone(b), nil)
		if _, sure := canonicalSimple(fast.Metadata); fast.Metadata != nil && metaCanonical != sure {
			t.Fatalf("%q: metaCanonical %v, canonicalSimple sure %v", b, metaCanonical, sure)
		}
	})
}

// plainStringRef is plainString one byte at a time.
func plainStringRef(b []byte, i int) (int, bool) {
	if i >= len(b) || b[i] != '"' {
		return i, false
	}
	for j := i + 1; j < len(b); j++ {
		switch c := b[j]; {
		case c == '"':
			if !utf8.Valid(b[i+1 : j]) {
				return i, false
			}
			return j + 1, true
		case c < 0x20 || c == '\\':
			return i, false
		}
	}
	return i, false
}

func FuzzPlainString(f *testing.F) {
	for _, s := range []string{`"abc"`, `"0123456789abcdef0123456789abcdef"x`, `"01234567\"`, `"0123456\n89"`, `"é0123456789"`, "\"01234567\x1f\"", "\"0123456789\xff\"", `"0123456789`, `x"`, `""`, "\"\x7f\x80\x80\x80\x80\x80\x80\x80\x80\""} {
		f.Add([]byte(s), 0)
	}
	f.Fuzz(func(t *testing.T, b []byte, i int) {
		if i < 0 || i > len(b) {
			return
		}
		gotEnd, gotOK := plainString(b, i)
		wantEnd, wantOK := plainStringRef(b, i)
		if gotEnd != wantEnd || gotOK != wantOK {
			t.Fatalf("plainString(%q, %d) = %d, %v; want %d, %v", b, i, gotEnd, gotOK, wantEnd, wantOK)
		}
	})
}

// ScanRecords gives the events List gives, in log order.
func TestScanRecords_matchesList(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, t.TempDir(), newStoreKeystore(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	at := time.Now().Add(-time.Hour).UTC()
	var evs []Event
	for i, user := range []string{"plain", "quote\"d", "new\nline", "ü|=\\", "x"} {
		evs = append(evs, Event{Timestamp: at.Add(time.Duration(i) * time.Second), OrganizationID: "org", UserID: user,
			Provider: "aws", ActionType: "apply.mutation", ResourceIDs: []string{"r\"1", "r2"}, Status: "applied",
			RiskLevel: "low", Metadata: json.RawMessage(`{"a":"}\"{","b":[1,2]}`), AfterState: json.RawMessage(`{"s":1}`)})
	}
	if _, err := s.Append(ctx, evs); err != nil {
		t.Fatal(err)
	}
	page, err := s.List(ctx, Filter{Org: "org", Order: OldestFirst})
	if err != nil {
		t.Fatal(err)
	}
	for _, decrypt := range []bool{false, true} {
		var got []StoredEvent
		err = s.ScanRecords(ctx, Filter{Org: "org", Order: OldestFirst}, math.MaxUint64, decrypt, func(e *StoredEvent) error {
			got = append(got, *e)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(page.Events) {
			t.Fatalf("scan %d events, list %d", len(got), len(page.Events))
		}
		for i := range got {
			want := page.Events[i]
			if !decrypt {
				want.BeforeState, want.AfterState = nil, nil
			}
			if !reflect.DeepEqual(got[i], want) {
				t.Errorf("decrypt=%v event %d:\nscan %+v\nlist %+v", decrypt, i, got[i], want)
			}
		}
	}
	var n int
	s.ScanRecords(ctx, Filter{Org: "org", Order: NewestFirst, UserIDs: []string{"x", "plain"}}, 4, false, func(e *StoredEvent) error {
		if n++; e.UserID != "plain" {
			t.Errorf("filtered scan gave %q", e.UserID)
		}
		return nil
	})
	if n != 1 {
		t.Errorf("filtered scan up to seq 4 gave %d events, want 1", n)
	}
}

// Over several of the reader's batches: every event once, in order both
// ways, up to maxSeq; an error from fn, or the caller giving up, stops the
// scan with that error and no further calls.
func TestScanRecords_ManyBatches(t *testing.T) {
	ctx := context.Background()
	s, _, _ := newTestStore(t)
	const n = 3*scanBatchSize + 17
	for from := 0; from < n; from += 200 {
		appendN(t, s, "acme", from, min(200, n-from))
	}
	appendN(t, s, "other", 0, 10)
	for _, tc := range []struct {
		order  Order
		maxSeq uint64
		want   []uint64
	}{
		{OldestFirst, math.MaxUint64, seqRange(1, n)},
		{NewestFirst, math.MaxUint64, reversed(seqRange(1, n))},
		{OldestFirst, 600, seqRange(1, 600)},
		{NewestFirst, 600, reversed(seqRange(1, 600))},
	} {
		var got []uint64
		err := s.ScanRecords(ctx, Filter{Org: "acme", Order: tc.order}, tc.maxSeq, false, func(e *StoredEvent) error {
			if note := fmt.Sprintf(`"event number %d"`, e.Seq-1); e.OrganizationID != "acme" || !strings.Contains(string(e.Metadata), note) {
				t.Fatalf("seq %d of %s: metadata %s, want the event appended as number %d", e.Seq, e.OrganizationID, e.Metadata, e.Seq-1)
			}
			got = append(got, e.Seq)
			return nil
		})
		if err != nil || !slices.Equal(got, tc.want) {
			t.Fatalf("order %v up to %d: %d events (%v), want %d", tc.order, tc.maxSeq, len(got), err, len(tc.want))
		}
	}
	stop := errors.New("enough")
	calls := 0
	err := s.ScanRecords(ctx, Filter{Org: "acme", Order: OldestFirst}, math.MaxUint64, false, func(*StoredEvent) error {
		if calls++; calls == scanBatchSize+5 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || calls != scanBatchSize+5 {
		t.Fatalf("fn's error: %v after %d calls; want %v after %d", err, calls, stop, scanBatchSize+5)
	}
	cctx, cancel := context.WithCancel(ctx)
	calls = 0
	err = s.ScanRecords(cctx, Filter{Org: "acme", Order: OldestFirst}, math.MaxUint64, false, func(*StoredEvent) error {
		if calls++; calls == 10 {
			cancel()
		}
		return nil
	})
	if !errors.Is(err, context.Canceled) || calls >= n {
		t.Fatalf("cancelled scan: %v after %d calls; want context.Canceled before the end", err, calls)
	}
}

func seqRange(lo, hi int) []uint64 {
	var out []uint64
	for i := lo; i <= hi; i++ {
		out = append(out, uint64(i))
	}
	return out
}

func reversed(s []uint64) []uint64 {
	s = slices.Clone(s)
	slices.Reverse(s)
	return s
}

// plainString agrees with the byte-wise reference on strings made mostly
// of the bytes its word-at-a-time test is about, at every alignment.
func TestPlainString_Random(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	alphabet := []byte{'a', 'z', '"', '\\', 0x00, 0x1f, 0x20, 0x21, 0x5b, 0x5d, 0x7f, 0x80, 0xc3, 0xa9, 0xff, 0x01, 0x22 ^ 0x80}
	for n := 0; n < 200_000; n++ {
		b := make([]byte, 1+rng.IntN(40))
		for k := range b {
			if rng.IntN(3) == 0 {
				b[k] = alphabet[rng.IntN(len(alphabet))]
			} else {
				b[k] = 'a' + byte(rng.IntN(26))
			}
		}
		i := rng.IntN(len(b))
		b[i] = '"'
		gotEnd, gotOK := plainString(b, i)
		wantEnd, wantOK := plainStringRef(b, i)
		if gotEnd != wantEnd || gotOK != wantOK {
			t.Fatalf("plainString(%q, %d) = %d, %v; want %d, %v", b, i, gotEnd, gotOK, wantEnd, wantOK)
		}
	}
}

// ScanRecordsAndPruned reports, beside the events, the pruned events the
// filter may have matched: by time range, category and action type, which
// their tombstones keep. The events themselves are as ScanRecords gives.
func TestScanRecordsAndPruned(t *testing.T) {
	ctx := context.Background()
	// The store's clock is 200 days after baseTime; the events are 400
	// minutes from baseTime on.
	s, _, _ := newTestStore(t)
	appendN(t, s, "acme", 0, 400)
	if _, _, err := s.SetRetention(ctx, "acme", RetentionChange{Class: RetentionOperational, Window: RetentionWindow{Days: 30}}); err != nil {
		t.Fatal(err)
	}
	res, err := s.SweepRetention(ctx, "acme", SweepOptions{NoReclaim: true})
	if err != nil || res.Pruned == 0 {
		t.Fatalf("sweep: %+v, %v", res, err)
	}
	all := allEvents(t, s, "acme") // what remains
	kept := map[uint64]bool{}
	for _, e := range all {
		kept[e.Seq] = true
	}
	// What was pruned: every appended event (seq i+1) that is not kept.
	type want struct {
		seq      uint64
		ts       time.Time
		cat, act string
	}
	var gone []want
	for i := range 400 {
		if !kept[uint64(i+1)] {
			e := testEvent("acme", i)
			cat := e.ActionType[:strings.IndexByte(e.ActionType, '.')]
			gone = append(gone, want{uint64(i + 1), e.Timestamp, cat, e.ActionType})
		}
	}
	if len(gone) != int(res.Pruned) {
		t.Fatalf("%d events are gone, the sweep pruned %d", len(gone), res.Pruned)
	}
	mid := baseTime.Add(200 * time.Minute)
	for _, tc := range []struct {
		name  string
		f     Filter
		exact bool
		match func(w want) bool
	}{
		{"everything", Filter{}, true, func(want) bool { return true }},
		{"a range", Filter{Since: mid, Until: mid.Add(time.Hour)}, true,
			func(w want) bool { return !w.ts.Before(mid) && w.ts.Before(mid.Add(time.Hour)) }},
		{"a category", Filter{Categories: []string{"scan"}}, true, func(w want) bool { return w.cat == "scan" }},
		{"not an action type", Filter{NotActionTypes: []string{"user.signed_in"}}, true,
			func(w want) bool { return w.act != "user.signed_in" }},
		{"a user, which tombstones do not keep", Filter{UserIDs: []string{"user-1"}, Categories: []string{"workflow"}}, false,
			func(w want) bool { return w.cat == "workflow" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := tc.f
			f.Org, f.Order = "acme", OldestFirst
			if got := f.PrunedMatchIsExact(); got != tc.exact {
				t.Errorf("PrunedMatchIsExact: %v, want %v", got, tc.exact)
			}
			var events, pruned []uint64
			err := s.ScanRecordsAndPruned(ctx, f, math.MaxUint64, false,
				func(e *StoredEvent) error { events = append(events, e.Seq); return nil },
				func(p *PrunedEvent) error {
					if p.Policy == "" || p.WindowDays != 30 || p.PrunedAt.IsZero() || p.ID == "" {
						t.Errorf("pruned event %+v lacks its rule", p)
					}
					pruned = append(pruned, p.Seq)
					return nil
				})
			if err != nil {
				t.Fatal(err)
			}
			var wantPruned []uint64
			for _, w := range gone {
				if tc.match(w) {
					wantPruned = append(wantPruned, w.seq)
				}
			}
			if !slices.Equal(pruned, wantPruned) {
				t.Errorf("pruned seqs %v, want %v", pruned, wantPruned)
			}
			var plain []uint64
			if err := s.ScanRecords(ctx, f, math.MaxUint64, false, func(e *StoredEvent) error { plain = append(plain, e.Seq); return nil }); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(events, plain) {
				t.Errorf("events %v, ScanRecords gives %v", events, plain)
			}
			for _, seq := range events {
				if !kept[seq] {
					t.Errorf("event seq %d was pruned", seq)
				}
			}
		})
	}
}
