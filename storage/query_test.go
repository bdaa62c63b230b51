package storage

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	badger "github.com/dgraph-io/badger/v4"
)

// allEvents reads every event of org the slow way, for cross-checks.
func allEvents(t *testing.T, s *Store, org string) []StoredEvent {
	t.Helper()
	var out []StoredEvent
	f := Filter{Org: org, Order: OldestFirst, Limit: MaxLimit}
	for {
		p, err := s.List(context.Background(), f)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, p.Events...)
		if p.NextCursor == "" {
			return out
		}
		f.Cursor = p.NextCursor
	}
}

// bruteForce filters all in timeline order.
func bruteForce(t *testing.T, all []StoredEvent, f Filter) []StoredEvent {
	c, err := compile(f)
	if err != nil {
		t.Fatal(err)
	}
	var out []StoredEvent
	for i := range all {
		if c.matchEvent(&all[i]) {
			out = append(out, all[i])
		}
	}
	slices.SortFunc(out, func(a, b StoredEvent) int {
		if d := a.Timestamp.Compare(b.Timestamp); d != 0 {
			return d
		}
		return int(a.Seq) - int(b.Seq)
	})
	if f.Order == NewestFirst {
		slices.Reverse(out)
	}
	return out
}

func listAll(t *testing.T, s *Store, f Filter) []StoredEvent {
	t.Helper()
	var out []StoredEvent
	for pages := 0; ; pages++ {
		p, err := s.List(context.Background(), f)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, p.Events...)
		if p.NextCursor == "" || pages > 1000 {
			return out
		}
		f.Cursor = p.NextCursor
	}
}

func seqs(es []StoredEvent) []uint64 {
	out := make([]uint64, len(es))
	for i, e := range es {
		out[i] = e.Seq
	}
	return out
}

func seedQueryStore(t *testing.T) (*Store, []StoredEvent) {
	s, _, _ := newTestStore(t)
	// Timestamps out of append order, and several orgs, so that the
	// timeline order differs from seq order.
	for b := 0; b < 6; b++ {
		evs := make([]Event, 100)
		for i := range evs {
			n := b*100 + i
			evs[i] = testEvent("acme", (n*37)%600)
			evs[i].Timestamp = baseTime.Add(time.Duration((n*7919)%600) * 17 * time.Minute)
		}
		if _, err := s.Append(context.Background(), evs); err != nil {
			t.Fatal(err)
		}
	}
	appendN(t, s, "other", 0, 50)
	return s, allEvents(t, s, "acme")
}

func TestQuery_Filters(t *testing.T) {
	s, all := seedQueryStore(t)
	if len(all) != 600 {
		t.Fatalf("%d events", len(all))
	}
	mid := baseTime.Add(40 * time.Hour)
	cases := map[string]Filter{
		"all newest":          {},
		"all oldest":          {Order: OldestFirst},
		"since until":         {Since: mid, Until: mid.Add(50 * time.Hour)},
		"category":            {Categories: []string{"scan"}},
		"categories":          {Categories: []string{"scan", "apply"}, Order: OldestFirst},
		"action":              {ActionTypes: []string{"approval.rejected"}},
		"provider+status":     {Providers: []string{"aws"}, Statuses: []string{"failed", "applied"}},
		"user":                {UserIDs: []string{"user-3"}, Since: mid},
		"risk":                {RiskLevels: []string{"high"}, Until: mid},
		"not":                 {NotCategories: []string{"scan"}, NotRiskLevels: []string{"low"}},
		"resource":            {ResourceID: "arn:aws:ec2:us-east-1:123:instance/i-0007"},
		"resource prefix":     {ResourceIDPrefix: "arn:aws:ec2:us-east-1:123:instance/i-001"},
		"resource prefix all": {ResourceIDPrefix: "b", Order: OldestFirst},
		"text":                {Text: "NUMBER 12"},
		"text in id":          {Text: strings.ToUpper(all[17].ID[4:14])},
		"combined":            {Categories: []string{"user", "scan"}, UserIDs: []string{"user-1", "user-2"}, RiskLevels: []string{"medium"}},
		"nothing":             {UserIDs: []string{"nobody"}},
	}
	for name, f := range cases {
		t.Run(name, func(t *testing.T) {
			f.Org = "acme"
			for _, limit := range []int{7, 1000} {
				f.Limit = limit
				want := bruteForce(t, all, f)
				got := listAll(t, s, f)
				if !slices.Equal(seqs(got), seqs(want)) {
					t.Fatalf("limit %d: got %d events %v…, want %d %v…", limit, len(got), head10(seqs(got)), len(want), head10(seqs(want)))
				}
			}
		})
	}
}

func head10(s []uint64) []uint64 { return s[:min(10, len(s))] }

func TestQuery_CursorStableWhileAppending(t *testing.T) {
	s, all := seedQueryStore(t)
	f := Filter{Org: "acme", Limit: 50, Categories: []string{"scan", "user"}}
	want := bruteForce(t, all, f)
	var got []StoredEvent
	n := 1000
	for {
		p, err := s.List(context.Background(), f)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, p.Events...)
		// New events, some newer and some older than every page so far.
		evs := []Event{testEvent("acme", n), testEvent("acme", n+5)}
		evs[0].Timestamp = baseTime.Add(-time.Hour)
		evs[1].Timestamp = baseTime.Add(5000 * time.Hour)
		if _, err := s.Append(context.Background(), evs); err != nil {
			t.Fatal(err)
		}
		n += 10
		if p.NextCursor == "" {
			break
		}
		f.Cursor = p.NextCursor
	}
	if !slices.Equal(seqs(got), seqs(want)) {
		t.Fatalf("pages changed while appending: got %d events, want %d", len(got), len(want))
	}
	t.Run("cursor of another filter is rejected", func(t *testing.T) {
		p, _ := s.List(context.Background(), Filter{Org: "acme", Limit: 5})
		_, err := s.List(context.Background(), Filter{Org: "acme", Limit: 5, Categories: []string{"scan"}, Cursor: p.NextCursor})
		if !errors.Is(err, ErrBadCursor) {
			t.Fatalf("List = %v, want ErrBadCursor", err)
		}
		_, err = s.List(context.Background(), Filter{Org: "other", Limit: 5, Cursor: p.NextCursor})
		if !errors.Is(err, ErrBadCursor) {
			t.Fatalf("List(other org) = %v, want ErrBadCursor", err)
		}
		if _, err := s.List(context.Background(), Filter{Org: "acme", Cursor: "garbage!"}); !errors.Is(err, ErrBadCursor) {
			t.Fatalf("List(garbage) = %v", err)
		}
	})
}

func TestQuery_FacetsAndHistogram(t *testing.T) {
	s, all := seedQueryStore(t)
	cases := map[string]Filter{
		"everything":     {},
		"hour aligned":   {Since: baseTime.Add(10 * time.Hour), Until: baseTime.Add(100 * time.Hour)},
		"unaligned":      {Since: baseTime.Add(10*time.Hour + 7*time.Minute), Until: baseTime.Add(100*time.Hour + 3*time.Second)},
		"within an hour": {Since: baseTime.Add(10*time.Hour + 7*time.Minute), Until: baseTime.Add(10*time.Hour + 50*time.Minute)},
		"filtered":       {Categories: []string{"scan"}, Since: baseTime.Add(5 * time.Hour)},
		"text":           {Text: "number 1"},
		// Since in the last encodable hour, and past the encoding: the
		// hour after since must not wrap round to the first hours.
		"since in the last hour": {Since: time.Date(2262, 4, 11, 23, 30, 0, 0, time.UTC)},
		"since year 9999":        {Since: time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)},
	}
	for name, f := range cases {
		t.Run(name, func(t *testing.T) {
			f.Org = "acme"
			checkAggregates(t, s, all, f)
		})
	}
}

func mustLoadLocation(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatalf("time zone %s: %v", name, err)
	}
	return loc
}

// checkHistogram checks that h's buckets follow one another, each starting
// where loc's clock reads a multiple of h.Step, and count exactly the
// events of want in them.
func checkHistogram(t *testing.T, what string, h Histogram, loc *time.Location, want []StoredEvent) {
	t.Helper()
	var total int64
	for i, b := range h.Buckets {
		if !b.Start.Before(b.End) || (i > 0 && !b.Start.Equal(h.Buckets[i-1].End)) {
			t.Fatalf("%s: bucket %d is [%s, %s), after one ending %s", what, i, b.Start, b.End, h.Buckets[max(i-1, 0)].End)
		}
		wall := b.Start.In(loc)
		sinceMidnight := time.Duration(wall.Hour())*time.Hour + time.Duration(wall.Minute())*time.Minute + time.Duration(wall.Second())*time.Second
		if h.Step < 24*time.Hour && sinceMidnight%h.Step != 0 || h.Step >= 24*time.Hour && sinceMidnight != 0 {
			t.Fatalf("%s: a bucket of %s starts at %s", what, h.Step, wall.Format("2006-01-02 15:04 MST"))
		}
		var exp, risk, failed int64
		for _, e := range want {
			if !e.Timestamp.Before(b.Start) && e.Timestamp.Before(b.End) {
				exp++
				if e.RiskLevel == "high" {
					risk++
				}
				if e.Status == "failed" {
					failed++
				}
			}
		}
		if b.Count != exp || b.ByRisk["high"] != risk || b.ByStatus["failed"] != failed {
			t.Fatalf("%s: bucket %s: %d (high %d, failed %d), want %d (high %d, failed %d)",
				what, wall.Format("2006-01-02 15:04 MST"), b.Count, b.ByRisk["high"], b.ByStatus["failed"], exp, risk, failed)
		}
		total += b.Count
	}
	if total != int64(len(want)) {
		t.Fatalf("%s: total %d in %d buckets, want %d", what, total, len(h.Buckets), len(want))
	}
}

func TestQuery_Subscribe(t *testing.T) {
	s, _, _ := newTestStore(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch, err := s.Subscribe(ctx, Filter{Org: "acme", Categories: []string{"scan"}})
	if err != nil {
		t.Fatal(err)
	}
	appendN(t, s, "other", 0, 10)
	appendN(t, s, "acme", 0, 20)
	var got []uint64
	for len(got) < 4 {
		select {
		case e := <-ch:
			if e.OrganizationID != "acme" || e.Category != "scan" {
				t.Fatalf("subscription got %s/%s", e.OrganizationID, e.Category)
			}
			got = append(got, e.Seq)
		case <-time.After(5 * time.Second):
			t.Fatalf("only %v delivered", got)
		}
	}
	if !slices.IsSorted(got) {
		t.Fatalf("delivered out of order: %v", got)
	}
	cancel()
	for range ch {
	}
	t.Run("slow subscriber is dropped, appends go on", func(t *testing.T) {
		s2, dir, ks := newTestStore(t)
		_ = dir
		_ = ks
		ch, err := s2.Subscribe(context.Background(), Filter{Org: "acme"})
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 3; i++ {
			appendN(t, s2, "acme", i*500, 500) // more than the buffer
		}
		n := 0
		for range ch {
			n++
		}
		if n == 0 || n >= 1500 {
			t.Fatalf("slow subscriber got %d events before being dropped", n)
		}
	})
}

// checkAggregates compares Facets, and Histogram at 10, 60 and 500 buckets
// in UTC and four zones, with counts of the events of all that f matches.
func checkAggregates(t *testing.T, s *Store, all []StoredEvent, f Filter) {
	t.Helper()
	ctx := context.Background()
	want := bruteForce(t, all, f)
	facets, err := s.Facets(ctx, f)
	if err != nil {
		t.Fatal(err)
	}
	exp := expectedFacets(want)
	for k := range exp {
		for v, n := range exp[k] {
			if facets[k][v] != n {
				t.Fatalf("facet %s=%s: %d, want %d", k, v, facets[k][v], n)
			}
		}
		if len(facets[k]) != len(exp[k]) {
			t.Fatalf("facet %s: %v, want %v", k, facets[k], exp[k])
		}
	}
	choices := expectedChoices(t, all, f)
	got, err := s.FacetChoices(ctx, f)
	if err != nil {
		t.Fatal(err)
	}
	checkFacets(t, "FacetChoices", got, choices)
	// In UTC, and in zones whose offsets are not whole hours, where
	// bucket edges cut UTC hours that the counters cannot split.
	for _, zone := range []string{"UTC", "Asia/Kolkata", "Asia/Kathmandu", "Australia/Adelaide", "America/St_Johns"} {
		loc := mustLoadLocation(t, zone)
		for _, nb := range []int{10, 60, 500} { // buckets of a day, six hours and an hour
			what := fmt.Sprintf("%s, %d buckets", zone, nb)
			hist, err := s.Histogram(ctx, f, HistogramOptions{Buckets: nb, Location: loc})
			if err != nil {
				t.Fatal(err)
			}
			// Overview counts both, in one pass where it scans.
			facets, ohist, err := s.Overview(ctx, f, HistogramOptions{Buckets: nb, Location: loc})
			if err != nil {
				t.Fatal(err)
			}
			checkFacets(t, "Overview, "+what, facets, choices)
			if len(want) == 0 {
				if len(hist.Buckets)+len(ohist.Buckets) != 0 {
					t.Fatalf("%s: no events, but buckets %v and %v", what, hist.Buckets, ohist.Buckets)
				}
				continue
			}
			checkHistogram(t, what, hist, loc, want)
			checkHistogram(t, "Overview, "+what, ohist, loc, want)
			if len(hist.Buckets) > nb+2 {
				t.Fatalf("%s: %d buckets, want at most %d", zone, len(hist.Buckets), nb+2)
			}
		}
	}
}

// expectedChoices counts events the way FacetChoices should: a field f
// filters is counted without f's conditions on it.
func expectedChoices(t *testing.T, all []StoredEvent, f Filter) map[string]map[string]int64 {
	t.Helper()
	exp := expectedFacets(bruteForce(t, all, f))
	for facet, clear := range map[string]func(g *Filter) bool{
		FacetCategory: func(g *Filter) bool {
			g.Categories, g.NotCategories = nil, nil
			return len(f.Categories)+len(f.NotCategories) > 0
		},
		FacetProvider: func(g *Filter) bool {
			g.Providers, g.NotProviders = nil, nil
			return len(f.Providers)+len(f.NotProviders) > 0
		},
		FacetStatus: func(g *Filter) bool {
			g.Statuses, g.NotStatuses = nil, nil
			return len(f.Statuses)+len(f.NotStatuses) > 0
		},
		FacetRiskLevel: func(g *Filter) bool {
			g.RiskLevels, g.NotRiskLevels = nil, nil
			return len(f.RiskLevels)+len(f.NotRiskLevels) > 0
		},
		FacetUserID: func(g *Filter) bool { g.UserIDs, g.NotUserIDs = nil, nil; return len(f.UserIDs)+len(f.NotUserIDs) > 0 },
	} {
		g := f
		if clear(&g) {
			exp[facet] = expectedFacets(bruteForce(t, all, g))[facet]
		}
	}
	return exp
}

// checkFacets fails t unless got counts what want does, no more.
func checkFacets(t *testing.T, what string, got, want map[string]map[string]int64) {
	t.Helper()
	for k := range want {
		if !maps.Equal(got[k], want[k]) {
			t.Fatalf("%s: facet %s: %v, want %v", what, k, got[k], want[k])
		}
	}
	if len(got) != len(want) {
		t.Fatalf("%s: facets %v, want %v", what, got, want)
	}
}

// expectedFacets counts events the way Facets should.
func expectedFacets(evs []StoredEvent) map[string]map[string]int64 {
	exp := map[string]map[string]int64{FacetCategory: {}, FacetProvider: {}, FacetStatus: {}, FacetRiskLevel: {}, FacetUserID: {}}
	for _, e := range evs {
		exp[FacetCategory][e.Category]++
		exp[FacetProvider][e.Provider]++
		exp[FacetStatus][e.Status]++
		exp[FacetRiskLevel][e.RiskLevel]++
		exp[FacetUserID][e.UserID]++
	}
	return exp
}

// counterKeys lists org's 0x16 keys (the hourly counters) by field.
func counterKeys(t *testing.T, s *Store, org string) map[byte]int {
	t.Helper()
	out := map[byte]int{}
	p := orgPrefix(tagCounter, org)
	err := s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: p})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			out[it.Item().Key()[len(p)+8]]++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// One append rewrites two hourly counters: the hour's pack of the fields
// with few values, and the user's.
func TestQuery_OneAppendWritesTwoCounters(t *testing.T) {
	s, _, _ := newTestStore(t)
	appendN(t, s, "acme", 0, 1)
	if got := counterKeys(t, s, "acme"); len(got) != 2 || got[fieldPack] != 1 || got[fieldUserID] != 1 {
		t.Fatalf("counter keys by field after one append: %v; want one pack and one user counter", got)
	}
}

// A store written before packs holds separate counters for every field.
// Its aggregates stay right, before and after new events join the same
// hours under packs.
func TestQuery_CountersOfStoresWrittenBeforePacks(t *testing.T) {
	dir, ks := t.TempDir(), newStoreKeystore()
	s := openTest(t, dir, ks)
	appendN(t, s, "acme", 0, 150) // 150 minutes: three hours
	// Rewrite every pack as the separate counters of the earlier layout.
	p := orgPrefix(tagCounter, "acme")
	err := s.db.Update(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: p})
		defer it.Close()
		type kv struct{ k, v []byte }
		var packs []kv
		for it.Rewind(); it.Valid(); it.Next() {
			if k := it.Item().KeyCopy(nil); k[len(p)+8] == fieldPack {
				v, err := it.Item().ValueCopy(nil)
				if err != nil {
					return err
				}
				packs = append(packs, kv{k, v})
			}
		}
		for _, pk := range packs {
			hour := binary.BigEndian.Uint64(pk.k[len(p):])
			err := decodePack(pk.v, func(field byte, value string, n uint64) {
				if err := txn.Set(counterKey("acme", hour, field, value), binary.BigEndian.AppendUint64(nil, n)); err != nil {
					t.Fatal(err)
				}
			})
			if err != nil {
				return err
			}
			if err := txn.Delete(pk.k); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	s = openTest(t, dir, ks)
	defer s.Close()
	if got := counterKeys(t, s, "acme"); got[fieldPack] != 0 || got[fieldTotal] != 3 || got[fieldCategory] == 0 {
		t.Fatalf("counter keys by field after the rewrite: %v; want the earlier layout", got)
	}
	check := func(when string) {
		t.Helper()
		all := allEvents(t, s, "acme")
		facets, err := s.Facets(context.Background(), Filter{Org: "acme"})
		if err != nil {
			t.Fatal(err)
		}
		if exp := expectedFacets(all); !reflect.DeepEqual(facets, exp) {
			t.Fatalf("%s: facets %v, want %v", when, facets, exp)
		}
		hist, err := s.Histogram(context.Background(), Filter{Org: "acme", Since: baseTime, Until: baseTime.Add(4 * time.Hour)}, HistogramOptions{Buckets: 4})
		if err != nil {
			t.Fatal(err)
		}
		var total int64
		for _, b := range hist.Buckets {
			total += b.Count
		}
		if total != int64(len(all)) {
			t.Fatalf("%s: histogram counts %d events, want %d", when, total, len(all))
		}
	}
	check("the earlier layout")
	appendN(t, s, "acme", 150, 60) // into the third hour, and a fourth
	if got := counterKeys(t, s, "acme"); got[fieldPack] != 2 || got[fieldTotal] != 3 {
		t.Fatalf("counter keys by field after new appends: %v; want packs beside the earlier counters", got)
	}
	check("both layouts in one hour")
}

// A pack that does not decode is reported as tampering, not miscounted.
func TestQuery_CorruptCounterPack(t *testing.T) {
	s, _, _ := newTestStore(t)
	appendN(t, s, "acme", 0, 10)
	key := counterKey("acme", hourOf(encTime(baseTime)), fieldPack, "")
	if err := s.db.Update(func(txn *badger.Txn) error { return txn.Set(key, []byte{'c', 200, 'x'}) }); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Facets(context.Background(), Filter{Org: "acme"}); !errors.Is(err, ErrTampered) {
		t.Fatalf("Facets over a corrupt pack: %v; want ErrTampered", err)
	}
}

// The writer's cache of hourly counters stays within its bound when one
// producer appends one event at a time (the writer idle between groups),
// and the counts stay right after it is dropped.
func TestQuery_CounterCacheStaysBounded(t *testing.T) {
	old := maxCounterCache
	maxCounterCache = 50
	t.Cleanup(func() { maxCounterCache = old })
	s, _, _ := newTestStore(t)
	ctx := context.Background()
	for i := range 300 {
		e := testEvent("acme", i)
		e.UserID = fmt.Sprintf("user-%03d", i) // a counter of its own each
		if _, err := s.Append(ctx, []Event{e}); err != nil {
			t.Fatal(err)
		}
		s.wmu.Lock()
		cached := len(s.counters) + len(s.packs)
		s.wmu.Unlock()
		if cached > maxCounterCache+2 { // one group past the bound, before the writer drops them
			t.Fatalf("after %d appends the writer caches %d counters, over its bound of %d", i+1, cached, maxCounterCache)
		}
	}
	facets, err := s.Facets(ctx, Filter{Org: "acme"})
	if err != nil {
		t.Fatal(err)
	}
	if exp := expectedFacets(allEvents(t, s, "acme")); !reflect.DeepEqual(facets, exp) {
		t.Fatalf("facets %v, want %v", facets, exp)
	}
}

// FacetChoices counts each field without the filter's own conditions on
// it, and every field the filter leaves alone under the whole filter.
func TestQuery_FacetChoices(t *testing.T) {
	s, all := seedQueryStore(t)
	ctx := context.Background()
	since := baseTime.Add(20 * time.Hour)
	cases := map[string]Filter{
		"none":                 {},
		"time only":            {Since: since},
		"provider":             {Providers: []string{Providers[0]}},
		"two providers":        {Providers: []string{Providers[0], Providers[1]}, Since: since},
		"provider, not status": {Providers: []string{Providers[1]}, NotStatuses: []string{Statuses[0]}},
		"category and user":    {Categories: []string{"scan"}, UserIDs: []string{"user-3"}},
		"risk and text":        {RiskLevels: []string{"high"}, Text: "number 1"},
		"not a user":           {NotUserIDs: []string{"user-1", "user-2"}, ActionTypes: []string{"scan.started", "workflow.run_started"}},
		"every field":          {Categories: []string{"scan", "apply"}, Providers: []string{Providers[2]}, Statuses: []string{Statuses[1]}, NotRiskLevels: []string{"low"}, UserIDs: []string{"user-0", "user-4"}},
		// Filters that read records take one pass over the widened filter.
		"text, provider and not status":    {Text: "number", Providers: []string{Providers[0]}, NotStatuses: []string{Statuses[2]}, Since: since},
		"resource and user":                {ResourceID: "bucket-1", UserIDs: []string{"user-3", "user-5"}},
		"resource prefix and category":     {ResourceIDPrefix: "arn:aws:ec2", Categories: []string{"scan"}, NotProviders: []string{Providers[1]}},
		"text and every field":             {Text: "event", Categories: []string{"scan", "apply"}, Providers: []string{Providers[2]}, Statuses: []string{Statuses[1]}, NotRiskLevels: []string{"low"}, UserIDs: []string{"user-0", "user-4"}},
		"text, action type and a provider": {Text: "number 2", ActionTypes: []string{"scan.started", "apply.mutation"}, Providers: []string{Providers[1]}},
	}
	without := map[string]func(f *Filter){
		FacetCategory:  func(f *Filter) { f.Categories, f.NotCategories = nil, nil },
		FacetProvider:  func(f *Filter) { f.Providers, f.NotProviders = nil, nil },
		FacetStatus:    func(f *Filter) { f.Statuses, f.NotStatuses = nil, nil },
		FacetRiskLevel: func(f *Filter) { f.RiskLevels, f.NotRiskLevels = nil, nil },
		FacetUserID:    func(f *Filter) { f.UserIDs, f.NotUserIDs = nil, nil },
	}
	for name, f := range cases {
		t.Run(name, func(t *testing.T) {
			f.Org = "acme"
			got, err := s.FacetChoices(ctx, f)
			if err != nil {
				t.Fatal(err)
			}
			widened := 0
			for facet, drop := range without {
				g := f
				drop(&g)
				want := expectedFacets(bruteForce(t, all, g))[facet]
				if !maps.Equal(got[facet], want) {
					t.Errorf("%s: %v, want %v", facet, got[facet], want)
				}
				if !maps.Equal(want, expectedFacets(bruteForce(t, all, f))[facet]) {
					widened++
				}
			}
			if (strings.Contains(name, "provider") || strings.Contains(name, "user")) && widened == 0 {
				t.Errorf("no field counted more than the whole filter: the case tests nothing")
			}
		})
	}
	if _, err := s.FacetChoices(ctx, Filter{Org: "acme", Providers: []string{"aws"}, Statuses: []string{"bad\x00"}}); !errors.Is(err, ErrInvalidFilter) {
		t.Errorf("an invalid filter: %v, want ErrInvalidFilter", err)
	}
	gone, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.FacetChoices(gone, Filter{Org: "acme", Providers: []string{"aws"}, Text: "number"}); !errors.Is(err, context.Canceled) {
		t.Errorf("a caller that has gone: %v, want context.Canceled", err)
	}
}

// Overview answers exactly FacetChoices and Histogram at the edges of
// time too: where f filters by more than time, the facets of all of f are
// counted over the histogram's range, so that range must hold every event
// f matches (one at MinTimestamp, one ahead of the store's clock) whether
// since and until are open, before MinTimestamp, past what keys encode or
// empty.
func TestQuery_OverviewAtTheEdgesOfTime(t *testing.T) {
	s, _ := seedQueryStore(t)
	ctx := context.Background()
	evs := []Event{testEvent("acme", 1), testEvent("acme", 2)}
	evs[0].Timestamp = MinTimestamp
	evs[1].Timestamp = s.opts.Now().Add(23 * time.Hour)
	if _, err := s.Append(ctx, evs); err != nil {
		t.Fatal(err)
	}
	sinces := []time.Time{{}, time.Date(1500, 1, 1, 0, 0, 0, 0, time.UTC), MinTimestamp, baseTime.Add(7*time.Hour + 30*time.Minute), s.opts.Now().Add(time.Hour)}
	untils := []time.Time{{}, MinTimestamp.Add(time.Nanosecond), baseTime.Add(100 * time.Hour), maxEncTime.Add(time.Nanosecond), time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)}
	kolkata := mustLoadLocation(t, "Asia/Kolkata")
	for name, base := range map[string]Filter{
		"time only": {},
		"provider":  {Providers: []string{Providers[0]}},
		"text":      {Text: "number 1", NotRiskLevels: []string{"low"}},
	} {
		for _, since := range sinces {
			for _, until := range untils {
				for _, nb := range []int{60, 1000} { // the latter in steps under an hour for short ranges
					f := base
					f.Org, f.Since, f.Until = "acme", since, until
					opts := HistogramOptions{Buckets: nb, Location: kolkata}
					what := fmt.Sprintf("%s, since %s, until %s, %d buckets", name, since, until, nb)
					facets, err := s.FacetChoices(ctx, f)
					if err != nil {
						t.Fatal(what, err)
					}
					hist, err := s.Histogram(ctx, f, opts)
					if err != nil {
						t.Fatal(what, err)
					}
					ofacets, ohist, err := s.Overview(ctx, f, opts)
					if err != nil {
						t.Fatal(what, err)
					}
					checkFacets(t, "Overview, "+what, ofacets, facets)
					if !reflect.DeepEqual(ohist, hist) {
						t.Fatalf("%s: Overview's histogram %+v, want %+v", what, ohist, hist)
					}
				}
			}
		}
	}
	if _, _, err := s.Overview(ctx, Filter{Org: "acme", Providers: []string{"aws"}, Statuses: []string{"bad\x00"}}, HistogramOptions{}); !errors.Is(err, ErrInvalidFilter) {
		t.Errorf("an invalid filter: %v, want ErrInvalidFilter", err)
	}
	gone, cancel := context.WithCancel(ctx)
	cancel()
	if _, _, err := s.Overview(gone, Filter{Org: "acme", Providers: []string{"aws"}, Text: "number"}, HistogramOptions{}); !errors.Is(err, context.Canceled) {
		t.Errorf("a caller that has gone: %v, want context.Canceled", err)
	}
}

// A filter's slices are the caller's, and FacetChoices reads them from
// several goroutines at once: nothing may write to them, not even past
// their length (an empty Categories with room, and action types, once
// had the plan append the action types' categories into it).
func TestQuery_FacetChoicesLeavesTheFiltersSlices(t *testing.T) {
	s, _ := seedQueryStore(t)
	room := []string{"untouched", "untouched"}
	f := Filter{Org: "acme", Categories: room[:0], ActionTypes: []string{"scan.completed"},
		Providers: []string{Providers[0]}, Statuses: []string{Statuses[0]}}
	if _, err := s.FacetChoices(context.Background(), f); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Facets(context.Background(), f); err != nil {
		t.Fatal(err)
	}
	if room[0] != "untouched" || room[1] != "untouched" {
		t.Fatalf("the filter's Categories array was written: %q", room)
	}
}
