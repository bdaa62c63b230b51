package storage

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/validate")

// validEvent is a typical scan.completed event with about 600 bytes of
// public fields: the benchmark workload of issue 3.
func validEvent() Event {
	return Event{
		ID:             "0190a1b2-c3d4-7e5f-8a6b-7c8d9e0f1a2b",
		Timestamp:      time.Date(2026, 3, 1, 12, 0, 0, 123000000, time.UTC),
		OrganizationID: "acme-prod",
		UserID:         "scanner@acme.example",
		Provider:       "aws",
		ActionType:     "scan.completed",
		ResourceIDs: []string{
			"arn:aws:ec2:us-east-1:123456789012:instance/i-0abc123def4567890",
			"arn:aws:s3:::acme-prod-logs",
		},
		Status:    "applied",
		RiskLevel: "low",
		Metadata: json.RawMessage(`{"region":"us-east-1","account":"123456789012","durationMs":84213,` +
			`"resourceCounts":{"ec2:instance":42,"s3:bucket":17,"iam:role":120,"rds:db":3},"scanId":"scan-2026-03-01-0001"}`),
	}
}

func fieldErrors(t *testing.T, err error) []FieldError {
	t.Helper()
	if err == nil {
		return nil
	}
	var verr *ValidationError
	if !errors.As(err, &verr) {
		t.Fatalf("error %v (%T) is not a *ValidationError", err, err)
	}
	if !errors.Is(err, ErrInvalidEvent) {
		t.Fatalf("error %v does not match ErrInvalidEvent", err)
	}
	return verr.Errors
}

func hasField(errs []FieldError, field, reasonPart string) bool {
	prefix, isPrefix := strings.CutSuffix(field, "*")
	for _, fe := range errs {
		match := fe.Field == field || isPrefix && strings.HasPrefix(fe.Field, prefix)
		if match && strings.Contains(fe.Reason, reasonPart) {
			return true
		}
	}
	return false
}

func TestValidate_Rules(t *testing.T) {
	c := testCatalogue(t)
	if err := c.Validate(ptr(validEvent())); err != nil {
		t.Fatalf("the base event is invalid: %v", err)
	}
	meta := func(s string) func(e *Event) { return func(e *Event) { e.Metadata = json.RawMessage(s) } }
	scanMeta := func(extra string) func(e *Event) {
		return meta(`{"region":"r","account":"a","durationMs":1,"resourceCounts":{}` + extra + `}`)
	}
	tests := []struct {
		name   string
		mutate func(e *Event)
		field  string // "" means valid
		reason string
	}{
		// id
		{"id empty is generated later", func(e *Event) { e.ID = "" }, "", ""},
		{"id v4", func(e *Event) { e.ID = "3f2504e0-4f89-41d3-9a0c-0305e82c3301" }, "", ""},
		{"id not uuid", func(e *Event) { e.ID = "evt-1" }, "id", "UUID"},
		{"id uppercase", func(e *Event) { e.ID = "0190A1B2-C3D4-7E5F-8A6B-7C8D9E0F1A2B" }, "id", "lowercase"},
		{"id braces", func(e *Event) { e.ID = "{0190a1b2-c3d4-7e5f-8a6b-7c8d9e0f1a2}" }, "id", "UUID"},
		{"id no hyphens", func(e *Event) { e.ID = "0190a1b2c3d47e5f8a6b7c8d9e0f1a2b" }, "id", "UUID"},
		{"id nil uuid", func(e *Event) { e.ID = "00000000-0000-0000-0000-000000000000" }, "id", "nil UUID"},
		{"id NUL", func(e *Event) { e.ID = "0190a1b2-c3d4-7e5f-8a6b-7c8d9e0f1a2\x00" }, "id", "NUL"},
		// timestamp
		{"timestamp zero", func(e *Event) { e.Timestamp = time.Time{} }, "timestamp", "required"},
		{"timestamp offset", func(e *Event) { e.Timestamp = e.Timestamp.In(time.FixedZone("CET", 3600)) }, "timestamp", "UTC"},
		{"timestamp zone with offset 0", func(e *Event) { e.Timestamp = e.Timestamp.In(time.FixedZone("GMT", 0)) }, "", ""},
		{"timestamp 1999", func(e *Event) { e.Timestamp = time.Date(1999, 12, 31, 23, 59, 59, 0, time.UTC) }, "timestamp", "2000"},
		{"timestamp 2000", func(e *Event) { e.Timestamp = MinTimestamp }, "", ""},
		{"timestamp 23h ahead", func(e *Event) { e.Timestamp = testClock().Add(23 * time.Hour) }, "", ""},
		{"timestamp 25h ahead", func(e *Event) { e.Timestamp = testClock().Add(25 * time.Hour) }, "timestamp", "future"},
		// organizationId
		{"org missing", func(e *Event) { e.OrganizationID = "" }, "organizationId", "required"},
		{"org slash", func(e *Event) { e.OrganizationID = "acme/prod" }, "organizationId", "A-Z"},
		{"org leading dot", func(e *Event) { e.OrganizationID = ".acme" }, "organizationId", "starting"},
		{"org dotdot ok", func(e *Event) { e.OrganizationID = "a..b_c-D9" }, "", ""},
		{"org 128", func(e *Event) { e.OrganizationID = strings.Repeat("a", 128) }, "", ""},
		{"org 129", func(e *Event) { e.OrganizationID = strings.Repeat("a", 129) }, "organizationId", "128"},
		{"org unicode", func(e *Event) { e.OrganizationID = "acmé" }, "organizationId", "A-Z"},
		// userId
		{"user missing", func(e *Event) { e.UserID = "" }, "userId", "required"},
		{"user system", func(e *Event) { e.UserID = "system" }, "", ""},
		{"user 256", func(e *Event) { e.UserID = strings.Repeat("u", 256) }, "", ""},
		{"user 257", func(e *Event) { e.UserID = strings.Repeat("u", 257) }, "userId", "limit"},
		{"user bad utf8", func(e *Event) { e.UserID = "al\xffice" }, "userId", "UTF-8"},
		{"user NUL", func(e *Event) { e.UserID = "al\x00ice" }, "userId", "NUL"},
		// enums
		{"provider missing", func(e *Event) { e.Provider = "" }, "provider", "required"},
		{"provider unknown", func(e *Event) { e.Provider = "oci" }, "provider", "not one of"},
		{"provider case", func(e *Event) { e.Provider = "AWS" }, "provider", "not one of"},
		{"status unknown", func(e *Event) { e.Status = "done" }, "status", "not one of"},
		{"status missing", func(e *Event) { e.Status = "" }, "status", "required"},
		{"risk unknown", func(e *Event) { e.RiskLevel = "critical" }, "riskLevel", "not one of"},
		{"risk missing", func(e *Event) { e.RiskLevel = "" }, "riskLevel", "required"},
		// actionType
		{"action missing", func(e *Event) { e.ActionType = "" }, "actionType", "required"},
		{"action unknown", func(e *Event) { e.ActionType = "scan.exploded" }, "actionType", "catalogue"},
		{"action custom", func(e *Event) { e.ActionType = "custom.billing.invoice_sent"; e.Metadata = nil }, "", ""},
		{"action custom bad", func(e *Event) { e.ActionType = "custom.Billing" }, "actionType", "custom.<name>"},
		{"action bad utf8", func(e *Event) { e.ActionType = "scan.\xff" }, "actionType", "UTF-8"},
		// resourceIds
		{"resources none", func(e *Event) { e.ResourceIDs = nil }, "", ""},
		{"resources max", func(e *Event) { e.ResourceIDs = repeat("r", MaxResourceIDs) }, "", ""},
		{"resources too many", func(e *Event) { e.ResourceIDs = repeat("r", MaxResourceIDs+1) }, "resourceIds", "limit"},
		{"resource empty", func(e *Event) { e.ResourceIDs = []string{"a", "b", "c", ""} }, "resourceIds[3]", "empty"},
		{"resource 1 KiB", func(e *Event) { e.ResourceIDs = []string{strings.Repeat("x", MaxResourceIDBytes)} }, "", ""},
		{"resource too long", func(e *Event) { e.ResourceIDs = []string{strings.Repeat("x", MaxResourceIDBytes+1)} }, "resourceIds[0]", "limit"},
		{"resource NUL", func(e *Event) { e.ResourceIDs = []string{"a\x00"} }, "resourceIds[0]", "NUL"},
		{"resource bad utf8", func(e *Event) { e.ResourceIDs = []string{"ok", "\xc3("} }, "resourceIds[1]", "UTF-8"},
		// states
		{"state floats ok", func(e *Event) { e.BeforeState = json.RawMessage(`{"cpu":0.75,"small":1e-7,"exp":2.5E+30,"neg":-0}`) }, "", ""},
		// The canonical form holds numbers as doubles: what one cannot keep
		// exactly is refused, not silently changed.
		{"state big integer printed as stored ok", func(e *Event) { e.BeforeState = json.RawMessage(`{"n":1152921504606847000}`) }, "", ""},
		{"state 2^60", func(e *Event) { e.BeforeState = json.RawMessage(`{"n":1152921504606846976}`) }, "beforeState.n", "stored as 1152921504606847000"},
		{"state big integer", func(e *Event) { e.BeforeState = json.RawMessage(`{"account":12345678901234567890}`) },
			"beforeState.account", "stored as 12345678901234567000"},
		{"state long decimal", func(e *Event) { e.AfterState = json.RawMessage(`[0.12345678901234567890123]`) },
			"afterState[0]", "more precision"},
		{"state out of range", func(e *Event) { e.BeforeState = json.RawMessage(`{"big":1e400}`) }, "beforeState.big", "beyond the range"},
		{"state underflow", func(e *Event) { e.BeforeState = json.RawMessage(`{"tiny":1e-400}`) }, "beforeState.tiny", "stored as 0;"},
		{"state null ok", func(e *Event) { e.BeforeState = json.RawMessage(`null`) }, "", ""},
		{"state invalid json", func(e *Event) { e.AfterState = json.RawMessage(`{"a":`) }, "afterState.a", "not valid JSON"},
		{"state trailing", func(e *Event) { e.AfterState = json.RawMessage(`{} {}`) }, "afterState", "after the JSON value"},
		{"state too big", func(e *Event) { e.AfterState = bigState(MaxStateBytes + 1) }, "afterState", "limit"},
		{"state at limit", func(e *Event) { e.AfterState = bigState(MaxStateBytes) }, "", ""},
		{"state NUL", func(e *Event) { e.BeforeState = json.RawMessage(`{"a":["x\u0000"]}`) }, "beforeState.a[0]", "NUL"},
		{"state bad utf8", func(e *Event) { e.BeforeState = json.RawMessage("{\"a\xff\":1}") }, "beforeState", "UTF-8"},
		{"state lone surrogate", func(e *Event) { e.BeforeState = json.RawMessage(`"\ud800x"`) }, "beforeState", "surrogate"},
		{"state pair ok", func(e *Event) { e.BeforeState = json.RawMessage(`"\ud83d\ude00"`) }, "", ""},
		{"state duplicate key", func(e *Event) { e.BeforeState = json.RawMessage(`{"a":1,"b":{"c":1,"c":2}}`) }, "beforeState.b.c", "duplicate"},
		{"state large object duplicate", func(e *Event) { e.BeforeState = manyKeys(35000, "k17") }, "beforeState.k17", "duplicate"},
		{"state large object", func(e *Event) { e.BeforeState = manyKeys(35000, "") }, "", ""},
		{"state too deep", func(e *Event) { e.BeforeState = nest(maxStateDepth + 1) }, "beforeState[0]*", "deeper than 128"},
		// metadata
		{"metadata absent for free-form", func(e *Event) { e.ActionType = "scan.started"; e.Metadata = nil }, "", ""},
		{"metadata absent but required", func(e *Event) { e.Metadata = nil }, "metadata.region", "required"},
		{"metadata array", meta(`[1]`), "metadata", "JSON object"},
		{"metadata null", meta(`null`), "metadata", "JSON object"},
		{"metadata string", meta(`"x"`), "metadata", "JSON object"},
		{"metadata invalid", meta(`{"region":}`), "metadata.region", "not valid JSON"},
		{"metadata float", scanMeta(`,"x":1.5`), "metadata.x", "must be an integer; use a string for decimals"},
		{"metadata 1.0", scanMeta(`,"x":1.0`), "metadata.x", "integer"},
		{"metadata exponent", scanMeta(`,"x":1e400`), "metadata.x", "integer"},
		{"metadata nested float", scanMeta(`,"x":{"y":[1,2.5]}`), "metadata.x.y[1]", "integer"},
		{"metadata 2^53", scanMeta(`,"x":9007199254740992,"y":-9007199254740992`), "", ""},
		{"metadata 2^53+1", scanMeta(`,"x":9007199254740993`), "metadata.x", "2^53"},
		{"metadata huge", scanMeta(`,"x":-123456789012345678901234567890`), "metadata.x", "2^53"},
		{"metadata NUL", scanMeta(`,"x":"a\u0000"`), "metadata.x", "NUL"},
		{"metadata NUL key", scanMeta(`,"\u0000":1`), "metadata", "NUL"},
		{"metadata bad utf8", scanMeta(",\"x\":\"\xed\xa0\x80\""), "metadata.x", "UTF-8"},
		{"metadata duplicate", scanMeta(`,"region":"again"`), "metadata.region", "duplicate"},
		{"metadata depth 16", scanMeta(`,"x":` + string(nest(15))), "", ""},
		{"metadata depth 17", scanMeta(`,"x":` + string(nest(16))), "metadata.x[0]*", "deeper than 16"},
		{"metadata missing fields", meta(`{"region":"us-east-1"}`), "metadata.durationMs", "required"},
		{"metadata wrong type", meta(`{"region":"r","account":"a","durationMs":"1","resourceCounts":{}}`), "metadata.durationMs", "must be of type integer"},
		{"metadata negative", meta(`{"region":"r","account":"a","durationMs":-1,"resourceCounts":{}}`), "metadata.durationMs", "at least 0"},
		{"metadata nested schema", meta(`{"region":"r","account":"a","durationMs":1,"resourceCounts":{"ec2":"x"}}`), "metadata.resourceCounts.ec2", "integer"},
		{"metadata extra allowed", scanMeta(`,"anything":{"else":true}`), "", ""},
		{"metadata free-form custom", func(e *Event) { e.ActionType = "custom.x"; e.Metadata = json.RawMessage(`{"a":1.5}`) }, "metadata.a", "integer"},
		{"metadata unknown type still scanned", func(e *Event) { e.ActionType = "nope.x"; e.Metadata = json.RawMessage(`{"a":1.5}`) }, "metadata.a", "integer"},
		// schemas of other types
		{"finding ok", func(e *Event) {
			e.ActionType = "finding.created"
			e.Metadata = json.RawMessage(`{"findingCategory":"public_bucket","severity":"high","confidence":90}`)
		}, "", ""},
		{"finding confidence 101", func(e *Event) {
			e.ActionType = "finding.created"
			e.Metadata = json.RawMessage(`{"findingCategory":"public_bucket","severity":"high","confidence":101}`)
		}, "metadata.confidence", "at most 100"},
		{"finding severity enum", func(e *Event) {
			e.ActionType = "finding.created"
			e.Metadata = json.RawMessage(`{"findingCategory":"public_bucket","severity":"urgent","confidence":1}`)
		}, "metadata.severity", "one of"},
		{"money as number", func(e *Event) {
			e.ActionType = "recommendation.created"
			e.Metadata = json.RawMessage(`{"rationale":"idle","monthlyImpact":{"amount":"12.5x","currency":"USD"}}`)
		}, "metadata.monthlyImpact.amount", "must match"},
		{"sha256 pattern", func(e *Event) {
			e.ActionType = "terraform_export.downloaded"
			e.Metadata = json.RawMessage(`{"phases":["a"],"bytes":1,"sha256":"ABC"}`)
		}, "metadata.sha256", "must match"},
		{"approval chain item", func(e *Event) {
			e.ActionType = "approval.approved"
			e.Metadata = json.RawMessage(`{"approver":"a","items":["x"],"approvalChain":[{"approver":"b"}]}`)
		}, "metadata.approvalChain[0].decision", "required"},
		{"apply rolled_back needs rto", func(e *Event) {
			e.ActionType = "apply.mutation"
			e.Status = "rolled_back"
			e.Metadata = nil
		}, "metadata.rtoSeconds", "rolled_back"},
		{"apply applied without rto", func(e *Event) { e.ActionType = "apply.mutation"; e.Metadata = nil }, "", ""},
		// whole event
		{"event too big", func(e *Event) {
			e.BeforeState = bigState(MaxStateBytes)
			e.AfterState = bigState(MaxStateBytes)
		}, "event", "1 MiB"},
		{"event big but under", func(e *Event) {
			e.BeforeState = bigState(MaxStateBytes)
			e.AfterState = bigState(MaxStateBytes - 4096)
		}, "", ""},
		// <, > and & are one byte each encoded (no HTML escaping).
		{"event of markup under", func(e *Event) {
			e.BeforeState = json.RawMessage(`"` + strings.Repeat("<&>", (MaxStateBytes-2)/3) + `"`)
			e.AfterState = json.RawMessage(`"` + strings.Repeat("<&>", (MaxStateBytes-4096)/3) + `"`)
		}, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := validEvent()
			tt.mutate(&e)
			errs := fieldErrors(t, c.Validate(&e))
			if tt.field == "" {
				if len(errs) > 0 {
					t.Fatalf("want valid, got %v", errs)
				}
				return
			}
			if !hasField(errs, tt.field, tt.reason) {
				t.Fatalf("want %s: ...%s..., got %v", tt.field, tt.reason, errs)
			}
		})
	}
}

func TestValidate_ListsEveryProblem(t *testing.T) {
	c := testCatalogue(t)
	e := Event{
		ID:          "X",
		Provider:    "oci",
		ActionType:  "scan.completed",
		ResourceIDs: []string{""},
		Metadata:    json.RawMessage(`{"region":1.5}`),
	}
	errs := fieldErrors(t, c.Validate(&e))
	for _, f := range []string{"id", "timestamp", "organizationId", "userId", "provider", "status", "riskLevel", "resourceIds[0]", "metadata.region"} {
		if !hasField(errs, f, "") {
			t.Errorf("no problem reported for %s in %v", f, errs)
		}
	}
	if msg := (&ValidationError{Index: 3, Errors: errs}).Error(); !strings.HasPrefix(msg, "invalid event 3: id: ") {
		t.Errorf("Error() = %q", msg)
	}
}

func TestValidate_ManyProblemsInOneValueAreCapped(t *testing.T) {
	c := testCatalogue(t)
	e := validEvent()
	e.BeforeState = json.RawMessage("[" + strings.Repeat(`"\u0000",`, 1000) + "1]")
	if n := len(fieldErrors(t, c.Validate(&e))); n > maxProblemsPerValue {
		t.Errorf("%d problems reported for one state; want at most %d", n, maxProblemsPerValue)
	}
}

func ptr[T any](v T) *T { return &v }

func repeat(s string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = s
	}
	return out
}

// bigState is a JSON string of exactly n bytes.
func bigState(n int) json.RawMessage {
	return json.RawMessage(`"` + strings.Repeat("s", n-2) + `"`)
}

// manyKeys is an object with n keys k0..k<n-1>, then dup as a key again if
// it is not empty: a hostile state that a quadratic duplicate check would
// choke on.
func manyKeys(n int, dup string) json.RawMessage {
	var b strings.Builder
	b.WriteString("{")
	for i := range n {
		fmt.Fprintf(&b, `"k%d":%d,`, i, i)
	}
	if dup != "" {
		fmt.Fprintf(&b, `"%s":0,`, dup)
	}
	b.WriteString(`"end":{"nested":[{"a":1,"b":"\u00e9"}]}}`)
	return json.RawMessage(b.String())
}

// nest is n nested arrays around 0: depth n.
func nest(n int) json.RawMessage {
	return json.RawMessage(strings.Repeat("[", n) + "0" + strings.Repeat("]", n))
}

func TestParseEvent(t *testing.T) {
	base := map[string]any{
		"id": "0190a1b2-c3d4-7e5f-8a6b-7c8d9e0f1a2b", "timestamp": "2026-03-01T12:00:00.123456789Z",
		"organizationId": "acme", "userId": "u", "provider": "aws", "actionType": "scan.started",
		"resourceIds": []string{"r1"}, "status": "applied", "riskLevel": "low",
		"beforeState": map[string]any{"a": 1.5}, "metadata": map[string]any{"k": "v"},
	}
	encode := func(change func(m map[string]any)) string {
		m := map[string]any{}
		for k, v := range base {
			m[k] = v
		}
		if change != nil {
			change(m)
		}
		b, _ := json.Marshal(m)
		return string(b)
	}
	set := func(k string, v any) func(m map[string]any) { return func(m map[string]any) { m[k] = v } }

	e, err := ParseEvent([]byte(encode(nil)))
	if err != nil {
		t.Fatalf("ParseEvent(valid): %v", err)
	}
	if want := time.Date(2026, 3, 1, 12, 0, 0, 123456789, time.UTC); !e.Timestamp.Equal(want) || e.Timestamp.Location() != time.UTC {
		t.Errorf("timestamp %v, want %v in UTC", e.Timestamp, want)
	}
	if string(e.BeforeState) != `{"a":1.5}` || string(e.Metadata) != `{"k":"v"}` || e.ResourceIDs[0] != "r1" {
		t.Errorf("decoded %+v", e)
	}

	tests := []struct {
		name  string
		input string
		field string // "" means valid
		part  string
	}{
		{"no fraction", encode(set("timestamp", "2026-03-01T12:00:00Z")), "", ""},
		{"no timestamp", encode(func(m map[string]any) { delete(m, "timestamp") }), "", ""},
		{"offset +00:00", encode(set("timestamp", "2026-03-01T12:00:00+00:00")), "timestamp", "Z"},
		{"offset +02:00", encode(set("timestamp", "2026-03-01T14:00:00+02:00")), "timestamp", "Z"},
		{"lowercase z", encode(set("timestamp", "2026-03-01T12:00:00z")), "timestamp", "Z"},
		{"space separator", encode(set("timestamp", "2026-03-01 12:00:00Z")), "timestamp", "Z"},
		{"comma fraction", encode(set("timestamp", "2026-03-01T12:00:00,5Z")), "timestamp", "Z"},
		{"ten fraction digits", encode(set("timestamp", "2026-03-01T12:00:00.1234567891Z")), "timestamp", "Z"},
		{"empty fraction", encode(set("timestamp", "2026-03-01T12:00:00.Z")), "timestamp", "Z"},
		{"one fraction digit", encode(set("timestamp", "2026-03-01T12:00:00.5Z")), "", ""},
		{"second 60", encode(set("timestamp", "2026-03-01T12:00:60Z")), "timestamp", "Z"},
		{"date only", encode(set("timestamp", "2026-03-01")), "timestamp", "Z"},
		{"number timestamp", encode(set("timestamp", 1767225600)), "timestamp", "RFC 3339"},
		{"bad month", encode(set("timestamp", "2026-13-01T12:00:00Z")), "timestamp", "not a real date and time (month out of range)"},
		{"february 30", encode(set("timestamp", "2026-02-30T12:00:00Z")), "timestamp", "not a real date and time (day out of range)"},
		{"unknown field", encode(set("extra", 1)), "extra", "not a field"},
		{"case-folded field", encode(func(m map[string]any) { delete(m, "userId"); m["UserID"] = "u" }), "UserID", "not a field"},
		{"duplicate field", `{"userId":"a","userId":"b"}`, "userId", "duplicate"},
		{"trailing data", encode(nil) + ` {}`, "event", "after the JSON value"},
		{"trailing garbage", encode(nil) + `x`, "event", "after the JSON value"},
		{"trailing newline ok", encode(nil) + "\n", "", ""},
		{"not an object", `[1]`, "event", "JSON object"},
		{"empty", ``, "event", "JSON object"},
		{"truncated", `{"userId":"a"`, "event", "not valid JSON"},
		{"wrong type", encode(set("userId", 5)), "userId", "must be a string"},
		{"resourceIds not array", encode(set("resourceIds", "r")), "resourceIds", "array"},
		{"resourceIds item", encode(set("resourceIds", []any{"a", 1})), "resourceIds[1]", "must be a string, not number"},
		{"resourceIds items", encode(set("resourceIds", []any{true, "a", map[string]any{}, nil})), "resourceIds[0]", "must be a string, not bool"},
		{"resourceIds object item", encode(set("resourceIds", []any{true, "a", map[string]any{}})), "resourceIds[2]", "must be a string, not object"},
		// A null item, which encoding/json decodes as "" without an error,
		// is named as on a line with a type error elsewhere.
		{"resourceIds null item", encode(set("resourceIds", []any{"a", nil})), "resourceIds[1]", "must be a string, not null"},
		{"resourceIds null item, and a type error", encode(func(m map[string]any) { m["resourceIds"] = []any{"a", nil}; m["userId"] = 5 }), "resourceIds[1]", "must be a string, not null"},
		{"metadata key with NUL", encode(set("metadata", map[string]any{"x": map[string]any{"a\x00b": 1}})), "metadata.x", "a key must not contain NUL"},
		// Far past a field's own limit the event's scan stops: it names
		// the field's limit, not the event's.
		{"metadata far too deep", `{"metadata":` + strings.Repeat(`{"a":`, 140) + "1" + strings.Repeat("}", 141), "metadata.a*", "deeper than 16 levels"},
		{"state far too deep", `{"beforeState":` + strings.Repeat(`[`, 140) + strings.Repeat("]", 140) + "}", "beforeState*", "deeper than 128 levels"},
		{"bad utf8 in userId", strings.Replace(encode(nil), `"u"`, "\"u\xff\"", 1), "userId", "UTF-8"},
		{"NUL escape in metadata", encode(set("metadata", map[string]any{"k": "\x00"})), "metadata.k", "NUL"},
		{"control char", strings.Replace(encode(nil), `"u"`, "\"u\x01\"", 1), "userId", "control character"},
		{"too big", `{"userId":"` + strings.Repeat("a", MaxInputBytes) + `"}`, "event", "1 MiB"},
		{"null fields", `{"id":null,"resourceIds":null,"metadata":null,"timestamp":null}`, "", ""},
		{"no id", encode(func(m map[string]any) { delete(m, "id") }), "", ""},
		// An empty id is not a missing one: generating one would make
		// every retry of the line a new event.
		{"empty id", encode(set("id", "")), "id", "omit id to have one generated"},
		{"empty id, and a type error", encode(func(m map[string]any) { m["id"] = ""; m["userId"] = 5 }), "id", "not empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseEvent([]byte(tt.input))
			errs := fieldErrors(t, err)
			if tt.field == "" {
				if len(errs) > 0 {
					t.Fatalf("want no error, got %v", errs)
				}
				return
			}
			if !hasField(errs, tt.field, tt.part) {
				t.Fatalf("want %s: ...%s..., got %v", tt.field, tt.part, errs)
			}
		})
	}
}

// Null metadata is no metadata, as null resourceIds is none: the event
// validates and is the same event as one without it.
func TestParseEvent_NullMetadata(t *testing.T) {
	cat, err := LoadCatalogue()
	if err != nil {
		t.Fatal(err)
	}
	in := `{"timestamp":"2026-03-01T12:00:00Z","organizationId":"acme","userId":"u","provider":"aws","actionType":"scan.started",` +
		`"resourceIds":["r"],"status":"applied","riskLevel":"low","metadata":null}`
	e, err := ParseEvent([]byte(in))
	if err != nil || e.Metadata != nil {
		t.Fatalf("ParseEvent: metadata %q, %v", e.Metadata, err)
	}
	if err := cat.Validate(&e); err != nil {
		t.Errorf("Validate: %v", err)
	}
}

// Every field of the wrong JSON type is named, not only the first
// (encoding/json reports one), and the others are still decoded.
func TestParseEvent_EveryWrongType(t *testing.T) {
	in := `{"id":5,"timestamp":"2026-03-01T12:00:00Z","organizationId":"acme","userId":true,"provider":["aws"],` +
		`"actionType":"scan.started","resourceIds":[1,"r",{}],"status":{},"riskLevel":"low","metadata":{"k":1}}`
	e, err := ParseEvent([]byte(in))
	var got []string
	for _, fe := range fieldErrors(t, err) {
		got = append(got, fe.Field+": "+fe.Reason)
	}
	want := []string{
		"id: must be a string, not number",
		"userId: must be a string, not bool",
		"provider: must be a string, not array",
		"resourceIds[0]: must be a string, not number",
		"resourceIds[2]: must be a string, not object",
		"status: must be a string, not object",
	}
	if !slices.Equal(got, want) {
		t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if e.OrganizationID != "acme" || e.ActionType != "scan.started" || e.RiskLevel != "low" || string(e.Metadata) != `{"k":1}` ||
		e.UserID != "" || !slices.Equal(e.ResourceIDs, []string{"", "r", ""}) || e.Timestamp.IsZero() {
		t.Errorf("decoded %+v: want the well-typed fields, the others zero, and \"\" for each item of resourceIds that is no string", e)
	}
	// A key that is a field only in another case is no field: its value
	// is not taken for the field's (encoding/json would), so a line with
	// "status" and "Status" is judged by its "status".
	e, err = ParseEvent([]byte(`{"userid":"u","status":"applied","Status":"x"}`))
	if errs := fieldErrors(t, err); len(errs) != 2 || e.UserID != "" || e.Status != "applied" {
		t.Errorf("case-folded keys: decoded %+v, problems %v; want userId empty, status applied, two problems", e, errs)
	}
	// A resourceIds that is no array is one problem.
	_, err = ParseEvent([]byte(`{"userId":1,"resourceIds":{"a":"b"}}`))
	got = got[:0]
	for _, fe := range fieldErrors(t, err) {
		got = append(got, fe.Field+": "+fe.Reason)
	}
	if want := []string{"userId: must be a string, not number", "resourceIds: must be an array of strings, not object"}; !slices.Equal(got, want) {
		t.Errorf("problems %q, want %q", got, want)
	}
}

func TestDecodeJSONLines(t *testing.T) {
	good := `{"timestamp":"2026-03-01T12:00:00Z","organizationId":"a","userId":"u","provider":"aws","actionType":"scan.started","status":"applied","riskLevel":"low"}`
	long := `{"userId":"` + strings.Repeat("a", MaxInputBytes) + `"}`
	input := "\ufeff" + good + "\r\n\n" + `{"timestamp":"2026-03-01T12:00:00+01:00"}` + "\n" + long + "\n   \n" + good // no final newline

	type result struct {
		line int
		err  string
	}
	var got []result
	err := DecodeJSONLines(strings.NewReader(input), func(line int, e Event, err error) error {
		r := result{line: line}
		if err != nil {
			errs := fieldErrors(t, err)
			r.err = errs[0].Field
			var ve *ValidationError
			if errors.As(err, &ve) && ve.Unreadable != (line == 4) {
				t.Errorf("line %d: Unreadable is %v", line, ve.Unreadable)
			}
		} else if e.UserID != "u" {
			t.Errorf("line %d: decoded %+v", line, e)
		}
		got = append(got, r)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []result{{1, ""}, {3, "timestamp"}, {4, "event"}, {6, ""}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("got %v, want %v", got, want)
	}

	stop := errors.New("stop")
	calls := 0
	err = DecodeJSONLines(strings.NewReader(good+"\n"+good+"\n"), func(int, Event, error) error { calls++; return stop })
	if !errors.Is(err, stop) || calls != 1 {
		t.Errorf("callback error: got %v after %d calls", err, calls)
	}

	err = DecodeJSONLines(io.MultiReader(strings.NewReader(good+"\n"), errReader{}), func(int, Event, error) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Errorf("read error: got %v", err)
	}
}

// TestParseEvent_SizeIsCompact: the 1 MiB limit applies to the event
// encoded compactly, not to the whitespace a producer adds around it.
func TestParseEvent_SizeIsCompact(t *testing.T) {
	c := testCatalogue(t)
	e := validEvent()
	e.BeforeState = bigState(MaxStateBytes)
	e.AfterState = bigState(MaxStateBytes - 4096)
	compact, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	padded := bytes.Replace(compact, []byte(`,"`), []byte(",          \""), -1)
	padded = append(padded, bytes.Repeat([]byte(" "), 8192)...)
	if len(padded) <= MaxEventBytes || len(compact) > MaxEventBytes {
		t.Fatalf("padded %d, compact %d bytes: not a test of the limit", len(padded), len(compact))
	}
	got, err := ParseEvent(padded)
	if err != nil {
		t.Fatalf("ParseEvent: %v", err)
	}
	if err := c.Validate(&got); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	// One byte more than the limit, compact, is refused, naming the size.
	const target = MaxEventBytes + 1
	e.BeforeState = bigState(MaxStateBytes - 8192)
	n, _ := encodedSize(&e)
	for n < target {
		e.ResourceIDs = append(e.ResourceIDs, strings.Repeat("r", min(MaxResourceIDBytes, max(1, target-n-3))))
		n, _ = encodedSize(&e)
	}
	last := len(e.ResourceIDs) - 1
	e.ResourceIDs[last] = e.ResourceIDs[last][n-target:]
	if n, _ := encodedSize(&e); n != target {
		t.Fatalf("built an event of %d bytes, want %d", n, MaxEventBytes+1)
	}
	if !hasField(fieldErrors(t, c.Validate(&e)), "event", fmt.Sprintf("is %d bytes encoded", MaxEventBytes+1)) {
		t.Errorf("an event of %d bytes: got %v", MaxEventBytes+1, c.Validate(&e))
	}
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("disk on fire") }

// checkRoundTrip asserts that a valid event re-encodes to JSON that parses
// back to the same event and encodes identically: what the store hashes
// must not drift between a producer and a verifier.
func checkRoundTrip(t *testing.T, c *Catalogue, e Event) {
	t.Helper()
	b1, err := json.Marshal(e)
	if err != nil {
		t.Fatalf("Marshal(valid event): %v", err)
	}
	e2, err := ParseEvent(b1)
	if err != nil {
		t.Fatalf("ParseEvent(Marshal(valid event)): %v\n%s", err, b1)
	}
	if err := c.Validate(&e2); err != nil {
		t.Fatalf("Validate(round-tripped): %v\n%s", err, b1)
	}
	b2, _ := json.Marshal(e2)
	e3, err := ParseEvent(b2)
	if err != nil {
		t.Fatal(err)
	}
	b3, _ := json.Marshal(e3)
	if !bytes.Equal(b2, b3) || !e2.Timestamp.Equal(e.Timestamp) || e2.ID != e.ID || e2.UserID != e.UserID {
		t.Fatalf("round trip unstable:\n%s\n%s\n%s", b1, b2, b3)
	}
}

func TestRoundTrip_Examples(t *testing.T) {
	c := testCatalogue(t)
	for _, line := range readExamples(t) {
		e, err := ParseEvent(line)
		if err != nil {
			t.Fatal(err)
		}
		checkRoundTrip(t, c, e)
	}
}

func FuzzParseEvent(f *testing.F) {
	for _, line := range readExamples(f) {
		f.Add(line)
	}
	if invalid, err := os.ReadFile("testdata/validate/invalid.jsonl"); err == nil {
		for _, line := range bytes.Split(invalid, []byte("\n")) {
			f.Add(line)
		}
	}
	f.Add([]byte(`{"timestamp":"2026-03-01T12:00:00+00:00"}`))
	f.Add([]byte(`{"metadata":{"a":"\ud800"},"beforeState":[[[[1e5]]]]}`))
	f.Add([]byte(`{"id":5,"userId":true,"resourceIds":[1,{}],"status":{},"timestamp":7}`))
	c := testCatalogue(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := ParseEvent(data)
		if err != nil {
			fieldErrors(t, err) // must be a *ValidationError
			return
		}
		if c.Validate(&e) == nil {
			checkRoundTrip(t, c, e)
		}
	})
}

func FuzzValidate(f *testing.F) {
	for _, line := range readExamples(f) {
		e, err := ParseEvent(line)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(e.ID, e.OrganizationID, e.UserID, e.ActionType, strings.Join(e.ResourceIDs, "\n"), []byte(e.BeforeState), []byte(e.Metadata))
	}
	c := testCatalogue(f)
	f.Fuzz(func(t *testing.T, id, org, user, action, resources string, state, metadata []byte) {
		e := validEvent()
		e.ID, e.OrganizationID, e.UserID, e.ActionType = id, org, user, action
		e.ResourceIDs = strings.Split(resources, "\n")
		if len(state) > 0 {
			e.BeforeState = state
		}
		if len(metadata) > 0 {
			e.Metadata = metadata
		}
		if err := c.Validate(&e); err != nil {
			fieldErrors(t, err)
			return
		}
		checkRoundTrip(t, c, e)
	})
}

func BenchmarkValidate(b *testing.B) {
	c := testCatalogue(b)
	e := validEvent()
	pub, _ := json.Marshal(e)
	b.ReportMetric(float64(len(pub)), "public-bytes")
	b.ReportAllocs()
	for b.Loop() {
		if err := c.Validate(&e); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkValidate_WithState(b *testing.B) {
	c := testCatalogue(b)
	e := validEvent()
	e.BeforeState = json.RawMessage(`{"instanceType":"m5.large","tags":{"env":"prod","team":"core"},"cpu":0.75,"blocks":[` +
		strings.Repeat(`{"device":"/dev/sda1","sizeGb":100,"encrypted":true},`, 18) + `{}]}`)
	b.SetBytes(int64(len(e.BeforeState)))
	b.ReportAllocs()
	for b.Loop() {
		if err := c.Validate(&e); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseEvent(b *testing.B) {
	e := validEvent()
	data, _ := json.Marshal(e)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseEvent(data); err != nil {
			b.Fatal(err)
		}
	}
}

// TestInvalid_Golden pins the messages producers see for bad lines, in the
// form of `axiom-audit append` (line N: field: reason). Regenerate with
// go test ./storage -run TestInvalid_Golden -update.
func TestInvalid_Golden(t *testing.T) {
	c := testCatalogue(t)
	in, err := os.Open("testdata/validate/invalid.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	var out bytes.Buffer
	err = DecodeJSONLines(in, func(line int, e Event, err error) error {
		errs := fieldErrors(t, err)
		seen := map[string]bool{}
		for _, fe := range errs {
			seen[fe.Field] = true
		}
		if err == nil || e.OrganizationID != "" {
			for _, fe := range fieldErrors(t, c.Validate(&e)) {
				if !seen[fe.Field] {
					errs = append(errs, fe)
				}
			}
		}
		if len(errs) == 0 {
			t.Errorf("line %d of invalid.jsonl is valid", line)
		}
		for _, fe := range errs {
			fmt.Fprintf(&out, "line %d: %s: %s\n", line, fe.Field, fe.Reason)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	const golden = "testdata/validate/invalid.golden"
	if *update {
		if err := os.WriteFile(golden, out.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(out.Bytes(), want) {
		t.Errorf("messages changed; if intended, run with -update.\ngot:\n%s\nwant:\n%s", out.Bytes(), want)
	}
}

// expState is a JSON array of n copies of 1e20: 5 bytes each as sent, 22
// in canonical form (RFC 8785 writes the number out), which is how the
// store keeps it.
func expState(n int) json.RawMessage {
	return json.RawMessage("[" + strings.TrimSuffix(strings.Repeat("1e20,", n), ",") + "]")
}

// The limits hold for the stored, canonical form, not only as sent.
func TestAppend_LimitsApplyToCanonicalForm(t *testing.T) {
	ctx := context.Background()
	s, _, _ := newTestStore(t)
	perKiB := 1024 / 22
	for _, tt := range []struct {
		name          string
		mutate        func(e *Event)
		field, reason string
	}{
		{"state within its limit as stored", func(e *Event) { e.BeforeState = expState(500 * perKiB) }, "", ""},
		{"state over its limit as stored", func(e *Event) { e.BeforeState = expState(520 * perKiB) }, "beforeState", "canonical form"},
		{"event over its limit as stored", func(e *Event) {
			e.BeforeState = expState(511 * perKiB)
			e.AfterState = expState(511 * perKiB)
			for i := range 20 {
				e.ResourceIDs = append(e.ResourceIDs, fmt.Sprintf("%04d", i)+strings.Repeat("r", 996))
			}
		}, "event", "canonical form"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := testEvent("canon", 1)
			tt.mutate(&e)
			if n, err := encodedSize(&e); err != nil || n > MaxEventBytes || len(e.BeforeState) > MaxStateBytes {
				t.Fatalf("the event is not within the limits as sent: %d bytes (%v)", n, err)
			}
			for _, call := range []struct {
				name string
				err  error
			}{
				{"Validate", s.opts.Catalogue.Validate(&e)},
				{"CheckAppend", s.CheckAppend(ctx, []Event{e})},
				{"Append", func() error { _, err := s.Append(ctx, []Event{e}); return err }()},
			} {
				errs := fieldErrors(t, call.err)
				if tt.field == "" {
					if len(errs) > 0 {
						t.Errorf("%s: want valid, got %v", call.name, errs)
					}
					continue
				}
				if !hasField(errs, tt.field, tt.reason) {
					t.Errorf("%s: want %s: ...%s..., got %v", call.name, tt.field, tt.reason, errs)
				}
			}
		})
	}
	// Only the event within its limits was recorded.
	if seq, _, err := s.Head(ctx, "canon"); err != nil || seq != 1 {
		t.Errorf("organization canon has %d events (%v), want 1", seq, err)
	}
}
