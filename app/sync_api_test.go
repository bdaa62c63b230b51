package app

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	axsync "github.com/axiomops/axiom-audit/app/sync"
)

// syncAPIFixture is the REST API of an App with a keystore, on a real
// loopback listener, with a webhook receiver for organization acme.
type syncAPIFixture struct {
	rest   *restFixture
	app    *App
	rx     *siem
	rxSrv  *httptest.Server
	failRx atomic.Bool // the receiver answers 500
}

func newSyncAPIFixture(t *testing.T) *syncAPIFixture {
	t.Helper()
	a, _, _ := syncTestApp(t)
	ctx := context.Background()
	f := &syncAPIFixture{app: a, rx: &siem{secret: []byte("s3cret")}}
	f.rxSrv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if f.failRx.Load() {
			http.Error(w, "receiver down", http.StatusInternalServerError)
			return
		}
		f.rx.ServeHTTP(w, r)
	}))
	t.Cleanup(f.rxSrv.Close)
	rf := &restFixture{t: t, app: a, tokens: map[string]string{"local": "local-secret"}}
	for name, req := range map[string]TokenRequest{
		"readAcme":   {Org: "acme", Scope: ScopeRead, NewOrg: true},
		"appendAcme": {Org: "acme", Scope: ScopeAppend, NewOrg: true},
		"readBeta":   {Org: "beta", Scope: ScopeRead, NewOrg: true},
	} {
		tok, err := a.createToken(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		rf.tokens[name] = tok.Token
	}
	rf.srv = httptest.NewServer(a.Handler(HandlerOptions{LocalSecret: "local-secret"}))
	t.Cleanup(rf.srv.Close)
	f.rest = rf
	return f
}

func (f *syncAPIFixture) enableWebhook(t *testing.T, url string) {
	t.Helper()
	if err := f.app.syncEnable(context.Background(), SyncConfig{Org: "acme", Kind: axsync.KindWebhook, URL: url, Format: "jsonl"}, []byte("s3cret")); err != nil {
		t.Fatal(err)
	}
}

func decodeSyncStatus(t *testing.T, b []byte) SyncStatusDTO {
	t.Helper()
	var st SyncStatusDTO
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
	return st
}

func TestREST_SyncStatus(t *testing.T) {
	f := newSyncAPIFixture(t)
	rf := f.rest

	// Sync is off: an empty list, not an error.
	resp, b := rf.do("GET", "/api/sync/status?org=acme", rf.tokens["readAcme"], nil)
	if resp.StatusCode != 200 || !strings.Contains(string(b), `"destinations":[]`) {
		t.Fatalf("sync off: %d %s", resp.StatusCode, b)
	}

	f.enableWebhook(t, f.rxSrv.URL+"/hook?api_key=hidden")
	appendN(t, f.app, "acme", 5)
	resp, b = rf.do("GET", "/api/sync/status?org=acme", rf.tokens["readAcme"], nil)
	if resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, b)
	}
	st := decodeSyncStatus(t, b)
	if st.Org != "acme" || len(st.Destinations) != 1 {
		t.Fatalf("status %s", b)
	}
	d := st.Destinations[0]
	if d.Kind != "webhook" || !d.Enabled || d.State != axsync.StateHealthy || d.LagEvents != d.HeadSeq || d.HeadSeq < 6 || d.LastSuccess != nil ||
		d.Format != "jsonl" || d.Includes != "commitments" || d.Target != f.rxSrv.URL+"/hook" {
		t.Fatalf("destination %+v", d)
	}
	// The fields a client relies on are always present.
	for _, k := range []string{`"kind"`, `"enabled"`, `"lagEvents"`, `"lagSeconds"`, `"lastSuccess":null`, `"lastError":""`, `"state"`} {
		if !strings.Contains(string(b), k) {
			t.Errorf("status lacks %s: %s", k, b)
		}
	}
	if strings.Contains(string(b), "hidden") {
		t.Errorf("the status shows the URL's query: %s", b)
	}

	for _, tc := range []struct {
		name, path, token string
		status            int
		code              string
	}{
		{"another organization's token", "/api/sync/status?org=acme", "readBeta", 404, CodeNotFound},
		{"an append token", "/api/sync/status?org=acme", "appendAcme", 403, CodeForbidden},
		{"no credential", "/api/sync/status?org=acme", "", 401, CodeUnauthorized},
		{"no organization", "/api/sync/status", "readAcme", 400, CodeInvalidRequest},
		{"the local user", "/api/sync/status?org=acme", "local", 200, ""},
		{"an organization without sync", "/api/sync/status?org=beta", "readBeta", 200, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, b := rf.do("GET", tc.path, rf.tokens[tc.token], nil)
			if resp.StatusCode != tc.status || (tc.code != "" && errorCode(t, b) != tc.code) {
				t.Fatalf("%d %s", resp.StatusCode, b)
			}
		})
	}
}

func TestREST_SyncRunNow(t *testing.T) {
	f := newSyncAPIFixture(t)
	rf := f.rest

	resp, b := rf.do("POST", "/api/sync/run-now?org=acme", rf.tokens["local"], nil)
	if resp.StatusCode != http.StatusConflict || errorCode(t, b) != CodeConflict || !strings.Contains(string(b), "sync enable") {
		t.Fatalf("run-now with sync off: %d %s", resp.StatusCode, b)
	}

	f.enableWebhook(t, f.rxSrv.URL)
	appendN(t, f.app, "acme", 12)
	resp, b = rf.do("POST", "/api/sync/run-now?org=acme", rf.tokens["readAcme"], nil)
	if resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, b)
	}
	st := decodeSyncStatus(t, b)
	d := st.Destinations[0]
	if st.Error != "" || d.LagEvents != 0 || d.LastSuccess == nil || d.State != axsync.StateHealthy || d.DeliveredSeq != d.HeadSeq {
		t.Fatalf("after run-now: %s", b)
	}
	if n := countSeqLines(f.rx.lines()); uint64(n) != d.HeadSeq {
		t.Fatalf("the receiver has %d events, want %d", n, d.HeadSeq)
	}

	// A failing receiver is reported in the answer, not as a failed request.
	f.failRx.Store(true)
	appendN(t, f.app, "acme", 2)
	resp, b = rf.do("POST", "/api/sync/run-now?org=acme", rf.tokens["local"], nil)
	if resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, b)
	}
	st = decodeSyncStatus(t, b)
	d = st.Destinations[0]
	if !strings.Contains(st.Error, "500") || d.State != axsync.StateRetrying || !strings.Contains(d.LastError, "500") ||
		d.LastErrorAt == nil || d.LagEvents != 2 || d.Failures != 1 {
		t.Fatalf("after a failed run-now: %s", b)
	}

	for _, tc := range []struct {
		name, path, token string
		status            int
		code              string
	}{
		{"another organization's token", "/api/sync/run-now?org=acme", "readBeta", 404, CodeNotFound},
		{"an append token", "/api/sync/run-now?org=acme", "appendAcme", 403, CodeForbidden},
		{"no credential", "/api/sync/run-now?org=acme", "", 401, CodeUnauthorized},
		{"no organization", "/api/sync/run-now", "local", 400, CodeInvalidRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, b := rf.do("POST", tc.path, rf.tokens[tc.token], nil)
			if resp.StatusCode != tc.status || errorCode(t, b) != tc.code {
				t.Fatalf("%d %s", resp.StatusCode, b)
			}
		})
	}
}
