package app

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/axiomops/axiom-audit/storage"
	"github.com/axiomops/axiom-audit/storage/keystore"
)

// runCLI runs the command line in-process against a.
func runCLI(t *testing.T, a *App, stdin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	return runRoot(t, func(context.Context, Globals) (*App, func() error, error) { return a, func() error { return nil }, nil }, stdin, args...)
}

// runRoot runs the command line with open as its way to the profile, and
// prints what main prints for an error.
func runRoot(t *testing.T, open func(context.Context, Globals) (*App, func() error, error), stdin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	root := NewRootCommand(CLIConfig{Version: "test", Open: open, Stdout: &out, Stderr: &errb})
	root.SetIn(strings.NewReader(stdin))
	root.SetArgs(args)
	err := root.ExecuteContext(context.Background())
	if err != nil && Explain(err) != "" {
		errb.WriteString("axiom-audit: " + Explain(err) + "\n")
	}
	return out.String(), errb.String(), ExitCode(err)
}

func TestCLI_AppendInvalidLineWritesNothing(t *testing.T) {
	a := TestApp(t)
	good := mustJSON(t, TestEvent("org-a", 1, time.Now().Add(-time.Hour)))
	bad := `{"timestamp":"2026-01-01T00:00:00+01:00","organizationId":"org-a","userId":"u","provider":"aws","actionType":"user.signed_in","resourceIds":[],"status":"applied","riskLevel":"extreme"}`
	_, stderr, code := runCLI(t, a, good+"\n"+bad+"\n"+good+"\n", "append", "-")
	if code != ExitDataErr {
		t.Fatalf("exit %d, want %d; stderr:\n%s", code, ExitDataErr, stderr)
	}
	for _, want := range []string{"line 2: timestamp: ", "line 2: riskLevel: "} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	orgs, _ := a.organizations(context.Background())
	if len(orgs) != 0 {
		t.Fatalf("an invalid input wrote events: %+v", orgs)
	}
	stdout, stderr, code := runCLI(t, a, good+"\n\n"+mustJSON(t, TestEvent("org-a", 2, time.Now().Add(-time.Hour)))+"\n", "append")
	if code != 0 {
		t.Fatalf("valid append: exit %d: %s", code, stderr)
	}
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	if len(lines) != 2 {
		t.Fatalf("want 2 receipts, got %q", stdout)
	}
	for i, l := range lines {
		var r ReceiptDTO
		if err := json.Unmarshal([]byte(l), &r); err != nil || r.Seq != uint64(i+1) || r.OrganizationID != "org-a" || r.ID == "" || r.RecordedAt == "" {
			t.Fatalf("receipt %d: %q", i, l)
		}
	}
}

// A line that is not an event at all gets one problem, its own, and not
// one per field; a byte order mark before the first line is no problem.
func TestCLI_AppendUnreadableLine(t *testing.T) {
	a := TestApp(t)
	good := mustJSON(t, TestEvent("org-a", 1, time.Now().Add(-time.Hour)))
	for _, tt := range []struct{ name, line, want string }{
		{"truncated", good[:len(good)-1], "line 1: event: is not valid JSON"},
		{"not an object", `["x"]`, "line 1: event: must be a JSON object"},
		{"too long", `{"userId":"` + strings.Repeat("a", storage.MaxInputBytes) + `"}`, "line 1: event: line is longer than"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, stderr, code := runCLI(t, a, tt.line+"\n", "append")
			if code != ExitDataErr {
				t.Fatalf("exit %d, want %d; stderr:\n%s", code, ExitDataErr, stderr)
			}
			if !strings.HasPrefix(stderr, tt.want) || strings.Count(stderr, "line 1:") != 1 {
				t.Errorf("want one problem %q..., got:\n%s", tt.want, stderr)
			}
		})
	}
	stdout, stderr, code := runCLI(t, a, "\ufeff"+good+"\n", "append")
	if code != 0 || strings.Count(stdout, "\n") != 1 {
		t.Fatalf("a BOM before the first line: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
}

// An id already recorded with other content names its line, and the
// batch is refused whole.
func TestCLI_AppendConflictNamesTheLine(t *testing.T) {
	a := TestApp(t)
	first := TestEvent("org-a", 1, time.Now().Add(-time.Hour))
	first.ID = "01900000-0000-7000-8000-000000000001"
	if _, _, code := runCLI(t, a, mustJSON(t, first)+"\n", "append"); code != 0 {
		t.Fatal("first append failed")
	}
	changed := first
	changed.UserID = "someone-else@example.com"
	input := mustJSON(t, TestEvent("org-a", 2, time.Now().Add(-time.Hour))) + "\n\n" + mustJSON(t, changed) + "\n"
	stdout, stderr, code := runCLI(t, a, input, "append")
	if code != ExitDataErr || stdout != "" {
		t.Fatalf("exit %d, stdout %q; want %d and nothing", code, stdout, ExitDataErr)
	}
	if !strings.HasPrefix(stderr, "line 3: id: is already recorded with different content\n") || !strings.Contains(stderr, "1 conflicting line; nothing was written") {
		t.Errorf("stderr:\n%s", stderr)
	}
	page, err := a.ListEvents(QueryDTO{Org: "org-a", Limit: 10})
	if err != nil || len(page.Events) != 1 {
		t.Fatalf("after a refused batch: %d events, %v", len(page.Events), err)
	}
}

// append names every conflicting line, within a commit and across
// commits, the same way whether it reaches the store itself or a running
// desktop app through its API; there it checks each commit in one request,
// however many of its lines conflict. A line whose id an earlier line of
// the input has with other content repeats it; when that earlier line
// conflicts with the log itself, the later one is held against the log.
func TestCLI_AppendNamesEveryConflict(t *testing.T) {
	ctx := context.Background()
	seed, recorded := largeInput(t, "org-a", 0, 3)
	local := TestApp(t)
	if _, stderr, code := runCLI(t, local, seed, "append"); code != 0 {
		t.Fatalf("seed: exit %d: %s", code, stderr)
	}
	held, remote := heldProfile(t)
	checks := 0
	remote.client.Transport = roundTripFunc(func(r *http.Request) (*http.Response, error) {
		if r.URL.Path == checkEventsPath {
			checks++
		}
		return http.DefaultTransport.RoundTrip(r)
	})
	if _, err := remote.appendEvents(ctx, recorded); err != nil {
		t.Fatal(err)
	}

	changed := func(e storage.Event) string {
		e.UserID = "mallory@example.com"
		return mustJSON(t, e) + "\n"
	}
	line := func(e storage.Event) string { return mustJSON(t, e) + "\n" }
	_, fresh := largeInput(t, "org-a", 100, 2)
	filler, _ := largeInput(t, "org-a", 1000, 300) // more than a commit
	_, many := largeInput(t, "org-a", 2000, 200)
	var manyChanged, manyWant strings.Builder
	for i, e := range many {
		manyChanged.WriteString(line(e) + changed(e))
		manyWant.WriteString(fmt.Sprintf("line %d: id: repeats the id of line %d with different content\n", 2*i+2, 2*i+1))
	}
	for _, tt := range []struct {
		name, input string
		want        []string
		checks      int // requests to check the input through the API
	}{
		{"each line of a commit", changed(recorded[0]) + changed(recorded[1]) + changed(recorded[2]), []string{
			"line 1: id: is already recorded with different content",
			"line 2: id: is already recorded with different content",
			"line 3: id: is already recorded with different content"}, 1},
		{"repeats in one commit", line(fresh[0]) + changed(fresh[0]) + line(fresh[1]) + changed(fresh[1]), []string{
			"line 2: id: repeats the id of line 1 with different content",
			"line 4: id: repeats the id of line 3 with different content"}, 1},
		{"the same conflicting line twice in one commit", changed(recorded[0]) + changed(recorded[0]), []string{
			"line 1: id: is already recorded with different content",
			"line 2: id: is already recorded with different content"}, 1},
		{"a conflicting line whose later repeat in the commit matches the log", changed(recorded[0]) + line(recorded[0]), []string{
			"line 1: id: is already recorded with different content"}, 1},
		{"a conflicting line repeated in a later commit", changed(recorded[0]) + filler + changed(recorded[0]), []string{
			"line 1: id: is already recorded with different content",
			"line 302: id: is already recorded with different content"}, 2},
		// Each commit's check holds the first line of the id in it
		// against the log: nothing more to ask.
		{"a conflicting line whose later repeat matches the log", changed(recorded[0]) + filler + line(recorded[0]), []string{
			"line 1: id: is already recorded with different content"}, 2},
		// The repeats in a later commit are held against the first line,
		// not against each other.
		{"a line repeated in a later commit, first with other content, then with its own", line(fresh[0]) + filler + changed(fresh[0]) + line(fresh[0]), []string{
			"line 302: id: repeats the id of line 1 with different content"}, 3},
		{"a new line repeated with other content in a later commit", line(fresh[0]) + filler + changed(fresh[0]), []string{
			"line 302: id: repeats the id of line 1 with different content"}, 3},
		{"many repeats in one commit", manyChanged.String(), strings.Split(strings.TrimSuffix(manyWant.String(), "\n"), "\n"), 2},
	} {
		t.Run(tt.name, func(t *testing.T) {
			want := strings.Join(tt.want, "\n") + fmt.Sprintf("\naxiom-audit: %s; nothing was written\n", count(int64(len(tt.want)), "conflicting line"))
			stdout, stderr, code := runCLI(t, local, tt.input, "append")
			if code != ExitDataErr || stdout != "" {
				t.Fatalf("exit %d, stdout %d bytes; want %d and nothing\nstderr:\n%s", code, len(stdout), ExitDataErr, stderr)
			}
			if stderr != want {
				t.Errorf("stderr:\n%s\nwant:\n%s", stderr, want)
			}
			if n := orgSize(t, local, "org-a"); n != 3 {
				t.Fatalf("%d events recorded after a refused input, want 3", n)
			}

			checks = 0
			stdout, stderr, err := appendThrough(t, remote, tt.input)
			if ExitCode(err) != ExitDataErr || stdout != "" || stderr+"axiom-audit: "+Explain(err)+"\n" != want {
				t.Errorf("through the API: %v, stdout %d bytes, stderr:\n%s\nwant:\n%s", err, len(stdout), stderr, want)
			}
			if checks != tt.checks {
				t.Errorf("through the API: %d check requests, want %d", checks, tt.checks)
			}
			if n := orgSize(t, held, "org-a"); n != 3 {
				t.Fatalf("through the API: %d events recorded after a refused input, want 3", n)
			}
		})
	}
}

// A state within its limit as sent but over it as stored (RFC 8785 writes
// 1e20 out as 21 digits) is an invalid line like any other: every such line
// is named, with exit 65, and nothing is written.
func TestCLI_AppendCanonicalSizeNamesTheLine(t *testing.T) {
	a := TestApp(t)
	big := json.RawMessage("[" + strings.TrimSuffix(strings.Repeat("1e20,", 520*1024/22), ",") + "]")
	var in strings.Builder
	for i := range 4 {
		e := TestEvent("org-a", i, time.Now().Add(-time.Hour))
		if i%2 == 1 {
			e.AfterState = big
		}
		in.WriteString(mustJSON(t, e) + "\n")
	}
	stdout, stderr, code := runCLI(t, a, in.String(), "append")
	if code != ExitDataErr || stdout != "" {
		t.Fatalf("exit %d, stdout %d bytes; want %d and nothing\nstderr:\n%s", code, len(stdout), ExitDataErr, stderr)
	}
	want := regexp.MustCompile(`^line 2: afterState: is \d+ bytes in canonical form \(RFC 8785, as stored, with numbers written out\); the limit is 524288 \(512 KiB\)
line 4: afterState: is \d+ bytes in canonical form .*
axiom-audit: 2 invalid lines; nothing was written
$`)
	if !want.MatchString(stderr) {
		t.Errorf("stderr:\n%s\nwant it to match:\n%s", stderr, want)
	}
	if n := orgSize(t, a, "org-a"); n != 0 {
		t.Fatalf("%d events recorded after a refused input, want none", n)
	}
}

// A refused query prints nothing on stdout and names the flag; a typo in
// a category, an action type or the organization is refused rather than
// answered with no events.
func TestCLI_QueryRefusals(t *testing.T) {
	a := TestApp(t)
	if _, _, code := runCLI(t, a, mustJSON(t, TestEvent("org-a", 1, time.Now().Add(-time.Hour)))+"\n", "append"); code != 0 {
		t.Fatal("append failed")
	}
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--order", "sideways"}, "--order: "},
		{[]string{"--status", "nope"}, "--status: "},
		{[]string{"--category", "scans"}, `--category: "scans" is not one of`},
		{[]string{"--action", "scan.begun"}, `--action: "scan.begun" is not an action type`},
		{[]string{"--since", "2h", "--until", "3h"}, "--until: "},
		{[]string{"--user", "u\x00"}, "--user: "},
		{[]string{"--resource", "bucket\x00*"}, "--resource: "},
	} {
		stdout, stderr, code := runCLI(t, a, "", append([]string{"query", "--org", "org-a"}, tt.args...)...)
		if code != 2 || stdout != "" || !strings.Contains(stderr, tt.want) {
			t.Errorf("query %q: exit %d, stdout %q, stderr %q; want 2, nothing, %q", tt.args, code, stdout, stderr, tt.want)
		}
	}
	// The zero time is a bound like any other, not none: nothing is older.
	stdout, stderr, code := runCLI(t, a, "", "query", "--org", "org-a", "--until", "0001-01-01T00:00:00Z")
	if code != 0 || strings.Count(stdout, "\n") != 1 {
		t.Errorf("--until 0001-01-01T00:00:00Z: exit %d, stdout %q, stderr %q; want the header alone", code, stdout, stderr)
	}
	stdout, stderr, code = runCLI(t, a, "", "query", "--org", "org-a", "--since", "36500d")
	if code != 0 || strings.Count(stdout, "\n") != 2 {
		t.Errorf("--since 36500d: exit %d, stdout %q, stderr %q; want the event", code, stdout, stderr)
	}
	stdout, stderr, code = runCLI(t, a, "", "query", "--org", "org-typo")
	if code != 2 || stdout != "" || !strings.Contains(stderr, `no organization "org-typo"`) {
		t.Errorf("unknown org: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	// A custom type, and no match in an organization that exists: the
	// header alone.
	stdout, stderr, code = runCLI(t, a, "", "query", "--org", "org-a", "--action", "custom.never.seen")
	if code != 0 || !strings.HasPrefix(stdout, "TIME") || strings.Count(stdout, "\n") != 1 {
		t.Errorf("no match: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
}

// Every command with --org names the profile's organizations when the one
// asked for is not among them, and says nothing more when the organization
// is there and something else was not found.
func TestCLI_UnknownOrgNamesTheProfilesOrganizations(t *testing.T) {
	a := TestApp(t)
	in := mustJSON(t, TestEvent("org-b", 1, time.Now().Add(-time.Hour))) + "\n" +
		mustJSON(t, TestEvent("org-a", 2, time.Now().Add(-time.Hour))) + "\n"
	if _, _, code := runCLI(t, a, in, "append"); code != 0 {
		t.Fatal("append failed")
	}
	const want = `no organization "org-typo" in this profile; it has org-a, org-b`
	for _, args := range [][]string{
		{"query", "--org", "org-typo"},
		{"checkpoint", "--org", "org-typo"},
		{"checkpoint", "--org", "org-typo", "--size", "1"},
		{"prove", "--org", "org-typo", "--from", "1", "--to", "1"},
		{"prove", "--org", "org-typo", "01900000-0000-7000-8000-00000000beef"},
		{"verify", "--org", "org-typo"},
		{"keys", "rotate", "--org", "org-typo"},
		{"export", "--org", "org-typo", "--format", "csv", "--out", t.TempDir()},
	} {
		stdout, stderr, code := runCLI(t, a, "", args...)
		if code != 2 || stdout != "" || !strings.Contains(stderr, want) {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want 2 and %q", args, code, stdout, stderr, want)
		}
	}
	// The organization exists; the event does not.
	_, stderr, code := runCLI(t, a, "", "prove", "--org", "org-a", "01900000-0000-7000-8000-00000000dead")
	if code == 0 || strings.Contains(stderr, "it has org-a") {
		t.Errorf("unknown event of a known org: exit %d, stderr %q", code, stderr)
	}
	// retention names an invalid id as such, and an unknown one as unknown:
	// a mistyped organization would otherwise become one, its policy change
	// its first event.
	_, stderr, code = runCLI(t, a, "", "retention", "show", "--org", "acme corp")
	if code != 2 || !strings.Contains(stderr, `organization id "acme corp" is not valid`) || strings.Contains(stderr, "it has") {
		t.Errorf("retention show of an invalid id: exit %d, stderr %q", code, stderr)
	}
	for _, args := range [][]string{
		{"retention", "show", "--org", "org-typo"},
		{"retention", "set", "--org", "org-typo", "--class", "operational", "--days", "30"},
		{"retention", "sweep", "--org", "org-typo", "--dry-run"},
	} {
		if _, stderr, code := runCLI(t, a, "", args...); code != 2 || !strings.Contains(stderr, want) {
			t.Errorf("%q: exit %d, stderr %q; want 2 and %q", args, code, stderr, want)
		}
	}
	if orgs, _ := a.store.Organizations(context.Background()); len(orgs) != 2 {
		t.Errorf("organizations after the refusals: %+v", orgs)
	}
	// The profile is opened once, also to name the organizations.
	opens := 0
	var out, errb bytes.Buffer
	root := NewRootCommand(CLIConfig{
		Version: "test",
		Open: func(context.Context, Globals) (*App, func() error, error) {
			opens++
			return a, func() error { return nil }, nil
		},
		Stdout: &out,
		Stderr: &errb,
	})
	root.SetArgs([]string{"keys", "rotate", "--org", "org-typo"})
	if err := root.ExecuteContext(context.Background()); opens != 1 || !strings.Contains(Explain(err), want) {
		t.Errorf("keys rotate of an unknown org: opened the profile %d times; %v", opens, err)
	}
}

func TestUnknownOrgError(t *testing.T) {
	many := make([]string, 25)
	for i := range many {
		many[i] = fmt.Sprintf("org-%02d", i)
	}
	for _, tt := range []struct {
		ids  []string
		want string
	}{
		{nil, `no organization "x": this profile has no events yet (append some, or choose another --profile or --data-dir)`},
		{[]string{"a"}, `no organization "x" in this profile; it has a`},
		{many, `no organization "x" in this profile; it has org-00, org-01, org-02, org-03, org-04, org-05, org-06, org-07, org-08, org-09, ` +
			`org-10, org-11, org-12, org-13, org-14, org-15, org-16, org-17, org-18, org-19 and 5 more`},
	} {
		err := unknownOrgError("x", tt.ids)
		// The whole message: no ": not found" trails the list.
		if !errors.Is(err, storage.ErrNotFound) || err.Error() != tt.want {
			t.Errorf("%d organizations: %v; want %q", len(tt.ids), err, tt.want)
		}
	}
}

// keys rotate acts only on an organization that exists, records each
// rotation, and rotates nothing while the log refuses appends.
func TestCLI_KeysRotate(t *testing.T) {
	a := TestApp(t)
	ctx := context.Background()
	if _, _, code := runCLI(t, a, mustJSON(t, TestEvent("org-a", 1, time.Now().Add(-time.Hour)))+"\n", "append"); code != 0 {
		t.Fatal("append failed")
	}
	_, stderr, code := runCLI(t, a, "", "keys", "rotate", "--org", "org-typo")
	if code != 2 || !strings.Contains(stderr, `no organization "org-typo"`) {
		t.Fatalf("unknown org: exit %d, %s", code, stderr)
	}
	if orgs, _ := a.organizations(ctx); len(orgs) != 1 {
		t.Fatalf("rotating an unknown org created one: %+v", orgs)
	}
	stdout, stderr, code := runCLI(t, a, "", "keys", "rotate", "--org", "org-a")
	if code != 0 || !strings.Contains(stdout, "data key 2") {
		t.Fatalf("rotate: exit %d, %q %s", code, stdout, stderr)
	}
	page, err := a.ListEvents(QueryDTO{Org: "org-a", ActionTypes: []string{"audit.key_rotated"}})
	if err != nil || len(page.Events) != 1 {
		t.Fatalf("rotation not recorded: %+v %v", page.Events, err)
	}
	if err := a.store.RaiseIntegrityAlert(ctx, "org-a", "test", nil); err != nil {
		t.Fatal(err)
	}
	_, stderr, code = runCLI(t, a, "", "keys", "rotate", "--org", "org-a")
	if code != 2 || !strings.Contains(stderr, "recover --acknowledge") {
		t.Fatalf("rotate during an alert: exit %d, %s", code, stderr)
	}
	if _, err := a.store.AcknowledgeIntegrityAlert(ctx, "org-a", "tester", "test over"); err != nil {
		t.Fatal(err)
	}
	// The refused rotation rotated nothing.
	if stdout, _, _ := runCLI(t, a, "", "keys", "rotate", "--org", "org-a"); !strings.Contains(stdout, "data key 3") ||
		!strings.Contains(stdout, `a new key-encryption key, "kek/org-a/2" in the profile's keystore, wraps it and re-wraps 2 earlier data keys`) {
		t.Fatalf("after the alert: %q, want data key 3 and its KEK", stdout)
	}
}

// The same use case through the binding, the REST API and the CLI gives the
// same answer.
func TestSameAnswerThroughBindingRESTAndCLI(t *testing.T) {
	f := newRESTFixture(t)
	q := QueryDTO{Org: "org-a", Limit: 7, Order: "oldest"}
	fromBinding, err := f.app.ListEvents(q)
	if err != nil {
		t.Fatal(err)
	}
	resp, b := f.do("GET", "/api/operations/events?org=org-a&limit=7&order=oldest", f.tokens["readA"], nil)
	if resp.StatusCode != 200 {
		t.Fatalf("REST: %d %s", resp.StatusCode, b)
	}
	var fromREST EventPageDTO
	if err := json.Unmarshal(b, &fromREST); err != nil {
		t.Fatal(err)
	}
	stdout, stderr, code := runCLI(t, f.app, "", "query", "--org", "org-a", "--limit", "7", "--order", "oldest", "--format", "jsonl")
	if code != 0 {
		t.Fatalf("CLI: %d %s", code, stderr)
	}
	var fromCLI []EventDTO
	for _, l := range strings.Split(strings.TrimSpace(stdout), "\n") {
		var e EventDTO
		if err := json.Unmarshal([]byte(l), &e); err != nil {
			t.Fatal(err)
		}
		fromCLI = append(fromCLI, e)
	}
	want := mustJSON(t, fromBinding.Events)
	if got := mustJSON(t, fromREST.Events); got != want {
		t.Errorf("REST differs from the binding:\n%s\n%s", got, want)
	}
	if got := mustJSON(t, fromCLI); got != want {
		t.Errorf("CLI differs from the binding:\n%s\n%s", got, want)
	}
	if len(fromBinding.Events) != 7 {
		t.Fatalf("want 7 events, got %d", len(fromBinding.Events))
	}
}

// The table's header lines up with its first page, and a query over more
// than one page prints every row (each page is flushed on its own).
func TestCLI_QueryTable(t *testing.T) {
	a := TestApp(t)
	in, _ := largeInput(t, "org-a", 0, storage.MaxLimit+20)
	if _, stderr, code := runCLI(t, a, in, "append"); code != 0 {
		t.Fatalf("append: %d %s", code, stderr)
	}
	// Every row lines up with the header, those of the second page
	// included: newest first its seqs have fewer digits, oldest first
	// more (seq 1000 and on).
	for _, order := range []string{"newest", "oldest"} {
		stdout, stderr, code := runCLI(t, a, "", "query", "--org", "org-a", "--limit", "0", "--order", order)
		if code != 0 {
			t.Fatalf("query: %d %s", code, stderr)
		}
		lines := strings.Split(strings.TrimSuffix(stdout, "\n"), "\n")
		if len(lines) != storage.MaxLimit+21 {
			t.Fatalf("%s first: %d lines, want the header and %d rows", order, len(lines), storage.MaxLimit+20)
		}
		head := lines[0]
		for n, row := range lines[1:] {
			for _, col := range []string{"SEQ", "ID", "ACTION", "USER", "RESOURCES"} {
				i := strings.Index(head, col)
				if i <= 0 || len(row) <= i || row[i-2:i] != "  " || row[i] == ' ' {
					t.Fatalf("%s first: column %s at %d of the header does not start a column of row %d:\n%s\n%s", order, col, i, n+1, head, row)
				}
			}
		}
	}
}

// A query the limit cut says so on stderr, and only then; stdout holds the
// events alone.
func TestCLI_QuerySaysWhenTheLimitCut(t *testing.T) {
	a := TestApp(t)
	total := storage.MaxLimit + 20
	in, _ := largeInput(t, "org-a", 0, total)
	if _, stderr, code := runCLI(t, a, in, "append"); code != 0 {
		t.Fatalf("append: %d %s", code, stderr)
	}
	for _, tc := range []struct {
		limit []string // none: the default
		rows  int
		cut   bool
	}{
		{nil, 100, true},
		{[]string{"--limit", "1"}, 1, true},
		{[]string{"--limit", strconv.Itoa(storage.MaxLimit)}, storage.MaxLimit, true},
		{[]string{"--limit", strconv.Itoa(total - 1)}, total - 1, true},
		{[]string{"--limit", strconv.Itoa(total)}, total, false},
		{[]string{"--limit", strconv.Itoa(total + 1)}, total, false},
		{[]string{"--limit", "0"}, total, false},
	} {
		args := append([]string{"query", "--org", "org-a", "--format", "jsonl"}, tc.limit...)
		stdout, stderr, code := runCLI(t, a, "", args...)
		if code != 0 {
			t.Fatalf("%v: exit %d %s", tc.limit, code, stderr)
		}
		if rows := strings.Count(stdout, "\n"); rows != tc.rows {
			t.Errorf("%v: %d events, want %d", tc.limit, rows, tc.rows)
		}
		first := "first " + count(int64(tc.rows), "matching event") + ";"
		if tc.rows == 1 {
			first = "printed the first matching event;"
		}
		if cut := strings.Contains(stderr, "more match"); cut != tc.cut || (tc.cut && !strings.Contains(stderr, first)) {
			t.Errorf("%v: stderr %q, want a note that more match: %v", tc.limit, stderr, tc.cut)
		}
	}
}

// A query that matches nothing says so on stderr; the table still has its
// header and jsonl prints nothing.
func TestCLI_QuerySaysWhenNothingMatches(t *testing.T) {
	a := TestApp(t)
	appendEventsN(t, a, "org-a", 3, 0)
	for format, want := range map[string]string{"table": "TIME", "jsonl": ""} {
		stdout, stderr, code := runCLI(t, a, "", "query", "--org", "org-a", "--user", "nobody", "--format", format)
		if code != 0 || stderr != "axiom-audit: no events of org-a match\n" || !strings.HasPrefix(stdout, want) || (want == "" && stdout != "") {
			t.Errorf("%s: exit %d, stdout %q, stderr %q", format, code, stdout, stderr)
		}
	}
	if _, stderr, _ := runCLI(t, a, "", "query", "--org", "org-a"); strings.Contains(stderr, "no events") {
		t.Errorf("a query with events says none match: %q", stderr)
	}
}

// A value with a newline or a terminal escape is shown escaped in the
// table: it draws no row of its own and moves no cursor.
func TestCLI_QueryTableEscapesControls(t *testing.T) {
	a := TestApp(t)
	e1 := TestEvent("org-a", 1, time.Now().Add(-2*time.Hour))
	e1.UserID = "mallory\n2026-01-01T00:00:00.000000000Z  999  user.signed_in  admin"
	e2 := TestEvent("org-a", 2, time.Now().Add(-time.Hour))
	e2.ResourceIDs = []string{"bucket\x1b[2K\rFORGED\u202egnp.exe"}
	if _, stderr, code := runCLI(t, a, mustJSON(t, e1)+"\n"+mustJSON(t, e2)+"\n", "append"); code != 0 {
		t.Fatalf("append: %d %s", code, stderr)
	}
	stdout, stderr, code := runCLI(t, a, "", "query", "--org", "org-a")
	if code != 0 {
		t.Fatalf("query: %d %s", code, stderr)
	}
	if n := strings.Count(stdout, "\n"); n != 3 {
		t.Fatalf("%d lines for a header and two events:\n%s", n, stdout)
	}
	for _, want := range []string{`mallory\n2026-01-01T00:00:00.000000000Z  999`, `bucket\x1b[2K\rFORGED\u202egnp.exe`} {
		if !strings.Contains(stdout, want) {
			t.Errorf("no %s in\n%s", want, stdout)
		}
	}
	if strings.ContainsAny(stdout, "\x1b\r\u202e") {
		t.Errorf("a control character reached the terminal: %q", stdout)
	}
}

func TestPrintable(t *testing.T) {
	for in, want := range map[string]string{
		"":                    "",
		"alice@example.com":   "alice@example.com",
		"café 東京":             "café 東京",
		"a\nb\tc\r":           `a\nb\tc\r`,
		"\x1b[31mred":         `\x1b[31mred`,
		"\x7f\u0085":          `\x7f\u0085`,
		"abc\u202edcba":       `abc\u202edcba`,
		"zero\u200bwidth":     `zero\u200bwidth`,
		"ls\u2028ps\u2029end": `ls\u2028ps\u2029end`,
		"bad\xffutf8":         `bad\xffutf8`,
		"\ufffd is a char":    "\ufffd is a char",
	} {
		if got := printable(in); got != want {
			t.Errorf("printable(%q) = %q, want %q", in, got, want)
		}
	}
}

// The columns of a long table are sized by the rows held; a wider cell
// after them widens its column from that row on, never narrows it.
func TestColumns(t *testing.T) {
	var b strings.Builder
	c := newColumns(&b, 2)
	for _, r := range [][]string{{"A", "B", "C"}, {"aaa", "b", "c"}, {"x", "y", "z"}, {"x", "bbbbb", "z"}, {"x", "y", "z"}} {
		if err := c.row(r...); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.flush(); err != nil {
		t.Fatal(err)
	}
	want := "A    B  C\n" +
		"aaa  b  c\n" +
		"x    y  z\n" +
		"x    bbbbb  z\n" +
		"x    y      z\n"
	if b.String() != want {
		t.Fatalf("got\n%s\nwant\n%s", b.String(), want)
	}
	// Minimum widths: a column as wide as its widest value can be never
	// widens.
	b.Reset()
	c = newColumns(&b, 1, 4)
	for _, r := range [][]string{{"SEQ", "X"}, {"999", "a"}, {"1000", "b"}} {
		c.row(r...)
	}
	c.flush()
	if want := "SEQ   X\n999   a\n1000  b\n"; b.String() != want {
		t.Fatalf("got %q, want %q", b.String(), want)
	}
	// Wide characters take two columns, combining marks none: the
	// columns after them line up on a terminal.
	b.Reset()
	c = newColumns(&b, 10)
	for _, r := range [][]string{{"RESOURCES", "X"}, {"バケット-東京", "a"}, {"cafe\u0301", "b"}, {"ｆｕｌｌ", "c"}, {"🙂", "d"}} {
		c.row(r...)
	}
	c.flush()
	// By grapheme cluster: Hangul written as its jamo (as macOS stores
	// file names), an emoji with a skin tone, one with the emoji
	// variation selector.
	for in, want := range map[string]int{"\u1112\u1161\u11ab": 2, "\ud55c": 2, "👍\U0001F3FD": 2, "\u2764\ufe0f": 2, "e\u0301": 1, "東京": 4, "abc": 3} {
		if got := displayWidth(in); got != want {
			t.Errorf("displayWidth(%+q) = %d, want %d", in, got, want)
		}
	}
	if want := "RESOURCES      X\n" +
		"バケット-東京  a\n" +
		"cafe\u0301           b\n" +
		"ｆｕｌｌ       c\n" +
		"🙂             d\n"; b.String() != want {
		t.Fatalf("got\n%s\nwant\n%s", b.String(), want)
	}
	// Fewer rows than held: written by flush, aligned as a whole.
	b.Reset()
	c = newColumns(&b, 10)
	c.row("TIME", "SEQ")
	c.row("2026-11-28T00:00:00Z", "7")
	if b.Len() != 0 {
		t.Fatal("rows written before the hold was reached or flush was called")
	}
	c.flush()
	if want := "TIME                  SEQ\n2026-11-28T00:00:00Z  7\n"; b.String() != want {
		t.Fatalf("got %q, want %q", b.String(), want)
	}
}

func TestCLI_TokenCreatePrintsTheTokenLast(t *testing.T) {
	a := TestApp(t)
	// An organization with no events yet needs --new-org: a typo must not
	// become an organization.
	_, stderr, code := runCLI(t, a, "", "token", "create", "--org", "org-a", "--scope", "append", "--expires", "30d")
	if code != 2 || !strings.Contains(stderr, `no organization "org-a"`) || !strings.Contains(stderr, "--new-org") {
		t.Fatalf("a token for an organization with no events: exit %d: %s", code, stderr)
	}
	if orgs, _ := a.organizations(context.Background()); len(orgs) != 0 {
		t.Fatalf("the refused token made an organization: %+v", orgs)
	}
	stdout, stderr, code := runCLI(t, a, "", "token", "create", "--org", "org-a", "--scope", "append", "--expires", "30d", "--new-org")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	lines := strings.Split(strings.TrimRight(stdout, "\n"), "\n")
	tok := lines[len(lines)-1]
	if !strings.HasPrefix(tok, tokenPrefix) || strings.ContainsRune(tok, ' ') {
		t.Fatalf("last line is not the token alone: %q", tok)
	}
	if _, err := a.authenticate(context.Background(), tok); err != nil {
		t.Fatalf("the printed token does not authenticate: %v", err)
	}
	list, _, _ := runCLI(t, a, "", "token", "list")
	if strings.Contains(list, tok) || strings.Contains(list, tok[len(tokenPrefix)+13:]) {
		t.Fatal("token list shows the secret")
	}
	// Break-glass: needs confirmation, a reason and at most 24h.
	_, _, code = runCLI(t, a, "no\n", "token", "create", "--org", "org-a", "--break-glass", "--reason", "incident", "--expires", "2h")
	if code == 0 {
		t.Fatal("break-glass without confirmation succeeded")
	}
	_, stderr, code = runCLI(t, a, "", "token", "create", "--org", "org-a", "--break-glass", "--reason", "incident", "--expires", "48h", "--yes")
	if code == 0 || !strings.Contains(stderr, "24h") {
		t.Fatalf("break-glass over 24h: exit %d %s", code, stderr)
	}
	_, stderr, code = runCLI(t, a, "yes\n", "token", "create", "--org", "org-a", "--break-glass", "--reason", "incident", "--expires", "2h")
	if code != 0 {
		t.Fatalf("confirmed break-glass: %d %s", code, stderr)
	}
}

func TestServe_RefusesNonLoopbackWithoutTLS(t *testing.T) {
	for _, tt := range []struct {
		o  ServeOptions
		ok bool
	}{
		{ServeOptions{Addr: "127.0.0.1:0"}, true},
		{ServeOptions{Addr: "localhost:8787"}, true},
		{ServeOptions{Addr: "[::1]:8787"}, true},
		{ServeOptions{Addr: "0.0.0.0:8787"}, false},
		{ServeOptions{Addr: ":8787"}, false},
		{ServeOptions{Addr: "192.0.2.1:8787", AllowRemote: true}, false},
		{ServeOptions{Addr: "192.0.2.1:8787", AllowRemote: true, TLSCert: "c", TLSKey: "k"}, true},
		{ServeOptions{Addr: "nonsense"}, false},
		{ServeOptions{Addr: "127.0.0.1:0", Hosts: []string{"audit.example"}}, false},
	} {
		if err := checkListenAddr(tt.o); (err == nil) != tt.ok {
			t.Errorf("%+v: err %v, want ok=%v", tt.o, err, tt.ok)
		}
	}
}

// largeInput is n events of org with ids, as JSON Lines, one per line.
func largeInput(t *testing.T, org string, from, n int) (string, []storage.Event) {
	t.Helper()
	var b strings.Builder
	evs := make([]storage.Event, n)
	for i := range evs {
		e := TestEvent(org, from+i, time.Now().Add(-time.Hour))
		e.ID = fmt.Sprintf("01900000-0000-7000-8000-%012d", from+i)
		evs[i] = e
		b.WriteString(mustJSON(t, e) + "\n")
	}
	return b.String(), evs
}

func receiptsOf(t *testing.T, stdout string) []ReceiptDTO {
	t.Helper()
	var rs []ReceiptDTO
	dec := json.NewDecoder(strings.NewReader(stdout))
	for dec.More() {
		var r ReceiptDTO
		if err := dec.Decode(&r); err != nil {
			t.Fatal(err)
		}
		rs = append(rs, r)
	}
	return rs
}

func orgSize(t *testing.T, a *App, org string) uint64 {
	t.Helper()
	orgs, err := a.store.Organizations(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range orgs {
		if o.ID == org {
			return o.Size
		}
	}
	return 0
}

// An input larger than one atomic commit is checked whole, then appended
// in commits: every line gets its receipt, in order, and a repeated id
// its first occurrence's; a conflict on any line, or a repeated id with
// other content, refuses the input whole.
func TestCLI_AppendLargeInput(t *testing.T) {
	a := TestApp(t)
	input, evs := largeInput(t, "org-a", 0, 2500)
	input += mustJSON(t, evs[2]) + "\n" // line 2501 repeats line 3
	stdout, stderr, code := runCLI(t, a, input, "append")
	if code != 0 {
		t.Fatalf("exit %d; stderr:\n%s", code, stderr)
	}
	rs := receiptsOf(t, stdout)
	if len(rs) != 2501 {
		t.Fatalf("%d receipts for 2501 lines", len(rs))
	}
	for i, r := range rs[:2500] {
		if r.ID != evs[i].ID || r.Seq != uint64(i+1) {
			t.Fatalf("line %d: receipt %+v, want id %s seq %d", i+1, r, evs[i].ID, i+1)
		}
	}
	if rs[2500] != rs[2] {
		t.Errorf("the repeated line's receipt %+v, want line 3's %+v", rs[2500], rs[2])
	}
	if n := orgSize(t, a, "org-a"); n != 2500 {
		t.Fatalf("%d events recorded, want 2500", n)
	}

	changed := evs[1500]
	changed.UserID = "mallory@example.com"
	more, moreEvs := largeInput(t, "org-a", 5000, 2000)
	other := moreEvs[10]
	other.UserID = "eve@example.com"
	for _, tt := range []struct {
		name, input string
		want        string
	}{
		{"a recorded id with other content on the last line", more + mustJSON(t, changed) + "\n", "line 2001: id: is already recorded with different content\n"},
		{"a repeated id with other content", more + mustJSON(t, other) + "\n", "line 2001: id: repeats the id of line 11 with different content\n"},
		{"a recorded id with other content on the first line", mustJSON(t, changed) + "\n" + more, "line 1: id: is already recorded with different content\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			stdout, stderr, code := runCLI(t, a, tt.input, "append")
			if code != ExitDataErr || stdout != "" {
				t.Fatalf("exit %d, stdout %d bytes; want %d and nothing", code, len(stdout), ExitDataErr)
			}
			want := tt.want
			if !strings.HasPrefix(stderr, want) || !strings.Contains(stderr, "nothing was written") {
				t.Errorf("stderr:\n%s\nwant it to begin with %q", stderr, want)
			}
			if n := orgSize(t, a, "org-a"); n != 2500 {
				t.Fatalf("%d events recorded after a refused input, want 2500", n)
			}
		})
	}
}

// flakyBackend refuses batches over maxBatch as too large, and fails the
// failAt-th append (from 1) with err.
type flakyBackend struct {
	*App
	maxBatch, failAt, calls int
	err                     error
}

func (f *flakyBackend) appendEvents(ctx context.Context, events []storage.Event) ([]storage.Receipt, error) {
	if f.maxBatch > 0 && len(events) > f.maxBatch {
		return nil, fmt.Errorf("%d events: %w", len(events), storage.ErrBatchTooLarge)
	}
	f.calls++
	if f.calls == f.failAt {
		return nil, f.err
	}
	return f.App.appendEvents(ctx, events)
}

// A commit the store finds too large is appended in halves; a commit that
// fails on the way leaves the lines before it recorded, their receipts
// printed, and the error names the first line that is not.
func TestCLI_AppendLinesInParts(t *testing.T) {
	cat, err := storage.LoadCatalogue()
	if err != nil {
		t.Fatal(err)
	}
	run := func(b eventBackend, input string) (string, error) {
		var out bytes.Buffer
		cmd := &cobra.Command{}
		cmd.SetOut(&out)
		cmd.SetErr(&out)
		cmd.SetContext(context.Background())
		err := appendInput(cmd, cat, b, bytesSource([]byte(input)))
		return out.String(), err
	}
	t.Run("halves", func(t *testing.T) {
		a := TestApp(t)
		input, evs := largeInput(t, "org-a", 0, 100)
		out, err := run(&flakyBackend{App: a, maxBatch: 30}, input)
		if err != nil {
			t.Fatal(err)
		}
		rs := receiptsOf(t, out)
		if len(rs) != 100 || rs[99].Seq != 100 || rs[99].ID != evs[99].ID || orgSize(t, a, "org-a") != 100 {
			t.Fatalf("%d receipts, %d recorded", len(rs), orgSize(t, a, "org-a"))
		}
	})
	t.Run("fails on the way", func(t *testing.T) {
		a := TestApp(t)
		input, _ := largeInput(t, "org-a", 0, 1000)
		disk := errors.New("no space left on device")
		out, err := run(&flakyBackend{App: a, failAt: 3, err: disk}, input)
		if !errors.Is(err, disk) || !strings.Contains(err.Error(), "up to line 512 are recorded") ||
			!strings.Contains(err.Error(), "from line 513 on are not") {
			t.Fatalf("error %v", err)
		}
		if rs := receiptsOf(t, out); len(rs) != 512 || orgSize(t, a, "org-a") != 512 {
			t.Fatalf("%d receipts, %d recorded; want 512 each", len(rs), orgSize(t, a, "org-a"))
		}
	})
}

// changingSource reads first for its first `same` reads, then second.
func changingSource(first, second string, same int) source {
	reads := 0
	return func() (io.ReadCloser, error) {
		reads++
		if reads <= same {
			return io.NopCloser(strings.NewReader(first)), nil
		}
		return io.NopCloser(strings.NewReader(second)), nil
	}
}

// A file read twice must read the same: a commit that reads differently
// the second time is not appended, nor is what was added after the check.
func TestCLI_AppendInputChangedBetweenPasses(t *testing.T) {
	cat, err := storage.LoadCatalogue()
	if err != nil {
		t.Fatal(err)
	}
	input, evs := largeInput(t, "org-a", 0, 600)
	lines := strings.SplitAfter(input, "\n")
	edited := slices.Clone(lines)
	changed := evs[300]
	changed.UserID = "mallory@example.com"
	edited[300] = mustJSON(t, changed) + "\n"
	grown, _ := largeInput(t, "org-a", 600, 10)
	// Reads: 1 validates, 2 checks against the log, 3 appends.
	for _, tt := range []struct {
		name, second, want string
		same               int
		recorded           uint64
	}{
		{"a line edited", strings.Join(edited, ""), "the input changed after it was validated; nothing was written", 1, 0},
		{"lines added", input + grown, "the input changed after it was validated; nothing was written", 1, 0},
		{"lines removed", strings.Join(lines[:550], ""), "the input changed after it was validated; nothing was written", 1, 0},
		{"a line edited while appending", strings.Join(edited, ""),
			"the events up to line 256 are recorded (their receipts are above), those after it are not: the input changed", 2, 256},
		{"lines added while appending", input + grown,
			"the events up to line 600 are recorded (their receipts are above), those after it are not: the input changed", 2, 600},
		{"lines removed while appending", strings.Join(lines[:550], ""),
			"the events up to line 512 are recorded (their receipts are above), those after it are not: the input changed", 2, 512},
	} {
		t.Run(tt.name, func(t *testing.T) {
			a := TestApp(t)
			var out bytes.Buffer
			cmd := &cobra.Command{}
			cmd.SetOut(&out)
			cmd.SetContext(context.Background())
			err := appendInput(cmd, cat, a, changingSource(input, tt.second, tt.same))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want %q", err, tt.want)
			}
			if n := orgSize(t, a, "org-a"); n != tt.recorded || uint64(len(receiptsOf(t, out.String()))) != tt.recorded {
				t.Fatalf("%d recorded, %d receipts; want %d", n, len(receiptsOf(t, out.String())), tt.recorded)
			}
		})
	}
}

// Every line is validated before the log is opened: an invalid input is
// refused (exit 65) without a keychain and without creating a profile,
// and an empty one opens nothing.
func TestCLI_AppendValidatesBeforeOpening(t *testing.T) {
	opened := 0
	run := func(stdin string) (string, int) {
		var out, errb bytes.Buffer
		root := NewRootCommand(CLIConfig{Version: "test", Stdout: &out, Stderr: &errb,
			Open: func(context.Context, Globals) (*App, func() error, error) {
				opened++
				return nil, nil, fmt.Errorf("the keychain is locked: %w", storage.ErrKeychainUnavailable)
			}})
		root.SetIn(strings.NewReader(stdin))
		root.SetArgs([]string{"append"})
		err := root.ExecuteContext(context.Background())
		return errb.String(), ExitCode(err)
	}
	stderr, code := run(`{"bad":1}` + "\n")
	if code != ExitDataErr || !strings.HasPrefix(stderr, "line 1: ") || opened != 0 {
		t.Fatalf("invalid input: exit %d, opened %d times, stderr %q", code, opened, stderr)
	}
	if _, code := run("\n\n"); code != 0 || opened != 0 {
		t.Fatalf("empty input: exit %d, opened %d times", code, opened)
	}
	if _, code := run(mustJSON(t, TestEvent("org-a", 1, time.Now().Add(-time.Hour))) + "\n"); code != 2 || opened != 1 {
		t.Fatalf("valid input without a keychain: exit %d, opened %d times", code, opened)
	}
}

// Commits are planned by the events' size as sent too, so that each
// check and append through the desktop app's API fits in a request.
func TestCLI_AppendPlansBySize(t *testing.T) {
	cat, err := storage.LoadCatalogue()
	if err != nil {
		t.Fatal(err)
	}
	state := `{"blob":"` + strings.Repeat("x", 200<<10) + `"}`
	var b strings.Builder
	for i := range 100 {
		e := TestEvent("org-a", i, time.Now().Add(-time.Hour))
		e.AfterState = []byte(state)
		b.WriteString(mustJSON(t, e) + "\n")
	}
	plan, err := planInput(bytesSource([]byte(b.String())), cat)
	if err != nil || plan.events != 100 {
		t.Fatal(plan.events, err)
	}
	for _, c := range plan.chunks {
		if c.n*(200<<10) > chunkBody {
			t.Fatalf("a commit of %d events of 200 KB: over %d bytes", c.n, chunkBody)
		}
	}
}

// A desktop app that does not know the check route must make the append
// fail before anything is written, not append during the check.
func TestRemote_CheckNeedsTheCheckRoute(t *testing.T) {
	appended := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/operations/events" {
			http.NotFound(w, r)
			return
		}
		appended++
		w.WriteHeader(http.StatusCreated)
		io.WriteString(w, "[]")
	}))
	defer srv.Close()
	r := &RemoteClient{base: srv.URL, secret: "s", client: srv.Client()}
	_, err := r.checkConflicts(context.Background(), []storage.Event{TestEvent("org-a", 1, time.Now())})
	if err == nil || appended != 0 {
		t.Fatalf("check against an older app: %v, %d appends", err, appended)
	}
}

// The log's own events (category audit) cannot be appended by producers:
// not from a file, not over the API.
func TestProducersCannotAppendAuditEvents(t *testing.T) {
	a := TestApp(t)
	e := TestEvent("org-a", 1, time.Now().Add(-time.Hour))
	e.ActionType = "audit.key_rotated"
	e.Metadata = []byte(`{"keyId":"9"}`)
	_, stderr, code := runCLI(t, a, mustJSON(t, e)+"\n", "append")
	if code != ExitDataErr || !strings.Contains(stderr, "line 1: actionType: audit.* events are the log's own") {
		t.Fatalf("append: exit %d, stderr %q", code, stderr)
	}
	if _, err := a.AppendEvents([]storage.Event{e}); !errors.Is(err, storage.ErrInvalidEvent) {
		t.Fatalf("AppendEvents: %v", err)
	}
	if _, err := a.checkConflicts(context.Background(), []storage.Event{e}); !errors.Is(err, storage.ErrInvalidEvent) {
		t.Fatalf("checkConflicts: %v", err)
	}
	if n := orgSize(t, a, "org-a"); n != 0 {
		t.Fatalf("%d events recorded", n)
	}
	f := newRESTFixture(t)
	for _, body := range []string{mustJSON(t, []storage.Event{e}), mustJSON(t, e) + "\n"} {
		resp, b := f.do("POST", "/api/operations/events", f.tokens["appendA"], strings.NewReader(body))
		if resp.StatusCode != 422 || !strings.Contains(string(b), "log's own") {
			t.Fatalf("POST: %d %s", resp.StatusCode, b)
		}
	}
}

// Nor can they append to the profile's own organization, whose app start
// and stop and copies for audit the app alone records; no append token is
// made for it.
func TestProducersCannotAppendToTheSystemOrg(t *testing.T) {
	a := TestApp(t)
	e := TestEvent(SystemOrg, 1, time.Now().Add(-time.Hour))
	_, stderr, code := runCLI(t, a, mustJSON(t, e)+"\n", "append")
	if code != ExitDataErr || !strings.Contains(stderr, "line 1: organizationId: axiom-audit is the organization of the profile's own events") {
		t.Fatalf("append: exit %d, stderr %q", code, stderr)
	}
	if _, err := a.AppendEvents([]storage.Event{e}); !errors.Is(err, storage.ErrInvalidEvent) {
		t.Fatalf("AppendEvents: %v", err)
	}
	if n := orgSize(t, a, SystemOrg); n != 0 {
		t.Fatalf("%d events recorded", n)
	}
	if _, stderr, code := runCLI(t, a, "", "token", "create", "--org", SystemOrg, "--scope", "append"); code != 2 || !strings.Contains(stderr, "--org: axiom-audit is the organization") {
		t.Fatalf("token create: exit %d, stderr %q", code, stderr)
	}
}

// serve --allow-remote on a wildcard address accepts the Host of this
// machine's name, its interface addresses and the --host names, and
// still refuses others; its login link names a reachable host.
func TestServe_RemoteHosts(t *testing.T) {
	hosts := remoteHosts("0.0.0.0:8787", []string{"audit.example.internal"})
	if len(hosts) < 2 || hosts[0] != "audit.example.internal" {
		t.Fatalf("hosts %v", hosts)
	}
	if name, err := os.Hostname(); err == nil && !slices.Contains(hosts, name) {
		t.Errorf("the machine's name %q is not among %v", name, hosts)
	}
	if got := remoteHosts("192.0.2.7:8787", nil); !slices.Equal(got, []string{"192.0.2.7"}) {
		t.Errorf("a fixed address: %v", got)
	}
	a := TestApp(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	link := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- a.serve(ctx, ln, ServeOptions{Addr: "0.0.0.0:8787", AllowRemote: true, Hosts: []string{"audit.example.internal"}, LoginToken: "t"},
			func(url string) { link <- url })
	}()
	if u := <-link; !strings.HasPrefix(u, "http://audit.example.internal:") {
		t.Errorf("login link %q", u)
	}
	for host, want := range map[string]int{"audit.example.internal:8787": 200, "evil.example": 403} {
		req, _ := http.NewRequest("GET", "http://"+ln.Addr().String()+"/api/openapi.json", nil)
		req.Host = host
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("Host %s: %d, want %d", host, resp.StatusCode, want)
		}
	}
	cancel()
	if err := <-done; err != nil && !errors.Is(err, http.ErrServerClosed) {
		t.Fatal(err)
	}
}

// roundTripFunc is an http.RoundTripper.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// smallChecks is the App as a backend whose check refuses more than max
// events in one request, as a desktop app refuses a body over
// MaxRequestBody.
type smallChecks struct {
	*App
	max int
}

func (b smallChecks) checkConflicts(ctx context.Context, events []storage.Event) ([]storage.Conflict, error) {
	if len(events) > b.max {
		return nil, storage.ErrBatchTooLarge
	}
	return b.App.checkConflicts(ctx, events)
}

// A commit checked in parts (its request too large) is held to what one
// request would have found: an id repeated across the parts with other
// content is named, and nothing is written.
func TestCLI_AppendCheckedInPartsFindsRepeatsAcrossThem(t *testing.T) {
	a := TestApp(t)
	_, evs := largeInput(t, "org-a", 0, 6)
	changed := evs[0]
	changed.UserID = "mallory@example.com"
	var in strings.Builder
	for _, e := range append(evs, changed, evs[1]) {
		in.WriteString(mustJSON(t, e) + "\n")
	}
	stdout, stderr, err := appendThrough(t, smallChecks{a, 2}, in.String())
	if ExitCode(err) != ExitDataErr || stdout != "" || stderr != "line 7: id: repeats the id of line 1 with different content\n" {
		t.Fatalf("%v, stdout %d bytes, stderr %q; want line 7 named", err, len(stdout), stderr)
	}
	if n := orgSize(t, a, "org-a"); n != 0 {
		t.Fatalf("%d events recorded, want none", n)
	}
}

// racingBackend records conflict, an event with a later line's id and
// other content, just before the first append whose first event has id
// trigger: a conflict created after the input was checked. It refuses
// batches over maxBatch as too large (0: no limit), so that commits are
// appended in halves.
type racingBackend struct {
	*App
	conflict  storage.Event
	trigger   string
	maxBatch  int
	triggered bool
}

func (r *racingBackend) appendEvents(ctx context.Context, events []storage.Event) ([]storage.Receipt, error) {
	if !r.triggered && events[0].ID == r.trigger {
		r.triggered = true
		if _, err := r.App.appendEvents(ctx, []storage.Event{r.conflict}); err != nil {
			return nil, err
		}
	}
	if r.maxBatch > 0 && len(events) > r.maxBatch {
		return nil, fmt.Errorf("%d events: %w", len(events), storage.ErrBatchTooLarge)
	}
	return r.App.appendEvents(ctx, events)
}

// A conflict created after the check, in a later commit than the first,
// names its line, says what is recorded and exits 65 as a conflict does;
// also when that commit goes in halves and the conflict is in the second.
func TestCLI_AppendConflictAfterTheCheckNamesTheLine(t *testing.T) {
	for _, tc := range []struct {
		name            string
		at, maxBatch    int // the conflicting event's index; the largest batch appended whole
		recorded, first int // the last line recorded; the first not
	}{
		{"whole commits", chunkEvents + 23, 0, chunkEvents, chunkEvents + 1},
		{"in halves", chunkEvents + 200, chunkEvents / 2, chunkEvents + chunkEvents/2, chunkEvents + chunkEvents/2 + 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := TestApp(t)
			input, evs := largeInput(t, "org-a", 0, 2*chunkEvents)
			conflict := evs[tc.at]
			conflict.UserID = "someone-else"
			b := &racingBackend{App: a, conflict: conflict, trigger: evs[chunkEvents].ID, maxBatch: tc.maxBatch}
			stdout, stderr, err := appendThrough(t, b, input)
			var ee *ExitError
			if !errors.As(err, &ee) || ee.Code != ExitDataErr {
				t.Fatalf("exit: %v, want %d", err, ExitDataErr)
			}
			line := tc.at + 1
			if want := fmt.Sprintf("line %d: id: is already recorded with different content\n", line); stderr != want {
				t.Errorf("stderr %q, want %q", stderr, want)
			}
			msg := err.Error()
			if !strings.Contains(msg, fmt.Sprintf("the events up to line %d are recorded", tc.recorded)) ||
				!strings.Contains(msg, fmt.Sprintf("from line %d on are not: line %d conflicts", tc.first, line)) ||
				strings.Contains(msg, "nothing was written") || strings.Contains(msg, "index") {
				t.Errorf("message %q", msg)
			}
			if rs := receiptsOf(t, stdout); len(rs) != tc.recorded {
				t.Errorf("%d receipts, want %d", len(rs), tc.recorded)
			}
		})
	}
}

// appendThrough runs append's validation, check and append of input with b
// as the backend (the App, or a desktop app's API).
func appendThrough(t *testing.T, b eventBackend, input string) (stdout, stderr string, err error) {
	t.Helper()
	cat, err := storage.LoadCatalogue()
	if err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	cmd := &cobra.Command{}
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	cmd.SetContext(context.Background())
	err = appendInput(cmd, cat, b, bytesSource([]byte(input)))
	return out.String(), errOut.String(), err
}

// append names the conflicts of an input as one check of the whole input
// would (Store.CheckConflicts), however it is split: into commits of
// chunkEvents, and each commit into parts when its check request is too
// large. Inputs draw ids from a small pool, some recorded in the log
// beforehand, each line with one of three contents.
func TestCLI_AppendConflictsAsOneCheck(t *testing.T) {
	ctx := context.Background()
	at := time.Now().Add(-time.Hour).Truncate(time.Second)
	const pool = 5
	event := func(id, variant int) storage.Event {
		e := TestEvent("org-a", id, at)
		e.ID = fmt.Sprintf("01900000-0000-7000-8000-%012d", id)
		e.UserID = fmt.Sprintf("user-%d@example.com", variant)
		return e
	}
	rng := rand.New(rand.NewPCG(7, 11))
	for trial := range 16 {
		n := 4 + rng.IntN(9)
		if trial%4 == 3 {
			n = chunkEvents + 40 + rng.IntN(chunkEvents) // two or three commits
		}
		var recorded []storage.Event
		for id := range pool {
			if rng.IntN(3) == 0 {
				recorded = append(recorded, event(id, rng.IntN(3)))
			}
		}
		evs := make([]storage.Event, n)
		var in strings.Builder
		for i := range evs {
			if rng.IntN(4) == 0 || n <= 12 {
				evs[i] = event(rng.IntN(pool), rng.IntN(3))
			} else {
				evs[i] = event(1000+i, 0) // a line of its own
			}
			in.WriteString(mustJSON(t, evs[i]) + "\n")
		}
		for _, max := range []int{2, 3, 5, 1 << 20} { // a pair always fits a request (32 MiB, events of at most 1 MiB)
			a := TestApp(t)
			if len(recorded) > 0 {
				if _, err := a.store.Append(ctx, recorded); err != nil {
					t.Fatal(err)
				}
			}
			// What one check of the whole input names.
			cs, err := a.checkConflicts(ctx, evs)
			if err != nil {
				t.Fatal(err)
			}
			var want strings.Builder
			for _, c := range cs {
				reason := conflictReason
				if c.Earlier >= 0 {
					reason = repeatReason(c.Earlier + 1)
				}
				fmt.Fprintln(&want, lineProblem{c.Index + 1, "id", reason})
			}
			_, stderr, err := appendThrough(t, smallChecks{a, max}, in.String())
			if stderr != want.String() {
				t.Fatalf("trial %d (%d lines, %d recorded), checks of at most %d events:\n%s\nwant:\n%s\ninput ids and contents:\n%s",
					trial, n, len(recorded), max, stderr, want.String(), describe(evs, recorded))
			}
			if (len(cs) > 0) != (ExitCode(err) == ExitDataErr) {
				t.Fatalf("trial %d: %d conflicts, exit %d (%v)", trial, len(cs), ExitCode(err), err)
			}
		}
	}
}

// describe lists the events of a conflict test by id and user.
func describe(evs, recorded []storage.Event) string {
	var b strings.Builder
	for _, e := range recorded {
		fmt.Fprintf(&b, "recorded %s %s\n", e.ID[24:], e.UserID)
	}
	for i, e := range evs {
		if i < 40 {
			fmt.Fprintf(&b, "line %d %s %s\n", i+1, e.ID[24:], e.UserID)
		}
	}
	return b.String()
}

// countedChecks counts the check requests made through it, refusing any of
// more than max events as too large.
type countedChecks struct {
	eventBackend
	max int
	n   *int
}

func (b countedChecks) checkConflicts(ctx context.Context, events []storage.Event) ([]storage.Conflict, error) {
	*b.n++
	if len(events) > b.max {
		return nil, storage.ErrBatchTooLarge
	}
	return b.eventBackend.checkConflicts(ctx, events)
}

// An input that is a batch twice (every id repeated in a later commit) is
// checked in a few requests, not one per line; and the same when the
// requests must be small. Its second half changed on one line names that
// line only.
func TestCLI_AppendRepeatedBatchIsCheckedInFewRequests(t *testing.T) {
	in, evs := largeInput(t, "org-a", 0, 2000)
	changed := evs[1500]
	changed.UserID = "mallory@example.com"
	doubled := in + strings.Replace(in, mustJSON(t, evs[1500]), mustJSON(t, changed), 1)
	commits := (4000 + chunkEvents - 1) / chunkEvents
	for _, max := range []int{1 << 20, 300} {
		n := 0
		_, stderr, err := appendThrough(t, countedChecks{TestApp(t), max, &n}, doubled)
		if ExitCode(err) != ExitDataErr || stderr != "line 3501: id: repeats the id of line 1501 with different content\n" {
			t.Fatalf("checks of at most %d events: %v, stderr %q", max, err, stderr)
		}
		if n > 3*commits+20 {
			t.Errorf("checks of at most %d events: %d check requests for %d commits", max, n, commits)
		}
	}
	n := 0
	stdout, _, err := appendThrough(t, countedChecks{TestApp(t), 1 << 20, &n}, in+in)
	if err != nil || len(receiptsOf(t, stdout)) != 4000 {
		t.Fatalf("the batch twice: %v, %d receipts", err, len(receiptsOf(t, stdout)))
	}
	if n > commits+2 {
		t.Errorf("the batch twice: %d check requests for %d commits", n, commits)
	}
}

func TestCheckDisplay(t *testing.T) {
	for _, tc := range []struct {
		goos        string
		display, wl string
		wantErr     bool
	}{
		{"linux", "", "", true},
		{"linux", ":0", "", false},
		{"linux", "", "wayland-0", false},
		{"freebsd", "", "", true},
		{"windows", "", "", false},
		{"darwin", "", "", false},
	} {
		env := map[string]string{"DISPLAY": tc.display, "WAYLAND_DISPLAY": tc.wl}
		err := checkDisplay(tc.goos, func(k string) string { return env[k] })
		if (err != nil) != tc.wantErr {
			t.Errorf("%s DISPLAY=%q WAYLAND_DISPLAY=%q: %v, want error %v", tc.goos, tc.display, tc.wl, err, tc.wantErr)
		}
	}
}

// Without a display the window is refused in one line, before the profile
// is opened (so nothing is created), instead of GTK's panic.
func TestCLI_NoDisplay(t *testing.T) {
	if runtime.GOOS == "windows" || runtime.GOOS == "darwin" {
		t.Skip("Windows and macOS always have a display")
	}
	t.Setenv("DISPLAY", "")
	t.Setenv("WAYLAND_DISPLAY", "")
	opened := false
	_, stderr, code := runRoot(t, func(context.Context, Globals) (*App, func() error, error) {
		opened = true
		return nil, nil, errors.New("opened")
	}, "")
	if code != 2 || opened || strings.Count(stderr, "\n") != 1 ||
		!strings.Contains(stderr, "no display") || !strings.Contains(stderr, "axiom-audit serve") {
		t.Fatalf("exit %d, opened %v, stderr:\n%s", code, opened, stderr)
	}
}

func TestCount(t *testing.T) {
	for _, tc := range []struct {
		n    int64
		want string
	}{{0, "0 events"}, {1, "1 event"}, {2, "2 events"}, {1000, "1000 events"}} {
		if got := count(tc.n, "event"); got != tc.want {
			t.Errorf("count(%d) = %q, want %q", tc.n, got, tc.want)
		}
	}
}

// An audit.* line is refused first for being one, and what the catalogue
// asks of such an event's metadata, which no producer can append, is not
// listed; its other problems are.
func TestCLI_AppendAuditEventIsRefusedFirst(t *testing.T) {
	a := TestApp(t)
	line := `{"id":"0190aaaa-0000-7000-8000-000000000001","timestamp":"2026-03-01T12:00:00+01:00","organizationId":"acme",` +
		`"userId":"u","provider":"aws","actionType":"audit.exported","resourceIds":[],"status":"applied","riskLevel":"low"}`
	_, stderr, code := runCLI(t, a, line+"\n", "append")
	if code != ExitDataErr || !strings.Contains(stderr, "line 1: actionType: audit.* events are the log's own record") ||
		!strings.Contains(stderr, "line 1: timestamp: ") || strings.Contains(stderr, "metadata") {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr)
	}
}

// The README's example event appends as shown.
func TestREADME_ExampleEventIsValid(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(readme), "One line of `events.jsonl`")
	_, rest, ok2 := strings.Cut(rest, "```json\n")
	line, _, ok3 := strings.Cut(rest, "\n```")
	if !ok || !ok2 || !ok3 {
		t.Fatal("the README has no example event line")
	}
	a := TestApp(t)
	stdout, stderr, code := runCLI(t, a, line+"\n", "append")
	if code != 0 || !strings.Contains(stdout, `"seq":1`) {
		t.Fatalf("the README's example: exit %d %s%s", code, stdout, stderr)
	}
}

// An append through the desktop app (or serve) whose commit was carried
// out but never answered (the app stopped, the connection broke) is not
// reported as not written: the lines of that commit may be recorded, and
// the message says so, and how to go on without duplicating them.
func TestCLI_AppendUnansweredCommitIsNotCalledUnwritten(t *testing.T) {
	for _, answer := range []string{"none", "broken off"} {
		t.Run(answer, func(t *testing.T) {
			a := TestApp(t)
			api := a.Handler(HandlerOptions{LocalSecret: "s"})
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Method != "POST" || r.URL.Path != "/api/operations/events" {
					api.ServeHTTP(w, r)
					return
				}
				api.ServeHTTP(httptest.NewRecorder(), r) // carried out ...
				conn, buf, err := w.(http.Hijacker).Hijack()
				if err != nil {
					return
				}
				if answer == "broken off" { // ... its answer begun and cut
					buf.WriteString("HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n[{\"id\"")
					buf.Flush()
				}
				conn.Close() // ... and never (wholly) answered
			}))
			defer srv.Close()
			var lines strings.Builder
			for i := range 5 {
				lines.WriteString(mustJSON(t, TestEvent("org-a", i, time.Now().Add(-time.Hour))) + "\n")
			}
			var out, errb bytes.Buffer
			root := NewRootCommand(CLIConfig{Version: "test",
				Open: func(context.Context, Globals) (*App, func() error, error) {
					return nil, nil, fmt.Errorf("the audit log is open in another process: %w", storage.ErrLocked)
				},
				Remote: func(context.Context, Globals) (*RemoteClient, error) {
					return &RemoteClient{base: srv.URL, secret: "s", client: srv.Client()}, nil
				},
				Stdout: &out, Stderr: &errb})
			root.SetIn(strings.NewReader(lines.String()))
			root.SetArgs([]string{"append", "-"})
			err := root.ExecuteContext(context.Background())
			msg := Explain(err)
			if err == nil || strings.Contains(msg, "nothing was written") ||
				!strings.Contains(msg, "lines 1 to 5 were sent as one commit and not answered, so they may or may not be recorded; no event before them is recorded") ||
				!strings.Contains(msg, "look for the others (query) before appending them again") {
				t.Fatalf("append: %v\n%s", err, msg)
			}
			if n := orgSize(t, a, "org-a"); n != 5 {
				t.Fatalf("%d events recorded, want the 5 of the unanswered commit", n)
			}
		})
	}
}

// An input without events (empty, blank lines, a byte order mark alone)
// is not an error, but append says so rather than exit in silence.
func TestCLI_AppendOfNothingSaysSo(t *testing.T) {
	a := TestApp(t)
	for _, in := range []string{"", "\n\n  \n", "\ufeff"} {
		stdout, stderr, code := runCLI(t, a, in, "append", "-")
		if code != 0 || stdout != "" || !strings.Contains(stderr, "the input holds no events") {
			t.Errorf("%q: exit %d, stdout %q, stderr %q", in, code, stdout, stderr)
		}
	}
}

// Without the key-encryption key an organization's keys are wrapped with,
// query prints the events and says their states are sealed, and verify
// says what it cannot check and how to check the rest.
func TestCLI_MissingKEK(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	ks := keystore.NewMemory()
	st, err := storage.Open(ctx, filepath.Join(dir, "log"), ks, storage.Options{GCInterval: -1, RetentionGrace: -1})
	if err != nil {
		t.Fatal(err)
	}
	e := TestEvent("org-a", 1, time.Now().Add(-time.Hour))
	e.BeforeState, e.AfterState = json.RawMessage(`{"size":"small"}`), json.RawMessage(`{"size":"large"}`)
	if _, err := st.Append(ctx, []storage.Event{e}); err != nil {
		t.Fatal(err)
	}
	rot, err := st.RotateDataKey(ctx, "org-a", "tester")
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	if err := ks.Delete(ctx, rot.KeyEncryptionKey); err != nil {
		t.Fatal(err)
	}
	st, err = storage.Open(ctx, filepath.Join(dir, "log"), ks, storage.Options{GCInterval: -1, RetentionGrace: -1})
	if err != nil {
		t.Fatal(err)
	}
	a := appOver(t, st, Options{Keystore: ks, Paths: Paths{Profile: "p", DataDir: dir}, User: "tester"})
	out, stderr, code := runCLI(t, a, "", "query", "--org", "org-a", "--format", "jsonl")
	if code != 0 || !strings.Contains(out, `"statesSealed":true`) ||
		!strings.Contains(stderr, "warning: the states of 1 printed event could not be decrypted") {
		t.Fatalf("query without the KEK: exit %d\n%s%s", code, out, stderr)
	}
	_, stderr, code = runCLI(t, a, "", "verify", "--org", "org-a")
	if code != 2 || !strings.Contains(stderr, `"kek/org-a/1"`) || !strings.Contains(stderr, "--keyless") {
		t.Fatalf("verify without the KEK: exit %d\n%s", code, stderr)
	}
	if out, stderr, code := runCLI(t, a, "", "verify", "--org", "org-a", "--keyless"); code != 0 {
		t.Fatalf("verify --keyless without the KEK: exit %d\n%s%s", code, out, stderr)
	}
}

// A flag that takes one value refuses a second, naming both, instead of
// the last one winning; repeatable flags still repeat.
func TestCLI_OneValueFlagsRefuseRepeats(t *testing.T) {
	a := TestApp(t)
	if _, _, code := runCLI(t, a, mustJSON(t, TestEvent("org-a", 1, time.Now().Add(-time.Hour)))+"\n", "append"); code != 0 {
		t.Fatal("append failed")
	}
	for _, args := range [][]string{
		{"query", "--org", "org-a", "--text", "a", "--text", "b"},
		{"query", "--org", "org-a", "--resource", "x", "--resource", "y"},
		{"query", "--org", "org-b", "--org", "org-a"},
		{"query", "--org", "org-a", "--limit", "5", "--limit", "6"},
		{"keys", "rotate", "--org", "org-a", "--org", "org-b"},
	} {
		_, stderr, code := runCLI(t, a, "", args...)
		if code != 2 || !strings.Contains(stderr, "given twice") || !strings.Contains(stderr, "it takes one value") {
			t.Errorf("%v: exit %d, %s; want exit 2 naming the repeated flag", args, code, stderr)
		}
	}
	page, err := a.ListEvents(QueryDTO{Org: "org-a", ActionTypes: []string{"audit.key_rotated"}})
	if err != nil || len(page.Events) != 0 {
		t.Fatalf("a refused keys rotate rotated: %+v, %v", page.Events, err)
	}
	// The filters that name values repeat, as over REST and in the UI:
	// any of them.
	for _, args := range [][]string{
		{"--category", "user", "--category", "scan"},
		{"--provider", "gcp", "--provider", "aws"},
		{"--status", "failed", "--status", "applied"},
		{"--risk", "high", "--risk", "low"},
		{"--user", "nobody", "--user", "alice@example.com"},
	} {
		if out, stderr, code := runCLI(t, a, "", append([]string{"query", "--org", "org-a"}, args...)...); code != 0 || !strings.Contains(out, "user.signed_in") {
			t.Errorf("repeated %s: exit %d\n%s%s", args[0], code, out, stderr)
		}
	}
	if _, stderr, code := runCLI(t, a, "", "query", "--org", "org-a", "--status", ""); code != 2 || !strings.Contains(stderr, "--status: is empty") {
		t.Errorf("an empty --status: exit %d, %s", code, stderr)
	}
	// A global flag an alias may set is overridden, not refused.
	if out, stderr, code := runCLI(t, a, "", "--keystore", "file", "--keystore", "keychain", "query", "--org", "org-a"); code != 0 {
		t.Errorf("a repeated global flag: exit %d\n%s%s", code, out, stderr)
	}
}

// serve on a port another program holds says so and how to pick another.
func TestServe_PortInUse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	a := TestApp(t)
	_, stderr, code := runCLI(t, a, "", "serve", "--addr", ln.Addr().String())
	if code == 0 || !strings.Contains(stderr, "uses that port: choose another with --addr") {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
}
