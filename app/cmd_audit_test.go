package app

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/axiomops/axiom-audit/storage"
)

// runAuditorCLI runs the command line as an auditor does: the profile
// cannot be opened (no keychain), so any command that tries fails the test.
func runAuditorCLI(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	return runRoot(t, func(context.Context, Globals) (*App, func() error, error) {
		t.Error("the auditor's command opened the profile (and its keychain)")
		return nil, nil, errors.New("no keychain here")
	}, "", args...)
}

// The owner copies the log for an auditor (recorded in the log); the
// auditor, with no keychain, verifies copies with their read keys, the
// owner's published key and a checkpoint kept from an earlier visit, which
// an older copy (a rollback) does not cover.
func TestCLI_AuditorVerifiesACopy(t *testing.T) {
	ctx := context.Background()
	a, _, _ := profileApp(t)
	appendEventsN(t, a, "org-a", 12, 0)
	appendEventsN(t, a, "org-b", 3, 0)

	copied := func() []EventDTO {
		t.Helper()
		page, err := a.listEvents(ctx, QueryDTO{Org: SystemOrg, ActionTypes: []string{"audit.copied_for_audit"}})
		if err != nil {
			t.Fatal(err)
		}
		return page.Events
	}
	old := filepath.Join(t.TempDir(), "visit-1")
	stdout, stderr, code := runCLI(t, a, "", "copy-for-audit", "--out", old)
	if code != 0 || !strings.Contains(stdout, "copied 15 events of 2 organizations into "+old) || !strings.Contains(stderr, "--read-key "+filepath.Join(old, "read-key")) {
		t.Fatalf("copy-for-audit: exit %d\n%s%s", code, stdout, stderr)
	}
	fi, err := os.Stat(filepath.Join(old, "read-key"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("the read key file: %v, mode %v; want 0600", err, fi.Mode())
	}
	if evs := copied(); len(evs) != 1 || !strings.Contains(string(evs[0].Metadata), old) || evs[0].RiskLevel != "high" {
		t.Fatalf("the copy is recorded as %+v; want one high-risk event naming %s", evs, old)
	}
	// Never into an existing directory, nor one that cannot be made;
	// nothing recorded then.
	for _, dir := range []string{old, filepath.Join(t.TempDir(), "no", "such")} {
		if _, stderr, code := runCLI(t, a, "", "copy-for-audit", "--out", dir); code != 2 || !strings.Contains(stderr, "--out") {
			t.Errorf("copy into %s: exit %d: %s", dir, code, stderr)
		}
	}
	if evs := copied(); len(evs) != 1 {
		t.Fatalf("refused copies were recorded: %d events", len(evs))
	}

	pub, _, code := runCLI(t, a, "", "checkpoint", "--org", "org-a", "--public-key")
	if code != 0 {
		t.Fatal("checkpoint --public-key")
	}
	pubFile := writeFile(t, "owner.pub", pub)
	appendEventsN(t, a, "org-a", 5, 12)
	cur := filepath.Join(t.TempDir(), "visit-2")
	if _, stderr, code := runCLI(t, a, "", "copy-for-audit", "--out", cur); code != 0 {
		t.Fatalf("second copy: %s", stderr)
	}
	cp, _, code := runCLI(t, a, "", "checkpoint", "--org", "org-a")
	if code != 0 {
		t.Fatal("checkpoint")
	}
	cpFile := writeFile(t, "org-a.cp", cp)

	auditor := func(dir string, extra ...string) []string {
		return append([]string{"--data-dir", dir, "verify", "--read-key", filepath.Join(dir, "read-key"), "--public-key", pubFile}, extra...)
	}
	stdout, stderr, code = runAuditorCLI(t, auditor(cur, "--checkpoint", cpFile)...)
	if code != 0 || !strings.Contains(stdout, "keyless") || !strings.Contains(stdout, ": clean") {
		t.Fatalf("auditor on the current copy: exit %d\n%s%s", code, stdout, stderr)
	}
	// The key itself works as well as a file holding it, as verify-export
	// takes it; anything else says it is neither.
	if stdout, stderr, code := runAuditorCLI(t, "--data-dir", cur, "verify", "--read-key", filepath.Join(cur, "read-key"),
		"--public-key", strings.TrimSpace(pub), "--checkpoint", cpFile); code != 0 {
		t.Fatalf("auditor with the key given as text: exit %d\n%s%s", code, stdout, stderr)
	}
	if _, stderr, code := runAuditorCLI(t, "--data-dir", cur, "verify", "--read-key", filepath.Join(cur, "read-key"),
		"--public-key", "axiom-nosuch"); code != 2 || !strings.Contains(stderr, "is neither a verifier key") {
		t.Fatalf("auditor with a --public-key that is neither: exit %d\n%s", code, stderr)
	}
	// --data-dir may also name the copy's log directory itself.
	if stdout, stderr, code := runAuditorCLI(t, "--data-dir", filepath.Join(cur, "log"), "verify", "--read-key", filepath.Join(cur, "read-key")); code != 0 {
		t.Fatalf("auditor on the copy's log directory: exit %d\n%s%s", code, stdout, stderr)
	}
	// The older copy verifies on its own: only the kept checkpoint shows
	// that it was rolled back.
	if stdout, stderr, code := runAuditorCLI(t, auditor(old)...); code != 0 {
		t.Fatalf("auditor on the older copy alone: exit %d\n%s%s", code, stdout, stderr)
	}
	stdout, stderr, code = runAuditorCLI(t, auditor(old, "--checkpoint", cpFile, "--json", "--org", "org-a")...)
	if code != 1 {
		t.Fatalf("auditor on the older copy with the kept checkpoint: exit %d, want 1\n%s%s", code, stdout, stderr)
	}
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	var p VerifyProblemDTO
	if err := json.Unmarshal([]byte(lines[0]), &p); err != nil || p.Org != "org-a" || p.Kind != storage.ProblemRollback || p.Seq != 13 || !strings.Contains(p.Detail, cpFile) {
		t.Fatalf("first line %q (%v): want the rollback of org-a at seq 13, naming %s", lines[0], err, cpFile)
	}
	// Another owner's key: every checkpoint fails, every event unsigned.
	other, _, _ := profileApp(t)
	appendEventsN(t, other, "org-a", 1, 0)
	otherPub, _, _ := runCLI(t, other, "", "checkpoint", "--org", "org-a", "--public-key")
	stdout, _, code = runAuditorCLI(t, "--data-dir", cur, "verify", "--read-key", filepath.Join(cur, "read-key"), "--public-key", writeFile(t, "other.pub", otherPub))
	if code != 1 || !strings.Contains(stdout, "bad_signature") || !strings.Contains(stdout, "not the one given") || !strings.Contains(stdout, "unsigned") {
		t.Fatalf("auditor with another owner's key: exit %d\n%s", code, stdout)
	}

	// Mistakes name the flag.
	keyFile := filepath.Join(cur, "read-key")
	wrongKey := writeFile(t, "wrong.readkey", string(storage.EncodeReadKey(make([]byte, storage.ReadKeySize))))
	for _, c := range []struct {
		args []string
		says string
	}{
		{auditor(cur, "--org", "org-typo"), `no organization "org-typo" in this copy; it has`},
		{[]string{"verify", "--read-key", keyFile}, "--data-dir"},
		{[]string{"--data-dir", cur, "verify", "--read-key", pubFile}, "--read-key"},
		{[]string{"--data-dir", cur, "verify", "--read-key", keyFile, "--public-key", keyFile}, "--public-key"},
		{[]string{"--data-dir", cur, "verify", "--read-key", keyFile, "--checkpoint", pubFile}, "--checkpoint: " + pubFile + " is not a signed checkpoint"},
		{[]string{"--data-dir", cur, "verify", "--read-key", keyFile, "--org", "org-b", "--checkpoint", cpFile}, `--checkpoint: ` + cpFile + ` is a checkpoint of organization "org-a"`},
		{[]string{"--data-dir", cur, "verify", "--read-key", wrongKey}, "does not open"},
		{[]string{"--data-dir", old, "verify", "--read-key", keyFile}, "does not open"},
		{[]string{"--data-dir", t.TempDir(), "verify", "--read-key", keyFile}, "holds no audit log"},
	} {
		if stdout, stderr, code := runAuditorCLI(t, c.args...); code != 2 || !strings.Contains(stderr, c.says) {
			t.Errorf("%q: exit %d, want 2 saying %q\n%s%s", c.args, code, c.says, stdout, stderr)
		}
	}
	// --public-key and --checkpoint are the auditor's: without --read-key
	// they would be silently ignored by the profile's own verification.
	for _, flag := range []string{"--public-key", "--checkpoint"} {
		if _, stderr, code := runCLI(t, a, "", "verify", flag, pubFile); code != 2 || !strings.Contains(stderr, flag) || !strings.Contains(stderr, "--read-key") {
			t.Errorf("verify %s without --read-key: exit %d: %s", flag, code, stderr)
		}
	}
}

// The window's binding answers with the codes the dialog reads: a folder
// that exists is the field's problem; a parent that is missing or may not
// be written in are folder problems, with their own advice.
func TestCopyForAuditBinding(t *testing.T) {
	a, _, _ := profileApp(t)
	appendEventsN(t, a, "org-a", 3, 0)
	out := t.TempDir()
	res, err := a.CopyForAudit(filepath.Join(out, "copy"), nil)
	if err != nil || res.Events != 3 {
		t.Fatalf("CopyForAudit: %+v, %v", res, err)
	}
	ro := filepath.Join(out, "ro")
	if err := os.Mkdir(ro, 0o500); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		dir, code, text string
	}{
		{filepath.Join(out, "copy"), CodeInvalidRequest, `"field":"dir"`},
		{"relative", CodeInvalidRequest, `"field":"dir"`},
		{filepath.Join(out, "no", "such"), CodeFolderNotFound, "cannot make the copy's folder"},
	}
	if os.Geteuid() != 0 { // root writes in read-only folders
		cases = append(cases, struct{ dir, code, text string }{filepath.Join(ro, "copy"), CodeFolderNotWritable, "permission denied"})
	}
	for _, c := range cases {
		if _, err := a.CopyForAudit(c.dir, nil); bindingCode(t, err) != c.code || !strings.Contains(err.Error(), c.text) {
			t.Errorf("%s: %v, want %s with %s", c.dir, err, c.code, c.text)
		}
	}
}

// copy-for-audit --org copies those organizations alone, records which,
// and refuses (exit 2, nothing copied or recorded) an organization with
// no events, naming those there are. The auditor verifies it clean.
func TestCLI_CopyForAuditOfOneOrganization(t *testing.T) {
	ctx := context.Background()
	a, _, _ := profileApp(t)
	appendEventsN(t, a, "org-a", 12, 0)
	appendEventsN(t, a, "org-b", 3, 0)
	dir := filepath.Join(t.TempDir(), "copy")
	if _, stderr, code := runCLI(t, a, "", "copy-for-audit", "--out", dir, "--org", "org-a", "--org", "org-c"); code != 2 ||
		!strings.Contains(stderr, `no organization "org-c"`) || !strings.Contains(stderr, "org-b") {
		t.Errorf("a copy naming org-c: exit %d: %s", code, stderr)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the refused copy left %s", dir)
	}
	stdout, stderr, code := runCLI(t, a, "", "copy-for-audit", "--out", dir, "--org", "org-a")
	if code != 0 || !strings.Contains(stdout, "copied 12 events of 1 organization into "+dir) {
		t.Fatalf("copy-for-audit --org org-a: exit %d\n%s%s", code, stdout, stderr)
	}
	page, err := a.listEvents(ctx, QueryDTO{Org: SystemOrg, ActionTypes: []string{"audit.copied_for_audit"}})
	if err != nil || len(page.Events) != 1 || !strings.Contains(string(page.Events[0].Metadata), `"orgIds":["org-a"]`) {
		t.Fatalf("the copy is recorded as %+v, %v", page.Events, err)
	}
	stdout, stderr, code = runAuditorCLI(t, "--data-dir", dir, "verify", "--read-key", filepath.Join(dir, "read-key"))
	if code != 0 || !strings.Contains(stdout, "12 events") || strings.Contains(stdout+stderr, "org-b") {
		t.Fatalf("the auditor's verify: exit %d\n%s%s", code, stdout, stderr)
	}
}
