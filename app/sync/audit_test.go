package sync_test

import (
	"context"
	"net/http"
	"sync/atomic"
	"testing"

	axsync "github.com/axiomops/axiom-audit/app/sync"
	"github.com/axiomops/axiom-audit/app/sync/synctest"
)

// Failures and recoveries are recorded in the log once per change of state,
// never once per retry: through flaps, long outages, a retried failure that
// becomes a stop, and a restart in the middle of an outage.
func TestSyncer_FailuresAndRecoveriesAreAuditedOncePerStateChange(t *testing.T) {
	st := synctest.NewStore(t)
	synctest.Append(t, st, "acme", 10)
	f := newFixture(t, st, nil)
	var answer atomic.Int64 // 0: the tenant answers; else this HTTP status
	f.setFault(func(w http.ResponseWriter, r *http.Request) bool {
		if code := answer.Load(); code != 0 {
			http.Error(w, "injected", int(code))
			return true
		}
		return false
	})
	ctx := context.Background()
	rec := f.rec
	run := func(s *axsync.Syncer, times int) {
		t.Helper()
		for range times {
			synctest.Append(t, st, "acme", 1)
			_, _ = s.RunNow(ctx, "acme")
		}
	}
	check := func(step string, rec *recorder, failed, recovered int) {
		t.Helper()
		if f, r := rec.count("audit.sync_failed"), rec.count("audit.sync_recovered"); f != failed || r != recovered {
			t.Fatalf("%s: %d audit.sync_failed and %d audit.sync_recovered, want %d and %d (events %v)", step, f, r, failed, recovered, rec.events)
		}
	}

	run(f.s, 1)
	check("healthy", rec, 0, 0)

	// A flap (one failure between successes) is no change of state worth a record.
	answer.Store(http.StatusBadGateway)
	run(f.s, 1)
	answer.Store(0)
	run(f.s, 1)
	check("a flap", rec, 0, 0)

	// An outage retried many times: one failure, one recovery.
	answer.Store(http.StatusServiceUnavailable)
	run(f.s, 12)
	check("outage 1", rec, 1, 0)
	if s := f.status(); s.State != axsync.StateRetrying || s.Failures != 12 {
		t.Fatalf("status %+v", s)
	}
	answer.Store(0)
	run(f.s, 3)
	check("outage 1 over", rec, 1, 1)

	// Retrying, then rejected: the stop is a new state, recorded once however
	// often run-now tries the rejected batch again.
	answer.Store(http.StatusInternalServerError)
	run(f.s, 5)
	check("outage 2", rec, 2, 1)
	answer.Store(http.StatusBadRequest)
	run(f.s, 4)
	check("outage 2 rejected", rec, 3, 1)
	if s := f.status(); s.State != axsync.StateStopped {
		t.Fatalf("status %+v", s)
	}
	answer.Store(0)
	run(f.s, 2)
	check("outage 2 over", rec, 3, 2)

	// A restart in the middle of an outage does not record it again; the
	// recovery after it is recorded.
	answer.Store(http.StatusServiceUnavailable)
	run(f.s, 4)
	check("outage 3", rec, 4, 2)
	f.s.Close()
	rec2 := &recorder{}
	opts := f.opts
	opts.Record, opts.Alert = rec2.record, rec2.alert
	s2 := axsync.New(opts)
	t.Cleanup(func() { s2.Close() })
	run(s2, 6)
	check("outage 3 after a restart", rec2, 0, 0)
	answer.Store(0)
	run(s2, 2)
	check("outage 3 over after a restart", rec2, 0, 1)
	head, _, _ := st.Head(ctx, "acme")
	synctest.CheckComplete(t, st, "acme", f.ts.Lines("acme"), int(head))
}
