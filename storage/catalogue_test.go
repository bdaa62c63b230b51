package storage

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
)

// testClock is the validation clock of the tests: the golden examples are
// dated March 2026.
func testClock() time.Time { return time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC) }

func testCatalogue(t testing.TB) *Catalogue {
	t.Helper()
	c, err := LoadCatalogue()
	if err != nil {
		t.Fatalf("LoadCatalogue: %v", err)
	}
	return c.WithClock(testClock)
}

// readExamples reads testdata/validate/examples.jsonl: one valid event per
// catalogued action type.
func readExamples(t testing.TB) [][]byte {
	t.Helper()
	data, err := os.ReadFile("testdata/validate/examples.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	var lines [][]byte
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, MaxEventBytes)
	for sc.Scan() {
		if len(bytes.TrimSpace(sc.Bytes())) > 0 {
			lines = append(lines, slices.Clone(sc.Bytes()))
		}
	}
	return lines
}

func TestCatalogue_Invariants(t *testing.T) {
	c := testCatalogue(t)
	types := c.Types()
	if len(types) < 56 {
		t.Fatalf("catalogue has %d types; want every type of issue 3", len(types))
	}
	if !sort.SliceIsSorted(types, func(i, j int) bool { return types[i].Name < types[j].Name }) {
		t.Error("Types() is not sorted by name")
	}
	soc2 := regexp.MustCompile(`^(CC[1-9]\.[0-9]|A1\.[1-3]|C1\.[12]|PI1\.[1-5]|P[1-8]\.[0-9])$`)
	iso := regexp.MustCompile(`^A\.(5\.([1-9]|[1-3][0-9])|6\.[1-8]|7\.([1-9]|1[0-4])|8\.([1-9]|[1-2][0-9]|3[0-4]))$`)
	for _, at := range types {
		t.Run(at.Name, func(t *testing.T) {
			prefix, _, _ := strings.Cut(at.Name, ".")
			if at.Category != prefix {
				t.Errorf("category %q is not the prefix of %q", at.Category, at.Name)
			}
			if len(at.SOC2) == 0 || len(at.ISO27001) == 0 {
				t.Errorf("needs at least one SOC 2 and one ISO 27001 control: %v %v", at.SOC2, at.ISO27001)
			}
			for _, ctl := range at.SOC2 {
				if !soc2.MatchString(ctl) {
					t.Errorf("SOC 2 control %q is not a 2017 TSC criterion", ctl)
				}
			}
			for _, ctl := range at.ISO27001 {
				if !iso.MatchString(ctl) {
					t.Errorf("ISO 27001 control %q is not an Annex A (2022) control", ctl)
				}
			}
			if at.OCSF.ClassUID == 0 || at.OCSF.ClassName == "" || at.OCSF.ActivityID == 0 {
				t.Errorf("OCSF class incomplete: %+v", at.OCSF)
			}
			if at.OCSF.CategoryUID != at.OCSF.ClassUID/1000 {
				t.Errorf("OCSF category %d does not match class %d", at.OCSF.CategoryUID, at.OCSF.ClassUID)
			}
			if !ocsfActivityValid(at.OCSF.ClassUID, at.OCSF.ActivityID) {
				t.Errorf("OCSF activity %d is not defined for class %d", at.OCSF.ActivityID, at.OCSF.ClassUID)
			}
			want := RetentionOperational
			switch at.Category {
			case "connection", "plan", "approval", "terraform_export", "apply", "rollback", "releaseops", "audit":
				want = RetentionMaterial
			}
			if at.Retention != want {
				t.Errorf("retention %q, want %q", at.Retention, want)
			}
			var schema map[string]any
			if err := json.Unmarshal(at.MetadataSchema, &schema); err != nil || schema["type"] != "object" {
				t.Errorf("metadata schema must be an object schema: %s", at.MetadataSchema)
			}
		})
	}
}

// ocsfActivityValid is an independent copy of the OCSF 1.x activity ids, so
// that a typo in catalogue.json's class table is caught too.
func ocsfActivityValid(class, activity int) bool {
	max := map[int]int{1006: 6, 2003: 3, 2004: 3, 3001: 12, 3002: 6, 3003: 2, 3004: 13, 6001: 7, 6002: 8, 6003: 4, 6007: 10}[class]
	return max > 0 && (activity >= 1 && activity <= max || activity == 99)
}

func TestCatalogue_IssueTypes(t *testing.T) {
	c := testCatalogue(t)
	want := map[string][]string{
		"connection":       {"provider_connected", "provider_disconnected", "role_assumed", "role_assumption_failed", "external_id_rotated"},
		"scan":             {"started", "completed", "failed", "partial"},
		"finding":          {"created"},
		"recommendation":   {"created", "dispositioned"},
		"plan":             {"generated"},
		"approval":         {"approved", "rejected"},
		"terraform_export": {"downloaded", "applied_externally"},
		"apply":            {"mutation"},
		"rollback":         {"triggered", "executed", "verified"},
		"user":             {"signed_in", "signed_out", "settings_changed", "connection_managed", "approval_policy_edited"},
		"workflow":         {"run_started", "run_completed", "drift_detection", "verification_job", "compliance_sweep"},
		"releaseops":       {"assessed", "approved", "deployed", "blocked", "rolled_back", "drift_detected", "readiness_updated"},
		"audit": {"exported", "verified", "retention_swept", "key_rotated", "copied_for_audit", "sync_enabled", "sync_disabled", "sync_failed",
			"sync_recovered", "settings_changed", "token_created", "token_revoked", "break_glass_granted", "break_glass_used",
			"app_started", "app_stopped", "integrity_alert", "integrity_alert_acknowledged"},
	}
	for cat, actions := range want {
		for _, a := range actions {
			if _, ok := c.Lookup(cat + "." + a); !ok {
				t.Errorf("%s.%s is missing from the catalogue", cat, a)
			}
		}
	}
}

func TestCatalogue_Lookup(t *testing.T) {
	c := testCatalogue(t)
	at, ok := c.Lookup("scan.completed")
	if !ok || at.Category != "scan" || at.Retention != RetentionOperational {
		t.Fatalf("Lookup(scan.completed) = %+v, %v", at, ok)
	}
	at.SOC2[0] = "changed"
	if again, _ := c.Lookup("scan.completed"); again.SOC2[0] == "changed" {
		t.Error("Lookup exposes the catalogue's slices to callers")
	}
	for _, name := range []string{"custom.x", "custom.billing.invoice_sent", "custom.a1_b2"} {
		at, ok := c.Lookup(name)
		if !ok || at.Name != name || at.Category != "custom" || at.Retention != RetentionOperational || len(at.SOC2) == 0 || at.OCSF.ClassUID == 0 {
			t.Errorf("Lookup(%s) = %+v, %v; want a synthetic operational custom entry", name, at, ok)
		}
	}
	for _, name := range []string{"", "scan", "scan.nope", "custom.", "custom.X", "custom.1a", "custom.a..b", "custom.a.", "custom.a-b",
		"custom." + strings.Repeat("a", 65), "custom." + strings.Repeat("abcdefgh.", 15) + "a"} {
		if _, ok := c.Lookup(name); ok {
			t.Errorf("Lookup(%q) found an entry", name)
		}
	}
}

func TestParseCatalogue_RejectsBadData(t *testing.T) {
	// Each case breaks one thing in a copy of the real catalogue.
	firstType := func(doc map[string]any) map[string]any {
		return doc["types"].([]any)[0].(map[string]any)
	}
	tests := []struct {
		name   string
		break_ func(doc map[string]any)
	}{
		{"bad activity", func(d map[string]any) { firstType(d)["ocsf"].(map[string]any)["activityId"] = 77 }},
		{"unknown class", func(d map[string]any) { firstType(d)["ocsf"].(map[string]any)["classUid"] = 6099 }},
		{"no SOC 2 control", func(d map[string]any) { firstType(d)["soc2"] = []any{} }},
		{"no ISO control", func(d map[string]any) { delete(firstType(d), "iso27001") }},
		{"bad schema", func(d map[string]any) { firstType(d)["metadataSchema"] = map[string]any{"type": "objekt"} }},
		{"unknown category", func(d map[string]any) { firstType(d)["name"] = "scans.started" }},
		{"custom in list", func(d map[string]any) { firstType(d)["name"] = "custom.started" }},
		{"no action", func(d map[string]any) { firstType(d)["name"] = "scan" }},
		{"duplicate", func(d map[string]any) { d["types"] = append(d["types"].([]any), firstType(d)) }},
		{"unknown field", func(d map[string]any) { d["extra"] = true }},
		{"bad status", func(d map[string]any) { firstType(d)["requiredWhenStatus"] = map[string]any{"reverted": []any{"x"}} }},
		{"version", func(d map[string]any) { d["version"] = 2 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var doc map[string]any
			if err := json.Unmarshal(catalogueJSON, &doc); err != nil {
				t.Fatal(err)
			}
			if _, err := parseCatalogue(mustJSON(t, doc)); err != nil {
				t.Fatalf("the unbroken copy fails: %v", err)
			}
			tt.break_(doc)
			if _, err := parseCatalogue(mustJSON(t, doc)); err == nil {
				t.Error("parseCatalogue accepted a broken catalogue")
			}
		})
	}
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestExamples_EveryTypeValid(t *testing.T) {
	c := testCatalogue(t)
	seen := map[string]bool{}
	for i, line := range readExamples(t) {
		e, err := ParseEvent(line)
		if err != nil {
			t.Errorf("line %d: ParseEvent: %v", i+1, err)
			continue
		}
		if err := c.Validate(&e); err != nil {
			t.Errorf("line %d (%s): %v", i+1, e.ActionType, err)
		}
		seen[e.ActionType] = true
	}
	for _, at := range c.Types() {
		if !seen[at.Name] {
			t.Errorf("%s has no example in testdata/validate/examples.jsonl", at.Name)
		}
	}
	if !seen["custom.billing.invoice_sent"] {
		t.Error("no custom example")
	}
}
