package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/axiomops/axiom-audit/app"
	"github.com/axiomops/axiom-audit/storage"
	"github.com/axiomops/axiom-audit/storage/keystore/keystoretest"
)

// Two logs of one profile in different --data-dir directories, with the
// real keychain: each has its own keys and anchors, so appends to the same
// organization in both go on, alternately, with no integrity alert. Sharing
// the profile's keychain entries made the second log's organization look
// like a vanished log (an alert, appends refused).
func TestKeychain_DataDirsDoNotShareSecrets(t *testing.T) {
	keystoretest.RequireKeychain(t)
	ctx := context.Background()
	profile := fmt.Sprintf("ns-%d", time.Now().UnixNano())
	dirs := []string{filepath.Join(t.TempDir(), "a"), filepath.Join(t.TempDir(), "b")}
	for i := range 4 {
		dir := dirs[i%2]
		a, closeApp, err := open(ctx, app.Globals{Profile: profile, DataDir: dir})
		if err != nil {
			t.Fatalf("open %s: %v", dir, err)
		}
		_, err = a.AppendEvents([]storage.Event{app.TestEvent("acme", i, time.Now().Add(-time.Minute))})
		if cerr := closeApp(); err == nil {
			err = cerr
		}
		if err != nil {
			t.Fatalf("append %d in %s: %v", i, dir, err)
		}
	}
}

// With the real keychain, a read command refuses a --data-dir that holds no
// log and creates nothing there; once the log existed, a lost log directory
// opens with the keys still in the keychain, so that the missing
// organization is an alert (appends refused) rather than "no audit log".
func TestKeychain_LostLogIsNotATypo(t *testing.T) {
	keystoretest.RequireKeychain(t)
	ctx := context.Background()
	profile := fmt.Sprintf("lost-%d", time.Now().UnixNano())
	dir := filepath.Join(t.TempDir(), "d")
	if _, _, err := open(ctx, app.Globals{Profile: profile, DataDir: dir, MustExist: true}); err == nil || !strings.Contains(err.Error(), "there is no audit log in "+dir) {
		t.Fatalf("open of a new --data-dir for a read: %v, want there is no audit log", err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the refused open created %s: %v", dir, err)
	}
	appendOne := func(g app.Globals, i int) error {
		a, closeApp, err := open(ctx, g)
		if err != nil {
			t.Fatalf("open %+v: %v", g, err)
		}
		_, err = a.AppendEvents([]storage.Event{app.TestEvent("acme", i, time.Now().Add(-time.Minute))})
		return errors.Join(err, closeApp())
	}
	if err := appendOne(app.Globals{Profile: profile, DataDir: dir}, 0); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(filepath.Join(dir, "log")); err != nil {
		t.Fatal(err)
	}
	var alert *storage.IntegrityAlertError
	if err := appendOne(app.Globals{Profile: profile, DataDir: dir, MustExist: true}, 1); !errors.As(err, &alert) || alert.Alert.Kind != storage.AlertMissing {
		t.Fatalf("append after the log directory was lost: %v, want the missing organization's alert", err)
	}
}

// A profile keeps its keys in the keystore it was created with: opening it
// with the other one says so, instead of only that the master key is
// missing.
func TestKeychain_OtherKeystoreHint(t *testing.T) {
	keystoretest.RequireKeychain(t)
	ctx := context.Background()
	for _, tc := range []struct{ created, opened, hint string }{
		{"keychain", "file", "run the command without --keystore file"},
		{"file", "keychain", "run the command with --keystore file"},
	} {
		profile := fmt.Sprintf("other-%s-%d", tc.created, time.Now().UnixNano())
		dir := filepath.Join(t.TempDir(), "d")
		a, closeApp, err := open(ctx, app.Globals{Profile: profile, DataDir: dir, Keystore: tc.created})
		if err != nil {
			t.Fatal(err)
		}
		_, err = a.AppendEvents([]storage.Event{app.TestEvent("acme", 1, time.Now().Add(-time.Minute))})
		if err := errors.Join(err, closeApp()); err != nil {
			t.Fatal(err)
		}
		_, _, err = open(ctx, app.Globals{Profile: profile, DataDir: dir, Keystore: tc.opened, MustExist: true})
		if !errors.Is(err, storage.ErrKeyNotFound) || !strings.Contains(err.Error(), tc.hint) {
			t.Errorf("created with the %s keystore, opened with the %s one: %v; want a hint to %s", tc.created, tc.opened, err, tc.hint)
		}
		// The hint before any advice to move the log aside.
		if msg := err.Error(); strings.Contains(msg, "move the directory aside") && strings.Index(msg, "move the directory aside") < strings.Index(msg, tc.hint) {
			t.Errorf("created with the %s keystore, opened with the %s one: %v; the hint comes after moving the log aside", tc.created, tc.opened, err)
		}
	}
}

// A profile made with --keystore file, opened without it where the
// keychain cannot be reached (over SSH, where the file keystore is most
// used), is told to use --keystore file.
func TestFileKeystoreProfileWithoutTheKeychain(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the keychain is made unreachable through its D-Bus session address, which Linux alone uses")
	}
	home, data := t.TempDir(), filepath.Join(t.TempDir(), "d")
	add := runMain(t, home, "--data-dir", data, "append")
	add.Stdin = strings.NewReader(mustEventLine(t) + "\n")
	if out, err := add.CombinedOutput(); err != nil {
		t.Fatalf("append: %v\n%s", err, out)
	}
	for _, bus := range []string{"unix:path=" + filepath.Join(home, "no-bus"), ""} {
		cmd := runMain(t, home, "--keystore", "keychain", "--data-dir", data, "query", "--org", "acme")
		cmd.Env = append(cmd.Env, "DBUS_SESSION_BUS_ADDRESS="+bus)
		out, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 2 || !strings.Contains(string(out), "run the command with --keystore file") {
			t.Errorf("DBUS_SESSION_BUS_ADDRESS=%q: %v\n%s\nwant exit 2 and a hint to use --keystore file", bus, err, out)
		}
	}
}

func mustEventLine(t *testing.T) string {
	t.Helper()
	b, err := json.Marshal(app.TestEvent("acme", 1, time.Now().Add(-time.Minute)))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestMain runs the command itself when a test starts this binary as the
// CLI (runMain), so that a test can signal a real process.
func TestMain(m *testing.M) {
	if os.Getenv("AXIOM_AUDIT_TEST_MAIN") == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}

// runMain starts this test binary as the axiom-audit command with args, in
// a home of its own and with the file keystore.
func runMain(t *testing.T, home string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], append([]string{"--keystore", "file"}, args...)...)
	cmd.Env = append(os.Environ(), "AXIOM_AUDIT_TEST_MAIN=1", "HOME="+home,
		"XDG_CONFIG_HOME="+filepath.Join(home, ".config"), "XDG_DATA_HOME="+filepath.Join(home, ".local", "share"))
	return cmd
}

// Ctrl-C (SIGINT) or SIGTERM during copy-for-audit leaves no directory
// behind: the command cancels the copy, which removes what it wrote, and
// exits with an error. A copy the signal came too late for is whole and
// recorded. Each signal is sent as soon as the copy's directory appears;
// the test fails unless at least one of them interrupted a copy.
func TestCopyForAudit_SignalLeavesNothing(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no SIGINT to send on Windows")
	}
	home := t.TempDir()
	data := filepath.Join(home, "data")
	if out, err := runMain(t, home, "--data-dir", data, "demo", "--events", "20000").CombinedOutput(); err != nil {
		t.Fatalf("demo: %v\n%s", err, out)
	}
	interrupted, copied := 0, 0
	for i, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGINT, syscall.SIGTERM, syscall.SIGINT, syscall.SIGTERM} {
		out := filepath.Join(home, fmt.Sprintf("copy-%d", i))
		cmd := runMain(t, home, "--data-dir", data, "copy-for-audit", "--out", out)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Microsecond) {
			if _, err := os.Lstat(out); err == nil {
				break
			}
			if time.Now().After(deadline) {
				cmd.Process.Kill()
				t.Fatalf("copy %d: %s never appeared; stderr:\n%s", i, out, stderr.String())
			}
		}
		if err := cmd.Process.Signal(sig); err != nil {
			t.Fatal(err)
		}
		err := cmd.Wait()
		var exit *exec.ExitError
		switch {
		case err == nil:
			// The copy was done before the signal arrived: it is whole.
			for _, name := range []string{"log", "read-key"} {
				if _, err := os.Stat(filepath.Join(out, name)); err != nil {
					t.Errorf("copy %d exited 0 but lacks %s: %v", i, name, err)
				}
			}
			copied++
		case errors.As(err, &exit) && exit.ExitCode() > 0:
			if _, err := os.Lstat(out); !errors.Is(err, os.ErrNotExist) {
				entries, _ := os.ReadDir(out)
				t.Errorf("copy %d, interrupted by %v (exit %d), left %s behind (%d entries, %v); stderr:\n%s",
					i, sig, exit.ExitCode(), out, len(entries), err, stderr.String())
			}
			if !strings.Contains(stderr.String(), "axiom-audit: interrupted: no copy was made") {
				t.Errorf("copy %d, interrupted by %v, does not say so; stderr:\n%s", i, sig, stderr.String())
			}
			interrupted++
		default:
			// Killed by the signal itself: the command did not handle it.
			_, statErr := os.Lstat(out)
			t.Errorf("copy %d: %v killed the command (%v) instead of cancelling the copy; %s stat: %v", i, sig, err, out, statErr)
		}
	}
	// Only the copies that were made are in the log.
	q := runMain(t, home, "--data-dir", data, "query", "--org", "axiom-audit", "--action", "audit.copied_for_audit", "--format", "jsonl")
	var qerr bytes.Buffer
	q.Stderr = &qerr
	out, err := q.Output()
	// With no copy recorded the log may have no axiom-audit organization.
	if err != nil && !strings.Contains(qerr.String(), `no organization "axiom-audit"`) {
		t.Fatalf("query: %v\n%s", err, qerr.String())
	}
	if n := strings.Count(string(out), `"actionType":"audit.copied_for_audit"`); n != copied {
		t.Errorf("the log records %d copies, %d were made", n, copied)
	}
	if interrupted == 0 {
		t.Fatalf("no signal came during a copy (%d copies finished first): the test did not exercise the interruption", copied)
	}
	t.Logf("%d copies interrupted, %d finished before the signal", interrupted, copied)
}

// Ctrl-C (SIGINT) or SIGTERM during export or report leaves nothing in
// the folder: the command cancels, the partial folder (whose files hold
// revealed states, with --include-sensitive) is removed, and it exits with
// an error that says so. Each signal is sent as soon as the partial folder
// appears; the test fails unless at least one of each command's runs was
// interrupted. Only the finished ones are recorded as audit.exported. An
// export killed outright leaves its folder, which the next export in the
// same folder removes.
func TestExportAndReport_SignalLeavesNothing(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no SIGINT to send on Windows")
	}
	home := t.TempDir()
	data := filepath.Join(home, "data")
	if out, err := runMain(t, home, "--data-dir", data, "demo", "--events", "20000", "--orgs", "1").CombinedOutput(); err != nil {
		t.Fatalf("demo: %v\n%s", err, out)
	}
	const org = "acme-prod" // demo's first organization
	today := time.Now().UTC()
	period := today.AddDate(0, 0, -120).Format(time.DateOnly) + ".." + today.Format(time.DateOnly)
	finished := 0
	for _, c := range []struct {
		name, partial, said string
		args                []string
	}{
		{"export", ".axiom-audit-export-", "interrupted: no bundle was written",
			[]string{"export", "--org", org, "--format", "jsonl", "--include-sensitive"}},
		{"report", ".axiom-audit-report-", "interrupted: no report was written",
			[]string{"report", "--org", org, "--period", period, "--no-pdf"}},
	} {
		interrupted := 0
		for i, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGINT, syscall.SIGTERM} {
			out := filepath.Join(home, fmt.Sprintf("%s-%d", c.name, i))
			if err := os.Mkdir(out, 0o700); err != nil {
				t.Fatal(err)
			}
			cmd := runMain(t, home, append([]string{"--data-dir", data}, append(c.args, "--out", out)...)...)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(200 * time.Microsecond) {
				if entries, _ := os.ReadDir(out); len(entries) > 0 {
					break
				}
				if time.Now().After(deadline) {
					cmd.Process.Kill()
					t.Fatalf("%s %d: nothing appeared in %s; stderr:\n%s", c.name, i, out, stderr.String())
				}
			}
			if err := cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			err := cmd.Wait()
			entries, _ := os.ReadDir(out)
			var exit *exec.ExitError
			switch {
			case err == nil:
				// Done before the signal arrived: one whole folder.
				if len(entries) != 1 || strings.HasPrefix(entries[0].Name(), ".") {
					t.Errorf("%s %d exited 0 and left %v", c.name, i, entries)
				}
				finished++
			case errors.As(err, &exit) && exit.ExitCode() > 0:
				if len(entries) != 0 {
					t.Errorf("%s %d, interrupted by %v (exit %d), left %v behind; stderr:\n%s", c.name, i, sig, exit.ExitCode(), entries, stderr.String())
				}
				if !strings.Contains(stderr.String(), c.said) {
					t.Errorf("%s %d, interrupted by %v, does not say so; stderr:\n%s", c.name, i, sig, stderr.String())
				}
				interrupted++
			default:
				t.Errorf("%s %d: %v killed the command (%v) instead of cancelling it; left %v", c.name, i, sig, err, entries)
			}
		}
		if interrupted == 0 {
			t.Errorf("no signal came during any %s run: the test did not exercise the interruption", c.name)
		}
	}
	q := runMain(t, home, "--data-dir", data, "query", "--org", org, "--action", "audit.exported", "--format", "jsonl")
	out, err := q.Output()
	if err != nil && finished > 0 {
		t.Fatalf("query: %v", err)
	}
	if n := strings.Count(string(out), `"actionType":"audit.exported"`); n != finished {
		t.Errorf("the log records %d exports and reports, %d were written", n, finished)
	}

	// Killed outright (SIGKILL: no cleanup), an export leaves its partial
	// folder; the next export in the same folder removes it.
	dir := filepath.Join(home, "killed")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	exportTo := []string{"--data-dir", data, "export", "--org", org, "--format", "jsonl", "--include-sensitive", "--out", dir}
	cmd := runMain(t, home, exportTo...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Killed once its partial folder exists: one killed between its lock
	// file and its folder leaves a lone lock file, which is left for a
	// minute (TestMakePartial_LonelyLocksAndGlobCharacters).
	partialFolder := func() bool {
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			if e.IsDir() {
				return true
			}
		}
		return false
	}
	for deadline := time.Now().Add(60 * time.Second); !partialFolder(); time.Sleep(200 * time.Microsecond) {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("no partial folder appeared in %s", dir)
		}
	}
	cmd.Process.Kill()
	cmd.Wait()
	var left []string
	placed := 0
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		left = append(left, e.Name())
		if !strings.HasPrefix(e.Name(), ".") {
			placed++
		}
	}
	if placed > 0 {
		t.Skipf("the export was done before it was killed: %v", left)
	}
	if out, err := runMain(t, home, exportTo...).CombinedOutput(); err != nil {
		t.Fatalf("export after one was killed: %v\n%s", err, out)
	}
	entries, _ = os.ReadDir(dir)
	if len(entries) != 1 || strings.HasPrefix(entries[0].Name(), ".") {
		var now []string
		for _, e := range entries {
			now = append(now, e.Name())
		}
		t.Errorf("the killed export left %v; after the next export the folder holds %v, want one bundle", left, now)
	}
}

// An auditor's copy opened without --read-key, as if it were a profile, is
// refused (exit 2) with the command that opens it, and nothing is written
// into it: no keychain namespace, no key.
func TestAuditCopyWithoutReadKeyIsRefusedUntouched(t *testing.T) {
	home := t.TempDir()
	data := filepath.Join(home, "data")
	if out, err := runMain(t, home, "--data-dir", data, "demo", "--events", "200", "--orgs", "1").CombinedOutput(); err != nil {
		t.Fatalf("demo: %v\n%s", err, out)
	}
	cp := filepath.Join(home, "copy")
	if out, err := runMain(t, home, "--data-dir", data, "copy-for-audit", "--out", cp).CombinedOutput(); err != nil {
		t.Fatalf("copy-for-audit: %v\n%s", err, out)
	}
	listing := func() string {
		var b strings.Builder
		filepath.WalkDir(cp, func(p string, d os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			fi, _ := d.Info()
			fmt.Fprintf(&b, "%s %d %v\n", p, fi.Size(), fi.ModTime().UnixNano())
			return nil
		})
		return b.String()
	}
	before := listing()
	for _, args := range [][]string{{"verify"}, {"verify", "--keyless"}, {"query", "--org", "acme-prod"}, {"retention", "show", "--org", "acme-prod"}} {
		cmd := runMain(t, home, append([]string{"--data-dir", cp}, args...)...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		err := cmd.Run()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 2 || !strings.Contains(stderr.String(), "is an auditor's copy") ||
			!strings.Contains(stderr.String(), "--read-key "+filepath.Join(cp, "read-key")) {
			t.Errorf("%v on the copy: %v, stderr %q; want exit 2 and the command that opens it", args, err, stderr.String())
		}
	}
	if after := listing(); after != before {
		t.Errorf("the copy changed:\nbefore:\n%s\nafter:\n%s", before, after)
	}
}

// A producer's append waits for another axiom-audit command that has the
// log open (here a sync run-now held up by a slow receiver, as from cron)
// instead of failing, and says that it waits.
func TestAppendWaitsForAnotherCommand(t *testing.T) {
	home := t.TempDir()
	data := filepath.Join(home, "data")
	line := func(i int) string {
		b, err := json.Marshal(app.TestEvent("acme", i, time.Now().Add(-time.Minute)))
		if err != nil {
			t.Fatal(err)
		}
		return string(b) + "\n"
	}
	appendOne := func(i int) *exec.Cmd {
		cmd := runMain(t, home, "--data-dir", data, "append")
		cmd.Stdin = strings.NewReader(line(i))
		return cmd
	}
	if out, err := appendOne(1).CombinedOutput(); err != nil {
		t.Fatalf("append: %v\n%s", err, out)
	}
	posted := make(chan struct{}, 1)
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case posted <- struct{}{}:
		default:
		}
		<-release
	}))
	defer srv.Close()
	defer close(release)
	secret := filepath.Join(home, "secret")
	os.WriteFile(secret, []byte("whsec_1\n"), 0o600)
	if out, err := runMain(t, home, "--data-dir", data, "sync", "enable", "--org", "acme", "--to", "webhook", "--url", srv.URL,
		"--format", "jsonl", "--secret-file", secret).CombinedOutput(); err != nil {
		t.Fatalf("sync enable: %v\n%s", err, out)
	}
	runNow := runMain(t, home, "--data-dir", data, "sync", "run-now", "--org", "acme")
	if err := runNow.Start(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-posted: // run-now has the log open, waiting on the receiver
	case <-time.After(30 * time.Second):
		runNow.Process.Kill()
		t.Fatal("run-now never posted")
	}
	producer := appendOne(2)
	var stdout bytes.Buffer
	stderr := &syncBuffer{}
	producer.Stdout, producer.Stderr = &stdout, stderr
	if err := producer.Start(); err != nil {
		t.Fatal(err)
	}
	// The producer finds the log held, and says it waits.
	for deadline := time.Now().Add(30 * time.Second); !strings.Contains(stderr.String(), "waiting up to"); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			producer.Process.Kill()
			t.Fatalf("the producer never said it waits; stderr:\n%s", stderr.String())
		}
	}
	release <- struct{}{}
	err := producer.Wait()
	runNow.Wait()
	if err != nil || !strings.Contains(stdout.String(), `"seq":`) || !strings.Contains(stderr.String(), "waiting up to") {
		t.Fatalf("append while run-now held the log: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}
}

// syncBuffer is a bytes.Buffer a child process's output goroutine writes
// while the test reads it.
type syncBuffer struct {
	mu      sync.Mutex
	b       bytes.Buffer
	written chan struct{} // a token after each write, for waitFor
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.written == nil {
		b.written = make(chan struct{}, 1)
	}
	select {
	case b.written <- struct{}{}:
	default:
	}
	return b.b.Write(p)
}

// waitFor waits until the buffer holds s, or timeout passes (false).
func (b *syncBuffer) waitFor(s string, timeout time.Duration) bool {
	b.mu.Lock()
	if b.written == nil {
		b.written = make(chan struct{}, 1)
	}
	written := b.written
	b.mu.Unlock()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for !strings.Contains(b.String(), s) {
		select {
		case <-written:
		case <-deadline.C:
			return false
		}
	}
	return true
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// A command that reads a log does not create one: a mistyped --data-dir
// is an error (exit 2), not a clean verify of an empty log, and leaves no
// directory behind. append creates the profile as before.
func TestReadCommandsNeedALog(t *testing.T) {
	home := t.TempDir()
	dir := filepath.Join(t.TempDir(), "typo")
	for _, args := range [][]string{
		{"verify"}, {"verify", "--keyless"}, {"query", "--org", "acme"}, {"checkpoint", "--org", "acme"},
		{"recover", "--acknowledge"}, {"copy-for-audit", "--out", filepath.Join(t.TempDir(), "copy")},
		{"sync", "enable", "--org", "acme", "--to", "s3", "--bucket", "b"}, {"sync", "status", "--org", "acme"}, {"sync", "run-now", "--org", "acme"},
	} {
		cmd := runMain(t, home, append([]string{"--data-dir", dir}, args...)...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		err := cmd.Run()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 2 || !strings.Contains(stderr.String(), "there is no audit log in "+dir) {
			t.Errorf("%v on a missing --data-dir: %v, stderr %q; want exit 2 naming the directory", args, err, stderr.String())
		}
		if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("%v created %s: %v", args, dir, err)
		}
	}
	cmd := runMain(t, home, "--data-dir", dir, "append")
	cmd.Stdin = strings.NewReader(`{"timestamp":"` + time.Now().Add(-time.Minute).UTC().Format(time.RFC3339) +
		`","organizationId":"acme","userId":"u","provider":"aws","actionType":"user.signed_in","status":"applied","riskLevel":"low"}` + "\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("append to a new profile: %v\n%s", err, out)
	}
	if out, err := runMain(t, home, "--data-dir", dir, "verify").CombinedOutput(); err != nil {
		t.Fatalf("verify after the append: %v\n%s", err, out)
	}

	// A log directory that is gone while the profile's keys are still
	// there is a lost log, not a typo: verify reports the missing
	// organization and recover acknowledges it.
	if err := os.RemoveAll(filepath.Join(dir, "log")); err != nil {
		t.Fatal(err)
	}
	out, err := runMain(t, home, "--data-dir", dir, "verify").CombinedOutput()
	if strings.Contains(string(out), "there is no audit log") || !strings.Contains(string(out), `organization "acme" is missing from the database`) {
		t.Fatalf("verify of a lost log: %v\n%s\nwant the missing organization's alert", err, out)
	}
	if out, err := runMain(t, home, "--data-dir", dir, "recover", "--acknowledge").CombinedOutput(); err != nil || !strings.Contains(string(out), "appends are accepted again") {
		t.Fatalf("recover --acknowledge of a lost log: %v\n%s", err, out)
	}
	if out, err := runMain(t, home, "--data-dir", dir, "verify").CombinedOutput(); err != nil || !strings.Contains(string(out), "clean") {
		t.Fatalf("verify after recover: %v\n%s", err, out)
	}
}

// A read command on a profile with no log and a keystore it cannot read
// (here, the OS keychain with no session bus) cannot tell a typo from a
// lost log: it creates nothing and says both.
func TestReadCommandsKeystoreUnreadable(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the keychain is made unreachable through its D-Bus session address, which Linux alone uses")
	}
	home := t.TempDir()
	cmd := runMain(t, home, "--keystore", "keychain", "--profile", "typo", "verify")
	cmd.Env = append(cmd.Env, "DBUS_SESSION_BUS_ADDRESS=unix:path="+filepath.Join(home, "no-bus"))
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 2 || !strings.Contains(string(out), "there is no audit log in ") ||
		!strings.Contains(string(out), "could not be read from its keystore") || !strings.Contains(string(out), "nothing was created") {
		t.Errorf("verify of an unknown profile with the keychain unreachable: %v\n%s\nwant exit 2 saying there is no log and the keystore could not be read", err, out)
	}
	entries, _ := os.ReadDir(filepath.Join(home, ".local", "share", "axiom-audit"))
	for _, e := range entries {
		t.Errorf("verify of an unknown profile created %s", e.Name())
	}
}

// Ctrl-C (SIGINT) or SIGTERM during a long append stops it between two
// commits and says where: the receipts printed are exactly the events
// recorded, and appending the input again from the line it names records
// the rest, each event once.
func TestAppend_SignalSaysWhereItStopped(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no SIGINT to send on Windows")
	}
	home := t.TempDir()
	data := filepath.Join(home, "data")
	const n = 40000
	var in bytes.Buffer
	at := time.Now().Add(-time.Hour)
	for i := range n {
		e := app.TestEvent("acme", i, at.Add(time.Duration(i)*time.Millisecond))
		b, err := json.Marshal(e) // no id: a second append of a line would duplicate it
		if err != nil {
			t.Fatal(err)
		}
		in.Write(append(b, '\n'))
	}
	input := filepath.Join(home, "events.jsonl")
	if err := os.WriteFile(input, in.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	interrupted := false
	for i, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		cmd := runMain(t, home, "--data-dir", data, "append", input)
		stdout, stderr := &syncBuffer{}, &syncBuffer{}
		cmd.Stdout, cmd.Stderr = stdout, stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		if !stdout.waitFor(`"seq":`, 60*time.Second) {
			cmd.Process.Kill()
			t.Fatalf("no receipt within a minute; stderr:\n%s", stderr.String())
		}
		cmd.Process.Signal(sig)
		err := cmd.Wait()
		receipts := strings.Count(stdout.String(), `"seq":`)
		if err == nil {
			if receipts != n {
				t.Fatalf("run %d exited 0 with %d receipts", i, receipts)
			}
			continue // done before the signal
		}
		interrupted = true
		var from int
		said := stderr.String()
		k := strings.Index(said, "append the input again from line ")
		if k < 0 {
			t.Fatalf("run %d, interrupted by %v (%v) with %d receipts, does not say where to go on; stderr:\n%s", i, sig, err, receipts, said)
		}
		if _, scanErr := fmt.Sscanf(said[k:], "append the input again from line %d", &from); scanErr != nil ||
			from != receipts+1 || !strings.Contains(said, "interrupted") {
			t.Fatalf("run %d interrupted by %v with %d receipts; stderr:\n%s", i, sig, receipts, stderr.String())
		}
		count := func() int {
			out, err := runMain(t, home, "--data-dir", data, "query", "--org", "acme", "--limit", "0", "--format", "jsonl").Output()
			if err != nil {
				t.Fatalf("query: %v", err)
			}
			return bytes.Count(out, []byte("\n"))
		}
		if got := count(); got != receipts {
			t.Fatalf("run %d: %d receipts printed, %d events recorded", i, receipts, got)
		}
		// The rest, from the line named.
		rest := bytes.Join(bytes.SplitAfter(in.Bytes(), []byte("\n"))[from-1:], nil)
		again := runMain(t, home, "--data-dir", data, "append", "-")
		again.Stdin = bytes.NewReader(rest)
		if out, err := again.CombinedOutput(); err != nil {
			t.Fatalf("append from line %d: %v\n%.500s", from, err, out)
		}
		if got := count(); got != n {
			t.Fatalf("after appending the rest: %d events, want %d", got, n)
		}
		break
	}
	if !interrupted {
		t.Error("no signal came during an append: the test did not exercise the interruption")
	}
}

// A first append that fails (here: no keychain to create the keys in)
// leaves no empty profile directory behind.
func TestFailedFirstStartLeavesNoDirectories(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the keychain is made unreachable through its D-Bus session address, which Linux alone uses")
	}
	home := t.TempDir()
	add := runMain(t, home, "--keystore", "keychain", "append")
	add.Env = append(add.Env, "DBUS_SESSION_BUS_ADDRESS=unix:path="+filepath.Join(home, "no-bus"))
	add.Stdin = strings.NewReader(mustEventLine(t) + "\n")
	out, err := add.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 2 {
		t.Fatalf("append without a keychain: %v\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join(home, ".local", "share", "axiom-audit")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the failed first append left %s behind (%v)\n%s", filepath.Join(home, ".local", "share", "axiom-audit"), err, out)
	}
}
