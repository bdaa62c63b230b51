package report

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/axiomops/axiom-audit/storage"
)

// TestBuild_Golden builds the 2026-Q3 report of the fixed demo history and
// compares report.json with testdata/q3.golden.json (go test -update
// rewrites it), then checks its figures against the store's own queries.
func TestBuild_Golden(t *testing.T) {
	ctx := context.Background()
	st := demoStore(t)
	r, err := Build(ctx, st, Options{Org: testOrg, Period: testPeriod, Integrity: stubIntegrity{},
		Now: func() time.Time { return testNow }, User: "tester", Version: "1.2.3", PageSize: 97})
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	r.Evidence = EvidenceInfo{Files: []EvidenceFile{}}
	r.Rendering = Rendering{HTML: true}
	got, err := MarshalJSON(r)
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "q3.golden.json")
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		os.WriteFile(filepath.Join(t.TempDir(), "got.json"), got, 0o644)
		t.Errorf("report.json differs from %s (go test -update rewrites it); got:\n%s", golden, firstDiff(got, want))
	}
	crossCheck(t, st, r)
}

func firstDiff(got, want []byte) string {
	gl, wl := bytes.Split(got, []byte("\n")), bytes.Split(want, []byte("\n"))
	for i := range min(len(gl), len(wl)) {
		if !bytes.Equal(gl[i], wl[i]) {
			return "line " + itoa(i+1) + ":\n  got:  " + string(gl[i]) + "\n  want: " + string(wl[i])
		}
	}
	return "lengths differ: " + itoa(len(gl)) + " vs " + itoa(len(wl)) + " lines"
}

// crossCheck recomputes the report's figures with Facets and List.
func crossCheck(t *testing.T, st *storage.Store, r *Report) {
	t.Helper()
	ctx := context.Background()
	base := storage.Filter{Org: testOrg, Since: testPeriod.Since, Until: testPeriod.Until}
	facets := func(mod func(*storage.Filter)) map[string]map[string]int64 {
		t.Helper()
		f := base
		if mod != nil {
			mod(&f)
		}
		m, err := st.Facets(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	total := func(m map[string]map[string]int64) (n int64) {
		for _, v := range m[storage.FacetCategory] {
			n += v
		}
		return n
	}
	count := func(mod func(*storage.Filter)) int64 { return total(facets(mod)) }
	all := facets(nil)
	if r.Summary.Events != total(all) || r.Summary.Events == 0 {
		t.Errorf("events: report %d, Facets %d", r.Summary.Events, total(all))
	}
	for _, c := range r.Categories {
		if got := all[storage.FacetCategory][c.Category]; got != c.Count {
			t.Errorf("category %s: report %d, Facets %d", c.Category, c.Count, got)
		}
	}
	if n := len(all[storage.FacetCategory]); n != len(r.Categories) {
		t.Errorf("%d categories in the report, %d in Facets", len(r.Categories), n)
	}
	risk := all[storage.FacetRiskLevel]
	if r.Risk.Low != risk["low"] || r.Risk.Medium != risk["medium"] || r.Risk.High != risk["high"] {
		t.Errorf("risk: report %+v, Facets %v", r.Risk, risk)
	}
	if r.HighRisk.Count != risk["high"] {
		t.Errorf("high risk: report %d, Facets %d", r.HighRisk.Count, risk["high"])
	}
	if n := len(all[storage.FacetUserID]); n != r.Summary.Actors {
		t.Errorf("actors: report %d, Facets %d", r.Summary.Actors, n)
	}
	cat, _ := storage.LoadCatalogue()
	if got := count(func(f *storage.Filter) { f.Categories = MaterialCategories(cat) }); got != r.Summary.MaterialEvents {
		t.Errorf("material events: report %d, Facets %d", r.Summary.MaterialEvents, got)
	}
	var weekly int64
	for _, w := range r.Weekly {
		weekly += w.Total
	}
	if weekly != r.Summary.Events {
		t.Errorf("weekly rows add up to %d, not %d", weekly, r.Summary.Events)
	}
	// Per control: the events of every action type that maps to it.
	for _, rows := range [][]ControlRow{r.Controls.SOC2, r.Controls.ISO27001} {
		for _, row := range rows {
			var types []string
			for _, at := range cat.Types() {
				if slices.Contains(at.SOC2, row.Control) || slices.Contains(at.ISO27001, row.Control) {
					types = append(types, at.Name)
				}
			}
			if got := count(func(f *storage.Filter) { f.ActionTypes = types }); got != row.Count {
				t.Errorf("control %s: report %d, Facets over %v %d", row.Control, row.Count, types, got)
			}
		}
	}
	by := func(types ...string) func(*storage.Filter) {
		return func(f *storage.Filter) { f.ActionTypes = types }
	}
	applies := facets(by("apply.mutation"))[storage.FacetStatus]
	a := r.Changes.ApplyOutcomes
	if a.Applied != applies["applied"] || a.Failed != applies["failed"] || a.RolledBack != applies["rolled_back"] {
		t.Errorf("apply outcomes: report %+v, Facets %v", a, applies)
	}
	if int64(r.Incidents.Count) != applies["failed"]+applies["rolled_back"] || r.Incidents.Count == 0 {
		t.Errorf("incidents: report %d, Facets %v", r.Incidents.Count, applies)
	}
	if got := count(by("approval.approved")); got != r.Changes.Approvals || got == 0 {
		t.Errorf("approvals: report %d, Facets %d", r.Changes.Approvals, got)
	}
	if got := count(by("approval.rejected")); got != r.Changes.Rejections {
		t.Errorf("rejections: report %d, Facets %d", r.Changes.Rejections, got)
	}
	if got := count(by("rollback.executed")); got != r.Summary.Rollbacks {
		t.Errorf("rollbacks: report %d, Facets %d", r.Summary.Rollbacks, got)
	}
	if got := count(by("audit.exported")); got != r.Exports.Count || got != 2 {
		t.Errorf("exports: report %d, Facets %d", r.Exports.Count, got)
	}
	// The export that held decrypted states is flagged, with its size.
	if x := r.Exports.Items; r.Exports.Revealing != 1 || len(x) != 2 || x[0].RevealedStates || x[0].Events != nil ||
		!x[1].RevealedStates || x[1].Events == nil || *x[1].Events != 42 {
		t.Errorf("exports revealing states: %d, items %+v", r.Exports.Revealing, x)
	}
	if got := count(by("connection.provider_connected")); got != int64(len(r.Connections.Connected)) || got == 0 {
		t.Errorf("connections made: report %d, Facets %d", len(r.Connections.Connected), got)
	}
	if got := count(by("connection.provider_disconnected")); got != int64(len(r.Connections.Disconnected)) || got != 1 {
		t.Errorf("connections removed: report %d, Facets %d", len(r.Connections.Disconnected), got)
	}
	if got := count(by("workflow.drift_detection")); got != r.Drift.Cycles {
		t.Errorf("drift cycles: report %d, Facets %d", r.Drift.Cycles, got)
	}
	// Every plan generated in the period is a chain; its versions are its
	// plan.generated events.
	var generated int64
	for _, c := range r.Changes.Chains {
		if c.GeneratedAt != "" {
			generated += int64(c.Versions)
		}
	}
	if got := count(by("plan.generated")); got != generated || got == 0 {
		t.Errorf("plan.generated: report chains hold %d, Facets %d", generated, got)
	}
	if r.Changes.MultiParty == 0 {
		t.Error("no multi-party approval in a quarter of demo history")
	}
	// Each rolled-back apply carries its RTO.
	for _, in := range r.Incidents.Items {
		if in.Status == "rolled_back" && in.RTOSeconds == nil {
			t.Errorf("incident %s has no RTO", in.EventID)
		}
	}
	// Example ids are events of the period, of the category they stand for.
	for _, c := range r.Categories {
		for _, id := range c.ExampleIDs {
			e, err := st.Get(ctx, testOrg, id)
			if err != nil || e.Category != c.Category || e.Timestamp.Before(testPeriod.Since) || !e.Timestamp.Before(testPeriod.Until) {
				t.Errorf("example %s of %s: %v %s %s", id, c.Category, err, e.Category, e.Timestamp)
			}
		}
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// Exports that revealed states are counted however many there are, not
// only among the MaxListed listed, and the page says the list is cut.
func TestBuild_RevealingExportsBeyondTheList(t *testing.T) {
	ctx := context.Background()
	st := emptyStore(t)
	at := testPeriod.Since.Add(time.Hour)
	var evs []storage.Event
	for i := range MaxListed + 2 {
		reveal := i >= MaxListed // the last two, which are not listed
		evs = append(evs, storage.Event{Timestamp: at.Add(time.Duration(i) * time.Minute), OrganizationID: testOrg,
			UserID: "auditor@acme.example", Provider: "system", ActionType: "audit.exported", ResourceIDs: []string{},
			Status: "applied", RiskLevel: "medium",
			Metadata: []byte(`{"format":"jsonl","filter":{"org":"acme-prod"},"sha256":"` + strings.Repeat("ab", 32) + `","files":[],"bytes":1,"revealStates":` + strconv.FormatBool(reveal) + `}`)})
	}
	if _, err := st.Append(ctx, evs); err != nil {
		t.Fatal(err)
	}
	r, err := Build(ctx, st, Options{Org: testOrg, Period: testPeriod, Integrity: stubIntegrity{}, Now: func() time.Time { return testNow }})
	if err != nil {
		t.Fatal(err)
	}
	if r.Exports.Count != MaxListed+2 || r.Exports.Truncated != 2 || r.Exports.Revealing != 2 || len(r.Exports.Items) != MaxListed {
		t.Errorf("exports: count %d, listed %d, truncated %d, revealing %d", r.Exports.Count, len(r.Exports.Items), r.Exports.Truncated, r.Exports.Revealing)
	}
	var html bytes.Buffer
	r.Evidence = EvidenceInfo{Files: []EvidenceFile{}}
	if err := WriteHTML(&html, r); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"2 of the 202 exports held decrypted states", "The first 200 exports; 2 more"} {
		if !bytes.Contains(html.Bytes(), []byte(want)) {
			t.Errorf("report.html does not say %q", want)
		}
	}
}

// The copies made for auditors that held the organization (recorded in the
// app's own organization) are among its exports: a copy of it alone, or
// of every organization, and not a copy of another one alone.
func TestBuild_ListsAuditorCopies(t *testing.T) {
	ctx := context.Background()
	st := emptyStore(t)
	at := testPeriod.Since.Add(time.Hour)
	copyEvent := func(i int, orgIDs string) storage.Event {
		meta := `{"dir":"/audits/c` + strconv.Itoa(i) + `","organizations":1,"events":5` + orgIDs + `}`
		return storage.Event{Timestamp: at.Add(time.Duration(i) * time.Minute), OrganizationID: "axiom-audit", UserID: "owner",
			Provider: "system", ActionType: "audit.copied_for_audit", ResourceIDs: []string{}, Status: "applied", RiskLevel: "high",
			Metadata: []byte(meta)}
	}
	if _, err := st.Append(ctx, []storage.Event{
		copyEvent(1, `,"orgIds":["`+testOrg+`"]`), copyEvent(2, `,"orgIds":["globex"]`), copyEvent(3, ``),
		{Timestamp: at.Add(90 * time.Second), OrganizationID: testOrg, UserID: "auditor", Provider: "system", ActionType: "audit.exported",
			ResourceIDs: []string{}, Status: "applied", RiskLevel: "medium",
			Metadata: []byte(`{"format":"csv","filter":{"org":"acme-prod"},"sha256":"` + strings.Repeat("ab", 32) + `","files":[],"bytes":1}`)},
	}); err != nil {
		t.Fatal(err)
	}
	r, err := Build(ctx, st, Options{Org: testOrg, Period: testPeriod, Integrity: stubIntegrity{}, Now: func() time.Time { return testNow }, CopiesOrg: "axiom-audit"})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, x := range r.Exports.Items {
		got = append(got, x.Kind+": "+x.Filter)
	}
	want := []string{"auditor copy: copy of " + testOrg + " into /audits/c1", `export: {"filter":{"org":"acme-prod"}}`, "auditor copy: copy of every organization into /audits/c3"}
	if r.Exports.Count != 3 || len(got) != 3 || got[0] != want[0] || got[2] != want[2] || !strings.HasPrefix(got[1], "export") {
		t.Errorf("exports %d: %q, want %q", r.Exports.Count, got, want)
	}
	// Without CopiesOrg, none.
	r, err = Build(ctx, st, Options{Org: testOrg, Period: testPeriod, Integrity: stubIntegrity{}, Now: func() time.Time { return testNow }})
	if err != nil || r.Exports.Count != 1 {
		t.Errorf("without CopiesOrg: %d exports, %v", r.Exports.Count, err)
	}
}
