package app

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/axiomops/axiom-audit/storage"
)

type restFixture struct {
	t      *testing.T
	app    *App
	srv    *httptest.Server
	tokens map[string]string // name → bearer token
}

func newRESTFixture(t *testing.T) *restFixture {
	t.Helper()
	a := TestApp(t)
	ctx := context.Background()
	base := time.Now().UTC().Add(-time.Hour)
	var events []storage.Event
	for i := range 20 {
		events = append(events, TestEvent("org-a", i, base.Add(time.Duration(i)*time.Minute)))
	}
	for i := range 5 {
		events = append(events, TestEvent("org-b", i, base.Add(time.Duration(i)*time.Minute)))
	}
	if _, err := a.appendEvents(ctx, events); err != nil {
		t.Fatal(err)
	}
	f := &restFixture{t: t, app: a, tokens: map[string]string{}}
	for name, req := range map[string]TokenRequest{
		"readA":   {Org: "org-a", Scope: ScopeRead},
		"appendA": {Org: "org-a", Scope: ScopeAppend},
		"readB":   {Org: "org-b", Scope: ScopeRead},
		"expired": {Org: "org-a", Scope: ScopeRead, Expires: time.Nanosecond},
		"revoked": {Org: "org-a", Scope: ScopeRead},
		"glassA":  {Org: "org-a", Scope: ScopeRead, Expires: time.Hour, BreakGlass: true, Reason: "incident 42"},
		"statesA": {Org: "org-a", Scope: ScopeRead, States: true},
	} {
		tok, err := a.createToken(ctx, req)
		if err != nil {
			t.Fatalf("create %s: %v", name, err)
		}
		f.tokens[name] = tok.Token
		if name == "revoked" {
			if _, err := a.revokeToken(ctx, tok.ID); err != nil {
				t.Fatal(err)
			}
		}
	}
	f.srv = httptest.NewServer(a.Handler(HandlerOptions{LoginToken: "one-time-secret"}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *restFixture) do(method, path, token string, body io.Reader, hdr ...string) (*http.Response, []byte) {
	f.t.Helper()
	req, err := http.NewRequest(method, f.srv.URL+path, body)
	if err != nil {
		f.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i] == "Host" {
			req.Host = hdr[i+1]
		} else {
			req.Header.Set(hdr[i], hdr[i+1])
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

func errorCode(t *testing.T, b []byte) string {
	t.Helper()
	var e ErrorDTO
	if err := json.Unmarshal(b, &e); err != nil {
		t.Fatalf("error body is not JSON: %q", b)
	}
	if e.Message == "" {
		t.Fatalf("error without a message: %s", b)
	}
	return e.Code
}

// concrete returns a request path for a route pattern.
func concrete(pattern string) string {
	p := strings.ReplaceAll(pattern, "{id}", "00000000-0000-7000-8000-000000000000")
	if strings.HasPrefix(p, "/api/") && p != "/api/openapi.json" && p != "/api/info" && p != "/api/organizations" {
		p += "?org=org-a"
	}
	return p
}

func TestREST_EveryRouteIsInTheOpenAPIDocument(t *testing.T) {
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(openAPIDocument, &doc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Fatalf("openapi version %q", doc.OpenAPI)
	}
	s := &api{app: TestApp(t)}
	seen := map[string]bool{}
	for _, rt := range s.routes() {
		ops, ok := doc.Paths[rt.path]
		if !ok {
			t.Errorf("route %s %s is not in openapi.json", rt.method, rt.path)
			continue
		}
		op, ok := ops[strings.ToLower(rt.method)]
		if !ok {
			t.Errorf("route %s %s: method missing in openapi.json", rt.method, rt.path)
		}
		// The Host guard answers 403 on every route.
		var o struct {
			Responses map[string]json.RawMessage `json:"responses"`
		}
		if err := json.Unmarshal(op, &o); ok && (err != nil || o.Responses["403"] == nil) {
			t.Errorf("route %s %s: openapi.json does not document its 403", rt.method, rt.path)
		}
		seen[rt.path+" "+strings.ToLower(rt.method)] = true
	}
	for path, ops := range doc.Paths {
		for m := range ops {
			if !seen[path+" "+m] && m != "parameters" {
				t.Errorf("openapi.json documents %s %s, which the server does not serve", m, path)
			}
		}
	}
}

func TestREST_OpenAPIIsServedWithoutAToken(t *testing.T) {
	f := newRESTFixture(t)
	resp, b := f.do("GET", "/api/openapi.json", "", nil)
	if resp.StatusCode != 200 || !bytes.Equal(b, openAPIDocument) {
		t.Fatalf("GET /api/openapi.json: %d", resp.StatusCode)
	}
}

func TestREST_NoMethodModifiesOrDeletes(t *testing.T) {
	f := newRESTFixture(t)
	s := &api{app: f.app}
	paths := []string{"/", "/nope", "/api/", "/api/operations/events/whatever"}
	for _, rt := range s.routes() {
		paths = append(paths, concrete(rt.path))
	}
	for _, p := range paths {
		for _, m := range []string{"PUT", "PATCH", "DELETE"} {
			for _, tok := range []string{"", f.tokens["appendA"]} {
				resp, b := f.do(m, p, tok, strings.NewReader(`[]`))
				if resp.StatusCode != http.StatusMethodNotAllowed || errorCode(t, b) != CodeMethodNotAllowed {
					t.Errorf("%s %s: %d %s, want 405", m, p, resp.StatusCode, b)
				}
			}
		}
	}
}

func TestREST_Auth(t *testing.T) {
	f := newRESTFixture(t)
	tests := []struct {
		name, method, path, token string
		body                      string
		status                    int
		code                      string
	}{
		{"no token", "GET", "/api/operations/events?org=org-a", "", "", 401, CodeUnauthorized},
		{"garbage token", "GET", "/api/operations/events?org=org-a", "axa_nope", "", 401, CodeUnauthorized},
		{"tampered token", "GET", "/api/operations/events?org=org-a", f.tokens["readA"] + "x", "", 401, CodeUnauthorized},
		{"expired token", "GET", "/api/operations/events?org=org-a", f.tokens["expired"], "", 401, CodeUnauthorized},
		{"revoked token", "GET", "/api/operations/events?org=org-a", f.tokens["revoked"], "", 401, CodeUnauthorized},
		{"read own org", "GET", "/api/operations/events?org=org-a", f.tokens["readA"], "", 200, ""},
		{"read other org list", "GET", "/api/operations/events?org=org-b", f.tokens["readA"], "", 404, CodeNotFound},
		{"read other org facets", "GET", "/api/operations/facets?org=org-b", f.tokens["readA"], "", 404, CodeNotFound},
		{"read other org histogram", "GET", "/api/operations/histogram?org=org-b", f.tokens["readA"], "", 404, CodeNotFound},
		{"read other org overview", "GET", "/api/operations/overview?org=org-b", f.tokens["readA"], "", 404, CodeNotFound},
		{"read other org stream", "GET", "/api/operations/stream?org=org-b", f.tokens["readA"], "", 404, CodeNotFound},
		{"append token cannot read", "GET", "/api/operations/events?org=org-a", f.tokens["appendA"], "", 403, CodeForbidden},
		{"read token cannot append", "POST", "/api/operations/events", f.tokens["readA"], eventsJSON(f.t, "org-a", 1), 403, CodeForbidden},
		{"append to other org", "POST", "/api/operations/events", f.tokens["appendA"], eventsJSON(f.t, "org-b", 1), 403, CodeForbidden},
		{"append own org", "POST", "/api/operations/events", f.tokens["appendA"], eventsJSON(f.t, "org-a", 2), 201, ""},
		{"org is required", "GET", "/api/operations/events", f.tokens["readA"], "", 400, CodeInvalidRequest},
		{"bad limit", "GET", "/api/operations/events?org=org-a&limit=x", f.tokens["readA"], "", 400, CodeInvalidRequest},
		{"bad status", "GET", "/api/operations/events?org=org-a&status=done", f.tokens["readA"], "", 400, CodeInvalidRequest},
		{"empty user", "GET", "/api/operations/events?org=org-a&user=", f.tokens["readA"], "", 400, CodeInvalidRequest},
		{"empty resource", "GET", "/api/operations/events?org=org-a&resource=", f.tokens["readA"], "", 400, CodeInvalidRequest},
		{"empty facet filter", "GET", "/api/operations/facets?org=org-a&category=", f.tokens["readA"], "", 400, CodeInvalidRequest},
		{"since twice", "GET", "/api/operations/events?org=org-a&since=2026-11-28T00:00:00Z&since=2020-01-01T00:00:00Z", f.tokens["readA"], "", 400, CodeInvalidRequest},
		{"two users", "GET", "/api/operations/events?org=org-a&user=a&user=b", f.tokens["readA"], "", 200, ""},
		{"empty cursor", "GET", "/api/operations/events?org=org-a&cursor=", f.tokens["readA"], "", 200, ""},
		{"bad cursor", "GET", "/api/operations/events?org=org-a&cursor=zzz", f.tokens["readA"], "", 400, CodeInvalidCursor},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var body io.Reader
			if tt.body != "" {
				body = strings.NewReader(tt.body)
			}
			resp, b := f.do(tt.method, tt.path, tt.token, body)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tt.status, b)
			}
			if tt.code != "" {
				if got := errorCode(t, b); got != tt.code {
					t.Fatalf("code %q, want %q", got, tt.code)
				}
			}
			if tt.status == 404 && strings.Contains(string(b), "alice@example.com") {
				t.Fatalf("a 404 leaked event data: %s", b)
			}
		})
	}
	// A token sees only its organization in the list of organizations.
	_, b := f.do("GET", "/api/organizations", f.tokens["readA"], nil)
	var orgs []OrganizationDTO
	json.Unmarshal(b, &orgs)
	if len(orgs) != 1 || orgs[0].ID != "org-a" {
		t.Fatalf("organizations for a token of org-a: %s", b)
	}
	// Get by id across organizations is a 404 too.
	page, err := f.app.listEvents(context.Background(), QueryDTO{Org: "org-b", Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	id := page.Events[0].ID
	if resp, _ := f.do("GET", "/api/operations/events/"+id+"?org=org-b", f.tokens["readA"], nil); resp.StatusCode != 404 {
		t.Fatalf("get org-b event with org-a token: %d", resp.StatusCode)
	}
	if resp, _ := f.do("GET", "/api/operations/events/"+id+"?org=org-a", f.tokens["readA"], nil); resp.StatusCode != 404 {
		t.Fatalf("get org-b event under org-a: %d", resp.StatusCode)
	}
	if resp, _ := f.do("GET", "/api/operations/events/"+id+"?org=org-b", f.tokens["readB"], nil); resp.StatusCode != 200 {
		t.Fatalf("get org-b event with org-b token: %d", resp.StatusCode)
	}
}

func eventsJSON(t *testing.T, org string, n int) string {
	t.Helper()
	var es []storage.Event
	for i := range n {
		es = append(es, TestEvent(org, 1000+i, time.Now().Add(-time.Minute)))
	}
	b, err := json.Marshal(es)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestREST_LoginLinkWorksOnce(t *testing.T) {
	f := newRESTFixture(t)
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Get(f.srv.URL + "/login?token=wrong")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Fatalf("wrong login token: %d", resp.StatusCode)
	}
	resp, err = client.Get(f.srv.URL + "/login?token=one-time-secret")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 302 || len(resp.Cookies()) != 1 {
		t.Fatalf("login: %d, cookies %v", resp.StatusCode, resp.Cookies())
	}
	c := resp.Cookies()[0]
	if !c.HttpOnly || c.SameSite != http.SameSiteStrictMode {
		t.Fatalf("session cookie must be HttpOnly and SameSite=Strict: %+v", c)
	}
	// The session's key comes in the redirect's fragment; the cookie
	// alone, or a wrong key, is not a session.
	key := sessionKeyOf(t, resp)
	for _, tt := range []struct {
		name, header, param string
		want                int
	}{
		{"the key in the header", key, "", 200},
		{"the key as a parameter (EventSource)", "", key, 200},
		{"the cookie alone", "", "", 401},
		{"a wrong key", "x" + key, "", 401},
		{"behind a cookie another port set", key, "", 200},
	} {
		path := "/api/operations/events?org=org-b"
		if tt.param != "" {
			path += "&session=" + url.QueryEscape(tt.param)
		}
		req, _ := http.NewRequest("GET", f.srv.URL+path, nil)
		if strings.HasPrefix(tt.name, "behind") {
			req.AddCookie(&http.Cookie{Name: sessionCookie, Value: "junk"})
		}
		req.AddCookie(c)
		if tt.header != "" {
			req.Header.Set(sessionKeyHeader, tt.header)
		}
		resp, err = client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tt.want {
			t.Fatalf("session read, %s: %d, want %d", tt.name, resp.StatusCode, tt.want)
		}
	}
	resp, err = client.Get(f.srv.URL + "/login?token=one-time-secret")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Fatalf("second use of the login link: %d, want 401", resp.StatusCode)
	}
	// Opened in a browser, the used link answers a page that says what to do.
	req, _ := http.NewRequest("GET", f.srv.URL+"/login?token=one-time-secret", nil)
	req.Header.Set("Accept", "text/html,application/xhtml+xml,*/*;q=0.8")
	resp, err = client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 401 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") ||
		!strings.Contains(string(page), "restart <code>axiom-audit serve</code> and open the new link") {
		t.Fatalf("the used link in a browser: %d %s\n%s", resp.StatusCode, resp.Header.Get("Content-Type"), page)
	}
}

func TestREST_HostHeaderMustBeLoopback(t *testing.T) {
	f := newRESTFixture(t)
	for host, want := range map[string]int{
		"evil.example.com":       403,
		"evil.example.com:80":    403,
		"127.0.0.1.nip.io:8787":  403,
		"localhost:8787":         200,
		"127.0.0.1:8787":         200,
		"[::1]:8787":             200,
		"127.0.0.2":              200,
		"attacker.localhost.com": 403,
	} {
		resp, b := f.do("GET", "/api/info", f.tokens["readA"], nil, "Host", host)
		if resp.StatusCode != want {
			t.Errorf("Host %q: %d, want %d (%s)", host, resp.StatusCode, want, b)
		}
	}
}

func TestREST_BodyLimit(t *testing.T) {
	f := newRESTFixture(t)
	big := bytes.Repeat([]byte(" "), MaxRequestBody+1)
	resp, b := f.do("POST", "/api/operations/events", f.tokens["appendA"], bytes.NewReader(big))
	if resp.StatusCode != http.StatusRequestEntityTooLarge || errorCode(t, b) != CodeTooLarge {
		t.Fatalf("oversized body: %d %s", resp.StatusCode, b)
	}
}

// A batch over one atomic commit answers 413 request_too_large, as an
// oversized body does, so that a sender splits it; nothing is written.
func TestREST_BatchOverOneCommit(t *testing.T) {
	f := newRESTFixture(t)
	orgs := func() uint64 {
		o, err := f.app.store.Organizations(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		var n uint64
		for _, x := range o {
			n += x.Size
		}
		return n
	}
	before := orgs()
	var body strings.Builder
	for i := range 3000 {
		body.WriteString(mustJSON(t, TestEvent("org-a", 10000+i, time.Now().Add(-time.Minute))) + "\n")
	}
	resp, b := f.do("POST", "/api/operations/events", f.tokens["appendA"], strings.NewReader(body.String()))
	if resp.StatusCode != http.StatusRequestEntityTooLarge || errorCode(t, b) != CodeTooLarge || !strings.Contains(string(b), "smaller batches") {
		t.Fatalf("3,000 events: %d %s", resp.StatusCode, b)
	}
	if n := orgs(); n != before {
		t.Fatalf("the refused batch wrote %d events", n-before)
	}
}

func TestREST_AppendAllOrNothing(t *testing.T) {
	f := newRESTFixture(t)
	count := func() int {
		p, err := f.app.listEvents(context.Background(), QueryDTO{Org: "org-a", Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		return len(p.Events)
	}
	before := count()
	good := TestEvent("org-a", 5000, time.Now().Add(-time.Minute))
	bad := TestEvent("org-a", 5001, time.Now().Add(-time.Minute))
	bad.RiskLevel = "catastrophic"
	bad.Provider = ""
	for name, body := range map[string]string{
		"array":      mustJSON(t, []storage.Event{good, bad}),
		"json lines": mustJSON(t, good) + "\n" + mustJSON(t, bad) + "\n",
	} {
		resp, b := f.do("POST", "/api/operations/events", f.tokens["appendA"], strings.NewReader(body))
		if resp.StatusCode != 422 || errorCode(t, b) != CodeInvalidEvent {
			t.Fatalf("%s: %d %s", name, resp.StatusCode, b)
		}
		var e ErrorDTO
		json.Unmarshal(b, &e)
		fields := map[string]bool{}
		for _, fe := range e.Fields {
			fields[fe.Field] = true
			if name == "array" && (fe.Index == nil || *fe.Index != 1) || name == "json lines" && (fe.Index != nil || fe.Line != 2) {
				t.Errorf("%s: problem located at index %v line %d", name, fe.Index, fe.Line)
			}
		}
		if !fields["riskLevel"] || !fields["provider"] {
			t.Errorf("%s: problems %+v must name riskLevel and provider", name, e.Fields)
		}
	}
	// The first event's problems name index 0, which an omitted zero
	// would make look like a problem of the whole body.
	resp, b := f.do("POST", "/api/operations/events", f.tokens["appendA"], strings.NewReader(mustJSON(t, []storage.Event{bad, good})))
	if resp.StatusCode != 422 || !strings.Contains(string(b), `"index":0,`) {
		t.Errorf("a bad first event: %d %s; want its problems at index 0", resp.StatusCode, b)
	}
	if got := count(); got != before {
		t.Fatalf("an invalid batch wrote %d events", got-before)
	}
	resp, b = f.do("POST", "/api/operations/events", f.tokens["appendA"], strings.NewReader(mustJSON(t, good)+"\n"), "Content-Type", "application/x-ndjson")
	if resp.StatusCode != 201 {
		t.Fatalf("valid JSON Lines: %d %s", resp.StatusCode, b)
	}
	var receipts []ReceiptDTO
	if err := json.Unmarshal(b, &receipts); err != nil || len(receipts) != 1 || receipts[0].Seq == 0 {
		t.Fatalf("receipts: %s", b)
	}
	// The same id with other content: 409, naming the event's index and,
	// for JSON Lines, its line; nothing written.
	good.ID = receipts[0].ID
	changed := good
	changed.UserID = "someone-else@example.com"
	other := TestEvent("org-a", 5002, time.Now().Add(-time.Minute))
	before = count()
	// A repeat of an earlier event of the batch with other content says
	// which one.
	other2 := other
	other2.ID = "01900000-0000-7000-8000-000000005002"
	changed2 := other2
	changed2.UserID = "someone-else@example.com"
	for name, tt := range map[string]struct {
		body        string
		index, line int
		reason      string
		message     string // the message's start
	}{
		"array":             {mustJSON(t, []storage.Event{other, changed}), 1, 0, conflictReason, "the event at index 1: id "},
		"json lines":        {mustJSON(t, other) + "\n\n" + mustJSON(t, changed) + "\n", 1, 3, conflictReason, "line 3: id"},
		"array repeat":      {mustJSON(t, []storage.Event{other2, changed2}), 1, 0, "repeats the id of event 0 with different content", "the event at index 1: id \"" + other2.ID + "\" repeats the id of the event at index 0 with different content; nothing was written"},
		"json lines repeat": {mustJSON(t, other2) + "\n\n" + mustJSON(t, changed2) + "\n", 1, 3, "repeats the id of line 1 with different content", "line 3: id \"" + other2.ID + "\" repeats the id of line 1"},
	} {
		resp, b := f.do("POST", "/api/operations/events", f.tokens["appendA"], strings.NewReader(tt.body))
		var e ErrorDTO
		json.Unmarshal(b, &e)
		if resp.StatusCode != 409 || e.Code != CodeConflict || len(e.Fields) != 1 || e.Fields[0].Field != "id" ||
			e.Fields[0].Index == nil || *e.Fields[0].Index != tt.index || e.Fields[0].Line != tt.line || e.Fields[0].Reason != tt.reason ||
			!strings.HasPrefix(e.Message, tt.message) {
			t.Errorf("%s conflict: %d %s", name, resp.StatusCode, b)
		}
	}
	// A credential of another organization: the event is named as the
	// fields name it, by line (from 1) or by index (from 0).
	for body, want := range map[string]string{
		"\n" + mustJSON(t, TestEvent("org-b", 1, time.Now().Add(-time.Minute))) + "\n":    "line 2: this credential may not append to organization",
		mustJSON(t, []storage.Event{TestEvent("org-b", 1, time.Now().Add(-time.Minute))}): "the event at index 0: this credential may not append",
	} {
		resp, b := f.do("POST", "/api/operations/events", f.tokens["appendA"], strings.NewReader(body))
		if resp.StatusCode != 403 || !strings.Contains(string(b), want) {
			t.Errorf("another organization's event: %d %s, want %q", resp.StatusCode, b, want)
		}
	}
	// A read token of the event's own organization: its scope is the reason.
	resp, b = f.do("POST", "/api/operations/events", f.tokens["readA"], strings.NewReader(mustJSON(t, TestEvent("org-a", 1, time.Now().Add(-time.Minute)))+"\n"))
	if want := "line 1: this token may not append (its scope is read); create one with --scope append"; resp.StatusCode != 403 || !strings.Contains(string(b), want) {
		t.Errorf("a read token's append: %d %s, want %q", resp.StatusCode, b, want)
	}
	if got := count(); got != before {
		t.Fatalf("a conflicting batch wrote %d events", got-before)
	}

	// POST …/check checks as an append would, writes nothing, and holds
	// no limit of one commit; it still takes an append credential.
	many := make([]storage.Event, 3000)
	for i := range many {
		many[i] = TestEvent("org-a", 6000+i, time.Now().Add(-time.Minute))
	}
	for name, tt := range map[string]struct {
		query, token, body string
		status             int
		code               string
	}{
		"valid":         {"/check", "appendA", mustJSON(t, []storage.Event{other}), 200, ""},
		"over a commit": {"/check", "appendA", mustJSON(t, many), 200, ""},
		"conflict":      {"/check", "appendA", mustJSON(t, []storage.Event{other, changed}), 409, CodeConflict},
		"invalid":       {"/check", "appendA", mustJSON(t, []storage.Event{bad}), 422, CodeInvalidEvent},
		"read token":    {"/check", "readA", mustJSON(t, []storage.Event{other}), 403, CodeForbidden},
	} {
		resp, b := f.do("POST", "/api/operations/events"+tt.query, f.tokens[tt.token], strings.NewReader(tt.body))
		if resp.StatusCode != tt.status || tt.code != "" && errorCode(t, b) != tt.code {
			t.Errorf("check, %s: %d %s", name, resp.StatusCode, b)
		}
		var c CheckDTO
		if tt.status == 200 && (json.Unmarshal(b, &c) != nil || c.Checked == 0) {
			t.Errorf("check, %s: %s", name, b)
		}
	}
	// A check names every conflicting event, where an append names the
	// first: here the recorded one on line 3 and the repeat on line 4.
	resp, b = f.do("POST", "/api/operations/events/check", f.tokens["appendA"],
		strings.NewReader(mustJSON(t, other2)+"\n"+mustJSON(t, other)+"\n"+mustJSON(t, changed)+"\n"+mustJSON(t, changed2)+"\n"))
	var ce ErrorDTO
	json.Unmarshal(b, &ce)
	if resp.StatusCode != 409 || ce.Code != CodeConflict || len(ce.Fields) != 2 ||
		ce.Fields[0].Line != 3 || ce.Fields[0].Reason != conflictReason || *ce.Fields[0].Index != 2 ||
		ce.Fields[1].Line != 4 || ce.Fields[1].Reason != "repeats the id of line 1 with different content" || *ce.Fields[1].Index != 3 {
		t.Errorf("check with two conflicts: %d %s", resp.StatusCode, b)
	}
	if got := count(); got != before {
		t.Fatalf("a check wrote %d events", got-before)
	}
	resp, b = f.do("POST", "/api/operations/events", f.tokens["appendA"], strings.NewReader(mustJSON(t, many)))
	if resp.StatusCode != 413 || errorCode(t, b) != CodeTooLarge {
		t.Fatalf("append over one commit: %d %s", resp.StatusCode, b)
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestREST_StreamDeliversInOrder(t *testing.T) {
	f := newRESTFixture(t)
	req, _ := http.NewRequest("GET", f.srv.URL+"/api/operations/stream?org=org-a", nil)
	req.Header.Set("Authorization", "Bearer "+f.tokens["readA"])
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := http.DefaultClient.Do(req.WithContext(ctx))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("content type %q", ct)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	sc.Scan() // ": subscribed"
	const batches, per = 5, 10
	go func() {
		for b := range batches {
			var es []storage.Event
			for i := range per {
				es = append(es, TestEvent("org-a", 100+b*per+i, time.Now().Add(-time.Minute)))
				es = append(es, TestEvent("org-b", 100+b*per+i, time.Now().Add(-time.Minute)))
			}
			if _, err := f.app.appendEvents(context.Background(), es); err != nil {
				t.Error(err)
			}
		}
	}()
	var seqs []uint64
	idLine := regexp.MustCompile(`^id: (\d+)$`)
	for len(seqs) < batches*per && sc.Scan() {
		line := sc.Text()
		if m := idLine.FindStringSubmatch(line); m != nil {
			var n uint64
			fmt.Sscan(m[1], &n)
			seqs = append(seqs, n)
		}
		if d, ok := strings.CutPrefix(line, "data: "); ok {
			var e EventDTO
			if err := json.Unmarshal([]byte(d), &e); err != nil {
				t.Fatalf("data is not an event: %v", err)
			}
			if e.OrganizationID != "org-a" {
				t.Fatalf("stream of org-a delivered an event of %s", e.OrganizationID)
			}
		}
	}
	if len(seqs) != batches*per {
		t.Fatalf("received %d events, want %d", len(seqs), batches*per)
	}
	for i := 1; i < len(seqs); i++ {
		if seqs[i] != seqs[i-1]+1 {
			t.Fatalf("out of order or gap: %v", seqs)
		}
	}
}

func TestREST_BreakGlassRequestsAreAudited(t *testing.T) {
	f := newRESTFixture(t)
	q := url.Values{"org": {"org-a"}, "action": {"audit.break_glass_used"}}
	count := func() int {
		p, err := f.app.listEvents(context.Background(), QueryDTO{Org: "org-a", ActionTypes: []string{"audit.break_glass_used"}, Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		return len(p.Events)
	}
	before := count()
	for range 3 {
		if resp, b := f.do("GET", "/api/operations/events?"+q.Encode(), f.tokens["glassA"], nil); resp.StatusCode != 200 {
			t.Fatalf("break-glass read: %d %s", resp.StatusCode, b)
		}
	}
	if got := count() - before; got != 3 {
		t.Fatalf("3 break-glass requests recorded %d audit events", got)
	}
	used, err := f.app.listEvents(context.Background(), QueryDTO{Org: "org-a", ActionTypes: []string{"audit.break_glass_used"}, Limit: 1})
	if err != nil || len(used.Events) != 1 || !strings.HasPrefix(used.Events[0].UserID, "token:") ||
		!strings.Contains(string(used.Events[0].Metadata), `"breakGlass":true`) {
		t.Fatalf("a break-glass request is recorded as %+v, %v; want the grant's token", used.Events, err)
	}
	granted, err := f.app.listEvents(context.Background(), QueryDTO{Org: "org-a", ActionTypes: []string{"audit.break_glass_granted"}})
	if err != nil || len(granted.Events) != 1 || granted.Events[0].Retention != "material" {
		t.Fatalf("break-glass grant must be one material audit event: %+v %v", granted.Events, err)
	}
}

// The browser session answers only this server's own pages: a page on
// another port of 127.0.0.1 is the same site to a browser (its cookie is
// sent), but not the same origin.
func TestREST_SessionRefusesOtherOrigins(t *testing.T) {
	f := newRESTFixture(t)
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Get(f.srv.URL + "/login?token=one-time-secret&next=/%5Cevil.example")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if loc := resp.Header.Get("Location"); resp.StatusCode != 302 || !strings.HasPrefix(loc, "/#session=") {
		t.Fatalf("login with next=/\\evil.example: %d, Location %q; want /#session=…", resp.StatusCode, loc)
	}
	key := sessionKeyOf(t, resp)
	c := resp.Cookies()[0]
	if c.MaxAge <= 0 || c.MaxAge > int(sessionLifetime/time.Second) {
		t.Errorf("session cookie MaxAge %d", c.MaxAge)
	}
	self := strings.TrimPrefix(f.srv.URL, "http://")
	ev := mustJSON(t, []storage.Event{TestEvent("org-a", 900, time.Now().Add(-time.Minute))})
	for _, tt := range []struct {
		name, method string
		hdr          map[string]string
		want         int
	}{
		{"a read from the app's page", "GET", map[string]string{"Sec-Fetch-Site": "same-origin"}, 200},
		{"a read with no browser headers", "GET", nil, 200},
		{"a typed URL", "GET", map[string]string{"Sec-Fetch-Site": "none"}, 200},
		{"a read from another port", "GET", map[string]string{"Sec-Fetch-Site": "same-site"}, 403},
		{"an append from the app's page", "POST", map[string]string{"Sec-Fetch-Site": "same-origin", "Origin": "http://" + self}, 201},
		{"an append from another port", "POST", map[string]string{"Sec-Fetch-Site": "same-site", "Origin": "http://127.0.0.1:9999"}, 403},
		{"an append from another port, old browser", "POST", map[string]string{"Origin": "http://127.0.0.1:9999"}, 403},
		{"an append with no browser headers", "POST", nil, 403},
	} {
		path, body := "/api/operations/events?org=org-a", io.Reader(nil)
		if tt.method == "POST" {
			path, body = "/api/operations/events", strings.NewReader(ev)
		}
		req, _ := http.NewRequest(tt.method, f.srv.URL+path, body)
		req.AddCookie(c)
		req.Header.Set(sessionKeyHeader, key)
		for k, v := range tt.hdr {
			req.Header.Set(k, v)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tt.want {
			t.Errorf("%s: %d, want %d", tt.name, resp.StatusCode, tt.want)
		}
	}
}

// A stream ends when its token expires or is revoked, as a new request
// with the token would be refused.
func TestREST_StreamEndsWithItsToken(t *testing.T) {
	old := credentialRecheck
	credentialRecheck = 50 * time.Millisecond
	t.Cleanup(func() { credentialRecheck = old })
	f := newRESTFixture(t)
	ctx := context.Background()
	short, err := f.app.createToken(ctx, TokenRequest{Org: "org-a", Scope: ScopeRead, Expires: 1500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	long, err := f.app.createToken(ctx, TokenRequest{Org: "org-a", Scope: ScopeRead, Expires: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	open := func(token string) <-chan string {
		req, _ := http.NewRequest("GET", f.srv.URL+"/api/operations/stream?org=org-a", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("stream: %v %v", resp, err)
		}
		ended := make(chan string, 1)
		go func() {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			ended <- string(b)
		}()
		return ended
	}
	expiring, revoked := open(short.Token), open(long.Token)
	if _, err := f.app.revokeToken(ctx, long.ID); err != nil {
		t.Fatal(err)
	}
	// The last event says why, so that a client does not reconnect as
	// "reset" would have it.
	for name, ended := range map[string]<-chan string{"revoked": revoked, "expired": expiring} {
		select {
		case body := <-ended:
			if !strings.Contains(body, "event: unauthorized\ndata: {\"code\":\"unauthorized\"") || !strings.Contains(body, name) ||
				strings.Contains(body, "event: reset") {
				t.Errorf("the stream of a %s token ended with %q; want an unauthorized event saying so", name, body)
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("the stream of a %s token goes on", name)
		}
	}
}

// sessionKeyOf is the session key in a login redirect's fragment.
func sessionKeyOf(t *testing.T, resp *http.Response) string {
	t.Helper()
	u, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	key, ok := strings.CutPrefix(u.Fragment, "session=")
	if !ok || len(key) < 40 {
		t.Fatalf("login redirect %q carries no session key", resp.Header.Get("Location"))
	}
	return key
}

// Decrypted states are answered to a read token only when it was created
// with --include-sensitive: a plain read token (a SIEM's, a dashboard's)
// and a break-glass grant see their commitments, as an export without
// --include-sensitive has them, and cannot export them either.
func TestREST_StatesOnlyToTokensThatMayReveal(t *testing.T) {
	f := newRESTFixture(t)
	e := TestEvent("org-a", 99, time.Now().Add(-time.Minute))
	e.ActionType = "apply.mutation"
	e.Status = "applied"
	e.Metadata = []byte(`{"rtoSeconds":60}`)
	e.AfterState = []byte(`{"secretValue":"hunter2"}`)
	rs, err := f.app.appendEvents(context.Background(), []storage.Event{e})
	if err != nil {
		t.Fatal(err)
	}
	id := rs[0].ID
	for _, c := range []struct {
		token  string
		states bool
	}{{"readA", false}, {"glassA", false}, {"statesA", true}} {
		for _, path := range []string{"/api/operations/events?org=org-a&limit=1&action=apply.mutation", "/api/operations/events/" + id + "?org=org-a"} {
			resp, b := f.do("GET", path, f.tokens[c.token], nil)
			if resp.StatusCode != 200 || !strings.Contains(string(b), `"afterStateCommitment":"`) {
				t.Fatalf("%s %s: %d %s", c.token, path, resp.StatusCode, b)
			}
			if got := strings.Contains(string(b), "hunter2"); got != c.states {
				t.Errorf("%s %s: states shown %v, want %v: %s", c.token, path, got, c.states, b)
			}
		}
		body := mustJSON(t, ExportJobRequest{ExportRequest: ExportRequest{Query: QueryDTO{Org: "org-a"}, Format: "jsonl", OutDir: t.TempDir(), IncludeSensitive: true}})
		resp, b := f.do("POST", "/api/exports", f.tokens[c.token], strings.NewReader(body))
		want := http.StatusForbidden
		if c.states {
			want = http.StatusAccepted
		}
		if resp.StatusCode != want || !c.states && !strings.Contains(string(b), "--include-sensitive") {
			t.Errorf("%s: export with states: %d %s, want %d", c.token, resp.StatusCode, b, want)
		}
		if c.states {
			var j ExportJobDTO
			json.Unmarshal(b, &j)
			pollExport(t, f, j.ID, f.tokens[c.token])
		}
	}
	if _, err := f.app.createToken(context.Background(), TokenRequest{Org: "org-a", Scope: ScopeAppend, States: true}); err == nil || !strings.Contains(err.Error(), "--include-sensitive") {
		t.Errorf("an append token with states: %v", err)
	}
}

// What a client may send in a form other than the plainest: a UTF-8 byte
// order mark before a JSON array is not JSON's and is ignored (as append
// from a file does); a compressed body is refused as such (415), not read
// as garbled JSON, and so is a body whose Content-Type names another
// format (XML, a form upload); the Bearer scheme's name is case-insensitive.
func TestREST_AppendBodyForms(t *testing.T) {
	f := newRESTFixture(t)
	ev := func(i int) string {
		return mustJSON(t, []storage.Event{TestEvent("org-a", 100+i, time.Now().Add(-time.Minute))})
	}
	resp, b := f.do("POST", "/api/operations/events", f.tokens["appendA"], strings.NewReader("\ufeff"+ev(1)))
	if resp.StatusCode != 201 {
		t.Errorf("a BOM before a JSON array: %d %s", resp.StatusCode, b)
	}
	resp, b = f.do("POST", "/api/operations/events", f.tokens["appendA"], strings.NewReader(ev(2)), "Content-Encoding", "gzip")
	if resp.StatusCode != 415 || !strings.Contains(string(b), `Content-Encoding \"gzip\" is not accepted`) {
		t.Errorf("gzip: %d %s", resp.StatusCode, b)
	}
	for i, c := range []struct {
		ct   string
		want int
	}{
		{"application/json", 201}, {"application/json; charset=utf-8", 201}, {"application/x-ndjson", 201},
		{"text/plain; charset=utf-8", 201}, {"application/x-www-form-urlencoded", 201}, {"application/vnd.api+json", 201},
		{"application/xml", 415}, {"text/xml", 415}, {"multipart/form-data; boundary=x", 415}, {"text/csv", 415}, {"application/json; charset", 201}, {"*/*", 201}, {"application/octet-stream", 201}, {"not a type", 415},
	} {
		resp, b = f.do("POST", "/api/operations/events", f.tokens["appendA"], strings.NewReader(ev(10+i)), "Content-Type", c.ct)
		if resp.StatusCode != c.want || c.want == 415 && !strings.Contains(string(b), "Content-Type") {
			t.Errorf("Content-Type %q: %d %s, want %d", c.ct, resp.StatusCode, b, c.want)
		}
	}
	resp, b = f.do("GET", "/api/operations/events?org=org-a&limit=1", "", nil, "Authorization", "bearer "+f.tokens["readA"])
	if resp.StatusCode != 200 {
		t.Errorf("bearer in lower case: %d %s", resp.StatusCode, b)
	}
}

// Bounds no event can be within select none: until the zero time
// (0001-01-01, which a Go client sends for an unset time) is not "no
// bound", and facets agree with the empty list.
func TestREST_BoundsBeyondEveryEvent(t *testing.T) {
	f := newRESTFixture(t)
	for _, path := range []string{
		"/api/operations/events?org=org-a&until=0001-01-01T00:00:00Z",
		"/api/operations/events?org=org-a&since=9999-12-31T23:59:59Z",
	} {
		resp, b := f.do("GET", path, f.tokens["readA"], nil)
		var page struct {
			Events []json.RawMessage `json:"events"`
		}
		if resp.StatusCode != 200 || json.Unmarshal(b, &page) != nil || len(page.Events) != 0 {
			t.Errorf("%s: %d %.200s; want no events", path, resp.StatusCode, b)
		}
	}
	resp, b := f.do("GET", "/api/operations/facets?org=org-a&since=9999-12-31T23:59:59Z", f.tokens["readA"], nil)
	if resp.StatusCode != 200 || strings.Contains(string(b), `"count"`) {
		t.Errorf("facets since 9999: %d %.300s; want none", resp.StatusCode, b)
	}
}

// The histogram stacks by risk and by status (the timeline's two stackings),
// each adding up to the bucket's count.
func TestREST_HistogramByRiskAndStatus(t *testing.T) {
	f := newRESTFixture(t)
	resp, body := f.do("GET", "/api/operations/histogram?org=org-a", f.tokens["readA"], nil)
	if resp.StatusCode != 200 {
		t.Fatalf("histogram: %d %s", resp.StatusCode, body)
	}
	var h HistogramDTO
	if err := json.Unmarshal(body, &h); err != nil {
		t.Fatal(err)
	}
	var total int64
	for _, b := range h.Buckets {
		var risk, status int64
		for _, n := range b.ByRisk {
			risk += n
		}
		for _, n := range b.ByStatus {
			status += n
		}
		if risk != b.Count || status != b.Count {
			t.Fatalf("bucket %s: count %d, by risk %d, by status %d", b.Start, b.Count, risk, status)
		}
		total += b.Count
	}
	// 20 events and the fixture's 7 token events (6 created, 1 revoked).
	if total != 27 {
		t.Fatalf("histogram total %d, want 27", total)
	}
}

// The histogram's buckets follow the clock of the time zone asked for: in
// Asia/Kolkata (UTC+5:30) a day's bucket starts at midnight there, not at
// 05:30, and each ends where the next starts. A zone that does not exist is
// refused, naming the parameter.
func TestREST_HistogramInATimeZone(t *testing.T) {
	f := newRESTFixture(t)
	since := time.Now().UTC().Add(-30 * 24 * time.Hour).Format(time.RFC3339)
	// Browsers' Intl may name zones as tzdata once did (Asia/Calcutta, Asia/Katmandu).
	for _, zone := range []string{"Asia/Kolkata", "Asia/Calcutta", "Asia/Kathmandu", "Asia/Katmandu", "UTC"} {
		resp, body := f.do("GET", "/api/operations/histogram?org=org-a&since="+since+"&timeZone="+url.QueryEscape(zone), f.tokens["readA"], nil)
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %d %s", zone, resp.StatusCode, body)
		}
		var h HistogramDTO
		if err := json.Unmarshal(body, &h); err != nil {
			t.Fatal(err)
		}
		loc, _ := time.LoadLocation(zone)
		if h.BucketSeconds != 86400 || len(h.Buckets) < 30 {
			t.Fatalf("%s: %d buckets of %d s, want 30 or 31 days", zone, len(h.Buckets), h.BucketSeconds)
		}
		var total int64
		for i, b := range h.Buckets {
			start, err1 := time.Parse(time.RFC3339Nano, b.Start)
			end, err2 := time.Parse(time.RFC3339Nano, b.End)
			if err1 != nil || err2 != nil {
				t.Fatalf("%s: bucket %d: start %q, end %q", zone, i, b.Start, b.End)
			}
			if wall := start.In(loc); wall.Hour() != 0 || wall.Minute() != 0 || end.Sub(start) != 24*time.Hour {
				t.Fatalf("%s: bucket %d runs from %s to %s", zone, i, wall.Format("Jan 2 15:04 MST"), end.In(loc).Format("Jan 2 15:04 MST"))
			}
			if i > 0 && b.Start != h.Buckets[i-1].End {
				t.Fatalf("%s: bucket %d starts at %s, the one before ends at %s", zone, i, b.Start, h.Buckets[i-1].End)
			}
			total += b.Count
		}
		if total != 27 {
			t.Fatalf("%s: histogram total %d, want 27", zone, total)
		}
	}
	for _, q := range []string{"timeZone=Mars/Olympus_Mons", "timeZone="} {
		resp, body := f.do("GET", "/api/operations/histogram?org=org-a&"+q, f.tokens["readA"], nil)
		if resp.StatusCode != 400 || !strings.Contains(string(body), "timeZone") {
			t.Errorf("%s: %d %s; want 400 naming timeZone", q, resp.StatusCode, body)
		}
	}
	// Other reads take no time zone.
	if resp, body := f.do("GET", "/api/operations/facets?org=org-a&timeZone=UTC", f.tokens["readA"], nil); resp.StatusCode != 400 {
		t.Errorf("facets with a time zone: %d %s; want 400", resp.StatusCode, body)
	}
}

// The overview answers what the facets and the histogram do, for the same
// query, in one request: filtered by time alone (the counters answer the
// facets) and beyond (one scan counts both), in UTC and in a zone whose
// days start at a half hour. A bad time zone or filter is refused like
// theirs.
func TestREST_OverviewIsFacetsAndHistogram(t *testing.T) {
	f := newRESTFixture(t)
	since := url.QueryEscape(time.Now().UTC().Add(-30 * 24 * time.Hour).Format(time.RFC3339))
	for _, q := range []string{"", "&since=" + since, "&provider=aws", "&notStatus=failed&category=apply", "&text=token"} {
		for _, zone := range []string{"", "&timeZone=Asia%2FKolkata"} {
			get := func(what string, into any) {
				t.Helper()
				resp, body := f.do("GET", "/api/operations/"+what+"?org=org-a"+q, f.tokens["readA"], nil)
				if resp.StatusCode != 200 {
					t.Fatalf("%s%s: %d %s", what, q, resp.StatusCode, body)
				}
				if err := json.Unmarshal(body, into); err != nil {
					t.Fatal(err)
				}
			}
			var facets FacetsDTO
			var hist HistogramDTO
			var o OverviewDTO
			get("facets", &facets)
			q += zone
			get("histogram", &hist)
			get("overview", &o)
			q = strings.TrimSuffix(q, zone)
			if !reflect.DeepEqual(o.Facets, facets) || !reflect.DeepEqual(o.Histogram, hist) {
				t.Errorf("overview%s%s:\n%+v\nwant facets %+v\nand histogram %+v", q, zone, o, facets, hist)
			}
			var n int64
			for _, c := range o.Facets[storage.FacetCategory] {
				n += c.Count
			}
			if q == "" && n != 27 {
				t.Errorf("overview counts %d events, want 27", n)
			}
		}
	}
	for _, q := range []string{"timeZone=Mars/Olympus_Mons", "status=done"} {
		resp, body := f.do("GET", "/api/operations/overview?org=org-a&"+q, f.tokens["readA"], nil)
		if field := strings.Split(q, "=")[0]; resp.StatusCode != 400 || !strings.Contains(string(body), field) {
			t.Errorf("%s: %d %s; want 400 naming %s", q, resp.StatusCode, body, field)
		}
	}
}

// A query parameter the API does not know is refused with 400 naming it,
// not ignored (an event's field name for the filter's answered for every
// event).
func TestREST_UnknownQueryParameter(t *testing.T) {
	f := newRESTFixture(t)
	for _, path := range []string{
		"/api/operations/facets?org=org-a&riskLevel=high",
		"/api/operations/events?org=org-a&userId=bob",
		"/api/operations/histogram?org=org-a&categroy=apply",
		"/api/operations/overview?org=org-a&riskLevel=high",
	} {
		resp, body := f.do("GET", path, f.tokens["readA"], nil)
		if resp.StatusCode != 400 || !strings.Contains(string(body), "is not a parameter of this request") {
			t.Errorf("%s: %d %s; want 400 naming the parameter", path, resp.StatusCode, body)
		}
	}
	if resp, body := f.do("GET", "/api/operations/facets?org=org-a&risk=high&session=x", f.tokens["readA"], nil); resp.StatusCode != 200 {
		t.Errorf("known parameters: %d %s", resp.StatusCode, body)
	}
	// The message lists the request's parameters, and says which only a
	// page of events reads: the aggregates accept them (the UI sends its
	// whole query) and ignore them.
	resp, body := f.do("GET", "/api/operations/overview?org=org-a&interval=day", f.tokens["readA"], nil)
	if msg := string(body); resp.StatusCode != 400 || !strings.Contains(msg, "timeZone, category") ||
		!strings.Contains(msg, "and order, cursor and limit, which page /api/operations/events and are ignored elsewhere") ||
		strings.Contains(msg, "text, order") {
		t.Errorf("overview with an unknown parameter: %d %s", resp.StatusCode, msg)
	}
	if resp, body := f.do("GET", "/api/operations/overview?org=org-a&order=oldest&limit=5&cursor=x", f.tokens["readA"], nil); resp.StatusCode != 200 {
		t.Errorf("overview with paging parameters: %d %s", resp.StatusCode, body)
	}
}

// /api/info tells a token nothing of where the profile lives; the local
// user (a browser session) sees it.
func TestREST_InfoWithholdsTheDataDirFromTokens(t *testing.T) {
	f := newRESTFixture(t)
	resp, body := f.do("GET", "/api/info", f.tokens["readA"], nil)
	var info Info
	if resp.StatusCode != 200 || json.Unmarshal(body, &info) != nil || info.DataDir != "" || info.Version == "" && info.Name == "" {
		t.Fatalf("info to a token: %d %s", resp.StatusCode, body)
	}
	if f.app.Info().DataDir == "" {
		t.Fatal("the fixture's app has no data dir to withhold")
	}
}

// The facets the sidebar shows count a field the query filters without
// the query's own conditions on it: filtered for one provider, the others
// are still offered, with the counts the rest of the filter leaves them.
func TestREST_FacetsOfAFilteredField(t *testing.T) {
	f := newRESTFixture(t)
	get := func(q string) FacetsDTO {
		t.Helper()
		resp, body := f.do("GET", "/api/operations/facets?org=org-a"+q, f.tokens["readA"], nil)
		if resp.StatusCode != 200 {
			t.Fatalf("facets%s: %d %s", q, resp.StatusCode, body)
		}
		var out FacetsDTO
		if err := json.Unmarshal(body, &out); err != nil {
			t.Fatal(err)
		}
		return out
	}
	all := get("")
	if len(all["provider"]) < 2 {
		t.Fatalf("the fixture has providers %v: want at least two", all["provider"])
	}
	one := all["provider"][0].Value
	filtered := get("&provider=" + one)
	if !slices.Equal(filtered["provider"], all["provider"]) {
		t.Errorf("provider facet filtered for %s: %v, want every provider %v", one, filtered["provider"], all["provider"])
	}
	var n int64
	for _, c := range filtered["category"] {
		n += c.Count
	}
	if n != all["provider"][0].Count {
		t.Errorf("category facet under provider=%s sums to %d, want %d", one, n, all["provider"][0].Count)
	}
}
