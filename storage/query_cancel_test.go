package storage

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"
)

// errAfter is a context whose Err turns to Canceled after n calls: the
// scan must be asking it while it runs, not only before it starts.
type errAfter struct {
	context.Context
	n atomic.Int64
}

func (c *errAfter) Err() error {
	if c.n.Add(-1) < 0 {
		return context.Canceled
	}
	return nil
}

// A facet, histogram or list scan stops when its caller goes away (a
// browser that moved on to another filter), instead of running to the end.
func TestQuery_ScansStopWhenTheCallerIsGone(t *testing.T) {
	st, _, _ := newTestStore(t)
	ctx := context.Background()
	const n = 10000
	var events []Event
	for i := range n {
		events = append(events, testEvent("org-a", i))
	}
	for i := 0; i < n; i += 500 {
		if _, err := st.Append(ctx, events[i:i+500]); err != nil {
			t.Fatal(err)
		}
	}
	// A free-text filter needs every record: a full scan.
	f := Filter{Org: "org-a", Text: "no event says this", Since: time.Now().Add(-365 * 24 * time.Hour)}
	for name, run := range map[string]func(context.Context) error{
		"facets":    func(c context.Context) error { _, err := st.Facets(c, f); return err },
		"histogram": func(c context.Context) error { _, err := st.Histogram(c, f, HistogramOptions{Buckets: 50}); return err },
		"list":      func(c context.Context) error { _, err := st.List(c, f); return err },
	} {
		if err := run(ctx); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		c := &errAfter{Context: ctx}
		c.n.Store(2) // the checks before the scan pass
		if err := run(c); !errors.Is(err, context.Canceled) {
			t.Errorf("%s with a caller gone mid-scan: %v, want context.Canceled", name, err)
		}
	}
}
