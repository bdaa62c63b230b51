package app

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"mime"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/axiomops/axiom-audit/storage"
)

// MaxRequestBody bounds a request body (an append batch): 32 MiB.
const MaxRequestBody = 32 << 20

// HandlerOptions configure the REST API.
type HandlerOptions struct {
	// Assets, when set, is the built frontend served at / (serve mode).
	Assets fs.FS
	// AllowedHosts are extra Host header values accepted besides loopback
	// names (only with --allow-remote).
	AllowedHosts []string
	// CORSOrigin, when set, is the one origin allowed cross-origin access.
	CORSOrigin string
	// LoginToken, when set, is the one-time secret of the login URL that
	// `serve` prints; using it sets a session cookie.
	LoginToken string
	// LocalSecret, when set, is a bearer credential with the local user's
	// full access (the desktop app gives it to the CLI through the keychain).
	LocalSecret string
}

// principal is who makes a request.
type principal struct {
	session bool // the local user, logged in through serve's one-time URL
	token   tokenRecord
}

func (p principal) canRead(org string) bool {
	if p.session {
		return true
	}
	return p.token.Org == org && p.token.Scope == ScopeRead
}

// canSeeStates says whether decrypted beforeState/afterState may be
// answered: to the local user, and to a read token created with
// --include-sensitive. Anyone else gets their commitments only, as an
// export without --include-sensitive has them.
func (p principal) canSeeStates() bool { return p.session || p.token.States }

// withheld is e without its decrypted states, unless p may see them.
func (p principal) withheld(e EventDTO) EventDTO {
	if !p.canSeeStates() {
		e.BeforeState, e.AfterState = nil, nil
	}
	return e
}

func (p principal) canAppend(org string) bool {
	if p.session {
		return true
	}
	return p.token.Org == org && p.token.Scope == ScopeAppend
}

type ctxKey int

const principalKey ctxKey = 0

// api is the REST API over an App.
type api struct {
	app  *App
	opts HandlerOptions

	mu        sync.Mutex
	loginUsed bool
	sessions  map[string]session // by cookie value
}

// session is serve's browser session. Its cookie alone is not enough:
// browsers send a 127.0.0.1 cookie to every port of it, so a server a
// local user runs on another port would get it with any page the browser
// loads from there. The key goes to the app's page in the login
// redirect's fragment (never sent to a server); the page keeps it in its
// origin's localStorage, which other ports cannot read, and sends it with
// every request (sessionKeyHeader, or sessionKeyParam for EventSource).
type session struct {
	key     string
	expires time.Time
}

const (
	sessionKeyHeader = "X-Axiom-Session"
	sessionKeyParam  = "session"
)

// sessionLifetime is how long serve's browser session lasts; then the
// login link of a new serve is needed.
const sessionLifetime = 12 * time.Hour

// credentialRecheck is how often a long request (a stream, a verification)
// looks its token up again, so that a revocation ends it.
var credentialRecheck = 15 * time.Second

const sessionCookie = "axiom_audit_session"

// Handler returns the local REST API (and, with Assets, the frontend).
func (a *App) Handler(opts HandlerOptions) http.Handler {
	s := &api{app: a, opts: opts, sessions: map[string]session{}}
	mux := http.NewServeMux()
	for _, rt := range s.routes() {
		mux.Handle(rt.method+" "+rt.path, rt.handler)
	}
	var files http.Handler
	if opts.Assets != nil {
		files = http.FileServerFS(opts.Assets)
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if files == nil || strings.HasPrefix(r.URL.Path, "/api/") {
			writeError(w, http.StatusNotFound, CodeNotFound, "no such endpoint: "+r.URL.Path, nil)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			writeError(w, http.StatusMethodNotAllowed, CodeMethodNotAllowed, r.Method+" is not allowed here", nil)
			return
		}
		files.ServeHTTP(w, r)
	})
	return s.guard(mux)
}

// route is one endpoint of the API; the OpenAPI document lists them all
// (a test keeps the two in step).
type route struct {
	method, path string
	handler      http.Handler
}

func (s *api) routes() []route {
	return append([]route{
		{"GET", "/api/openapi.json", http.HandlerFunc(s.openapi)},
		{"GET", "/login", http.HandlerFunc(s.login)},
		{"GET", "/api/info", s.auth(s.info)},
		{"GET", "/api/organizations", s.auth(s.organizations)},
		{"GET", "/api/operations/events", s.auth(s.listEvents)},
		{"POST", "/api/operations/events", s.auth(s.appendEvents)},
		{"POST", checkEventsPath, s.auth(s.appendEvents)},
		{"GET", "/api/operations/events/{id}", s.auth(s.getEvent)},
		{"GET", "/api/operations/facets", s.auth(s.facets)},
		{"GET", "/api/operations/histogram", s.auth(s.histogram)},
		{"GET", "/api/operations/overview", s.auth(s.overview)},
		{"GET", "/api/operations/stream", s.auth(s.stream)},
		{"POST", "/api/tokens/{id}/revoke", s.auth(s.revokeToken)},
		{"POST", "/api/organizations/{org}/keys/rotate", s.auth(s.rotateDataKey)},
		{"POST", "/api/audit-copies", s.auth(s.copyForAudit)},
	}, slices.Concat(s.integrityRoutes(), s.exportRoutes(), s.syncRoutes(), s.retentionRoutes(), s.reportRoutes())...)
}

// guard applies what holds for every request: no method modifies an event
// (PUT, PATCH and DELETE are refused everywhere), the Host header must name
// this machine (DNS-rebinding defence), CORS only for a configured origin,
// and no caching of API answers.
func (s *api) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Referrer-Policy", "no-referrer")
		switch r.Method {
		case http.MethodPut, http.MethodPatch, http.MethodDelete:
			w.Header().Set("Allow", "GET, POST, HEAD, OPTIONS")
			writeError(w, http.StatusMethodNotAllowed, CodeMethodNotAllowed,
				"audit events cannot be modified or deleted: "+r.Method+" is not allowed on any path", nil)
			return
		}
		if !s.hostAllowed(r.Host) {
			writeError(w, http.StatusForbidden, CodeForbidden, "the Host header must name this machine (localhost, 127.0.0.1 or [::1])", nil)
			return
		}
		if origin := r.Header.Get("Origin"); origin != "" && s.opts.CORSOrigin != "" && origin == s.opts.CORSOrigin {
			w.Header().Set("Access-Control-Allow-Origin", origin)
			w.Header().Set("Access-Control-Allow-Headers", "Authorization, Content-Type")
			w.Header().Set("Access-Control-Allow-Methods", "GET, POST")
			w.Header().Set("Vary", "Origin")
			if r.Method == http.MethodOptions {
				w.WriteHeader(http.StatusNoContent)
				return
			}
		}
		if strings.HasPrefix(r.URL.Path, "/api/") {
			w.Header().Set("Cache-Control", "no-store")
		}
		next.ServeHTTP(w, r)
	})
}

func (s *api) hostAllowed(host string) bool {
	h := host
	if hh, _, err := net.SplitHostPort(host); err == nil {
		h = hh
	}
	h = strings.Trim(h, "[]")
	if loopbackHost(h) {
		return true
	}
	for _, allowed := range s.opts.AllowedHosts {
		if strings.EqualFold(host, allowed) || strings.EqualFold(h, allowed) {
			return true
		}
	}
	return false
}

// auth resolves the caller from a bearer token or the session cookie.
func (s *api) auth(h func(http.ResponseWriter, *http.Request, principal)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var p principal
		ctx := r.Context()
		// Every cookie of the name: a page on another port can set one
		// more (with a longer Path, sent first) to shadow the session.
		var sessionEnds time.Time
		for _, c := range r.CookiesNamed(sessionCookie) {
			if sessionEnds = s.sessionExpiry(c.Value, r); !sessionEnds.IsZero() {
				break
			}
		}
		if !sessionEnds.IsZero() {
			if !sameOrigin(r) {
				writeError(w, http.StatusForbidden, CodeForbidden,
					"a request with the browser session must come from this server's own pages", nil)
				return
			}
			p.session = true
			var cancel context.CancelFunc
			ctx, cancel = context.WithDeadline(ctx, sessionEnds)
			defer cancel()
		} else if authz := r.Header.Get("Authorization"); authz != "" {
			// The scheme's name is case-insensitive (RFC 9110 §11.1).
			scheme, token, ok := strings.Cut(authz, " ")
			if !ok || !strings.EqualFold(scheme, "Bearer") {
				writeError(w, http.StatusUnauthorized, CodeUnauthorized, "the Authorization header must be 'Bearer <token>'", nil)
				return
			}
			if s.opts.LocalSecret != "" && subtle.ConstantTimeCompare([]byte(token), []byte(s.opts.LocalSecret)) == 1 {
				p.session = true
				h(w, r.WithContext(context.WithValue(r.Context(), principalKey, p)), p)
				return
			}
			token = strings.TrimSpace(token)
			rec, err := s.app.authenticate(r.Context(), token)
			if err != nil {
				if errors.Is(err, errBadToken) {
					writeError(w, http.StatusUnauthorized, CodeUnauthorized, err.Error(), nil)
				} else {
					s.fail(w, err)
				}
				return
			}
			p.token = rec
			// A long request (a stream) ends when the token expires or
			// is revoked, as a new request would be refused.
			var cancel context.CancelCauseFunc
			ctx, cancel = context.WithCancelCause(ctx)
			defer cancel(nil)
			go s.watchToken(ctx, cancel, token, rec)
			// What the log records of the request names the token.
			ctx = context.WithValue(ctx, actorKey{}, actor{tokenID: rec.ID, breakGlass: rec.BreakGlass})
			if rec.BreakGlass {
				// Every request under break-glass access is itself audited,
				// before it is answered: no audit, no access.
				meta := map[string]any{"grantId": rec.ID, "method": r.Method, "path": r.URL.Path, "query": r.URL.RawQuery}
				if err := s.app.recordSelf(ctx, rec.Org, "audit.break_glass_used", meta); err != nil {
					s.fail(w, err)
					return
				}
			}
		} else {
			w.Header().Set("WWW-Authenticate", `Bearer realm="axiom-audit"`)
			writeError(w, http.StatusUnauthorized, CodeUnauthorized, "a bearer token is required (axiom-audit token create)", nil)
			return
		}
		h(w, r.WithContext(context.WithValue(ctx, principalKey, p)), p)
	})
}

// sessionExpiry is when the session of cookie value v ends, if r carries
// its key; zero when it is unknown, over, or r lacks the key.
func (s *api) sessionExpiry(v string, r *http.Request) time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	ses, ok := s.sessions[v]
	if ok && !time.Now().Before(ses.expires) {
		delete(s.sessions, v)
		ok = false
	}
	key := r.Header.Get(sessionKeyHeader)
	if key == "" {
		key = r.URL.Query().Get(sessionKeyParam)
	}
	if !ok || subtle.ConstantTimeCompare([]byte(key), []byte(ses.key)) != 1 {
		return time.Time{}
	}
	return ses.expires
}

// sameOrigin says whether a request carrying the session cookie comes
// from this server's own pages. A page on another port of 127.0.0.1 is
// the same site to a browser (SameSite does not keep it out), but not the
// same origin: browsers say which in Sec-Fetch-Site, and send Origin with
// a POST. Without either (an old browser), only reads are let through.
func sameOrigin(r *http.Request) bool {
	switch r.Header.Get("Sec-Fetch-Site") {
	case "", "same-origin", "none":
	default:
		return false
	}
	if o := r.Header.Get("Origin"); o != "" {
		u, err := url.Parse(o)
		return err == nil && u.Host == r.Host
	}
	return r.Header.Get("Sec-Fetch-Site") != "" || r.Method == http.MethodGet || r.Method == http.MethodHead
}

// errTokenEnded is why watchToken ended a request: a stream says it to its
// client (event "unauthorized"), which must not reconnect with the token.
type errTokenEnded struct{ msg string }

func (e errTokenEnded) Error() string { return e.msg }

// watchToken cancels a request's context when its token expires or, on a
// later look, is no longer valid (revoked), until ctx ends.
func (s *api) watchToken(ctx context.Context, cancel context.CancelCauseFunc, token string, rec tokenRecord) {
	var expired <-chan time.Time
	if rec.ExpiresAt != "" {
		if exp, err := time.Parse(time.RFC3339Nano, rec.ExpiresAt); err == nil {
			t := time.NewTimer(exp.Sub(s.app.opts.Now()))
			defer t.Stop()
			expired = t.C
		}
	}
	tick := time.NewTicker(credentialRecheck)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-expired:
			cancel(errTokenEnded{"the token expired"})
			return
		case <-tick.C:
			if _, err := s.app.authenticate(ctx, token); errors.Is(err, errBadToken) {
				cancel(errTokenEnded{"the token is no longer valid (revoked)"})
				return
			}
		}
	}
}

// login exchanges serve's one-time token for a session cookie. The token
// works once; afterwards the cookie is the credential.
func (s *api) login(w http.ResponseWriter, r *http.Request) {
	given := r.URL.Query().Get("token")
	s.mu.Lock()
	ok := s.opts.LoginToken != "" && !s.loginUsed &&
		subtle.ConstantTimeCompare([]byte(given), []byte(s.opts.LoginToken)) == 1
	var sid, key string
	if ok {
		s.loginUsed = true
		sid, key = randomToken(32), randomToken(32)
		s.sessions[sid] = session{key: key, expires: time.Now().Add(sessionLifetime)}
	}
	s.mu.Unlock()
	if !ok {
		const msg = "this login link is invalid or was already used: restart 'axiom-audit serve' for a new one"
		if strings.Contains(r.Header.Get("Accept"), "text/html") {
			// A person opened the link in a browser: a page, not JSON.
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.Header().Set("Cache-Control", "no-store")
			w.WriteHeader(http.StatusUnauthorized)
			io.WriteString(w, usedLinkPage)
			return
		}
		writeError(w, http.StatusUnauthorized, CodeUnauthorized, msg, nil)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: sid, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode,
		Secure: r.TLS != nil, MaxAge: int(sessionLifetime / time.Second)})
	target := "/"
	if next := r.URL.Query().Get("next"); localPath(next) {
		target, _, _ = strings.Cut(next, "#")
	}
	target += "#" + sessionKeyParam + "=" + key
	http.Redirect(w, r, target, http.StatusFound)
}

// usedLinkPage is what a browser shows for a login link that was used or
// is not this server's.
const usedLinkPage = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Axiom Audit: sign-in link used</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:36rem;margin:4rem auto;padding:0 1rem;color:#222}
code{background:#f1f3f5;padding:0 .3em;border-radius:3px}@media (prefers-color-scheme:dark){body{background:#1a1b1e;color:#ddd}code{background:#2c2e33}}</style>
</head><body><h1>This sign-in link cannot be used</h1>
<p>A login link of <code>axiom-audit serve</code> works once, for one browser, and only while that server runs. This one was used already, or belongs to a server that has stopped.</p>
<p>To sign in: restart <code>axiom-audit serve</code> and open the new link it prints. A browser already signed in stays signed in until its session ends.</p>
</body></html>
`

// localPath says whether next is a path on this server: not another host
// ("//host", or "/\\host", which browsers read the same way).
func localPath(next string) bool {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\r\n") {
		return false
	}
	u, err := url.Parse(next)
	return err == nil && u.Scheme == "" && u.Host == ""
}

func (s *api) info(w http.ResponseWriter, _ *http.Request, p principal) {
	info := s.app.Info()
	if !p.session {
		// A token's holder (a SIEM, another machine with --allow-remote)
		// has no use for where the profile lives on this machine.
		info.DataDir = ""
	}
	writeJSON(w, http.StatusOK, info)
}

func (s *api) organizations(w http.ResponseWriter, r *http.Request, p principal) {
	orgs, err := s.app.organizations(r.Context())
	if err != nil {
		s.fail(w, err)
		return
	}
	visible := orgs[:0]
	for _, o := range orgs {
		if p.canRead(o.ID) {
			visible = append(visible, o)
		}
	}
	writeJSON(w, http.StatusOK, visible)
}

// queryScalars are the query parameters that take one value, queryLists
// those that may be repeated (an OR).
var (
	queryScalars = []string{"org", "since", "until", "resource", "resourcePrefix", "text", "order", "cursor", "limit"}
	queryLists   = []string{"category", "action", "provider", "user", "status", "risk",
		"notCategory", "notAction", "notProvider", "notUser", "notStatus", "notRisk"}
	// queryPaging are the scalars that only a page of events reads; the
	// UI sends them to the facets, histogram and overview too.
	queryPaging = []string{"order", "cursor", "limit"}
)

// queryFromURL reads a QueryDTO from URL parameters, and allows the
// one-value parameters extra that the request reads itself. A filter
// parameter given empty, or a one-value parameter given twice, is refused
// rather than read one way or another: "user=" would match no event and
// "resource=" every one, and of two "since" only one can count.
func queryFromURL(r *http.Request, extra ...string) (QueryDTO, error) {
	v := r.URL.Query()
	scalars := append(slices.Clone(queryScalars), extra...)
	// A parameter the API does not know is refused, not ignored: a typo,
	// or an event's field name (riskLevel, userId) for the filter's (risk,
	// user), would otherwise answer for every event.
	for _, k := range slices.Sorted(maps.Keys(v)) {
		if !slices.Contains(scalars, k) && !slices.Contains(queryLists, k) && k != sessionKeyParam {
			named := slices.DeleteFunc(slices.Clone(scalars), func(k string) bool { return slices.Contains(queryPaging, k) })
			return QueryDTO{}, &RequestError{Field: k, Reason: "is not a parameter of this request: its parameters are " +
				strings.Join(append(named, queryLists...), ", ") + ", and order, cursor and limit, which page /api/operations/events and are ignored elsewhere"}
		}
	}
	for _, k := range scalars {
		if len(v[k]) > 1 {
			return QueryDTO{}, &RequestError{Field: k, Reason: fmt.Sprintf("is given %d times: give it once", len(v[k]))}
		}
	}
	for _, k := range append(slices.Clone(scalars), queryLists...) {
		if k != "cursor" && slices.Contains(v[k], "") {
			return QueryDTO{}, &RequestError{Field: k, Reason: "is empty: leave it out for no filter, or give a value"}
		}
	}
	q := QueryDTO{
		Org: v.Get("org"), Since: v.Get("since"), Until: v.Get("until"),
		Categories: v["category"], ActionTypes: v["action"], Providers: v["provider"], UserIDs: v["user"],
		Statuses: v["status"], RiskLevels: v["risk"],
		NotCategories: v["notCategory"], NotActionTypes: v["notAction"], NotProviders: v["notProvider"],
		NotUserIDs: v["notUser"], NotStatuses: v["notStatus"], NotRiskLevels: v["notRisk"],
		ResourceID: v.Get("resource"), ResourceIDPrefix: v.Get("resourcePrefix"),
		Text: v.Get("text"), Order: v.Get("order"), Cursor: v.Get("cursor"),
	}
	if l := v.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 {
			return q, &RequestError{Field: "limit", Reason: fmt.Sprintf("%q is not a positive integer", l)}
		}
		q.Limit = n
	}
	if q.Org == "" {
		return q, &RequestError{Field: "org", Reason: "is required: every read is scoped to one organization"}
	}
	return q, nil
}

// readableQuery parses the query (with the one-value parameters extra
// that the request reads itself) and checks the caller may read its org.
// Another organization's data answers 404, as if it did not exist.
func (s *api) readableQuery(w http.ResponseWriter, r *http.Request, p principal, extra ...string) (QueryDTO, bool) {
	q, err := queryFromURL(r, extra...)
	if err != nil {
		s.fail(w, err)
		return q, false
	}
	if !p.canRead(q.Org) {
		s.notVisible(w, p, q.Org)
		return q, false
	}
	return q, true
}

// readableOrg reads the required org parameter and checks the caller may
// read it; another organization answers 404, as if it did not exist.
func (s *api) readableOrg(w http.ResponseWriter, r *http.Request, p principal) (string, bool) {
	org := r.URL.Query().Get("org")
	if org == "" {
		s.fail(w, &RequestError{Field: "org", Reason: "is required"})
		return "", false
	}
	if !p.canRead(org) {
		s.notVisible(w, p, org)
		return "", false
	}
	return org, true
}

func (s *api) notVisible(w http.ResponseWriter, p principal, org string) {
	if !p.session && p.token.Org == org {
		writeError(w, http.StatusForbidden, CodeForbidden, "this token may not read; create one with --scope read", nil)
		return
	}
	writeError(w, http.StatusNotFound, CodeNotFound, fmt.Sprintf("no organization %q", org), nil)
}

func (s *api) listEvents(w http.ResponseWriter, r *http.Request, p principal) {
	q, ok := s.readableQuery(w, r, p)
	if !ok {
		return
	}
	page, err := s.app.listEvents(r.Context(), q)
	for i := range page.Events {
		page.Events[i] = p.withheld(page.Events[i])
	}
	s.reply(w, page, err)
}

func (s *api) getEvent(w http.ResponseWriter, r *http.Request, p principal) {
	org, ok := s.readableOrg(w, r, p)
	if !ok {
		return
	}
	e, err := s.app.getEvent(r.Context(), org, r.PathValue("id"))
	s.reply(w, p.withheld(e), err)
}

func (s *api) facets(w http.ResponseWriter, r *http.Request, p principal) {
	q, ok := s.readableQuery(w, r, p)
	if !ok {
		return
	}
	f, err := s.app.facets(r.Context(), q)
	s.reply(w, f, err)
}

func (s *api) histogram(w http.ResponseWriter, r *http.Request, p principal) {
	q, ok := s.readableQuery(w, r, p, "timeZone")
	if !ok {
		return
	}
	h, err := s.app.histogram(r.Context(), HistogramQueryDTO{QueryDTO: q, TimeZone: r.URL.Query().Get("timeZone")})
	s.reply(w, h, err)
}

func (s *api) overview(w http.ResponseWriter, r *http.Request, p principal) {
	q, ok := s.readableQuery(w, r, p, "timeZone")
	if !ok {
		return
	}
	o, err := s.app.overview(r.Context(), HistogramQueryDTO{QueryDTO: q, TimeZone: r.URL.Query().Get("timeZone")})
	s.reply(w, o, err)
}

// revokeToken revokes a token while the app runs: only the CLI on this
// machine may (`axiom-audit token revoke`), as only it creates them.
func (s *api) revokeToken(w http.ResponseWriter, r *http.Request, _ principal) {
	if !s.localCLI(w, r, "only the axiom-audit CLI on this machine may revoke tokens, with 'axiom-audit token revoke ID'") {
		return
	}
	t, err := s.app.revokeToken(r.Context(), r.PathValue("id"))
	s.reply(w, t, err)
}

// KeyRotationDTO is a key rotation of an organization: its new data key,
// and the new key-encryption key that wraps it and re-wraps the earlier
// ones.
type KeyRotationDTO struct {
	Org           string `json:"org"`
	KeyID         uint32 `json:"keyId"`
	PreviousKeyID uint32 `json:"previousKeyId"`
	// KeyEncryptionKey is the new key-encryption key's name in the keychain
	// (the profile's entries).
	KeyEncryptionKey string `json:"keyEncryptionKey"`
	RewrappedKeys    int    `json:"rewrappedKeys"`
}

// rotateDataKey starts a new data key while the app runs: only the CLI on
// this machine may (`axiom-audit keys rotate`), as the desktop app's own
// binding does for the window.
func (s *api) rotateDataKey(w http.ResponseWriter, r *http.Request, _ principal) {
	if !s.localCLI(w, r, "only the axiom-audit CLI on this machine may rotate keys, with 'axiom-audit keys rotate --org ORG'") {
		return
	}
	org := r.PathValue("org")
	rot, err := s.app.rotateDataKey(r.Context(), org)
	s.reply(w, rot, err)
}

// AuditCopyRequest names the new directory of a copy for an auditor.
type AuditCopyRequest struct {
	Dir string `json:"dir"`
	// Orgs limits the copy to these organizations; absent: every one.
	Orgs []string `json:"orgs,omitempty"`
}

// copyForAudit copies the log for an auditor while the app runs: only the
// CLI on this machine may (`axiom-audit copy-for-audit`).
func (s *api) copyForAudit(w http.ResponseWriter, r *http.Request, _ principal) {
	if !s.localCLI(w, r, "only the axiom-audit CLI on this machine may copy the log for an auditor, with 'axiom-audit copy-for-audit --out DIR'") {
		return
	}
	var body AuditCopyRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil {
		writeError(w, http.StatusBadRequest, CodeInvalidRequest, "the body must be JSON: {\"dir\": PATH}: "+err.Error(), nil)
		return
	}
	res, err := s.app.copyForAudit(r.Context(), body.Dir, body.Orgs)
	if err != nil {
		// A folder that cannot be made gets the export codes
		// (folder_not_found, folder_not_writable, disk_full).
		s.failExport(w, err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

// checkEventsPath checks a batch as an append would, writing nothing. It
// is a path of its own, not a parameter of the append: a server that does
// not know it must refuse it rather than append.
const checkEventsPath = "/api/operations/events/check"

// eventsMediaType reports whether an append's Content-Type can hold its
// events: none, JSON (application/json or any +json type), JSON Lines
// (application/x-ndjson, application/jsonl, application/x-jsonlines),
// text/plain and application/octet-stream, which tools send for a file
// as it is, and application/x-www-form-urlencoded, which curl sends with
// --data-binary unless told otherwise. Anything else names another format
// (XML, a multipart form) and is refused rather than read as JSON.
func eventsMediaType(ct string) bool {
	if strings.TrimSpace(ct) == "" {
		return true
	}
	// A malformed parameter (charset with no value) does not change the
	// media type, which ParseMediaType still returns.
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil && !errors.Is(err, mime.ErrInvalidMediaParameter) {
		return false
	}
	switch mt {
	case "*/*", "application/json", "application/x-ndjson", "application/jsonl", "application/x-jsonlines", "application/json-lines",
		"text/plain", "application/octet-stream", "application/x-www-form-urlencoded":
		return true
	}
	return strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json")
}

// appendEvents takes a JSON array or JSON Lines, validates everything, and
// appends all or nothing; at checkEventsPath it only checks them, as
// Append would, and writes nothing.
func (s *api) appendEvents(w http.ResponseWriter, r *http.Request, p principal) {
	// A compressed body would be read as garbled JSON: say what is wrong.
	if ce := r.Header.Get("Content-Encoding"); ce != "" && !strings.EqualFold(ce, "identity") {
		writeError(w, http.StatusUnsupportedMediaType, CodeInvalidRequest,
			fmt.Sprintf("Content-Encoding %q is not accepted: send the events uncompressed (a JSON array or JSON Lines)", ce), nil)
		return
	}
	if ct := r.Header.Get("Content-Type"); !eventsMediaType(ct) {
		writeError(w, http.StatusUnsupportedMediaType, CodeInvalidRequest,
			fmt.Sprintf("Content-Type %q is not accepted: send the events as application/json (a JSON array) or application/x-ndjson (JSON Lines)", ct), nil)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxRequestBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeError(w, http.StatusRequestEntityTooLarge, CodeTooLarge, fmt.Sprintf("the request body is over %d bytes: split the batch", MaxRequestBody), nil)
			return
		}
		writeError(w, http.StatusBadRequest, CodeInvalidRequest, "failed to read the request body: "+err.Error(), nil)
		return
	}
	events, lines, problems := decodeEventBatch(body, s.app.catalogue)
	if len(problems) > 0 {
		writeError(w, http.StatusUnprocessableEntity, CodeInvalidEvent, fmt.Sprintf("%s in the batch; nothing was written", count(int64(len(problems)), "problem")), problems)
		return
	}
	if len(events) == 0 {
		writeError(w, http.StatusBadRequest, CodeInvalidRequest, "the request holds no events", nil)
		return
	}
	// Where event i is in the body: its line (JSON Lines, from 1) or its
	// index in the array (from 0, as fields[].index has it).
	where := func(i int) string {
		if i < len(lines) {
			return fmt.Sprintf("line %d", lines[i])
		}
		return fmt.Sprintf("the event at index %d", i)
	}
	for i := range events {
		if !p.canAppend(events[i].OrganizationID) {
			msg := fmt.Sprintf("%s: this credential may not append to organization %q", where(i), events[i].OrganizationID)
			if !p.session && p.token.Org == events[i].OrganizationID {
				// The right organization, the wrong scope: say that.
				msg = fmt.Sprintf("%s: this token may not append (its scope is %s); create one with --scope append", where(i), p.token.Scope)
			}
			writeError(w, http.StatusForbidden, CodeForbidden, msg, nil)
			return
		}
	}
	checkOnly := r.URL.Path == checkEventsPath
	var receipts []storage.Receipt
	var conflicts []storage.Conflict
	if checkOnly {
		// Every conflicting event, so that a client fixes them at once.
		conflicts, err = s.app.checkConflicts(r.Context(), events)
	} else {
		receipts, err = s.app.appendEvents(r.Context(), events)
		if i, ok := conflictIndex(err); ok && i < len(events) {
			// The store names the first conflict, so an earlier event
			// of the batch with this id passed.
			j := slices.IndexFunc(events[:i], func(e storage.Event) bool {
				return e.ID == events[i].ID && e.OrganizationID == events[i].OrganizationID
			})
			conflicts = []storage.Conflict{{Index: i, Earlier: j}}
		}
	}
	if len(conflicts) > 0 {
		// Name the line (JSON Lines), as for an invalid one, and the
		// earlier event of the batch whose content it does not have.
		fields := make([]FieldError, len(conflicts))
		for k, c := range conflicts {
			fe := FieldError{Index: at(c.Index), Field: "id", Reason: conflictReason}
			if c.Earlier >= 0 {
				fe.Reason = fmt.Sprintf("repeats the id of event %d with different content", c.Earlier)
			}
			if c.Index < len(lines) {
				fe.Line = lines[c.Index]
				if c.Earlier >= 0 {
					fe.Reason = repeatReason(lines[c.Earlier])
				}
			}
			fields[k] = fe
		}
		c := conflicts[0]
		e := events[c.Index]
		err := &storage.ConflictError{Index: c.Index, ID: e.ID, OrganizationID: e.OrganizationID}
		msg := fmt.Sprintf("%s: id %q of organization %q is already recorded with different content", where(c.Index), e.ID, e.OrganizationID)
		if c.Earlier >= 0 {
			// Nothing of the batch is recorded: the id repeats an
			// earlier event of the batch.
			msg = fmt.Sprintf("%s: id %q repeats the id of %s with different content", where(c.Index), e.ID, where(c.Earlier))
		}
		msg += "; nothing was written"
		if len(conflicts) > 1 {
			msg += fmt.Sprintf(" (and %d more conflicting events, each in fields)", len(conflicts)-1)
		}
		code, status := ErrorCode(err)
		writeError(w, status, code, msg, fields)
		return
	}
	if err != nil {
		s.fail(w, err)
		return
	}
	if checkOnly {
		writeJSON(w, http.StatusOK, CheckDTO{Checked: len(events)})
		return
	}
	out := make([]ReceiptDTO, len(receipts))
	for i, rc := range receipts {
		out[i] = receiptDTO(rc)
	}
	writeJSON(w, http.StatusCreated, out)
}

// decodeEventBatch reads a JSON array of events or JSON Lines, and returns
// every problem found, each naming its index (array) or line (JSON Lines),
// and for JSON Lines the events' line numbers.
func decodeEventBatch(body []byte, cat *storage.Catalogue) ([]storage.Event, []int, []FieldError) {
	// A UTF-8 byte order mark (some Windows tools write one) is not part
	// of the JSON, as append from a file ignores it too.
	body = bytes.TrimPrefix(body, []byte("\xef\xbb\xbf"))
	// JSON's own whitespace only (RFC 8259 §2): bytes.TrimSpace would
	// also take Unicode spaces, accepting a body that is not JSON.
	trimmed := bytes.Trim(body, " \t\r\n")
	if len(trimmed) > 0 && trimmed[0] == '[' {
		var raws []json.RawMessage
		if err := json.Unmarshal(trimmed, &raws); err != nil {
			return nil, nil, []FieldError{{Field: "body", Reason: "not a JSON array of events: " + err.Error()}}
		}
		var events []storage.Event
		var problems []FieldError
		for i, raw := range raws {
			e, err := storage.ParseEvent(raw)
			if err == nil {
				err = validateProduced(cat, &e)
			}
			if err != nil {
				problems = append(problems, indexProblems(err, i)...)
				continue
			}
			events = append(events, e)
		}
		return events, nil, problems
	}
	events, lines, lps, err := readEventLines(bytes.NewReader(body), cat)
	if err != nil {
		return nil, nil, []FieldError{{Field: "body", Reason: err.Error()}}
	}
	var problems []FieldError
	for _, lp := range lps {
		problems = append(problems, FieldError{Line: lp.line, Field: lp.field, Reason: lp.reason})
	}
	return events, lines, problems
}

func indexProblems(err error, index int) []FieldError {
	var ve *storage.ValidationError
	if errors.As(err, &ve) {
		out := make([]FieldError, 0, len(ve.Errors))
		for _, fe := range ve.Errors {
			out = append(out, FieldError{Index: at(index), Field: fe.Field, Reason: fe.Reason})
		}
		return out
	}
	return []FieldError{{Index: at(index), Field: "event", Reason: err.Error()}}
}

// stream sends matching events as they are recorded, as Server-Sent Events
// ("event: event", data: EventDTO JSON, id: seq), in seq order.
func (s *api) stream(w http.ResponseWriter, r *http.Request, p principal) {
	q, ok := s.readableQuery(w, r, p)
	if !ok {
		return
	}
	f, err := s.app.filter(q)
	if err != nil {
		s.fail(w, err)
		return
	}
	st, err := s.app.storeOrErr()
	if err != nil {
		s.fail(w, err)
		return
	}
	ch, err := st.Subscribe(r.Context(), f)
	if err != nil {
		s.fail(w, err)
		return
	}
	rc := http.NewResponseController(w)
	_ = rc.SetWriteDeadline(time.Time{}) // a stream lives as long as the client wants
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	fmt.Fprint(w, ": subscribed\n\n")
	_ = rc.Flush()
	keepalive := time.NewTicker(15 * time.Second)
	defer keepalive.Stop()
	// A token that expired or was revoked ends the stream with its own
	// event: a client that reloaded and subscribed again, as "reset" asks,
	// would only be refused.
	ended := func() bool {
		var te errTokenEnded
		if !errors.As(context.Cause(r.Context()), &te) {
			return false
		}
		b, _ := json.Marshal(ErrorDTO{Code: CodeUnauthorized, Message: te.msg + ": the stream ends; do not reconnect with this token"})
		fmt.Fprintf(w, "event: unauthorized\ndata: %s\n\n", b)
		_ = rc.Flush()
		return true
	}
	for {
		select {
		case <-r.Context().Done():
			ended()
			return
		case <-keepalive.C:
			if _, err := fmt.Fprint(w, ": keepalive\n\n"); err != nil {
				return
			}
			_ = rc.Flush()
		case e, ok := <-ch:
			if !ok {
				if ended() {
					return
				}
				// Dropped for falling behind, or the store closed: tell the
				// client to reload rather than silently missing events.
				fmt.Fprint(w, "event: reset\ndata: {}\n\n")
				_ = rc.Flush()
				return
			}
			b, err := json.Marshal(p.withheld(s.app.eventDTO(&e)))
			if err != nil {
				return
			}
			if _, err := fmt.Fprintf(w, "id: %d\nevent: event\ndata: %s\n\n", e.Seq, b); err != nil {
				return
			}
			_ = rc.Flush()
		}
	}
}

// fail answers with the error's stable code. Internal errors are logged
// and answered without detail.
func (s *api) fail(w http.ResponseWriter, err error) {
	code, status := ErrorCode(err)
	msg := err.Error()
	if status >= 500 && code == CodeInternal {
		s.app.log.Error("request failed", "err", err)
		msg = "internal error; see the application log"
	}
	writeError(w, status, code, msg, fieldErrors(err))
}

// reply answers a request with v, or with err when there is one.
func (s *api) reply(w http.ResponseWriter, v any, err error) {
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, code, msg string, fields []FieldError) {
	writeJSON(w, status, ErrorDTO{Code: code, Message: msg, Fields: fields})
}
