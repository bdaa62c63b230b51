package storage

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	badger "github.com/dgraph-io/badger/v4"
)

// openRetentionTest opens a store on dir whose clock (and validator's
// clock) is clk.
func openRetentionTest(t testing.TB, dir string, ks Keystore, clk *manualClock) *Store {
	t.Helper()
	cat, err := LoadCatalogue()
	if err != nil {
		t.Fatal(err)
	}
	return openIntegrityTest(t, dir, ks, clk, Options{Catalogue: cat.WithClock(clk.Now)})
}

// retentionEvent is event i of a workload that cycles through operational
// (scan, user, workflow) and material (connection, apply) categories, at
// time ts.
func retentionEvent(org string, i int, ts time.Time, stateBytes int) Event {
	e := testEvent(org, i)
	e.Timestamp = ts
	if stateBytes > 0 {
		pad := strings.Repeat(fmt.Sprintf("%x", i%16), stateBytes)
		e.BeforeState = json.RawMessage(fmt.Sprintf(`{"pad":%q}`, pad))
	}
	return e
}

func isMaterial(actionType string) bool {
	return strings.HasPrefix(actionType, "connection.") || strings.HasPrefix(actionType, "apply.") || strings.HasPrefix(actionType, "audit.")
}

// verifyClean runs Verify and fails the test on any problem.
func verifyClean(t *testing.T, s *Store, org string) VerifySummary {
	t.Helper()
	var problems []Problem
	sum, err := s.Verify(context.Background(), VerifyOptions{Org: org}, func(p Problem) error {
		problems = append(problems, p)
		return nil
	})
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	for i, p := range problems {
		if i < 10 {
			t.Errorf("problem: %s", p)
		}
	}
	if len(problems) > 0 {
		t.FailNow()
	}
	return sum
}

func TestRetention_PolicyValidation(t *testing.T) {
	ctx := context.Background()
	clk := &manualClock{t: baseTime}
	s := openRetentionTest(t, t.TempDir(), newStoreKeystore(), clk)
	defer s.Close()
	for _, tc := range []struct {
		name  string
		ch    RetentionChange
		field string
	}{
		{"zero days", RetentionChange{Class: RetentionOperational}, "days"},
		{"over seven years", RetentionChange{Class: RetentionOperational, Window: RetentionWindow{Days: MaxRetentionDays + 1}}, "days"},
		{"negative", RetentionChange{Class: RetentionMaterial, Window: RetentionWindow{Days: -3}}, "days"},
		{"both", RetentionChange{Class: RetentionMaterial, Window: RetentionWindow{Days: 3, Indefinite: true}}, "days"},
		{"unknown class", RetentionChange{Class: "forever", Window: RetentionWindow{Days: 3}}, "class"},
		{"unknown category", RetentionChange{Class: RetentionOperational, Category: "nope", Window: RetentionWindow{Days: 3}}, "category"},
		{"category of the other class", RetentionChange{Class: RetentionOperational, Category: "apply", Window: RetentionWindow{Days: 3}}, "category"},
		{"the log's own events", RetentionChange{Class: RetentionMaterial, Category: "audit", Window: RetentionWindow{Days: 3}}, "category"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := s.SetRetention(ctx, "acme", tc.ch)
			var pe *PolicyError
			if !errors.As(err, &pe) || pe.Field != tc.field || !errors.Is(err, ErrInvalidPolicy) {
				t.Fatalf("SetRetention(%+v) = %v, want a PolicyError on %s", tc.ch, err, tc.field)
			}
		})
	}
	before, after, err := s.SetRetention(ctx, "acme", RetentionChange{Class: RetentionOperational, Window: RetentionWindow{Days: MaxRetentionDays}, ChangedBy: "alice"})
	if err != nil || before.Version != 0 || after.Version != 1 || after.Operational.Days != MaxRetentionDays || !after.Material.Indefinite {
		t.Fatalf("SetRetention = %+v, %+v, %v", before, after, err)
	}
	clk.Add(time.Hour)
	if _, _, err := s.SetRetention(ctx, "acme", RetentionChange{Class: RetentionOperational, Category: "scan", Window: RetentionWindow{Days: 1}}); err != nil {
		t.Fatal(err)
	}
	h, err := s.RetentionHistory(ctx, "acme")
	if err != nil || len(h) != 3 || h[0].Version != 0 || h[2].Categories["scan"].Days != 1 || !h[2].EffectiveFrom.Equal(baseTime.Add(time.Hour)) {
		t.Fatalf("history = %+v, %v", h, err)
	}
	if p, _ := s.RetentionPolicy(ctx, "other"); p.Version != 0 || p.Operational.Days != 90 || !p.Material.Indefinite {
		t.Fatalf("default policy = %+v", p)
	}
	if got := h[2].RuleName(RetentionOperational, "scan"); got != "category scan 1 day (v2)" {
		t.Errorf("RuleName = %q", got)
	}
	// A finite material window leaves the log's own events indefinite.
	clk.Add(time.Hour)
	_, after, err = s.SetRetention(ctx, "acme", RetentionChange{Class: RetentionMaterial, Window: RetentionWindow{Days: 365}})
	if err != nil || after.Material.Days != 365 || !after.Window(RetentionMaterial, "audit").Indefinite || after.Window(RetentionMaterial, "apply").Days != 365 {
		t.Fatalf("material 365 days = %+v, %v", after, err)
	}
	if _, _, err := s.SetRetention(ctx, "acme", RetentionChange{Class: RetentionMaterial, Category: "audit", Window: RetentionWindow{Indefinite: true}}); err != nil {
		t.Errorf("category audit indefinite: %v", err)
	}
	// A history written before finite audit windows were refused: the next
	// version of any window ends it.
	old := DefaultRetentionPolicy()
	v1 := old.clone()
	v1.Version, v1.EffectiveFrom = 1, clk.Now()
	v1.Categories = map[string]RetentionWindow{"audit": {Days: 30}}
	doc, _ := json.Marshal(retentionDoc{Versions: []RetentionPolicy{old, v1}})
	if err := s.update(func(txn *badger.Txn) error { return txn.Set(settingKey(retentionSettingName("legacy")), doc) }); err != nil {
		t.Fatal(err)
	}
	clk.Add(time.Hour)
	_, after, err = s.SetRetention(ctx, "legacy", RetentionChange{Class: RetentionOperational, Window: RetentionWindow{Days: 60}})
	if err != nil || after.Version != 2 || !after.Window(RetentionMaterial, "audit").Indefinite {
		t.Fatalf("after a legacy finite audit window: %+v, %v", after, err)
	}
}

func TestRetention_Expiring(t *testing.T) {
	ctx := context.Background()
	clk := &manualClock{t: baseTime.Add(60 * 24 * time.Hour)}
	s := openRetentionTest(t, t.TempDir(), newStoreKeystore(), clk)
	defer s.Close()
	const org = "acme"
	var evs []Event
	for i := 0; i < 50; i++ {
		evs = append(evs, retentionEvent(org, i, baseTime.Add(time.Duration(i)*24*time.Hour), 0))
	}
	if _, err := s.Append(ctx, evs); err != nil {
		t.Fatal(err)
	}
	clk.t = baseTime.Add(90 * 24 * time.Hour)
	ex, err := s.ExpiringEvents(ctx, org, 7*24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	var want uint64
	for _, e := range evs {
		if !isMaterial(e.ActionType) && e.Timestamp.Before(baseTime.Add(7*24*time.Hour)) {
			want++
		}
	}
	if ex.Count != want || ex.Oldest == nil || !ex.Oldest.Equal(baseTime) {
		t.Fatalf("expiring = %+v, want %d", ex, want)
	}
	// A sweep a week later prunes exactly those.
	clk.Add(7 * 24 * time.Hour)
	res, err := s.SweepRetention(ctx, org, SweepOptions{DryRun: true})
	if err != nil || res.Pruned != want {
		t.Fatalf("sweep a week later = %+v, %v; want %d", res, err, want)
	}
}

func FuzzDecodeTombstone(f *testing.F) {
	f.Add(tombstone{seq: 7, id: "0190-abc", timestamp: 1, recordedAt: 2, actionType: "scan.started", category: "scan",
		policy: "operational 90 days (v0)", windowDays: 90, prunedAt: 3}.encode())
	f.Add([]byte{tombstoneV})
	f.Add([]byte{recordValueV, 1, 2})
	f.Fuzz(func(t *testing.T, b []byte) {
		ts, err := decodeTombstone(b)
		if err != nil {
			if !errors.Is(err, errCorrupt) {
				t.Fatalf("error %v does not match errCorrupt", err)
			}
			return
		}
		if !bytes.Equal(ts.encode(), b) {
			t.Fatalf("decode(%x) re-encodes as %x", b, ts.encode())
		}
	})
}

func TestClassSweep_Ranges(t *testing.T) {
	c := ClassSweep{Exact: true}
	for _, seq := range []uint64{5, 3, 4, 10, 1, 11, 9, 4} {
		c.add(seq)
	}
	want := []SeqRange{{1, 1}, {3, 5}, {9, 11}}
	if c.Pruned != 8 || !c.Exact || len(c.Ranges) != len(want) {
		t.Fatalf("ranges %+v", c)
	}
	for i := range want {
		if c.Ranges[i] != want[i] {
			t.Fatalf("ranges %+v, want %+v", c.Ranges, want)
		}
	}
	// Past the bound, the closest ranges merge and the ranges say so.
	c = ClassSweep{Exact: true}
	for i := uint64(0); i <= maxSweepRanges; i++ {
		c.add(i * 3)
	}
	if len(c.Ranges) != maxSweepRanges || c.Exact || c.Ranges[0].From != 0 || c.Ranges[len(c.Ranges)-1].To != maxSweepRanges*3 {
		t.Fatalf("%d ranges, exact %v, %v … %v", len(c.Ranges), c.Exact, c.Ranges[0], c.Ranges[len(c.Ranges)-1])
	}
}

// A change that shortens a window takes effect a grace period later:
// until then sweeps keep to the version in force, and the events the
// change will prune are announced as expiring. A change that shortens
// nothing takes effect at once, and a later change that prunes less
// replaces a pending one no later than it would have taken effect.
// Tombstones name the version in force when they were pruned, and verify.
func TestRetention_Grace(t *testing.T) {
	ctx := context.Background()
	clk := &manualClock{t: baseTime.Add(100 * 24 * time.Hour)}
	s := openIntegrityTest(t, t.TempDir(), newStoreKeystore(), clk, Options{RetentionGrace: DefaultRetentionGrace})
	defer s.Close()
	// Scan events (operational) 80, 60 and 20 days old.
	for i, age := range []int{80, 60, 20} {
		e := retentionEvent("acme", 0, clk.Now().Add(-time.Duration(age)*24*time.Hour), 0)
		e.ActionType, e.ID = "scan.started", fmt.Sprintf("01900000-0000-7000-8000-%012x", i)
		if _, err := s.Append(ctx, []Event{e}); err != nil {
			t.Fatal(err)
		}
	}
	changedAt := clk.Now()
	_, v1, err := s.SetRetention(ctx, "acme", RetentionChange{Class: RetentionOperational, Window: RetentionWindow{Days: 30}})
	if err != nil {
		t.Fatal(err)
	}
	if !v1.EffectiveFrom.Equal(changedAt.Add(DefaultRetentionGrace)) || !v1.ChangedAt.Equal(changedAt) {
		t.Fatalf("a shortened window: changed at %s, in force from %s; want from %s", v1.ChangedAt, v1.EffectiveFrom, changedAt.Add(DefaultRetentionGrace))
	}
	if p, err := s.RetentionPolicy(ctx, "acme"); err != nil || p.Version != 0 {
		t.Fatalf("in force during the grace: version %d, %v; want 0", p.Version, err)
	}
	// Announced: the 80- and 60-day-old events expire within the week.
	ex, err := s.ExpiringEvents(ctx, "acme", 7*24*time.Hour)
	if err != nil || ex.Count != 2 || len(ex.Groups) != 1 || ex.Groups[0].Window.Days != 30 {
		t.Fatalf("expiring during the grace: %+v, %v; want the two older scans, under 30 days", ex, err)
	}
	sweep := func(want uint64) {
		t.Helper()
		res, err := s.SweepRetention(ctx, "acme", SweepOptions{NoReclaim: true})
		if err != nil || res.Pruned != want {
			t.Fatalf("sweep at %s: %+v, %v; want %d pruned", clk.Now(), res, err, want)
		}
	}
	clk.Add(6 * 24 * time.Hour)
	sweep(0) // still version 0: 90 days
	clk.Add(24 * time.Hour)
	sweep(2) // version 1 is in force: 30 days
	verifyClean(t, s, "acme")

	// Lengthening takes effect at once; a shortening then a lengthening
	// back within the grace never prunes under the shorter window.
	_, v2, err := s.SetRetention(ctx, "acme", RetentionChange{Class: RetentionOperational, Window: RetentionWindow{Days: 400}})
	// (Now, or a nanosecond after the sweep that shares its clock reading.)
	if d := v2.EffectiveFrom.Sub(clk.Now()); err != nil || d < 0 || d > time.Microsecond {
		t.Fatalf("a longer window: in force from %s (%v); want now, %s", v2.EffectiveFrom, err, clk.Now())
	}
	_, v3, err := s.SetRetention(ctx, "acme", RetentionChange{Class: RetentionOperational, Window: RetentionWindow{Days: 1}})
	if err != nil || !v3.EffectiveFrom.After(clk.Now()) {
		t.Fatalf("v3: %+v, %v", v3, err)
	}
	clk.Add(time.Hour)
	_, v4, err := s.SetRetention(ctx, "acme", RetentionChange{Class: RetentionOperational, Window: RetentionWindow{Days: 10}})
	if err != nil || !v4.EffectiveFrom.Equal(v3.EffectiveFrom) {
		t.Fatalf("a pending change made less strict: in force from %s (%v); want v3's %s", v4.EffectiveFrom, err, v3.EffectiveFrom)
	}
	// The change also made an interim version, in force now: 400 days
	// (the windows it shortens kept as in force), which supersedes v3.
	h, _ := s.RetentionHistory(ctx, "acme")
	if in := InForce(h, clk.Now()); v4.Version != 5 || in.Version != 4 || in.Operational.Days != 400 {
		t.Fatalf("the change made version %d, and version %d (%s) is in force; want 5, and an interim 4 (400 days)", v4.Version, in.Version, in.Operational)
	}
	if pending := PendingRetention(h, clk.Now()); len(pending) != 1 || pending[0].Version != 5 {
		t.Fatalf("pending: %+v; want only version 5 (version 3 never takes effect)", pending)
	}
	clk.Add(8 * 24 * time.Hour)
	sweep(1) // the 20-day-old scan is now 27 days old: past v5's 10 days
	if p, _ := s.RetentionPolicy(ctx, "acme"); p.Version != 5 {
		t.Fatalf("in force: version %d, want 5", p.Version)
	}
	verifyClean(t, s, "acme")
}
