package export

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/axiomops/axiom-audit/storage"
)

// prunedSource is a MemSource that says some events were pruned, and
// leaves them out: what a store whose retention swept part of the range
// reports.
type prunedSource struct {
	*MemSource
	pruned []storage.PrunedEvent
	hide   []uint64 // also left out, but not reported (a source that understates)
}

func (s prunedSource) ScanRecordsAndPruned(ctx context.Context, f storage.Filter, maxSeq uint64, _ bool,
	fn func(*storage.StoredEvent) error, pruned func(*storage.PrunedEvent) error) error {
	for {
		page, err := s.List(ctx, f)
		if err != nil {
			return err
		}
		for i := range page.Events {
			seq := page.Events[i].Seq
			if seq <= maxSeq && !slices.Contains(s.hide, seq) && !slices.ContainsFunc(s.pruned, func(p storage.PrunedEvent) bool { return p.Seq == seq }) {
				if err := fn(&page.Events[i]); err != nil {
					return err
				}
			}
		}
		if page.NextCursor == "" {
			break
		}
		f.Cursor = page.NextCursor
	}
	for i := range s.pruned {
		if err := pruned(&s.pruned[i]); err != nil {
			return err
		}
	}
	return nil
}

// RetentionHistory says when version 2, which pruned them, was made.
func (s prunedSource) RetentionHistory(context.Context, string) ([]storage.RetentionPolicy, error) {
	return []storage.RetentionPolicy{storage.DefaultRetentionPolicy(),
		{Version: 1, EffectiveFrom: testNow.Add(-60 * 24 * time.Hour), ChangedBy: "bob"},
		{Version: 2, ChangedAt: testNow.Add(-30 * 24 * time.Hour), EffectiveFrom: testNow.Add(-23 * 24 * time.Hour), ChangedBy: "alice"}}, nil
}

func testPruned() []storage.PrunedEvent {
	at := func(d int) time.Time { return testNow.Add(-time.Duration(d) * 24 * time.Hour) }
	op := func(seq uint64, cat string, ts, prunedAt time.Time) storage.PrunedEvent {
		return storage.PrunedEvent{Seq: seq, ID: "id-" + cat, Timestamp: ts, ActionType: cat + ".x", Category: cat,
			Policy: "operational 30 days (v2)", PolicyVersion: 2, WindowDays: 30, PrunedAt: prunedAt}
	}
	scan := op(2, "scan", at(40), at(9))
	scan.Policy, scan.WindowDays = "scan 7 days (v2)", 7
	return []storage.PrunedEvent{op(3, "user", at(50), at(10)), op(9, "scan", at(45), at(10)), scan,
		op(7, "user", at(44), at(8))}
}

// A bundle from a source that can tell carries pruned.json (version 4),
// sums the pruned events by rule, and verifies; Result and the report say
// the same.
func TestPruned_InTheBundle(t *testing.T) {
	src := prunedSource{newSource(t), testPruned(), nil}
	res := writeBundle(t, src, JSONLines, false)
	if res.Manifest.Version != BundleVersion || res.Pruned == nil {
		t.Fatalf("version %s, pruned %v; want %s with pruned.json", res.Manifest.Version, res.Pruned, BundleVersion)
	}
	if !slices.Contains(entries(t, res.Dir), PrunedFile) {
		t.Fatalf("bundle files %v lack %s", entries(t, res.Dir), PrunedFile)
	}
	got := readFile(t, res.Dir, PrunedFile)
	golden := filepath.Join("testdata", "pruned.golden.json")
	if os.Getenv("UPDATE_GOLDEN") != "" {
		os.WriteFile(golden, got, 0o644)
	}
	if want := readFile(t, golden); string(got) != string(want) {
		t.Fatalf("pruned.json:\n%s\nwant (%s):\n%s", got, golden, want)
	}
	rep := verifyOK(t, res.Dir)
	if rep.Pruned == nil || rep.Pruned.Count != 4 || len(rep.Pruned.Rules) != 2 || !rep.Pruned.Exact {
		t.Fatalf("report's pruned: %+v", rep.Pruned)
	}
	if s := rep.Pruned.String(); !strings.Contains(s, "retention had pruned 4 events this filter selects: 3 by operational 30 days (v2), pruned from") {
		t.Fatalf("pruned says %q", s)
	}
}

// An export filtered by what a pruned event no longer has (a user) counts
// the pruned events it may have selected, and says so.
func TestPruned_NotExact(t *testing.T) {
	src := prunedSource{newSource(t), testPruned(), nil}
	res := writeBundle(t, src, CSV, false, func(o *Options) { o.Filter.ActionTypes = []string{"scan.completed"}; o.Filter.Text = "carriage" })
	rep := verifyOK(t, res.Dir)
	if rep.Pruned == nil || rep.Pruned.Exact || !strings.Contains(rep.Pruned.String(), "may have selected") {
		t.Fatalf("report's pruned: %+v", rep.Pruned)
	}
}

// A bundle without pruned events says so: none, exactly.
func TestPruned_None(t *testing.T) {
	res := writeBundle(t, prunedSource{newSource(t), nil, nil}, JSON, false)
	rep := verifyOK(t, res.Dir)
	if rep.Pruned == nil || rep.Pruned.Count != 0 || len(rep.Pruned.Rules) != 0 ||
		rep.Pruned.String() != "retention had pruned none of the events this filter selects" {
		t.Fatalf("report's pruned: %+v", rep.Pruned)
	}
	// A source that cannot tell writes a version 3 bundle, which verifies
	// and says nothing of pruning.
	res = writeBundle(t, newSource(t), JSON, false)
	if rep := verifyOK(t, res.Dir); res.Manifest.Version != bundleVersionV3 || rep.Pruned != nil || slices.Contains(entries(t, res.Dir), PrunedFile) {
		t.Fatalf("version %s, report's pruned %+v, files %v", res.Manifest.Version, rep.Pruned, entries(t, res.Dir))
	}
}

// Each change to pruned.json is a problem: its bytes no longer match the
// signed manifest, and what no longer adds up is named.
func TestPruned_Doctored(t *testing.T) {
	for _, tc := range []struct {
		name, want string
		edit       func(p *Pruned)
	}{
		{"a rule removed", "its rules add up to 3 events, its count is 4", func(p *Pruned) { p.Rules = p.Rules[:1] }},
		{"a count lowered", "its categories add up to 3, its count is 2", func(p *Pruned) { p.Rules[0].Count = 2; p.Count = 3 }},
		{"made inexact", "says exact is false, but the manifest's filter makes it true", func(p *Pruned) { p.Exact = false }},
		{"beyond the checkpoint", "rules[0] names seq 1000000, beyond the checkpoint's", func(p *Pruned) { p.Rules[0].LastSeq = 1_000_000 }},
		{"a span reversed", `"2026-`, func(p *Pruned) {
			p.Rules[0].FirstPrunedAt, p.Rules[0].LastPrunedAt = p.Rules[0].LastPrunedAt, "2000-01-01T00:00:00Z"
		}},
		{"an empty window", "windowDays is 0", func(p *Pruned) { p.Rules[0].WindowDays = 0 }},
		{"pruned before its policy took effect", "is not a span of times", func(p *Pruned) { p.Rules[0].PolicyEffectiveFrom = p.Rules[0].LastPrunedAt }},
		{"a policy half described", "go together", func(p *Pruned) { p.Rules[1].PolicyChangedAt = "" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := writeBundle(t, prunedSource{newSource(t), testPruned(), nil}, JSONLines, false)
			path := filepath.Join(res.Dir, PrunedFile)
			p, err := ParsePruned(readFile(t, path))
			if err != nil {
				t.Fatal(err)
			}
			tc.edit(&p)
			data, _ := json.MarshalIndent(p, "", "  ")
			if err := os.WriteFile(path, data, 0o644); err != nil {
				t.Fatal(err)
			}
			rep, err := Verify(context.Background(), res.Dir, VerifyOptions{})
			if err != nil {
				t.Fatal(err)
			}
			var msgs []string
			for _, pr := range rep.Problems {
				msgs = append(msgs, pr.String())
			}
			all := strings.Join(msgs, "\n")
			if rep.OK || !strings.Contains(all, "pruned.json: has SHA-256") || !strings.Contains(all, tc.want) {
				t.Fatalf("problems:\n%s\nwant the changed hash and %q", all, tc.want)
			}
		})
	}
	// An export of every event whose pruned.json understates what it lacks.
	res := writeBundle(t, prunedSource{newSource(t), testPruned(), []uint64{5}}, JSONLines, false)
	rep, err := Verify(context.Background(), res.Dir, VerifyOptions{})
	if err != nil || rep.OK || len(rep.Problems) != 1 ||
		rep.Problems[0].Message != "says 4 events were pruned, but the bundle's filter selects every event and the manifest counts 7 of the checkpoint's 12, so 5 would have to be" {
		t.Fatalf("an understating pruned.json: %+v, %v", rep.Problems, err)
	}
	// Without the file, or not listed.
	res = writeBundle(t, prunedSource{newSource(t), testPruned(), nil}, JSONLines, false)
	os.Remove(filepath.Join(res.Dir, PrunedFile))
	rep, err = Verify(context.Background(), res.Dir, VerifyOptions{})
	if err != nil || rep.OK || len(rep.Problems) != 1 {
		t.Fatalf("a bundle without pruned.json verifies: %+v, %v", rep, err)
	}
}

func FuzzParsePruned(f *testing.F) {
	data, _ := encodePruned(newPrunedTallyOf(testPruned()).result())
	f.Add(data)
	f.Add([]byte(`{"exact":true,"count":0,"rules":[]}`))
	f.Add([]byte(`{"exact":true,"count":0}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ParsePruned(b)
		if err != nil {
			return
		}
		// What parses re-encodes to something that parses the same.
		again, err := encodePruned(p)
		if err != nil {
			t.Fatal(err)
		}
		q, err := ParsePruned(again)
		if err != nil {
			t.Fatalf("re-encoded %s does not parse: %v", again, err)
		}
		if q.Count != p.Count || len(q.Rules) != len(p.Rules) || q.Exact != p.Exact {
			t.Fatalf("%+v re-parses as %+v", p, q)
		}
	})
}

func newPrunedTallyOf(ps []storage.PrunedEvent) *prunedTally {
	t := newPrunedTally(true)
	for i := range ps {
		t.add(&ps[i])
	}
	return t
}

func TestParsePruned_Refuses(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`{"exact":true,"count":0}`, "lacks rules"},
		{`{"exact":null,"count":0,"rules":[]}`, "lacks exact"},
		{`{"exact":true,"count":0,"rules":[],"extra":1}`, "unknown field"},
		{`{"exact":true,"count":1,"rules":[]}`, "its rules add up to 0 events, its count is 1"},
		{`{"exact":true,"count":0,"rules":[]} {}`, "more than one JSON value"},
	} {
		if _, err := ParsePruned([]byte(tc.in)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParsePruned(%s): %v, want %q", tc.in, err, tc.want)
		}
	}
}
