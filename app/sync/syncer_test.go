package sync_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	gosync "sync"
	"sync/atomic"
	"testing"
	"time"

	axsync "github.com/axiomops/axiom-audit/app/sync"
	"github.com/axiomops/axiom-audit/app/sync/synctest"
	"github.com/axiomops/axiom-audit/app/sync/tenant"
	"github.com/axiomops/axiom-audit/storage"
	"github.com/axiomops/axiom-audit/storage/keystore"
)

// recorder keeps the audit events the Syncer records about itself.
type recorder struct {
	mu     gosync.Mutex
	events []string
	alerts []string
}

func (r *recorder) record(_ context.Context, org, actionType string, meta map[string]any) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, actionType)
	return nil
}

func (r *recorder) alert(_ context.Context, org, destination string, e *axsync.InconsistencyError) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.alerts = append(r.alerts, e.Reason)
	return nil
}

func (r *recorder) count(actionType string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, e := range r.events {
		if e == actionType {
			n++
		}
	}
	return n
}

// fixture is a Syncer over a real store delivering to a tenant.Server on
// loopback behind a fault-injecting handler.
type fixture struct {
	t      *testing.T
	st     *storage.Store
	ts     *tenant.Server
	srv    *httptest.Server
	rec    *recorder
	s      *axsync.Syncer
	fault  atomic.Pointer[func(w http.ResponseWriter, r *http.Request) bool]
	posts  atomic.Int64
	client *http.Client
	opts   axsync.Options
}

func newFixture(t *testing.T, st *storage.Store, mod func(*axsync.Options)) *fixture {
	t.Helper()
	f := &fixture{t: t, st: st, ts: tenant.NewServer("tok"), rec: &recorder{}}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.posts.Add(1)
		if fn := f.fault.Load(); fn != nil && (*fn)(w, r) {
			return
		}
		f.ts.ServeHTTP(w, r)
	}))
	t.Cleanup(f.srv.Close)
	f.client = &http.Client{Timeout: 2 * time.Second}
	f.opts = axsync.Options{
		Store: st, Keystore: keystore.NewMemory(), BatchSize: 100,
		Open: func(_ context.Context, c axsync.Config, secret []byte) (axsync.Destination, error) {
			tc := tenant.NewClient(c.URL, secret)
			tc.HTTPClient = f.client
			return tc, nil
		},
		Record:  f.rec.record,
		Alert:   f.rec.alert,
		Backoff: axsync.Backoff{Min: time.Millisecond, Max: 5 * time.Millisecond},
		Poll:    50 * time.Millisecond,
	}
	if mod != nil {
		mod(&f.opts)
	}
	f.s = axsync.New(f.opts)
	t.Cleanup(func() { f.s.Close() })
	if err := f.s.Enable(context.Background(), axsync.Config{Org: "acme", Kind: axsync.KindTenant, URL: f.srv.URL}, []byte("tok")); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fixture) setFault(fn func(w http.ResponseWriter, r *http.Request) bool) {
	if fn == nil {
		f.fault.Store(nil)
		return
	}
	f.fault.Store(&fn)
}

// waitDelivered waits until the tenant holds n events of acme.
func (f *fixture) waitDelivered(n uint64, within time.Duration) {
	f.t.Helper()
	synctest.WaitFor(f.t, within, func() bool { return f.ts.HighestSeq("acme") >= n }, func() string {
		st, _ := f.s.Status(context.Background(), "acme")
		return fmt.Sprintf("tenant holds %d events, want %d; status %+v", f.ts.HighestSeq("acme"), n, st)
	})
}

func (f *fixture) status() axsync.Status {
	f.t.Helper()
	st, err := f.s.Status(context.Background(), "acme")
	if err != nil || len(st) != 1 {
		f.t.Fatalf("status: %v %+v", err, st)
	}
	return st[0]
}

// failN fails the next n requests with fn, then lets them through.
func failN(n int64, fn func(w http.ResponseWriter, r *http.Request)) func(w http.ResponseWriter, r *http.Request) bool {
	var left atomic.Int64
	left.Store(n)
	return func(w http.ResponseWriter, r *http.Request) bool {
		if left.Add(-1) < 0 {
			return false
		}
		fn(w, r)
		return true
	}
}

func TestSyncer_ServerErrorsAreRetriedAndAuditedOnce(t *testing.T) {
	st := synctest.NewStore(t)
	synctest.Append(t, st, "acme", 250)
	f := newFixture(t, st, nil)
	f.setFault(failN(5, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "0")
		http.Error(w, "boom", http.StatusInternalServerError)
	}))
	if err := f.s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	f.waitDelivered(250, 10*time.Second)
	synctest.CheckComplete(t, st, "acme", f.ts.Lines("acme"), 250)
	// The recovery is recorded after the delivery that ends the outage.
	synctest.WaitFor(t, 10*time.Second, func() bool { return f.rec.count("audit.sync_recovered") > 0 },
		func() string { return "no audit.sync_recovered event" })
	if got := f.rec.count("audit.sync_failed"); got != 1 {
		t.Errorf("%d sync_failed events for 5 failures in a row, want 1", got)
	}
	if got := f.rec.count("audit.sync_recovered"); got != 1 {
		t.Errorf("%d sync_recovered events, want 1", got)
	}
	// The tenant holding every event does not mean the syncer has read
	// the answer to the last batch yet.
	synctest.WaitFor(t, 10*time.Second, func() bool { return f.status().LagEvents == 0 },
		func() string { return fmt.Sprintf("status %+v, want no lag", f.status()) })
	s := f.status()
	if s.State != axsync.StateHealthy || s.LagEvents != 0 || s.LastSuccess == nil || s.LastError == "" {
		t.Errorf("status %+v", s)
	}
}

func TestSyncer_TimeoutsAndSlowReceiver(t *testing.T) {
	st := synctest.NewStore(t)
	synctest.Append(t, st, "acme", 500)
	f := newFixture(t, st, nil)
	f.client.Timeout = 300 * time.Millisecond
	var inflight, maxInflight atomic.Int64
	slow := failN(2, func(w http.ResponseWriter, r *http.Request) { time.Sleep(600 * time.Millisecond) }) // timeouts
	f.setFault(func(w http.ResponseWriter, r *http.Request) bool {
		if slow(w, r) {
			return true
		}
		// Slow but within the timeout; the abandoned requests above are
		// not counted as in flight.
		n := inflight.Add(1)
		defer inflight.Add(-1)
		for m := maxInflight.Load(); n > m && !maxInflight.CompareAndSwap(m, n); m = maxInflight.Load() {
		}
		time.Sleep(30 * time.Millisecond)
		return false
	})
	if _, err := f.s.RunNow(context.Background(), "acme"); err == nil {
		t.Fatal("RunNow succeeded through a timeout")
	}
	if f.status().State != axsync.StateRetrying {
		t.Fatalf("state %q after a timeout", f.status().State)
	}
	if err := f.s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	f.waitDelivered(500, 15*time.Second)
	synctest.CheckComplete(t, st, "acme", f.ts.Lines("acme"), 500)
	if maxInflight.Load() > 1 {
		t.Errorf("%d requests in flight at once to one destination", maxInflight.Load())
	}
}

func TestSyncer_ConnectionResetMidBody(t *testing.T) {
	st := synctest.NewStore(t)
	synctest.Append(t, st, "acme", 300)
	f := newFixture(t, st, nil)
	var n atomic.Int64
	f.setFault(func(w http.ResponseWriter, r *http.Request) bool {
		switch n.Add(1) {
		case 1: // reset while the request body is being read
			_, _ = io.CopyN(io.Discard, r.Body, 64)
			reset(w)
			return true
		case 3: // stored, then reset before the acknowledgement
			rw := &discardWriter{h: http.Header{}}
			f.ts.ServeHTTP(rw, r)
			reset(w)
			return true
		}
		return false
	})
	if err := f.s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	f.waitDelivered(300, 10*time.Second)
	synctest.CheckComplete(t, st, "acme", f.ts.Lines("acme"), 300)
}

// reset closes the connection with a TCP RST.
func reset(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(err)
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	conn.Close()
}

type discardWriter struct{ h http.Header }

func (d *discardWriter) Header() http.Header         { return d.h }
func (d *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (d *discardWriter) WriteHeader(int)             {}

func TestSyncer_DuplicateAcknowledgements(t *testing.T) {
	st := synctest.NewStore(t)
	synctest.Append(t, st, "acme", 400)
	f := newFixture(t, st, nil)
	// A proxy that replays the first acknowledgement to later requests
	// (after storing them): the Syncer sees acks that do not advance.
	var first atomic.Pointer[[]byte]
	var n atomic.Int64
	f.setFault(func(w http.ResponseWriter, r *http.Request) bool {
		rec := httptest.NewRecorder()
		f.ts.ServeHTTP(rec, r)
		body := rec.Body.Bytes()
		if first.Load() == nil {
			first.Store(&body)
		} else if n.Add(1)%2 == 1 {
			body = *first.Load()
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(rec.Code)
		_, _ = w.Write(body)
		return true
	})
	if err := f.s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	synctest.WaitFor(t, 10*time.Second, func() bool { return f.status().DeliveredSeq >= 400 },
		func() string { return fmt.Sprintf("status %+v", f.status()) })
	synctest.CheckComplete(t, st, "acme", f.ts.Lines("acme"), 400)
}

func TestSyncer_TenantLostDataAcksGoBackwards(t *testing.T) {
	st := synctest.NewStore(t)
	synctest.Append(t, st, "acme", 300)
	f := newFixture(t, st, nil)
	if _, err := f.s.RunNow(context.Background(), "acme"); err != nil {
		t.Fatal(err)
	}
	f.ts.Forget("acme", 120) // restored from an old backup
	synctest.Append(t, st, "acme", 50)
	if err := f.s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	f.waitDelivered(350, 10*time.Second)
	synctest.CheckComplete(t, st, "acme", f.ts.Lines("acme"), 350)
	// The syncer records the delivery after the tenant has stored it.
	synctest.WaitFor(t, 10*time.Second, func() bool { s := f.status(); return s.DeliveredSeq == 350 && s.LagEvents == 0 },
		func() string { return fmt.Sprintf("status %+v", f.status()) })
}

func TestSyncer_PoisonBatchStops(t *testing.T) {
	st := synctest.NewStore(t)
	synctest.Append(t, st, "acme", 10)
	f := newFixture(t, st, nil)
	var rejecting atomic.Bool
	rejecting.Store(true)
	f.setFault(func(w http.ResponseWriter, r *http.Request) bool {
		if !rejecting.Load() {
			return false
		}
		http.Error(w, `{"code":"bad_request","message":"line 3 is not JSON"}`, http.StatusBadRequest)
		return true
	})
	if err := f.s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	synctest.WaitFor(t, 5*time.Second, func() bool { return f.status().State == axsync.StateStopped },
		func() string { return fmt.Sprintf("status %+v", f.status()) })
	posts := f.posts.Load()
	synctest.Append(t, st, "acme", 5) // would wake a running loop
	time.Sleep(300 * time.Millisecond)
	if f.posts.Load() != posts {
		t.Fatalf("a stopped destination was tried again: %d requests, then %d", posts, f.posts.Load())
	}
	s := f.status()
	if s.Stopped == "" || s.LastError == "" || f.rec.count("audit.sync_failed") != 1 {
		t.Fatalf("status %+v, %d sync_failed", s, f.rec.count("audit.sync_failed"))
	}
	// The user fixed the receiver: run-now resumes the destination.
	rejecting.Store(false)
	if _, err := f.s.RunNow(context.Background(), "acme"); err != nil {
		t.Fatal(err)
	}
	synctest.CheckComplete(t, st, "acme", f.ts.Lines("acme"), 15)
	if f.status().State != axsync.StateHealthy || f.rec.count("audit.sync_recovered") != 1 {
		t.Fatalf("status %+v", f.status())
	}
	synctest.Append(t, st, "acme", 1)
	f.waitDelivered(16, 3*time.Second) // and its loop runs again
}

func TestSyncer_RetryAfterIsHonoured(t *testing.T) {
	st := synctest.NewStore(t)
	synctest.Append(t, st, "acme", 3)
	var waits []time.Duration
	var mu gosync.Mutex
	f := newFixture(t, st, func(o *axsync.Options) {
		o.After = func(d time.Duration) <-chan time.Time {
			mu.Lock()
			waits = append(waits, d)
			mu.Unlock()
			return time.After(time.Millisecond)
		}
	})
	f.setFault(failN(1, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "120")
		http.Error(w, "slow down", http.StatusTooManyRequests)
	}))
	if err := f.s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	f.waitDelivered(3, 5*time.Second)
	mu.Lock()
	defer mu.Unlock()
	if len(waits) == 0 || waits[0] < 120*time.Second {
		t.Fatalf("waits %v, want the first ≥ 120s", waits)
	}
}

func TestSyncer_WeekOfflineBacklog(t *testing.T) {
	st := synctest.NewStore(t)
	synctest.Append(t, st, "acme", 10_000)
	week := 7 * 24 * time.Hour
	f := newFixture(t, st, func(o *axsync.Options) { o.Now = func() time.Time { return time.Now().Add(week) } })
	// Offline: nothing listens.
	f.srv.Close()
	if _, err := f.s.RunNow(context.Background(), "acme"); err == nil {
		t.Fatal("RunNow succeeded while offline")
	}
	s := f.status()
	if s.LagEvents != 10_000 || s.LagSeconds < week.Seconds()-60 || s.State != axsync.StateRetrying {
		t.Fatalf("status while offline: %+v", s)
	}
	// Back online on another port: enable again (the cursor is kept).
	srv := httptest.NewServer(f.ts)
	defer srv.Close()
	if err := f.s.Enable(context.Background(), axsync.Config{Org: "acme", Kind: axsync.KindTenant, URL: srv.URL}, []byte("tok")); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, err := f.s.RunNow(context.Background(), "acme"); err != nil {
		t.Fatal(err)
	}
	t.Logf("10,000-event backlog delivered in %v", time.Since(start))
	synctest.CheckComplete(t, st, "acme", f.ts.Lines("acme"), 10_000)
	if s := f.status(); s.LagEvents != 0 || s.LagSeconds != 0 {
		t.Fatalf("status after catching up: %+v", s)
	}
}

func TestSyncer_KilledMidBatchAndRestarted(t *testing.T) {
	dir := t.TempDir()
	ks := keystore.NewMemory()
	st, err := storage.Open(context.Background(), dir, ks, storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	synctest.Append(t, st, "acme", 1000)
	ts := tenant.NewServer("tok")
	var n atomic.Int64
	blocked := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 4 {
			// Store the batch, then hang: the process dies before the ack.
			ts.ServeHTTP(&discardWriter{h: http.Header{}}, r)
			close(blocked)
			<-r.Context().Done()
			return
		}
		ts.ServeHTTP(w, r)
	}))
	defer srv.Close()
	open := func(_ context.Context, c axsync.Config, secret []byte) (axsync.Destination, error) {
		return tenant.NewClient(c.URL, secret), nil
	}
	s := axsync.New(axsync.Options{Store: st, Keystore: ks, Open: open, BatchSize: 100})
	if err := s.Enable(context.Background(), axsync.Config{Org: "acme", Kind: axsync.KindTenant, URL: srv.URL}, []byte("tok")); err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	<-blocked
	s.Close() // killed mid-batch
	st.Close()

	st, err = storage.Open(context.Background(), dir, ks, storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	s = axsync.New(axsync.Options{Store: st, Keystore: ks, Open: open, BatchSize: 100})
	defer s.Close()
	stat, err := s.Status(context.Background(), "acme")
	if err != nil || stat[0].DeliveredSeq != 300 {
		t.Fatalf("cursor after restart: %+v, %v", stat, err)
	}
	if _, err := s.RunNow(context.Background(), "acme"); err != nil {
		t.Fatal(err)
	}
	synctest.CheckComplete(t, st, "acme", ts.Lines("acme"), 1000)
	if ts.Duplicates != 100 {
		t.Fatalf("%d duplicates, want exactly the 100 of the batch in flight", ts.Duplicates)
	}
}

func TestSyncer_OnlyTheEnabledOrganizationLeaves(t *testing.T) {
	st := synctest.NewStore(t)
	synctest.Append(t, st, "acme", 20)
	synctest.Append(t, st, "globex", 20)
	f := newFixture(t, st, nil)
	if _, err := f.s.RunNow(context.Background(), "acme"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.s.RunNow(context.Background(), "globex"); !errors.Is(err, axsync.ErrNotEnabled) {
		t.Fatalf("RunNow of an organization that did not opt in: %v", err)
	}
	if got := f.ts.Lines("globex"); len(got) != 0 {
		t.Fatalf("%d events of globex left", len(got))
	}
	synctest.CheckComplete(t, st, "acme", f.ts.Lines("acme"), 20)
}

func TestSyncer_DisableStopsAndIsAudited(t *testing.T) {
	st := synctest.NewStore(t)
	f := newFixture(t, st, nil)
	if err := f.s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	synctest.Append(t, st, "acme", 5)
	f.waitDelivered(5, 3*time.Second)
	if err := f.s.Disable(context.Background(), "acme", axsync.KindTenant); err != nil {
		t.Fatal(err)
	}
	synctest.Append(t, st, "acme", 5)
	time.Sleep(200 * time.Millisecond)
	if f.ts.HighestSeq("acme") != 5 {
		t.Fatal("events left after disable")
	}
	if f.rec.count("audit.sync_enabled") != 1 || f.rec.count("audit.sync_disabled") != 1 {
		t.Fatalf("audit events %v", f.rec.events)
	}
	if s := f.status(); s.Enabled || s.State != axsync.StateDisabled {
		t.Fatalf("status %+v", s)
	}
	if err := f.s.Disable(context.Background(), "acme", axsync.KindTenant); !errors.Is(err, axsync.ErrNotEnabled) {
		t.Fatalf("second disable: %v", err)
	}
}

func TestSyncer_StatusOfEveryOrganization(t *testing.T) {
	st := synctest.NewStore(t)
	synctest.Append(t, st, "acme", 3)
	synctest.Append(t, st, "globex", 4)
	f := newFixture(t, st, nil)
	if err := f.s.Enable(context.Background(), axsync.Config{Org: "globex", Kind: axsync.KindWebhook, URL: "http://127.0.0.1:1/", Format: "jsonl"}, []byte("k")); err != nil {
		t.Fatal(err)
	}
	all, err := f.s.Status(context.Background(), "")
	if err != nil || len(all) != 2 {
		t.Fatalf("%+v, %v", all, err)
	}
	if all[0].Org != "acme" || all[0].LagEvents != 3 || all[1].Org != "globex" || all[1].LagEvents != 4 || all[1].To != axsync.KindWebhook {
		t.Fatalf("status of every organization: %+v", all)
	}
}

func TestSyncer_NewTargetGetsTheWholeLog(t *testing.T) {
	st := synctest.NewStore(t)
	synctest.Append(t, st, "acme", 50)
	f := newFixture(t, st, nil)
	if _, err := f.s.RunNow(context.Background(), "acme"); err != nil {
		t.Fatal(err)
	}
	// Same target again (a new token): the cursor stays.
	if err := f.s.Enable(context.Background(), axsync.Config{Org: "acme", Kind: axsync.KindTenant, URL: f.srv.URL}, []byte("tok")); err != nil {
		t.Fatal(err)
	}
	if s := f.status(); s.DeliveredSeq != 50 {
		t.Fatalf("cursor %d after enabling the same target again", s.DeliveredSeq)
	}
	other := tenant.NewServer("tok")
	srv := httptest.NewServer(other)
	defer srv.Close()
	if err := f.s.Enable(context.Background(), axsync.Config{Org: "acme", Kind: axsync.KindTenant, URL: srv.URL}, []byte("tok")); err != nil {
		t.Fatal(err)
	}
	if _, err := f.s.RunNow(context.Background(), "acme"); err != nil {
		t.Fatal(err)
	}
	synctest.CheckComplete(t, st, "acme", other.Lines("acme"), 50)
}

func TestSyncer_TooLargeHalvesTheBatch(t *testing.T) {
	st := synctest.NewStore(t)
	synctest.Append(t, st, "acme", 100)
	f := newFixture(t, st, nil)
	f.ts.MaxBodyBytes = 2500 // a few events per request
	// One run-now halves the batch until the receiver takes it: the CLI's
	// run-now is a process of its own, and a halving kept for a later run
	// would die with it.
	if _, err := f.s.RunNow(context.Background(), "acme"); err != nil {
		t.Fatalf("run-now: %v", err)
	}
	synctest.CheckComplete(t, st, "acme", f.ts.Lines("acme"), 100)
	if s := f.status(); s.State != axsync.StateHealthy {
		t.Fatalf("status %+v", s)
	}
}

// A RunNow that delivers wakes the background loop from its wait before a
// retry (here a Retry-After of an hour): the next new event leaves at once,
// as for a healthy destination, instead of after the wait.
func TestSyncer_RunNowEndsTheRetryWait(t *testing.T) {
	st := synctest.NewStore(t)
	synctest.Append(t, st, "acme", 5)
	f := newFixture(t, st, func(o *axsync.Options) { o.Backoff = axsync.Backoff{Min: time.Hour, Max: time.Hour} })
	var failing atomic.Bool
	failing.Store(true)
	f.setFault(func(w http.ResponseWriter, r *http.Request) bool {
		if !failing.Load() {
			return false
		}
		w.Header().Set("Retry-After", "3600")
		http.Error(w, "busy", http.StatusServiceUnavailable)
		return true
	})
	if err := f.s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	synctest.WaitFor(t, 10*time.Second, func() bool { return f.status().State == axsync.StateRetrying },
		func() string { return fmt.Sprintf("status %+v", f.status()) })
	failing.Store(false)
	if _, err := f.s.RunNow(context.Background(), "acme"); err != nil {
		t.Fatalf("run-now: %v", err)
	}
	if _, err := st.Append(context.Background(), []storage.Event{synctest.Event("acme", 99, time.Now().UTC())}); err != nil {
		t.Fatal(err)
	}
	synctest.WaitFor(t, 10*time.Second, func() bool { return f.ts.HighestSeq("acme") >= 6 },
		func() string {
			return fmt.Sprintf("the destination has up to seq %d; status %+v", f.ts.HighestSeq("acme"), f.status())
		})
}

// A RunNow's wake-up is for a loop waiting to retry: one left over while
// the loop was healthy must not cut short the wait after a later failure
// (a Retry-After of an hour is honoured).
func TestSyncer_StaleWakeUpKeepsTheRetryWait(t *testing.T) {
	st := synctest.NewStore(t)
	synctest.Append(t, st, "acme", 3)
	f := newFixture(t, st, func(o *axsync.Options) { o.Backoff = axsync.Backoff{Min: time.Hour, Max: time.Hour} })
	if err := f.s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	f.waitDelivered(3, 10*time.Second)
	if _, err := f.s.RunNow(context.Background(), "acme"); err != nil { // healthy: the wake-up is left over
		t.Fatal(err)
	}
	f.setFault(func(w http.ResponseWriter, r *http.Request) bool {
		w.Header().Set("Retry-After", "3600")
		http.Error(w, "busy", http.StatusServiceUnavailable)
		return true
	})
	before := f.posts.Load()
	if _, err := st.Append(context.Background(), []storage.Event{synctest.Event("acme", 50, time.Now().UTC())}); err != nil {
		t.Fatal(err)
	}
	synctest.WaitFor(t, 10*time.Second, func() bool { return f.status().State == axsync.StateRetrying },
		func() string { return fmt.Sprintf("status %+v", f.status()) })
	time.Sleep(500 * time.Millisecond)
	if n := f.posts.Load() - before; n != 1 {
		t.Errorf("%d posts after the failure: the hour's wait was cut short", n)
	}
}
