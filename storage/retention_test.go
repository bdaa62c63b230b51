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
