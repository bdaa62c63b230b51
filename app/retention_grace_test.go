package app

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/axiomops/axiom-audit/storage"
	"github.com/axiomops/axiom-audit/storage/keystore"
)

// graceApp is an App over a store with the week's retention grace, its
// clock at 2026-06-01, and one event of organization acme 40 days old.
func graceApp(t *testing.T) (*App, *stepClock) {
	t.Helper()
	clk := &stepClock{t: time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)}
	dir := t.TempDir()
	ks := keystore.NewMemory()
	st, err := storage.Open(context.Background(), filepath.Join(dir, "log"), ks, storage.Options{Now: clk.Now, GCInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	a := appOver(t, st, Options{Keystore: ks, Paths: Paths{Profile: "p", DataDir: dir}, User: "tester", Now: clk.Now})
	if _, err := a.appendEvents(context.Background(), []storage.Event{TestEvent("acme", 1, clk.Now().Add(-40*24*time.Hour))}); err != nil {
		t.Fatal(err)
	}
	return a, clk
}

type stepClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *stepClock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *stepClock) Add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func TestRetentionGrace_RetentionSetMessages(t *testing.T) {
	ctx := context.Background()
	a, clk := graceApp(t)
	run := func(args ...string) string {
		t.Helper()
		var out, errb bytes.Buffer
		root := NewRootCommand(CLIConfig{
			Version: "test",
			Open:    func(context.Context, Globals) (*App, func() error, error) { return a, func() error { return nil }, nil },
			Stdout:  &out, Stderr: &errb,
		})
		root.SetArgs(args)
		if err := root.ExecuteContext(ctx); err != nil {
			t.Fatalf("%v: %v %s", args, err, errb.String())
		}
		return out.String()
	}
	set := func(cat, days string) string {
		return run("retention", "set", "--org", "acme", "--class", "operational", "--category", cat, "--days", days)
	}
	// (a) pulled to version 1's time (5 days off), the message says a week.
	t.Log(set("scan", "30"))
	clk.Add(24 * time.Hour)
	t.Log(set("finding", "30"))
	clk.Add(24 * time.Hour)
	out := set("finding", "90")
	t.Log(out)
	if strings.Contains(out, "a week after the change") {
		t.Errorf("(a) version 3 is pulled to version 1's time (5 days after the change); the message says a week")
	}
	// (b) scan 30 (v1) stays pending before a change that sets scan back to 90.
	t.Log(set("finding", "20"))
	clk.Add(time.Hour)
	out = set("scan", "90")
	t.Log(out)
	show := run("retention", "show", "--org", "acme")
	t.Log(show)
	if strings.Contains(out, "until then version 0 applies") && strings.Contains(show, "scan      30 days") {
		t.Errorf("(b) retention set says version 0 applies until the new version, but a version keeping scan 30 days takes effect before it")
	}
}

// --at-once applies a shorter window now, says so, and records it.
func TestRetentionGrace_AtOnce(t *testing.T) {
	ctx := context.Background()
	st, err := storage.Open(ctx, t.TempDir(), keystore.NewMemory(), storage.Options{GCInterval: -1}) // the week's grace
	if err != nil {
		t.Fatal(err)
	}
	a := appOver(t, st, Options{User: "tester", Version: "test", Paths: Paths{Profile: "test", DataDir: "/tmp/test"}})
	if _, err := a.appendEvents(ctx, []storage.Event{TestEvent("acme", 1, time.Now().Add(-40*24*time.Hour))}); err != nil {
		t.Fatal(err)
	}
	out, stderr, code := runCLI(t, a, "", "retention", "set", "--org", "acme", "--class", "operational", "--days", "30", "--at-once")
	if code != 0 || !strings.Contains(out, "90 days → 30 days (policy version 1)\nit takes effect now (--at-once): the next sweep prunes what it makes overdue (hourly while the desktop app or serve runs, or now with 'axiom-audit retention sweep --org acme --now')\n") {
		t.Fatalf("set --at-once: exit %d\n%s%s", code, out, stderr)
	}
	if out, _, code := runCLI(t, a, "", "retention", "sweep", "--org", "acme", "--now"); code != 0 || !strings.Contains(out, "Pruned 1 event of acme (policy version 1,") {
		t.Fatalf("sweep: exit %d\n%s", code, out)
	}
	page, err := a.store.List(ctx, storage.Filter{Org: "acme", ActionTypes: []string{"audit.settings_changed"}})
	if err != nil || len(page.Events) != 1 || !strings.Contains(string(page.Events[0].Metadata), `"atOnce":true`) {
		t.Fatalf("the change's record: %+v, %v", page.Events, err)
	}
}

// A dry run sweeps by the version in force; it says when a pending version
// takes effect, since later sweeps prune by its windows.
func TestRetentionGrace_DryRunNamesPendingVersion(t *testing.T) {
	a, _ := graceApp(t)
	run := func(args ...string) string {
		t.Helper()
		out, stderr, code := runCLI(t, a, "", args...)
		if code != 0 {
			t.Fatalf("%v: exit %d, %s", args, code, stderr)
		}
		return out
	}
	if out := run("retention", "sweep", "--org", "acme", "--dry-run"); strings.Contains(out, "pending") {
		t.Fatalf("no pending version, yet the dry run names one:\n%s", out)
	}
	run("retention", "set", "--org", "acme", "--class", "operational", "--days", "30")
	out := run("retention", "sweep", "--org", "acme", "--dry-run")
	if !strings.Contains(out, "Would prune 0 events of acme (policy version 0") ||
		!strings.Contains(out, "Version 1 of the policy, pending, takes effect at 2026-06-08T00:00:00Z: sweeps from then on prune by its windows") {
		t.Fatalf("dry run with version 1 pending:\n%s", out)
	}
}
