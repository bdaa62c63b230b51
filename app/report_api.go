package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/axiomops/axiom-audit/app/report"
)

// The Reports view's use case: write a compliance report folder of one
// organization and period (writeReport, as the CLI's report command does).
// The desktop window reaches it through the WriteReport binding, the
// browser through POST /api/reports. Both check the request first with the
// field names the view shows, so that a typo in the period or the folder
// is an invalid_request naming its field before the log is verified.

// ReportAPIRequest is the body of POST /api/reports. It has no Chromium
// path: a caller of the API must not choose the program the server runs.
type ReportAPIRequest struct {
	Org    string `json:"org"`
	Period string `json:"period"` // 2026-Q3, 2026-09 or FROM..TO
	OutDir string `json:"outDir"`
	NoPDF  bool   `json:"noPdf,omitempty"`
}

// checkReportRequest checks what can be checked before writing (the
// organization, the period and the folder, which must be absolute, exist
// and be writable) and returns req with the folder's clean absolute path.
func checkReportRequest(req ReportRequest) (ReportRequest, error) {
	req.Org = strings.TrimSpace(req.Org)
	if req.Org == "" {
		return req, &RequestError{Field: "org", Reason: "is required: a report covers one organization"}
	}
	if strings.TrimSpace(req.Period) == "" {
		return req, &RequestError{Field: "period", Reason: "is required: 2026-Q3, 2026-09 or FROM..TO"}
	}
	if p, err := report.ParsePeriod(req.Period); err != nil {
		return req, &RequestError{Field: "period", Reason: err.Error()}
	} else if err := periodBegun(p, time.Now()); err != nil {
		return req, &RequestError{Field: "period", Reason: err.Error()}
	}
	req.Period = strings.TrimSpace(req.Period)
	if strings.TrimSpace(req.OutDir) == "" {
		return req, &RequestError{Field: "outDir", Reason: "is required: the folder the report folder is created in"}
	}
	dir, err := checkOutFolder(req.OutDir, "write a report in", "reports")
	if err != nil {
		return req, err
	}
	req.OutDir = dir
	return req, nil
}

// writeCheckedReport is writeReport after checkReportRequest.
func (a *App) writeCheckedReport(ctx context.Context, req ReportRequest) (ReportResultDTO, error) {
	req, err := checkReportRequest(req)
	if err != nil {
		return ReportResultDTO{}, err
	}
	res, err := a.writeReport(ctx, req)
	if err != nil {
		return ReportResultDTO{}, err
	}
	if res.Files == nil {
		res.Files = []report.EvidenceFile{}
	}
	return res, nil
}

// runningReports are the reports the desktop window is writing, by the id
// it gave them, so that it can cancel one. (The browser cancels a report by
// abandoning its request.)
type runningReports struct {
	mu   sync.Mutex
	byID map[string]context.CancelFunc
}

// start returns the context to write report id in, and the function to call
// when it is written. An empty id cannot be cancelled.
func (r *runningReports) start(parent context.Context, id string) (context.Context, func(), error) {
	ctx, cancel := context.WithCancel(parent)
	if id == "" {
		return ctx, cancel, nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.byID[id]; ok {
		cancel()
		return nil, nil, &RequestError{Field: "id", Reason: fmt.Sprintf("report %q is already being written", id)}
	}
	if r.byID == nil {
		r.byID = map[string]context.CancelFunc{}
	}
	r.byID[id] = cancel
	return ctx, func() {
		r.mu.Lock()
		delete(r.byID, id)
		r.mu.Unlock()
		cancel()
	}, nil
}

// cancel stops report id; not_found when no report of that id is running
// (it may have just finished).
func (r *runningReports) cancel(id string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, ok := r.byID[id]
	if !ok {
		return notFound("no report %q is being written", id)
	}
	c()
	return nil
}

// reportErrorCode maps a report's error to its stable code and status: an
// export's codes for the folder and the disk, conflict for a report folder
// that exists already.
func reportErrorCode(err error) (string, int) {
	switch {
	case errors.Is(err, report.ErrExists):
		return CodeConflict, http.StatusConflict
	case errors.Is(err, report.ErrPeriod):
		return CodeInvalidRequest, http.StatusBadRequest
	}
	return exportErrorCode(err)
}

// reportBindingError is bindingError with the report's codes.
func reportBindingError(err error) error {
	if err == nil {
		return nil
	}
	code, _ := reportErrorCode(err)
	b, _ := json.Marshal(ErrorDTO{Code: code, Message: err.Error(), Fields: fieldErrors(err)})
	return errors.New(string(b))
}

// reportRoutes are the compliance report endpoints.
func (s *api) reportRoutes() []route {
	return []route{
		{"POST", "/api/reports", s.auth(s.writeReport)},
	}
}

// writeReport writes a report of the caller's organization (a read
// credential suffices: a report is a read, like an export) and answers
// when the folder is complete. The log is verified as part of it, so it
// may take a while; a client that goes away cancels it and nothing is left.
func (s *api) writeReport(w http.ResponseWriter, r *http.Request, p principal) {
	var body ReportAPIRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil {
		msg := "the body must be a JSON report request: " + err.Error()
		if errors.Is(err, io.EOF) {
			msg = "the body must be a JSON report request: {org, period, outDir}"
		}
		writeError(w, http.StatusBadRequest, CodeInvalidRequest, msg, nil)
		return
	}
	if body.Org == "" {
		s.fail(w, &RequestError{Field: "org", Reason: "is required: a report covers one organization"})
		return
	}
	if !p.canRead(body.Org) {
		s.notVisible(w, p, body.Org)
		return
	}
	res, err := s.app.writeCheckedReport(r.Context(), ReportRequest{Org: body.Org, Period: body.Period, OutDir: body.OutDir, NoPDF: body.NoPDF})
	if err != nil {
		code, status := reportErrorCode(err)
		if code == CodeInternal {
			s.fail(w, err)
			return
		}
		writeError(w, status, code, err.Error(), fieldErrors(err))
		return
	}
	writeJSON(w, http.StatusOK, res)
}
