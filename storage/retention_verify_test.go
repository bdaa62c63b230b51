package storage

import (
	"context"
	"encoding/json"
	"errors"
	mrand "math/rand/v2"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	badger "github.com/dgraph-io/badger/v4"

	"github.com/axiomops/axiom-audit/storage/tlog"
)

// TestRetention_TwoYearsSweptDaily simulates two years of a log, a few
// events a day, swept every day with an injected clock, with a custom
// window for one category and a change of the operational window midway.
func TestRetention_TwoYearsSweptDaily(t *testing.T) {
	withSketchBlock(t, 64) // blocks with tombstones in them, for the text sketches
	ctx := context.Background()
	clk := &manualClock{t: baseTime}
	s := openRetentionTest(t, t.TempDir(), newStoreKeystore(), clk)
	defer s.Close()
	const org = "acme"
	const days, perDay = 730, 5
	type kept struct {
		id, actionType string
		ts             time.Time
	}
	var all []kept
	var oldCP SignedCheckpoint
	var swept uint64
	for day := 0; day < days; day++ {
		evs := make([]Event, perDay)
		for j := range evs {
			i := day*perDay + j
			evs[j] = retentionEvent(org, i, clk.Now().Add(time.Duration(j)*time.Minute), 0)
		}
		rs, err := s.Append(ctx, evs)
		if err != nil {
			t.Fatalf("day %d: Append: %v", day, err)
		}
		for j, r := range rs {
			all = append(all, kept{r.ID, evs[j].ActionType, evs[j].Timestamp})
		}
		switch day {
		case 20:
			if oldCP, err = s.Checkpoint(ctx, org); err != nil {
				t.Fatal(err)
			}
		case 100:
			if _, _, err := s.SetRetention(ctx, org, RetentionChange{Class: RetentionOperational, Category: "scan", Window: RetentionWindow{Days: 30}}); err != nil {
				t.Fatal(err)
			}
		case 400:
			if _, _, err := s.SetRetention(ctx, org, RetentionChange{Class: RetentionOperational, Window: RetentionWindow{Days: 60}}); err != nil {
				t.Fatal(err)
			}
		}
		clk.Add(24 * time.Hour)
		res, err := s.SweepRetention(ctx, org, SweepOptions{NoReclaim: true, BatchSize: 64})
		if err != nil {
			t.Fatalf("day %d: sweep: %v", day, err)
		}
		swept += res.Pruned
		if day%180 == 0 {
			verifyClean(t, s, org)
		}
	}
	now := clk.Now()
	sum := verifyClean(t, s, org)
	if sum.Pruned != swept || swept == 0 {
		t.Errorf("verify counted %d pruned, the sweeps pruned %d", sum.Pruned, swept)
	}
	var pruned, material int
	for _, k := range all {
		_, err := s.Get(ctx, org, k.id)
		age := now.Sub(k.ts)
		window := 60 * 24 * time.Hour
		if strings.HasPrefix(k.actionType, "scan.") {
			window = 30 * 24 * time.Hour
		}
		switch {
		case isMaterial(k.actionType):
			material++
			if err != nil {
				t.Fatalf("material event %s (%s) is gone: %v", k.id, k.actionType, err)
			}
		case age > window+24*time.Hour:
			var pe *PrunedError
			if !errors.As(err, &pe) || !errors.Is(err, ErrPruned) || pe.Policy == "" {
				t.Fatalf("%s of %s (age %s) should be pruned, Get = %v", k.actionType, k.ts, age, err)
			}
			pruned++
		case age < window:
			if err != nil {
				t.Fatalf("%s of %s (age %s) should be kept: %v", k.actionType, k.ts, age, err)
			}
		}
	}
	if material == 0 || pruned == 0 {
		t.Fatalf("material %d, pruned %d", material, pruned)
	}

	// Facets agree with what is left.
	facets, err := s.Facets(ctx, Filter{Org: org})
	if err != nil {
		t.Fatal(err)
	}
	var listed int64
	f := Filter{Org: org, Limit: 1000}
	for {
		page, err := s.List(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		listed += int64(len(page.Events))
		if page.NextCursor == "" {
			break
		}
		f.Cursor = page.NextCursor
	}
	var faceted int64
	for _, n := range facets[FacetCategory] {
		faceted += n
	}
	if faceted != listed {
		t.Errorf("facets count %d events, List returns %d", faceted, listed)
	}
	// So do histograms by India's days and hours, whose edges cut UTC's
	// hours: those are counted event by event, without their counters or
	// their pruned counters.
	kolkata, err := time.LoadLocation("Asia/Kolkata")
	if err != nil {
		t.Fatal(err)
	}
	for _, nb := range []int{60, 20000} {
		h, err := s.Histogram(ctx, Filter{Org: org}, HistogramOptions{Buckets: nb, Location: kolkata})
		if err != nil {
			t.Fatal(err)
		}
		var counted int64
		for _, b := range h.Buckets {
			counted += b.Count
		}
		if counted != listed {
			t.Errorf("a histogram of %d buckets of %s in Asia/Kolkata counts %d events, List returns %d", len(h.Buckets), h.Step, counted, listed)
		}
	}

	// And Overview, with a filter the counters do not answer (it leaves
	// nothing out): its one pass counts the facets of what is left and
	// the histogram, and the category choices come from the counters,
	// less the pruned ones.
	choices, h, err := s.Overview(ctx, Filter{Org: org, NotProviders: []string{"none"}}, HistogramOptions{Location: kolkata})
	if err != nil {
		t.Fatal(err)
	}
	var counted int64
	for _, b := range h.Buckets {
		counted += b.Count
	}
	for _, facet := range []string{FacetCategory, FacetProvider, FacetUserID} {
		var n int64
		for _, c := range choices[facet] {
			n += c
		}
		if n != listed || counted != listed {
			t.Errorf("Overview counts %d events by %s and %d in its histogram, List returns %d", n, facet, counted, listed)
		}
	}

	// Text sketches of blocks with pruned events in them are built around
	// their tombstones, and a search through them finds what is left.
	var last head
	if err := s.db.View(func(txn *badger.Txn) (err error) { last, err = orgHead(txn, org); return err }); err != nil {
		t.Fatal(err)
	}
	if n, err := s.buildSketches(ctx, func() bool { return true }); err != nil || uint64(n) != last.seq/64 {
		t.Fatalf("built %d text sketches (%v), want %d", n, err, last.seq/64)
	}
	for i, k := range all {
		if i%7 != 0 {
			continue
		}
		want := 1
		if _, err := s.Get(ctx, org, k.id); errors.Is(err, ErrPruned) {
			want = 0
		}
		if p, err := s.List(ctx, Filter{Org: org, Text: strings.ToUpper(k.id[9:])}); err != nil || len(p.Events) != want {
			t.Fatalf("a search for %s finds %d events (%v), want %d", k.id, len(p.Events), err, want)
		}
	}

	// Proofs of surviving events verify against the old checkpoint and a new one.
	newCP, err := s.Checkpoint(ctx, org)
	if err != nil {
		t.Fatal(err)
	}
	for _, cp := range []SignedCheckpoint{oldCP, newCP} {
		for _, k := range all[:100] {
			if !isMaterial(k.actionType) {
				continue
			}
			p, err := s.InclusionProof(ctx, org, k.id, cp.Checkpoint.Size)
			if err != nil {
				t.Fatal(err)
			}
			if err := tlog.VerifyInclusion(p.LeafHash, p.LeafIndex, p.TreeSize, p.Hashes, cp.Checkpoint.Root); err != nil {
				t.Fatalf("inclusion of %s in checkpoint of size %d: %v", k.id, cp.Checkpoint.Size, err)
			}
		}
	}
	cons, err := s.ConsistencyProof(ctx, org, oldCP.Checkpoint.Size, newCP.Checkpoint.Size)
	if err != nil {
		t.Fatal(err)
	}
	if err := tlog.VerifyConsistency(oldCP.Checkpoint.Size, newCP.Checkpoint.Size, cons, oldCP.Checkpoint.Root, newCP.Checkpoint.Root); err != nil {
		t.Fatalf("consistency: %v", err)
	}
	runs, err := s.PrunedRuns(ctx, org, time.Time{}, time.Time{}, 0)
	if err != nil || len(runs.Runs) == 0 || !strings.Contains(runs.Runs[0].Policy, "(v") {
		t.Fatalf("PrunedRuns = %+v, %v", runs, err)
	}
	// Every run and event is counted (more runs than the 1,000 listed
	// here); with a limit, the newest runs are listed.
	sum, _ = s.Verify(ctx, VerifyOptions{Org: org}, func(Problem) error { return nil })
	if runs.Events != sum.Pruned || len(runs.Runs) != min(runs.Total, 1000) || runs.Total <= 1000 || runs.Listed >= runs.Events {
		t.Fatalf("PrunedRuns counts %d events in %d runs (%d listed), verify %d pruned", runs.Events, runs.Total, runs.Listed, sum.Pruned)
	}
	two, err := s.PrunedRuns(ctx, org, time.Time{}, time.Time{}, 2)
	if err != nil || two.Total != runs.Total || two.Events != runs.Events || !slices.Equal(two.Runs, runs.Runs[len(runs.Runs)-2:]) ||
		two.Listed != two.Runs[0].Count+two.Runs[1].Count {
		t.Fatalf("PrunedRuns with limit 2: %+v, %v; want the newest two of %d", two, err, runs.Total)
	}
}

// tombstoneFor builds the tombstone a sweep would write for org/seq.
func tombstoneFor(t *testing.T, s *Store, org string, seq uint64, policy string, version, days uint32, at time.Time) []byte {
	t.Helper()
	var out []byte
	err := s.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(recordKey(org, seq))
		if err != nil {
			return err
		}
		return item.Value(func(v []byte) error {
			rv, err := decodeRecordValue(v)
			if err != nil {
				return err
			}
			p, err := decodePublic(rv.public)
			if err != nil {
				return err
			}
			ts, _ := time.Parse(time.RFC3339Nano, p.Timestamp)
			rec, _ := time.Parse(time.RFC3339Nano, p.RecordedAt)
			prev, _ := decodeHash(p.PrevHash)
			out = tombstone{seq: seq, id: p.ID, timestamp: ts.UnixNano(), recordedAt: rec.UnixNano(), actionType: p.ActionType,
				category: p.Category, leaf: rv.leaf, prev: prev, policy: policy, policyVersion: version, windowDays: days,
				prunedAt: at.UnixNano()}.encode()
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestRetention_ForgedTombstoneIsTampering writes tombstones directly, as
// someone with the database would to remove an event quietly: a material
// event, and an operational event before its window ended. Verify reports
// both as tampering, and a genuine sweep's tombstones not at all.
func TestRetention_ForgedTombstoneIsTampering(t *testing.T) {
	ctx := context.Background()
	clk := &manualClock{t: baseTime}
	s := openRetentionTest(t, t.TempDir(), newStoreKeystore(), clk)
	defer s.Close()
	const org = "acme"
	var evs []Event
	for i := 0; i < 20; i++ {
		evs = append(evs, retentionEvent(org, i, baseTime.Add(time.Duration(i)*time.Minute), 0))
	}
	if _, err := s.Append(ctx, evs); err != nil {
		t.Fatal(err)
	}
	clk.Add(100 * 24 * time.Hour)
	if _, err := s.SweepRetention(ctx, org, SweepOptions{NoReclaim: true}); err != nil {
		t.Fatal(err)
	}
	sum := verifyClean(t, s, org)
	if sum.Pruned == 0 || len(sum.PrunedRanges) == 0 || !strings.Contains(sum.PrunedRanges[0].String(), "pruned by policy operational 90 days (v0) at") {
		t.Fatalf("summary = %+v", sum)
	}
	// seq 2 is connection (material), seq 6 a scan recorded 5 minutes later.
	if !isMaterial(evs[1].ActionType) || isMaterial(evs[5].ActionType) {
		t.Fatalf("workload changed: %s %s", evs[1].ActionType, evs[5].ActionType)
	}
	recent, err := s.Append(ctx, []Event{retentionEvent(org, 20, clk.Now().Add(-time.Hour), 0)})
	if err != nil {
		t.Fatal(err)
	}
	forge := map[uint64][]byte{
		2:             tombstoneFor(t, s, org, 2, "operational 90 days (v0)", 0, 90, clk.Now()),
		recent[0].Seq: tombstoneFor(t, s, org, recent[0].Seq, "operational 90 days (v0)", 0, 90, clk.Now()),
	}
	// seq 3 is an apply (material) forged to look like an expired scan: the
	// policy allows that; no recorded sweep pruned it.
	if !isMaterial(evs[2].ActionType) {
		t.Fatalf("workload changed: %s", evs[2].ActionType)
	}
	disguised, err := decodeTombstone(tombstoneFor(t, s, org, 3, "operational 90 days (v0)", 0, 90, clk.Now()))
	if err != nil {
		t.Fatal(err)
	}
	disguised.actionType, disguised.category = "scan.started", "scan"
	forge[3] = disguised.encode()
	for seq, v := range forge {
		if err := s.db.Update(func(txn *badger.Txn) error { return txn.Set(recordKey(org, seq), v) }); err != nil {
			t.Fatal(err)
		}
	}
	var got []Problem
	if _, err := s.Verify(ctx, VerifyOptions{Org: org}, func(p Problem) error { got = append(got, p); return nil }); err != nil {
		t.Fatal(err)
	}
	flagged := map[uint64]bool{}
	for _, p := range got {
		if p.Kind == ProblemPrunedOutsidePolicy {
			flagged[p.Seq] = true
		}
	}
	if !flagged[2] || !flagged[3] || !flagged[recent[0].Seq] || len(flagged) != 3 {
		t.Fatalf("problems = %v, want %s at seqs 2, 3 and %d", got, ProblemPrunedOutsidePolicy, recent[0].Seq)
	}
}

// TestRetention_CrashMidSweep stops a sweep after its second batch, as a
// crash would, reopens the store and checks that the log verifies and that
// the next sweep finishes the job with the first one's time and records it
// once.
func TestRetention_CrashMidSweep(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	ks := newStoreKeystore()
	clk := &manualClock{t: baseTime}
	s := openRetentionTest(t, dir, ks, clk)
	const org = "acme"
	var evs []Event
	for i := 0; i < 200; i++ {
		evs = append(evs, retentionEvent(org, i, baseTime.Add(time.Duration(i)*time.Minute), 0))
	}
	if _, err := s.Append(ctx, evs); err != nil {
		t.Fatal(err)
	}
	var want uint64
	for _, e := range evs {
		if !isMaterial(e.ActionType) {
			want++
		}
	}
	clk.Add(91 * 24 * time.Hour)
	dry, err := s.SweepRetention(ctx, org, SweepOptions{DryRun: true, BatchSize: 10})
	if err != nil || dry.Pruned != want || dry.Batches != 0 {
		t.Fatalf("dry run = %+v, %v; want %d", dry, err, want)
	}
	if _, err := s.ReadSetting(ctx, sweepSettingName(org)); !errors.Is(err, ErrNotFound) {
		t.Fatalf("a dry run wrote progress: %v", err)
	}
	crash := errors.New("simulated crash")
	s.ret.afterBatch = func(batch int) error {
		if batch == 2 {
			return crash
		}
		return nil
	}
	first, err := s.SweepRetention(ctx, org, SweepOptions{BatchSize: 10})
	if !errors.Is(err, crash) || first.Pruned != 20 {
		t.Fatalf("sweep = %+v, %v", first, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	clk.Add(time.Hour)
	s = openRetentionTest(t, dir, ks, clk)
	defer s.Close()
	if sum := verifyClean(t, s, org); sum.Pruned != 20 {
		t.Fatalf("after the crash: %d pruned", sum.Pruned)
	}
	res, err := s.SweepRetention(ctx, org, SweepOptions{BatchSize: 10})
	if err != nil || !res.Resumed || res.Pruned != want || !res.At.Equal(first.At) || res.SweepID != first.SweepID || res.Event == nil {
		t.Fatalf("resumed sweep = %+v, %v; want %d pruned", res, err, want)
	}
	sum := verifyClean(t, s, org)
	if sum.Pruned != want {
		t.Fatalf("verify counted %d pruned, want %d", sum.Pruned, want)
	}
	ev, err := s.Get(ctx, org, first.SweepID)
	if err != nil || ev.ActionType != "audit.retention_swept" {
		t.Fatalf("sweep event: %+v, %v", ev, err)
	}
	var meta sweepMetadata
	if err := json.Unmarshal(ev.Metadata, &meta); err != nil || meta.Pruned != want || len(meta.Classes) != 1 ||
		meta.Classes[0].Class != RetentionOperational || len(meta.Classes[0].Ranges) == 0 {
		t.Fatalf("metadata %s: %v", ev.Metadata, err)
	}
	// Nothing left to do.
	again, err := s.SweepRetention(ctx, org, SweepOptions{})
	if err != nil || again.Pruned != 0 || again.Event != nil || again.Resumed {
		t.Fatalf("third sweep = %+v, %v", again, err)
	}
}

// appendRetentionEvents appends events from to from+n-1 of the retention
// workload, one minute apart from baseTime, and returns how many are
// operational (pruned at 90 days).
func appendRetentionEvents(t *testing.T, s *Store, org string, from, n int) (operational uint64) {
	t.Helper()
	var evs []Event
	for i := from; i < from+n; i++ {
		e := retentionEvent(org, i, baseTime.Add(time.Duration(i)*time.Minute), 0)
		if !isMaterial(e.ActionType) {
			operational++
		}
		evs = append(evs, e)
	}
	if _, err := s.Append(context.Background(), evs); err != nil {
		t.Fatal(err)
	}
	return operational
}

// TestRetention_RecordedSweepIsNotResumed: a sweep whose event is recorded
// but whose progress was not cleared (the process ended between the two)
// is over. The next sweep starts anew, also when events that expired since
// were appended (a backfill): resuming the old one would prune them under
// its id, whose record is already written, and fail on every sweep after.
func TestRetention_RecordedSweepIsNotResumed(t *testing.T) {
	ctx := context.Background()
	clk := &manualClock{t: baseTime}
	s := openRetentionTest(t, t.TempDir(), newStoreKeystore(), clk)
	defer s.Close()
	const org = "acme"
	want := appendRetentionEvents(t, s, org, 0, 60)
	clk.Add(91 * 24 * time.Hour)
	// The progress as the sweep last wrote it, before it was cleared.
	var progress []byte
	s.ret.afterBatch = func(int) error {
		var err error
		progress, err = s.ReadSetting(ctx, sweepSettingName(org))
		return err
	}
	first, err := s.SweepRetention(ctx, org, SweepOptions{BatchSize: 10})
	if err != nil || first.Pruned != want || first.Event == nil {
		t.Fatalf("first sweep = %+v, %v", first, err)
	}
	s.ret.afterBatch = nil
	if err := s.WriteSetting(ctx, sweepSettingName(org), progress); err != nil {
		t.Fatal(err)
	}
	backfill := appendRetentionEvents(t, s, org, 1000, 30)
	clk.Add(time.Hour)
	for i, want := range []uint64{backfill, 0} {
		res, err := s.SweepRetention(ctx, org, SweepOptions{BatchSize: 10})
		if err != nil || res.Resumed || res.SweepID == first.SweepID || res.Pruned != want || (want > 0) != (res.Event != nil) {
			t.Fatalf("sweep %d after the first = %+v, %v; want a new sweep pruning %d", i+1, res, err, want)
		}
	}
	if _, err := s.ReadSetting(ctx, sweepSettingName(org)); !errors.Is(err, ErrNotFound) {
		t.Fatalf("the recorded sweep's progress is still there: %v", err)
	}
	if sum := verifyClean(t, s, org); sum.Pruned != want+backfill {
		t.Fatalf("verify counted %d pruned, want %d", sum.Pruned, want+backfill)
	}
}

// TestRetention_StaleProgressKeepsItsPrunings: progress under a recorded
// sweep's id that holds prunings its record does not (what the loop fixed
// above left behind: it pruned under the recorded id and could not record
// it) is carried into a new sweep, which records them: every tombstone
// stays covered by a recorded sweep, and verify stays clean.
func TestRetention_StaleProgressKeepsItsPrunings(t *testing.T) {
	ctx := context.Background()
	clk := &manualClock{t: baseTime}
	s := openRetentionTest(t, t.TempDir(), newStoreKeystore(), clk)
	defer s.Close()
	const org = "acme"
	want := appendRetentionEvents(t, s, org, 0, 60)
	clk.Add(91 * 24 * time.Hour)
	first, err := s.SweepRetention(ctx, org, SweepOptions{BatchSize: 10})
	if err != nil || first.Pruned != want || first.Event == nil {
		t.Fatalf("first sweep = %+v, %v", first, err)
	}
	// A sweep of a backfill that ends after its first batch: its
	// progress then holds the only account of what it pruned.
	backfill := appendRetentionEvents(t, s, org, 1000, 30)
	crash := errors.New("simulated crash")
	s.ret.afterBatch = func(int) error { return crash }
	if res, err := s.SweepRetention(ctx, org, SweepOptions{BatchSize: 100}); !errors.Is(err, crash) || res.Pruned == 0 {
		t.Fatalf("interrupted sweep = %+v, %v", res, err)
	}
	s.ret.afterBatch = nil
	// As the loop left it: that account under the first sweep's id.
	raw, err := s.ReadSetting(ctx, sweepSettingName(org))
	if err != nil {
		t.Fatal(err)
	}
	var stale sweepProgress
	if err := json.Unmarshal(raw, &stale); err != nil {
		t.Fatal(err)
	}
	stale.SweepID = first.SweepID
	if raw, err = json.Marshal(stale); err != nil {
		t.Fatal(err)
	}
	if err := s.WriteSetting(ctx, sweepSettingName(org), raw); err != nil {
		t.Fatal(err)
	}
	verifyClean(t, s, org)
	res, err := s.SweepRetention(ctx, org, SweepOptions{BatchSize: 10})
	if err != nil || res.Resumed || res.SweepID == first.SweepID || res.Pruned != backfill || res.Event == nil {
		t.Fatalf("sweep after the stale progress = %+v, %v; want a new sweep recording the %d pruned", res, err, backfill)
	}
	if _, err := s.ReadSetting(ctx, sweepSettingName(org)); !errors.Is(err, ErrNotFound) {
		t.Fatalf("progress left after the sweep was recorded: %v", err)
	}
	if sum := verifyClean(t, s, org); sum.Pruned != want+backfill {
		t.Fatalf("verify counted %d pruned, want %d", sum.Pruned, want+backfill)
	}
}

// subtractRanges against a seq-by-seq difference.
func TestSubtractRanges(t *testing.T) {
	for _, tc := range []struct{ a, b, want []SeqRange }{
		{nil, nil, nil},
		{[]SeqRange{{1, 10}}, nil, []SeqRange{{1, 10}}},
		{[]SeqRange{{1, 10}}, []SeqRange{{1, 10}}, nil},
		{[]SeqRange{{1, 10}}, []SeqRange{{3, 4}, {7, 7}}, []SeqRange{{1, 2}, {5, 6}, {8, 10}}},
		{[]SeqRange{{1, 3}, {5, 9}}, []SeqRange{{2, 6}}, []SeqRange{{1, 1}, {7, 9}}},
		{[]SeqRange{{5, 9}}, []SeqRange{{1, 2}, {11, 20}}, []SeqRange{{5, 9}}},
		{[]SeqRange{{5, 9}, {20, 30}}, []SeqRange{{1, 100}}, nil},
	} {
		if got := subtractRanges(tc.a, tc.b); !slices.Equal(got, tc.want) {
			t.Errorf("%v - %v = %v, want %v", tc.a, tc.b, got, tc.want)
		}
	}
	rng := mrand.New(mrand.NewPCG(1, 2))
	ranges := func() []SeqRange {
		var out []SeqRange
		for seq := uint64(1) + rng.Uint64N(3); seq < 60; {
			to := seq + rng.Uint64N(5)
			out = append(out, SeqRange{seq, to})
			seq = to + 2 + rng.Uint64N(4)
		}
		return out
	}
	for range 2000 {
		a, b := ranges(), ranges()
		var want []SeqRange
		for seq := uint64(0); seq < 80; seq++ {
			if coveredBy(a, seq) && !coveredBy(b, seq) {
				if n := len(want); n > 0 && want[n-1].To+1 == seq {
					want[n-1].To = seq
				} else {
					want = append(want, SeqRange{seq, seq})
				}
			}
		}
		if got := subtractRanges(a, b); !slices.Equal(got, want) {
			t.Fatalf("%v - %v = %v, want %v", a, b, got, want)
		}
	}
}

// TestRetention_ReclaimsValueLog shows that a sweep frees disk space:
// events with large states fill the value log; the sweep replaces them with
// tombstones, and once compaction has met the old and new versions (small
// memtables here, so that it happens within the test as it does over time
// in a large log), value-log GC rewrites the file without them.
func TestRetention_ReclaimsValueLog(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	ks := newStoreKeystore()
	clk := &manualClock{t: baseTime}
	cat, err := LoadCatalogue()
	if err != nil {
		t.Fatal(err)
	}
	// A small budget for resident file pages, so that the store's loop
	// releases them while the GC runs and its deletion waits (mapped.go).
	opts := Options{Catalogue: cat.WithClock(clk.Now), MemTableSize: 128 << 10, MappedResident: 1 << 20}
	s := openIntegrityTest(t, dir, ks, clk, opts)
	const org = "acme"
	for b := 0; b < 40; b++ {
		var evs []Event
		for i := 0; i < 10; i++ {
			n := b*10 + i
			e := retentionEvent(org, n, baseTime.Add(time.Duration(n)*time.Minute), 16<<10)
			if isMaterial(e.ActionType) {
				e.ActionType, e.Metadata = "scan.started", nil
			}
			evs = append(evs, e)
		}
		if _, err := s.Append(ctx, evs); err != nil {
			t.Fatal(err)
		}
	}
	// Reopen, so that the records' value-log file is no longer the one
	// being written (GC never rewrites that one).
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	before := vlogBytes(t, dir)
	s = openIntegrityTest(t, dir, ks, clk, opts)
	defer s.Close()
	clk.Add(91 * 24 * time.Hour)
	res, err := s.SweepRetention(ctx, org, SweepOptions{NoReclaim: true})
	if err != nil || res.Pruned != 400 {
		t.Fatalf("sweep = %+v, %v", res, err)
	}
	// A reader is open during the value-log GC, so Badger defers deleting
	// the value log it rewrote until the reader ends; meanwhile the value
	// logs must not be pinned for a release (mapped.go).
	txn := s.db.NewTransaction(false)
	it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte{tagHead}})
	if res.Reclaimed, err = s.ReclaimSpace(ctx); err != nil {
		t.Fatal(err)
	}
	if s.mapped.gc.rewrites == 0 {
		t.Fatal("the sweep's GC rewrote no value log: the test does not exercise a deferred deletion")
	}
	if p := s.pinFiles(); p != nil {
		p.unpin()
		t.Fatal("the value logs were pinned while the deletion of a rewritten one was pending")
	}
	// A release now pages out instead, and the reader's end still deletes
	// the file.
	if err := releaseMapped(dir, 0, s.pinFiles); err != nil {
		t.Fatal(err)
	}
	it.Close()
	txn.Discard()
	p := s.pinFiles()
	if p == nil {
		t.Fatal("the value logs cannot be pinned after the rewritten one was deleted")
	}
	p.unpin()
	verifyClean(t, s, org)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	after := vlogBytes(t, dir)
	t.Logf("value log: %d bytes before the sweep, %d after (the sweep reported %d reclaimed)", before, after, res.Reclaimed)
	if before < 6<<20 || after > before/2 {
		t.Fatalf("value log went from %d to %d bytes", before, after)
	}
}

func vlogBytes(t *testing.T, dir string) int64 {
	s := &Store{dir: dir}
	return s.valueLogBytes()
}

// TestReclaimSpace_EndsUnderSteadyAppends: Badger's Flatten ends only
// once every table is on one level, which memtable flushes under steady
// appends can put off for ever (a 25-minute soak at 350 events/s saw it);
// ReclaimSpace then holds appends until it ends. A test-sized tree's
// compaction ends on its own, so flattenAlone 0 makes it hold them at
// once: that must neither deadlock nor fail an append, and appends go on
// afterwards.
func TestReclaimSpace_EndsUnderSteadyAppends(t *testing.T) {
	ctx := context.Background()
	clk := &manualClock{t: baseTime}
	s := openIntegrityTest(t, t.TempDir(), newStoreKeystore(), clk, Options{MemTableSize: 1 << 20})
	defer s.Close()
	for i := 0; i < 200; i++ {
		appendN(t, s, "acme", i*10, 10)
	}
	s.flattenAlone = 0

	stop := make(chan struct{})
	var appended atomic.Int64
	appendErr := make(chan error, 1)
	go func() {
		defer close(appendErr)
		for i := 2000; ; i += 10 {
			select {
			case <-stop:
				return
			default:
			}
			evs := make([]Event, 10)
			for j := range evs {
				evs[j] = testEvent("acme", i+j)
			}
			if _, err := s.Append(ctx, evs); err != nil {
				appendErr <- err
				return
			}
			appended.Add(10)
		}
	}()
	waitFor(t, "appends to flow", func() bool { return appended.Load() >= 200 })
	done := make(chan error, 1)
	go func() { _, err := s.ReclaimSpace(ctx); done <- err }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("ReclaimSpace: %v", err)
		}
	case err := <-appendErr:
		t.Fatalf("Append during ReclaimSpace: %v", err)
	case <-time.After(5 * time.Minute):
		t.Fatal("ReclaimSpace did not end under steady appends")
	}
	after := appended.Load()
	waitFor(t, "appends to go on", func() bool { return appended.Load() >= after+200 })
	close(stop)
	if err := <-appendErr; err != nil {
		t.Fatalf("Append after ReclaimSpace: %v", err)
	}
}
