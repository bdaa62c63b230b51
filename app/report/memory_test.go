package report

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/axiomops/axiom-audit/storage"
)

// genSource makes events as they are asked for and keeps none: a log of
// any size at the cost of one page.
type genSource struct {
	n       int
	heapAt  map[int]uint64 // heap in use when page k was asked for
	pageLen int
}

var genTypes = []struct{ actionType, status, risk, meta string }{
	{"scan.completed", "applied", "low", `{"scanId":"s"}`},
	{"finding.created", "applied", "high", `{"severity":"high"}`},
	{"workflow.drift_detection", "applied", "medium", `{"driftedResources":2}`},
	{"user.signed_in", "applied", "low", `{}`},
	{"apply.mutation", "applied", "medium", `{"planId":"p-%d"}`},
}

func (g *genSource) List(_ context.Context, f storage.Filter) (storage.Page, error) {
	start := 0
	if f.Cursor != "" {
		fmt.Sscan(f.Cursor, &start)
	}
	if k := start / f.Limit; k%50 == 0 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		g.heapAt[k] = m.HeapInuse
	}
	end := min(start+f.Limit, g.n)
	page := storage.Page{Events: make([]storage.StoredEvent, 0, end-start)}
	for i := start; i < end; i++ {
		t := genTypes[i%len(genTypes)]
		meta := t.meta
		if t.actionType == "apply.mutation" {
			meta = fmt.Sprintf(meta, i/5000) // a plan per 5,000 events
		}
		cat, _, _ := strings.Cut(t.actionType, ".")
		page.Events = append(page.Events, storage.StoredEvent{Seq: uint64(i + 1), Category: cat, Event: storage.Event{
			ID: fmt.Sprintf("00000000-0000-7000-8000-%012d", i), Timestamp: testPeriod.Since.Add(time.Duration(i) * 20 * time.Second),
			OrganizationID: "o", UserID: fmt.Sprintf("user-%d", i%40), Provider: "aws", ActionType: t.actionType,
			ResourceIDs: []string{fmt.Sprintf("res-%d", i)}, Status: t.status, RiskLevel: t.risk, Metadata: json.RawMessage(meta)}})
	}
	if end < g.n {
		page.NextCursor = fmt.Sprint(end)
	}
	return page, nil
}

// TestBuild_MemoryIsFlat: the heap a report holds does not grow with the
// number of events it reads.
func TestBuild_MemoryIsFlat(t *testing.T) {
	if testing.Short() {
		t.Skip("reads 300,000 events")
	}
	const n = 300_000
	g := &genSource{n: n, heapAt: map[int]uint64{}}
	r, err := Build(context.Background(), g, Options{Org: "o", Period: testPeriod, Now: func() time.Time { return testNow }})
	if err != nil {
		t.Fatal(err)
	}
	if r.Summary.Events != n {
		t.Fatalf("read %d events, want %d", r.Summary.Events, n)
	}
	early, late := g.heapAt[50], g.heapAt[250]
	if early == 0 || late == 0 {
		t.Fatalf("heap samples: %v", g.heapAt)
	}
	growth := int64(late) - int64(early)
	t.Logf("heap in use after 50,000 events: %d KiB; after 250,000: %d KiB", early>>10, late>>10)
	if growth > 4<<20 {
		t.Errorf("the heap grew by %d KiB over 200,000 events", growth>>10)
	}
}
