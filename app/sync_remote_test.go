package app

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	axsync "github.com/axiomops/axiom-audit/app/sync"
	"github.com/axiomops/axiom-audit/storage"
)

// `axiom-audit sync ...` works while the desktop app holds the profile: it
// goes through the app's local API with the credential the app left in the
// keychain, and the app's Syncer does the work.
func TestCLI_SyncThroughTheDesktopAPI(t *testing.T) {
	ctx := context.Background()
	a, ks, paths := profileApp(t)
	stop, err := a.startLocalAPI(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	appendN(t, a, "acme", 9)

	rx := &siem{secret: []byte("s3cret")}
	srv := httptest.NewServer(rx)
	defer srv.Close()
	run := func(args ...string) (string, string, int) {
		t.Helper()
		var out, errb bytes.Buffer
		root := NewRootCommand(CLIConfig{
			Version: "test",
			Open: func(context.Context, Globals) (*App, func() error, error) {
				return nil, nil, fmt.Errorf("the audit log is open in another process: %w", storage.ErrLocked)
			},
			Remote: func(ctx context.Context, _ Globals) (*RemoteClient, error) { return DialDesktop(ctx, paths, ks) },
			Stdout: &out,
			Stderr: &errb,
		})
		root.SetArgs(args)
		err := root.ExecuteContext(ctx)
		if err != nil {
			errb.WriteString(Explain(err) + "\n")
		}
		return out.String(), errb.String(), ExitCode(err)
	}

	if out, stderr, code := run("sync", "enable", "--org", "acme", "--to", "webhook", "--url", srv.URL, "--format", "jsonl",
		"--secret-file", writeFile(t, "secret", "s3cret\n")); code != 0 || !strings.Contains(out, "enabled") {
		t.Fatalf("enable: exit %d, %s %s", code, out, stderr)
	}
	if got, err := ks.Get(ctx, axsync.SecretName("acme", axsync.KindWebhook)); err != nil || string(got) != "s3cret" {
		t.Fatalf("the secret in the keychain: %q %v", got, err)
	}
	if out, stderr, code := run("sync", "run-now", "--org", "acme"); code != 0 {
		t.Fatalf("run-now: exit %d, %s %s", code, out, stderr)
	}
	head, _, _ := a.store.Head(ctx, "acme")
	if n := countSeqLines(rx.lines()); uint64(n) != head {
		t.Fatalf("the receiver has %d events, the log %d", n, head)
	}
	out, stderr, code := run("sync", "status", "--org", "acme", "--json")
	if code != 0 {
		t.Fatalf("status: exit %d, %s", code, stderr)
	}
	var sts []map[string]any
	if err := json.Unmarshal([]byte(out), &sts); err != nil || len(sts) != 1 {
		t.Fatalf("status --json: %v %s", err, out)
	}
	if sts[0]["to"] != "webhook" || sts[0]["lagEvents"] != float64(0) || sts[0]["lastSuccess"] == nil || sts[0]["state"] != "healthy" {
		t.Fatalf("status --json: %s", out)
	}
	if out, stderr, code := run("sync", "disable", "--org", "acme", "--to", "webhook"); code != 0 || !strings.Contains(out, "disabled") {
		t.Fatalf("disable: exit %d, %s %s", code, out, stderr)
	}
	if _, stderr, code := run("sync", "run-now", "--org", "acme"); code == 0 || !strings.Contains(stderr, "sync is off") {
		t.Fatalf("run-now after disable: exit %d, %s", code, stderr)
	}
	got := actionTypes(t, a.store, "acme")
	if strings.Join(got, " ") != "audit.sync_enabled audit.sync_disabled" {
		t.Fatalf("the log's own events: %v", got)
	}

	// While it runs, the app delivers by itself too.
	a.startSync()
	if _, _, code := run("sync", "enable", "--org", "acme", "--to", "webhook", "--url", srv.URL, "--format", "jsonl",
		"--secret-file", writeFile(t, "secret", "s3cret")); code != 0 {
		t.Fatal("enable again")
	}
	appendN(t, a, "acme", 2)
	waitFor(t, 5*time.Second, "the app's loop to deliver", func() bool {
		h, _, _ := a.store.Head(ctx, "acme")
		return uint64(countSeqLines(rx.lines())) >= h
	})
}

// Enabling and disabling over REST answer only the desktop app's local
// credential: not a token, not a browser session.
func TestREST_SyncEnableOnlyForTheLocalCLI(t *testing.T) {
	f := newSyncAPIFixture(t)
	rf := f.rest
	body := func() *strings.Reader {
		b, _ := json.Marshal(syncEnableRequest{Config: SyncConfig{Org: "acme", Kind: axsync.KindWebhook, URL: f.rxSrv.URL, Format: "jsonl"}, Secret: []byte("s3cret")})
		return strings.NewReader(string(b))
	}
	login := httptest.NewServer(f.app.Handler(HandlerOptions{LoginToken: "one-time", LocalSecret: "local-secret"}))
	defer login.Close()
	sess := &restFixture{t: t, app: f.app, srv: login}
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noRedirect.Get(login.URL + "/login?token=one-time")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var cookie string
	for _, c := range resp.Cookies() {
		if c.Name == sessionCookie {
			cookie = c.Name + "=" + c.Value
		}
	}
	if cookie == "" {
		t.Fatal("no session cookie")
	}
	key := sessionKeyOf(t, resp)
	for _, tc := range []struct {
		name   string
		do     func() (int, []byte)
		status int
	}{
		{"a read token", func() (int, []byte) {
			r, b := rf.do("POST", "/api/sync/enable", rf.tokens["readAcme"], body())
			return r.StatusCode, b
		}, 403},
		{"an append token", func() (int, []byte) {
			r, b := rf.do("POST", "/api/sync/enable", rf.tokens["appendAcme"], body())
			return r.StatusCode, b
		}, 403},
		{"a browser session", func() (int, []byte) {
			r, b := sess.do("POST", "/api/sync/enable", "", body(), "Cookie", cookie, sessionKeyHeader, key, "Sec-Fetch-Site", "same-origin")
			return r.StatusCode, b
		}, 403},
		{"a browser session disabling", func() (int, []byte) {
			r, b := sess.do("POST", "/api/sync/disable?org=acme&to=webhook", "", nil, "Cookie", cookie, sessionKeyHeader, key, "Sec-Fetch-Site", "same-origin")
			return r.StatusCode, b
		}, 403},
		{"no credential", func() (int, []byte) {
			r, b := rf.do("POST", "/api/sync/enable", "", body())
			return r.StatusCode, b
		}, 401},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if status, b := tc.do(); status != tc.status {
				t.Fatalf("%d %s", status, b)
			}
		})
	}
	if got := actionTypes(t, f.app.store, "acme"); strings.Contains(strings.Join(got, " "), "audit.sync_enabled") {
		t.Fatalf("enabled by a refused request: %v", got)
	}
	// The session still works for reading.
	resp, b := sess.do("GET", "/api/sync/status?org=acme", "", nil, "Cookie", cookie, sessionKeyHeader, key, "Sec-Fetch-Site", "same-origin")
	if resp.StatusCode != 200 {
		t.Fatalf("status with the session: %d %s", resp.StatusCode, b)
	}

	resp, b = rf.do("POST", "/api/sync/enable", rf.tokens["local"], body())
	if resp.StatusCode != 200 || !strings.Contains(string(b), `"kind":"webhook"`) {
		t.Fatalf("enable with the local credential: %d %s", resp.StatusCode, b)
	}
	resp, b = rf.do("POST", "/api/sync/enable", rf.tokens["local"], strings.NewReader(`{"config":{"org":"acme","kind":"webhook","url":"http://x","format":"jsonl"}}`))
	if resp.StatusCode != 400 || errorCode(t, b) != CodeInvalidRequest {
		t.Fatalf("a webhook without a secret: %d %s", resp.StatusCode, b)
	}
	resp, b = rf.do("POST", "/api/sync/disable?org=acme&to=s3", rf.tokens["local"], nil)
	if resp.StatusCode != 409 {
		t.Fatalf("disable what is not enabled: %d %s", resp.StatusCode, b)
	}
	resp, b = rf.do("POST", "/api/sync/disable?org=acme&to=webhook", rf.tokens["local"], nil)
	if resp.StatusCode != 200 || !strings.Contains(string(b), `"state":"disabled"`) {
		t.Fatalf("disable: %d %s", resp.StatusCode, b)
	}
}
