package app

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	gosync "sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/spf13/cobra"

	axsync "github.com/axiomops/axiom-audit/app/sync"
	"github.com/axiomops/axiom-audit/app/sync/tenant"
	"github.com/axiomops/axiom-audit/app/sync/webhook"
	"github.com/axiomops/axiom-audit/storage"
	"github.com/axiomops/axiom-audit/storage/keystore"
	"github.com/axiomops/axiom-audit/storage/tlog"
)

// syncTestApp is an App over a real store with a keystore for secrets.
func syncTestApp(t *testing.T) (*App, *storage.Store, storage.Keystore) {
	t.Helper()
	ks := keystore.NewMemory()
	st, err := storage.Open(context.Background(), t.TempDir(), ks, storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	a, err := New(Options{Store: st, Keystore: ks, User: "tester", Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		a.Close()
		st.Close()
	})
	return a, st, ks
}

// siem is a webhook receiver that verifies signatures and keeps bodies.
type siem struct {
	secret []byte
	mu     gosync.Mutex
	bodies [][]byte
	types  []string
	auth   []string
}

func (s *siem) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	raw, _ := io.ReadAll(r.Body)
	if err := webhook.Verify(s.secret, r.Header.Get(webhook.SignatureHeader), raw, time.Now(), 0); err != nil {
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	zr, err := gzip.NewReader(bytes.NewReader(raw))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	body, _ := io.ReadAll(zr)
	s.mu.Lock()
	s.bodies = append(s.bodies, body)
	s.types = append(s.types, r.Header.Get("Content-Type"))
	s.auth = append(s.auth, r.Header.Get("Authorization"))
	s.mu.Unlock()
	w.WriteHeader(http.StatusOK)
}

func (s *siem) lines() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, b := range s.bodies {
		sc := bufio.NewScanner(bytes.NewReader(b))
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			out = append(out, sc.Text())
		}
	}
	return out
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func appendN(t *testing.T, a *App, org string, n int) {
	t.Helper()
	evs := make([]storage.Event, n)
	for i := range evs {
		evs[i] = TestEvent(org, i, time.Now().Add(-time.Minute))
	}
	if _, err := a.appendEvents(context.Background(), evs); err != nil {
		t.Fatal(err)
	}
}

func actionTypes(t *testing.T, st *storage.Store, org string) []string {
	t.Helper()
	evs, err := st.ReadFrom(context.Background(), org, 0, 10000, false)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range evs {
		if strings.HasPrefix(e.ActionType, "audit.") {
			out = append(out, e.ActionType)
		}
	}
	return out
}

func TestCLI_SyncWebhook(t *testing.T) {
	a, st, ks := syncTestApp(t)
	rc := &siem{secret: []byte("whsec_123")}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	appendN(t, a, "acme", 30)
	appendN(t, a, "globex", 10)

	secretFile := writeFile(t, "secret", "whsec_123\n")
	_, stderr, code := runCLI(t, a, "", "--profile", "test", "--keystore", "file", "sync", "enable", "--org", "acme", "--to", "webhook", "--url", srv.URL, "--format", "jsonl", "--secret-file", secretFile)
	if code != 0 {
		t.Fatalf("enable: exit %d: %s", code, stderr)
	}
	if got, err := ks.Get(context.Background(), axsync.SecretName("acme", axsync.KindWebhook)); err != nil || string(got) != "whsec_123" {
		t.Fatalf("keychain holds %q, %v", got, err)
	}
	_ = st.ScanSettings(context.Background(), "", func(name string, v []byte) error {
		if bytes.Contains(v, []byte("whsec_123")) {
			t.Errorf("setting %s holds the secret", name)
		}
		return nil
	})

	stdout, stderr, code := runCLI(t, a, "", "sync", "status", "--org", "acme", "--json")
	var before []map[string]any
	if code != 0 || json.Unmarshal([]byte(stdout), &before) != nil || len(before) != 1 {
		t.Fatalf("status: exit %d %s %s", code, stdout, stderr)
	}
	if before[0]["lagEvents"].(float64) != 31 || before[0]["lastSuccess"] != nil { // 30 + audit.sync_enabled
		t.Fatalf("status before: %v", before[0])
	}

	_, stderr, code = runCLI(t, a, "", "sync", "run-now", "--org", "acme")
	if code != 0 {
		t.Fatalf("run-now: exit %d: %s", code, stderr)
	}
	lines := rc.lines()
	if len(lines) != 31 {
		t.Fatalf("receiver got %d lines, want 31", len(lines))
	}
	for i, l := range lines {
		var ln axsync.Line
		if err := json.Unmarshal([]byte(l), &ln); err != nil || ln.Org != "acme" || ln.Seq != uint64(i+1) {
			t.Fatalf("line %d: %s", i, l)
		}
	}
	stdout, _, _ = runCLI(t, a, "", "sync", "status", "--org", "acme", "--json")
	var after []map[string]any
	if err := json.Unmarshal([]byte(stdout), &after); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"lagEvents", "lagSeconds", "lastSuccess", "lastError"} {
		if _, ok := after[0][k]; !ok {
			t.Errorf("status --json lacks %s: %s", k, stdout)
		}
	}
	if after[0]["lagEvents"].(float64) != 0 || after[0]["lastSuccess"] == nil || after[0]["lastError"] != "" {
		t.Fatalf("status after: %v", after[0])
	}
	stdout, _, code = runCLI(t, a, "", "sync", "status", "--org", "acme")
	if code != 0 || !strings.Contains(stdout, "LAG EVENTS") || !strings.Contains(stdout, "webhook") {
		t.Fatalf("status table:\n%s", stdout)
	}

	stdout, stderr, code = runCLI(t, a, "", "sync", "disable", "--org", "acme", "--to", "webhook")
	if code != 0 || !strings.Contains(stdout, "its secret was erased from the profile's keystore") {
		t.Fatalf("disable: exit %d: %s%s", code, stdout, stderr)
	}
	if got, _ := ks.Get(context.Background(), axsync.SecretName("acme", axsync.KindWebhook)); len(got) != 0 {
		t.Fatal("the secret stayed in the keychain after disable")
	}
	if got := strings.Join(actionTypes(t, st, "acme"), ","); got != "audit.sync_enabled,audit.sync_disabled" {
		t.Fatalf("audit events of acme: %s", got)
	}
	if got := actionTypes(t, st, "globex"); len(got) != 0 {
		t.Fatalf("audit events in globex: %v", got)
	}
}

func TestCLI_SyncWebhookOCSF(t *testing.T) {
	a, _, _ := syncTestApp(t)
	rc := &siem{secret: []byte("k")}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	appendN(t, a, "acme", 5)
	if _, stderr, code := runCLI(t, a, "", "sync", "enable", "--org", "acme", "--to", "webhook", "--url", srv.URL, "--format", "ocsf", "--secret-file", writeFile(t, "s", "k")); code != 0 {
		t.Fatal(stderr)
	}
	if _, stderr, code := runCLI(t, a, "", "sync", "run-now", "--org", "acme"); code != 0 {
		t.Fatal(stderr)
	}
	lines := rc.lines()
	if len(lines) != 6 {
		t.Fatalf("%d lines", len(lines))
	}
	var ev map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &ev); err != nil || ev["class_uid"] == nil {
		t.Fatalf("not OCSF: %s", lines[0])
	}
}

func TestCLI_SyncFlagErrors(t *testing.T) {
	a, _, _ := syncTestApp(t)
	for _, args := range [][]string{
		{"sync", "enable", "--to", "webhook"},
		{"sync", "enable", "--org", "acme", "--to", "ftp"},
		{"sync", "enable", "--org", "acme", "--to", "webhook", "--url", "https://x", "--format", "xml", "--secret-file", writeFile(t, "s", "k")},
		{"sync", "enable", "--org", "acme", "--to", "webhook", "--url", "https://x", "--format", "jsonl"},
		{"sync", "enable", "--org", "acme", "--to", "s3", "--bucket", "b", "--url", "https://x"},
		{"sync", "enable", "--org", "acme", "--to", "tenant", "--url", "https://x", "--token-file", writeFile(t, "t", "tok"), "--include-sensitive"},
		{"sync", "enable", "--org", "acme", "--to", "tenant", "--url", "https://x"},
		{"sync", "disable", "--org", "acme", "--to", "s3"},
		{"sync", "run-now", "--org", "acme"},
		{"sync", "status"},
	} {
		_, stderr, code := runCLI(t, a, "", args...)
		if code == 0 || stderr == "" {
			t.Errorf("%v: exit %d, stderr %q", args, code, stderr)
		}
	}
}

func TestCLI_SyncTenantWitness(t *testing.T) {
	a, st, _ := syncTestApp(t)
	ctx := context.Background()
	vkey, err := st.PublicKey(ctx)
	if err != nil {
		t.Fatal(err)
	}
	inst, _ := st.InstallationID(ctx)
	ts := tenant.NewServer("tok")
	ts.VerifierKey = vkey
	ts.Origin = func(org string) string { return tlog.Origin(inst, org) }
	srv := httptest.NewServer(ts)
	defer srv.Close()
	appendN(t, a, "acme", 1) // sync enable names an organization with events
	if _, stderr, code := runCLI(t, a, "", "sync", "enable", "--org", "acme", "--to", "tenant", "--url", srv.URL, "--token-file", writeFile(t, "tok", "tok")); code != 0 {
		t.Fatal(stderr)
	}
	for round := 0; round < 3; round++ {
		appendN(t, a, "acme", 40)
		if _, err := st.Checkpoint(ctx, "acme"); err != nil {
			t.Fatal(err)
		}
		if stdout, stderr, code := runCLI(t, a, "", "sync", "run-now", "--org", "acme"); code != 0 {
			t.Fatalf("round %d: %s %s", round, stdout, stderr)
		}
	}
	head, _, _ := st.Head(ctx, "acme")
	if got := ts.HighestSeq("acme"); got != head {
		t.Fatalf("tenant holds %d, log has %d", got, head)
	}
	sts, _ := a.syncStatus(ctx, "acme")
	if sts[0].State != axsync.StateHealthy {
		t.Fatalf("status %+v", sts[0])
	}
}

func TestCLI_SyncSensitiveStatesOnlyWhenEnabled(t *testing.T) {
	a, _, _ := syncTestApp(t)
	for _, org := range []string{"plain", "revealing"} {
		e := TestEvent(org, 1, time.Now().Add(-time.Minute))
		e.AfterState = json.RawMessage(`{"password":"hunter2"}`)
		if _, err := a.appendEvents(context.Background(), []storage.Event{e}); err != nil {
			t.Fatal(err)
		}
	}
	plain, revealing := &siem{secret: []byte("k")}, &siem{secret: []byte("k")}
	for org, rc := range map[string]*siem{"plain": plain, "revealing": revealing} {
		srv := httptest.NewServer(rc)
		defer srv.Close()
		args := []string{"sync", "enable", "--org", org, "--to", "webhook", "--url", srv.URL, "--format", "jsonl", "--secret-file", writeFile(t, "s", "k")}
		if org == "revealing" {
			args = append(args, "--include-sensitive")
		}
		if _, stderr, code := runCLI(t, a, "", args...); code != 0 {
			t.Fatal(stderr)
		}
		if _, stderr, code := runCLI(t, a, "", "sync", "run-now", "--org", org); code != 0 {
			t.Fatal(stderr)
		}
	}
	if got := strings.Join(plain.lines(), "\n"); strings.Contains(got, "hunter2") || !strings.Contains(got, "afterStateCommitment") {
		t.Fatalf("default sync sent the state (or no commitment):\n%s", got)
	}
	if got := strings.Join(revealing.lines(), "\n"); !strings.Contains(got, "hunter2") {
		t.Fatalf("--include-sensitive did not send the state:\n%s", got)
	}
}

func TestCLI_SyncWebhookSplunkHEC(t *testing.T) {
	a, _, _ := syncTestApp(t)
	rc := &siem{secret: []byte("hec-token")}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	appendN(t, a, "acme", 3)
	if _, stderr, code := runCLI(t, a, "", "sync", "enable", "--org", "acme", "--to", "webhook", "--url", srv.URL+"/services/collector/event", "--format", "splunk-hec", "--secret-file", writeFile(t, "s", "hec-token")); code != 0 {
		t.Fatal(stderr)
	}
	if _, stderr, code := runCLI(t, a, "", "sync", "run-now", "--org", "acme"); code != 0 {
		t.Fatal(stderr)
	}
	if len(rc.auth) != 1 || rc.auth[0] != "Splunk hec-token" || rc.types[0] != "application/json" {
		t.Fatalf("auth %q, content types %q", rc.auth, rc.types)
	}
	dec := json.NewDecoder(bytes.NewReader(rc.bodies[0]))
	n := 0
	for dec.More() {
		var env map[string]any
		if err := dec.Decode(&env); err != nil || env["event"] == nil {
			t.Fatalf("HEC envelope %d: %v %v", n, env, err)
		}
		n++
	}
	if n != 4 {
		t.Fatalf("%d HEC envelopes, want 4", n)
	}
}

// What sync enable and status print of a URL leaves out user info and the
// query, where receivers' credentials hide; a URL sync could not use is
// refused at enable (exit 2), and nothing is recorded.
func TestCLI_SyncURLs(t *testing.T) {
	a, st, _ := syncTestApp(t)
	appendN(t, a, "acme", 3)
	secretFile := writeFile(t, "secret", "whsec_123\n")
	enable := func(url string) (string, string, int) {
		return runCLI(t, a, "", "sync", "enable", "--org", "acme", "--to", "webhook", "--url", url, "--format", "jsonl", "--secret-file", secretFile)
	}
	for _, bad := range []string{"not a url", "https:///nohost", "ftp://x/y", "http://203.0.113.5/x"} {
		_, stderr, code := enable(bad)
		if code != 2 || !strings.Contains(stderr, "URL") {
			t.Errorf("enable --url %q: exit %d, stderr %q; want exit 2 naming the URL", bad, code, stderr)
		}
	}
	if got := actionTypes(t, st, "acme"); len(got) != 0 {
		t.Fatalf("refused enables recorded %v", got)
	}
	stdout, stderr, code := enable("http://user:hunter2@127.0.0.1:1/q?token=SECRETTOKEN")
	if code != 0 {
		t.Fatalf("enable: exit %d: %s", code, stderr)
	}
	status, _, _ := runCLI(t, a, "", "sync", "status", "--org", "acme")
	statusJSON, _, _ := runCLI(t, a, "", "sync", "status", "--org", "acme", "--json")
	for what, out := range map[string]string{"enable": stdout + stderr, "status": status, "status --json": statusJSON} {
		if strings.Contains(out, "hunter2") || strings.Contains(out, "SECRETTOKEN") || !strings.Contains(out, "http://127.0.0.1:1/q") {
			t.Errorf("%s shows the URL's credentials, or not the URL:\n%s", what, out)
		}
	}
}

// sync enable records the opt-in in the organization's log, so an --org
// with no events (a typo) is refused, naming the organizations there are,
// rather than made an organization for good.
func TestCLI_SyncEnableNeedsAnOrganization(t *testing.T) {
	a, st, _ := syncTestApp(t)
	appendN(t, a, "acme-prod", 2)
	_, stderr, code := runCLI(t, a, "", "sync", "enable", "--org", "acme-prd", "--to", "s3", "--bucket", "b")
	if code != 2 || !strings.Contains(stderr, `no organization "acme-prd"`) || !strings.Contains(stderr, "acme-prod") {
		t.Errorf("enable --org acme-prd: exit %d, stderr %q; want exit 2 naming acme-prod", code, stderr)
	}
	orgs, err := st.Organizations(context.Background())
	if err != nil || len(orgs) != 1 {
		t.Errorf("organizations after the refusal: %v %v", orgs, err)
	}
}

// Events retention prunes before a destination received them are holes in
// its copy: sweep warns about the destination's backlog first, and sync
// status counts the pruned events the cursor passed, in the table and
// the JSON.
func TestCLI_SyncCountsWhatRetentionPrunedFirst(t *testing.T) {
	a, _, _ := syncTestApp(t)
	rc := &siem{secret: []byte("whsec_123")}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	now := time.Now()
	if _, err := a.appendEvents(context.Background(), []storage.Event{
		TestEvent("acme", 1, now.Add(-100*24*time.Hour)), // past the default 90 days
		TestEvent("acme", 2, now.Add(-95*24*time.Hour)),
		TestEvent("acme", 3, now.Add(-time.Hour)),
	}); err != nil {
		t.Fatal(err)
	}
	secretFile := writeFile(t, "secret", "whsec_123\n")
	if _, stderr, code := runCLI(t, a, "", "sync", "enable", "--org", "acme", "--to", "webhook", "--url", srv.URL, "--format", "jsonl", "--secret-file", secretFile); code != 0 {
		t.Fatalf("enable: exit %d: %s", code, stderr)
	}
	out, stderr, code := runCLI(t, a, "", "retention", "sweep", "--org", "acme", "--now")
	if code != 0 || !strings.Contains(out, "Pruned 2 events") ||
		!strings.Contains(stderr, "warning: sync to webhook "+srv.URL+" has not received 4 events yet (from seq 1): those this sweep prunes will never reach it") {
		t.Fatalf("sweep: exit %d\n%s%s", code, out, stderr)
	}
	if _, stderr, code := runCLI(t, a, "", "sync", "run-now", "--org", "acme"); code != 0 {
		t.Fatalf("run-now: exit %d: %s", code, stderr)
	}
	for _, l := range rc.lines() {
		if strings.Contains(l, `"seq":1,`) || strings.Contains(l, `"seq":2,`) {
			t.Errorf("a pruned event was delivered: %s", l)
		}
	}
	table, _, _ := runCLI(t, a, "", "sync", "status", "--org", "acme")
	if !strings.Contains(table, "webhook: 2 events pruned by retention before delivery") {
		t.Errorf("status table:\n%s", table)
	}
	js, _, _ := runCLI(t, a, "", "sync", "status", "--org", "acme", "--json")
	if !strings.Contains(js, `"prunedBeforeDelivery": 2`) {
		t.Errorf("status --json:\n%s", js)
	}
	// Counted once, however often the cursor passes them.
	runCLI(t, a, "", "sync", "run-now", "--org", "acme")
	if table, _, _ := runCLI(t, a, "", "sync", "status", "--org", "acme"); !strings.Contains(table, "webhook: 2 events pruned") {
		t.Errorf("after another run:\n%s", table)
	}
}

// audit.sync_enabled records what leaves the machine and how it is kept
// there (the format, whether decrypted states go, the S3 Object Lock), and
// what an enable replaced: two enables of different settings do not read
// the same.
func TestCLI_SyncEnableRecordsItsSettings(t *testing.T) {
	a, st, _ := syncTestApp(t)
	appendN(t, a, "acme", 1)
	secretFile := writeFile(t, "secret", "whsec_123\n")
	for _, args := range [][]string{
		{"--to", "webhook", "--url", "https://siem.example.com/a?token=x", "--format", "ocsf", "--secret-file", secretFile, "--include-sensitive"},
		{"--to", "webhook", "--url", "https://siem.example.com/b", "--format", "jsonl", "--secret-file", secretFile},
		{"--to", "s3", "--bucket", "b", "--object-lock-mode", "COMPLIANCE", "--object-lock-days", "2555"},
		{"--to", "s3", "--bucket", "b"},
	} {
		if _, stderr, code := runCLI(t, a, "", append([]string{"sync", "enable", "--org", "acme"}, args...)...); code != 0 {
			t.Fatalf("enable %v: exit %d: %s", args, code, stderr)
		}
	}
	evs, err := st.ReadFrom(context.Background(), "acme", 0, 100, false)
	if err != nil {
		t.Fatal(err)
	}
	var metas []string
	for _, e := range evs {
		if e.ActionType == "audit.sync_enabled" {
			metas = append(metas, string(e.Metadata))
		}
	}
	want := []string{
		`{"destination":"webhook https://siem.example.com/a","format":"ocsf","includesStates":true}`,
		`{"destination":"webhook https://siem.example.com/b","format":"jsonl","includesStates":false,"replaces":"webhook https://siem.example.com/a (ocsf, with decrypted states)"}`,
		`{"destination":"s3 s3://b/","includesStates":false,"objectLock":"COMPLIANCE 2555 days"}`,
		`{"destination":"s3 s3://b/","includesStates":false,"replaces":"s3 s3://b/ (object lock COMPLIANCE 2555 days)"}`,
	}
	if !slices.Equal(metas, want) {
		t.Errorf("audit.sync_enabled metadata:\n%s\nwant:\n%s", strings.Join(metas, "\n"), strings.Join(want, "\n"))
	}
}

// The status table keeps an error's end, where its cause is, and says of
// an error before the last success that it is history.
func TestPrintSyncStatus_Errors(t *testing.T) {
	errAt := time.Date(2026, 11, 29, 11, 53, 26, 0, time.Local)
	ok := errAt.Add(time.Minute)
	long := "failed to write org=acme-prod/date=2026-11-29/00000000000000000001-00000000000000000065.jsonl.gz: api error NoSuchBucket: The specified bucket does not exist"
	var out bytes.Buffer
	cmd := &cobra.Command{}
	cmd.SetOut(&out)
	err := printSyncStatus(cmd, []SyncStatus{
		{To: axsync.KindS3, Target: "s3://b/", State: axsync.StateStopped, Stopped: "rejected: " + long, LastError: long, LastErrorAt: &errAt},
		{To: axsync.KindWebhook, Target: "https://siem.example.com/h", State: axsync.StateHealthy, LastError: "HTTP 401 Unauthorized: {}", LastErrorAt: &errAt, LastSuccess: &ok},
	}, false)
	if err != nil {
		t.Fatal(err)
	}
	got := out.String()
	for _, want := range []string{"rejected: failed to write", " … ", "NoSuchBucket: The specified bucket does not exist",
		"(recovered) 2026-11-29 11:53:26 HTTP 401 Unauthorized"} {
		if !strings.Contains(got, want) {
			t.Errorf("status table lacks %q:\n%s", want, got)
		}
	}
	for _, c := range []struct {
		in   string
		n    int
		want string
	}{
		{"short", 10, "short"},
		{"a\nb", 10, "a b"},
		{"0123456789abcdefghij", 10, "0123 … efghij"},
		{"ééééééééééé", 10, "éé … ééé"},
	} {
		if got := truncateLine(c.in, c.n); got != c.want || !utf8.ValidString(got) {
			t.Errorf("truncateLine(%q, %d) = %q, want %q", c.in, c.n, got, c.want)
		}
	}
}

// A failed run-now says its error once, after the status table: the
// syncer's log line for a background failure is not repeated beside it.
func TestCLI_SyncRunNowFailureSaidOnce(t *testing.T) {
	a, _, _ := syncTestApp(t)
	var logged bytes.Buffer
	a.log = slog.New(slog.NewTextHandler(&logged, &slog.HandlerOptions{Level: slog.LevelWarn}))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "busy", http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	appendN(t, a, "acme", 2)
	secretFile := writeFile(t, "secret", "whsec_123\n")
	if _, stderr, code := runCLI(t, a, "", "sync", "enable", "--org", "acme", "--to", "webhook", "--url", srv.URL, "--format", "jsonl", "--secret-file", secretFile); code != 0 {
		t.Fatalf("enable: exit %d: %s", code, stderr)
	}
	stdout, stderr, code := runCLI(t, a, "", "sync", "run-now", "--org", "acme")
	if code != 1 || !strings.Contains(stdout, "retrying") || strings.Count(stderr, "HTTP 503") != 1 || logged.Len() != 0 {
		t.Errorf("run-now: exit %d\nstdout:\n%s\nstderr:\n%s\nlogged:\n%s", code, stdout, stderr, logged.String())
	}
}

// sync run-now holding the log itself (no app open, from cron) delivers in
// slices and closes the log between them, so that a producer's append
// waiting for the log gets it within a slice, not after the whole backlog;
// it reopens the log and goes on until nothing is pending.
func TestCLI_SyncRunNowLetsOthersAtTheLog(t *testing.T) {
	dir, ks := t.TempDir(), keystore.NewMemory()
	opens, refuseAfter := 0, -1
	open := func(ctx context.Context, _ Globals) (*App, func() error, error) {
		if refuseAfter >= 0 && opens >= refuseAfter {
			return nil, nil, errors.New("the keychain is locked")
		}
		st, err := storage.Open(ctx, dir, ks, storage.Options{GCInterval: -1})
		if err != nil {
			return nil, nil, err
		}
		a, err := New(Options{Store: st, Keystore: ks, User: "tester", Version: "test"})
		if err != nil {
			st.Close()
			return nil, nil, err
		}
		opens++
		return a, func() error { a.Close(); return st.Close() }, nil
	}
	a, closeA, err := open(context.Background(), Globals{})
	if err != nil {
		t.Fatal(err)
	}
	for range 5 { // three batches of 1000
		appendN(t, a, "acme", 500)
	}
	closeA()
	rc := &siem{secret: []byte("whsec_123")}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	defer func(p time.Duration) { syncYieldPause = p }(syncYieldPause)
	syncYieldPause = time.Millisecond
	run := func(args ...string) (string, int) {
		var out, errb bytes.Buffer
		root := NewRootCommand(CLIConfig{Version: "test", Open: open, SyncSlice: time.Nanosecond, Stdout: &out, Stderr: &errb})
		root.SetArgs(args)
		err := root.ExecuteContext(context.Background())
		if err != nil {
			errb.WriteString(Explain(err))
		}
		return out.String() + errb.String(), ExitCode(err)
	}
	if out, code := run("sync", "enable", "--org", "acme", "--to", "webhook", "--url", srv.URL, "--format", "jsonl",
		"--secret-file", writeFile(t, "secret", "whsec_123\n")); code != 0 {
		t.Fatalf("enable: exit %d: %s", code, out)
	}
	opens = 0
	if out, code := run("sync", "run-now", "--org", "acme"); code != 0 || !strings.Contains(out, "healthy") {
		t.Fatalf("run-now: exit %d: %s", code, out)
	}
	if n := len(rc.lines()); n != 2501 { // and audit.sync_enabled
		t.Fatalf("the receiver got %d events, want 2501", n)
	}
	if opens != 3 {
		t.Fatalf("run-now opened the log %d times, want 3: a slice per batch, the log closed between", opens)
	}
	// The log cannot be opened again between two slices: an error that
	// says what was done, not a crash.
	a, closeA, err = open(context.Background(), Globals{})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		appendN(t, a, "acme", 500)
	}
	closeA()
	opens, refuseAfter = 0, 1
	if out, code := run("sync", "run-now", "--org", "acme"); code == 0 || !strings.Contains(out, "delivered part of what was pending, then could not open the log again") ||
		!strings.Contains(out, "the keychain is locked") {
		t.Fatalf("run-now that cannot reopen the log: exit %d: %s", code, out)
	}
}
