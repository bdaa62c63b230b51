package app

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	axsync "github.com/axiomops/axiom-audit/app/sync"
)

// syncRoutes are the sync status and control endpoints (see sync.go).
//
// Status and run-now serve any credential that may read the organization.
// Enabling and disabling take secrets (a webhook secret, a tenant token, S3
// keys, Azure credentials) and send the organization's log elsewhere, which neither a bearer
// token nor a browser session may arrange: they answer only the desktop
// app's local credential, which the CLI on the same machine reads from the
// keychain, so `axiom-audit sync enable` works while the app holds the
// profile, and is as safe as running it with the app closed.
func (s *api) syncRoutes() []route {
	return []route{
		{"GET", "/api/sync/status", s.auth(s.syncStatus)},
		{"POST", "/api/sync/run-now", s.auth(s.syncRunNow)},
		{"POST", "/api/sync/enable", s.auth(s.syncEnable)},
		{"POST", "/api/sync/disable", s.auth(s.syncDisable)},
	}
}

// syncStatus answers the status of the organization's destinations; an
// organization without any answers an empty list (sync is off).
func (s *api) syncStatus(w http.ResponseWriter, r *http.Request, p principal) {
	org, ok := s.readableOrg(w, r, p)
	if !ok {
		return
	}
	sts, err := s.app.syncStatus(r.Context(), org)
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, syncStatusDTO(org, sts))
}

// syncRunNow delivers what is pending to the organization's destinations
// and answers their status. It only hurries deliveries the user opted in
// to, so a token that may read the organization may ask for it. A
// destination that failed is reported in the answer (200, with error), not
// as a failed request.
func (s *api) syncRunNow(w http.ResponseWriter, r *http.Request, p principal) {
	org, ok := s.readableOrg(w, r, p)
	if !ok {
		return
	}
	dto, err := s.app.syncRunNowDTO(r.Context(), org)
	if errors.Is(err, axsync.ErrNotEnabled) {
		s.syncOff(w, org)
		return
	}
	s.reply(w, dto, err)
}

func (s *api) syncOff(w http.ResponseWriter, org string) {
	writeError(w, http.StatusConflict, CodeConflict,
		fmt.Sprintf("sync is off for organization %q: enable a destination first (axiom-audit sync enable --org %s --to tenant|s3|azure|webhook ...)", org, org), nil)
}

// syncCLIOnly is why a sync change needs the local CLI credential.
const syncCLIOnly = "enabling and disabling sync take secrets and send the log elsewhere: only the axiom-audit CLI on this machine may, with 'axiom-audit sync enable|disable'"

// syncEnable opts an organization in to a destination (body:
// {"config": SyncConfig, "secret": base64}).
func (s *api) syncEnable(w http.ResponseWriter, r *http.Request, _ principal) {
	if !s.localCLI(w, r, syncCLIOnly) {
		return
	}
	var req syncEnableRequest
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
	if err == nil {
		err = json.Unmarshal(body, &req)
	}
	if err != nil {
		s.fail(w, &RequestError{Field: "body", Reason: "not a sync enable request: " + err.Error()})
		return
	}
	if err := s.app.syncEnable(r.Context(), req.Config, req.Secret); err != nil {
		s.fail(w, err)
		return
	}
	sts, err := s.app.syncStatus(r.Context(), req.Config.Org)
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, syncStatusDTO(req.Config.Org, sts))
}

// syncDisable opts an organization out of a destination (?org=&to=).
func (s *api) syncDisable(w http.ResponseWriter, r *http.Request, _ principal) {
	if !s.localCLI(w, r, syncCLIOnly) {
		return
	}
	org, to := r.URL.Query().Get("org"), r.URL.Query().Get("to")
	if org == "" {
		s.fail(w, &RequestError{Field: "org", Reason: "is required"})
		return
	}
	err := s.app.syncDisable(r.Context(), org, to)
	if errors.Is(err, axsync.ErrNotEnabled) {
		writeError(w, http.StatusConflict, CodeConflict, err.Error(), nil)
		return
	}
	if err != nil {
		s.fail(w, err)
		return
	}
	sts, err := s.app.syncStatus(r.Context(), org)
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, syncStatusDTO(org, sts))
}
