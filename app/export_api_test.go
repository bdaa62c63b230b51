package app

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/axiomops/axiom-audit/app/export"
)

// bindingCode reads the stable code out of a binding's error, as the
// frontend's api module does.
func bindingCode(t *testing.T, err error) string {
	t.Helper()
	if err == nil {
		t.Fatal("no error")
	}
	var e ErrorDTO
	if jerr := json.Unmarshal([]byte(err.Error()), &e); jerr != nil || e.Message == "" {
		t.Fatalf("binding error is not an ErrorDTO: %q", err)
	}
	return e.Code
}

type emitted struct {
	at time.Time
	p  ExportProgressEvent
}

type emitRecorder struct {
	mu     sync.Mutex
	events []emitted
	on     func(ExportProgressEvent)
}

func (r *emitRecorder) emit(name string, data any) {
	if name != EventExportProgress {
		return
	}
	p := data.(ExportProgressEvent)
	r.mu.Lock()
	r.events = append(r.events, emitted{time.Now(), p})
	on := r.on
	r.mu.Unlock()
	if on != nil {
		on(p)
	}
}

// TestExportBinding_ProgressAndResult exports through the Export binding:
// progress events carry the job's id, come at most ten a second and end
// at 100%; the bundle verifies.
func TestExportBinding_ProgressAndResult(t *testing.T) {
	a := TestApp(t)
	exportTestEvents(t, a, "org-x", 3000)
	out := t.TempDir()
	rec := &emitRecorder{}
	res, err := a.exportWithEvents(ExportJobRequest{ID: "job-00000001", ExportRequest: ExportRequest{
		Query: QueryDTO{Org: "org-x"}, Format: "jsonl", OutDir: out}}, rec.emit)
	if err != nil {
		t.Fatal(err)
	}
	if res.Count != 3000 || filepath.Dir(res.Dir) != out {
		t.Fatalf("result %+v", res)
	}
	if rep, err := export.Verify(context.Background(), res.Dir, export.VerifyOptions{}); err != nil || !rep.OK {
		t.Fatalf("the bundle does not verify: %v %+v", err, rep.Problems)
	}
	if len(rec.events) == 0 {
		t.Fatal("no progress events")
	}
	for i, e := range rec.events {
		if e.p.ID != "job-00000001" {
			t.Errorf("progress event %d has id %q", i, e.p.ID)
		}
		// The last one (100%) may follow closely; the others are spaced.
		if i > 0 && i < len(rec.events)-1 && e.at.Sub(rec.events[i-1].at) < progressInterval-5*time.Millisecond {
			t.Errorf("progress events %d and %d %s apart", i-1, i, e.at.Sub(rec.events[i-1].at))
		}
	}
	last := rec.events[len(rec.events)-1].p
	if last.Events != 3000 || last.Total != 3000 || last.Bytes != res.Bytes {
		t.Errorf("last progress %+v, result %d events %d bytes", last, res.Count, res.Bytes)
	}
}

// TestExportBinding_Cancel cancels through CancelExport while the export
// runs: the binding fails with code cancelled, and no bundle is left.
func TestExportBinding_Cancel(t *testing.T) {
	a := TestApp(t)
	exportTestEvents(t, a, "org-x", 3000)
	out := t.TempDir()
	rec := &emitRecorder{}
	var once sync.Once
	rec.on = func(p ExportProgressEvent) {
		once.Do(func() {
			if err := a.CancelExport(p.ID); err != nil {
				t.Errorf("CancelExport: %v", err)
			}
		})
	}
	_, err := a.exportWithEvents(ExportJobRequest{ID: "job-to-cancel", ExportRequest: ExportRequest{
		Query: QueryDTO{Org: "org-x"}, Format: "csv", OutDir: out}}, rec.emit)
	if code := bindingCode(t, err); code != CodeCancelled {
		t.Fatalf("code %s: %v", code, err)
	}
	if es, _ := os.ReadDir(out); len(es) != 0 {
		t.Errorf("a cancelled export left %v", es)
	}
	j, ok := a.exportJob("job-to-cancel", anyOrg)
	if !ok || j.dto().State != ExportCancelled {
		t.Errorf("job state %+v", j.dto())
	}
	if code := bindingCode(t, a.CancelExport("no-such-export")); code != CodeNotFound {
		t.Errorf("cancel of an unknown export: %s", code)
	}
}

// TestExportBinding_Errors: what the dialog is told when the request or
// the folder is wrong, each with its stable code.
func TestExportBinding_Errors(t *testing.T) {
	a := TestApp(t)
	exportTestEvents(t, a, "org-x", 3)
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	os.WriteFile(file, nil, 0o600)
	readOnly := filepath.Join(dir, "read-only")
	os.Mkdir(readOnly, 0o500)
	tests := []struct {
		name string
		req  ExportRequest
		code string
	}{
		{"bad format", ExportRequest{Query: QueryDTO{Org: "org-x"}, Format: "xml", OutDir: dir}, CodeInvalidRequest},
		{"no folder", ExportRequest{Query: QueryDTO{Org: "org-x"}, Format: "csv"}, CodeInvalidRequest},
		{"relative folder", ExportRequest{Query: QueryDTO{Org: "org-x"}, Format: "csv", OutDir: "exports"}, CodeInvalidRequest},
		{"missing folder", ExportRequest{Query: QueryDTO{Org: "org-x"}, Format: "csv", OutDir: filepath.Join(dir, "missing")}, CodeFolderNotFound},
		{"a file", ExportRequest{Query: QueryDTO{Org: "org-x"}, Format: "csv", OutDir: file}, CodeInvalidRequest},
		{"read-only folder", ExportRequest{Query: QueryDTO{Org: "org-x"}, Format: "csv", OutDir: readOnly}, CodeFolderNotWritable},
		// A folder that exists but takes no new folder, whatever error
		// the system gives (/proc says "no such file"): not writable.
		{"/proc", ExportRequest{Query: QueryDTO{Org: "org-x"}, Format: "csv", OutDir: "/proc"}, CodeFolderNotWritable},
		{"bad filter", ExportRequest{Query: QueryDTO{Org: "org-x", Statuses: []string{"done"}}, Format: "csv", OutDir: dir}, CodeInvalidRequest},
		{"no org", ExportRequest{Format: "csv", OutDir: dir}, CodeInvalidRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.name == "/proc" && runtime.GOOS != "linux" {
				t.Skip("/proc is Linux's")
			}
			if tt.name == "read-only folder" && os.Geteuid() == 0 {
				t.Skip("root writes in read-only folders")
			}
			_, err := a.Export(ExportJobRequest{ExportRequest: tt.req})
			if code := bindingCode(t, err); code != tt.code {
				t.Errorf("code %s, want %s: %v", code, tt.code, err)
			}
		})
	}
	if _, err := a.ChooseExportFolder(); bindingCode(t, err) != CodeInvalidRequest || !strings.Contains(err.Error(), "type the folder") {
		t.Errorf("folder picker outside the desktop window: %v", err)
	}
}

func pollExport(t *testing.T, f *restFixture, id, token string) ExportJobDTO {
	t.Helper()
	var j ExportJobDTO
	waitFor(t, 30*time.Second, "export "+id+" to end", func() bool {
		resp, b := f.do("GET", "/api/exports/"+id, token, nil)
		if resp.StatusCode != 200 {
			t.Fatalf("GET /api/exports/%s: %d %s", id, resp.StatusCode, b)
		}
		j = ExportJobDTO{}
		if err := json.Unmarshal(b, &j); err != nil {
			t.Fatal(err)
		}
		return j.State != ExportRunning
	})
	return j
}

// TestREST_Exports drives the job resource over a loopback listener: start
// with a read token, poll to done, verify the bundle; other credentials
// and wrong requests get their codes.
func TestREST_Exports(t *testing.T) {
	f := newRESTFixture(t)
	out := t.TempDir()
	body := func(org, format, dir string) *strings.Reader {
		return strings.NewReader(mustJSON(t, ExportRequest{Query: QueryDTO{Org: org}, Format: format, OutDir: dir}))
	}
	resp, b := f.do("POST", "/api/exports", f.tokens["readA"], body("org-a", "ocsf", out))
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("POST /api/exports: %d %s", resp.StatusCode, b)
	}
	var j ExportJobDTO
	json.Unmarshal(b, &j)
	if j.ID == "" || resp.Header.Get("Location") != "/api/exports/"+j.ID || j.Org != "org-a" || j.OutDir != out {
		t.Fatalf("job %s, Location %q", b, resp.Header.Get("Location"))
	}
	j = pollExport(t, f, j.ID, f.tokens["readA"])
	if j.State != ExportDone || j.Result == nil || j.Result.Count < 20 || j.Progress.Events != j.Result.Count || j.FinishedAt == "" {
		t.Fatalf("finished job %+v", j)
	}
	if rep, err := export.Verify(context.Background(), j.Result.Dir, export.VerifyOptions{}); err != nil || !rep.OK {
		t.Fatalf("the bundle does not verify: %v %+v", err, rep.Problems)
	}
	// The log records the export as the token's, not the local user's.
	tokenID := strings.Split(strings.TrimPrefix(f.tokens["readA"], tokenPrefix), "_")[0]
	audited, err := f.app.listEvents(context.Background(), QueryDTO{Org: "org-a", ActionTypes: []string{"audit.exported"}})
	if err != nil || len(audited.Events) != 1 || audited.Events[0].UserID != "token:"+tokenID ||
		!strings.Contains(string(audited.Events[0].Metadata), `"viaToken":"`+tokenID+`"`) {
		t.Fatalf("the export's record: %+v, %v", audited.Events, err)
	}
	// Ids are per organization: another organization's export of an id
	// neither conflicts with nor is visible to this one.
	for _, tok := range []string{"readA", "readB"} {
		org := map[string]string{"readA": "org-a", "readB": "org-b"}[tok]
		req := mustJSON(t, ExportJobRequest{ExportRequest: ExportRequest{Query: QueryDTO{Org: org}, Format: "csv", OutDir: t.TempDir()}, ID: "shared-id-1234"})
		resp, b := f.do("POST", "/api/exports", f.tokens[tok], strings.NewReader(req))
		if resp.StatusCode != http.StatusAccepted {
			t.Fatalf("%s: export with a shared id: %d %s", tok, resp.StatusCode, b)
		}
		pollExport(t, f, "shared-id-1234", f.tokens[tok])
	}
	// Cancelling a finished export changes nothing.
	resp, b = f.do("POST", "/api/exports/"+j.ID+"/cancel", f.tokens["readA"], nil)
	if resp.StatusCode != 200 || !strings.Contains(string(b), `"state":"done"`) {
		t.Errorf("cancel after done: %d %s", resp.StatusCode, b)
	}

	tests := []struct {
		name, method, path, token string
		body                      *strings.Reader
		status                    int
		code                      string
	}{
		{"no token", "POST", "/api/exports", "", body("org-a", "csv", out), 401, CodeUnauthorized},
		{"other org's token", "POST", "/api/exports", f.tokens["readB"], body("org-a", "csv", out), 404, CodeNotFound},
		{"append token", "POST", "/api/exports", f.tokens["appendA"], body("org-a", "csv", out), 403, CodeForbidden},
		{"other org's job", "GET", "/api/exports/" + j.ID, f.tokens["readB"], nil, 404, CodeNotFound},
		{"cancel other org's job", "POST", "/api/exports/" + j.ID + "/cancel", f.tokens["readB"], nil, 404, CodeNotFound},
		{"unknown job", "GET", "/api/exports/nope", f.tokens["readA"], nil, 404, CodeNotFound},
		{"no body", "POST", "/api/exports", f.tokens["readA"], strings.NewReader(""), 400, CodeInvalidRequest},
		{"unknown field", "POST", "/api/exports", f.tokens["readA"], strings.NewReader(`{"query":{"org":"org-a"},"format":"csv","outDir":"/tmp","x":1}`), 400, CodeInvalidRequest},
		{"no org", "POST", "/api/exports", f.tokens["readA"], body("", "csv", out), 400, CodeInvalidRequest},
		{"bad format", "POST", "/api/exports", f.tokens["readA"], body("org-a", "pdf", out), 400, CodeInvalidRequest},
		{"missing folder", "POST", "/api/exports", f.tokens["readA"], body("org-a", "csv", filepath.Join(out, "nope")), 422, CodeFolderNotFound},
		{"relative folder", "POST", "/api/exports", f.tokens["readA"], body("org-a", "csv", "exports"), 400, CodeInvalidRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var resp *http.Response
			var b []byte
			if tt.body != nil {
				resp, b = f.do(tt.method, tt.path, tt.token, tt.body)
			} else {
				resp, b = f.do(tt.method, tt.path, tt.token, nil)
			}
			if resp.StatusCode != tt.status || errorCode(t, b) != tt.code {
				t.Errorf("%d %s, want %d %s", resp.StatusCode, b, tt.status, tt.code)
			}
		})
	}
}

// TestREST_ExportCancel cancels a job over HTTP. The export may finish
// first; either way the outcome is whole: a bundle that verifies, or
// none at all and the job says cancelled.
func TestREST_ExportCancel(t *testing.T) {
	f := newRESTFixture(t)
	exportTestEvents(t, f.app, "org-a", 3000)
	out := t.TempDir()
	resp, b := f.do("POST", "/api/exports", "", strings.NewReader(mustJSON(t, ExportJobRequest{ID: "rest-cancel-1",
		ExportRequest: ExportRequest{Query: QueryDTO{Org: "org-a"}, Format: "cef", OutDir: out, IncludeSensitive: true}})),
		"Authorization", "Bearer "+f.tokens["statesA"])
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("POST: %d %s", resp.StatusCode, b)
	}
	resp, b = f.do("POST", "/api/exports/rest-cancel-1/cancel", f.tokens["readA"], nil)
	if resp.StatusCode != 200 {
		t.Fatalf("cancel: %d %s", resp.StatusCode, b)
	}
	j := pollExport(t, f, "rest-cancel-1", f.tokens["readA"])
	es, _ := os.ReadDir(out)
	switch j.State {
	case ExportCancelled:
		if j.Error == nil || j.Error.Code != CodeCancelled || len(es) != 0 {
			t.Errorf("cancelled job %+v left %v", j, es)
		}
	case ExportDone:
		if rep, err := export.Verify(context.Background(), j.Result.Dir, export.VerifyOptions{}); err != nil || !rep.OK {
			t.Errorf("the bundle does not verify: %v", err)
		}
	default:
		t.Errorf("job %+v", j)
	}
	// The same id cannot start a second job.
	resp, b = f.do("POST", "/api/exports", f.tokens["readA"], strings.NewReader(mustJSON(t, ExportJobRequest{ID: "rest-cancel-1",
		ExportRequest: ExportRequest{Query: QueryDTO{Org: "org-a"}, Format: "cef", OutDir: out}})))
	if resp.StatusCode != http.StatusConflict || errorCode(t, b) != CodeConflict {
		t.Errorf("a reused id: %d %s", resp.StatusCode, b)
	}
}

// TestExportJobs_LimitsAndOldOnesAreForgotten checks the limits of the job
// registry without running exports: two per organization, four in all, so
// that one organization cannot hold every slot.
func TestExportJobs_LimitsAndOldOnesAreForgotten(t *testing.T) {
	a := TestApp(t)
	for _, org := range []string{"org-x", "org-y", "org-z"} {
		exportTestEvents(t, a, org, 3)
	}
	running := func(org, id string) *exportJob {
		return &exportJob{id: id, req: ExportRequest{Query: QueryDTO{Org: org}}, done: make(chan struct{}), cancel: func() {}, startedAt: time.Now()}
	}
	start := func(org string) error {
		_, err := a.Export(ExportJobRequest{ExportRequest: ExportRequest{Query: QueryDTO{Org: org}, Format: "csv", OutDir: t.TempDir()}})
		return err
	}
	a.exports.jobs = map[string]*exportJob{}
	for _, j := range []*exportJob{running("org-x", "x1"), running("org-x", "x2")} {
		a.exports.jobs[jobKey(j.req.Query.Org, j.id)] = j
	}
	err := start("org-x")
	if code := bindingCode(t, err); code != CodeTooManyExports || !strings.Contains(err.Error(), "2 exports of organization org-x") {
		t.Fatalf("a third export of one organization: %s, %v", code, err)
	}
	// Another organization still has slots; the fifth export overall waits.
	for _, j := range []*exportJob{running("org-y", "y1"), running("org-y", "y2")} {
		a.exports.jobs[jobKey(j.req.Query.Org, j.id)] = j
	}
	err = start("org-z")
	if code := bindingCode(t, err); code != CodeTooManyExports || !strings.Contains(err.Error(), "4 exports are already running") {
		t.Fatalf("a fifth export: %s, %v", code, err)
	}
	delete(a.exports.jobs, jobKey("org-y", "y2"))
	if err := start("org-z"); err != nil {
		t.Fatalf("an export of an organization with free slots: %v", err)
	}
	for _, j := range a.exports.jobs {
		if j.req.Query.Org == "org-z" {
			<-j.done
		}
	}
	for k, j := range a.exports.jobs {
		if j.req.Query.Org != "org-z" {
			close(j.done)
			delete(a.exports.jobs, k)
		}
	}
	x1, x2 := running("org-x", "x1"), running("org-x", "x2")
	a.exports.jobs[jobKey("org-x", "x1")], a.exports.jobs[jobKey("org-x", "x2")] = x1, x2
	for i := range finishedExportsKept + 5 {
		j := running("org-w", newExportID())
		j.startedAt = time.Now().Add(time.Duration(i) * time.Second)
		close(j.done)
		a.exports.jobs[jobKey(j.req.Query.Org, j.id)] = j
	}
	a.exports.pruneLocked()
	if n := len(a.exports.jobs); n != finishedExportsKept+2 || a.exports.jobs[jobKey("org-x", "x1")] != x1 || a.exports.jobs[jobKey("org-x", "x2")] != x2 {
		t.Errorf("%d jobs kept, want %d finished and the 2 running", n, finishedExportsKept)
	}
}
