package storage

// Edges of the query engine: range bounds beyond what keys encode, filter
// values that cannot be stored, histogram buckets, and what subscribers
// receive.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
)

func edgeList(t *testing.T, s *Store, f Filter) int {
	t.Helper()
	f.Limit = MaxLimit
	p, err := s.List(context.Background(), f)
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	return len(p.Events)
}

func edgeFacetTotal(t *testing.T, s *Store, f Filter) int64 {
	t.Helper()
	fc, err := s.Facets(context.Background(), f)
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	for _, v := range fc[FacetCategory] {
		n += v
	}
	return n
}

func edgeHist(t *testing.T, s *Store, f Filter) []Bucket {
	t.Helper()
	h, err := s.Histogram(context.Background(), f, HistogramOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return h.Buckets
}

// Since and Until outside int64 nanoseconds (before 1677-09-21 or after
// 2262-04-11), such as 9999-12-31 for "no end", are open ends.
func TestQuery_BoundsBeyondKeyTimes(t *testing.T) {
	s, _, _ := newTestStore(t)
	appendN(t, s, "acme", 0, 10)
	far := time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)
	if n := edgeList(t, s, Filter{Org: "acme", Until: far}); n != 10 {
		t.Errorf("List(Until 9999) = %d events, want 10", n)
	}
	if n := edgeFacetTotal(t, s, Filter{Org: "acme", Until: far}); n != 10 {
		t.Errorf("Facets(Until 9999) total = %d, want 10", n)
	}
	if n := edgeList(t, s, Filter{Org: "acme", Since: time.Date(1600, 1, 1, 0, 0, 0, 0, time.UTC)}); n != 10 {
		t.Errorf("List(Since 1600) = %d events, want 10", n)
	}
}

// A filter value with NUL (which ends an index key's value) is a bad
// filter, not a tampered index.
func TestQuery_ValueWithNULIsABadFilter(t *testing.T) {
	s, _, _ := newTestStore(t)
	appendN(t, s, "acme", 0, 3) // resourceIds include "bucket-0"
	for _, f := range []Filter{
		{Org: "acme", ResourceIDPrefix: "bucket-0\x00"},
		{Org: "acme", ResourceID: "bucket-0\x00\x00\x00"},
		{Org: "acme", UserIDs: []string{"u\x00" + string(make([]byte, 16))}},
		{Org: "acme", Categories: []string{"scan\x00"}},
		{Org: "acme", Text: "\xff"},
	} {
		_, err := s.List(context.Background(), f)
		var fe *FilterError
		if !errors.Is(err, ErrInvalidFilter) || !errors.As(err, &fe) || errors.Is(err, ErrTampered) {
			t.Errorf("List(%+v) = %v; want a FilterError", f, err)
		}
		if _, err := s.Facets(context.Background(), f); !errors.Is(err, ErrInvalidFilter) {
			t.Errorf("Facets(%+v) = %v; want ErrInvalidFilter", f, err)
		}
	}
	if _, err := s.List(context.Background(), Filter{Org: "bad org"}); !errors.Is(err, ErrInvalidFilter) || !strings.Contains(err.Error(), "Org") {
		t.Errorf("a bad org: %v", err)
	}
}

// When Until is a bucket edge, no bucket starts at Until, outside
// [Since, Until).
func TestHistogram_NoBucketAtUntil(t *testing.T) {
	s, _, _ := newTestStore(t)
	appendN(t, s, "acme", 0, 60)
	until := baseTime.Add(time.Hour)
	h := edgeHist(t, s, Filter{Org: "acme", Since: baseTime, Until: until})
	if last := h[len(h)-1]; !last.Start.Before(until) || len(h) != 12 {
		t.Errorf("%d buckets; last starts at %s, Until is %s", len(h), last.Start, until)
	}
}

// Buckets start where the chosen zone's clock reads a multiple of their
// step: a day's at midnight there (a week's on a Monday), an hour's on the
// hour, in zones 30 or 45 minutes off UTC's hours too. Across a
// daylight-saving change a day's bucket is 23 or 25 hours long, and a
// clock time that the change skips starts no bucket of its own.
func TestHistogram_BucketEdges(t *testing.T) {
	utc := func(s string) time.Time {
		t.Helper()
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	for _, tc := range []struct {
		name, zone   string
		since, until string
		step         time.Duration
		want         []string // the bucket starts, then the last one's end
	}{
		{"UTC days", "UTC", "2026-11-03T10:00:00Z", "2026-11-05T01:00:00Z", 24 * time.Hour,
			[]string{"2026-11-03T00:00:00Z", "2026-11-04T00:00:00Z", "2026-11-05T00:00:00Z", "2026-11-06T00:00:00Z"}},
		{"Kolkata days start at 00:00 IST, 18:30 UTC", "Asia/Kolkata", "2026-11-02T20:00:00Z", "2026-11-04T20:00:00Z", 24 * time.Hour,
			[]string{"2026-11-02T18:30:00Z", "2026-11-03T18:30:00Z", "2026-11-04T18:30:00Z", "2026-11-05T18:30:00Z"}},
		{"Kolkata weeks start on Monday 00:00 IST", "Asia/Kolkata", "2026-11-04T00:00:00Z", "2026-11-05T00:00:00Z", 7 * 24 * time.Hour,
			[]string{"2026-11-01T18:30:00Z", "2026-11-08T18:30:00Z"}},
		{"Kathmandu hours start at :00 NPT, :15 UTC", "Asia/Kathmandu", "2026-11-03T10:20:00Z", "2026-11-03T12:00:00Z", time.Hour,
			[]string{"2026-11-03T10:15:00Z", "2026-11-03T11:15:00Z", "2026-11-03T12:15:00Z"}},
		{"Kolkata six hours start at 00, 06, 12, 18 IST", "Asia/Kolkata", "2026-11-03T01:00:00Z", "2026-11-03T07:00:00Z", 6 * time.Hour,
			[]string{"2026-11-03T00:30:00Z", "2026-11-03T06:30:00Z", "2026-11-03T12:30:00Z"}},
		{"Adelaide's day of 25 hours when daylight saving ends", "Australia/Adelaide", "2026-04-04T14:00:00Z", "2026-04-05T15:00:00Z", 24 * time.Hour,
			[]string{"2026-04-04T13:30:00Z", "2026-04-05T14:30:00Z", "2026-04-06T14:30:00Z"}},
		{"Berlin's skipped hour starts no bucket", "Europe/Berlin", "2026-03-29T00:30:00Z", "2026-03-29T02:30:00Z", time.Hour,
			[]string{"2026-03-29T00:00:00Z", "2026-03-29T01:00:00Z", "2026-03-29T02:00:00Z", "2026-03-29T03:00:00Z"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			loc, err := time.LoadLocation(tc.zone)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, e := range bucketEdges(utc(tc.since), utc(tc.until), tc.step, loc) {
				got = append(got, e.UTC().Format(time.RFC3339))
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("edges %v, want %v", got, tc.want)
			}
		})
	}
}

// Across daylight-saving changes the buckets still follow one another and
// count every event once, from the hourly counters and from the events of
// the hours a bucket edge cuts.
func TestHistogram_DaylightSaving(t *testing.T) {
	s, _, _ := newTestStore(t)
	var evs []Event
	for i, from := range []time.Time{
		time.Date(2026, 4, 3, 0, 0, 0, 0, time.UTC),   // Adelaide: +10:30 to +9:30 on April 5
		time.Date(2026, 3, 27, 0, 0, 0, 0, time.UTC),  // Berlin: +1 to +2 on March 29
		time.Date(2026, 10, 23, 0, 0, 0, 0, time.UTC), // Berlin: +2 to +1 on October 25
	} {
		for k := 0; k < 5*24*60/7; k++ {
			e := testEvent("acme", i*10000+k)
			e.Timestamp = from.Add(time.Duration(k) * 7 * time.Minute)
			evs = append(evs, e)
		}
	}
	for batch := range slices.Chunk(evs, 300) {
		if _, err := s.Append(context.Background(), batch); err != nil {
			t.Fatal(err)
		}
	}
	all := allEvents(t, s, "acme")
	for _, tc := range []struct {
		zone  string
		since time.Time
		days  int
	}{
		{"Australia/Adelaide", time.Date(2026, 4, 3, 5, 0, 0, 0, time.UTC), 4},
		{"Europe/Berlin", time.Date(2026, 3, 27, 5, 0, 0, 0, time.UTC), 4},
		{"Europe/Berlin", time.Date(2026, 10, 23, 5, 0, 0, 0, time.UTC), 4},
	} {
		loc := mustLoadLocation(t, tc.zone)
		f := Filter{Org: "acme", Since: tc.since, Until: tc.since.Add(time.Duration(tc.days) * 24 * time.Hour)}
		want := bruteForce(t, all, f)
		for _, nb := range []int{10, 60, 500} {
			h, err := s.Histogram(context.Background(), f, HistogramOptions{Buckets: nb, Location: loc})
			if err != nil {
				t.Fatal(err)
			}
			what := fmt.Sprintf("%s from %s, %d buckets", tc.zone, tc.since.Format(time.DateOnly), nb)
			// When Berlin's clock goes back from 03:00 to 02:00, the hour from
			// 01:00 runs to the second 02:00: two hours long.
			checkHistogram(t, what, h, loc, want)
		}
	}
}

// Subscribe matches and delivers the canonical (JCS) metadata of the
// record, as List does, not the metadata as the producer sent it.
func TestSubscribe_MatchesAsListDoes(t *testing.T) {
	s, _, _ := newTestStore(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f := Filter{Org: "acme", Text: "café"}
	ch, err := s.Subscribe(ctx, f)
	if err != nil {
		t.Fatal(err)
	}
	e := testEvent("acme", 1)
	e.Metadata = json.RawMessage(`{"note": "caf\u00e9"}`)
	if _, err := s.Append(ctx, []Event{e}); err != nil {
		t.Fatal(err)
	}
	page, err := s.List(ctx, f)
	if err != nil || len(page.Events) != 1 {
		t.Fatalf("List: %d events, %v", len(page.Events), err)
	}
	select {
	case got := <-ch:
		if string(got.Metadata) != string(page.Events[0].Metadata) || !got.Timestamp.Equal(page.Events[0].Timestamp) {
			t.Errorf("delivered metadata %s at %s, List has %s at %s", got.Metadata, got.Timestamp, page.Events[0].Metadata, page.Events[0].Timestamp)
		}
	case <-time.After(10 * time.Second):
		t.Error("List matched the event, Subscribe did not deliver it")
	}
}

// What a subscriber receives shares no memory with the appender's Event,
// which the caller may reuse once Append returns.
func TestSubscribe_SharesNothingWithTheCaller(t *testing.T) {
	s, _, _ := newTestStore(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch, _ := s.Subscribe(ctx, Filter{Org: "acme"})
	e := testEvent("acme", 1)
	if _, err := s.Append(ctx, []Event{e}); err != nil {
		t.Fatal(err)
	}
	e.ResourceIDs[0] = "MUTATED-AFTER-APPEND" // caller reuses its buffer
	got := <-ch
	if got.ResourceIDs[0] == "MUTATED-AFTER-APPEND" {
		t.Errorf("subscriber sees the caller's later write: %q (stored: %q)", got.ResourceIDs[0], "arn:aws:ec2:us-east-1:123:instance/i-0001")
	}
}

// With an open Until the histogram counts what List and Facets do,
// events dated at or after the store's clock (up to MaxFutureSkew ahead)
// included.
func TestHistogram_OpenUntilCountsFutureEvents(t *testing.T) {
	clk := &manualClock{t: baseTime}
	s := openRetentionTest(t, t.TempDir(), newStoreKeystore(), clk)
	defer s.Close()
	evs := []Event{
		retentionEvent("acme", 0, baseTime.Add(-time.Hour), 0),
		retentionEvent("acme", 1, baseTime, 0),                  // exactly now
		retentionEvent("acme", 2, baseTime.Add(2*time.Hour), 0), // accepted: within MaxFutureSkew
	}
	if _, err := s.Append(context.Background(), evs); err != nil {
		t.Fatal(err)
	}
	f := Filter{Org: "acme"}
	var ht int64
	for _, b := range edgeHist(t, s, f) {
		ht += b.Count
	}
	if l, fc := edgeList(t, s, f), edgeFacetTotal(t, s, f); int64(l) != ht || fc != ht {
		t.Errorf("same filter: List %d, Facets %d, Histogram %d", l, fc, ht)
	}
}

// A subscription dropped for falling behind is released at once, not when
// its context ends: app/sync resubscribes with the same context after
// each drop.
func TestSubscribe_DroppedIsReleased(t *testing.T) {
	s, _, _ := newTestStore(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	heap := func() int64 {
		runtime.GC()
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return int64(m.HeapAlloc)
	}
	const cycles = 20
	for i := 0; i < cycles; i++ {
		ch, err := s.Subscribe(ctx, Filter{Org: "acme"})
		if err != nil {
			t.Fatal(err)
		}
		appendN(t, s, "acme", i*1100, 550) // more than SubscriberBuffer: dropped
		appendN(t, s, "acme", i*1100+550, 550)
		for range ch {
		}
	}
	before := heap()
	cancel()
	freed := before - heap()
	if freed > cycles*200<<10 {
		t.Errorf("ending ctx freed %d KB: %d KB per dropped subscription was retained", freed>>10, freed>>10/cycles)
	}
}

// A range longer than time.Duration holds (292 years) puts events in their
// bucket, and a range of decades gets no more than the buckets asked for.
func TestHistogram_LongRange(t *testing.T) {
	s, _, _ := newTestStore(t)
	appendN(t, s, "acme", 0, 10) // at 2026-01-01
	f := Filter{Org: "acme", Since: time.Date(1700, 1, 1, 0, 0, 0, 0, time.UTC), Until: baseTime.Add(24 * time.Hour)}
	h := edgeHist(t, s, f)
	step := h[1].Start.Sub(h[0].Start)
	for _, b := range h {
		end := b.Start.Add(step)
		if b.Count > 0 && (baseTime.Before(b.Start) || !baseTime.Before(end)) {
			t.Errorf("%d events of %s counted in bucket [%s, %s); last bucket starts %s", b.Count, baseTime, b.Start, end, h[len(h)-1].Start)
		}
	}
	f.Since = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	if n := len(edgeHist(t, s, f)); n > 60 {
		t.Errorf("60 buckets asked, %d returned for 26 years", n)
	}
}
