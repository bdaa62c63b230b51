package app

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/axiomops/axiom-audit/storage"
)

// runAuditorCLI runs the command line as an auditor does: the profile
// cannot be opened (no keychain), so any command that tries fails the test.
func runAuditorCLI(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	root := NewRootCommand(CLIConfig{
		Version: "test",
		Open: func(context.Context, Globals) (*App, func() error, error) {
			t.Error("the auditor's command opened the profile (and its keychain)")
			return nil, nil, errors.New("no keychain here")
		},
		Stdout: &out,
		Stderr: &errb,
	})
	root.SetArgs(args)
	err := root.ExecuteContext(context.Background())
	if err != nil && Explain(err) != "" {
		errb.WriteString("axiom-audit: " + Explain(err) + "\n")
	}
	return out.String(), errb.String(), ExitCode(err)
}

// copyProfile copies a profile's data directory, as an auditor is handed
// it (here while the app holds it open).
func copyProfile(t *testing.T, from string) string {
	t.Helper()
	to := t.TempDir()
	if out, err := exec.Command("cp", "-a", from+"/.", to).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v: %s", err, out)
	}
	os.Remove(filepath.Join(to, "log", "LOCK"))
	return to
}

// The owner exports the read key (recorded in the log); an auditor with no
// keychain verifies copies of the log with it, the owner's published key
// and a checkpoint kept from an earlier visit, which an older copy (a
// rollback) does not cover.
func TestCLI_AuditorVerifiesACopyWithTheReadKey(t *testing.T) {
	ctx := context.Background()
	a, _, paths := profileApp(t)
	appendEventsN(t, a, "org-a", 12, 0)
	appendEventsN(t, a, "org-b", 3, 0)

	keyFile := filepath.Join(t.TempDir(), "acme.readkey")
	stdout, stderr, code := runCLI(t, a, "", "keys", "export-read-key", "--out", keyFile)
	if code != 0 || !strings.Contains(stdout, keyFile) || !strings.Contains(stderr, "reads every public record") {
		t.Fatalf("export-read-key: exit %d\n%s%s", code, stdout, stderr)
	}
	fi, err := os.Stat(keyFile)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("the read key file: %v, mode %v; want 0600", err, fi.Mode())
	}
	text, _ := os.ReadFile(keyFile)
	if k, err := storage.ParseReadKey(text); err != nil || !bytes.Equal(k, a.store.ReadKey()) {
		t.Fatalf("the file holds %q (%v), not the log's read key", text, err)
	}
	handed := func() []EventDTO {
		t.Helper()
		page, err := a.listEvents(ctx, QueryDTO{Org: SystemOrg, ActionTypes: []string{"audit.read_key_exported"}})
		if err != nil {
			t.Fatal(err)
		}
		return page.Events
	}
	if evs := handed(); len(evs) != 1 || !strings.Contains(string(evs[0].Metadata), keyFile) || evs[0].RiskLevel != "high" {
		t.Fatalf("the hand-out is recorded as %+v; want one high-risk event naming %s", evs, keyFile)
	}
	// Never over another file, and nothing recorded then.
	if _, stderr, code := runCLI(t, a, "", "keys", "export-read-key", "--out", keyFile); code != 2 || !strings.Contains(stderr, "--out") || !strings.Contains(stderr, "exists") {
		t.Fatalf("export over an existing file: exit %d: %s", code, stderr)
	}
	if _, stderr, code := runCLI(t, a, "", "keys", "export-read-key", "--out", filepath.Join(t.TempDir(), "no", "such", "dir")); code != 2 || !strings.Contains(stderr, "--out") {
		t.Fatalf("export into a missing directory: exit %d: %s", code, stderr)
	}
	if evs := handed(); len(evs) != 1 {
		t.Fatalf("refused exports were recorded: %d events", len(evs))
	}

	pub, _, code := runCLI(t, a, "", "checkpoint", "--org", "org-a", "--public-key")
	if code != 0 {
		t.Fatal("checkpoint --public-key")
	}
	pubFile := writeFile(t, "owner.pub", pub)
	old := copyProfile(t, paths.DataDir) // 12 events of org-a

	appendEventsN(t, a, "org-a", 5, 12)
	if _, err := a.store.Checkpoint(ctx, "org-a"); err != nil {
		t.Fatal(err)
	}
	cp, _, code := runCLI(t, a, "", "checkpoint", "--org", "org-a")
	if code != 0 {
		t.Fatal("checkpoint")
	}
	cpFile := writeFile(t, "org-a.cp", cp)
	cur := copyProfile(t, paths.DataDir)

	auditor := func(dir string, extra ...string) []string {
		return append([]string{"--data-dir", dir, "verify", "--read-key", keyFile, "--public-key", pubFile}, extra...)
	}
	stdout, stderr, code = runAuditorCLI(t, auditor(cur, "--checkpoint", cpFile)...)
	if code != 0 || !strings.Contains(stdout, "keyless") || !strings.Contains(stdout, ": clean") {
		t.Fatalf("auditor on the current copy: exit %d\n%s%s", code, stdout, stderr)
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
	// Another owner's key: every checkpoint fails.
	other, _, _ := profileApp(t)
	appendEventsN(t, other, "org-a", 1, 0)
	otherPub, _, _ := runCLI(t, other, "", "checkpoint", "--org", "org-a", "--public-key")
	stdout, _, code = runAuditorCLI(t, "--data-dir", cur, "verify", "--read-key", keyFile, "--public-key", writeFile(t, "other.pub", otherPub))
	if code != 1 || !strings.Contains(stdout, "bad_signature") || !strings.Contains(stdout, "not the one given") {
		t.Fatalf("auditor with another owner's key: exit %d\n%s", code, stdout)
	}

	// Mistakes name the flag.
	wrongKey := writeFile(t, "wrong.readkey", string(storage.EncodeReadKey(make([]byte, storage.ReadKeySize))))
	for _, c := range []struct {
		args []string
		says string
	}{
		{auditor(cur, "--org", "org-typo"), `no organization "org-typo"`},
		{[]string{"--data-dir", cur, "verify", "--read-key", pubFile}, "--read-key"},
		{[]string{"--data-dir", cur, "verify", "--read-key", keyFile, "--public-key", keyFile}, "--public-key"},
		{[]string{"--data-dir", cur, "verify", "--read-key", keyFile, "--checkpoint", pubFile}, "is not a signed checkpoint"},
		{[]string{"--data-dir", cur, "verify", "--read-key", wrongKey}, "does not open"},
		{[]string{"--data-dir", t.TempDir(), "verify", "--read-key", keyFile}, "holds no audit log"},
		{[]string{"--data-dir", paths.DataDir, "verify", "--read-key", keyFile}, "verify a copy"},
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
