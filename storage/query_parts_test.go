package storage

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	badger "github.com/dgraph-io/badger/v4"
)

// withScanLimits runs fn with aggregateScan cutting parts parts, and with
// a summary memo and aggregator groups of the given bounds (0 keeps the
// default).
func withScanLimits(t *testing.T, parts, memo, groups int, fn func()) {
	t.Helper()
	oldParts, oldMemo, oldGroups := scanParts, maxMemoSummaries, maxAggregateGroups
	t.Cleanup(func() { scanParts, maxMemoSummaries, maxAggregateGroups = oldParts, oldMemo, oldGroups })
	scanParts = func() int { return parts }
	if memo > 0 {
		maxMemoSummaries = memo
	}
	if groups > 0 {
		maxAggregateGroups = groups
	}
	fn()
}

// Facets and histograms that scan (filters beyond time) count the same
// whether one scan or several side by side read the range, and whether the
// summary memo and the aggregator's groups hold everything or fill up and
// start again after a few summaries.
func TestAggregate_PartsAndLimitsCountTheSame(t *testing.T) {
	s, all := seedQueryStore(t)
	mid := baseTime.Add(40 * time.Hour)
	filters := map[string]Filter{
		"provider":           {Providers: []string{"aws"}},
		"not status":         {NotStatuses: []string{"failed"}, Since: mid},
		"category unaligned": {Categories: []string{"scan", "apply"}, Since: mid.Add(7 * time.Minute), Until: mid.Add(90*time.Hour + 3*time.Second)},
		"user":               {UserIDs: []string{"user-3"}},
		"text":               {Text: "number 1"},
		"risk in an hour":    {RiskLevels: []string{"high"}, Since: mid, Until: mid.Add(time.Hour)},
		"nothing matches":    {Providers: []string{"gcp"}, Statuses: []string{"no such status"}},
	}
	for _, lim := range []struct{ parts, memo, groups int }{
		{1, 0, 0}, {2, 0, 0}, {3, 0, 0}, {7, 0, 0}, {1, 2, 3}, {4, 1, 1}, {7, 3, 2},
	} {
		for name, f := range filters {
			t.Run(fmt.Sprintf("%d parts memo %d groups %d/%s", lim.parts, lim.memo, lim.groups, name), func(t *testing.T) {
				withScanLimits(t, lim.parts, lim.memo, lim.groups, func() {
					f.Org = "acme"
					checkAggregates(t, s, all, f)
				})
			})
		}
	}
}

// Parts are cut at timestamps: an event at a cut is counted once, by the
// part that starts there.
func TestAggregate_EventsOnPartBoundaries(t *testing.T) {
	s, _, _ := newTestStore(t)
	ctx := context.Background()
	// One event on every hour: cutting hours 0 to 8 (plus a nanosecond)
	// into 2, 4 or 8 parts puts cuts on events.
	var evs []Event
	for i := range 9 {
		e := testEvent("acme", i)
		e.Timestamp = baseTime.Add(time.Duration(i) * time.Hour)
		e.Provider = "aws"
		evs = append(evs, e)
	}
	if _, err := s.Append(ctx, evs); err != nil {
		t.Fatal(err)
	}
	for _, parts := range []int{2, 4, 8} {
		withScanLimits(t, parts, 0, 0, func() {
			f := Filter{Org: "acme", Providers: []string{"aws"}}
			facets, err := s.Facets(ctx, f)
			if err != nil {
				t.Fatal(err)
			}
			if n := facets[FacetProvider]["aws"]; n != 9 {
				t.Errorf("%d parts: %d aws events, want 9", parts, n)
			}
			hist, err := s.Histogram(ctx, f, 60)
			if err != nil {
				t.Fatal(err)
			}
			var total int64
			for _, b := range hist {
				if b.Start.Sub(baseTime)%time.Hour == 0 && b.Start.Before(baseTime.Add(9*time.Hour)) && !b.Start.Before(baseTime) {
					if b.Count != 1 {
						t.Errorf("%d parts: bucket %s has %d events, want 1", parts, b.Start, b.Count)
					}
				}
				total += b.Count
			}
			if total != 9 {
				t.Errorf("%d parts: histogram counts %d events, want 9", parts, total)
			}
		})
	}
}

// A part that fails ends the query with its error, whichever part it is.
func TestAggregate_APartsFailureIsTheAnswer(t *testing.T) {
	s, all := seedQueryStore(t)
	ctx := context.Background()
	// Damage the summary of the timeline entry of the newest event: the
	// last part reads it.
	last := all[len(all)-1]
	corruptTimeSummary(t, s, "acme", last)
	for _, parts := range []int{1, 2, 4} {
		withScanLimits(t, parts, 0, 0, func() {
			f := Filter{Org: "acme", Providers: []string{"aws", "gcp", "azure"}}
			if _, err := s.Facets(ctx, f); err == nil {
				t.Errorf("%d parts: facets over a damaged summary: no error", parts)
			}
			if _, err := s.Histogram(ctx, f, 60); err == nil {
				t.Errorf("%d parts: histogram over a damaged summary: no error", parts)
			}
		})
	}
}

// corruptTimeSummary overwrites the summary of e's timeline index entry
// with one of an unknown version.
func corruptTimeSummary(t *testing.T, s *Store, org string, e StoredEvent) {
	t.Helper()
	err := s.db.Update(func(txn *badger.Txn) error {
		return txn.Set(timeKey(org, encTime(e.Timestamp), e.Seq), []byte{0xee, 0, 0, 0, 0})
	})
	if err != nil {
		t.Fatal(err)
	}
}

// FacetChoices' passes read one snapshot: under appends, the provider
// counts of its choices pass (without the provider filter) agree with the
// events its main pass counted for that provider.
func TestFacetChoices_OneSnapshotUnderAppends(t *testing.T) {
	s, _, _ := newTestStore(t)
	ctx := context.Background()
	appendN(t, s, "acme", 0, 300)
	stop := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		defer close(done)
		for i := 300; ; i += 3 {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := s.Append(ctx, []Event{testEvent("acme", i), testEvent("acme", i+1), testEvent("acme", i+2)}); err != nil {
				done <- err
				return
			}
		}
	}()
	f := Filter{Org: "acme", Providers: []string{Providers[0]}, Text: "event number"}
	for i := range 100 {
		got, err := s.FacetChoices(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		var main int64
		for _, n := range got[FacetCategory] {
			main += n
		}
		if choice := got[FacetProvider][Providers[0]]; choice != main {
			t.Fatalf("call %d: the choices pass counts %d %s events, the main pass %d", i, choice, Providers[0], main)
		}
	}
	close(stop)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// A damaged timeline key where aggregateScan looks for the first or last
// event of the range fails the query, as the scan it cuts into parts
// fails on it, instead of counting nothing.
func TestAggregate_DamagedTimelineKeyFails(t *testing.T) {
	s, _, _ := newTestStore(t)
	ctx := context.Background()
	appendN(t, s, "acme", 0, 50) // one a minute from baseTime
	p := orgPrefix(tagTime, "acme")
	short := func(at time.Time) []byte { // sorts among the keys of about that time
		return append(slices.Clip(p), binary.BigEndian.AppendUint64(nil, encTime(at))[:4]...)
	}
	all := Filter{Org: "acme", Providers: []string{Providers[0]}}
	hour := all
	hour.Since, hour.Until = baseTime.Add(-time.Hour), baseTime.Add(time.Hour)
	for name, c := range map[string]struct {
		key []byte
		f   Filter
	}{
		"first of the timeline": {append(slices.Clip(p), 0x01), all},
		"last of the timeline":  {append(slices.Clip(p), 0xff), all},
		"first of a time range": {short(baseTime.Add(-30 * time.Minute)), hour},
		"last of a time range":  {short(baseTime.Add(55 * time.Minute)), hour},
	} {
		t.Run(name, func(t *testing.T) {
			if err := s.db.Update(func(txn *badger.Txn) error { return txn.Set(c.key, []byte{1}) }); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = s.db.Update(func(txn *badger.Txn) error { return txn.Delete(c.key) }) })
			for _, parts := range []int{1, 4} {
				withScanLimits(t, parts, 0, 0, func() {
					if fc, err := s.Facets(ctx, c.f); !errors.Is(err, ErrTampered) {
						t.Errorf("%d parts: facets %v, error %v; want ErrTampered", parts, fc[FacetProvider], err)
					}
					if _, err := s.Histogram(ctx, c.f, 60); !errors.Is(err, ErrTampered) {
						t.Errorf("%d parts: histogram error %v; want ErrTampered", parts, err)
					}
				})
			}
		})
	}
}

// A part that panics raises its panic in the query's goroutine, where the
// app's bindings and the REST API recover a call's panic, and not in a
// goroutine of its own, where it would end the process; the other parts
// stop, and the store answers the next query.
func TestAggregate_APartsPanicReachesTheCaller(t *testing.T) {
	s, all := seedQueryStore(t)
	ctx := context.Background()
	f := Filter{Org: "acme", Providers: []string{"aws"}}
	c, err := compile(f)
	if err != nil {
		t.Fatal(err)
	}
	c.ctx = ctx
	withScanLimits(t, 4, 0, 0, func() {
		var events atomic.Int32
		got := func() (r any) {
			defer func() { r = recover() }()
			_ = s.view(ctx, func(txn *badger.Txn) error {
				return s.aggregate(txn, c, true, func(uint64) int {
					if events.Add(1) == 50 {
						panic("a part's panic")
					}
					return 0
				}, func(int, byte, string, int64) {})
			})
			return nil
		}()
		if got != "a part's panic" {
			t.Fatalf("recovered %v, want the part's panic", got)
		}
		checkAggregates(t, s, all, f)
	})
}
