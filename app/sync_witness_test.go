package app

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	gosync "sync"
	"testing"

	axsync "github.com/axiomops/axiom-audit/app/sync"
	"github.com/axiomops/axiom-audit/app/sync/tenant"
	"github.com/axiomops/axiom-audit/storage"
	"github.com/axiomops/axiom-audit/storage/keystore"
	"github.com/axiomops/axiom-audit/storage/tlog"
)

// witnessTenant is a real tenant.Server on loopback that witnesses this
// installation's checkpoints, behind a handler that can rewrite its
// acknowledgements: a tenant restored from a backup, or one that lies.
type witnessTenant struct {
	ts  *tenant.Server
	srv *httptest.Server

	mu      gosync.Mutex
	rewrite func(a *tenant.AckResponse) // nil: answer as the server does
	refuse  bool                        // answer 409 "inconsistent"
}

func newWitnessTenant(t *testing.T, st *storage.Store) *witnessTenant {
	t.Helper()
	ctx := context.Background()
	vkey, err := st.PublicKey(ctx)
	if err != nil {
		t.Fatal(err)
	}
	inst, err := st.InstallationID(ctx)
	if err != nil {
		t.Fatal(err)
	}
	wt := &witnessTenant{ts: tenant.NewServer("tok")}
	wt.ts.VerifierKey = vkey
	wt.ts.Origin = func(org string) string { return tlog.Origin(inst, org) }
	wt.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		wt.mu.Lock()
		rw, refuse := wt.rewrite, wt.refuse
		wt.mu.Unlock()
		if refuse {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusConflict)
			_, _ = w.Write([]byte(`{"code":"inconsistent","message":"the checkpoint has the witnessed size but another root"}`))
			return
		}
		if rw == nil {
			wt.ts.ServeHTTP(w, r)
			return
		}
		rec := httptest.NewRecorder()
		wt.ts.ServeHTTP(rec, r)
		if rec.Code != http.StatusOK {
			w.WriteHeader(rec.Code)
			_, _ = w.Write(rec.Body.Bytes())
			return
		}
		var a tenant.AckResponse
		if err := json.Unmarshal(rec.Body.Bytes(), &a); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		rw(&a)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(a)
	}))
	t.Cleanup(wt.srv.Close)
	return wt
}

func (wt *witnessTenant) setRewrite(fn func(a *tenant.AckResponse)) {
	wt.mu.Lock()
	defer wt.mu.Unlock()
	wt.rewrite = fn
}

// signWithThisInstallation signs a checkpoint of org with the profile's own
// checkpoint key, as only a log of this installation could: what a tenant
// holds after this machine's log was rewritten behind its back.
func signWithThisInstallation(t *testing.T, st *storage.Store, ks storage.Keystore, org string, size uint64, root tlog.Hash) []byte {
	t.Helper()
	ctx := context.Background()
	skey, err := ks.Get(ctx, storage.KeySigning)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := tlog.NewSigner(string(skey))
	if err != nil {
		t.Fatal(err)
	}
	inst, _ := st.InstallationID(ctx)
	n, err := tlog.Sign(tlog.Checkpoint{Origin: tlog.Origin(inst, org), Size: size, Root: root}, signer)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// syncRound appends n events to org, signs a checkpoint and runs sync.
func syncRound(t *testing.T, a *App, st *storage.Store, org string, n int) ([]SyncStatus, error) {
	t.Helper()
	appendN(t, a, org, n)
	if _, err := st.Checkpoint(context.Background(), org); err != nil {
		t.Fatal(err)
	}
	return a.syncRunNow(context.Background(), org)
}

func enableTenant(t *testing.T, a *App, org, url string) {
	t.Helper()
	if err := a.syncEnable(context.Background(), SyncConfig{Org: org, Kind: axsync.KindTenant, URL: url}, []byte("tok")); err != nil {
		t.Fatal(err)
	}
}

// A tenant restored from an old backup acknowledges less than it had, with
// an older checkpoint that is still consistent with the local log: that is
// data loss on its side, not tampering on ours. Sync resends, no alert.
func TestSync_TenantAcksGoBackwardsConsistentlyNoAlert(t *testing.T) {
	a, st, _ := syncTestApp(t)
	ctx := context.Background()
	wt := newWitnessTenant(t, st)
	enableTenant(t, a, "acme", wt.srv.URL)
	if _, err := syncRound(t, a, st, "acme", 40); err != nil {
		t.Fatal(err)
	}
	old, err := st.LatestCheckpoint(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := syncRound(t, a, st, "acme", 40); err != nil {
		t.Fatal(err)
	}
	// The restore: the tenant forgets what came after the old checkpoint
	// and answers with that checkpoint, once.
	wt.ts.Forget("acme", old.Checkpoint.Size)
	var once gosync.Once
	wt.setRewrite(func(r *tenant.AckResponse) {
		once.Do(func() { r.HighestSeq, r.Checkpoint = old.Checkpoint.Size, string(old.Note) })
	})
	for range 3 {
		_, _ = syncRound(t, a, st, "acme", 5)
	}
	wt.setRewrite(nil)
	if _, err := a.syncRunNow(ctx, "acme"); err != nil {
		t.Fatal(err)
	}
	if alerts := st.IntegrityAlerts(ctx); len(alerts) != 0 {
		t.Fatalf("alerts %+v", alerts)
	}
	head, _, _ := st.Head(ctx, "acme")
	if got := wt.ts.HighestSeq("acme"); got != head {
		t.Fatalf("tenant holds %d, log has %d", got, head)
	}
	if sts, _ := a.syncStatus(ctx, "acme"); sts[0].State != axsync.StateHealthy || sts[0].LagEvents != 0 {
		t.Fatalf("status %+v", sts[0])
	}
}

// A tenant holding a checkpoint of this installation that the local log
// does not extend is evidence that the local log was rewritten, rolled back
// or truncated (DESIGN.md §5): the integrity alert is raised in the store,
// persisted, and appends to that organization fail closed until it is
// acknowledged; other organizations are not affected.
func TestSync_WitnessInconsistentRaisesThePersistedIntegrityAlert(t *testing.T) {
	for _, tc := range []struct {
		name string
		// rewrite returns how the tenant answers from now on.
		rewrite func(t *testing.T, st *storage.Store, ks storage.Keystore, head uint64) func(*tenant.AckResponse)
		// note: the alert's evidence holds the witnessed checkpoint.
		note bool
	}{
		{"bigger than the local log (truncated or rolled back)", func(t *testing.T, st *storage.Store, ks storage.Keystore, head uint64) func(*tenant.AckResponse) {
			n := signWithThisInstallation(t, st, ks, "acme", head+25, tlog.Hash{1})
			return func(r *tenant.AckResponse) { r.Checkpoint = string(n) }
		}, true},
		{"another root at a smaller size (rewritten history)", func(t *testing.T, st *storage.Store, ks storage.Keystore, head uint64) func(*tenant.AckResponse) {
			n := signWithThisInstallation(t, st, ks, "acme", 10, tlog.Hash{2})
			return func(r *tenant.AckResponse) { r.Checkpoint = string(n) }
		}, true},
		{"acks go backwards with another root at the same size", func(t *testing.T, st *storage.Store, ks storage.Keystore, head uint64) func(*tenant.AckResponse) {
			n := signWithThisInstallation(t, st, ks, "acme", 40, tlog.Hash{3})
			return func(r *tenant.AckResponse) { r.HighestSeq, r.Checkpoint = 40, string(n) }
		}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			ks := keystore.NewMemory()
			dir := t.TempDir()
			st, err := storage.Open(ctx, dir, ks, storage.Options{})
			if err != nil {
				t.Fatal(err)
			}
			a, err := New(Options{Store: st, Keystore: ks, User: "tester", Version: "test"})
			if err != nil {
				t.Fatal(err)
			}
			closed := false
			closeAll := func() {
				if !closed {
					closed = true
					a.Close()
					st.Close()
				}
			}
			t.Cleanup(func() { closeAll() })
			wt := newWitnessTenant(t, st)
			enableTenant(t, a, "acme", wt.srv.URL)
			appendN(t, a, "beta", 3)
			if _, err := syncRound(t, a, st, "acme", 40); err != nil {
				t.Fatal(err)
			}
			if _, err := syncRound(t, a, st, "acme", 20); err != nil {
				t.Fatal(err)
			}
			head, _, _ := st.Head(ctx, "acme")
			wt.setRewrite(tc.rewrite(t, st, ks, head))

			_, err = syncRound(t, a, st, "acme", 5)
			if !errors.Is(err, axsync.ErrInconsistent) {
				t.Fatalf("run-now: %v, want the inconsistency", err)
			}
			alerts := st.IntegrityAlerts(ctx)
			if len(alerts) != 1 || alerts[0].Org != "acme" || alerts[0].Kind != storage.AlertExternal {
				t.Fatalf("alerts %+v", alerts)
			}
			ev := alerts[0].Evidence
			if !strings.HasPrefix(ev["destination"], "tenant http://127.0.0.1") || ev["source"] != "sync witness" ||
				(tc.note && !strings.Contains(ev["witnessedCheckpoint"], "axiom-audit/")) || !strings.Contains(alerts[0].Detail, "sync witness") {
				t.Fatalf("alert %+v", alerts[0])
			}
			// The failure was recorded before the alert closed the log.
			if got := actionTypes(t, st, "acme"); got[len(got)-1] != "audit.sync_failed" {
				t.Fatalf("the log's own events end with %v", got)
			}
			// Appends to acme fail closed; beta is not affected.
			if _, err := a.appendEvents(ctx, []storage.Event{TestEvent("acme", 1, a.opts.Now())}); !errors.Is(err, storage.ErrIntegrityAlert) {
				t.Fatalf("append to acme under the alert: %v", err)
			}
			if code, status := ErrorCode(storage.ErrIntegrityAlert); code != CodeIntegrityAlert || status != http.StatusLocked {
				t.Fatalf("code %s %d", code, status)
			}
			appendN(t, a, "beta", 1)
			sts, _ := a.syncStatus(ctx, "acme")
			if sts[0].State != axsync.StateStopped || !strings.Contains(sts[0].Stopped, "integrity alert") {
				t.Fatalf("status %+v", sts[0])
			}
			// run-now neither lifts the stop nor raises a second alert.
			if _, err := a.syncRunNow(ctx, "acme"); err == nil {
				t.Fatal("run-now resumed a destination stopped by an integrity alert")
			}

			// The alert survives a restart.
			closeAll()
			st2, err := storage.Open(ctx, dir, ks, storage.Options{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st2.Close() })
			a2, err := New(Options{Store: st2, Keystore: ks, User: "tester", Version: "test"})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { a2.Close() })
			if alerts := st2.IntegrityAlerts(ctx); len(alerts) != 1 || alerts[0].Org != "acme" {
				t.Fatalf("after reopening: alerts %+v", alerts)
			}
			if _, err := a2.appendEvents(ctx, []storage.Event{TestEvent("acme", 2, a2.opts.Now())}); !errors.Is(err, storage.ErrIntegrityAlert) {
				t.Fatalf("append to acme after reopening: %v", err)
			}
			// Acknowledged, with the witness's evidence in the record.
			if _, err := st2.AcknowledgeIntegrityAlert(ctx, "acme", "tester", "restored the right database"); err != nil {
				t.Fatal(err)
			}
			appendN(t, a2, "acme", 1)
			evs, err := st2.ReadFrom(ctx, "acme", 0, 10000, false)
			if err != nil {
				t.Fatal(err)
			}
			var ackMeta string
			for _, e := range evs {
				if e.ActionType == "audit.integrity_alert_acknowledged" {
					ackMeta = string(e.Metadata)
				}
			}
			if !strings.Contains(ackMeta, `"source":"sync witness"`) || !strings.Contains(ackMeta, `"destination":"tenant http://127.0.0.1`) {
				t.Fatalf("acknowledgement metadata %s", ackMeta)
			}
		})
	}
}

// A tenant that refuses the newest checkpoint as inconsistent with what it
// witnessed (409 "inconsistent") raises the alert as well.
func TestSync_TenantRefusesTheCheckpointRaisesTheAlert(t *testing.T) {
	a, st, _ := syncTestApp(t)
	ctx := context.Background()
	wt := newWitnessTenant(t, st)
	enableTenant(t, a, "acme", wt.srv.URL)
	if _, err := syncRound(t, a, st, "acme", 30); err != nil {
		t.Fatal(err)
	}
	wt.mu.Lock()
	wt.refuse = true
	wt.mu.Unlock()
	if _, err := syncRound(t, a, st, "acme", 5); !errors.Is(err, axsync.ErrInconsistent) {
		t.Fatalf("run-now: %v", err)
	}
	alerts := st.IntegrityAlerts(ctx)
	if len(alerts) != 1 || !strings.Contains(alerts[0].Detail, "the tenant refused the checkpoint") {
		t.Fatalf("alerts %+v", alerts)
	}
	if _, err := a.appendEvents(ctx, []storage.Event{TestEvent("acme", 1, a.opts.Now())}); !errors.Is(err, storage.ErrIntegrityAlert) {
		t.Fatalf("append under the alert: %v", err)
	}
}
