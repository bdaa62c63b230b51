package app

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/axiomops/axiom-audit/storage"
	"github.com/axiomops/axiom-audit/storage/keystore"
)

// The CLI reaches a profile held by the desktop app through the app's
// local API, with the credential the app left in the keychain.
func TestRemote_CLIThroughTheDesktopAPI(t *testing.T) {
	ctx := context.Background()
	a, ks, paths := profileApp(t)

	// A second open of the same directory fails with ErrLocked.
	if _, err := storage.Open(ctx, filepath.Join(paths.DataDir, "log"), ks, storage.Options{}); !errors.Is(err, storage.ErrLocked) {
		t.Fatalf("second open: %v, want ErrLocked", err)
	}

	stop, err := a.startLocalAPI(ctx)
	if err != nil {
		t.Fatal(err)
	}
	r, err := DialDesktop(ctx, paths, ks)
	if err != nil {
		t.Fatal(err)
	}
	receipts, err := r.appendEvents(ctx, []storage.Event{TestEvent("org-a", 1, time.Now().Add(-time.Minute))})
	if err != nil || len(receipts) != 1 || receipts[0].Seq != 1 {
		t.Fatalf("remote append: %+v %v", receipts, err)
	}
	bad := TestEvent("org-a", 2, time.Now())
	bad.Status = "done"
	if _, err := r.appendEvents(ctx, []storage.Event{bad}); !errors.Is(err, storage.ErrInvalidEvent) {
		t.Fatalf("remote invalid append: %v, want ErrInvalidEvent", err)
	}
	// A conflict comes back naming the event's position, its message as
	// the store wrote it (once).
	first := TestEvent("org-a", 3, time.Now().Add(-time.Minute))
	first.ID = "01900000-0000-7000-8000-0000000000f1"
	changed := first
	changed.UserID = "other@example.com"
	if _, err := r.appendEvents(ctx, []storage.Event{first}); err != nil {
		t.Fatal(err)
	}
	_, err = r.appendEvents(ctx, []storage.Event{TestEvent("org-a", 4, time.Now()), changed})
	if i, ok := conflictIndex(err); !errors.Is(err, storage.ErrConflict) || !ok || i != 1 ||
		strings.Count(err.Error(), "different content") != 1 {
		t.Fatalf("remote conflict: %v (index %d, %v)", err, i, ok)
	}
	page, err := r.listEvents(ctx, QueryDTO{Org: "org-a", Statuses: []string{"applied"}})
	if err != nil || len(page.Events) != 2 || page.Events[1].ID != receipts[0].ID {
		t.Fatalf("remote list: %+v %v", page, err)
	}
	// More events than one commit: 413 comes back as ErrBatchTooLarge,
	// and the CLI's append checks them through the API, then appends them
	// in parts; a conflict on the last line refuses them whole first.
	_, many := largeInput(t, "org-b", 0, 1500)
	if _, err := r.appendEvents(ctx, many); !errors.Is(err, storage.ErrBatchTooLarge) {
		t.Fatalf("remote append of %d events: %v, want ErrBatchTooLarge", len(many), err)
	}
	var jsonl strings.Builder
	for _, e := range many {
		jsonl.WriteString(mustJSON(t, e) + "\n")
	}
	cat, err := storage.LoadCatalogue()
	if err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	cmd := &cobra.Command{}
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	cmd.SetContext(ctx)
	withConflict := jsonl.String() + mustJSON(t, changed) + "\n"
	if err := appendInput(cmd, cat, r, bytesSource([]byte(withConflict))); ExitCode(err) != ExitDataErr ||
		errOut.String() != fmt.Sprintf("line %d: id: %s\n", len(many)+1, conflictReason) || out.Len() != 0 {
		t.Fatalf("remote large append with a conflict: %v; stderr %q, stdout %d bytes", err, errOut.String(), out.Len())
	}
	if err := appendInput(cmd, cat, r, bytesSource([]byte(jsonl.String()))); err != nil {
		t.Fatalf("remote large append: %v", err)
	}
	if rs := receiptsOf(t, out.String()); len(rs) != len(many) || rs[len(many)-1].Seq != uint64(len(many)) {
		t.Fatalf("remote large append: %d receipts", len(rs))
	}
	if orgs, err := r.organizations(ctx); err != nil || len(orgs) != 2 || orgs[0].ID != "org-a" || orgs[1].ID != "org-b" {
		t.Fatalf("remote organizations: %+v, %v", orgs, err)
	}
	// keys rotate goes through the running app too, with the local
	// credential only; a typo is refused, not a new organization.
	if rot, err := r.rotateDataKey(ctx, "org-a"); err != nil || rot.KeyID != 2 || rot.PreviousKeyID != 1 ||
		rot.KeyEncryptionKey != "kek/org-a/1" || rot.RewrappedKeys != 1 {
		t.Fatalf("remote key rotation: %+v, %v", rot, err)
	}
	if _, err := r.rotateDataKey(ctx, "org-typo"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("remote key rotation of an unknown org: %v, want ErrNotFound", err)
	}
	rotated, err := r.listEvents(ctx, QueryDTO{Org: "org-a", ActionTypes: []string{"audit.key_rotated"}})
	if err != nil || len(rotated.Events) != 1 || rotated.Events[0].UserID != a.opts.User {
		t.Fatalf("remote key rotation recorded as %+v, %v; want one event by %q", rotated.Events, err, a.opts.User)
	}
	// A token is revoked through the running app, at once; a token's own
	// credential cannot revoke.
	tok, err := a.createToken(ctx, TokenRequest{Org: "org-a", Scope: ScopeRead})
	if err != nil {
		t.Fatal(err)
	}
	asToken := &RemoteClient{base: r.base, secret: tok.Token, client: r.client}
	if _, err := asToken.revokeToken(ctx, tok.ID); err == nil {
		t.Fatal("a token revoked itself through the API")
	}
	if _, err := asToken.rotateDataKey(ctx, "org-a"); err == nil || !strings.Contains(err.Error(), "only the axiom-audit CLI") {
		t.Fatalf("a token rotated a key through the API: %v", err)
	}
	// A copy for an auditor too: the local credential makes it, and the
	// log records it; a token does not.
	copyDir := filepath.Join(t.TempDir(), "audit-copy")
	if _, err := asToken.copyForAudit(ctx, copyDir, nil); err == nil || !strings.Contains(err.Error(), "only the axiom-audit CLI") {
		t.Fatalf("a token copied the log through the API: %v", err)
	}
	if _, err := r.copyForAudit(ctx, "relative/dir", nil); err == nil || !strings.Contains(err.Error(), "absolute") {
		t.Fatalf("a copy into a relative path: %v", err)
	}
	cp, err := r.copyForAudit(ctx, copyDir, nil)
	if err != nil || cp.Dir != copyDir || cp.Organizations != 2 || cp.Events == 0 {
		t.Fatalf("remote copy for audit: %+v, %v", cp, err)
	}
	if _, err := os.Stat(filepath.Join(copyDir, "read-key")); err != nil {
		t.Fatal(err)
	}
	copied, err := r.listEvents(ctx, QueryDTO{Org: SystemOrg, ActionTypes: []string{"audit.copied_for_audit"}})
	if err != nil || len(copied.Events) != 1 || !strings.Contains(string(copied.Events[0].Metadata), copyDir) {
		t.Fatalf("the copy is recorded as %+v, %v; want one event naming its directory", copied.Events, err)
	}
	if rt, err := r.revokeToken(ctx, tok.ID); err != nil || rt.RevokedAt == "" {
		t.Fatalf("remote revoke: %+v, %v", rt, err)
	}
	if _, err := asToken.listEvents(ctx, QueryDTO{Org: "org-a"}); err == nil {
		t.Fatal("a revoked token still reads")
	}
	// A wrong credential is refused.
	r.secret = "nope"
	if _, err := r.listEvents(ctx, QueryDTO{Org: "org-a"}); err == nil {
		t.Fatal("a wrong local credential was accepted")
	}
	stop()
	if _, err := os.Stat(filepath.Join(paths.DataDir, apiFile)); !os.IsNotExist(err) {
		t.Fatalf("api.json left behind after stop: %v", err)
	}
}

// While `serve` holds the profile, the CLI goes through it as it does
// through the desktop app; api.json is gone once serve returns.
func TestServe_CLIGoesThroughServe(t *testing.T) {
	ctx := context.Background()
	a, ks, paths := profileApp(t)
	var out, errb lockedBuffer
	root := NewRootCommand(CLIConfig{
		Version: "test",
		Open:    func(context.Context, Globals) (*App, func() error, error) { return a, func() error { return nil }, nil },
		Stdout:  &out,
		Stderr:  &errb,
	})
	root.SetArgs([]string{"serve", "--addr", "127.0.0.1:0"})
	sctx, stop := context.WithCancel(ctx)
	defer stop()
	done := make(chan error, 1)
	go func() { done <- root.ExecuteContext(sctx) }()
	waitFor(t, 5*time.Second, "serve to announce its URL", func() bool { return strings.Contains(out.String(), "/login?token=") })

	r, err := DialDesktop(ctx, paths, ks)
	if err != nil {
		t.Fatalf("the CLI cannot find serve: %v", err)
	}
	if !strings.Contains(out.String(), strings.TrimPrefix(r.Addr(), "http://")) {
		t.Fatalf("api.json names %s, serve announced:\n%s", r.Addr(), out.String())
	}
	receipts, err := r.appendEvents(ctx, []storage.Event{TestEvent("org-a", 1, time.Now().Add(-time.Minute))})
	if err != nil || len(receipts) != 1 {
		t.Fatalf("append through serve: %+v %v", receipts, err)
	}
	stop()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve: %v (stderr %s)", err, errb.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not return after its context ended")
	}
	if _, err := os.Stat(filepath.Join(paths.DataDir, apiFile)); !os.IsNotExist(err) {
		t.Fatalf("api.json left behind after serve: %v", err)
	}
}

// profileApp returns an App over a real store in a profile directory
// (<dataDir>/log) with an in-memory keystore, as the desktop app and serve
// have it, so that it can advertise its local API to the CLI. Closed when
// the test ends.
func profileApp(t *testing.T) (*App, storage.Keystore, Paths) {
	t.Helper()
	dir := t.TempDir()
	ks := keystore.NewMemory()
	st, err := storage.Open(context.Background(), filepath.Join(dir, "log"), ks, storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	paths := Paths{Profile: "p", DataDir: dir}
	return appOver(t, st, Options{Keystore: ks, Paths: paths, User: "tester"}), ks, paths
}

// heldProfile is a profile held by an App serving its local API, and a
// client of that API (the way the CLI reaches a running desktop app).
func heldProfile(t *testing.T) (*App, *RemoteClient) {
	t.Helper()
	a, ks, paths := profileApp(t)
	stop, err := a.startLocalAPI(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	r, err := DialDesktop(context.Background(), paths, ks)
	if err != nil {
		t.Fatal(err)
	}
	return a, r
}

// The CLI sends the local credential only to this machine, whatever
// api.json in the data directory names.
func TestDialDesktop_OnlyLoopback(t *testing.T) {
	ctx := context.Background()
	paths := Paths{Profile: "test", DataDir: t.TempDir()}
	ks := keystore.NewMemory()
	if err := ks.Set(ctx, KeyLocalAPI, []byte("local-secret")); err != nil {
		t.Fatal(err)
	}
	for addr, ok := range map[string]bool{"127.0.0.1:8787": true, "[::1]:8787": true, "localhost:8787": true,
		"203.0.113.9:8787": false, "attacker.example:80": false, "0.0.0.0:8787": false} {
		b, _ := json.Marshal(apiEndpoint{Addr: addr})
		if err := os.WriteFile(filepath.Join(paths.DataDir, apiFile), b, 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := DialDesktop(ctx, paths, ks)
		if (err == nil) != ok {
			t.Errorf("api.json naming %s: %v", addr, err)
		}
	}
}

// An event within its limits is accepted through the desktop app's API as
// it is locally: the request does not escape <, > and & (six bytes each),
// which took a state of ampersands over the limit of a line.
func TestRemote_AppendDoesNotInflateTheBody(t *testing.T) {
	ctx := context.Background()
	a, r := heldProfile(t)
	e := TestEvent("org-a", 1, time.Now().Add(-time.Minute))
	e.AfterState = json.RawMessage(`"` + strings.Repeat("&<>", 100<<10) + `"`)
	if _, err := r.checkConflicts(ctx, []storage.Event{e}); err != nil {
		t.Fatalf("remote check: %v", err)
	}
	rs, err := r.appendEvents(ctx, []storage.Event{e})
	if err != nil || len(rs) != 1 {
		t.Fatalf("remote append: %v", err)
	}
	got, err := a.store.Get(ctx, "org-a", rs[0].ID)
	if err == nil && !bytes.Equal(got.AfterState, e.AfterState) {
		err = fmt.Errorf("the state came back as %d bytes", len(got.AfterState))
	}
	if err != nil {
		t.Fatal(err)
	}
}
