package app

import (
	"errors"
	"fmt"
	"net/http"

	axsync "github.com/axiomops/axiom-audit/app/sync"
)

// syncRoutes are the sync status and control endpoints (see sync.go).
// Enabling and disabling a destination stay with the CLI and the desktop
// app: they take secrets (a webhook secret, a tenant token, S3 keys) and
// send the organization's log elsewhere, which a bearer token must not be
// able to arrange.
func (s *api) syncRoutes() []route {
	return []route{
		{"GET", "/api/sync/status", s.auth(s.syncStatus)},
		{"POST", "/api/sync/run-now", s.auth(s.syncRunNow)},
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
		writeError(w, http.StatusConflict, CodeConflict,
			fmt.Sprintf("sync is off for organization %q: enable a destination first (axiom-audit sync enable --org %s --to tenant|s3|webhook ...)", org, org), nil)
		return
	}
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, dto)
}
