package storage

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"
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
			hist, err := s.Histogram(ctx, f, HistogramOptions{Buckets: 60})
			if err != nil {
				t.Fatal(err)
			}
			var total int64
			for _, b := range hist.Buckets {
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
	_, all := seedQueryStore(t)
	ctx := context.Background()
	// The summary of the oldest, a middle and the newest event's timeline
	// entry damaged, each in a log of its own: the first, a middle and the
	// last part read them.
	for _, at := range []int{0, len(all) / 2, len(all) - 1} {
		s, all := seedQueryStore(t)
		corruptTimeSummary(t, s, "acme", all[at])
		for _, parts := range []int{1, 2, 4} {
			withScanLimits(t, parts, 0, 0, func() {
				f := Filter{Org: "acme", Providers: []string{"aws", "gcp", "azure"}}
				if _, err := s.Facets(ctx, f); !errors.Is(err, errCorrupt) {
					t.Errorf("event %d damaged, %d parts: facets: %v, want %v", at, parts, err, errCorrupt)
				}
				if _, err := s.Histogram(ctx, f, HistogramOptions{Buckets: 60}); !errors.Is(err, errCorrupt) {
					t.Errorf("event %d damaged, %d parts: histogram: %v, want %v", at, parts, err, errCorrupt)
				}
			})
		}
	}
}

// The parts of a range are its equal spans between its first and last
// events, each at least minPartSpan, the first from the range's since and
// the last to its until.
func TestCutParts(t *testing.T) {
	m := minPartSpan
	for _, tc := range []struct {
		name                 string
		since, until, lo, hi uint64
		parts                int
		want                 [][2]uint64
	}{
		{"one part", 0, math.MaxUint64, 10 * m, 20 * m, 1, [][2]uint64{{0, math.MaxUint64}}},
		{"two", 0, math.MaxUint64, 10 * m, 20 * m, 2, [][2]uint64{{0, 15 * m}, {15 * m, math.MaxUint64}}},
		{"four", 5 * m, 30 * m, 10 * m, 18 * m, 4, [][2]uint64{{5 * m, 12 * m}, {12 * m, 14 * m}, {14 * m, 16 * m}, {16 * m, 30 * m}}},
		{"spans of a minute at least", 0, 100 * m, 10 * m, 13 * m, 4, [][2]uint64{{0, 11 * m}, {11 * m, 12 * m}, {12 * m, 100 * m}}},
		{"too short to cut", 0, 100 * m, 10 * m, 12*m - 1, 4, [][2]uint64{{0, 100 * m}}},
		{"one event", 0, 100 * m, 10 * m, 10*m + 1, 4, [][2]uint64{{0, 100 * m}}},
		{"uneven", 0, 100 * m, 0, 10*m + 1, 3, [][2]uint64{{0, 3*m + m/3}, {3*m + m/3, 6*m + 2*m/3}, {6*m + 2*m/3, 100 * m}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := cutParts(tc.since, tc.until, tc.lo, tc.hi, tc.parts); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("cutParts(%d, %d, %d, %d, %d) = %v, want %v", tc.since, tc.until, tc.lo, tc.hi, tc.parts, got, tc.want)
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
					if _, err := s.Histogram(ctx, c.f, HistogramOptions{Buckets: 60}); !errors.Is(err, ErrTampered) {
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
				return s.aggregate(txn, c, true, nil, func(uint64) int {
					if events.Add(1) == 50 {
						panic("a part's panic")
					}
					return 0
				}, func(int, byte, string, int64) {})
			})
			return nil
		}()
		p, ok := got.(*PartPanic)
		if !ok || p.Value != "a part's panic" || !strings.Contains(string(p.Stack), "TestAggregate_APartsPanicReachesTheCaller") ||
			!strings.Contains(fmt.Sprint(p), "a part's panic\n\ngoroutine of the part that panicked:\ngoroutine ") {
			t.Fatalf("recovered %v, want the part's panic, with the part's stack", got)
		}
		checkAggregates(t, s, all, f)
	})
}
