package export

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

const testOrg = "acme-corp"

var testNow = time.Date(2026, 11, 27, 1, 2, 3, 0, time.UTC)

// hostileEvents are events whose text fields carry everything that breaks
// naive encoders: separators of every format, quotes, line breaks,
// backslashes, unicode and spreadsheet formula prefixes. One event per OCSF
// class of the catalogue.
func hostileEvents(org string) []storage.Event {
	ts := time.Date(2026, 11, 20, 9, 30, 15, 123456789, time.UTC)
	mk := func(i int, action, user, provider, status, risk string, res []string, meta string, before, after string) storage.Event {
		e := storage.Event{
			ID: fmt.Sprintf("01936b2e-0000-7000-8000-%012d", i), Timestamp: ts.Add(time.Duration(i) * time.Minute),
			OrganizationID: org, UserID: user, Provider: provider, ActionType: action, ResourceIDs: res,
			Status: status, RiskLevel: risk, Metadata: json.RawMessage(meta),
		}
		if before != "" {
			e.BeforeState = json.RawMessage(before)
		}
		if after != "" {
			e.AfterState = json.RawMessage(after)
		}
		return e
	}
	return []storage.Event{
		mk(1, "user.signed_in", "=HYPERLINK(\"http://evil\",\"x\")", "aws", "applied", "low",
			[]string{"arn:aws:iam::1:user/a,b", "+cmd|' /C calc'!A0"}, `{"ip":"10.0.0.1","note":"comma, \"quote\"\nnewline"}`, "", ""),
		mk(2, "connection.provider_connected", "@alice|ops\\root", "azure", "applied", "medium",
			[]string{"-rg=prod", "sub/ü/日本"}, `{"k=v":"a|b\\c","emoji":"😀","tab":"\tlead"}`,
			`{"role":"reader","note":"=1+1"}`, `{"role":"owner","tags":{"a|b":"c=d","nl":"x\ny"}}`),
		mk(3, "scan.completed", "bob@example.com", "gcp", "applied", "low",
			[]string{}, `{"findings":3,"msg":"\r\ncarriage"}`, "", ""),
		mk(4, "finding.created", "scanner", "aws", "pending", "high",
			[]string{"arn:aws:s3:::bucket"}, `{"severity":"high","title":"'quoted'"}`, "", ""),
		mk(5, "releaseops.drift_detected", "system", "system", "failed", "high",
			nil, `{"drift":"=cmd"}`, "", `{"x":1}`),
		mk(6, "apply.mutation", "carol", "aws", "rolled_back", "medium",
			[]string{"i-123"}, `{"plan":"p-1"}`, `{"size":"m5.large"}`, `{"size":"m5.xlarge"}`),
		mk(7, "audit.break_glass_granted", "dave", "system", "applied", "high", nil, `{}`, "", ""),
		mk(8, "terraform_export.downloaded", "erin", "aws", "applied", "low", []string{"plan/\\|=,"}, `{"bytes":10}`, "", ""),
		mk(9, "audit.settings_changed", "frank", "system", "applied", "low", nil, `{"setting":"x"}`, "", ""),
		mk(10, "workflow.run_started", "scheduler", "system", "applied", "low", nil, `{"workflow":"nightly"}`, "", ""),
		mk(11, "custom.my_tool.did_thing", "grace", "aws", "applied", "low", nil, `{"a":"b"}`, "", ""),
		mk(12, "user.signed_out", "cr\rlone, crlf\r\nend \"q\"", "aws", "applied", "low", []string{"\r\n"}, `{"k":"\r"}`, "", ""),
	}
}

// bigState is a state of exactly 512 KiB of JSON, full of separators.
func bigState() json.RawMessage {
	const n = 512 << 10
	prefix, suffix := `{"blob":"`, `"}`
	unit := jsonEscape("a|b=c\\d,\"e\"\nü")
	var b strings.Builder
	b.WriteString(prefix)
	for b.Len()+len(unit)+len(suffix) <= n {
		b.WriteString(unit)
	}
	b.WriteString(strings.Repeat("a", n-b.Len()-len(suffix)))
	b.WriteString(suffix)
	return json.RawMessage(b.String())
}

func jsonEscape(s string) string {
	b, _ := json.Marshal(s)
	return string(b[1 : len(b)-1])
}

func deterministicSalt(seq uint64, side byte) (s [32]byte) {
	for i := range s {
		s[i] = byte(seq) ^ side ^ byte(i)
	}
	return s
}

// newSource returns a MemSource holding the hostile events.
func newSource(t testing.TB) *MemSource {
	t.Helper()
	src, err := NewMemSource("test-installation")
	if err != nil {
		t.Fatal(err)
	}
	src.Salt = deterministicSalt
	if _, err := src.Append(hostileEvents(testOrg)...); err != nil {
		t.Fatal(err)
	}
	return src
}

func writeBundle(t testing.TB, src Source, f Format, sensitive bool, mod ...func(*Options)) Result {
	t.Helper()
	opts := Options{Org: testOrg, Format: f, OutDir: t.TempDir(), IncludeSensitive: sensitive, Exporter: "tester",
		ToolVersion: "1.2.3", Host: "host-1", Now: func() time.Time { return testNow },
		Filter: storage.Filter{Order: storage.OldestFirst}}
	for _, m := range mod {
		m(&opts)
	}
	res, err := Write(context.Background(), src, opts)
	if err != nil {
		t.Fatalf("Write %s: %v", f, err)
	}
	return res
}

func verifyOK(t testing.TB, dir string) *Report {
	t.Helper()
	rep, err := Verify(context.Background(), dir, VerifyOptions{})
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if !rep.OK {
		for _, p := range rep.Problems {
			t.Errorf("problem: %s", p)
		}
		t.Fatalf("bundle %s does not verify", dir)
	}
	return rep
}

func entries(t testing.TB, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

func readFile(t testing.TB, path ...string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(path...))
	if err != nil {
		t.Fatal(err)
	}
	return b
}
