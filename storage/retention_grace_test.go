package storage

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	badger "github.com/dgraph-io/badger/v4"
	"strings"
	"testing"
	"time"
)

func graceEvent(org, action string, i int, ts time.Time) Event {
	e := retentionEvent(org, 0, ts, 0)
	e.ActionType, e.ID = action, fmt.Sprintf("01900000-0000-7000-8000-%012x", i)
	return e
}

func graceSet(t *testing.T, s *Store, cat string, days int) RetentionPolicy {
	t.Helper()
	_, after, err := s.SetRetention(context.Background(), "acme", RetentionChange{Class: RetentionOperational, Category: cat, Window: RetentionWindow{Days: days}})
	if err != nil {
		t.Fatal(err)
	}
	return after
}

// scan 30 (pending), finding 30 (pending), then scan back to 90: the scan
// events 30..90 days old must not be pruned, yet version 1 (scan 30) still
// takes effect for a day.
func TestRetentionGrace_UndoneShorteningStillPrunes(t *testing.T) {
	ctx := context.Background()
	clk := &manualClock{t: baseTime.Add(200 * 24 * time.Hour)}
	s := openIntegrityTest(t, t.TempDir(), newStoreKeystore(), clk, Options{RetentionGrace: DefaultRetentionGrace})
	defer s.Close()
	if _, err := s.Append(ctx, []Event{graceEvent("acme", "scan.started", 1, clk.Now().Add(-60*24*time.Hour))}); err != nil {
		t.Fatal(err)
	}
	graceSet(t, s, "scan", 30)
	clk.Add(24 * time.Hour)
	graceSet(t, s, "finding", 30)
	clk.Add(24 * time.Hour)
	v3 := graceSet(t, s, "scan", 90)
	h, _ := s.RetentionHistory(ctx, "acme")
	for _, p := range PendingRetention(h, clk.Now()) {
		t.Logf("pending v%d from %s: scan %s", p.Version, p.EffectiveFrom, p.Window(RetentionOperational, "scan"))
	}
	t.Logf("v3 (scan back to 90) in force from %s (now %s)", v3.EffectiveFrom, clk.Now())
	clk.Add(5*24*time.Hour + time.Minute) // T+7d: version 1's time
	res, err := s.SweepRetention(ctx, "acme", SweepOptions{NoReclaim: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.Pruned != 0 {
		t.Fatalf("sweep at %s under version %d pruned %d scan event(s) the newest policy keeps 90 days", res.At, res.Policy, res.Pruned)
	}
}

// A change that lengthens scan back is deferred while finding 30 is
// pending: scan 30 keeps pruning for up to a week.
func TestRetentionGrace_LengtheningDeferred(t *testing.T) {
	ctx := context.Background()
	clk := &manualClock{t: baseTime.Add(200 * 24 * time.Hour)}
	s := openIntegrityTest(t, t.TempDir(), newStoreKeystore(), clk, Options{RetentionGrace: DefaultRetentionGrace})
	defer s.Close()
	graceSet(t, s, "scan", 30)
	clk.Add(7*24*time.Hour + time.Hour) // v1 in force
	graceSet(t, s, "finding", 30)       // v2 pending a week
	clk.Add(time.Hour)
	graceSet(t, s, "scan", 90) // lengthens scan: in force now, in an interim version
	if p, err := s.RetentionPolicy(ctx, "acme"); err != nil || p.Window(RetentionOperational, "scan").Days != 90 || p.Window(RetentionOperational, "finding").Days != 90 {
		t.Errorf("in force after scan 30→90 with finding 30 pending: %+v, %v; want scan 90 now, finding still 90", p, err)
	}
	if _, err := s.Append(ctx, []Event{graceEvent("acme", "scan.started", 1, clk.Now().Add(-25*24*time.Hour))}); err != nil {
		t.Fatal(err)
	}
	clk.Add(6 * 24 * time.Hour) // the scan is 31 days old; v3 not yet in force
	res, err := s.SweepRetention(ctx, "acme", SweepOptions{NoReclaim: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.Pruned != 0 {
		t.Fatalf("sweep at %s under version %d pruned %d scan event(s) after scan was set to 90 days", res.At, res.Policy, res.Pruned)
	}
}

// An interrupted sweep under operational 30 resumes after a change to 400
// days (which took effect at once): neither ExpiringEvents nor a dry run
// announces what the resumed sweep then prunes.
func TestRetentionGrace_ResumedSweepAfterLengthening(t *testing.T) {
	ctx := context.Background()
	clk := &manualClock{t: baseTime.Add(200 * 24 * time.Hour)}
	s := openIntegrityTest(t, t.TempDir(), newStoreKeystore(), clk, Options{})
	defer s.Close()
	var evs []Event
	for i := 0; i < 40; i++ {
		evs = append(evs, graceEvent("acme", "scan.started", i+1, clk.Now().Add(-time.Duration(40+i)*24*time.Hour)))
	}
	if _, err := s.Append(ctx, evs); err != nil {
		t.Fatal(err)
	}
	graceSet(t, s, "", 30)
	crash := errors.New("crash")
	s.ret.afterBatch = func(b int) error {
		if b == 1 {
			return crash
		}
		return nil
	}
	if _, err := s.SweepRetention(ctx, "acme", SweepOptions{BatchSize: 5, NoReclaim: true}); !errors.Is(err, crash) {
		t.Fatal(err)
	}
	s.ret.afterBatch = nil
	clk.Add(time.Hour)
	graceSet(t, s, "", 400)
	ex, _ := s.ExpiringEvents(ctx, "acme", 7*24*time.Hour)
	dry, _ := s.SweepRetention(ctx, "acme", SweepOptions{DryRun: true})
	res, err := s.SweepRetention(ctx, "acme", SweepOptions{NoReclaim: true})
	if err != nil {
		t.Fatal(err)
	}
	verifyClean(t, s, "acme")
	if res.Pruned-5 > ex.Count+dry.Pruned {
		t.Fatalf("after operational 400 days took effect: expiring %d, dry run %d, but the resumed sweep (v%d, at %s) pruned %d more",
			ex.Count, dry.Pruned, res.Policy, res.At, res.Pruned-5)
	}
}

// checkTombstone on hand-made histories.
func TestRetentionGrace_CheckTombstoneEdges(t *testing.T) {
	T := baseTime.Add(300 * 24 * time.Hour)
	day := 24 * time.Hour
	classes := map[string]RetentionClass{"scan": RetentionOperational}
	catOf := func(string) string { return "scan" }
	pol := func(v uint32, changed, eff time.Time, days int) RetentionPolicy {
		return RetentionPolicy{Version: v, ChangedAt: changed, EffectiveFrom: eff, Operational: RetentionWindow{Days: days}, Material: RetentionWindow{Indefinite: true}}
	}
	v0 := DefaultRetentionPolicy()
	tomb := func(p RetentionPolicy, at time.Time) tombstone {
		return tombstone{seq: 1, actionType: "scan.started", category: "scan", timestamp: T.Add(-1000 * day).UnixNano(),
			policy: p.RuleName(RetentionOperational, "scan"), policyVersion: p.Version, windowDays: uint32(p.Operational.Days), prunedAt: at.UnixNano()}
	}
	type c struct {
		name string
		h    []RetentionPolicy
		p    RetentionPolicy
		at   time.Time
		ok   bool
	}
	l1 := pol(1, time.Time{}, T, 60)
	l2 := pol(2, time.Time{}, T.Add(day), 30)
	d1 := pol(1, T, T.Add(7*day), 30)
	i2 := pol(2, T.Add(day), T.Add(day), 400)
	p2 := pol(2, T.Add(day), T.Add(7*day), 60) // pulled to d1's time
	cases := []c{
		{"legacy v0 at v1's instant", []RetentionPolicy{v0, l1, l2}, v0, T, true},
		{"legacy v1 at v1's instant", []RetentionPolicy{v0, l1, l2}, l1, T, true},
		{"legacy v0 after v1", []RetentionPolicy{v0, l1, l2}, v0, T.Add(1), false},
		{"legacy v1 at v2's instant", []RetentionPolicy{v0, l1, l2}, l1, T.Add(day), true},
		{"legacy v2 at v2's instant", []RetentionPolicy{v0, l1, l2}, l2, T.Add(day), true},
		{"legacy v1 after v2", []RetentionPolicy{v0, l1, l2}, l1, T.Add(day + 1), false},
		{"deferred v1 at its making", []RetentionPolicy{v0, d1}, d1, T, false},
		{"deferred v1 before effect", []RetentionPolicy{v0, d1}, d1, T.Add(7*day - 1), false},
		{"v0 before deferred v1's effect", []RetentionPolicy{v0, d1}, v0, T.Add(7*day - 1), true},
		{"deferred v1 at effect", []RetentionPolicy{v0, d1}, d1, T.Add(7 * day), true},
		{"v0 at deferred v1's effect", []RetentionPolicy{v0, d1}, v0, T.Add(7 * day), false},
		{"superseded v1 after its time", []RetentionPolicy{v0, d1, i2}, d1, T.Add(8 * day), false},
		{"superseded v1 at its time", []RetentionPolicy{v0, d1, i2}, d1, T.Add(7 * day), false},
		{"v0 at superseding v2's instant", []RetentionPolicy{v0, d1, i2}, v0, T.Add(day), true},
		{"v0 just after superseding v2", []RetentionPolicy{v0, d1, i2}, v0, T.Add(day + 1), false},
		{"pulled v2 at the shared time", []RetentionPolicy{v0, d1, p2}, p2, T.Add(7 * day), true},
		{"replaced v1 at the shared time", []RetentionPolicy{v0, d1, p2}, d1, T.Add(7 * day), false},
	}
	for _, tc := range cases {
		why := checkTombstone(tomb(tc.p, tc.at), tc.h, classes, catOf, T.Add(3000*day))
		if (why == "") != tc.ok {
			t.Errorf("%s: accepted=%v (%s), want %v", tc.name, why == "", why, tc.ok)
		}
	}
}

// Legacy history (no changedAt) with versions and sweeps sharing clock
// readings still verifies.
func TestRetentionGrace_LegacySameInstant(t *testing.T) {
	ctx := context.Background()
	clk := &manualClock{t: baseTime.Add(200 * 24 * time.Hour)}
	s := openIntegrityTest(t, t.TempDir(), newStoreKeystore(), clk, Options{})
	defer s.Close()
	var evs []Event
	for i := 0; i < 30; i++ {
		evs = append(evs, graceEvent("acme", "scan.started", i+1, clk.Now().Add(-time.Duration(10+3*i)*24*time.Hour)))
	}
	if _, err := s.Append(ctx, evs); err != nil {
		t.Fatal(err)
	}
	sweep := func() {
		if _, err := s.SweepRetention(ctx, "acme", SweepOptions{NoReclaim: true}); err != nil {
			t.Fatal(err)
		}
	}
	sweep()
	graceSet(t, s, "", 60)
	sweep()
	graceSet(t, s, "", 30) // clamped 1ns later
	sweep()
	clk.Add(time.Hour)
	graceSet(t, s, "", 20)
	sweep()
	graceSet(t, s, "", 400)
	sweep()
	// Strip changedAt, as a history from before this change.
	h, _ := s.RetentionHistory(ctx, "acme")
	for i := range h {
		h[i].ChangedAt = time.Time{}
	}
	b, _ := json.Marshal(retentionDoc{Versions: h})
	if err := s.db.Update(func(txn *badger.Txn) error { return txn.Set(settingKey(retentionSettingName("acme")), b) }); err != nil {
		t.Fatal(err)
	}
	clk.Add(time.Hour)
	sum := verifyClean(t, s, "acme")
	t.Logf("pruned %d, ranges %v", sum.Pruned, sum.PrunedRanges)
}

// AtOnce: a shorter window without the grace, in force now, supersedes a
// pending version; what it prunes verifies.
func TestRetentionGrace_AtOnce(t *testing.T) {
	ctx := context.Background()
	clk := &manualClock{t: baseTime.Add(200 * 24 * time.Hour)}
	s := openIntegrityTest(t, t.TempDir(), newStoreKeystore(), clk, Options{RetentionGrace: DefaultRetentionGrace})
	defer s.Close()
	if _, err := s.Append(ctx, []Event{graceEvent("acme", "scan.started", 1, clk.Now().Add(-40*24*time.Hour))}); err != nil {
		t.Fatal(err)
	}
	graceSet(t, s, "finding", 10) // pending a week
	// At once would apply the pending change too: refused.
	if _, _, err := s.SetRetention(ctx, "acme", RetentionChange{Class: RetentionOperational, Window: RetentionWindow{Days: 30}, AtOnce: true}); !errors.Is(err, ErrInvalidPolicy) ||
		!strings.Contains(err.Error(), "atOnce: version 1 is pending until") {
		t.Fatalf("at once with a change pending: %v", err)
	}
	graceSet(t, s, "finding", 90) // shortens nothing: replaces the pending version
	clk.Add(time.Second)
	_, v3, err := s.SetRetention(ctx, "acme", RetentionChange{Class: RetentionOperational, Window: RetentionWindow{Days: 30}, AtOnce: true})
	if err != nil || !v3.EffectiveFrom.Equal(v3.ChangedAt) {
		t.Fatalf("at once: %+v, %v", v3, err)
	}
	v2 := v3
	clk.Add(time.Second)
	h, _ := s.RetentionHistory(ctx, "acme")
	if p := PendingRetention(h, clk.Now()); len(p) != 0 || InForce(h, clk.Now()).Version != v2.Version {
		t.Fatalf("pending %+v, in force %d; want none, %d", p, InForce(h, clk.Now()).Version, v2.Version)
	}
	if res, err := s.SweepRetention(ctx, "acme", SweepOptions{NoReclaim: true}); err != nil || res.Pruned != 1 {
		t.Fatalf("sweep: %+v, %v", res, err)
	}
	verifyClean(t, s, "acme")
}

// The clock steps back after a sweep, and a change takes effect at once:
// the change still comes after the sweep, so that its tombstones verify.
func TestRetentionGrace_ClockBackAfterASweep(t *testing.T) {
	ctx := context.Background()
	clk := &manualClock{t: baseTime.Add(200 * 24 * time.Hour)}
	s := openIntegrityTest(t, t.TempDir(), newStoreKeystore(), clk, Options{RetentionGrace: DefaultRetentionGrace})
	defer s.Close()
	if _, err := s.Append(ctx, []Event{graceEvent("acme", "scan.started", 1, clk.Now().Add(-100*24*time.Hour))}); err != nil {
		t.Fatal(err)
	}
	swept := clk.Now()
	if res, err := s.SweepRetention(ctx, "acme", SweepOptions{NoReclaim: true}); err != nil || res.Pruned != 1 {
		t.Fatal(res, err)
	}
	clk.Add(-time.Hour)
	v := graceSet(t, s, "", 400)
	if !v.ChangedAt.After(swept) || !v.EffectiveFrom.After(swept) {
		t.Fatalf("a change made with the clock an hour back: changed %s, in force %s; want after the sweep at %s", v.ChangedAt, v.EffectiveFrom, swept)
	}
	clk.Add(2 * time.Hour)
	verifyClean(t, s, "acme")
}
