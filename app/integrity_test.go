package app

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/axiomops/axiom-audit/storage"
	"github.com/axiomops/axiom-audit/storage/keystore"
	"github.com/axiomops/axiom-audit/storage/tlog"
)

// appendEventsN appends n events of org and returns their ids.
func appendEventsN(t *testing.T, a *App, org string, n, from int) []string {
	t.Helper()
	var events []storage.Event
	base := time.Now().UTC().Add(-time.Hour)
	for i := range n {
		events = append(events, TestEvent(org, from+i, base.Add(time.Duration(from+i)*time.Second)))
	}
	rs, err := a.appendEvents(context.Background(), events)
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]string, len(rs))
	for i, r := range rs {
		ids[i] = r.ID
	}
	return ids
}

// A checkpoint printed by the CLI verifies with note.Open and the key the
// CLI prints, and its tree is the organization's.
func TestCLI_CheckpointVerifiesWithNoteOpen(t *testing.T) {
	a := TestApp(t)
	appendEventsN(t, a, "org-a", 12, 0)
	text, stderr, code := runCLI(t, a, "", "checkpoint", "--org", "org-a")
	if code != 0 {
		t.Fatalf("checkpoint: exit %d: %s", code, stderr)
	}
	key, stderr, code := runCLI(t, a, "", "checkpoint", "--org", "org-a", "--public-key")
	if code != 0 {
		t.Fatalf("checkpoint --public-key: exit %d: %s", code, stderr)
	}
	v, err := note.NewVerifier(strings.TrimSpace(key))
	if err != nil {
		t.Fatalf("the printed key is not a note verifier key: %v\n%s", err, key)
	}
	n, err := note.Open([]byte(text), note.VerifierList(v))
	if err != nil {
		t.Fatalf("note.Open: %v\n%s", err, text)
	}
	cp, err := tlog.ParseCheckpoint([]byte(n.Text))
	if err != nil {
		t.Fatal(err)
	}
	if cp.Size != 12 || !strings.HasSuffix(cp.Origin, "/org-a") {
		t.Fatalf("checkpoint %+v, want 12 events of org-a", cp)
	}
	// Byte-exact: what the API serves is what the CLI prints.
	dto, err := a.LatestCheckpoint("org-a")
	if err != nil || dto.Note != text {
		t.Fatalf("binding note differs from the CLI's (%v):\n%q\n%q", err, dto.Note, text)
	}

	// An older checkpoint, by its tree size, is the same note, byte for
	// byte, after more events and a newer checkpoint.
	appendEventsN(t, a, "org-a", 5, 12)
	if _, err := a.store.Checkpoint(context.Background(), "org-a"); err != nil {
		t.Fatal(err)
	}
	if newer, _, _ := runCLI(t, a, "", "checkpoint", "--org", "org-a"); newer == text {
		t.Fatal("no newer checkpoint")
	}
	if older, stderr, code := runCLI(t, a, "", "checkpoint", "--org", "org-a", "--size", "12"); code != 0 || older != text {
		t.Fatalf("checkpoint --size 12: exit %d, %q\n%s", code, older, stderr)
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"checkpoint"}, "--org: is required"},
		{[]string{"checkpoint", "--org", "org-zz"}, "org-zz"},
		{[]string{"checkpoint", "--org", "org-a", "--size", "7"}, "no stored checkpoint of 7 events (checkpoints are stored as the log grows, not for every size): the nearest stored is of 12 events"},
		{[]string{"checkpoint", "--org", "org-a", "--size", "14"}, "the nearest stored are of 12 and 17 events"},
		{[]string{"checkpoint", "--org", "org-a", "--size", "99"}, "the nearest stored is of 17 events"},
		{[]string{"checkpoint", "--org", "org-a", "--size", "1"}, "no stored checkpoint of 1 event (checkpoints"},
		{[]string{"checkpoint", "--org", "org-a", "--size", "0"}, "--size"},
	} {
		_, stderr, code := runCLI(t, a, "", tc.args...)
		if code != 2 || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit 2 naming %q", tc.args, code, stderr, tc.want)
		}
	}
}

// prove prints inclusion proofs that lead to the checkpoint's root (the
// newest, or one kept in a file) and consistency proofs between sizes.
func TestCLI_ProveInclusionAndConsistency(t *testing.T) {
	a := TestApp(t)
	ids := appendEventsN(t, a, "org-a", 10, 0)
	old, _, code := runCLI(t, a, "", "checkpoint", "--org", "org-a")
	if code != 0 {
		t.Fatal("checkpoint failed")
	}
	oldFile := filepath.Join(t.TempDir(), "checkpoint.txt")
	if err := os.WriteFile(oldFile, []byte(old), 0o600); err != nil {
		t.Fatal(err)
	}
	appendEventsN(t, a, "org-a", 23, 10)
	if _, err := a.store.Checkpoint(context.Background(), "org-a"); err != nil {
		t.Fatal(err)
	}

	// Against the newest checkpoint, of 33 events.
	out, stderr, code := runCLI(t, a, "", "prove", "--org", "org-a", ids[3])
	if code != 0 {
		t.Fatalf("prove: exit %d: %s", code, stderr)
	}
	var p InclusionProofDTO
	if err := json.Unmarshal([]byte(out), &p); err != nil {
		t.Fatalf("prove output is not JSON: %v\n%s", err, out)
	}
	latest, err := a.LatestCheckpoint("org-a")
	if err != nil {
		t.Fatal(err)
	}
	root, _ := tlog.ParseHash(latest.Root)
	if p.LeafIndex != 3 || p.TreeSize != 33 || !p.Verified || verifyInclusionDTO(p, root) != nil {
		t.Fatalf("proof %+v against checkpoint %d does not verify", p, latest.Size)
	}
	// ⌈log2 n⌉ hashes at most.
	if len(p.Hashes) > 6 {
		t.Fatalf("%d hashes for a tree of 33", len(p.Hashes))
	}
	// It carries the checkpoint it leads to, to be checked on its own.
	var withNote struct {
		Checkpoint string `json:"checkpoint"`
	}
	if json.Unmarshal([]byte(out), &withNote); withNote.Checkpoint != latest.Note {
		t.Errorf("the proof carries checkpoint %q, want the newest:\n%s", withNote.Checkpoint, latest.Note)
	}

	// Against the older checkpoint in a file.
	out, stderr, code = runCLI(t, a, "", "prove", "--org", "org-a", ids[3], "--checkpoint", oldFile)
	if code != 0 {
		t.Fatalf("prove --checkpoint: exit %d: %s", code, stderr)
	}
	if err := json.Unmarshal([]byte(out), &p); err != nil || p.TreeSize != 10 || !p.Verified {
		t.Fatalf("proof against the old checkpoint: %+v %v", p, err)
	}
	if json.Unmarshal([]byte(out), &withNote); withNote.Checkpoint != old {
		t.Errorf("the proof carries checkpoint %q, want the file's:\n%s", withNote.Checkpoint, old)
	}
	// The same checkpoint copied through Windows or a clipboard.
	for name, text := range map[string]string{
		"crlf":       strings.ReplaceAll(old, "\n", "\r\n"),
		"no-newline": strings.TrimSuffix(old, "\n"),
		"both":       strings.TrimSuffix(strings.ReplaceAll(old, "\n", "\r\n"), "\r\n"),
	} {
		f := filepath.Join(t.TempDir(), name+".txt")
		if err := os.WriteFile(f, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		out, stderr, code = runCLI(t, a, "", "prove", "--org", "org-a", ids[3], "--checkpoint", f)
		if code != 0 || json.Unmarshal([]byte(out), &p) != nil || p.TreeSize != 10 || !p.Verified {
			t.Errorf("prove --checkpoint with a %s copy: exit %d, stdout %q, stderr %q", name, code, out, stderr)
		}
	}

	// Consistency from 10 to 33 verifies against the two roots.
	out, stderr, code = runCLI(t, a, "", "prove", "--org", "org-a", "--from", "10", "--to", "33")
	if code != 0 {
		t.Fatalf("prove --from --to: exit %d: %s", code, stderr)
	}
	var cp ConsistencyProofDTO
	if err := json.Unmarshal([]byte(out), &cp); err != nil {
		t.Fatal(err)
	}
	hashes := make([][]byte, len(cp.Hashes))
	for i, h := range cp.Hashes {
		hashes[i], _ = base64.StdEncoding.DecodeString(h)
	}
	oldCP, err := tlog.OpenCheckpoint([]byte(old), latest.PublicKey, latest.Origin)
	if err != nil {
		t.Fatal(err)
	}
	if err := tlog.VerifyConsistency(10, 33, hashes, oldCP.Root, root); err != nil {
		t.Fatalf("consistency proof does not verify: %v", err)
	}

	// A checkpoint this log signed and someone changed is a problem found
	// (exit 1); a file that is no checkpoint of this log is a usage error.
	forged := strings.Replace(old, "\n10\n", "\n9\n", 1)
	forgedFile := filepath.Join(t.TempDir(), "forged.txt")
	if err := os.WriteFile(forgedFile, []byte(forged), 0o600); err != nil {
		t.Fatal(err)
	}
	out, stderr, code = runCLI(t, a, "", "prove", "--org", "org-a", ids[3], "--checkpoint", forgedFile)
	if code != 1 || out != "" || !strings.Contains(stderr, "was changed since this log signed it") {
		t.Errorf("prove against a changed checkpoint: exit %d, stdout %q, stderr %q; want 1", code, out, stderr)
	}
	// So is a change to the signature's first bytes, which hold the key
	// hash: the line still names this log's key.
	body, sig, _ := strings.Cut(old, "\n\n\u2014 ")
	name, b64, _ := strings.Cut(sig, " ")
	flipped := []byte(b64)
	flipped[0] = map[bool]byte{true: 'B', false: 'A'}[flipped[0] == 'A']
	hashChanged := filepath.Join(t.TempDir(), "hash-changed.txt")
	if err := os.WriteFile(hashChanged, []byte(body+"\n\n\u2014 "+name+" "+string(flipped)), 0o600); err != nil {
		t.Fatal(err)
	}
	out, stderr, code = runCLI(t, a, "", "prove", "--org", "org-a", ids[3], "--checkpoint", hashChanged)
	if code != 1 || out != "" || !strings.Contains(stderr, "was changed since this log signed it") {
		t.Errorf("prove against a checkpoint whose key hash was changed: exit %d, stdout %q, stderr %q; want 1", code, out, stderr)
	}
	otherFile := filepath.Join(t.TempDir(), "other.txt")
	body, _, _ = strings.Cut(old, "\n\n")
	otherKey, _, err := note.GenerateKey(rand.Reader, "axiom-audit/another-installation")
	if err != nil {
		t.Fatal(err)
	}
	otherSigner, err := note.NewSigner(otherKey)
	if err != nil {
		t.Fatal(err)
	}
	otherNote, err := note.Sign(&note.Note{Text: body + "\n"}, otherSigner)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(otherFile, otherNote, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"prove", "--org", "org-a", ids[3], "--checkpoint", otherFile}, "--checkpoint: "},
		{[]string{"prove", "--org", "org-a", ids[3], "--checkpoint", filepath.Join(t.TempDir(), "none")}, "--checkpoint: "},
		{[]string{"prove", "--org", "org-a"}, "ID: is required"},
		{[]string{"prove", ids[3]}, "--org: is required"},
		{[]string{"prove", "--org", "org-a", ids[3], "--from", "1", "--to", "2"}, "ID: cannot be combined"},
		{[]string{"prove", "--org", "org-a", "--from", "1"}, "--to: is required"},
		{[]string{"prove", "--org", "org-a", "--from", "20", "--to", "10"}, "from"},
		{[]string{"prove", "--org", "org-a", "--from", "1", "--to", "99"}, "99"},
		{[]string{"prove", "--org", "org-a", "00000000-0000-7000-8000-000000000000"}, "not found"},
		{[]string{"prove", "--org", "org-b", "--from", "0", "--to", "0"}, `no organization "org-b"`},
	} {
		_, stderr, code := runCLI(t, a, "", tc.args...)
		if code != 2 || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit 2 naming %q", tc.args, code, stderr, tc.want)
		}
	}
}

// The rollback scenario end to end through the CLI: a database replaced by
// an older copy is detected through the keychain anchor, verify exits 1
// naming it, appends are refused, and recover --acknowledge records the
// acknowledgement and lets appends through again.
func TestCLI_RollbackRefusesAppendsUntilAcknowledged(t *testing.T) {
	ctx := context.Background()
	var newerFile string
	a, st, closeBoth := rolledBack(t, keystore.NewMemory(), 5, 7, func(a *App) {
		// An auditor keeps the newer checkpoint.
		newerFile = savedCheckpoint(t, a, "org-a")
	})
	defer closeBoth(a, st)

	// What the command line logs (level Warn and up, as without
	// --verbose): the audit.verified that the alert refuses is expected
	// and not logged again beside the report of the alert.
	var logged bytes.Buffer
	a.log = slog.New(slog.NewTextHandler(&logged, &slog.HandlerOptions{Level: slog.LevelWarn}))
	out, stderr, code := runCLI(t, a, "", "verify", "--org", "org-a")
	if code != 1 || !strings.Contains(out, "rollback") || !strings.Contains(out, "org org-a") || strings.Contains(stderr, "exit status") {
		t.Fatalf("verify after rollback: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, stderr)
	}
	if logged.Len() != 0 {
		t.Errorf("verify after rollback logged:\n%s", logged.String())
	}
	// Keyless, the anchor is not read, but the alert the log holds is.
	out, stderr, code = runCLI(t, a, "", "verify", "--org", "org-a", "--keyless")
	if code != 1 || !strings.Contains(out, "integrity_alert") || !strings.Contains(out, "rolled back") {
		t.Fatalf("verify --keyless after rollback: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, stderr)
	}
	// What checkpoint and prove print of the rolled-back database comes
	// with the alert and exit status 1.
	out, stderr, code = runCLI(t, a, "", "checkpoint", "--org", "org-a")
	if code != 1 || !strings.HasPrefix(out, "axiom-audit/") || !strings.Contains(stderr, "integrity alert") || !strings.Contains(stderr, "recover --acknowledge") {
		t.Fatalf("checkpoint after rollback: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, stderr)
	}
	first, err := a.listEvents(ctx, QueryDTO{Org: "org-a", Order: "oldest", Limit: 1})
	if err != nil || len(first.Events) != 1 {
		t.Fatal(first, err)
	}
	for _, args := range [][]string{{first.Events[0].ID}, {"--from", "1", "--to", "5"}} {
		out, stderr, code = runCLI(t, a, "", append([]string{"prove", "--org", "org-a"}, args...)...)
		if code != 1 || !strings.Contains(out, `"hashes"`) || !strings.Contains(stderr, "integrity alert") {
			t.Fatalf("prove %v after rollback: exit %d\nstdout:\n%s\nstderr:\n%s", args, code, out, stderr)
		}
	}
	// The auditor's checkpoint of 12 events proves the rollback, whatever
	// the keychain says.
	_, stderr, code = runCLI(t, a, "", "prove", "--org", "org-a", first.Events[0].ID, "--checkpoint", newerFile)
	if code != 1 || !strings.Contains(stderr, "rolled back or truncated") {
		t.Fatalf("prove against the auditor's newer checkpoint: exit %d, stderr %q", code, stderr)
	}
	ev := mustJSON(t, TestEvent("org-a", 99, time.Now().Add(-time.Minute)))
	_, stderr, code = runCLI(t, a, ev+"\n", "append")
	if code == 0 || !strings.Contains(stderr, "rolled back") || !strings.Contains(stderr, "recover --acknowledge") {
		t.Fatalf("append after rollback: exit %d, stderr %q; want a refusal that says what happened and what to do", code, stderr)
	}
	if cp, err := a.LatestCheckpoint("org-a"); err != nil || cp.Alert == nil || !strings.Contains(cp.Alert.Message, "recover --acknowledge") {
		t.Fatalf("the checkpoint the window shows does not carry the alert: %+v %v", cp.Alert, err)
	}
	out, stderr, code = runCLI(t, a, "", "recover")
	if code != 2 || !strings.Contains(stderr, "--acknowledge") || !strings.Contains(out, "org-a") {
		t.Fatalf("recover without --acknowledge: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, stderr)
	}
	out, stderr, code = runCLI(t, a, "", "recover", "--acknowledge", "--reason", "restored from backup on purpose")
	// What was found, but not the advice to run the command being run.
	if code != 0 || !strings.Contains(out, "alert acknowledged") || !strings.Contains(out, "rolled back") || strings.Contains(out, "run `axiom-audit recover") {
		t.Fatalf("recover --acknowledge: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, stderr)
	}
	page, err := a.listEvents(ctx, QueryDTO{Org: "org-a", ActionTypes: []string{"audit.integrity_alert_acknowledged"}})
	if err != nil || len(page.Events) != 1 {
		t.Fatalf("acknowledgement event: %+v %v", page, err)
	}
	if m := string(page.Events[0].Metadata); !strings.Contains(m, "restored from backup on purpose") {
		t.Fatalf("the acknowledgement does not carry the reason: %s", m)
	}
	if cp, err := a.LatestCheckpoint("org-a"); err != nil || cp.Alert != nil {
		t.Fatalf("the alert outlived its acknowledgement: %+v %v", cp.Alert, err)
	}
	if _, stderr, code = runCLI(t, a, ev+"\n", "append"); code != 0 {
		t.Fatalf("append after acknowledgement: exit %d: %s", code, stderr)
	}
	if out, stderr, code = runCLI(t, a, "", "verify", "--org", "org-a"); code != 0 {
		t.Fatalf("verify after acknowledgement: exit %d\n%s%s", code, out, stderr)
	}
	if out, stderr, code = runCLI(t, a, "", "checkpoint", "--org", "org-a"); code != 0 || stderr != "" {
		t.Fatalf("checkpoint after acknowledgement: exit %d\n%s%s", code, out, stderr)
	}
}

// A database restored from a copy made before an organization's first
// event: the organization's log is missing, and its keychain anchor says
// so. Every command with --org reports that alert as a problem found (exit
// 1), not as a typo of an organization the profile does not have.
func TestCLI_MissingLogIsAnAlertNotATypo(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "log")
	open, closeBoth := reopenable(t, dir, keystore.NewMemory())
	a, st := open()
	appendEventsN(t, a, "org-b", 3, 0)
	closeBoth(a, st)
	backup := filepath.Join(t.TempDir(), "backup")
	copyDir(t, dir, backup)
	a, st = open()
	ids := appendEventsN(t, a, "org-a", 4, 10)
	if _, err := st.Checkpoint(ctx, "org-a"); err != nil {
		t.Fatal(err)
	}
	keptFile := savedCheckpoint(t, a, "org-a")
	closeBoth(a, st)
	restoreDir(t, backup, dir)
	a, st = open()
	defer closeBoth(a, st)

	for _, args := range [][]string{
		{"verify", "--org", "org-a"},
		{"checkpoint", "--org", "org-a"},
		{"prove", "--org", "org-a", ids[0]},
		{"prove", "--org", "org-a", "--from", "1", "--to", "2"},
		{"prove", "--org", "org-a", ids[0], "--checkpoint", keptFile},
		{"query", "--org", "org-a"},
	} {
		out, stderr, code := runCLI(t, a, "", args...)
		if code != 1 || !strings.Contains(out+stderr, "missing from the database") || strings.Contains(stderr, "it has org-b") {
			t.Errorf("%q: exit %d\nstdout: %s\nstderr: %s\nwant exit 1 with the alert", args, code, out, stderr)
		}
	}
	// The window's organization list shows the missing log with its alert.
	orgs, err := a.Organizations()
	if err != nil || len(orgs) != 2 || orgs[0].ID != "org-a" || orgs[0].Size != 0 || orgs[0].Alert == nil ||
		orgs[0].Alert.Kind != string(storage.AlertMissing) || orgs[1].ID != "org-b" || orgs[1].Alert != nil {
		t.Errorf("organizations: %+v, %v; want org-a with its missing_org alert, then org-b", orgs, err)
	}
	// keys rotate is refused with the alert, as appends are.
	_, stderr, code := runCLI(t, a, "", "keys", "rotate", "--org", "org-a")
	if code == 0 || !strings.Contains(stderr, "missing from the database") {
		t.Errorf("keys rotate of the missing log: exit %d, stderr %q", code, stderr)
	}
}

// reopenable opens the log in dir (and an App over it) as often as a test
// restores the directory under it, always with the keystore ks.
func reopenable(t *testing.T, dir string, ks storage.Keystore) (open func() (*App, *storage.Store), closeBoth func(*App, *storage.Store)) {
	open = func() (*App, *storage.Store) {
		st, err := storage.Open(context.Background(), dir, ks, storage.Options{})
		if err != nil {
			t.Fatal(err)
		}
		a, err := New(Options{Store: st, User: "tester", Version: "test", Paths: Paths{Profile: "test", DataDir: t.TempDir()}})
		if err != nil {
			t.Fatal(err)
		}
		return a, st
	}
	closeBoth = func(a *App, st *storage.Store) {
		a.Close()
		if err := st.Close(); err != nil {
			t.Fatal(err)
		}
	}
	return open, closeBoth
}

// With the opt-in file keystore, the anchor a rollback is found through is
// in the key file: messages name the key file's anchor, not the keychain,
// so that the user looks in the right place.
func TestCLI_RollbackWithKeyFileNamesTheKeyFile(t *testing.T) {
	ks, err := keystore.NewFile(filepath.Join(t.TempDir(), "keys", "keys.json"), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	a, st, closeBoth := rolledBack(t, ks, 3, 4, nil)
	defer closeBoth(a, st)

	out, stderr, code := runCLI(t, a, "", "verify", "--org", "org-a")
	ev := mustJSON(t, TestEvent("org-a", 99, time.Now().Add(-time.Minute)))
	_, appendErr, appendCode := runCLI(t, a, ev+"\n", "append")
	for _, c := range []struct {
		what, text string
		code       int
	}{{"verify", out + stderr, code}, {"append", appendErr, appendCode}} {
		if c.code == 0 || !strings.Contains(c.text, "the key file's anchor is a checkpoint of 7 events") || strings.Contains(c.text, "keychain") {
			t.Errorf("%s after a rollback with the key file: exit %d\n%s", c.what, c.code, c.text)
		}
	}
}

// rolledBack makes org-a's log of first events, checkpointed, copies it,
// appends more and checkpoints again (calling newer, if not nil, with the
// app then), and restores the older copy: a rollback the keystore's anchor
// can see. It returns the restored log, open.
func rolledBack(t *testing.T, ks storage.Keystore, first, more int, newer func(*App)) (*App, *storage.Store, func(*App, *storage.Store)) {
	t.Helper()
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "log")
	open, closeBoth := reopenable(t, dir, ks)
	a, st := open()
	appendEventsN(t, a, "org-a", first, 0)
	if _, err := st.Checkpoint(ctx, "org-a"); err != nil {
		t.Fatal(err)
	}
	closeBoth(a, st)
	backup := filepath.Join(t.TempDir(), "backup")
	copyDir(t, dir, backup)
	a, st = open()
	appendEventsN(t, a, "org-a", more, first)
	if _, err := st.Checkpoint(ctx, "org-a"); err != nil {
		t.Fatal(err)
	}
	if newer != nil {
		newer(a)
	}
	closeBoth(a, st)
	restoreDir(t, backup, dir)
	a, st = open()
	return a, st, closeBoth
}

// restoreDir replaces the directory to with a copy of from.
func restoreDir(t *testing.T, from, to string) {
	t.Helper()
	if err := os.RemoveAll(to); err != nil {
		t.Fatal(err)
	}
	copyDir(t, from, to)
}

// savedCheckpoint is a file holding org's newest checkpoint as the CLI
// prints it, as an auditor keeps one.
func savedCheckpoint(t *testing.T, a *App, org string) string {
	t.Helper()
	text, stderr, code := runCLI(t, a, "", "checkpoint", "--org", org)
	path := filepath.Join(t.TempDir(), "checkpoint.txt")
	if err := os.WriteFile(path, []byte(text), 0o600); code != 0 || err != nil {
		t.Fatal(code, stderr, err)
	}
	return path
}

func copyDir(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.WalkDir(from, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, path)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(to, rel), 0o700)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(to, rel), b, 0o600)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// verify's contract: exit 0 and a summary when clean, JSON lines with
// --json, exit 2 for an unknown organization, and each run recorded.
func TestCLI_VerifyCleanJSONAndErrors(t *testing.T) {
	a := TestApp(t)
	appendEventsN(t, a, "org-a", 8, 0)
	appendEventsN(t, a, "org-b", 3, 0)
	out, stderr, code := runCLI(t, a, "", "verify")
	if code != 0 || !strings.Contains(out, "clean") || !strings.Contains(out, "11 events") {
		t.Fatalf("verify: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, stderr)
	}
	out, _, code = runCLI(t, a, "", "verify", "--org", "org-a", "--json", "--keyless")
	if code != 0 {
		t.Fatalf("verify --json: exit %d", code)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	var last verifySummaryLine
	if len(lines) != 1 || json.Unmarshal([]byte(lines[0]), &last) != nil || !last.Summary.Clean || !last.Summary.Keyless || last.Summary.Org != "org-a" {
		t.Fatalf("verify --json: %q", out)
	}
	_, stderr, code = runCLI(t, a, "", "verify", "--org", "org-zz")
	if code != 2 || !strings.Contains(stderr, `"org-zz"`) {
		t.Fatalf("verify of an unknown org: exit %d, %q", code, stderr)
	}
	orgs, _ := a.organizations(context.Background())
	if len(orgs) != 2 {
		t.Fatalf("verifying an unknown organization created it: %+v", orgs)
	}
	// Each run is in the log: two of org-a (all orgs, then org-a), one of org-b.
	for org, want := range map[string]int{"org-a": 2, "org-b": 1} {
		page, err := a.listEvents(context.Background(), QueryDTO{Org: org, ActionTypes: []string{"audit.verified"}})
		if err != nil || len(page.Events) != want {
			t.Errorf("%s: %d audit.verified events (%v), want %d", org, len(page.Events), err, want)
		}
	}
}

// The integrity endpoints: scoped like every read, answers that verify.
func TestREST_IntegrityEndpoints(t *testing.T) {
	f := newRESTFixture(t)
	page, err := f.app.listEvents(context.Background(), QueryDTO{Org: "org-a", Limit: 1, Order: "oldest"})
	if err != nil {
		t.Fatal(err)
	}
	id := page.Events[0].ID

	resp, b := f.do("GET", "/api/operations/events/"+id+"/proof?org=org-a", f.tokens["readA"], nil)
	var p InclusionProofDTO
	if resp.StatusCode != 200 || json.Unmarshal(b, &p) != nil || !p.Verified || p.LeafIndex != 0 {
		t.Fatalf("proof: %d %s", resp.StatusCode, b)
	}
	resp, b = f.do("GET", "/api/checkpoints/latest?org=org-a", f.tokens["readA"], nil)
	var cp CheckpointDTO
	if resp.StatusCode != 200 || json.Unmarshal(b, &cp) != nil || cp.Size != p.TreeSize {
		t.Fatalf("latest checkpoint: %d %s (proof tree %d)", resp.StatusCode, b, p.TreeSize)
	}
	// The same checkpoint by its tree size; another organization's token,
	// a size never checkpointed and a size that is not one are refused.
	resp, b = f.do("GET", fmt.Sprintf("/api/checkpoints/%d?org=org-a", cp.Size), f.tokens["readA"], nil)
	var bySize CheckpointDTO
	if resp.StatusCode != 200 || json.Unmarshal(b, &bySize) != nil || bySize.Note != cp.Note {
		t.Fatalf("checkpoint by size: %d %s", resp.StatusCode, b)
	}
	for path, want := range map[string]int{
		fmt.Sprintf("/api/checkpoints/%d?org=org-a", cp.Size-1): 404, "/api/checkpoints/abc?org=org-a": 400, "/api/checkpoints/0?org=org-a": 400,
	} {
		if resp, b := f.do("GET", path, f.tokens["readA"], nil); resp.StatusCode != want {
			t.Errorf("%s: %d %s, want %d", path, resp.StatusCode, b, want)
		}
	}
	if resp, _ := f.do("GET", fmt.Sprintf("/api/checkpoints/%d?org=org-a", cp.Size), f.tokens["readB"], nil); resp.StatusCode != 404 {
		t.Errorf("another organization's token: %d", resp.StatusCode)
	}
	root, _ := tlog.ParseHash(cp.Root)
	if err := verifyInclusionDTO(p, root); err != nil {
		t.Fatalf("the REST proof does not verify against the REST checkpoint: %v", err)
	}
	resp, b = f.do("GET", "/api/checkpoints/public-key", f.tokens["readA"], nil)
	var pk PublicKeyDTO
	if resp.StatusCode != 200 || json.Unmarshal(b, &pk) != nil || pk.PublicKey != cp.PublicKey {
		t.Fatalf("public key: %d %s", resp.StatusCode, b)
	}
	resp, b = f.do("GET", fmt.Sprintf("/api/checkpoints/consistency?org=org-a&from=3&to=%d", cp.Size), f.tokens["readA"], nil)
	if resp.StatusCode != 200 {
		t.Fatalf("consistency: %d %s", resp.StatusCode, b)
	}
	resp, b = f.do("POST", "/api/verify?org=org-a&keyless=true", f.tokens["readA"], nil)
	var vr VerifyResultDTO
	if resp.StatusCode != 200 || json.Unmarshal(b, &vr) != nil || !vr.Clean || vr.Events == 0 || !vr.Keyless {
		t.Fatalf("verify: %d %s", resp.StatusCode, b)
	}

	for _, tc := range []struct {
		method, path, token string
		status              int
		code                string
	}{
		{"GET", "/api/operations/events/" + id + "/proof?org=org-a", "readB", 404, CodeNotFound},
		{"GET", "/api/operations/events/" + id + "/proof?org=org-a", "", 401, CodeUnauthorized},
		{"GET", "/api/operations/events/" + id + "/proof?org=org-a&treeSize=x", "readA", 400, CodeInvalidRequest},
		{"GET", "/api/operations/events/" + id + "/proof", "readA", 400, CodeInvalidRequest},
		{"GET", "/api/checkpoints/latest?org=org-a", "readB", 404, CodeNotFound},
		{"GET", "/api/checkpoints/latest?org=org-a", "appendA", 403, CodeForbidden},
		{"GET", "/api/checkpoints/consistency?org=org-a&from=1", "readA", 400, CodeInvalidRequest},
		{"GET", "/api/checkpoints/consistency?org=org-a&from=5&to=3", "readA", 400, CodeInvalidRequest},
		{"POST", "/api/verify?org=org-a", "readB", 404, CodeNotFound},
		{"POST", "/api/verify", "readA", 400, CodeInvalidRequest},
		{"POST", "/api/verify?org=org-a&keyless=maybe", "readA", 400, CodeInvalidRequest},
		{"GET", "/api/verify/stream?org=org-a", "readB", 404, CodeNotFound},
	} {
		resp, b := f.do(tc.method, tc.path, f.tokens[tc.token], nil)
		if resp.StatusCode != tc.status || errorCode(t, b) != tc.code {
			t.Errorf("%s %s as %q: %d %s, want %d %s", tc.method, tc.path, tc.token, resp.StatusCode, b, tc.status, tc.code)
		}
		if strings.Contains(string(b), "--to") || strings.Contains(string(b), "--from") {
			t.Errorf("%s %s: an API answer names a CLI flag: %s", tc.method, tc.path, b)
		}
	}
}

// GET /api/verify/stream delivers the progress of a verification started
// with POST /api/verify, ending with a finished message.
func TestREST_VerifyStreamProgress(t *testing.T) {
	f := newRESTFixture(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", f.srv.URL+"/api/verify/stream?org=org-a", nil)
	req.Header.Set("Authorization", "Bearer "+f.tokens["readA"])
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("stream: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Scan() // ": subscribed": the subscription exists from here on
	go f.do("POST", "/api/verify?org=org-a", f.tokens["readA"], nil)
	var got []VerifyProgressDTO
	for sc.Scan() {
		line, ok := strings.CutPrefix(sc.Text(), "data: ")
		if !ok {
			continue
		}
		var p VerifyProgressDTO
		if err := json.Unmarshal([]byte(line), &p); err != nil {
			t.Fatalf("progress %q: %v", line, err)
		}
		got = append(got, p)
		if p.Finished {
			break
		}
	}
	if len(got) < 2 || !got[len(got)-1].Finished {
		t.Fatalf("progress messages %+v: want progress then finished", got)
	}
	if p := got[len(got)-2]; p.Org != "org-a" || p.Done != p.Total || p.Total < 20 {
		t.Fatalf("last progress before finished: %+v", p)
	}
}

// The CLI's integrity commands work through the desktop app's API when the
// app holds the profile, with the same answers.
func TestRemote_IntegrityThroughTheDesktopAPI(t *testing.T) {
	ctx := context.Background()
	a, ks, paths := profileApp(t)
	ids := appendEventsN(t, a, "org-a", 9, 0)
	stop, err := a.startLocalAPI(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	r, err := DialDesktop(ctx, paths, ks)
	if err != nil {
		t.Fatal(err)
	}
	var _ eventBackend = r
	local, err := a.eventProof(ctx, "org-a", ids[4], 0)
	if err != nil {
		t.Fatal(err)
	}
	remote, err := r.eventProof(ctx, "org-a", ids[4], 0)
	if err != nil || fmt.Sprint(local) != fmt.Sprint(remote) {
		t.Fatalf("proofs differ (%v):\n%+v\n%+v", err, local, remote)
	}
	lcp, _ := a.latestCheckpoint(ctx, "org-a")
	rcp, err := r.latestCheckpoint(ctx, "org-a")
	if err != nil || lcp != rcp {
		t.Fatalf("checkpoints differ (%v)", err)
	}
	key, err := r.publicKey(ctx)
	if err != nil || key != lcp.PublicKey {
		t.Fatalf("public key %q %v", key, err)
	}
	if _, err := r.consistencyProof(ctx, "org-a", 2, 9); err != nil {
		t.Fatal(err)
	}
	var problems int
	res, err := r.verify(ctx, VerifyRequest{}, nil, func(VerifyProblemDTO) { problems++ })
	if err != nil || !res.Clean || problems != 0 || res.Events < 9 {
		t.Fatalf("remote verify: %+v %v", res, err)
	}
}

// clockedApp is an App over a store with one manual clock, which advance
// moves; both are closed when t ends.
func clockedApp(t *testing.T) (a *App, st *storage.Store, clock func() time.Time, advance func(time.Duration)) {
	t.Helper()
	var mu sync.Mutex
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	clock = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance = func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	st, err := storage.Open(context.Background(), t.TempDir(), keystore.NewMemory(), storage.Options{Now: clock, GCInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	a = appOver(t, st, Options{User: "tester", Version: "test", Now: clock, Paths: Paths{Profile: "test", DataDir: t.TempDir()}})
	return a, st, clock, advance
}

// A data key DataKeyRotationInterval old is rotated on the background
// round, recorded as the system's; a younger one is not.
func TestApp_RotatesDueDataKeys(t *testing.T) {
	ctx := context.Background()
	a, st, clock, advance := clockedApp(t)
	e := TestEvent("org-a", 1, clock().Add(-time.Minute))
	e.AfterState = []byte(`{"size":"large"}`)
	if _, err := a.AppendEvents([]storage.Event{e}); err != nil {
		t.Fatal(err)
	}
	rotations := func() []EventDTO {
		p, err := a.listEvents(ctx, QueryDTO{Org: "org-a", ActionTypes: []string{"audit.key_rotated"}, Since: "2000-01-01T00:00:00Z"})
		if err != nil {
			t.Fatal(err)
		}
		return p.Events
	}
	advance(DataKeyRotationInterval - time.Hour)
	if n := a.rotateDueKeys(ctx, st); n != 0 || len(rotations()) != 0 {
		t.Fatalf("a key younger than the interval was rotated (%d)", n)
	}
	advance(2 * time.Hour)
	if n := a.rotateDueKeys(ctx, st); n != 1 {
		t.Fatalf("rotated %d keys, want 1", n)
	}
	rs := rotations()
	if len(rs) != 1 || rs[0].UserID != "system" || !strings.Contains(string(rs[0].Metadata), `"keyId":"2"`) {
		t.Fatalf("the scheduled rotation's record: %+v", rs)
	}
	// The new key is the measure now.
	advance(DataKeyRotationInterval / 2)
	if n := a.rotateDueKeys(ctx, st); n != 0 {
		t.Fatalf("rotated again after %s", DataKeyRotationInterval/2)
	}
	advance(DataKeyRotationInterval / 2)
	if n := a.rotateDueKeys(ctx, st); n != 1 {
		t.Fatalf("the second key was not rotated after the interval (%d)", n)
	}
}
