package export

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/axiomops/axiom-audit/storage"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// encodeAll encodes the hostile events (states revealed) in format f.
func encodeAll(t *testing.T, f Format) ([]byte, []storage.StoredEvent) { return encodeAllF(t, f) }

func encodeAllF(t testing.TB, f Format) ([]byte, []storage.StoredEvent) {
	t.Helper()
	src := newSource(t)
	page, err := src.List(context.Background(), storage.Filter{Org: testOrg, Order: storage.OldestFirst, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	cat, _ := storage.LoadCatalogue()
	info := newCatalogueInfo(cat)
	enc, err := NewEncoder(f, Product{Version: "1.2.3", Host: "host-1"})
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := enc.Begin(&b); err != nil {
		t.Fatal(err)
	}
	var rec Record
	for i := range page.Events {
		info.record(&rec, &page.Events[i])
		if err := enc.Encode(&b, &rec); err != nil {
			t.Fatal(err)
		}
	}
	if err := enc.End(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes(), page.Events
}

func TestFormats_golden(t *testing.T) {
	for _, f := range Formats {
		t.Run(string(f), func(t *testing.T) {
			got, _ := encodeAll(t, f)
			path := filepath.Join("testdata", "golden", "events."+f.Ext())
			if *update {
				os.MkdirAll(filepath.Dir(path), 0o755)
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -update)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s differs from the golden file %s (run go test -update if intended)", f, path)
			}
		})
	}
}

func controlsOf(t *testing.T, action string) (soc2, iso []string) {
	cat, _ := storage.LoadCatalogue()
	at, ok := cat.Lookup(action)
	if !ok {
		t.Fatalf("action %s not in catalogue", action)
	}
	return at.SOC2, at.ISO27001
}

func canon(t *testing.T, raw []byte) string {
	t.Helper()
	c, err := canonical(raw)
	if err != nil {
		t.Fatalf("canonical %q: %v", raw, err)
	}
	return string(c)
}

func TestFormats_csvParsedBack(t *testing.T) {
	data, events := encodeAll(t, CSV)
	r := csv.NewReader(bytes.NewReader(data))
	rows, err := r.ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasSuffix(data, []byte("\r\n")) {
		t.Error("CSV rows do not end in CRLF (RFC 4180)")
	}
	if !slices.Equal(rows[0], CSVHeader) {
		t.Fatalf("header %v", rows[0])
	}
	rows = rows[1:]
	if len(rows) != len(events) {
		t.Fatalf("%d rows for %d events", len(rows), len(events))
	}
	col := func(name string) int { return slices.Index(CSVHeader, name) }
	for i, row := range rows {
		e := events[i]
		for j, cell := range row {
			if cell != "" && strings.ContainsRune("=+-@\t\r", rune(cell[0])) {
				t.Errorf("row %d %s: cell %q starts a formula", i, CSVHeader[j], cell)
			}
		}
		un := func(name string) string { return UnescapeCSVCell(row[col(name)]) }
		// Go's CSV reader reads CRLF inside a quoted field as LF.
		if un("id") != e.ID || un("userId") != strings.ReplaceAll(e.UserID, "\r\n", "\n") || un("seq") != fmt.Sprint(e.Seq) || un("actionType") != e.ActionType {
			t.Errorf("row %d: %v", i, row)
		}
		var res []string
		if err := json.Unmarshal([]byte(un("resourceIds")), &res); err != nil || !slices.Equal(res, orEmpty(e.ResourceIDs)) {
			t.Errorf("row %d resourceIds %q", i, un("resourceIds"))
		}
		if canon(t, []byte(un("metadata"))) != canon(t, e.Metadata) {
			t.Errorf("row %d metadata %q", i, un("metadata"))
		}
		if len(e.AfterState) > 0 && canon(t, []byte(un("afterState"))) != canon(t, e.AfterState) {
			t.Errorf("row %d afterState %q", i, un("afterState"))
		}
		soc2, iso := controlsOf(t, e.ActionType)
		var gotSOC2, gotISO []string
		json.Unmarshal([]byte(un("soc2")), &gotSOC2)
		json.Unmarshal([]byte(un("iso27001")), &gotISO)
		if !slices.Equal(gotSOC2, soc2) || !slices.Equal(gotISO, iso) {
			t.Errorf("row %d controls %v %v, want %v %v", i, gotSOC2, gotISO, soc2, iso)
		}
	}
	if got := UnescapeCSVCell(rows[0][col("userId")]); got != `=HYPERLINK("http://evil","x")` {
		t.Errorf("formula cell read back as %q", got)
	}
	if rows[0][col("userId")][0] != '\'' {
		t.Errorf("formula cell not prefixed: %q", rows[0][col("userId")])
	}
}

func TestFormats_jsonParsedBack(t *testing.T) {
	for _, f := range []Format{JSONLines, JSON} {
		t.Run(string(f), func(t *testing.T) {
			data, events := encodeAll(t, f)
			var got []map[string]json.RawMessage
			if f == JSON {
				if err := json.Unmarshal(data, &got); err != nil {
					t.Fatal(err)
				}
			} else {
				for _, line := range strings.Split(strings.TrimSuffix(string(data), "\n"), "\n") {
					var m map[string]json.RawMessage
					if err := json.Unmarshal([]byte(line), &m); err != nil {
						t.Fatalf("line %q: %v", line, err)
					}
					got = append(got, m)
				}
			}
			if len(got) != len(events) {
				t.Fatalf("%d events, want %d", len(got), len(events))
			}
			for i, m := range got {
				e := events[i]
				var id, user string
				json.Unmarshal(m["id"], &id)
				json.Unmarshal(m["userId"], &user)
				if id != e.ID || user != e.UserID || canon(t, m["metadata"]) != canon(t, e.Metadata) {
					t.Errorf("event %d: %v", i, m)
				}
				var soc2 []string
				json.Unmarshal(m["soc2"], &soc2)
				if want, _ := controlsOf(t, e.ActionType); !slices.Equal(soc2, want) {
					t.Errorf("event %d soc2 %v", i, soc2)
				}
			}
		})
	}
}

// cefLine is a CEF event as parsed by parseCEFLine, written from the
// ArcSight CEF specification independently of the encoder: header fields
// are split at unescaped pipes; the extension is split at spaces, and a
// token whose first unescaped '=' follows a valid key starts a new pair,
// any other token continues the previous value.
type cefLine struct {
	Header []string // Version (CEF:0) .. Severity: 7 fields
	Ext    map[string]string
}

var cefKey = regexp.MustCompile(`^[A-Za-z0-9_]+$`)

func parseCEFLine(line string) (cefLine, error) {
	var out cefLine
	if !strings.HasPrefix(line, "CEF:") {
		return out, fmt.Errorf("no CEF: prefix")
	}
	var cur strings.Builder
	i := 0
	for len(out.Header) < 7 {
		if i >= len(line) {
			return out, fmt.Errorf("header has %d fields", len(out.Header))
		}
		c := line[i]
		if c == '\\' && i+1 < len(line) {
			cur.WriteByte(line[i+1])
			i += 2
			continue
		}
		if c == '|' {
			out.Header = append(out.Header, cur.String())
			cur.Reset()
		} else {
			cur.WriteByte(c)
		}
		i++
	}
	out.Ext = map[string]string{}
	var key string
	var val []string
	flush := func() {
		if key != "" {
			out.Ext[key] = unescapeExt(strings.Join(val, " "))
		}
	}
	for _, tok := range strings.Split(line[i:], " ") {
		eq := -1
		for j := 0; j < len(tok); j++ {
			if tok[j] == '\\' {
				j++
				continue
			}
			if tok[j] == '=' {
				eq = j
				break
			}
		}
		if eq > 0 && cefKey.MatchString(tok[:eq]) {
			flush()
			key, val = tok[:eq], []string{tok[eq+1:]}
			continue
		}
		if eq >= 0 {
			return out, fmt.Errorf("unescaped '=' inside a value: %q", tok)
		}
		val = append(val, tok)
	}
	flush()
	return out, nil
}

func unescapeExt(s string) string {
	r := strings.NewReplacer(`\\`, `\`, `\=`, `=`, `\n`, "\n", `\r`, "\r")
	return r.Replace(s)
}

func TestFormats_cefParsedBack(t *testing.T) {
	data, events := encodeAll(t, CEF)
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	if len(lines) != len(events) {
		t.Fatalf("%d lines for %d events (a value broke a line?)", len(lines), len(events))
	}
	for i, line := range lines {
		e := events[i]
		if strings.ContainsRune(line, '\r') {
			t.Errorf("line %d holds a CR", i)
		}
		c, err := parseCEFLine(line)
		if err != nil {
			t.Fatalf("line %d: %v\n%s", i, err, line)
		}
		sev := strconv.Itoa(CEFSeverity(e.RiskLevel))
		if !slices.Equal(c.Header[:5], []string{"CEF:0", "Axiom", "Axiom Audit", "1.2.3", e.ActionType}) || c.Header[6] != sev {
			t.Errorf("line %d header %q", i, c.Header)
		}
		soc2, iso := controlsOf(t, e.ActionType)
		want := map[string]string{"rt": fmt.Sprint(e.Timestamp.UnixMilli()), "suser": e.UserID, "act": e.ActionType,
			"externalId": e.ID, "cn1": fmt.Sprint(e.Seq), "cs1": e.OrganizationID, "cs2": strings.Join(soc2, ","),
			"cs3": strings.Join(iso, ","), "cs2Label": "soc2Controls", "outcome": outcome(e.Status)}
		for k, v := range want {
			if c.Ext[k] != v {
				t.Errorf("line %d %s = %q, want %q", i, k, c.Ext[k], v)
			}
		}
		if canon(t, []byte(c.Ext["cs5"])) != canon(t, e.Metadata) {
			t.Errorf("line %d metadata %q", i, c.Ext["cs5"])
		}
		var res []string
		if err := json.Unmarshal([]byte(c.Ext["cs4"]), &res); err != nil || !slices.Equal(res, orEmpty(e.ResourceIDs)) {
			t.Errorf("line %d resources %q", i, c.Ext["cs4"])
		}
		if len(e.AfterState) > 0 && canon(t, []byte(c.Ext["flexString2"])) != canon(t, e.AfterState) {
			t.Errorf("line %d afterState %q", i, c.Ext["flexString2"])
		}
	}
}

func TestFormats_splunkHECParsedBack(t *testing.T) {
	data, events := encodeAll(t, SplunkHEC)
	d := json.NewDecoder(bytes.NewReader(data)) // concatenated envelopes
	d.UseNumber()
	for i := 0; d.More(); i++ {
		var env struct {
			Time       json.Number     `json:"time"`
			Host       string          `json:"host"`
			Source     string          `json:"source"`
			SourceType string          `json:"sourcetype"`
			Event      map[string]any  `json:"event"`
			Fields     map[string]any  `json:"fields"`
			Extra      json.RawMessage `json:"index"`
		}
		if err := d.Decode(&env); err != nil {
			t.Fatal(err)
		}
		e := events[i]
		secs, err := env.Time.Float64()
		if err != nil || !strings.Contains(env.Time.String(), ".") || int64(secs*1000+0.5) != e.Timestamp.UnixMilli() {
			t.Errorf("event %d time %s for %v", i, env.Time, e.Timestamp)
		}
		if env.Host != "host-1" || env.Source != "axiom-audit" || env.SourceType != "axiom:audit" || env.Event["id"] != e.ID {
			t.Errorf("event %d envelope %+v", i, env)
		}
		if env.Fields["soc2"] == nil || env.Fields["iso27001"] == nil {
			t.Errorf("event %d carries no controls", i)
		}
	}
}

func TestFormats_ecsParsedBack(t *testing.T) {
	data, events := encodeAll(t, ECS)
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	allowedCategory := []string{"api", "authentication", "configuration", "database", "driver", "email", "file", "host",
		"iam", "intrusion_detection", "library", "malware", "network", "package", "process", "registry", "session", "threat", "vulnerability", "web"}
	allowedType := []string{"access", "admin", "allowed", "change", "connection", "creation", "deletion", "denied", "end",
		"error", "group", "indicator", "info", "installation", "protocol", "start", "user"}
	for i, line := range lines {
		var doc map[string]any
		if err := json.Unmarshal([]byte(line), &doc); err != nil {
			t.Fatal(err)
		}
		e := events[i]
		ev := doc["event"].(map[string]any)
		ts, err := time.Parse(time.RFC3339Nano, doc["@timestamp"].(string))
		if err != nil || !ts.Equal(e.Timestamp) {
			t.Errorf("event %d @timestamp %v", i, doc["@timestamp"])
		}
		if ev["id"] != e.ID || ev["action"] != e.ActionType || ev["outcome"] != outcome(e.Status) {
			t.Errorf("event %d: %v", i, ev)
		}
		if !slices.Contains([]string{"event", "alert", "state"}, ev["kind"].(string)) {
			t.Errorf("event %d kind %v", i, ev["kind"])
		}
		for _, c := range ev["category"].([]any) {
			if !slices.Contains(allowedCategory, c.(string)) {
				t.Errorf("event %d category %v not in ECS", i, c)
			}
		}
		for _, c := range ev["type"].([]any) {
			if !slices.Contains(allowedType, c.(string)) {
				t.Errorf("event %d type %v not in ECS", i, c)
			}
		}
		if doc["user"].(map[string]any)["id"] != e.UserID || doc["organization"].(map[string]any)["id"] != e.OrganizationID ||
			doc["ecs"].(map[string]any)["version"] != ECSVersion {
			t.Errorf("event %d: %v", i, doc)
		}
		if (e.Provider != "system") != (doc["cloud"] != nil) {
			t.Errorf("event %d cloud %v for provider %s", i, doc["cloud"], e.Provider)
		}
		soc2, _ := controlsOf(t, e.ActionType)
		if doc["labels"].(map[string]any)["soc2"] != strings.Join(soc2, ",") {
			t.Errorf("event %d labels %v", i, doc["labels"])
		}
		if rel := doc["related"].(map[string]any); len(rel["user"].([]any)) == 0 || len(rel["hash"].([]any)) == 0 {
			t.Errorf("event %d related %v", i, rel)
		}
	}
}

// ocsfSchema is testdata/ocsf/classes.json.
type ocsfSchema struct {
	Categories map[string]string `json:"categories"`
	Base       struct {
		Required []string `json:"required"`
	} `json:"base"`
	Objects map[string]struct {
		Required []string `json:"required"`
		OneOf    []string `json:"one_of"`
	} `json:"objects"`
	Classes map[string]struct {
		Name        string            `json:"name"`
		CategoryUID int               `json:"category_uid"`
		Activities  map[string]string `json:"activities"`
		Required    map[string]string `json:"required"`
		StateFields map[string]string `json:"state_fields"`
	} `json:"classes"`
}

func loadOCSFSchema(t *testing.T) ocsfSchema {
	var s ocsfSchema
	if err := json.Unmarshal(readFile(t, "testdata", "ocsf", "classes.json"), &s); err != nil {
		t.Fatal(err)
	}
	return s
}

func lookupPath(m map[string]any, path string) (any, bool) {
	var cur any = m
	for _, p := range strings.Split(path, ".") {
		obj, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = obj[p]; !ok || cur == nil {
			return nil, false
		}
	}
	return cur, true
}

// checkOCSF checks one OCSF event against the class definitions.
func checkOCSF(t *testing.T, s ocsfSchema, line []byte, e *storage.StoredEvent) {
	t.Helper()
	var ev map[string]any
	d := json.NewDecoder(bytes.NewReader(line))
	d.UseNumber()
	if err := d.Decode(&ev); err != nil {
		t.Fatal(err)
	}
	num := func(k string) int {
		n, _ := ev[k].(json.Number).Int64()
		return int(n)
	}
	for _, f := range s.Base.Required {
		if _, ok := lookupPath(ev, f); !ok {
			t.Errorf("%s: base attribute %s missing", e.ActionType, f)
		}
	}
	class := num("class_uid")
	def, ok := s.Classes[strconv.Itoa(class)]
	if !ok {
		t.Fatalf("%s: class %d not in the test definitions", e.ActionType, class)
	}
	activity := num("activity_id")
	if name, ok := def.Activities[strconv.Itoa(activity)]; !ok || ev["activity_name"] != name {
		t.Errorf("%s: activity %d (%v) not an activity of %s", e.ActionType, activity, ev["activity_name"], def.Name)
	}
	if num("category_uid") != def.CategoryUID || ev["class_name"] != def.Name || ev["category_name"] != s.Categories[strconv.Itoa(def.CategoryUID)] {
		t.Errorf("%s: category %d class %v", e.ActionType, num("category_uid"), ev["class_name"])
	}
	if num("type_uid") != class*100+activity {
		t.Errorf("%s: type_uid %d", e.ActionType, num("type_uid"))
	}
	if sev, _ := ocsfEventSeverity(e.ActionType, e.RiskLevel, e.Metadata); num("severity_id") != sev {
		t.Errorf("%s: severity_id %d", e.ActionType, num("severity_id"))
	}
	if ms, _ := ev["time"].(json.Number).Int64(); ms != e.Timestamp.UnixMilli() {
		t.Errorf("%s: time %v", e.ActionType, ev["time"])
	}
	for attr, objName := range def.Required {
		v, ok := lookupPath(ev, attr)
		if !ok {
			t.Errorf("%s (%s): required %s missing", e.ActionType, def.Name, attr)
			continue
		}
		objs := []any{v}
		if strings.HasSuffix(objName, "[]") {
			objName = strings.TrimSuffix(objName, "[]")
			arr, _ := v.([]any)
			if len(arr) == 0 {
				t.Errorf("%s: %s is not a non-empty array", e.ActionType, attr)
			}
			objs = arr
		}
		spec := s.Objects[objName]
		for _, o := range objs {
			m, _ := o.(map[string]any)
			for _, r := range spec.Required {
				if _, ok := lookupPath(m, r); !ok {
					t.Errorf("%s: %s.%s (required by %s) missing", e.ActionType, attr, r, objName)
				}
			}
			if len(spec.OneOf) > 0 && !slices.ContainsFunc(spec.OneOf, func(k string) bool { _, ok := lookupPath(m, k); return ok }) {
				t.Errorf("%s: %s needs one of %v", e.ActionType, attr, spec.OneOf)
			}
		}
	}
	for side, path := range def.StateFields {
		state := e.BeforeState
		if side == "after" {
			state = e.AfterState
		}
		v, ok := lookupPath(ev, path)
		if ok != (len(state) > 0) {
			t.Errorf("%s: %s present %v, state present %v", e.ActionType, path, ok, len(state) > 0)
		}
		if ok {
			b, _ := json.Marshal(v)
			if canon(t, b) != canon(t, state) {
				t.Errorf("%s: %s = %s", e.ActionType, path, b)
			}
		}
	}
	labels, _ := lookupPath(ev, "metadata.labels")
	soc2, _ := controlsOf(t, e.ActionType)
	if arr, _ := labels.([]any); !slices.Contains(arr, any("soc2:"+soc2[0])) {
		t.Errorf("%s: metadata.labels %v lack the SOC 2 controls", e.ActionType, labels)
	}
}

func TestFormats_ocsfRequiredFields(t *testing.T) {
	s := loadOCSFSchema(t)
	data, events := encodeAll(t, OCSF)
	lines := bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n"))
	if len(lines) != len(events) {
		t.Fatalf("%d lines for %d events", len(lines), len(events))
	}
	for i := range lines {
		checkOCSF(t, s, lines[i], &events[i])
	}
}

// Every action type of the catalogue maps to a class the test definitions
// know, with every required attribute.
func TestFormats_ocsfEveryActionType(t *testing.T) {
	s := loadOCSFSchema(t)
	cat, _ := storage.LoadCatalogue()
	src, _ := NewMemSource("i")
	types := cat.Types()
	for i, at := range types {
		e := hostileEvents(testOrg)[1]
		e.ID = fmt.Sprintf("01936b2e-0000-7000-8000-%012d", i)
		e.ActionType = at.Name
		if _, err := src.Append(e); err != nil {
			t.Fatal(err)
		}
	}
	page, _ := src.List(context.Background(), storage.Filter{Org: testOrg, Order: storage.OldestFirst, Limit: 1000})
	info := newCatalogueInfo(cat)
	enc, _ := NewEncoder(OCSF, Product{Version: "1"})
	for i := range page.Events {
		var b bytes.Buffer
		var rec Record
		info.record(&rec, &page.Events[i])
		if err := enc.Encode(&b, &rec); err != nil {
			t.Fatal(err)
		}
		checkOCSF(t, s, b.Bytes(), &page.Events[i])
	}
	if len(page.Events) != len(types) {
		t.Fatalf("%d events for %d types", len(page.Events), len(types))
	}
}

// A finding's OCSF severity is its own (metadata.severity), not the risk
// level of the scan that found it; other events take their risk level's.
func TestOCSFEventSeverity(t *testing.T) {
	for _, c := range []struct {
		action, risk, meta string
		id                 int
		name               string
	}{
		{"finding.created", "low", `{"severity":"critical","findingCategory":"x","confidence":90}`, 5, "Critical"},
		{"finding.created", "high", `{"severity":"informational"}`, 1, "Informational"},
		{"finding.created", "medium", `{"severity":"bogus"}`, 3, "Medium"},
		{"finding.created", "medium", ``, 3, "Medium"},
		{"scan.completed", "low", `{"severity":"critical"}`, 2, "Low"},
		{"apply.mutation", "high", `{}`, 4, "High"},
	} {
		if id, name := ocsfEventSeverity(c.action, c.risk, json.RawMessage(c.meta)); id != c.id || name != c.name {
			t.Errorf("%s risk %s %s: %d %s, want %d %s", c.action, c.risk, c.meta, id, name, c.id, c.name)
		}
	}
}
