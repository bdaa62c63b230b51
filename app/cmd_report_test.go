package app

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/axiomops/axiom-audit/app/demo"
	"github.com/axiomops/axiom-audit/app/export"
	"github.com/axiomops/axiom-audit/app/report"
	"github.com/axiomops/axiom-audit/storage"
	"github.com/axiomops/axiom-audit/storage/tlog"
)

// TestCLI_Report writes a report of a demo history through the CLI and
// checks the folder, report.json and the audit event that records it.
func TestCLI_Report(t *testing.T) {
	a := TestApp(t)
	ctx := context.Background()
	end := time.Now().UTC().Truncate(time.Hour)
	var batch []storage.Event
	err := demo.Generate(demo.Options{Events: 600, Orgs: 1, Seed: 7, End: end, Span: 20 * 24 * time.Hour}, func(e storage.Event) error {
		batch = append(batch, e)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.appendEvents(ctx, batch); err != nil {
		t.Fatal(err)
	}
	org := batch[0].OrganizationID
	period := end.AddDate(0, 0, -30).Format("2006-01-02") + ".." + end.Format("2006-01-02")
	out := t.TempDir()
	stdout, stderr, code := runCLI(t, a, "", "report", "--org", org, "--period", period, "--out", out, "--no-pdf")
	if code != 0 {
		t.Fatalf("report: exit %d: %s", code, stderr)
	}
	dir := strings.SplitN(stdout, "\n", 2)[0]
	if filepath.Dir(dir) != out || !strings.HasPrefix(filepath.Base(dir), "axiom-audit-report-"+org+"-") {
		t.Fatalf("report folder %q is not inside %s:\n%s", dir, out, stdout)
	}
	if !strings.Contains(stdout, "600 events in the period") || !strings.Contains(stdout, "integrity: verified") {
		t.Errorf("summary:\n%s", stdout)
	}
	var r report.Report
	b, err := os.ReadFile(filepath.Join(dir, report.FileJSON))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	if r.Summary.Events != 600 || r.Integrity.Status != "verified" || r.Evidence.Events != r.Summary.MaterialEvents ||
		r.Retention.Policy != "default policy (operational 90 days, material indefinite)" || r.Generated.By != "tester" {
		t.Errorf("report.json: events %d, integrity %q, evidence %d of %d material, retention %q, by %q",
			r.Summary.Events, r.Integrity.Status, r.Evidence.Events, r.Summary.MaterialEvents, r.Retention.Policy, r.Generated.By)
	}
	sums, err := os.ReadFile(filepath.Join(dir, report.FileSums))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(sums)

	// The report is in the log: audit.exported, kind report, with the hash
	// of SHA256SUMS.
	page, err := a.listEvents(ctx, QueryDTO{Org: org, ActionTypes: []string{"audit.exported"}})
	if err != nil || len(page.Events) != 1 {
		t.Fatalf("audit.exported events: %v %d", err, len(page.Events))
	}
	var meta struct {
		Kind   string `json:"kind"`
		Period string `json:"period"`
		SHA256 string `json:"sha256"`
		Files  []any  `json:"files"`
	}
	if err := json.Unmarshal(page.Events[0].Metadata, &meta); err != nil {
		t.Fatal(err)
	}
	if meta.Kind != "report" || meta.Period != period || meta.SHA256 != hex.EncodeToString(sum[:]) || len(meta.Files) < 4 {
		t.Errorf("audit event metadata: %s", page.Events[0].Metadata)
	}
	if page.Events[0].UserID != "tester" {
		t.Errorf("audit event by %q", page.Events[0].UserID)
	}
	// So is the verification it ran.
	page, err = a.listEvents(ctx, QueryDTO{Org: org, ActionTypes: []string{"audit.verified"}})
	if err != nil || len(page.Events) != 1 || !strings.Contains(string(page.Events[0].Metadata), `"result":"ok"`) {
		t.Errorf("audit.verified events: %v %+v", err, page.Events)
	}
}

func TestCLI_ReportUsage(t *testing.T) {
	a := TestApp(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"report", "--org", "o", "--out", "x"}, "--period: is required"},
		{[]string{"report", "--org", "o", "--period", "2026-Q5", "--out", "x"}, `--period: invalid period: "2026-Q5" is not a quarter`},
		{[]string{"report", "--org", "o", "--period", "2026-13", "--out", "x"}, "--period"},
		{[]string{"report", "--org", "o", "--period", "2026-09-30..2026-07-01", "--out", "x"}, "ends before it starts"},
		{[]string{"report", "--period", "2026-Q3", "--out", "x"}, "--org: is required"},
		{[]string{"report", "--org", "o", "--period", "2026-Q3"}, "--out: is required"},
		{[]string{"report", "--org", "o", "--period", fmt.Sprintf("%d-Q1", time.Now().Year()+1), "--out", "x"}, "has not begun (it starts "},
		{[]string{"report", "--org", "o", "--period", time.Now().AddDate(0, 0, 2).Format(time.DateOnly) + ".." + time.Now().AddDate(0, 0, 9).Format(time.DateOnly), "--out", "x"}, "has not begun"},
	} {
		t.Run(strings.Join(tc.args[1:], " "), func(t *testing.T) {
			_, stderr, code := runCLI(t, a, "", tc.args...)
			// Refused before the log is opened or verified.
			if code != 2 || !strings.Contains(stderr, tc.want) || strings.Contains(stderr, "verifying") {
				t.Errorf("exit %d, stderr %q; want exit 2 saying only %q", code, stderr, tc.want)
			}
		})
	}
}

// A folder that does not exist is refused before anything is verified, and
// the command does not say it is verifying.
func TestCLI_ReportToAMissingFolder(t *testing.T) {
	a := TestApp(t)
	exportTestEvents(t, a, "org-r", 2)
	missing := filepath.Join(t.TempDir(), "missing")
	_, stderr, code := runCLI(t, a, "", "report", "--org", "org-r", "--period", "2026-Q3", "--out", missing, "--no-pdf")
	if code != 2 || !strings.Contains(stderr, "cannot write a report to "+missing) || strings.Contains(stderr, "verifying") {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
}

// verify-export of a report folder checks the whole folder: its evidence,
// every file against SHA256SUMS, and SHA256SUMS.sig, the log key's
// signature of SHA256SUMS. Changed figures fail even when SHA256SUMS is
// recomputed to match them; a report without SHA256SUMS.sig does not
// verify.
func TestCLI_VerifyReportFolder(t *testing.T) {
	a := TestApp(t)
	end := time.Now().UTC().Truncate(time.Hour)
	var batch []storage.Event
	if err := demo.Generate(demo.Options{Events: 300, Orgs: 1, Seed: 3, End: end, Span: 20 * 24 * time.Hour}, func(e storage.Event) error {
		batch = append(batch, e)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.appendEvents(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	org := batch[0].OrganizationID
	period := end.AddDate(0, 0, -30).Format(time.DateOnly) + ".." + end.Format(time.DateOnly)
	write := func() string {
		stdout, stderr, code := runCLI(t, a, "", "report", "--org", org, "--period", period, "--out", t.TempDir(), "--no-pdf")
		if code != 0 {
			t.Fatalf("report: exit %d: %s", code, stderr)
		}
		return strings.SplitN(stdout, "\n", 2)[0]
	}
	key, _, _ := runCLI(t, a, "", "checkpoint", "--org", org, "--public-key")
	key = strings.TrimSpace(key)
	verify := func(args ...string) (string, int) {
		stdout, stderr, code := runCLI(t, a, "", append([]string{"verify-export"}, args...)...)
		return stdout + stderr, code
	}
	resum := func(dir string) {
		files, sums, err := checksumForTest(dir)
		if err != nil || files == 0 {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, report.FileSums), sums, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	dir := write()
	if out, code := verify("--public-key", key, "--org", org, dir); code != 0 || !strings.Contains(out, "OK: report of "+org) ||
		!strings.Contains(out, "SHA256SUMS is signed with that key") {
		t.Fatalf("a fresh report: exit %d\n%s", code, out)
	}

	// The figures changed, SHA256SUMS recomputed: the signature fails.
	raw, _ := os.ReadFile(filepath.Join(dir, report.FileJSON))
	os.WriteFile(filepath.Join(dir, report.FileJSON), bytes.Replace(raw, []byte(`"highRiskEvents": `), []byte(`"highRiskEvents": 0`), 1), 0o644)
	resum(dir)
	if out, code := verify("--public-key", key, dir); code != 1 || !strings.Contains(out, "SHA256SUMS.sig: signs a SHA256SUMS with SHA-256") {
		t.Errorf("figures changed and SHA256SUMS recomputed: exit %d\n%s", code, out)
	}

	// The HTML changed, SHA256SUMS not: the file is named.
	dir = write()
	html := filepath.Join(dir, report.FileHTML)
	raw, _ = os.ReadFile(html)
	os.WriteFile(html, append(raw, ' '), 0o644)
	if out, code := verify(dir); code != 1 || !strings.Contains(out, "report.html: has SHA-256") {
		t.Errorf("report.html changed: exit %d\n%s", code, out)
	}

	// A file added, and the evidence changed.
	dir = write()
	os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("x"), 0o644)
	os.WriteFile(filepath.Join(dir, ".DS_Store"), []byte("x"), 0o644)
	ev := filepath.Join(dir, report.EvidenceFolder, "events.jsonl")
	raw, _ = os.ReadFile(ev)
	os.WriteFile(ev, raw[:len(raw)/2], 0o644)
	if out, code := verify(dir); code != 1 || !strings.Contains(out, "notes.txt: is not listed in SHA256SUMS") ||
		!strings.Contains(out, "evidence/events.jsonl") || strings.Contains(out, ".DS_Store:") {
		t.Errorf("a file added, the evidence cut: exit %d\n%s", code, out)
	}

	// SHA256SUMS.sig alone signed by another key of the same name, or by
	// the log's key for another organization: the evidence verifies, the
	// report does not.
	dir = write()
	sums, _ := os.ReadFile(filepath.Join(dir, report.FileSums))
	sumsHash := sha256.Sum256(sums)
	var manifest export.Manifest
	raw, _ = os.ReadFile(filepath.Join(dir, report.EvidenceFolder, export.ManifestFile))
	if err := json.Unmarshal(raw, &manifest); err != nil {
		t.Fatal(err)
	}
	otherKey, _, err := tlog.GenerateSigningKey(strings.SplitN(key, "+", 2)[0])
	if err != nil {
		t.Fatal(err)
	}
	otherSigner, err := tlog.NewSigner(otherKey)
	if err != nil {
		t.Fatal(err)
	}
	foreign, err := tlog.SignReport(tlog.ReportStatement{Origin: manifest.Checkpoint.Origin, SHA256: hex.EncodeToString(sumsHash[:])}, otherSigner)
	if err != nil {
		t.Fatal(err)
	}
	otherOrg, err := a.store.SignReport(context.Background(), "another-org", hex.EncodeToString(sumsHash[:]))
	if err != nil {
		t.Fatal(err)
	}
	for name, sig := range map[string][]byte{"another key": foreign, "another organization": otherOrg} {
		os.WriteFile(filepath.Join(dir, report.FileSumsSig), sig, 0o644)
		for _, args := range [][]string{{dir}, {"--public-key", key, dir}} {
			if out, code := verify(args...); code != 1 || !strings.Contains(out, "SHA256SUMS.sig: does not verify") || strings.Contains(out, "evidence/") {
				t.Errorf("SHA256SUMS.sig by %s, %v: exit %d\n%s", name, args[:len(args)-1], code, out)
			}
		}
	}
	if out, code := verify("--org", "someone-else", write()); code != 1 || !strings.Contains(out, "not someone-else") {
		t.Errorf("--org of another organization: exit %d\n%s", code, out)
	}

	// Without its signature, or without SHA256SUMS, a report does not
	// verify, whatever else it holds: an edit could be behind either.
	dir = write()
	os.Remove(filepath.Join(dir, report.FileSumsSig))
	if out, code := verify(dir); code != 1 || !strings.Contains(out, "SHA256SUMS.sig: is missing") {
		t.Errorf("a report without its signature: exit %d\n%s", code, out)
	}
	os.Remove(filepath.Join(dir, report.FileSums))
	os.WriteFile(filepath.Join(dir, report.FileHTML), []byte("<p>all clear</p>"), 0o644)
	if out, code := verify(dir); code != 1 || !strings.Contains(out, "SHA256SUMS: cannot be read") || !strings.Contains(out, "report.html: is not listed") {
		t.Errorf("a report without SHA256SUMS: exit %d\n%s", code, out)
	}
	os.RemoveAll(filepath.Join(dir, report.EvidenceFolder))
	if out, code := verify(dir); code != 1 || !strings.Contains(out, "evidence: is missing") {
		t.Errorf("a report without its evidence: exit %d\n%s", code, out)
	}
}

// checksumForTest writes SHA256SUMS as report.Write does (every file but
// SHA256SUMS and its signature, sorted, "<sha256>  <path>").
func checksumForTest(dir string) (int, []byte, error) {
	var lines []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(rel)
		if rel == report.FileSums || rel == report.FileSumsSig {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		lines = append(lines, hex.EncodeToString(sum[:])+"  "+rel+"\n")
		return nil
	})
	slices.Sort(lines)
	return len(lines), []byte(strings.Join(lines, "")), err
}
