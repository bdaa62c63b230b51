package app

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/axiomops/axiom-audit/app/demo"
	"github.com/axiomops/axiom-audit/app/export"
	"github.com/axiomops/axiom-audit/app/report"
	"github.com/axiomops/axiom-audit/storage"
)

// reportFixture is the REST fixture plus a demo history of acme-prod and
// a read token for it.
func reportFixture(t *testing.T) (f *restFixture, org, token string, end time.Time) {
	t.Helper()
	f = newRESTFixture(t)
	ctx := context.Background()
	end = time.Now().UTC().Truncate(time.Hour)
	var batch []storage.Event
	err := demo.Generate(demo.Options{Events: 300, Orgs: 1, Seed: 11, End: end, Span: 20 * 24 * time.Hour}, func(e storage.Event) error {
		batch = append(batch, e)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.app.appendEvents(ctx, batch); err != nil {
		t.Fatal(err)
	}
	org = batch[0].OrganizationID
	tok, err := f.app.createToken(ctx, TokenRequest{Org: org, Scope: ScopeRead})
	if err != nil {
		t.Fatal(err)
	}
	return f, org, tok.Token, end
}

// TestREST_Reports writes a report over a loopback listener with a read
// token, checks the folder (report.html, report.json, SHA256SUMS, an
// evidence bundle that verifies offline) against the answer, then the
// codes of requests that cannot be served.
func TestREST_Reports(t *testing.T) {
	f, org, token, end := reportFixture(t)
	out := t.TempDir()
	period := end.AddDate(0, 0, -30).Format("2006-01-02") + ".." + end.Format("2006-01-02")
	body := func(org, period, dir string) *strings.Reader {
		return strings.NewReader(mustJSON(t, ReportAPIRequest{Org: org, Period: period, OutDir: dir, NoPDF: true}))
	}

	resp, b := f.do("POST", "/api/reports", token, body(org, period, out))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST /api/reports: %d %s", resp.StatusCode, b)
	}
	var res ReportResultDTO
	if err := json.Unmarshal(b, &res); err != nil {
		t.Fatal(err)
	}
	if filepath.Dir(res.Dir) != out || !strings.HasPrefix(filepath.Base(res.Dir), "axiom-audit-report-"+org+"-") {
		t.Fatalf("report folder %q is not a new folder inside %s", res.Dir, out)
	}
	// 300 demo events and the token's creation.
	if res.Events != 301 || res.Integrity != "verified" || res.PDF || !strings.Contains(res.Note, "not requested") || res.Evidence == 0 {
		t.Errorf("result: events %d, integrity %q, pdf %v (%q), evidence %d", res.Events, res.Integrity, res.PDF, res.Note, res.Evidence)
	}
	names := map[string]bool{}
	for _, fl := range res.Files {
		names[fl.Name] = true
		data, err := os.ReadFile(filepath.Join(res.Dir, filepath.FromSlash(fl.Name)))
		if err != nil {
			t.Fatalf("listed file %s: %v", fl.Name, err)
		}
		if sum := sha256.Sum256(data); hex.EncodeToString(sum[:]) != fl.SHA256 || int64(len(data)) != fl.Bytes {
			t.Errorf("%s: the answer's size or hash is not the file's", fl.Name)
		}
	}
	for _, want := range []string{report.FileHTML, report.FileJSON, report.EvidenceFolder + "/manifest.json"} {
		if !names[want] {
			t.Errorf("%s is not in the answer's files: %v", want, names)
		}
	}
	sums, err := os.ReadFile(filepath.Join(res.Dir, report.FileSums))
	if err != nil {
		t.Fatal(err)
	}
	if sum := sha256.Sum256(sums); hex.EncodeToString(sum[:]) != res.SumsSHA256 {
		t.Errorf("sha256 %s is not the hash of SHA256SUMS", res.SumsSHA256)
	}
	var r report.Report
	if b, err := os.ReadFile(filepath.Join(res.Dir, report.FileJSON)); err != nil || json.Unmarshal(b, &r) != nil {
		t.Fatalf("report.json: %v", err)
	}
	if r.Summary.Events != res.Events || r.Evidence.Events != res.Evidence || r.Integrity.Status != res.Integrity {
		t.Errorf("report.json says events %d, evidence %d, integrity %q; the answer %+v", r.Summary.Events, r.Evidence.Events, r.Integrity.Status, res)
	}
	if html, err := os.ReadFile(filepath.Join(res.Dir, report.FileHTML)); err != nil || !strings.Contains(string(html), "<svg") {
		t.Errorf("report.html has no inline chart: %v", err)
	}
	if rep, err := export.Verify(context.Background(), filepath.Join(res.Dir, report.EvidenceFolder), export.VerifyOptions{}); err != nil || !rep.OK {
		t.Fatalf("the evidence bundle does not verify: %v %+v", err, rep)
	}
	// The report is in the log, as the CLI's are.
	page, err := f.app.listEvents(context.Background(), QueryDTO{Org: org, ActionTypes: []string{"audit.exported"}})
	if err != nil || len(page.Events) != 1 || !strings.Contains(string(page.Events[0].Metadata), `"kind":"report"`) {
		t.Errorf("audit.exported events: %v %+v", err, page.Events)
	}

	aFile := filepath.Join(out, "a-file")
	if err := os.WriteFile(aFile, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, token string
		body        *strings.Reader
		status      int
		code, field string
	}{
		{"no token", "", body(org, "2026-Q3", out), 401, CodeUnauthorized, ""},
		{"other org's token", f.tokens["readA"], body(org, "2026-Q3", out), 404, CodeNotFound, ""},
		{"append token", f.tokens["appendA"], body("org-a", "2026-Q3", out), 403, CodeForbidden, ""},
		{"no body", token, strings.NewReader(""), 400, CodeInvalidRequest, ""},
		{"a chromium to run", token, strings.NewReader(`{"org":"` + org + `","period":"2026-Q3","outDir":"` + out + `","chromium":"/bin/sh"}`), 400, CodeInvalidRequest, ""},
		{"no org", token, body("", "2026-Q3", out), 400, CodeInvalidRequest, "org"},
		{"no period", token, body(org, "", out), 400, CodeInvalidRequest, "period"},
		{"bad quarter", token, body(org, "2026-Q5", out), 400, CodeInvalidRequest, "period"},
		{"backwards range", token, body(org, "2026-09-30..2026-07-01", out), 400, CodeInvalidRequest, "period"},
		{"no folder", token, body(org, "2026-Q3", " "), 400, CodeInvalidRequest, "outDir"},
		{"relative folder", token, body(org, "2026-Q3", "reports"), 400, CodeInvalidRequest, "outDir"},
		{"a file, not a folder", token, body(org, "2026-Q3", aFile), 400, CodeInvalidRequest, "outDir"},
		{"missing folder", token, body(org, "2026-Q3", filepath.Join(out, "nope")), 422, CodeFolderNotFound, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, b := f.do("POST", "/api/reports", tt.token, tt.body)
			if resp.StatusCode != tt.status || errorCode(t, b) != tt.code {
				t.Fatalf("%d %s, want %d %s", resp.StatusCode, b, tt.status, tt.code)
			}
			if tt.field != "" {
				var e ErrorDTO
				json.Unmarshal(b, &e)
				if len(e.Fields) != 1 || e.Fields[0].Field != tt.field {
					t.Errorf("fields %+v, want %s", e.Fields, tt.field)
				}
			}
		})
	}
	// Nothing but the one report was left in the folder.
	entries, _ := os.ReadDir(out)
	if len(entries) != 2 {
		t.Errorf("the folder holds %d entries, want the report and a-file", len(entries))
	}
}

// TestREST_ReportFolderNotWritable: a folder this process may not write in
// is folder_not_writable, checked before the log is verified.
func TestREST_ReportFolderNotWritable(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root writes in read-only folders")
	}
	f, org, token, _ := reportFixture(t)
	locked := t.TempDir()
	if err := os.Chmod(locked, 0o500); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(locked, 0o700) })
	resp, b := f.do("POST", "/api/reports", token, strings.NewReader(mustJSON(t, ReportAPIRequest{Org: org, Period: "2026-Q3", OutDir: locked})))
	if resp.StatusCode != http.StatusForbidden || errorCode(t, b) != CodeFolderNotWritable {
		t.Fatalf("%d %s, want 403 folder_not_writable", resp.StatusCode, b)
	}
}

// TestReportBinding: the desktop window's WriteReport answers the same
// result, and its errors are ErrorDTO JSON with the view's field names.
func TestReportBinding(t *testing.T) {
	f, org, _, end := reportFixture(t)
	out := t.TempDir()
	res, err := f.app.WriteReport(ReportRequest{Org: org, Period: end.Format("2006-01"), OutDir: out, NoPDF: true})
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Dir(res.Dir) != out || len(res.Files) < 3 || res.Integrity != "verified" {
		t.Errorf("result %+v", res)
	}
	for _, tc := range []struct {
		req        ReportRequest
		code, text string
	}{
		{ReportRequest{Org: org, Period: "2026-Q9", OutDir: out}, CodeInvalidRequest, `"field":"period"`},
		{ReportRequest{Org: org, Period: "2026-Q3", OutDir: "rel"}, CodeInvalidRequest, `"field":"outDir"`},
		{ReportRequest{Org: org, Period: "2026-Q3", OutDir: filepath.Join(out, "nope")}, CodeFolderNotFound, "cannot write a report in " + filepath.Join(out, "nope")},
	} {
		_, err := f.app.WriteReport(tc.req)
		if bindingCode(t, err) != tc.code || !strings.Contains(err.Error(), tc.text) {
			t.Errorf("%+v: %v, want %s with %s", tc.req, err, tc.code, tc.text)
		}
	}
}

// TestReportBinding_Cancel: CancelReport stops the report WriteReport is
// writing under that id; it fails with code cancelled and leaves nothing in
// the folder. An id no report runs under is not_found, and one already
// running cannot be started twice.
func TestReportBinding_Cancel(t *testing.T) {
	f, org, _, end := reportFixture(t)
	out := t.TempDir()
	req := ReportRequest{ID: "r1", Org: org, Period: end.Format("2006-01"), OutDir: out, NoPDF: true}
	if err := f.app.CancelReport("r1"); bindingCode(t, err) != CodeNotFound {
		t.Fatalf("CancelReport with none running: %v, want not_found", err)
	}
	running := func() bool {
		f.app.reports.mu.Lock()
		defer f.app.reports.mu.Unlock()
		_, ok := f.app.reports.byID["r1"]
		return ok
	}
	errc := make(chan error, 1)
	go func() { _, err := f.app.WriteReport(req); errc <- err }()
	waitFor(t, 10*time.Second, "the report to start", func() bool {
		select {
		case err := <-errc:
			t.Fatalf("the report ended before it could be cancelled: %v", err)
		default:
		}
		return running()
	})
	if _, err := f.app.WriteReport(req); bindingCode(t, err) != CodeInvalidRequest || !strings.Contains(err.Error(), "already being written") {
		t.Errorf("a second report under a running id: %v", err)
	}
	if err := f.app.CancelReport("r1"); err != nil {
		t.Fatalf("CancelReport: %v", err)
	}
	if err := <-errc; bindingCode(t, err) != CodeCancelled {
		t.Fatalf("the cancelled report: %v, want code cancelled", err)
	}
	if ents, _ := os.ReadDir(out); len(ents) != 0 {
		t.Errorf("a cancelled report left %v in the folder", ents)
	}
	if running() {
		t.Error("the cancelled report is still registered")
	}
	// The id is free again.
	if _, err := f.app.WriteReport(req); err != nil {
		t.Fatalf("a report under the id again: %v", err)
	}
}
