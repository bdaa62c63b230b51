package app

import (
	"crypto/subtle"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// retentionRoutes are the retention endpoints (retention.go). Reading is
// for any credential of the organization; changing the policy and sweeping
// remove data, so they answer only the desktop app's local CLI credential
// (the CLI while the app holds the profile), never a token or a browser
// session.
func (s *api) retentionRoutes() []route {
	return []route{
		{"GET", "/api/retention", s.auth(s.retention)},
		{"GET", "/api/retention/expiring", s.auth(s.retentionExpiring)},
		{"POST", "/api/retention/policy", s.auth(s.retentionSet)},
		{"POST", "/api/retention/sweep", s.auth(s.retentionSweep)},
	}
}

// retentionCLIOnly is why a retention change needs the local CLI
// credential.
const retentionCLIOnly = "changing retention and sweeping remove events: only the axiom-audit CLI on this machine may, with 'axiom-audit retention set|sweep'"

// localCLI reports whether the request carries the desktop app's local
// credential (not a browser session, not a token), and answers 403 with
// refusal when it does not.
func (s *api) localCLI(w http.ResponseWriter, r *http.Request, refusal string) bool {
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if ok && s.opts.LocalSecret != "" && subtle.ConstantTimeCompare([]byte(token), []byte(s.opts.LocalSecret)) == 1 {
		return true
	}
	writeError(w, http.StatusForbidden, CodeForbidden, refusal, nil)
	return false
}

// retentionSet changes one window of a policy (body: RetentionSetRequest)
// and answers the policy.
func (s *api) retentionSet(w http.ResponseWriter, r *http.Request, _ principal) {
	if !s.localCLI(w, r, retentionCLIOnly) {
		return
	}
	var req RetentionSetRequest
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<16))
	if err == nil {
		err = json.Unmarshal(body, &req)
	}
	if err != nil {
		s.fail(w, &RequestError{Field: "body", Reason: "not a retention change: " + err.Error()})
		return
	}
	dto, err := s.app.setRetention(r.Context(), req)
	s.reply(w, dto, err)
}

// retentionSweep sweeps ?org= now, or with dryRun=true says what a sweep
// would prune.
func (s *api) retentionSweep(w http.ResponseWriter, r *http.Request, _ principal) {
	if !s.localCLI(w, r, retentionCLIOnly) {
		return
	}
	org := r.URL.Query().Get("org")
	if org == "" {
		s.fail(w, &RequestError{Field: "org", Reason: "is required"})
		return
	}
	res, err := s.app.sweepRetention(r.Context(), org, r.URL.Query().Get("dryRun") == "true")
	s.reply(w, res, err)
}

// retention answers the organization's policy, its history, what expires
// within 7 days and what was pruned.
func (s *api) retention(w http.ResponseWriter, r *http.Request, p principal) {
	org, ok := s.readableOrg(w, r, p)
	if !ok {
		return
	}
	dto, err := s.app.retentionShow(r.Context(), org)
	s.reply(w, dto, err)
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
	s.reply(w, ex, err)
}
