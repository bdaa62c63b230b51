package demo

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/axiomops/axiom-audit/storage"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// testEnd is a fixed End so that the output does not depend on the clock.
var testEnd = time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)

func collect(t testing.TB, opts Options) []storage.Event {
	t.Helper()
	var out []storage.Event
	if err := Generate(opts, func(e storage.Event) error {
		out = append(out, e)
		return nil
	}); err != nil {
		t.Fatalf("Generate(%+v): %v", opts, err)
	}
	return out
}

func encodeAll(t testing.TB, events []storage.Event) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	for i := range events {
		if err := enc.Encode(&events[i]); err != nil {
			t.Fatal(err)
		}
	}
	return buf.Bytes()
}

func TestGenerate_Counts(t *testing.T) {
	for _, tc := range []struct{ events, orgs int }{
		{1, 1}, {7, 3}, {100, 1}, {100, 12}, {5000, 3}, {3001, 25},
	} {
		t.Run(fmt.Sprintf("events=%d,orgs=%d", tc.events, tc.orgs), func(t *testing.T) {
			opts := Options{Events: tc.events, Orgs: tc.orgs, Seed: 7, End: testEnd}
			events := collect(t, opts)
			if len(events) != tc.events {
				t.Fatalf("got %d events, want exactly %d", len(events), tc.events)
			}
			start := testEnd.Add(-DefaultSpan)
			ids := make(map[string]bool, len(events))
			for i, e := range events {
				if e.Timestamp.Location() != time.UTC {
					t.Fatalf("event %d: timestamp %v is not in UTC", i, e.Timestamp)
				}
				if e.Timestamp.Before(start) || e.Timestamp.After(testEnd) {
					t.Fatalf("event %d: timestamp %v outside [%v, %v]", i, e.Timestamp, start, testEnd)
				}
				if i > 0 && e.Timestamp.Before(events[i-1].Timestamp) {
					t.Fatalf("event %d at %v is before event %d at %v", i, e.Timestamp, i-1, events[i-1].Timestamp)
				}
				checkUUIDv7(t, e)
				if ids[e.ID] {
					t.Fatalf("event %d: duplicate id %s", i, e.ID)
				}
				ids[e.ID] = true
			}
		})
	}
}

// checkUUIDv7 checks the id is a lowercase UUIDv7 carrying the event's
// millisecond timestamp.
func checkUUIDv7(t *testing.T, e storage.Event) {
	t.Helper()
	id := e.ID
	if len(id) != 36 || id[8] != '-' || id[13] != '-' || id[18] != '-' || id[23] != '-' {
		t.Fatalf("id %q is not a hyphenated UUID", id)
	}
	if strings.ToLower(id) != id {
		t.Fatalf("id %q is not lowercase", id)
	}
	if id[14] != '7' || !strings.ContainsRune("89ab", rune(id[19])) {
		t.Fatalf("id %q is not version 7, variant 10", id)
	}
	if want := fmt.Sprintf("%012x", e.Timestamp.UnixMilli()); strings.ReplaceAll(id[:13], "-", "") != want {
		t.Fatalf("id %q does not start with the timestamp %s", id, want)
	}
}

func TestGenerate_Deterministic(t *testing.T) {
	opts := Options{Events: 3000, Orgs: 4, Seed: 99, End: testEnd}
	a := encodeAll(t, collect(t, opts))
	b := encodeAll(t, collect(t, opts))
	if !bytes.Equal(a, b) {
		t.Fatal("the same options gave different events")
	}
	opts.Seed++
	if c := encodeAll(t, collect(t, opts)); bytes.Equal(a, c) {
		t.Fatal("a different seed gave the same events")
	}
}

// TestGenerate_Golden pins the first events of a demo byte for byte; run
// with -update after an intended change and review the diff.
func TestGenerate_Golden(t *testing.T) {
	const n = 30
	var first []storage.Event
	errEnough := errors.New("enough")
	err := Generate(Options{Events: 2000, Orgs: 3, Seed: 42, End: testEnd}, func(e storage.Event) error {
		first = append(first, e)
		if len(first) == n {
			return errEnough
		}
		return nil
	})
	if !errors.Is(err, errEnough) {
		t.Fatalf("Generate returned %v, want the error emit returned", err)
	}
	got := encodeAll(t, first)
	path := filepath.Join("testdata", "first30.golden.jsonl")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		gl, wl := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
		for i := range min(len(gl), len(wl)) {
			if gl[i] != wl[i] {
				t.Fatalf("line %d differs from %s:\n got: %s\nwant: %s", i+1, path, gl[i], wl[i])
			}
		}
		t.Fatalf("output differs from %s in length", path)
	}
}

// manyRuns is 20,000 events in four runs with different seeds and
// organization counts.
func manyRuns(t testing.TB) [][]storage.Event {
	var runs [][]storage.Event
	for seed, orgs := range []int{1, 3, 5, 12} {
		runs = append(runs, collect(t, Options{Events: 5000, Orgs: orgs, Seed: int64(seed + 1), End: testEnd}))
	}
	return runs
}

func manyEvents(t testing.TB) []storage.Event { return slices.Concat(manyRuns(t)...) }

func TestGenerate_PassesCatalogue(t *testing.T) {
	cat, err := storage.LoadCatalogue()
	if err != nil {
		t.Fatal(err)
	}
	cat = cat.WithClock(func() time.Time { return testEnd })
	seen := map[string]int{}
	for i, e := range manyEvents(t) {
		if err := cat.Validate(&e); err != nil {
			b, _ := json.Marshal(e)
			t.Fatalf("event %d does not validate: %v\n%s", i, err, b)
		}
		seen[e.ActionType]++
	}
	want := []string{
		"connection.provider_connected", "connection.role_assumed", "connection.role_assumption_failed", "connection.external_id_rotated",
		"scan.started", "scan.completed", "scan.failed", "scan.partial", "finding.created",
		"recommendation.created", "recommendation.dispositioned", "plan.generated", "approval.approved", "approval.rejected",
		"terraform_export.downloaded", "terraform_export.applied_externally", "apply.mutation",
		"rollback.triggered", "rollback.executed", "rollback.verified",
		"user.signed_in", "user.signed_out", "user.settings_changed", "user.connection_managed", "user.approval_policy_edited",
		"workflow.run_started", "workflow.run_completed", "workflow.drift_detection", "workflow.verification_job", "workflow.compliance_sweep",
		"releaseops.assessed", "releaseops.approved", "releaseops.deployed", "releaseops.blocked", "releaseops.rolled_back",
		"releaseops.drift_detected", "releaseops.readiness_updated",
	}
	for _, a := range want {
		if seen[a] == 0 {
			t.Errorf("no %s event in 20,000", a)
		}
	}
	t.Logf("action types: %v", seen)
}

// TestGenerate_CausalOrder replays the events and checks each story's
// links: what an event refers to was recorded before it.
func TestGenerate_CausalOrder(t *testing.T) {
	type plan struct {
		version, required, approvals int
		rejected                     bool
		resources                    []string
	}
	type org struct {
		connected  map[string]bool // accountId
		scans      map[string]bool // scanId, finished
		recs       map[string]bool
		plans      map[string]*plan
		exports    map[string]bool // sha256
		applies    map[string]storage.Event
		triggered  map[string]bool // applyEventId
		executed   map[string]bool
		approvedAt map[string]time.Time
	}
	orgs := map[string]*org{}
	meta := func(e storage.Event) map[string]any {
		m := map[string]any{}
		if len(e.Metadata) > 0 {
			if err := json.Unmarshal(e.Metadata, &m); err != nil {
				t.Fatal(err)
			}
		}
		return m
	}
	str := func(m map[string]any, k string) string { s, _ := m[k].(string); return s }
	num := func(m map[string]any, k string) int { f, _ := m[k].(float64); return int(f) }
	counts := map[string]int{}
	for run, events := range manyRuns(t) {
		clear(orgs)
		for i, e := range events {
			o := orgs[e.OrganizationID]
			if o == nil {
				o = &org{connected: map[string]bool{}, scans: map[string]bool{}, recs: map[string]bool{}, plans: map[string]*plan{},
					exports: map[string]bool{}, applies: map[string]storage.Event{}, triggered: map[string]bool{}, executed: map[string]bool{}, approvedAt: map[string]time.Time{}}
				orgs[e.OrganizationID] = o
			}
			m := meta(e)
			fail := func(format string, args ...any) {
				b, _ := json.Marshal(e)
				t.Fatalf("run %d, event %d: %s\n%s", run, i, fmt.Sprintf(format, args...), b)
			}
			approved := func(id string) *plan {
				p := o.plans[id]
				if p == nil {
					fail("plan %s was never generated", id)
				}
				if p.rejected || p.approvals < p.required {
					fail("plan %s v%d has %d of %d approvals (rejected: %v)", id, p.version, p.approvals, p.required, p.rejected)
				}
				return p
			}
			counts[e.ActionType]++
			switch e.ActionType {
			case "connection.provider_connected":
				o.connected[str(m, "accountId")] = true
			case "connection.role_assumed", "connection.role_assumption_failed", "connection.external_id_rotated":
				if !o.connected[str(m, "accountId")] {
					fail("account %s used before it was connected", str(m, "accountId"))
				}
			case "scan.started":
				if !o.connected[str(m, "account")] {
					fail("scan of account %s before it was connected", str(m, "account"))
				}
				o.scans[str(m, "scanId")] = false
			case "scan.completed", "scan.partial", "scan.failed":
				if done, ok := o.scans[str(m, "scanId")]; !ok || done {
					fail("scan %s finished without starting, or twice", str(m, "scanId"))
				}
				o.scans[str(m, "scanId")] = e.ActionType != "scan.failed"
			case "finding.created":
				if !o.scans[str(m, "scanId")] {
					fail("finding of scan %s, which did not complete", str(m, "scanId"))
				}
			case "recommendation.created":
				o.recs[str(m, "recommendationId")] = true
			case "recommendation.dispositioned":
				if !o.recs[str(m, "recommendationId")] {
					fail("disposition of unknown recommendation %s", str(m, "recommendationId"))
				}
			case "plan.generated":
				id := str(m, "planId")
				if p := o.plans[id]; p != nil && num(m, "planVersion") != p.version+1 {
					fail("plan %s version %d after version %d", id, num(m, "planVersion"), p.version)
				}
				for _, r := range m["recommendationIds"].([]any) {
					if !o.recs[r.(string)] {
						fail("plan for unknown recommendation %v", r)
					}
				}
				o.plans[id] = &plan{version: num(m, "planVersion"), resources: e.ResourceIDs}
			case "approval.approved", "approval.rejected":
				p := o.plans[str(m, "planId")]
				if p == nil || p.version != num(m, "planVersion") {
					fail("approval of a plan version that was not generated")
				}
				if p.approvals+1 != num(m, "approvalsSoFar") || len(m["approvalChain"].([]any)) != p.approvals+1 {
					fail("approval chain out of step")
				}
				if e.UserID == svcAgent || e.UserID == system {
					fail("approved by a service")
				}
				p.required = num(m, "requiredApprovals")
				if e.ActionType == "approval.rejected" {
					p.rejected = true
				} else {
					p.approvals++
					o.approvedAt[str(m, "planId")] = e.Timestamp
				}
			case "terraform_export.downloaded":
				approved(str(m, "planId"))
				o.exports[str(m, "sha256")] = true
			case "terraform_export.applied_externally":
				if !o.exports[str(m, "sha256")] {
					fail("applied externally without a download")
				}
			case "apply.mutation":
				p := approved(str(m, "planId"))
				if !slices.Contains(p.resources, e.ResourceIDs[0]) {
					fail("apply of a resource not in the plan")
				}
				if !o.approvedAt[str(m, "planId")].Before(e.Timestamp) && !o.approvedAt[str(m, "planId")].Equal(e.Timestamp) {
					fail("apply before the last approval")
				}
				if len(e.BeforeState) == 0 || len(e.AfterState) == 0 {
					fail("apply without states")
				}
				o.applies[e.ID] = e
			case "rollback.triggered":
				a, ok := o.applies[str(m, "applyEventId")]
				if !ok || (a.Status != "failed" && a.Status != "rolled_back") {
					fail("rollback of apply %s, which is not an earlier failed or rolled-back apply", str(m, "applyEventId"))
				}
				if !slices.Equal(a.ResourceIDs, e.ResourceIDs) {
					fail("rollback of other resources than the apply")
				}
				o.triggered[str(m, "applyEventId")] = true
			case "rollback.executed":
				if !o.triggered[str(m, "applyEventId")] {
					fail("rollback executed before it was triggered")
				}
				// It starts from a state the resource was in: a refused
				// apply's (unchanged), or the one a health check undid.
				if a := o.applies[str(m, "applyEventId")]; a.Status == "failed" && !bytes.Equal(e.BeforeState, a.AfterState) {
					fail("rollback of a refused apply from %s, a state the resource never reached (it kept %s)", e.BeforeState, a.AfterState)
				}
				o.executed[str(m, "applyEventId")] = true
			case "rollback.verified":
				if !o.executed[str(m, "applyEventId")] {
					fail("rollback verified before it was executed")
				}
			}
		}
	}
	for _, a := range []string{"apply.mutation", "rollback.verified", "approval.rejected", "terraform_export.applied_externally"} {
		if counts[a] == 0 {
			t.Errorf("no %s to check", a)
		}
	}
}

func TestGenerate_RiskAndStatus(t *testing.T) {
	for i, e := range collect(t, Options{Events: 10000, Orgs: 4, Seed: 3, End: testEnd}) {
		fail := func(why string) {
			b, _ := json.Marshal(e)
			t.Fatalf("event %d: %s\n%s", i, why, b)
		}
		switch {
		case strings.HasPrefix(e.ActionType, "scan."):
			if e.RiskLevel != "low" {
				fail("scans are low risk")
			}
		case e.ActionType == "apply.mutation":
			id := e.ResourceIDs[0]
			switch {
			case strings.Contains(id, ":policy/"), strings.Contains(id, ":volume/"):
				if e.RiskLevel != "high" {
					fail("IAM changes and deletes are high risk")
				}
			case strings.Contains(id, ":instance/"), strings.Contains(id, "/virtualMachines/"), strings.Contains(id, "/instances/"):
				if e.RiskLevel != "medium" {
					fail("rightsizing is medium risk")
				}
			}
			if e.Status == "rolled_back" && !bytes.Contains(e.Metadata, []byte(`"rtoSeconds":`)) {
				fail("a rolled-back apply carries rtoSeconds")
			}
		}
	}
}

func TestGenerate_OrgSpreadAndTime(t *testing.T) {
	const n = 30000
	events := collect(t, Options{Events: n, Orgs: 6, Seed: 11, End: testEnd})
	perOrg := map[string]int{}
	last := map[string]time.Time{}
	weekday, working, byDay := 0, 0, map[int]int{}
	start := testEnd.Add(-DefaultSpan)
	for _, e := range events {
		perOrg[e.OrganizationID]++
		if e.Timestamp.Before(last[e.OrganizationID]) {
			t.Fatalf("%s: events out of order", e.OrganizationID)
		}
		last[e.OrganizationID] = e.Timestamp
		if d := e.Timestamp.Weekday(); d != time.Saturday && d != time.Sunday {
			weekday++
		}
		if h := e.Timestamp.Hour(); h >= 8 && h < 24 {
			working++ // 9-18 in UTC-5..UTC+1, roughly
		}
		byDay[int(e.Timestamp.Sub(start)/(24*time.Hour))]++
	}
	if len(perOrg) != 6 {
		t.Fatalf("events in %d organizations, want 6: %v", len(perOrg), perOrg)
	}
	lo, hi := n, 0
	for _, c := range perOrg {
		lo, hi = min(lo, c), max(hi, c)
	}
	if hi < 3*lo {
		t.Errorf("organizations are all about the same size: %v", perOrg)
	}
	if share := float64(weekday) / n; share < 0.8 {
		t.Errorf("%.0f%% of events on weekdays; want most", share*100)
	}
	if share := float64(working) / n; share < 0.75 {
		t.Errorf("%.0f%% of events in the working day; want most", share*100)
	}
	for d := 0; d < 90; d++ {
		if byDay[d] == 0 {
			t.Errorf("no event on day %d of 90", d)
		}
	}
	if byDay[89] > 4*n/90 {
		t.Errorf("%d events on the last day: the end is crowded", byDay[89])
	}
	t.Logf("per org %v; weekday %d%%", perOrg, 100*weekday/n)
}

func TestGenerate_Options(t *testing.T) {
	for _, opts := range []Options{{Events: -1}, {Orgs: -2}, {Span: -time.Hour}, {Span: time.Minute}, {End: time.Date(2000, 2, 1, 0, 0, 0, 0, time.UTC)}} {
		if err := Generate(opts, func(storage.Event) error { return nil }); !errors.Is(err, ErrInvalidOptions) {
			t.Errorf("Generate(%+v) = %v, want ErrInvalidOptions", opts, err)
		}
	}
	// The zero value: 1000 events in 3 organizations over the last 90 days.
	now := time.Now()
	events := collect(t, Options{})
	if len(events) != DefaultEvents {
		t.Fatalf("got %d events, want %d", len(events), DefaultEvents)
	}
	if first := events[0].Timestamp; first.Before(now.Add(-DefaultSpan - time.Minute)) {
		t.Errorf("first event at %v, before the default span", first)
	}
	// A short span with a non-UTC end.
	end := time.Date(2026, 3, 2, 12, 0, 0, 0, time.FixedZone("CET", 3600))
	for _, e := range collect(t, Options{Events: 500, Span: 48 * time.Hour, End: end}) {
		if e.Timestamp.After(end) || e.Timestamp.Before(end.Add(-48*time.Hour)) || e.Timestamp.Location() != time.UTC {
			t.Fatalf("timestamp %v outside the span or not UTC", e.Timestamp)
		}
	}
}

// TestGenerate_MemoryFlat checks that the events waiting in an
// organization's heap stay bounded while it generates many.
func TestGenerate_MemoryFlat(t *testing.T) {
	p := newProfiles(1, 5)[0]
	g := newOrgGen(p, 200000, 5, 0, testEnd.Add(-DefaultSpan).UnixMilli(), testEnd.UnixMilli())
	most := 0
	for {
		if _, _, ok := g.next(); !ok {
			break
		}
		most = max(most, g.pending.len())
	}
	// Bounded by how many stories overlap (about two weeks of this
	// organization's activity at most), not by how many events there are.
	if most > 4000 {
		t.Fatalf("up to %d events waited at once for 200,000 generated", most)
	}
	t.Logf("at most %d events pending", most)
}

func TestGenerate_Fast(t *testing.T) {
	if testing.Short() {
		t.Skip("timing")
	}
	start := time.Now()
	n := 0
	if err := Generate(Options{Events: 100000, Orgs: 5, Seed: 1, End: testEnd}, func(storage.Event) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("100,000 events took %v, want well under 5s", d)
	}
}

func BenchmarkGenerate(b *testing.B) {
	const n = 100000
	for b.Loop() {
		if err := Generate(Options{Events: n, Orgs: 5, Seed: 1, End: testEnd}, func(storage.Event) error { return nil }); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/event")
}
