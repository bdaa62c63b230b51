package app

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/axiomops/axiom-audit/app/export"
	"github.com/axiomops/axiom-audit/storage"
)

// exportTestEvents appends events with states to org and returns them.
func exportTestEvents(t *testing.T, a *App, org string, n int) {
	t.Helper()
	var evs []storage.Event
	at := time.Now().Add(-time.Hour)
	for i := range n {
		e := TestEvent(org, i, at.Add(time.Duration(i)*time.Second))
		if i%3 == 0 {
			e.ActionType = "apply.mutation"
			e.Metadata = json.RawMessage(`{"plan":"p,1|x=y\\z","note":"=SUM(A1)\nline"}`)
			e.BeforeState = json.RawMessage(`{"size":"m5.large","tags":{"a|b":"c=d"}}`)
			e.AfterState = json.RawMessage(`{"size":"m5.xlarge","tags":{"a|b":"c=d"}}`)
			e.RiskLevel = "medium"
		}
		evs = append(evs, e)
		if len(evs) == 500 || i == n-1 {
			if _, err := a.appendEvents(context.Background(), evs); err != nil {
				t.Fatal(err)
			}
			evs = evs[:0]
		}
	}
}

// TestCLI_ExportVerify exports from a real store through the CLI in every
// format, verifies the bundle with verify-export, checks the audit event and
// that tampering is named.
func TestCLI_ExportVerify(t *testing.T) {
	for _, format := range export.Formats {
		t.Run(string(format), func(t *testing.T) {
			a := TestApp(t)
			exportTestEvents(t, a, "org-x", 40)
			out := t.TempDir()
			args := []string{"export", "--org", "org-x", "--format", string(format), "--out", out}
			if format == export.JSONLines {
				args = append(args, "--include-sensitive")
			}
			stdout, stderr, code := runCLI(t, a, "", args...)
			if code != 0 {
				t.Fatalf("export: exit %d: %s", code, stderr)
			}
			dir := strings.SplitN(stdout, "\n", 2)[0]
			if filepath.Dir(dir) != out || !strings.HasPrefix(filepath.Base(dir), "axiom-audit-export-org-x-") {
				t.Fatalf("bundle path %q is not inside %s", dir, out)
			}
			if !strings.Contains(stdout, "40 events of org-x") {
				t.Errorf("summary:\n%s", stdout)
			}
			stdout, stderr, code = runCLI(t, a, "", "verify-export", dir)
			if code != 0 || !strings.HasPrefix(stdout, "OK: 40 events of org-x") {
				t.Fatalf("verify-export: exit %d\n%s%s", code, stdout, stderr)
			}
			m, err := os.ReadFile(filepath.Join(dir, export.ManifestFile))
			if err != nil {
				t.Fatal(err)
			}
			manifestSum := sha256.Sum256(m)

			// The export is in the log, after the events it exported.
			page, err := a.listEvents(context.Background(), QueryDTO{Org: "org-x", ActionTypes: []string{"audit.exported"}})
			if err != nil || len(page.Events) == 0 {
				t.Fatalf("no audit.exported event: %v", err)
			}
			var meta struct {
				Format       string        `json:"format"`
				SHA256       string        `json:"sha256"`
				RevealStates bool          `json:"revealStates"`
				Files        []export.File `json:"files"`
				Bytes        int64         `json:"bytes"`
				Count        int64         `json:"count"`
				Filter       map[string]any
			}
			last := page.Events[0]
			if err := json.Unmarshal(last.Metadata, &meta); err != nil {
				t.Fatal(err)
			}
			if meta.Format != string(format) || meta.SHA256 != hex.EncodeToString(manifestSum[:]) || meta.RevealStates != (format == export.JSONLines) ||
				len(meta.Files) != 7 || meta.Count != 40 || meta.Filter["org"] != "org-x" || last.UserID != "tester" {
				t.Errorf("audit.exported: %s by %s", last.Metadata, last.UserID)
			}

			// One changed byte in the events file is named.
			events := filepath.Join(dir, format.EventsFile())
			data, _ := os.ReadFile(events)
			data[len(data)/2] ^= 1
			os.WriteFile(events, data, 0o644)
			stdout, _, code = runCLI(t, a, "", "verify-export", dir)
			if code != 1 || !strings.Contains(stdout, format.EventsFile()+": has SHA-256") {
				t.Errorf("tampered: exit %d\n%s", code, stdout)
			}
		})
	}
}

func TestCLI_ExportUsage(t *testing.T) {
	a := TestApp(t)
	exportTestEvents(t, a, "org-x", 3)
	for _, args := range [][]string{
		{"export", "--org", "org-x", "--out", t.TempDir()},
		{"export", "--org", "org-x", "--format", "xml", "--out", t.TempDir()},
		{"export", "--org", "org-x", "--format", "csv"},
		{"export", "--format", "csv", "--out", t.TempDir()},
		{"verify-export"},
		{"verify-export", filepath.Join(t.TempDir(), "missing")},
	} {
		if _, stderr, code := runCLI(t, a, "", args...); code != 2 {
			t.Errorf("%v: exit %d, want 2: %s", args, code, stderr)
		}
	}
	// Messages name the flag, once, as query's do.
	for args, want := range map[string]string{
		"--format xml":               `--format: "xml" is not one of csv, jsonl, json, ocsf, cef, splunk-hec, ecs` + "\n",
		"--format csv --status done": `--status: "done" is not one of pending, applied, failed, rolled_back` + "\n",
	} {
		argv := append([]string{"export", "--org", "org-x", "--out", t.TempDir()}, strings.Fields(args)...)
		if _, stderr, code := runCLI(t, a, "", argv...); code != 2 || !strings.HasSuffix(stderr, want) {
			t.Errorf("export %s: exit %d, %q; want it to end %q", args, code, stderr, want)
		}
	}
}

func TestCLI_VerifyExportJSON(t *testing.T) {
	a := TestApp(t)
	exportTestEvents(t, a, "org-x", 5)
	res, err := a.exportEvidence(context.Background(), ExportRequest{Query: QueryDTO{Org: "org-x", ActionTypes: []string{"apply.mutation"}},
		Format: "csv", OutDir: t.TempDir()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Count != 2 {
		t.Errorf("exported %d apply.mutation events, want 2", res.Count)
	}
	stdout, stderr, code := runCLI(t, a, "", "verify-export", "--json", res.Dir)
	var rep export.Report
	if code != 0 || json.Unmarshal([]byte(stdout), &rep) != nil || !rep.OK || rep.Events != 2 {
		t.Fatalf("exit %d: %s%s", code, stdout, stderr)
	}
	key := rep.PublicKey
	if _, _, code := runCLI(t, a, "", "verify-export", "--public-key", key, res.Dir); code != 0 {
		t.Errorf("--public-key with the right key: exit %d", code)
	}
	// Another valid key of the same name: not the one that signed.
	name, _, _ := strings.Cut(key, "+")
	_, other, err := note.GenerateKey(rand.Reader, name)
	if err != nil {
		t.Fatal(err)
	}
	if stdout, _, code := runCLI(t, a, "", "verify-export", "--public-key", other, res.Dir); code != 1 || !strings.Contains(stdout, export.PublicKeyFile) {
		t.Errorf("--public-key with another key: exit %d\n%s", code, stdout)
	}
	// A file holding the key, as 'checkpoint --public-key > owner.pub'
	// writes it, does as the key.
	dir := t.TempDir()
	keyFile, otherFile, junk := filepath.Join(dir, "owner.pub"), filepath.Join(dir, "other.pub"), filepath.Join(dir, "junk")
	for path, text := range map[string]string{keyFile: key + "\n", otherFile: other + "\n", junk: "not a key\n"} {
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if _, stderr, code := runCLI(t, a, "", "verify-export", "--public-key", keyFile, res.Dir); code != 0 {
		t.Errorf("--public-key with a file of the right key: exit %d %s", code, stderr)
	}
	if _, _, code := runCLI(t, a, "", "verify-export", "--public-key", otherFile, res.Dir); code != 1 {
		t.Errorf("--public-key with a file of another key: exit %d", code)
	}
	// Neither a key nor a file of one: the command was used wrongly.
	for _, arg := range []string{junk, filepath.Join(dir, "missing"), "not-a-key"} {
		if _, stderr, code := runCLI(t, a, "", "verify-export", "--public-key", arg, res.Dir); code != 2 || !strings.Contains(stderr, "--public-key") {
			t.Errorf("--public-key %s: exit %d %s; want 2 naming the flag", arg, code, stderr)
		}
	}
}

// TestExportEvidence_progressAndCancel drives the API the Export dialog
// uses: progress reports and cancel through ctx, leaving no bundle.
func TestExportEvidence_progressAndCancel(t *testing.T) {
	a := TestApp(t)
	exportTestEvents(t, a, "org-x", 3000)
	out := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var n int
	_, err := a.exportEvidence(ctx, ExportRequest{Query: QueryDTO{Org: "org-x"}, Format: "json", OutDir: out}, func(p ExportProgressDTO) {
		n++
		if p.Total != 3000 {
			t.Errorf("total %d", p.Total)
		}
		cancel()
	})
	if err == nil {
		t.Fatal("a cancelled export succeeded")
	}
	if code, _ := ErrorCode(err); code != CodeCancelled {
		t.Errorf("code %s for %v", code, err)
	}
	if es, _ := os.ReadDir(out); len(es) != 0 {
		t.Errorf("a cancelled export left %v", es)
	}
	page, _ := a.listEvents(context.Background(), QueryDTO{Org: "org-x", ActionTypes: []string{"audit.exported"}})
	if len(page.Events) != 0 {
		t.Errorf("a cancelled export was audited as done")
	}
}

// Export and report run in the process that holds the log: with the
// profile open elsewhere (the desktop app, serve, or another command) they
// say so, and what to do, once.
func TestCLI_ExportWhileTheAppHoldsTheLog(t *testing.T) {
	locked := func(context.Context, Globals) (*App, func() error, error) {
		return nil, nil, &storage.LockedError{Dir: "/x"}
	}
	for _, c := range []struct {
		args   []string
		dialog string
	}{
		{[]string{"export", "--org", "acme", "--format", "csv", "--out", t.TempDir()}, "Export dialog"},
		{[]string{"report", "--org", "acme", "--period", "2026-Q3", "--out", t.TempDir()}, "Reports dialog"},
		{[]string{"token", "create", "--org", "acme"}, "close the desktop app or stop serve"},
		{[]string{"token", "list"}, "close the desktop app or stop serve"},
		{[]string{"demo", "--events", "10"}, "close the desktop app or stop serve"},
	} {
		_, stderr, code := runRoot(t, locked, "", c.args...)
		if code != 2 || !strings.Contains(stderr, c.dialog) || !strings.Contains(stderr, "another axiom-audit command") ||
			strings.Count(stderr, "close") != 1 || strings.Count(stderr, "another process") != 1 || strings.Count(stderr, "\n") != 1 {
			t.Errorf("%s: exit %d, stderr:\n%s", c.args[0], code, stderr)
		}
	}
}

// verify-export of a folder that is no bundle is a usage error (exit 2)
// that says where the bundle is, when it can see one: a report folder's
// evidence/, or the bundles of a folder of several. A bundle that lost its
// manifest is tampered with (exit 1), not a wrong folder.
func TestCLI_VerifyExportOfTheWrongFolder(t *testing.T) {
	a := TestApp(t)
	exportTestEvents(t, a, "org-x", 3)
	parent := t.TempDir()
	var bundles []string
	for range 2 {
		res, err := a.exportEvidence(context.Background(), ExportRequest{Query: QueryDTO{Org: "org-x"}, Format: "jsonl", OutDir: parent}, nil)
		if err != nil {
			t.Fatal(err)
		}
		bundles = append(bundles, res.Dir)
	}
	report := filepath.Join(t.TempDir(), "axiom-audit-report-org-x")
	if err := os.MkdirAll(report, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(bundles[1], filepath.Join(report, "evidence")); err != nil {
		t.Fatal(err)
	}
	empty := t.TempDir()
	// A signed report is verified whole, not only its evidence.
	signed := filepath.Join(t.TempDir(), "axiom-audit-report-org-x-signed")
	if err := os.MkdirAll(filepath.Join(signed, "evidence"), 0o700); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"SHA256SUMS.sig", filepath.Join("evidence", export.ManifestFile)} {
		if err := os.WriteFile(filepath.Join(signed, name), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		dir, want string
	}{
		{report, "is not a bundle but holds one: axiom-audit verify-export " + filepath.Join(report, "evidence")},
		{parent, "is not a bundle but holds one: axiom-audit verify-export " + bundles[0]},
		{filepath.Dir(report), "is not a bundle but holds one: axiom-audit verify-export " + filepath.Join(report, "evidence")},
		{filepath.Dir(signed), "is not a bundle but holds one: axiom-audit verify-export " + signed},
		{empty, "is not an evidence bundle: it holds no manifest.json"},
		{filepath.Join(bundles[0], "events.jsonl"), "is a file"},
	} {
		_, stderr, code := runCLI(t, a, "", "verify-export", c.dir)
		if code != 2 || !strings.Contains(stderr, c.want) {
			t.Errorf("verify-export %s: exit %d, stderr %q; want exit 2 with %q", c.dir, code, stderr, c.want)
		}
	}
	os.Remove(filepath.Join(bundles[0], export.ManifestFile))
	if stdout, _, code := runCLI(t, a, "", "verify-export", bundles[0]); code != 1 || !strings.Contains(stdout, export.ManifestFile) {
		t.Errorf("a bundle without its manifest: exit %d\n%s", code, stdout)
	}
}

// verify-export says what the bundle covers (its signed filter), and with
// --org refuses a bundle of another organization, whatever its folder is
// called: one key signs every organization's bundles.
func TestCLI_VerifyExportSaysWhatItCovers(t *testing.T) {
	a := TestApp(t)
	exportTestEvents(t, a, "org-x", 5)
	since := time.Now().Add(-30 * 24 * time.Hour).UTC().Truncate(time.Second)
	res, err := a.exportEvidence(context.Background(), ExportRequest{Query: QueryDTO{Org: "org-x", Since: since.Format(time.RFC3339),
		ActionTypes: []string{"apply.mutation"}}, Format: "csv", OutDir: t.TempDir()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	stdout, stderr, code := runCLI(t, a, "", "verify-export", "--org", "org-x", res.Dir)
	if code != 0 || !strings.Contains(stdout, "exported: from "+since.Format("2006-01-02T15:04:05")) || !strings.Contains(stdout, "action apply.mutation") {
		t.Errorf("verify-export --org org-x: exit %d\n%s%s", code, stdout, stderr)
	}
	_, stderr, code = runCLI(t, a, "", "verify-export", "--org", "org-y", res.Dir)
	if code != 1 || !strings.Contains(stderr, "it is a bundle of organization org-x, not org-y") {
		t.Errorf("verify-export --org org-y: exit %d, stderr %q", code, stderr)
	}
	stdout, _, _ = runCLI(t, a, "", "verify-export", "--json", res.Dir)
	var rep export.Report
	if json.Unmarshal([]byte(stdout), &rep) != nil || rep.Filter == nil || len(rep.Filter.ActionTypes) != 1 {
		t.Errorf("--json has no filter:\n%s", stdout)
	}
}

// --public-key takes the key as the owner handed it over: pasted with
// spaces or a line end, or in a file saved by any editor or shell (a
// UTF-8 byte order mark, CRLF, UTF-16 from PowerShell's >).
func TestTrustedKey_AsHandedOver(t *testing.T) {
	_, key, err := note.GenerateKey(rand.Reader, "axiom-audit/0123456789abcdef0123456789abcdef")
	if err != nil {
		t.Fatal(err)
	}
	utf16 := func(order binary.AppendByteOrder, bom []byte) []byte {
		b := append([]byte{}, bom...)
		for _, r := range key + "\r\n" {
			b = order.AppendUint16(b, uint16(r))
		}
		return b
	}
	dir := t.TempDir()
	file := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for name, arg := range map[string]string{
		"inline":         key,
		"inline, spaced": "  " + key + "\n",
		"file":           file("plain.pub", []byte(key+"\n")),
		"CRLF":           file("crlf.pub", []byte(key+"\r\n")),
		"UTF-8 BOM":      file("bom.pub", []byte("\xef\xbb\xbf"+key+"\r\n")),
		"UTF-16LE":       file("le.pub", utf16(binary.LittleEndian, []byte{0xff, 0xfe})),
		"UTF-16BE":       file("be.pub", utf16(binary.BigEndian, []byte{0xfe, 0xff})),
	} {
		got, err := trustedKey(arg)
		if err != nil || got != key {
			t.Errorf("%s: %q, %v; want the key", name, got, err)
		}
	}
	if _, err := trustedKey(file("other.pub", []byte("not a key\n"))); err == nil || !strings.Contains(err.Error(), "does not hold a verifier key") {
		t.Errorf("a file with no key: %v", err)
	}
}

// A bundle rewritten as one from before version 3 (no manifest.sig), with
// an event taken out, is refused by default: nothing shows that none was.
// --allow-unsigned-manifest checks the rest and says what it cannot show.
func TestCLI_VerifyExportRefusesUnsignedManifests(t *testing.T) {
	a := TestApp(t)
	exportTestEvents(t, a, "org-x", 5)
	res, err := a.exportEvidence(context.Background(), ExportRequest{Query: QueryDTO{Org: "org-x"}, Format: "jsonl", OutDir: t.TempDir()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Take the newest event (the first line) out, as a version 2 bundle
	// could not tell.
	for _, name := range []string{"events.jsonl", export.ProofsFile} {
		p := filepath.Join(res.Dir, name)
		raw, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		_, rest, _ := bytes.Cut(raw, []byte("\n"))
		os.WriteFile(p, rest, 0o644)
	}
	var m export.Manifest
	raw, _ := os.ReadFile(filepath.Join(res.Dir, export.ManifestFile))
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	m.Version, m.Count = "axiom-audit-export/v2", m.Count-1
	m.LastSeq--
	// A version 2 bundle has no pruned.json either.
	m.Files = slices.DeleteFunc(m.Files, func(f export.File) bool { return f.Name == export.PrunedFile })
	os.Remove(filepath.Join(res.Dir, export.PrunedFile))
	for i, f := range m.Files {
		data, _ := os.ReadFile(filepath.Join(res.Dir, f.Name))
		sum := sha256.Sum256(data)
		m.Files[i].Bytes, m.Files[i].SHA256 = int64(len(data)), hex.EncodeToString(sum[:])
	}
	zero := strings.Repeat("0", 64)
	m.ManifestSHA256 = zero
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(m); err != nil {
		t.Fatal(err)
	}
	seal := sha256.Sum256(b.Bytes())
	os.WriteFile(filepath.Join(res.Dir, export.ManifestFile), bytes.Replace(b.Bytes(), []byte(zero), []byte(hex.EncodeToString(seal[:])), 1), 0o644)
	os.Remove(filepath.Join(res.Dir, export.ManifestSigFile))

	for _, args := range [][]string{{res.Dir}, {"--require-signed-manifest", res.Dir}} {
		stdout, stderr, code := runCLI(t, a, "", append([]string{"verify-export"}, args...)...)
		if code != 1 || !strings.Contains(stdout, "nothing shows that no event was taken out") || !strings.Contains(stdout, "--allow-unsigned-manifest") {
			t.Errorf("%v: exit %d\n%s%s", args, code, stdout, stderr)
		}
	}
	stdout, stderr, code := runCLI(t, a, "", "verify-export", "--allow-unsigned-manifest", res.Dir)
	if code != 0 || !strings.Contains(stdout, "the manifest is not signed") || !strings.Contains(stdout, "not that none was taken out") {
		t.Errorf("--allow-unsigned-manifest: exit %d\n%s%s", code, stdout, stderr)
	}
	if _, _, code := runCLI(t, a, "", "verify-export", "--allow-unsigned-manifest", "--require-signed-manifest", res.Dir); code != 2 {
		t.Errorf("both flags: exit %d, want 2", code)
	}
}

// An export of a range retention swept says, in the bundle and on the
// command line, how many events the filter selects that retention had
// pruned, and by which rule; verify-export repeats it.
func TestCLI_ExportSaysWhatRetentionPruned(t *testing.T) {
	a := TestApp(t)
	ctx := context.Background()
	now := time.Now().UTC()
	var evs []storage.Event
	for i := range 6 {
		evs = append(evs, TestEvent("org-a", i, now.Add(-time.Duration(100-i)*24*time.Hour))) // past 90 days
	}
	evs = append(evs, TestEvent("org-a", 6, now.Add(-time.Hour)))
	conn := TestEvent("org-a", 7, now.Add(-200*24*time.Hour)) // material: kept
	conn.ActionType, conn.Metadata = "connection.provider_connected", []byte(`{"account":"123456789012"}`)
	evs = append(evs, conn)
	if _, err := a.appendEvents(ctx, evs); err != nil {
		t.Fatal(err)
	}
	if out, stderr, code := runCLI(t, a, "", "retention", "sweep", "--org", "org-a", "--now"); code != 0 {
		t.Fatalf("sweep: exit %d\n%s%s", code, out, stderr)
	}
	for _, tc := range []struct {
		args []string
		want string
		n    int64
	}{
		{nil, "retention had pruned 6 events this filter selects: 6 by operational 90 days (v0), pruned at ", 6},
		{[]string{"--since", "99d"}, "retention had pruned 4 events this filter selects: 4 by operational 90 days (v0)", 4},
		{[]string{"--category", "connection"}, "retention had pruned none of the events this filter selects", 0},
		{[]string{"--user", "alice@example.com"}, "retention had pruned 6 events this filter may have selected", 6},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			out := t.TempDir()
			stdout, stderr, code := runCLI(t, a, "", append([]string{"export", "--org", "org-a", "--format", "csv", "--out", out}, tc.args...)...)
			if code != 0 || !strings.Contains(stdout, tc.want) || !strings.Contains(stdout, "pruned.json") {
				t.Fatalf("export: exit %d, want %q in\n%s%s", code, tc.want, stdout, stderr)
			}
			dir := strings.SplitN(stdout, "\n", 2)[0]
			p, err := export.ParsePruned(readTestFile(t, filepath.Join(dir, export.PrunedFile)))
			if err != nil || p.Count != tc.n {
				t.Fatalf("pruned.json: %+v, %v; want %d", p, err, tc.n)
			}
			stdout, stderr, code = runCLI(t, a, "", "verify-export", dir)
			if code != 0 || !strings.Contains(stdout, tc.want) {
				t.Fatalf("verify-export: exit %d, want %q in\n%s%s", code, tc.want, stdout, stderr)
			}
			if got := strings.Contains(stdout, "every event its filter matched up to the checkpoint that retention had not pruned"); got != (tc.n > 0) {
				t.Errorf("verify-export says retention had not pruned: %v, want %v\n%s", got, tc.n > 0, stdout)
			}
		})
	}
}

// pruned.json says when the policy version that pruned was made, and by
// whom.
func TestCLI_ExportNamesThePolicyThatPruned(t *testing.T) {
	a := TestApp(t) // retention changes take effect at once here
	ctx := context.Background()
	if _, err := a.appendEvents(ctx, []storage.Event{TestEvent("org-b", 1, time.Now().Add(-40*24*time.Hour))}); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"retention", "set", "--org", "org-b", "--class", "operational", "--days", "30"},
		{"retention", "sweep", "--org", "org-b", "--now"},
	} {
		if out, stderr, code := runCLI(t, a, "", args...); code != 0 {
			t.Fatalf("%v: exit %d\n%s%s", args, code, out, stderr)
		}
	}
	stdout, stderr, code := runCLI(t, a, "", "export", "--org", "org-b", "--format", "jsonl", "--out", t.TempDir())
	if code != 0 {
		t.Fatalf("export: exit %d\n%s%s", code, stdout, stderr)
	}
	p, err := export.ParsePruned(readTestFile(t, filepath.Join(strings.SplitN(stdout, "\n", 2)[0], export.PrunedFile)))
	if err != nil || p.Count != 1 || len(p.Rules) != 1 {
		t.Fatalf("pruned.json: %+v, %v", p, err)
	}
	if r := p.Rules[0]; r.Policy != "operational 30 days (v1)" || r.PolicyChangedBy != "tester" || r.PolicyChangedAt == "" || r.PolicyEffectiveFrom == "" {
		t.Fatalf("the rule: %+v", r)
	}
}

func readTestFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// demo says what it wrote in words: "1 organization", not "1 organizations".
func TestCLI_DemoSaysWhatItWrote(t *testing.T) {
	a := TestApp(t)
	stdout, stderr, code := runCLI(t, a, "", "demo", "--events", "30", "--orgs", "1")
	if code != 0 || !strings.Contains(stdout, "wrote 30 demo events for 1 organization into profile") {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
}
