package app

import (
	"net/http"
	"strconv"
)

// retentionRoutes are the read-only retention endpoints (retention.go).
// Changing the policy and sweeping stay with the CLI and the desktop app:
// both remove data, which a bearer token must not be able to arrange.
func (s *api) retentionRoutes() []route {
	return []route{
		{"GET", "/api/retention", s.auth(s.retention)},
		{"GET", "/api/retention/expiring", s.auth(s.retentionExpiring)},
	}
}

// retention answers the organization's policy, its history, what expires
// within 7 days and what was pruned.
func (s *api) retention(w http.ResponseWriter, r *http.Request, p principal) {
	org, ok := s.readableOrg(w, r, p)
	if !ok {
		return
	}
	dto, err := s.app.retentionShow(r.Context(), org)
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, dto)
}

// retentionExpiring answers what retention prunes within ?days= (default 7)
// days: the count, the time range and, per category, the filter (category
// and until) that selects exactly those events for an archive export.
func (s *api) retentionExpiring(w http.ResponseWriter, r *http.Request, p principal) {
	org, ok := s.readableOrg(w, r, p)
	if !ok {
		return
	}
	days := ExpiringWarningDays
	if v := r.URL.Query().Get("days"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			s.fail(w, &RequestError{Field: "days", Reason: "must be a whole number of days"})
			return
		}
		days = n
	}
	ex, err := s.app.expiringEvents(r.Context(), org, days)
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, ex)
}
