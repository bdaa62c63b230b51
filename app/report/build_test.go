package report

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/axiomops/axiom-audit/storage"
)

// sliceSource serves a fixed list of events, a page at a time, as the
// store would for the period (tests give only events inside it).
type sliceSource struct {
	events []storage.StoredEvent
	calls  int
}

func (s *sliceSource) List(_ context.Context, f storage.Filter) (storage.Page, error) {
	s.calls++
	start := 0
	if f.Cursor != "" {
		fmt.Sscan(f.Cursor, &start)
	}
	end := min(start+f.Limit, len(s.events))
	p := storage.Page{Events: s.events[start:end]}
	if end < len(s.events) {
		p.NextCursor = fmt.Sprint(end)
	}
	return p, nil
}

type evb struct {
	list []storage.StoredEvent
	at   time.Time
}

func (b *evb) add(actionType, status, risk, meta string, res ...string) string {
	cat, _, _ := strings.Cut(actionType, ".")
	b.at = b.at.Add(time.Minute)
	id := fmt.Sprintf("00000000-0000-7000-8000-%012d", len(b.list)+1)
	if res == nil {
		res = []string{}
	}
	b.list = append(b.list, storage.StoredEvent{Seq: uint64(len(b.list) + 1), Category: cat, Event: storage.Event{
		ID: id, Timestamp: b.at, OrganizationID: "o", UserID: "svc", Provider: "aws", ActionType: actionType,
		ResourceIDs: res, Status: status, RiskLevel: risk, Metadata: json.RawMessage(meta)}})
	return id
}

// TestBuild_Chains covers the chain logic the demo rarely shows: a plan
// generated before the period, a rejected then regenerated plan, one
// awaiting approval, a rollback linked to its apply, and capped lists.
func TestBuild_Chains(t *testing.T) {
	b := &evb{at: testPeriod.Since}
	// p0 was generated before the period: its approval and apply link.
	b.add("approval.approved", "applied", "medium", `{"approver":"ann","items":["i"],"planId":"p0","planVersion":1,"requiredApprovals":1}`)
	b.add("apply.mutation", "applied", "medium", `{"planId":"p0"}`, "r0")
	// p1: rejected at version 1, approved by two at version 2, applied,
	// then one mutation rolled back.
	b.add("plan.generated", "pending", "high", `{"planId":"p1","planVersion":1,"requestedBy":"rex"}`, "r1", "r2")
	b.add("approval.approved", "applied", "high", `{"approver":"ann","items":["i"],"planId":"p1","planVersion":1,"requiredApprovals":2}`)
	b.add("approval.rejected", "applied", "high", `{"approver":"bob","items":["i"],"planId":"p1","planVersion":1,"requiredApprovals":2}`)
	b.add("plan.generated", "pending", "high", `{"planId":"p1","planVersion":2,"requestedBy":"rex"}`, "r1", "r2")
	b.add("approval.approved", "applied", "high", `{"approver":"ann","items":["i"],"planId":"p1","planVersion":2,"requiredApprovals":2}`)
	b.add("approval.approved", "applied", "high", `{"approver":"cy","items":["i"],"planId":"p1","planVersion":2,"requiredApprovals":2}`)
	b.add("apply.mutation", "applied", "high", `{"planId":"p1"}`, "r1")
	apply := b.add("apply.mutation", "rolled_back", "high", `{"planId":"p1","rtoSeconds":120,"healthCheck":"5xx"}`, "r2")
	b.add("rollback.triggered", "pending", "high", `{"triggerReason":"x","planId":"p1","applyEventId":"`+apply+`"}`, "r2")
	b.add("rollback.executed", "rolled_back", "high", `{"snapshot":"s","path":"manual","rtoSeconds":300,"planId":"p1","applyEventId":"`+apply+`"}`, "r2")
	b.add("rollback.verified", "applied", "medium", `{"verificationResult":"partial","planId":"p1","applyEventId":"`+apply+`"}`, "r2")
	// p2 waits for its second approval; p3 was rejected for good.
	b.add("plan.generated", "pending", "low", `{"planId":"p2","planVersion":1}`, "r3")
	b.add("approval.approved", "applied", "low", `{"approver":"ann","items":["i"],"planId":"p2","planVersion":1,"requiredApprovals":2}`)
	b.add("plan.generated", "pending", "low", `{"planId":"p3","planVersion":1}`, "r4")
	b.add("approval.rejected", "applied", "low", `{"approver":"ann","items":["i"],"planId":"p3","planVersion":1,"requiredApprovals":1}`)
	// A failed apply whose RTO comes from its rollback.
	failed := b.add("apply.mutation", "failed", "low", `{"planId":"p4","errorCode":"Denied"}`, "r5")
	b.add("rollback.executed", "rolled_back", "high", `{"snapshot":"s","path":"automatic","rtoSeconds":45,"planId":"p4","applyEventId":"`+failed+`"}`, "r5")
	for i := range MaxListed + 30 {
		b.add("finding.created", "applied", "high", fmt.Sprintf(`{"n":%d}`, i))
	}
	src := &sliceSource{events: b.list}
	r, err := Build(context.Background(), src, Options{Org: "o", Period: testPeriod, PageSize: 7, Now: func() time.Time { return testNow }})
	if err != nil {
		t.Fatal(err)
	}
	if src.calls < len(b.list)/7 {
		t.Errorf("Build read %d pages of 7 for %d events", src.calls, len(b.list))
	}
	chains := map[string]PlanChain{}
	for _, c := range r.Changes.Chains {
		chains[c.PlanID] = c
	}
	want := map[string]string{"p0": "applied", "p1": "rolled_back", "p2": "pending_approval", "p3": "rejected", "p4": "failed"}
	for id, outcome := range want {
		if got := chains[id].Outcome; got != outcome {
			t.Errorf("plan %s: outcome %q, want %q", id, got, outcome)
		}
	}
	if c := chains["p0"]; c.GeneratedAt != "" || c.Approved != 1 || c.MultiParty {
		t.Errorf("p0 (generated before the period): %+v", c)
	}
	if c := chains["p1"]; c.Versions != 2 || c.Approved != 2 || !c.MultiParty || c.RequestedBy != "rex" || len(c.Approvals) != 4 ||
		c.Rollbacks != 1 || c.Applies.Applied != 1 || c.Applies.RolledBack != 1 || c.Resources != 2 || c.Risk != "high" {
		t.Errorf("p1: %+v", c)
	}
	if r.Changes.MultiParty != 1 || r.Changes.Rejected != 2 || r.Changes.Plans != 5 {
		t.Errorf("changes: multi-party %d, rejected %d, plans %d", r.Changes.MultiParty, r.Changes.Rejected, r.Changes.Plans)
	}
	in := r.Incidents
	rto := func(i int) int64 {
		if i >= len(in.Items) || in.Items[i].RTOSeconds == nil {
			return -1
		}
		return *in.Items[i].RTOSeconds
	}
	if in.Count != 2 || rto(0) != 120 || in.Items[0].RollbackPath != "manual" || in.Items[0].Verification != "partial" ||
		rto(1) != 45 || in.Items[1].ErrorCode != "Denied" || in.MeanRTO != 82 || in.MaxRTO != 120 {
		t.Errorf("incidents: %+v", in)
	}
	if len(r.HighRisk.Items) != MaxListed || r.HighRisk.Count != int64(MaxListed)+r.HighRisk.Truncated || r.HighRisk.Truncated == 0 {
		t.Errorf("high risk: %d listed, %d truncated, %d in all", len(r.HighRisk.Items), r.HighRisk.Truncated, r.HighRisk.Count)
	}
	if r.Integrity.Status != "unavailable" || r.Retention.Policy != "default policy (operational 90 days, material indefinite)" || len(r.Retention.Pruned) != 0 {
		t.Errorf("integrity %q, retention %+v", r.Integrity.Status, r.Retention)
	}
}

// prunedRetention is a retention source like the sweeper's will be.
type prunedRetention struct{}

func (prunedRetention) Retention(context.Context, string, Period) (Retention, error) {
	return Retention{Policy: "custom (operational 30 days)", Classes: []RetentionClass{{Class: "operational", Days: 30}},
		Pruned: []PrunedRange{{FromSeq: 1, ToSeq: 90, Count: 90, Class: "operational", Policy: "operational 30 days", PrunedAt: "2026-09-01T00:00:00Z"}}}, nil
}

// TestWrite_EmptyPeriodAndRetention: a period with no events still makes a
// whole report, and a retention source's pruned ranges are shown.
func TestWrite_EmptyPeriodAndRetention(t *testing.T) {
	st := demoStore(t)
	p, _ := ParsePeriod("2025-Q1")
	res, err := Write(context.Background(), st, WriteOptions{
		Options:  Options{Org: testOrg, Period: p, Retention: prunedRetention{}, Now: func() time.Time { return testNow }},
		OutDir:   t.TempDir(),
		Evidence: ExportEvidence{Source: exportSource(st), Exporter: "tester"},
		NoPDF:    true,
	})
	if err != nil {
		t.Fatalf("Write: %v", err)
	}
	r := res.Report
	if r.Summary.Events != 0 || r.Evidence.Events != 0 || len(r.Weekly) != 14 || len(r.Retention.Pruned) != 1 {
		t.Errorf("events %d, evidence %d, weeks %d, pruned %d", r.Summary.Events, r.Evidence.Events, len(r.Weekly), len(r.Retention.Pruned))
	}
	html, _ := os.ReadFile(filepath.Join(res.Dir, FileHTML))
	for _, want := range []string{"No events were recorded in this period.", "custom (operational 30 days)", "1–90"} {
		if !strings.Contains(string(html), want) {
			t.Errorf("report.html does not say %q", want)
		}
	}
	checkSelfContained(t, html)
}

// TestWrite_PDFFails: a browser that fails leaves the HTML, and the report
// says why there is no PDF.
func TestWrite_PDFFails(t *testing.T) {
	fake := filepath.Join(t.TempDir(), "chromium")
	if err := os.WriteFile(fake, []byte("#!/bin/sh\necho 'no display' >&2\nexit 3\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	src := &sliceSource{}
	res, err := Write(context.Background(), src, WriteOptions{
		Options: Options{Org: "o", Period: testPeriod, Now: func() time.Time { return testNow }},
		OutDir:  t.TempDir(), Chromium: fake,
	})
	if err != nil {
		t.Fatalf("Write: %v", err)
	}
	if res.Report.Rendering.PDF || !strings.Contains(res.Report.Rendering.Note, "no display") {
		t.Errorf("rendering: %+v", res.Report.Rendering)
	}
	if _, err := os.Stat(filepath.Join(res.Dir, FilePDF)); err == nil {
		t.Error("a report.pdf was left behind")
	}
	j, _ := os.ReadFile(filepath.Join(res.Dir, FileJSON))
	if !strings.Contains(string(j), "no display") {
		t.Error("report.json does not say why there is no PDF")
	}
	checkSums(t, res.Dir, res.SumsSHA256)
}

// An incident whose apply and rollback say nothing of its recovery time
// has rtoSeconds null in report.json (not a number a sum or a mean would
// take) and "unknown" in the HTML; the known ones alone make the mean.
func TestBuild_UnknownRTOIsNull(t *testing.T) {
	b := &evb{at: testPeriod.Since}
	b.add("apply.mutation", "failed", "high", `{"planId":"p1","errorCode":"Denied"}`, "r1")
	b.add("apply.mutation", "rolled_back", "high", `{"planId":"p2","rtoSeconds":90}`, "r2")
	r, err := Build(context.Background(), &sliceSource{events: b.list}, Options{Org: "o", Period: testPeriod, Now: func() time.Time { return testNow }})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := json.Marshal(r.Incidents)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(raw), `"rtoSeconds":null`) || !strings.Contains(string(raw), `"rtoSeconds":90`) ||
		r.Incidents.MeanRTO != 90 || r.Incidents.MaxRTO != 90 {
		t.Errorf("incidents: %s", raw)
	}
	var html strings.Builder
	if err := WriteHTML(&html, r); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(html.String(), ">unknown</td>") || !strings.Contains(html.String(), ">1m 30s</td>") {
		t.Errorf("the HTML's incidents do not say unknown and 1m 30s")
	}
}
