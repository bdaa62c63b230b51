package storage

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	badger "github.com/dgraph-io/badger/v4"
	"github.com/gowebpki/jcs"
)

// storeKeystore is an in-memory Keystore for tests.
type storeKeystore struct {
	mu      sync.Mutex
	secrets map[string][]byte
	err     error // returned by every call when set
}

func newStoreKeystore() *storeKeystore { return &storeKeystore{secrets: map[string][]byte{}} }

func (m *storeKeystore) Get(_ context.Context, name string) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.err != nil {
		return nil, m.err
	}
	v, ok := m.secrets[name]
	if !ok {
		return nil, fmt.Errorf("secret %q: %w", name, ErrKeyNotFound)
	}
	return bytes.Clone(v), nil
}

func (m *storeKeystore) Set(_ context.Context, name string, secret []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.err != nil {
		return m.err
	}
	m.secrets[name] = bytes.Clone(secret)
	return nil
}

// storeClock is a deterministic clock.
type storeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *storeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(time.Millisecond)
	return c.t
}

var baseTime = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func openTest(t testing.TB, dir string, ks Keystore) *Store {
	t.Helper()
	clk := &storeClock{t: baseTime.Add(200 * 24 * time.Hour)}
	s, err := Open(context.Background(), dir, ks, Options{Now: clk.Now, GCInterval: -1, RetentionGrace: -1})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s
}

func newTestStore(t testing.TB) (*Store, string, *storeKeystore) {
	t.Helper()
	dir := t.TempDir()
	ks := newStoreKeystore()
	s := openTest(t, dir, ks)
	t.Cleanup(func() { s.Close() })
	return s, dir, ks
}

var (
	testCategories = []string{"scan", "connection", "apply", "workflow", "user"}
	testActions    = map[string][]string{
		"scan": {"scan.started", "scan.failed"}, "connection": {"connection.role_assumed"},
		"apply": {"apply.mutation"}, "workflow": {"workflow.run_started", "workflow.drift_detection"},
		"user": {"user.signed_in", "user.settings_changed"},
	}
)

// testEvent makes the i-th event of a deterministic workload.
func testEvent(org string, i int) Event {
	cat := testCategories[i%len(testCategories)]
	acts := testActions[cat]
	return Event{
		Timestamp:      baseTime.Add(time.Duration(i) * time.Minute),
		OrganizationID: org,
		UserID:         fmt.Sprintf("user-%d", i%7),
		Provider:       Providers[i%len(Providers)],
		ActionType:     acts[i%len(acts)],
		ResourceIDs:    []string{fmt.Sprintf("arn:aws:ec2:us-east-1:123:instance/i-%04d", i%50), fmt.Sprintf("bucket-%d", i%3)},
		BeforeState:    json.RawMessage(fmt.Sprintf(`{"size":"t3.micro","n":%d}`, i)),
		AfterState:     json.RawMessage(fmt.Sprintf(`{"size":"t3.large","n":%d}`, i)),
		Status:         Statuses[i%len(Statuses)],
		RiskLevel:      RiskLevels[i%len(RiskLevels)],
		Metadata:       json.RawMessage(fmt.Sprintf(`{"note":"event number %d","rtoSeconds":30}`, i)),
	}
}

func appendN(t testing.TB, s *Store, org string, from, n int) []Receipt {
	t.Helper()
	evs := make([]Event, n)
	for i := range evs {
		evs[i] = testEvent(org, from+i)
	}
	rs, err := s.Append(context.Background(), evs)
	if err != nil {
		t.Fatalf("Append: %v", err)
	}
	return rs
}

func TestStore_AppendGetRoundTrip(t *testing.T) {
	s, _, _ := newTestStore(t)
	ctx := context.Background()
	e := testEvent("acme", 1)
	e.ID = "0190d8d2-7d4c-7cc1-8f3e-0a1b2c3d4e5f"
	rs, err := s.Append(ctx, []Event{e})
	if err != nil {
		t.Fatal(err)
	}
	if rs[0].Seq != 1 || rs[0].ID != e.ID || rs[0].OrganizationID != "acme" {
		t.Fatalf("receipt = %+v", rs[0])
	}
	got, err := s.Get(ctx, "acme", e.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.UserID != e.UserID || got.ActionType != e.ActionType || !got.Timestamp.Equal(e.Timestamp) ||
		got.Category != "connection" {
		t.Fatalf("got %+v", got)
	}
	if string(got.BeforeState) != `{"n":1,"size":"t3.micro"}` || string(got.AfterState) != `{"n":1,"size":"t3.large"}` {
		t.Fatalf("states = %s / %s", got.BeforeState, got.AfterState)
	}
	if got.PrevHash != hex.EncodeToString(make([]byte, 32)) {
		t.Fatalf("genesis prevHash = %s", got.PrevHash)
	}
	// The public record is JCS, hashes to the leaf hash and has no states.
	canon, err := jcs.Transform(got.Public)
	if err != nil || !bytes.Equal(canon, got.Public) {
		t.Fatalf("public record is not canonical:\n%s\n%s", got.Public, canon)
	}
	leaf := leafHash(got.Public)
	if hex.EncodeToString(leaf[:]) != got.LeafHash {
		t.Fatal("leaf hash does not match the public record")
	}
	if bytes.Contains(got.Public, []byte("t3.micro")) {
		t.Fatal("public record contains a state")
	}
	rs2 := appendN(t, s, "acme", 2, 1)
	got2, err := s.Get(ctx, "acme", rs2[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	if got2.PrevHash != got.LeafHash || got2.Seq != 2 {
		t.Fatalf("chain: prevHash %s, want %s; seq %d", got2.PrevHash, got.LeafHash, got2.Seq)
	}
	if _, err := s.Get(ctx, "acme", "nope"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get(missing) = %v, want ErrNotFound", err)
	}
}

func TestStore_PublicRecordIsJCSWithAwkwardStrings(t *testing.T) {
	s, _, _ := newTestStore(t)
	e := testEvent("acme", 3)
	e.UserID = "quote\" back\\ tab\t <html>&amp; \u2028 é 😀 \x01"
	e.Metadata = json.RawMessage(`{"z":1,"a":{"y":"<>","b":[3,2,1]},"é":"\u00e9"}`)
	rs, err := s.Append(context.Background(), []Event{e})
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.Get(context.Background(), "acme", rs[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	canon, err := jcs.Transform(got.Public)
	if err != nil || !bytes.Equal(canon, got.Public) {
		t.Fatalf("public record is not canonical:\n%s\n%s", got.Public, canon)
	}
	if got.UserID != e.UserID {
		t.Fatalf("userId = %q", got.UserID)
	}
}

func TestStore_Durability(t *testing.T) {
	dir := t.TempDir()
	ks := newStoreKeystore()
	s := openTest(t, dir, ks)
	rs := appendN(t, s, "acme", 0, 50)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Append(context.Background(), []Event{testEvent("acme", 1)}); !errors.Is(err, ErrClosed) {
		t.Fatalf("Append after Close = %v, want ErrClosed", err)
	}
	s = openTest(t, dir, ks)
	defer s.Close()
	for _, r := range rs {
		got, err := s.Get(context.Background(), "acme", r.ID)
		if err != nil || got.Seq != r.Seq || got.AfterState == nil {
			t.Fatalf("Get(%s) = %+v, %v", r.ID, got, err)
		}
	}
	rs2 := appendN(t, s, "acme", 50, 1)
	if rs2[0].Seq != 51 {
		t.Fatalf("seq after reopen = %d, want 51", rs2[0].Seq)
	}
	orgs, err := s.Organizations(context.Background())
	if err != nil || len(orgs) != 1 || orgs[0].ID != "acme" || orgs[0].Size != 51 {
		t.Fatalf("Organizations = %+v, %v", orgs, err)
	}
}

// Concurrent appends are group-committed by the writer goroutine, and an
// Append that finds the writer idle commits on its own goroutine; mixed,
// the seqs have no gaps and the chain holds.
func TestStore_ConcurrentAppendsHaveNoGaps(t *testing.T) {
	s, _, _ := newTestStore(t)
	appendN(t, s, "a", 0, 1) // alone: on the caller's goroutine
	const producers, per = 16, 40
	var wg sync.WaitGroup
	var mu sync.Mutex
	seqs := map[string]map[uint64]string{"a": {}, "b": {}}
	errs := make(chan error, producers)
	for p := 0; p < producers; p++ {
		wg.Add(1)
		go func(p int) {
			defer wg.Done()
			for i := 0; i < per; i++ {
				org := []string{"a", "b"}[(p+i)%2]
				evs := []Event{testEvent(org, p*1000+i), testEvent(org, p*1000+i+500)}
				rs, err := s.Append(context.Background(), evs)
				if err != nil {
					errs <- err
					return
				}
				mu.Lock()
				for _, r := range rs {
					if prev, dup := seqs[r.OrganizationID][r.Seq]; dup {
						errs <- fmt.Errorf("seq %d of %s given to %s and %s", r.Seq, r.OrganizationID, prev, r.ID)
					}
					seqs[r.OrganizationID][r.Seq] = r.ID
				}
				if rs[1].Seq != rs[0].Seq+1 {
					errs <- fmt.Errorf("one batch split: seqs %d, %d", rs[0].Seq, rs[1].Seq)
				}
				mu.Unlock()
			}
		}(p)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if s.directGroups.Load() == 0 || s.writerGroups.Load() == 0 {
		t.Fatalf("groups built by lone appends %d, by the writer %d: want both", s.directGroups.Load(), s.writerGroups.Load())
	}
	seqs["a"][1] = "first"
	for org, m := range seqs {
		for i := uint64(1); i <= uint64(len(m)); i++ {
			if _, ok := m[i]; !ok {
				t.Fatalf("org %s: seq %d missing of %d", org, i, len(m))
			}
		}
		// The chain links every record to the one before.
		page, err := s.List(context.Background(), Filter{Org: org, Limit: MaxLimit})
		if err != nil {
			t.Fatal(err)
		}
		bySeq := map[uint64]StoredEvent{}
		for _, e := range page.Events {
			bySeq[e.Seq] = e
		}
		for i := uint64(2); i <= uint64(len(m)); i++ {
			if bySeq[i].PrevHash != bySeq[i-1].LeafHash {
				t.Fatalf("org %s: chain broken at seq %d", org, i)
			}
		}
	}
}

func TestStore_Idempotency(t *testing.T) {
	s, _, _ := newTestStore(t)
	ctx := context.Background()
	e := testEvent("acme", 1)
	e.ID = "0190d8d2-7d4c-7cc1-8f3e-0a1b2c3d4e5f"
	first, err := s.Append(ctx, []Event{e})
	if err != nil {
		t.Fatal(err)
	}
	t.Run("same content returns the original receipt", func(t *testing.T) {
		again, err := s.Append(ctx, []Event{e})
		if err != nil || again[0] != first[0] {
			t.Fatalf("retry = %+v, %v; want %+v", again, err, first)
		}
	})
	t.Run("different content conflicts", func(t *testing.T) {
		d := e
		d.Status = "failed"
		other := testEvent("acme", 2)
		_, err := s.Append(ctx, []Event{other, d})
		if !errors.Is(err, ErrConflict) || !regexp.MustCompile(e.ID).MatchString(err.Error()) {
			t.Fatalf("Append = %v, want ErrConflict naming the id", err)
		}
		// Nothing of the batch was written.
		page, _ := s.List(ctx, Filter{Org: "acme"})
		if len(page.Events) != 1 {
			t.Fatalf("%d events after a conflicting batch, want 1", len(page.Events))
		}
	})
	t.Run("duplicates inside one batch", func(t *testing.T) {
		n := testEvent("acme", 9)
		n.ID = "0190d8d2-7d4c-7cc1-8f3e-000000000009"
		rs, err := s.Append(ctx, []Event{n, n})
		if err != nil || rs[0] != rs[1] || rs[0].Seq != 2 {
			t.Fatalf("rs = %+v, %v", rs, err)
		}
		m := n
		m.UserID = "someone-else"
		m.ID = "0190d8d2-7d4c-7cc1-8f3e-00000000000a"
		n.ID = m.ID
		if _, err := s.Append(ctx, []Event{n, m}); !errors.Is(err, ErrConflict) {
			t.Fatalf("Append = %v, want ErrConflict", err)
		}
	})
	t.Run("same id in another organization is another event", func(t *testing.T) {
		o := e
		o.OrganizationID = "globex"
		rs, err := s.Append(ctx, []Event{o})
		if err != nil || rs[0].Seq != 1 {
			t.Fatalf("rs = %+v, %v", rs, err)
		}
	})
}

func TestStore_AllOrNothing(t *testing.T) {
	s, _, _ := newTestStore(t)
	ctx := context.Background()
	evs := []Event{testEvent("acme", 1), testEvent("acme", 2), testEvent("acme", 3)}
	evs[1].OrganizationID = "bad org\x00"
	_, err := s.Append(ctx, evs)
	var ve *ValidationError
	if !errors.As(err, &ve) || ve.Index != 1 || !errors.Is(err, ErrInvalidEvent) {
		t.Fatalf("Append = %v, want *ValidationError at index 1", err)
	}
	evs[1] = testEvent("acme", 2)
	evs[2].BeforeState = json.RawMessage(`{"unterminated"`)
	if _, err := s.Append(ctx, evs); !errors.As(err, &ve) || ve.Index != 2 {
		t.Fatalf("Append = %v, want *ValidationError at index 2", err)
	}
	orgs, _ := s.Organizations(ctx)
	if len(orgs) != 0 {
		t.Fatalf("organizations after failed appends: %+v", orgs)
	}
}

// A batch too large for one atomic commit is refused whole with
// ErrBatchTooLarge, saying how much it needs and what fits; nothing is
// written, and the same events in smaller batches are.
func TestStore_BatchTooLargeIsRefusedWhole(t *testing.T) {
	s, _, _ := newTestStore(t)
	ctx := context.Background()
	// Each event writes a dozen index, counter and tree entries; 3,000 of
	// them are over the 1 MB commit of the default 8 MiB memtable.
	evs := make([]Event, 3000)
	for i := range evs {
		evs[i] = testEvent("acme", i)
	}
	_, err := s.Append(ctx, evs)
	if !errors.Is(err, ErrBatchTooLarge) || !strings.Contains(err.Error(), "a batch of 3000 events needs") || !strings.Contains(err.Error(), "smaller batches") {
		t.Fatalf("Append = %v, want ErrBatchTooLarge saying what it needs", err)
	}
	if orgs, _ := s.Organizations(ctx); len(orgs) != 0 {
		t.Fatalf("organizations after the refused batch: %+v", orgs)
	}
	for i := 0; i < len(evs); i += 250 {
		if _, err := s.Append(ctx, evs[i:i+250]); err != nil {
			t.Fatalf("events %d to %d: %v", i, i+249, err)
		}
	}
	if size, _, err := s.Head(ctx, "acme"); err != nil || size != 3000 {
		t.Fatalf("Head = %d, %v; want 3000", size, err)
	}
}

// A timestamp that is not UTC is refused with an error naming the field,
// never silently converted; the same instant in UTC is accepted.
func TestStore_TimestampMustBeUTC(t *testing.T) {
	ts := baseTime.Add(90 * time.Minute)
	for _, tc := range []struct {
		name string
		ts   time.Time
		ok   bool
	}{
		{"utc", ts, true},
		{"offset 0 in a named zone", ts.In(time.FixedZone("GMT", 0)), true},
		{"plus two hours", ts.In(time.FixedZone("CEST", 2*3600)), false},
		{"minus five hours", ts.In(time.FixedZone("EST", -5*3600)), false},
		{"plus 30 minutes", ts.In(time.FixedZone("", 30*60)), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, _, _ := newTestStore(t)
			ctx := context.Background()
			e := testEvent("acme", 1)
			e.Timestamp = tc.ts
			rs, err := s.Append(ctx, []Event{testEvent("acme", 0), e})
			if tc.ok {
				if err != nil {
					t.Fatalf("Append: %v", err)
				}
				got, err := s.Get(ctx, "acme", rs[1].ID)
				if err != nil {
					t.Fatal(err)
				}
				if !got.Timestamp.Equal(ts) || got.Timestamp.Location() != time.UTC {
					t.Fatalf("stored timestamp %v, want %v in UTC", got.Timestamp, ts)
				}
				return
			}
			var ve *ValidationError
			if !errors.As(err, &ve) || !errors.Is(err, ErrInvalidEvent) || ve.Index != 1 {
				t.Fatalf("Append = %v, want a *ValidationError for event 1", err)
			}
			if len(ve.Errors) != 1 || ve.Errors[0].Field != "timestamp" || !strings.Contains(ve.Errors[0].Reason, "UTC") {
				t.Fatalf("errors = %+v, want one naming timestamp and UTC", ve.Errors)
			}
			if orgs, _ := s.Organizations(ctx); len(orgs) != 0 {
				t.Fatalf("an invalid timestamp wrote events: %+v", orgs)
			}
		})
	}
}

func TestStore_FailClosed(t *testing.T) {
	dir := t.TempDir()
	ks := newStoreKeystore()
	s := openTest(t, dir, ks)
	ctx := context.Background()
	appendN(t, s, "acme", 0, 3)
	boom := errors.New("injected commit failure")
	s.beforeCommit = func() error { return boom }
	if _, err := s.Append(ctx, []Event{testEvent("acme", 10)}); !errors.Is(err, boom) {
		t.Fatalf("Append = %v, want the injected error", err)
	}
	// The store fails closed: later appends are refused until it is
	// reopened, and nothing of the failed group was written.
	if _, err := s.Append(ctx, []Event{testEvent("acme", 11)}); err == nil {
		t.Fatal("Append after a failed commit succeeded")
	}
	s.beforeCommit = nil
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openTest(t, dir, ks)
	defer s.Close()
	rs := appendN(t, s, "acme", 12, 1)
	if rs[0].Seq != 4 {
		t.Fatalf("seq after a failed commit = %d, want 4 (no gap)", rs[0].Seq)
	}
	page, _ := s.List(ctx, Filter{Org: "acme"})
	if len(page.Events) != 4 {
		t.Fatalf("%d events, want 4", len(page.Events))
	}

	t.Run("database closed underneath", func(t *testing.T) {
		s2, _, _ := newTestStore(t)
		appendN(t, s2, "acme", 0, 2)
		s2.db.Close()
		if _, err := s2.Append(ctx, []Event{testEvent("acme", 5)}); err == nil {
			t.Fatal("Append on a closed database succeeded")
		}
		if _, err := s2.Append(ctx, []Event{testEvent("acme", 6)}); err == nil {
			t.Fatal("Append after a failed commit succeeded")
		}
	})
}

func TestStore_NoMutatingMethods(t *testing.T) {
	// Every camel-case word of every exported method is checked, so that
	// e.g. UpdateEvent, BulkDelete or SetStatus fail. Settings (tokens,
	// preferences; settings.go) are not audit events and may be written;
	// so is the retention policy (retention.go), a setting whose changes
	// keep their history and whose sweeps leave tombstones (DESIGN.md §6).
	forbidden := map[string]bool{"update": true, "delete": true, "remove": true, "put": true, "set": true,
		"modify": true, "truncate": true, "purge": true, "erase": true, "overwrite": true, "drop": true,
		"replace": true, "edit": true, "rewrite": true, "patch": true, "clear": true, "reset": true}
	words := regexp.MustCompile(`[A-Z][a-z0-9]*`)
	typ := reflect.TypeOf(&Store{})
	for i := 0; i < typ.NumMethod(); i++ {
		name := typ.Method(i).Name
		if strings.HasSuffix(name, "Setting") || strings.HasSuffix(name, "Settings") || name == "SetRetention" {
			continue
		}
		for _, w := range words.FindAllString(name, -1) {
			if forbidden[strings.ToLower(w)] {
				t.Errorf("*Store has a method %s that sounds like it changes or removes events", name)
			}
		}
	}
}

func TestStore_NoPlaintextOnDisk(t *testing.T) {
	dir := t.TempDir()
	ks := newStoreKeystore()
	s := openTest(t, dir, ks)
	const marker = "ZEBRA-MARKER-5f1d93c2"
	for i := 0; i < 40; i++ {
		e := testEvent("acme", i)
		e.BeforeState = json.RawMessage(fmt.Sprintf(`{"secret":"%s","i":%d,"pad":"%s"}`, marker, i, bytes.Repeat([]byte("x"), 2000)))
		e.AfterState = json.RawMessage(fmt.Sprintf(`{"secret":"%s-after"}`, marker))
		if _, err := s.Append(context.Background(), []Event{e}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	needles := [][]byte{[]byte(marker), []byte(hex.EncodeToString([]byte(marker))),
		[]byte(base64.StdEncoding.EncodeToString([]byte(marker))[:20]), []byte("t3.micro"), []byte("user-3"), []byte("acme")}
	files := 0
	err := filepath.Walk(dir, func(path string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		files++
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, n := range needles {
			if bytes.Contains(b, n) {
				t.Errorf("%s contains %q in plain text", filepath.Base(path), n)
			}
		}
		return nil
	})
	if err != nil || files == 0 {
		t.Fatalf("walk: %v (%d files)", err, files)
	}
}

func TestStore_Keys(t *testing.T) {
	ctx := context.Background()
	t.Run("missing master key for an existing database", func(t *testing.T) {
		dir := t.TempDir()
		s := openTest(t, dir, newStoreKeystore())
		appendN(t, s, "acme", 0, 1)
		s.Close()
		_, err := Open(ctx, dir, newStoreKeystore(), Options{})
		if !errors.Is(err, ErrKeyNotFound) || !regexp.MustCompile(`missing`).MatchString(err.Error()) {
			t.Fatalf("Open = %v, want ErrKeyNotFound saying the key is missing", err)
		}
	})
	t.Run("wrong master key", func(t *testing.T) {
		dir := t.TempDir()
		s := openTest(t, dir, newStoreKeystore())
		appendN(t, s, "acme", 0, 1)
		s.Close()
		other := newStoreKeystore()
		other.Set(ctx, KeyMaster, bytes.Repeat([]byte{7}, 32))
		if _, err := Open(ctx, dir, other, Options{}); !errors.Is(err, ErrWrongKey) {
			t.Fatalf("Open = %v, want ErrWrongKey", err)
		}
	})
	t.Run("keychain unavailable passes through", func(t *testing.T) {
		ks := newStoreKeystore()
		ks.err = fmt.Errorf("the login keyring is locked: %w", ErrKeychainUnavailable)
		if _, err := Open(ctx, t.TempDir(), ks, Options{}); !errors.Is(err, ErrKeychainUnavailable) {
			t.Fatalf("Open = %v, want ErrKeychainUnavailable", err)
		}
	})
	t.Run("rotation keeps old records readable", func(t *testing.T) {
		dir := t.TempDir()
		ks := newStoreKeystore()
		s := openTest(t, dir, ks)
		old := appendN(t, s, "acme", 0, 2)
		rot, err := s.RotateDataKey(ctx, "acme", "tester")
		if err != nil || rot.KeyID != 2 {
			t.Fatalf("RotateDataKey = %+v, %v; want key 2", rot, err)
		}
		// Seq 3 records it, written in the same commit as the key.
		rec, err := s.List(ctx, Filter{Org: "acme", ActionTypes: []string{"audit.key_rotated"}})
		if err != nil || len(rec.Events) != 1 || rec.Events[0].Seq != 3 || rec.Events[0].UserID != "tester" ||
			string(rec.Events[0].Metadata) != `{"keyEncryptionKey":"kek/acme/1","keyId":"2","previousKeyId":"1","rewrappedKeys":"1"}` {
			t.Fatalf("the rotation's record: %+v, %v", rec.Events, err)
		}
		fresh := appendN(t, s, "acme", 2, 2)
		s.Close()
		s = openTest(t, dir, ks)
		defer s.Close()
		for _, r := range append(old, fresh...) {
			e, err := s.Get(ctx, "acme", r.ID)
			if err != nil || e.BeforeState == nil || e.StatesSealed {
				t.Fatalf("Get(%d) = %+v, %v", r.Seq, e, err)
			}
		}
		keyIDOf := func(seq uint64) uint32 {
			var kid uint32
			s.db.View(func(txn *badger.Txn) error {
				item, _ := txn.Get(recordKey("acme", seq))
				return item.Value(func(v []byte) error {
					rv, err := decodeRecordValue(v)
					kid = uint32(rv.sealedBefore[1])<<24 | uint32(rv.sealedBefore[2])<<16 | uint32(rv.sealedBefore[3])<<8 | uint32(rv.sealedBefore[4])
					return err
				})
			})
			return kid
		}
		if keyIDOf(1) != 1 || keyIDOf(4) != 2 {
			t.Fatalf("key ids: seq 1 → %d, seq 4 → %d; want 1, 2", keyIDOf(1), keyIDOf(4))
		}
	})
	t.Run("a rotation that is not recorded does not happen", func(t *testing.T) {
		s := openTest(t, t.TempDir(), newStoreKeystore())
		defer s.Close()
		appendN(t, s, "acme", 0, 2)
		s.setFailed(errors.New("disk gone"))
		if _, err := s.RotateDataKey(ctx, "acme", "tester"); err == nil {
			t.Fatal("RotateDataKey succeeded on a failed store")
		}
		if dk, err := s.keys.currentKey(ctx, "acme"); err != nil || dk.id != 1 {
			t.Fatalf("current key %d, %v; want 1", dk.id, err)
		}
	})
	t.Run("rotations alongside appends", func(t *testing.T) {
		dir := t.TempDir()
		ks := newStoreKeystore()
		s := openTest(t, dir, ks)
		appendN(t, s, "acme", 0, 1)
		var wg sync.WaitGroup
		ids := make(chan uint32, 5)
		for p := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range 25 {
					appendN(t, s, "acme", 1+p*100+i, 1)
				}
			}()
		}
		for range 5 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				id, err := s.RotateDataKey(ctx, "acme", "tester")
				if err != nil {
					t.Error(err)
				}
				ids <- id.KeyID
			}()
		}
		wg.Wait()
		close(ids)
		seen := map[uint32]bool{}
		for id := range ids {
			if seen[id] {
				t.Fatalf("two rotations made key %d", id)
			}
			seen[id] = true
		}
		s.Close()
		s = openTest(t, dir, ks)
		defer s.Close()
		page, err := s.List(ctx, Filter{Org: "acme", Limit: 1000})
		if err != nil || len(page.Events) != 106 {
			t.Fatalf("%d events, %v; want 106", len(page.Events), err)
		}
		for _, e := range page.Events {
			if e.StatesSealed {
				t.Fatalf("seq %d does not decrypt after reopening", e.Seq)
			}
		}
	})
}

func TestStore_CrossOrganizationIsolation(t *testing.T) {
	s, _, _ := newTestStore(t)
	ctx := context.Background()
	a := appendN(t, s, "acme", 0, 20)
	appendN(t, s, "acme-b", 0, 20)
	appendN(t, s, "acm", 0, 20)
	if _, err := s.Get(ctx, "acme-b", a[0].ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get across orgs = %v, want ErrNotFound", err)
	}
	for _, org := range []string{"acme", "acme-b", "acm"} {
		page, err := s.List(ctx, Filter{Org: org, Limit: 1000})
		if err != nil || len(page.Events) != 20 {
			t.Fatalf("List(%s) = %d events, %v", org, len(page.Events), err)
		}
		for _, e := range page.Events {
			if e.OrganizationID != org {
				t.Fatalf("List(%s) returned an event of %s", org, e.OrganizationID)
			}
		}
		f, err := s.Facets(ctx, Filter{Org: org})
		var total int64
		for _, n := range f[FacetRiskLevel] {
			total += n
		}
		if err != nil || total != 20 {
			t.Fatalf("Facets(%s) total = %d, %v", org, total, err)
		}
		p2, _ := s.List(ctx, Filter{Org: org, ResourceIDPrefix: "arn:"})
		for _, e := range p2.Events {
			if e.OrganizationID != org {
				t.Fatalf("prefix query of %s returned an event of %s", org, e.OrganizationID)
			}
		}
	}
	if _, err := s.List(ctx, Filter{}); !errors.Is(err, ErrInvalidFilter) {
		t.Fatalf("List without org = %v", err)
	}
}

// UseSuggestedRuntime and UseScanRuntime set the memory limit and GC
// target, each unless the user chose one, and their restore puts back what
// they found.
func TestUseSuggestedRuntime(t *testing.T) {
	gcPercent := func() int { p := debug.SetGCPercent(100); debug.SetGCPercent(p); return p }
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(1 << 40))
	defer debug.SetGCPercent(debug.SetGCPercent(123))
	for _, tc := range []struct {
		use              string
		gomemlimit, gogc string
		limit            int64
		percent          int
	}{
		{"suggested", "", "", SuggestedMemoryLimit, SuggestedGCPercent},
		{"suggested", "1GiB", "", 1 << 40, SuggestedGCPercent},
		{"suggested", "", "200", SuggestedMemoryLimit, 123},
		{"scan", "", "", SuggestedScanMemoryLimit, SuggestedScanGCPercent},
		{"scan", "1GiB", "", 1 << 40, SuggestedScanGCPercent},
		{"scan", "", "80", SuggestedScanMemoryLimit, 123},
	} {
		t.Setenv("GOMEMLIMIT", tc.gomemlimit)
		t.Setenv("GOGC", tc.gogc)
		use := UseSuggestedRuntime
		if tc.use == "scan" {
			use = UseScanRuntime
		}
		restore := use()
		if l, p := debug.SetMemoryLimit(-1), gcPercent(); l != tc.limit || p != tc.percent {
			t.Errorf("%s, GOMEMLIMIT=%q GOGC=%q: limit %d, GC %d%%; want %d, %d%%", tc.use, tc.gomemlimit, tc.gogc, l, p, tc.limit, tc.percent)
		}
		restore()
		if l, p := debug.SetMemoryLimit(-1), gcPercent(); l != 1<<40 || p != 123 {
			t.Errorf("%s, GOMEMLIMIT=%q GOGC=%q: restored limit %d, GC %d%%; want what was set before", tc.use, tc.gomemlimit, tc.gogc, l, p)
		}
	}
}

// waitFor polls cond until it holds, and fails the test after 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited 10 s for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// queueBehindCommit opens a store whose groups hold at most 2 events,
// appends one event and, while its commit waits in the beforeCommit hook,
// six requests of two events: the writer takes one and waits for the
// commit in progress, five queue. Then it lets the commit go on; later
// commits (n from 2) run hook(n). It returns the store and the seven
// results, in the order they were answered.
func queueBehindCommit(t *testing.T, dir string, ks Keystore, hook func(n int32) error) (*Store, []appendResult) {
	t.Helper()
	s := openGroupsOf2(t, dir, ks)
	appendN(t, s, "acme", 0, 3)
	entered, release := make(chan struct{}), make(chan struct{})
	var commits atomic.Int32
	s.beforeCommit = func() error {
		n := commits.Add(1)
		if n == 1 {
			close(entered)
			<-release
			return nil
		}
		return hook(n)
	}
	ctx := context.Background()
	results := make(chan appendResult, 7)
	appendAsync := func(evs ...Event) {
		go func() {
			rs, err := s.Append(ctx, evs)
			results <- appendResult{rs, err}
		}()
	}
	appendAsync(testEvent("acme", 10))
	<-entered
	for i := 11; i < 23; i += 2 {
		appendAsync(testEvent("acme", i), testEvent("acme", i+1))
	}
	waitFor(t, "five requests queued behind the commit", func() bool { return len(s.reqs) >= 5 })
	close(release)
	out := make([]appendResult, 7)
	for i := range out {
		out[i] = <-results
	}
	return s, out
}

// holdFirstCommit makes the next group commit of s wait in the
// beforeCommit hook until release is closed; entered is closed once it
// waits there. Later commits go on.
func holdFirstCommit(s *Store) (entered, release chan struct{}) {
	entered, release = make(chan struct{}), make(chan struct{})
	var n atomic.Int32
	s.beforeCommit = func() error {
		if n.Add(1) == 1 {
			close(entered)
			<-release
		}
		return nil
	}
	return entered, release
}

func openGroupsOf2(t *testing.T, dir string, ks Keystore) *Store {
	t.Helper()
	clk := &storeClock{t: baseTime.Add(200 * 24 * time.Hour)}
	s, err := Open(context.Background(), dir, ks, Options{Now: clk.Now, GCInterval: -1, MaxGroupEvents: 2})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// While a group commits, the writer builds the next: requests that queue
// behind a slow commit go through the committer and syncer, in seq order.
func TestStore_PipelinedGroups(t *testing.T) {
	s, results := queueBehindCommit(t, t.TempDir(), newStoreKeystore(), func(int32) error { return nil })
	defer s.Close()
	seqs := map[uint64]bool{}
	for _, r := range results {
		if r.err != nil {
			t.Fatal(r.err)
		}
		for _, rc := range r.receipts {
			seqs[rc.Seq] = true
		}
		if len(r.receipts) == 2 && r.receipts[1].Seq != r.receipts[0].Seq+1 {
			t.Fatalf("a request split: %+v", r.receipts)
		}
	}
	for seq := uint64(4); seq <= 16; seq++ { // after the 3 appended first
		if !seqs[seq] {
			t.Fatalf("seq %d missing: %v", seq, seqs)
		}
	}
	if s.pipelinedGroups.Load() == 0 {
		t.Fatalf("no group went through the committer (writer groups %d, direct %d)", s.writerGroups.Load(), s.directGroups.Load())
	}
	if ps := verifyAll(t, s, VerifyOptions{}); len(ps) != 0 {
		t.Fatalf("problems:\n%s", problemList(ps))
	}
}

// Groups that queued behind a commit are committed together, in one Badger
// transaction (and so one sync), in seq order, as many as fit in one.
func TestStore_QueuedGroupsShareACommit(t *testing.T) {
	twoEach := make([][]Event, 6)
	for i := range twoEach {
		twoEach[i] = []Event{testEvent("acme", 11+2*i), testEvent("acme", 12+2*i)}
	}
	// 60 events need about 107 KB of a transaction, over half of the
	// 157 KB that one of a 1 MiB memtable may hold.
	large := make([][]Event, 4)
	for i := range large {
		for j := range 60 {
			large[i] = append(large[i], testEvent("acme", 100+60*i+j))
		}
	}
	for _, tc := range []struct {
		name     string
		opts     Options
		requests [][]Event
		// The requests are one group each; at most this many commits.
		maxCommits int64
	}{
		{"small groups share", Options{MaxGroupEvents: 2}, twoEach, 5},
		{"groups too large to share", Options{MaxGroupEvents: 60, MemTableSize: 1 << 20}, large, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.opts.GCInterval = -1
			s, err := Open(context.Background(), t.TempDir(), newStoreKeystore(), tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			// After queueForCommitter's cleanup, which lets held commits go.
			t.Cleanup(func() { s.Close() })
			appendN(t, s, "acme", 0, 3)
			results, commits := queueForCommitter(t, s, tc.requests)
			want := uint64(3 + 1) // appendN's and queueForCommitter's own
			for i, r := range results {
				if r.err != nil {
					t.Fatal(r.err)
				}
				if len(r.receipts) != len(tc.requests[i]) {
					t.Fatalf("request %d: %d receipts for %d events", i, len(r.receipts), len(tc.requests[i]))
				}
				want += uint64(len(r.receipts))
			}
			if size, _, err := s.Head(context.Background(), "acme"); err != nil || size != want {
				t.Fatalf("head %d, %v; want %d", size, err, want)
			}
			if groups := s.pipelinedGroups.Load(); groups != int64(len(tc.requests)) || commits > tc.maxCommits {
				t.Fatalf("%d groups through the committer in %d transactions, want %d in at most %d",
					groups, commits, len(tc.requests), tc.maxCommits)
			}
			if ps := verifyAll(t, s, VerifyOptions{}); len(ps) != 0 {
				t.Fatalf("problems:\n%s", problemList(ps))
			}
		})
	}
}

// queueForCommitter appends each of requests from its own goroutine, so
// that they queue for the writer behind a held direct append and then, as
// groups, for the committer behind its held first commit. It returns their
// results and the transactions that committed them.
func queueForCommitter(t *testing.T, s *Store, requests [][]Event) ([]appendResult, int64) {
	t.Helper()
	held := [2]chan struct{}{make(chan struct{}), make(chan struct{})}
	release := [2]chan struct{}{make(chan struct{}), make(chan struct{})}
	released := [2]sync.Once{}
	free := func(i int) { released[i].Do(func() { close(release[i]) }) }
	// A failing test lets the held commits go, so that Close returns.
	t.Cleanup(func() { free(0); free(1) })
	var n atomic.Int32
	s.beforeCommit = func() error {
		// 1: a direct append, so that the others queue; 2: the
		// committer's first group, so that the next ones queue for it.
		if i := n.Add(1) - 1; i < 2 {
			close(held[i])
			<-release[i]
		}
		return nil
	}
	ctx := context.Background()
	// out[0] is the held direct append's, out[i+1] that of requests[i].
	out := make([]appendResult, len(requests)+1)
	var wg sync.WaitGroup
	appendAsync := func(i int, evs ...Event) {
		wg.Go(func() {
			rs, err := s.Append(ctx, evs)
			out[i] = appendResult{rs, err}
		})
	}
	appendAsync(0, testEvent("acme", 10))
	<-held[0]
	for i, r := range requests {
		appendAsync(i+1, r...)
	}
	// The writer holds one of them, waiting for the held commit.
	waitFor(t, "requests queued behind the commit", func() bool { return len(s.reqs) == len(requests)-1 })
	free(0)
	<-held[1]
	waitFor(t, "groups queued for the committer", func() bool { return len(s.commitc) == cap(s.commitc) })
	before := s.commits.Load()
	free(1)
	wg.Wait()
	if out[0].err != nil {
		t.Fatal(out[0].err)
	}
	return out[1:], s.commits.Load() - before
}

// A commit that fails while later groups are in the pipeline fails them
// all, and the log on disk has no gap: after a reopen, appends go on from
// the last durable seq.
func TestStore_PipelinedFailure(t *testing.T) {
	dir, ks := t.TempDir(), newStoreKeystore()
	boom := errors.New("injected commit failure")
	s, results := queueBehindCommit(t, dir, ks, func(n int32) error {
		if n == 2 {
			return boom
		}
		return nil
	})
	failed := 0
	for _, r := range results {
		if r.err != nil {
			failed++
		}
	}
	if failed != 6 {
		t.Fatalf("%d appends failed, want the 6 from the failed commit on", failed)
	}
	if s.pipelinedGroups.Load() == 0 {
		t.Fatal("no group went through the committer")
	}
	s.Close()
	s = openGroupsOf2(t, dir, ks)
	defer s.Close()
	rs := appendN(t, s, "acme", 30, 1)
	if rs[0].Seq != 5 {
		t.Fatalf("seq after the failure = %d, want 5 (seqs 1-4 durable, no gap)", rs[0].Seq)
	}
	if ps := verifyAll(t, s, VerifyOptions{}); len(ps) != 0 {
		t.Fatalf("problems:\n%s", problemList(ps))
	}
}

// Close's contract is that appends queued before it are committed. Close
// ends the writer's context before the writer drains the queue; an
// organization's first data key must still be created for a queued append.
func TestStore_CloseCommitsQueuedAppendOfNewOrg(t *testing.T) {
	dir, ks := t.TempDir(), newStoreKeystore()
	s := openTest(t, dir, ks)
	appendN(t, s, "acme", 0, 1)
	entered, release := make(chan struct{}), make(chan struct{})
	var n atomic.Int32
	s.beforeCommit = func() error {
		switch n.Add(1) {
		case 1, 2:
			entered <- struct{}{}
			<-release
		}
		return nil
	}
	ctx := context.Background()
	res := make(chan error, 3)
	// 1: a direct append, held in its commit with the writer's mutex.
	go func() { _, err := s.Append(ctx, []Event{testEvent("acme", 1)}); res <- err }()
	<-entered
	// 2: queued for the writer, which takes it once 1 is done and is then
	// held in its commit.
	go func() { _, err := s.Append(ctx, []Event{testEvent("acme", 2)}); res <- err }()
	waitFor(t, "the writer to wait", func() bool { return s.writerWaits.Load() > 0 })
	release <- struct{}{}
	<-entered
	// 3: an organization without a data key yet, queued behind 2.
	go func() { _, err := s.Append(ctx, []Event{testEvent("globex", 3)}); res <- err }()
	waitFor(t, "request 3 to queue", func() bool { return len(s.reqs) == 1 })
	closed := make(chan error, 1)
	go func() { closed <- s.Close() }()
	waitFor(t, "Close to end the background context", func() bool { return s.bgCtx.Err() != nil })
	close(release)
	for i := 0; i < 3; i++ {
		if err := <-res; err != nil {
			t.Errorf("an append queued before Close: %v", err)
		}
	}
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
	s = openTest(t, dir, ks)
	defer s.Close()
	if size, _, err := s.Head(ctx, "globex"); err != nil || size != 1 {
		t.Fatalf("globex after reopen: size %d, %v", size, err)
	}
}

// Every Badger commit of the store returns synced (SyncWrites). With it
// off, DB.Sync after a commit syncs only the current memtable log and
// value log: a group whose commit, or another writer's, moved Badger on to
// new ones was answered with bytes not yet on disk.
func TestBadgerOptions_CommitsAreSynced(t *testing.T) {
	o, _ := Options{}.withDefaults()
	if !badgerOptions(t.TempDir(), o, make([]byte, 32)).SyncWrites {
		t.Fatal("the store's Badger options do not sync every commit")
	}
}

// CheckAppend refuses what Append would refuse, for any number of events,
// and writes nothing.
func TestStore_CheckAppend(t *testing.T) {
	ctx := context.Background()
	s, _, _ := newTestStore(t)
	withID := func(i int) Event {
		e := testEvent("acme", i)
		e.ID = fmt.Sprintf("01900000-0000-7000-8000-%012d", i)
		return e
	}
	if _, err := s.Append(ctx, []Event{withID(1), withID(2)}); err != nil {
		t.Fatal(err)
	}
	changed := withID(2)
	changed.Status = "failed"
	if changed.Status == withID(2).Status {
		changed.Status = "applied"
	}
	invalid := withID(3)
	invalid.Provider = "oracle"
	many := make([]Event, 5000) // far over one atomic commit
	for i := range many {
		many[i] = withID(100 + i)
	}
	cases := []struct {
		name     string
		events   []Event
		conflict int // index, or -1
		invalid  int
	}{
		{"new events", []Event{withID(3), withID(4)}, -1, -1},
		{"recorded, same content", []Event{withID(1), withID(2), withID(3)}, -1, -1},
		{"repeated in the batch, same content", []Event{withID(3), withID(3)}, -1, -1},
		{"recorded, other content", []Event{withID(3), changed}, 1, -1},
		{"repeated in the batch, other content", []Event{withID(5), withID(3), func() Event { e := withID(5); e.UserID = "mallory"; return e }()}, 2, -1},
		{"invalid", []Event{withID(4), invalid}, -1, 1},
		{"more than one commit holds", many, -1, -1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := s.CheckAppend(ctx, c.events)
			var ce *ConflictError
			var ve *ValidationError
			switch {
			case c.conflict >= 0:
				if !errors.As(err, &ce) || ce.Index != c.conflict || !errors.Is(err, ErrConflict) {
					t.Fatalf("got %v, want a conflict at %d", err, c.conflict)
				}
			case c.invalid >= 0:
				if !errors.As(err, &ve) || ve.Index != c.invalid {
					t.Fatalf("got %v, want event %d invalid", err, c.invalid)
				}
			case err != nil:
				t.Fatalf("got %v", err)
			}
		})
	}
	if _, err := s.Append(ctx, many); !errors.Is(err, ErrBatchTooLarge) {
		t.Fatalf("Append of %d events: %v, want ErrBatchTooLarge", len(many), err)
	}
	orgs, err := s.Organizations(ctx)
	if err != nil || len(orgs) != 1 || orgs[0].Size != 2 {
		t.Fatalf("CheckAppend wrote something: %+v, %v", orgs, err)
	}
	if err := s.RaiseIntegrityAlert(ctx, "acme", "test alert", nil); err != nil {
		t.Fatal(err)
	}
	if err := s.CheckAppend(ctx, []Event{withID(3)}); !errors.Is(err, ErrIntegrityAlert) {
		t.Fatalf("during an alert: %v", err)
	}
	s.Close()
	if err := s.CheckAppend(ctx, []Event{withID(3)}); !errors.Is(err, ErrClosed) {
		t.Fatalf("after Close: %v", err)
	}
}

// CheckConflicts names every conflicting event of a batch, and what it
// conflicts with: the log (-1) or the earlier event of the batch whose
// content it does not have. An earlier event that conflicts itself is no
// reference: its repeats are held against the log.
func TestStore_CheckConflicts(t *testing.T) {
	ctx := context.Background()
	s, _, _ := newTestStore(t)
	withID := func(i int) Event {
		e := testEvent("acme", i)
		e.ID = fmt.Sprintf("01900000-0000-7000-8000-%012d", i)
		return e
	}
	changed := func(i int, user string) Event { e := withID(i); e.UserID = user; return e }
	if _, err := s.Append(ctx, []Event{withID(1), withID(2)}); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name   string
		events []Event
		want   []Conflict
	}{
		{"none", []Event{withID(1), withID(3), withID(3)}, nil},
		{"each recorded one", []Event{changed(1, "m"), withID(3), changed(2, "m")}, []Conflict{{0, -1}, {2, -1}}},
		{"repeats in the batch", []Event{withID(3), changed(3, "m"), withID(4), changed(4, "m"), changed(3, "n")},
			[]Conflict{{1, 0}, {3, 2}, {4, 0}}},
		{"a conflicting event repeated", []Event{changed(1, "m"), changed(1, "m")}, []Conflict{{0, -1}, {1, -1}}},
		{"a conflicting event's repeat that matches the log", []Event{changed(1, "m"), withID(1), changed(1, "n")},
			[]Conflict{{0, -1}, {2, 1}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.CheckConflicts(ctx, tt.events)
			if err != nil || !slices.Equal(got, tt.want) {
				t.Fatalf("got %v, %v; want %v", got, err, tt.want)
			}
			err = s.CheckAppend(ctx, tt.events)
			var ce *ConflictError
			if len(tt.want) == 0 && err != nil || len(tt.want) > 0 && (!errors.As(err, &ce) || ce.Index != tt.want[0].Index) {
				t.Fatalf("CheckAppend: %v, want the first conflict", err)
			}
		})
	}
	invalid := withID(5)
	invalid.Provider = "oracle"
	var ve *ValidationError
	if _, err := s.CheckConflicts(ctx, []Event{changed(1, "m"), invalid}); !errors.As(err, &ve) || ve.Index != 1 {
		t.Fatalf("an invalid event: %v, want it named", err)
	}
}

// racingKeystore makes two first starts race: its first two Gets of the
// master key return together (both find none), and a second Set of it
// waits until release is closed.
type racingKeystore struct {
	*storeKeystore
	gets, sets atomic.Int32
	both       chan struct{}
	release    chan struct{}
}

func (r *racingKeystore) Get(ctx context.Context, name string) ([]byte, error) {
	if name == KeyMaster {
		if n := r.gets.Add(1); n <= 2 {
			if n == 2 {
				close(r.both)
			}
			<-r.both
		}
	}
	return r.storeKeystore.Get(ctx, name)
}

func (r *racingKeystore) Set(ctx context.Context, name string, secret []byte) error {
	if name == KeyMaster && r.sets.Add(1) == 2 {
		<-r.release
	}
	return r.storeKeystore.Set(ctx, name, secret)
}

// Two processes starting a new profile at once (here two Opens): one
// creates the master key and opens the log, the other finds the log open;
// the key in the keystore is the one the log was created with. Without
// the first-start lock both created a key, and the second replaced the
// key of the log the first had created.
func TestOpen_FirstStartRace(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	ks := &racingKeystore{storeKeystore: newStoreKeystore(), both: make(chan struct{}), release: make(chan struct{})}
	type result struct {
		s   *Store
		err error
	}
	results := make(chan result, 2)
	for range 2 {
		go func() {
			s, err := Open(ctx, dir, ks, Options{GCInterval: -1})
			results <- result{s, err}
		}()
	}
	var opened []*Store
	for i := range 2 {
		r := <-results
		if i == 0 {
			close(ks.release)
		}
		if r.err == nil {
			opened = append(opened, r.s)
		} else if !errors.Is(r.err, ErrLocked) {
			t.Errorf("Open: %v, want success or ErrLocked", r.err)
		}
	}
	if len(opened) != 1 {
		t.Fatalf("%d of two racing Opens succeeded, want 1", len(opened))
	}
	appendN(t, opened[0], "acme", 0, 3)
	if err := opened[0].Close(); err != nil {
		t.Fatal(err)
	}
	s, err := Open(ctx, dir, ks.storeKeystore, Options{GCInterval: -1})
	if err != nil {
		t.Fatalf("reopen after the race: %v", err)
	}
	defer s.Close()
	if n := ks.sets.Load(); n != 1 {
		t.Errorf("the master key was set %d times, want 1", n)
	}
}

// A rotation whose caller stops waiting once it is queued still commits,
// and is waited for: it answers truly, and the next rotation makes the
// next key, not a second key of the same id (which would leave states
// sealed with a key the database no longer has).
func TestStore_RotationOutlivesItsContext(t *testing.T) {
	dir := t.TempDir()
	ks := newStoreKeystore()
	s := openTest(t, dir, ks)
	appendN(t, s, "acme", 0, 2)
	entered, release := holdFirstCommit(s)
	go func() { // its commit waits in the hook
		if _, err := s.Append(context.Background(), []Event{testEvent("acme", 2)}); err != nil {
			t.Error(err)
		}
	}()
	<-entered
	ctx1, cancel1 := context.WithCancel(context.Background())
	type result struct {
		id  uint32
		err error
	}
	first := make(chan result, 1)
	go func() { rot, err := s.RotateDataKey(ctx1, "acme", "first"); first <- result{rot.KeyID, err} }()
	waitFor(t, "the rotation to queue", func() bool { return len(s.reqs) >= 1 || s.writerWaits.Load() > 0 })
	cancel1()
	// Cancelled, it still waits for its commit, which the hook holds.
	select {
	case r := <-first:
		t.Fatalf("the rotation answered (key %d, %v) while its commit was held", r.id, r.err)
	case <-time.After(20 * time.Millisecond):
	}
	close(release)
	r1 := <-first
	r2, err := s.RotateDataKey(context.Background(), "acme", "second")
	if r1.err != nil || r1.id != 2 || err != nil || r2.KeyID != 3 {
		t.Fatalf("rotations: %d, %v; %d, %v; want keys 2 and 3", r1.id, r1.err, r2.KeyID, err)
	}
	appendN(t, s, "acme", 10, 3)
	s.Close()
	s = openTest(t, dir, ks)
	defer s.Close()
	page, err := s.List(context.Background(), Filter{Org: "acme", Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range page.Events {
		if e.StatesSealed {
			t.Fatalf("seq %d's states do not decrypt", e.Seq)
		}
	}
}

// The store records when each data key was made, so that the schedule of
// rotations does not depend on events retention may prune.
func TestStore_DataKeyMadeAt(t *testing.T) {
	ctx := context.Background()
	clk := &manualClock{t: baseTime.Add(300 * 24 * time.Hour)}
	s := openIntegrityTest(t, t.TempDir(), newStoreKeystore(), clk, Options{})
	defer s.Close()
	made0 := clk.Now()
	appendN(t, s, "acme", 0, 1)
	if got, err := s.DataKeyMadeAt(ctx, "acme"); err != nil || got.Sub(made0).Abs() > time.Second {
		t.Fatalf("first key made at %v, %v; want about %v", got, err, made0)
	}
	clk.Add(20 * 24 * time.Hour)
	if _, err := s.RotateDataKey(ctx, "acme", "tester"); err != nil {
		t.Fatal(err)
	}
	if got, err := s.DataKeyMadeAt(ctx, "acme"); err != nil || got.Sub(clk.Now()).Abs() > time.Second {
		t.Fatalf("rotated key made at %v, %v; want about %v", got, err, clk.Now())
	}
}

// What the committer merges fits one Badger transaction, up to the last
// write: Badger counts the entry it adds to mark the commit against the
// limit, so that writes that each passed its check as staged may together
// be refused at commit (which would fail the store closed).
func TestFitsOneTxn_AgreesWithBadger(t *testing.T) {
	s, _, _ := newTestStore(t)
	limit := s.db.MaxBatchCount()
	stage := func(prefix string, n int64) *groupWrites {
		w := s.newGroupWrites(1)
		for i := range n {
			if err := w.Set(fmt.Appendf(nil, "zz/%s/%06d", prefix, i), []byte("v")); err != nil {
				t.Fatalf("stage %d of %d: %v", i, n, err)
			}
		}
		return w
	}
	for _, total := range []int64{limit - 2, limit - 1} {
		a, b := stage(fmt.Sprint("a", total), total/2), stage(fmt.Sprint("b", total), total-total/2)
		sa, ca := a.budget()
		sb, cb := b.budget()
		fits := s.fitsOneTxn(sa+sb, ca+cb)
		err := s.commitGroups([]*groupWrites{a, b})
		if fits != (err == nil) {
			t.Errorf("%d writes (limit %d): fitsOneTxn %v, but the commit: %v", total, limit, fits, err)
		}
		if want := total < limit-1; fits != want {
			t.Errorf("%d writes (limit %d): fitsOneTxn %v, want %v", total, limit, fits, want)
		}
	}
}
