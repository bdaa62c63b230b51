package app

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/axiomops/axiom-audit/app/export"
	"github.com/wailsapp/wails/v2/pkg/runtime"
)

// The Export dialog's use cases: an export runs as a job that reports
// progress and can be cancelled. The desktop window reaches it through the
// bindings below (progress as "audit:export-progress" Wails events), the
// browser through the REST job resource (POST /api/exports, GET
// /api/exports/{id}, POST /api/exports/{id}/cancel). Both end in
// exportEvidence, which the CLI's export command calls directly.

// EventExportProgress is the Wails event that carries ExportProgressEvent
// while an export runs, at most ten a second.
const EventExportProgress = "audit:export-progress"

// Error codes of exports, besides the general ones in errors.go.
const (
	// CodeFolderNotFound: the destination folder does not exist.
	CodeFolderNotFound = "folder_not_found"
	// CodeFolderNotWritable: permission denied or a read-only file system.
	CodeFolderNotWritable = "folder_not_writable"
	// CodeDiskFull: the disk filled up while writing; nothing was left.
	CodeDiskFull = "disk_full"
	// CodeTooManyExports: maxRunningExports, or maxRunningExportsPerOrg of
	// the organization, are already running.
	CodeTooManyExports = "too_many_exports"
)

// maxRunningExports bounds concurrent exports: each holds a reader, an
// encoder and two files open, and the disk is the bottleneck anyway.
// An organization may run maxRunningExportsPerOrg of them, so that one
// organization's token cannot take every slot from the others.
const (
	maxRunningExports       = 4
	maxRunningExportsPerOrg = 2
)

// finishedExportsKept is how many finished jobs GET /api/exports/{id} can
// still answer for; older ones are forgotten (their bundles stay).
const finishedExportsKept = 32

// Export job states.
const (
	ExportRunning   = "running"
	ExportDone      = "done"
	ExportFailed    = "failed"
	ExportCancelled = "cancelled"
)

// ExportJobRequest starts an export. ID is optional: the desktop window
// picks one so that it can cancel before Export returns; the server picks
// one otherwise.
type ExportJobRequest struct {
	ExportRequest
	ID string `json:"id,omitempty"`
}

// ExportProgressEvent is the payload of "audit:export-progress".
type ExportProgressEvent struct {
	ID string `json:"id"`
	ExportProgressDTO
}

// ExportJobDTO is the state of one export job.
type ExportJobDTO struct {
	ID               string            `json:"id"`
	State            string            `json:"state"` // running | done | failed | cancelled
	Org              string            `json:"org"`
	Format           string            `json:"format"`
	OutDir           string            `json:"outDir"`
	IncludeSensitive bool              `json:"includeSensitive"`
	StartedAt        string            `json:"startedAt"`
	FinishedAt       string            `json:"finishedAt,omitempty"`
	Progress         ExportProgressDTO `json:"progress"`
	Result           *ExportResultDTO  `json:"result,omitempty"`
	Error            *ErrorDTO         `json:"error,omitempty"`
}

// exportJobs are the running and recently finished exports of an App.
type exportJobs struct {
	mu   sync.Mutex
	jobs map[string]*exportJob
}

type exportJob struct {
	id        string
	req       ExportRequest
	outDir    string
	startedAt time.Time
	cancel    context.CancelFunc
	done      chan struct{}

	mu         sync.Mutex
	progress   ExportProgressDTO
	result     *ExportResultDTO
	err        error
	cancelled  bool
	finishedAt time.Time
}

func (j *exportJob) dto() ExportJobDTO {
	j.mu.Lock()
	defer j.mu.Unlock()
	d := ExportJobDTO{ID: j.id, State: ExportRunning, Org: j.req.Query.Org, Format: j.req.Format, OutDir: j.outDir,
		IncludeSensitive: j.req.IncludeSensitive, StartedAt: formatTime(j.startedAt), Progress: j.progress, Result: j.result}
	if !j.finishedAt.IsZero() {
		d.FinishedAt = formatTime(j.finishedAt)
		switch {
		case j.err == nil:
			d.State = ExportDone
		case j.cancelled && errors.Is(j.err, context.Canceled):
			d.State = ExportCancelled
			d.Error = exportErrorDTO(j.err)
		default:
			d.State = ExportFailed
			d.Error = exportErrorDTO(j.err)
		}
	}
	return d
}

var exportIDPattern = regexp.MustCompile(`^[A-Za-z0-9-]{8,64}$`)

// startExport checks req, then runs the export in the background until it
// ends, the job is cancelled or the App closes. What can be checked before
// writing (format, filter, folder) fails here rather than in the job.
// onProgress, when set, gets every progress report (at most ten a second).
func (a *App) startExport(reqCtx context.Context, req ExportJobRequest, onProgress func(ExportProgressDTO)) (*exportJob, error) {
	if _, err := a.storeOrErr(); err != nil {
		return nil, err
	}
	if _, err := export.ParseFormat(req.Format); err != nil {
		return nil, &RequestError{Field: "format", Reason: export.UnknownFormat(req.Format)}
	}
	if _, err := a.filter(req.Query); err != nil {
		return nil, err
	}
	dir, err := checkExportFolder(req.OutDir)
	if err != nil {
		return nil, err
	}
	if req.ID == "" {
		req.ID = newExportID()
	} else if !exportIDPattern.MatchString(req.ID) {
		return nil, &RequestError{Field: "id", Reason: "must be 8 to 64 letters, digits or dashes"}
	}
	ctx, cancel := context.WithCancel(withActorOf(a.bg(), reqCtx))
	j := &exportJob{id: req.ID, req: req.ExportRequest, outDir: dir, startedAt: a.opts.Now(), cancel: cancel, done: make(chan struct{})}
	j.req.OutDir = dir

	x := &a.exports
	x.mu.Lock()
	if x.jobs == nil {
		x.jobs = map[string]*exportJob{}
	}
	// Ids are per organization: a token must not learn, from a conflict,
	// that another organization has an export of some id.
	if _, ok := x.jobs[jobKey(j.req.Query.Org, j.id)]; ok {
		x.mu.Unlock()
		cancel()
		return nil, fmt.Errorf("an export with id %q exists: %w", j.id, errExportConflict)
	}
	running, ofOrg := 0, 0
	for _, o := range x.jobs {
		select {
		case <-o.done:
		default:
			running++
			if o.req.Query.Org == j.req.Query.Org {
				ofOrg++
			}
		}
	}
	if ofOrg >= maxRunningExportsPerOrg || running >= maxRunningExports {
		x.mu.Unlock()
		cancel()
		if ofOrg >= maxRunningExportsPerOrg {
			return nil, fmt.Errorf("%d exports of organization %s are already running: wait for one to finish or cancel it: %w",
				ofOrg, j.req.Query.Org, errTooManyExports)
		}
		return nil, fmt.Errorf("%d exports are already running: wait for one to finish or cancel it: %w", running, errTooManyExports)
	}
	x.jobs[jobKey(j.req.Query.Org, j.id)] = j
	x.pruneLocked()
	x.mu.Unlock()

	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		defer cancel()
		res, err := a.exportEvidence(ctx, j.req, func(p ExportProgressDTO) {
			j.mu.Lock()
			j.progress = p
			j.mu.Unlock()
			if onProgress != nil {
				onProgress(p)
			}
		})
		j.mu.Lock()
		if err == nil {
			j.result = &res
			j.progress.Events, j.progress.Bytes, j.progress.ETASeconds = res.Count, res.Bytes, 0
			j.progress.Total = max(j.progress.Total, res.Count)
		}
		j.err = err
		j.finishedAt = a.opts.Now()
		j.mu.Unlock()
		close(j.done)
	}()
	return j, nil
}

func newExportID() string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// pruneLocked forgets the oldest finished jobs beyond finishedExportsKept.
func (x *exportJobs) pruneLocked() {
	var finished []*exportJob
	for _, j := range x.jobs {
		select {
		case <-j.done:
			finished = append(finished, j)
		default:
		}
	}
	if len(finished) <= finishedExportsKept {
		return
	}
	sort.Slice(finished, func(i, k int) bool { return finished[i].startedAt.Before(finished[k].startedAt) })
	for _, j := range finished[:len(finished)-finishedExportsKept] {
		delete(x.jobs, jobKey(j.req.Query.Org, j.id))
	}
}

func jobKey(org, id string) string { return org + "\x00" + id }

// exportJob finds export id of one of the organizations visible says it
// may see (the newest, should two have the id).
func (a *App) exportJob(id string, visible func(org string) bool) (*exportJob, bool) {
	a.exports.mu.Lock()
	defer a.exports.mu.Unlock()
	var found *exportJob
	for _, j := range a.exports.jobs {
		if j.id == id && visible(j.req.Query.Org) && (found == nil || j.startedAt.After(found.startedAt)) {
			found = j
		}
	}
	return found, found != nil
}

func anyOrg(string) bool { return true }

// cancelExport stops a running export; its partial bundle is removed. A
// finished export stays as it is.
func (a *App) cancelExport(id string, visible func(org string) bool) (*exportJob, error) {
	j, ok := a.exportJob(id, visible)
	if !ok {
		return nil, fmt.Errorf("no export %q: %w", id, errExportNotFound)
	}
	j.mu.Lock()
	if j.finishedAt.IsZero() {
		j.cancelled = true
	}
	j.mu.Unlock()
	j.cancel()
	return j, nil
}

var (
	errExportNotFound = errors.New("it finished long ago or never ran")
	errExportConflict = errors.New("choose another id")
	errTooManyExports = errors.New("too many exports")
)

// checkExportFolder returns the absolute path of the folder a bundle is
// to be written in, after checking that it exists and can be written to.
// "~/" stands for the home folder; a relative path is refused, as the
// server's working directory means nothing to the person typing it.
func checkExportFolder(dir string) (string, error) {
	if strings.TrimSpace(dir) == "" {
		return "", &RequestError{Field: "outDir", Reason: "is required: the folder the bundle is written in"}
	}
	return checkOutFolder(dir, "export to", "exports")
}

// checkOutFolder is checkExportFolder for any writer: doing says what
// failed ("export to"), example names the folder of the example path.
func checkOutFolder(dir, doing, example string) (string, error) {
	dir = strings.TrimSpace(dir)
	if dir == "~" || strings.HasPrefix(dir, "~/") || strings.HasPrefix(dir, `~\`) {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", &RequestError{Field: "outDir", Reason: "cannot expand ~: " + err.Error()}
		}
		dir = filepath.Join(home, dir[1:])
	}
	if !filepath.IsAbs(dir) {
		return "", &RequestError{Field: "outDir", Reason: fmt.Sprintf("%q is not an absolute path: give the whole path, e.g. /home/you/%s", dir, example)}
	}
	dir = filepath.Clean(dir)
	fi, err := os.Stat(dir)
	if err != nil {
		return "", fmt.Errorf("cannot %s %s: %w", doing, dir, err)
	}
	if !fi.IsDir() {
		return "", &RequestError{Field: "outDir", Reason: dir + " is a file, not a folder"}
	}
	probe, err := os.MkdirTemp(dir, ".axiom-audit-export-check-*")
	if err != nil {
		if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) {
			return "", fmt.Errorf("cannot write in %s: %w", dir, err)
		}
		// The folder exists (it was just found): whatever the system says
		// (/proc answers "no such file"), it is one nothing can be
		// written in.
		return "", fmt.Errorf("cannot write in %s (%v): %w", dir, err, errFolderNotWritable)
	}
	os.Remove(probe)
	return dir, nil
}

// errFolderNotWritable: an existing folder nothing can be written in.
var errFolderNotWritable = errors.New("nothing can be written in this folder")

// exportErrorCode maps an export's error to its stable code and status:
// the file-system failures a person can fix get codes of their own.
func exportErrorCode(err error) (string, int) {
	var re *RequestError
	switch {
	case errors.As(err, &re), errors.Is(err, export.ErrUsage):
		return CodeInvalidRequest, http.StatusBadRequest
	case errors.Is(err, context.Canceled):
		return CodeCancelled, http.StatusConflict
	case errors.Is(err, errExportNotFound):
		return CodeNotFound, http.StatusNotFound
	case errors.Is(err, errExportConflict), errors.Is(err, export.ErrExists):
		return CodeConflict, http.StatusConflict
	case errors.Is(err, errTooManyExports):
		return CodeTooManyExports, http.StatusTooManyRequests
	case errors.Is(err, syscall.ENOSPC), errors.Is(err, syscall.EDQUOT):
		return CodeDiskFull, http.StatusInsufficientStorage
	case errors.Is(err, fs.ErrPermission), errors.Is(err, syscall.EROFS), errors.Is(err, errFolderNotWritable):
		return CodeFolderNotWritable, http.StatusForbidden
	case errors.Is(err, fs.ErrNotExist):
		return CodeFolderNotFound, http.StatusUnprocessableEntity
	}
	return ErrorCode(err)
}

func exportErrorDTO(err error) *ErrorDTO {
	code, _ := exportErrorCode(err)
	return &ErrorDTO{Code: code, Message: err.Error(), Fields: fieldErrors(err)}
}

// bindingError turns an error of a binding into the JSON of its ErrorDTO,
// which the frontend's api module reads back with its code.
func bindingError(err error) error {
	if err == nil {
		return nil
	}
	b, _ := json.Marshal(exportErrorDTO(err))
	return errors.New(string(b))
}

// ChooseExportFolder opens the native folder picker and returns the chosen
// folder, or "" when the person closed it without choosing.
func (a *App) ChooseExportFolder() (string, error) {
	return a.ChooseFolder("Choose the folder for the evidence bundle")
}

// ChooseFolder is ChooseExportFolder with the picker's title (a report's
// folder, an auditor's copy's), at most 200 characters.
func (a *App) ChooseFolder(title string) (string, error) {
	wctx := a.wailsContext()
	if wctx == nil {
		return "", bindingError(&RequestError{Field: "outDir", Reason: "the folder picker exists only in the desktop window: type the folder's path"})
	}
	if r := []rune(title); len(r) > 200 {
		title = string(r[:200])
	}
	home, _ := os.UserHomeDir()
	dir, err := runtime.OpenDirectoryDialog(wctx, runtime.OpenDialogOptions{
		Title:                title,
		DefaultDirectory:     home,
		CanCreateDirectories: true,
	})
	if err != nil {
		return "", bindingError(fmt.Errorf("the folder picker failed: %w", err))
	}
	return dir, nil
}

// Export writes an evidence bundle and returns it when complete, sending
// "audit:export-progress" events (at most ten a second) while it runs.
// CancelExport(req.ID) stops it; it then fails with code "cancelled" and
// leaves no bundle.
func (a *App) Export(req ExportJobRequest) (ExportResultDTO, error) {
	return a.exportWithEvents(req, a.emit)
}

// exportWithEvents is Export with the function that sends Wails events.
func (a *App) exportWithEvents(req ExportJobRequest, emit func(name string, data any)) (ExportResultDTO, error) {
	if req.ID == "" {
		req.ID = newExportID()
	}
	var mu sync.Mutex
	var last time.Time
	j, err := a.startExport(a.bg(), req, func(p ExportProgressDTO) {
		mu.Lock()
		defer mu.Unlock()
		if now := time.Now(); now.Sub(last) >= progressInterval {
			last = now
			emit(EventExportProgress, ExportProgressEvent{ID: req.ID, ExportProgressDTO: p})
		}
	})
	if err != nil {
		return ExportResultDTO{}, bindingError(err)
	}
	<-j.done
	d := j.dto()
	if d.Result == nil {
		return ExportResultDTO{}, bindingError(j.err)
	}
	// The last report says 100%, however soon it follows the one before.
	mu.Lock()
	emit(EventExportProgress, ExportProgressEvent{ID: j.id, ExportProgressDTO: d.Progress})
	mu.Unlock()
	return *d.Result, nil
}

// CancelExport stops the running export id.
func (a *App) CancelExport(id string) error {
	_, err := a.cancelExport(id, anyOrg)
	return bindingError(err)
}

// exportRoutes are the evidence-export endpoints: an export is a job
// resource the client polls for progress and can cancel.
func (s *api) exportRoutes() []route {
	return []route{
		{"POST", "/api/exports", s.auth(s.startExport)},
		{"GET", "/api/exports/{id}", s.auth(s.getExport)},
		{"POST", "/api/exports/{id}/cancel", s.auth(s.cancelExport)},
	}
}

func (s *api) failExport(w http.ResponseWriter, err error) {
	code, status := exportErrorCode(err)
	if code == CodeInternal {
		s.fail(w, err)
		return
	}
	writeError(w, status, code, err.Error(), fieldErrors(err))
}

// startExport starts an export of the caller's organization (a read token
// suffices: an export is a read) and answers 202 with the job.
func (s *api) startExport(w http.ResponseWriter, r *http.Request, p principal) {
	var req ExportJobRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		msg := "the body must be a JSON export request: " + err.Error()
		if errors.Is(err, io.EOF) {
			msg = "the body must be a JSON export request: {query, format, outDir, includeSensitive}"
		}
		writeError(w, http.StatusBadRequest, CodeInvalidRequest, msg, nil)
		return
	}
	if req.Query.Org == "" {
		s.fail(w, &RequestError{Field: "query.org", Reason: "is required: an export is of one organization"})
		return
	}
	if !p.canRead(req.Query.Org) {
		s.notVisible(w, p, req.Query.Org)
		return
	}
	if req.IncludeSensitive && !p.canSeeStates() {
		writeError(w, http.StatusForbidden, CodeForbidden, "includeSensitive: this token may not reveal states: "+
			"a read token sees them only when it was created with --include-sensitive", nil)
		return
	}
	j, err := s.app.startExport(r.Context(), req, nil)
	if err != nil {
		s.failExport(w, err)
		return
	}
	w.Header().Set("Location", "/api/exports/"+j.id)
	writeJSON(w, http.StatusAccepted, j.dto())
}

// visibleExport finds job id if the caller may read its organization;
// another organization's export answers 404, as if it did not exist.
func (s *api) visibleExport(w http.ResponseWriter, r *http.Request, p principal) (*exportJob, bool) {
	id := r.PathValue("id")
	j, ok := s.app.exportJob(id, p.canRead)
	if !ok {
		s.failExport(w, fmt.Errorf("no export %q: %w", id, errExportNotFound))
		return nil, false
	}
	return j, true
}

func (s *api) getExport(w http.ResponseWriter, r *http.Request, p principal) {
	if j, ok := s.visibleExport(w, r, p); ok {
		writeJSON(w, http.StatusOK, j.dto())
	}
}

// cancelExport cancels the job and answers with it once it has stopped
// (or after a few seconds, still running).
func (s *api) cancelExport(w http.ResponseWriter, r *http.Request, p principal) {
	j, ok := s.visibleExport(w, r, p)
	if !ok {
		return
	}
	if _, err := s.app.cancelExport(j.id, func(org string) bool { return org == j.req.Query.Org }); err != nil {
		s.failExport(w, err)
		return
	}
	select {
	case <-j.done:
	case <-time.After(5 * time.Second):
	case <-r.Context().Done():
	}
	writeJSON(w, http.StatusOK, j.dto())
}
