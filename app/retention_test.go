package app

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/axiomops/axiom-audit/storage"
)

func TestCLI_Retention(t *testing.T) {
	a := TestApp(t)
	ctx := context.Background()
	now := time.Now().UTC()
	rs, err := a.appendEvents(ctx, []storage.Event{
		TestEvent("org-a", 1, now.Add(-100*24*time.Hour)), // past the default 90 days
		TestEvent("org-a", 2, now.Add(-40*24*time.Hour)),  // past 30 days
		TestEvent("org-a", 3, now.Add(-24*time.Hour)),
		TestEvent("org-b", 4, now.Add(-24*time.Hour)),
	})
	if err != nil {
		t.Fatal(err)
	}

	out, stderr, code := runCLI(t, a, "", "retention", "show", "--org", "org-a")
	if code != 0 || !strings.Contains(out, "operational") || !strings.Contains(out, "90 days") || !strings.Contains(out, "indefinite") {
		t.Fatalf("show: exit %d\n%s%s", code, out, stderr)
	}

	for _, args := range [][]string{
		{"--days", "2558"},
		{"--days", "0"},
		{"--days", "30", "--indefinite"},
		{},
	} {
		_, stderr, code := runCLI(t, a, "", append([]string{"retention", "set", "--org", "org-a", "--class", "operational"}, args...)...)
		if code == 0 || !strings.Contains(stderr, "days") {
			t.Errorf("set %v: exit %d, stderr %q", args, code, stderr)
		}
	}
	_, stderr, code = runCLI(t, a, "", "retention", "set", "--org", "org-a", "--class", "material", "--category", "scan", "--days", "5")
	if code == 0 || !strings.Contains(stderr, "category") {
		t.Errorf("a category of the other class: exit %d, %q", code, stderr)
	}

	out, stderr, code = runCLI(t, a, "", "retention", "sweep", "--org", "org-a", "--dry-run")
	if code != 0 || !strings.Contains(out, "Would prune 1 event of") || !strings.Contains(out, "operational: 1 event, seq 1\n") {
		t.Fatalf("dry run: exit %d\n%s%s", code, out, stderr)
	}
	if _, err := a.store.Get(ctx, "org-a", rs[0].ID); err != nil {
		t.Fatalf("a dry run pruned: %v", err)
	}

	out, stderr, code = runCLI(t, a, "", "retention", "set", "--org", "org-a", "--class", "operational", "--days", "30")
	if code != 0 || !strings.Contains(out, "90 days → 30 days") {
		t.Fatalf("set: exit %d\n%s%s", code, out, stderr)
	}
	if strings.Contains(out, "category audit") {
		t.Errorf("an operational change speaks of the audit category:\n%s", out)
	}
	// What expires comes with the commands that export it, for this profile.
	out, stderr, code = runCLI(t, a, "", "--profile", "work", "retention", "show", "--org", "org-a")
	if code != 0 || !strings.Contains(out, "export them first (or, while the app has this profile open, from its Export dialog):\n  axiom-audit --profile work export --org org-a --category user --until ") {
		t.Errorf("show with --profile: exit %d\n%s%s", code, out, stderr)
	}
	out, stderr, code = runCLI(t, a, "", "--keystore", "file", "retention", "show", "--org", "org-a")
	if code != 0 || !strings.Contains(out, "\n  axiom-audit --keystore file export --org org-a --category user --until ") {
		t.Errorf("show with --keystore file: exit %d\n%s%s", code, out, stderr)
	}
	// The log's own events stay whatever the material class keeps.
	_, stderr, code = runCLI(t, a, "", "retention", "set", "--org", "org-a", "--class", "material", "--category", "audit", "--days", "30")
	if code != 2 || !strings.Contains(stderr, "category: the log's own events") {
		t.Errorf("a finite window for category audit: exit %d\n%s", code, stderr)
	}
	out, stderr, code = runCLI(t, a, "", "retention", "set", "--org", "org-b", "--class", "material", "--days", "400")
	if code != 0 || !strings.Contains(out, "the log's own events (category audit) stay indefinite\n") {
		t.Errorf("material 400 days: exit %d\n%s%s", code, out, stderr)
	}
	out, stderr, code = runCLI(t, a, "", "retention", "set", "--org", "org-b", "--class", "material", "--indefinite")
	if code != 0 || strings.Contains(out, "category audit") {
		t.Errorf("material indefinite: exit %d\n%s%s", code, out, stderr)
	}
	page, err := a.store.List(ctx, storage.Filter{Org: "org-a", ActionTypes: []string{"audit.settings_changed"}})
	if err != nil || len(page.Events) != 1 || page.Events[0].Category != "audit" {
		t.Fatalf("settings_changed events: %+v, %v", page.Events, err)
	}
	var meta struct {
		Settings []string `json:"settings"`
		Before   struct {
			Version     int `json:"version"`
			Operational struct {
				Days int `json:"days"`
			} `json:"operational"`
		} `json:"before"`
		After struct {
			Version     int `json:"version"`
			Operational struct {
				Days int `json:"days"`
			} `json:"operational"`
		} `json:"after"`
	}
	if err := json.Unmarshal(page.Events[0].Metadata, &meta); err != nil || meta.Before.Operational.Days != 90 || meta.After.Operational.Days != 30 ||
		meta.After.Version != 1 || len(meta.Settings) != 1 {
		t.Fatalf("metadata %s: %v", page.Events[0].Metadata, err)
	}

	out, stderr, code = runCLI(t, a, "", "retention", "sweep", "--org", "org-a", "--now")
	if code != 0 || !strings.Contains(out, "Pruned 2 events") || !strings.Contains(out, "audit.retention_swept") {
		t.Fatalf("sweep: exit %d\n%s%s", code, out, stderr)
	}
	for i, r := range rs {
		_, err := a.store.Get(ctx, "org-a", r.ID)
		if pruned := errors.Is(err, storage.ErrPruned); pruned != (i < 2) {
			t.Errorf("event %d: Get = %v", i, err)
		}
	}
	if code, _ := ErrorCode(&storage.PrunedError{}); code != CodePruned {
		t.Errorf("ErrorCode(PrunedError) = %s", code)
	}

	out, stderr, code = runCLI(t, a, "", "retention", "show", "--org", "org-a", "--json")
	var dto RetentionDTO
	if code != 0 || json.Unmarshal([]byte(out), &dto) != nil || dto.Version != 1 || len(dto.Pruned) == 0 || dto.Pruned[0].Count != 2 {
		t.Fatalf("show --json: exit %d\n%s%s", code, out, stderr)
	}

	// An export of what remains verifies offline: tombstones are skipped,
	// every exported event still proves against the signed checkpoint.
	exportDir := t.TempDir()
	out, stderr, code = runCLI(t, a, "", "export", "--org", "org-a", "--format", "jsonl", "--out", exportDir)
	if code != 0 || !strings.Contains(out, "events of org-a") {
		t.Fatalf("export: exit %d\n%s%s", code, out, stderr)
	}
	bundle := strings.SplitN(out, "\n", 2)[0]
	if out, stderr, code := runCLI(t, a, "", "verify-export", bundle); code != 0 || !strings.HasPrefix(out, "OK: ") {
		t.Fatalf("verify-export: exit %d\n%s%s", code, out, stderr)
	}

	// verify: clean, with the pruned range said as such.
	out, stderr, code = runCLI(t, a, "", "verify", "--org", "org-a")
	if code != 0 || !strings.Contains(out, "org org-a seqs 1–2: pruned by policy operational 30 days (v1) at ") ||
		!strings.Contains(out, "2 pruned by retention policy: clean") {
		t.Fatalf("verify: exit %d\n%s%s", code, out, stderr)
	}
}

func TestREST_Retention(t *testing.T) {
	f := newRESTFixture(t)
	resp, b := f.do("GET", "/api/retention?org=org-a", f.tokens["readA"], nil)
	var dto RetentionDTO
	if resp.StatusCode != 200 || json.Unmarshal(b, &dto) != nil || dto.Org != "org-a" || len(dto.Rules) != 2 {
		t.Fatalf("GET /api/retention: %d %s", resp.StatusCode, b)
	}
	if resp, b := f.do("GET", "/api/retention?org=org-a", f.tokens["readB"], nil); resp.StatusCode != 404 {
		t.Fatalf("another organization's token: %d %s", resp.StatusCode, b)
	}
	resp, b = f.do("GET", "/api/retention/expiring?org=org-a&days=90", f.tokens["readA"], nil)
	var ex storage.Expiring
	if resp.StatusCode != 200 || json.Unmarshal(b, &ex) != nil || ex.Count != 20 || len(ex.Groups) != 1 || ex.Groups[0].Category != "user" {
		t.Fatalf("GET /api/retention/expiring: %d %s", resp.StatusCode, b)
	}
	if resp, b := f.do("GET", "/api/retention/expiring?org=org-a&days=x", f.tokens["readA"], nil); resp.StatusCode != 400 {
		t.Fatalf("days=x: %d %s", resp.StatusCode, b)
	}
	for _, path := range []string{"/api/retention/sweep?org=org-a", "/api/retention/policy"} {
		if resp, b := f.do("POST", path, f.tokens["appendA"], nil); resp.StatusCode != 403 {
			t.Fatalf("POST %s with a token: %d %s", path, resp.StatusCode, b)
		}
	}
}

// The background sweeper prunes without being asked and stops with the App.
func TestRetention_BackgroundSweeper(t *testing.T) {
	a := TestApp(t)
	ctx := context.Background()
	rs, err := a.appendEvents(ctx, []storage.Event{TestEvent("org-a", 1, time.Now().Add(-100*24*time.Hour))})
	if err != nil {
		t.Fatal(err)
	}
	a.startRetention(20 * time.Millisecond)
	waitFor(t, 10*time.Second, "the background sweep", func() bool {
		_, err := a.store.Get(ctx, "org-a", rs[0].ID)
		page, _ := a.store.List(ctx, storage.Filter{Org: "org-a", ActionTypes: []string{"audit.retention_swept"}})
		return errors.Is(err, storage.ErrPruned) && len(page.Events) > 0
	})
	page, err := a.store.List(ctx, storage.Filter{Org: "org-a", ActionTypes: []string{"audit.retention_swept"}})
	if err != nil || len(page.Events) != 1 || page.Events[0].UserID != "system" {
		t.Fatalf("sweep events: %+v, %v", page.Events, err)
	}
}

// `axiom-audit retention ...` works while the desktop app holds the
// profile, through its local API; tokens may read retention but not change it.
func TestCLI_RetentionThroughTheDesktopAPI(t *testing.T) {
	ctx := context.Background()
	a, ks, paths := profileApp(t)
	stop, err := a.startLocalAPI(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	if _, err := a.appendEvents(ctx, []storage.Event{TestEvent("acme", 1, time.Now().Add(-40*24*time.Hour))}); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) (string, string, int) {
		t.Helper()
		var out, errb bytes.Buffer
		root := NewRootCommand(CLIConfig{
			Version: "test",
			Open: func(context.Context, Globals) (*App, func() error, error) {
				return nil, nil, fmt.Errorf("the audit log is open in another process: %w", storage.ErrLocked)
			},
			Remote: func(ctx context.Context, _ Globals) (*RemoteClient, error) { return DialDesktop(ctx, paths, ks) },
			Stdout: &out,
			Stderr: &errb,
		})
		root.SetArgs(args)
		err := root.ExecuteContext(ctx)
		if err != nil {
			errb.WriteString(Explain(err) + "\n")
		}
		return out.String(), errb.String(), ExitCode(err)
	}
	if out, stderr, code := run("retention", "set", "--org", "acme", "--class", "operational", "--days", "9000"); code == 0 || !strings.Contains(stderr, "2557") {
		t.Fatalf("set 9000 days: exit %d, %s %s", code, out, stderr)
	}
	// The app's own store: a shortened window takes effect a week later.
	out, stderr, code := run("retention", "set", "--org", "acme", "--class", "operational", "--days", "30")
	if code != 0 || !strings.Contains(out, "90 days → 30 days (policy version 1)") ||
		!strings.Contains(out, "a week after the change: until then version 0 applies") {
		t.Fatalf("set: exit %d, %s %s", code, out, stderr)
	}
	if out, stderr, code := run("retention", "sweep", "--org", "acme", "--now"); code != 0 || !strings.Contains(out, "Pruned 0 events of acme (policy version 0,") {
		t.Fatalf("sweep: exit %d, %s %s", code, out, stderr)
	}
	out, stderr, code = run("retention", "show", "--org", "acme")
	if code != 0 || !strings.Contains(out, "Retention policy of acme: the default (version 0)") || !strings.Contains(out, "Version 1 takes effect at ") ||
		!strings.Contains(out, "Expiring within 7 days: 1 event") || !strings.Contains(out, "Nothing was pruned.") {
		t.Fatalf("show: exit %d, %s %s", code, out, stderr)
	}
	// Longer: at once, in place of the pending version; then shorter,
	// and less strict again: no later than the stricter one.
	for _, step := range []struct{ days, want string }{
		{"120", "(policy version 2)\nit shortens nothing, so it takes effect now, in place of pending version 1\n"},
		{"30", "(policy version 3)\nit keeps some events for less time than version 2 in force, so it takes effect at "},
		{"60", "(policy version 5)\nit keeps some events for less time than version 2 in force, so it takes effect at "},
		{"90", ", when the stricter version 5 would have: until then version 6 applies (the change with the windows it shortens kept as they are, in force now)"},
	} {
		out, stderr, code := run("retention", "set", "--org", "acme", "--class", "operational", "--days", step.days)
		if code != 0 || !strings.Contains(out, step.want) {
			t.Fatalf("set %s days: exit %d, want %q in\n%s%s", step.days, code, step.want, out, stderr)
		}
	}
}
