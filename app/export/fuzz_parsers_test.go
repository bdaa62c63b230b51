package export

import (
	"bytes"
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/axiomops/axiom-audit/storage"
)

// FuzzParseFormat: ParseFormat takes exactly the names of Formats, returns
// the format named, and refuses anything else as a usage error quoting the
// input; NewEncoder agrees with it.
func FuzzParseFormat(f *testing.F) {
	for _, s := range []string{"csv", "jsonl", "json", "ocsf", "cef", "splunk-hec", "ecs", "", "JSON", "jsonl ", "hec", "ndjson", "\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ParseFormat(s)
		known := slices.Contains(Formats, Format(s))
		if (err == nil) != known {
			t.Fatalf("ParseFormat(%q) = %q, %v; a format of Formats: %v", s, got, err, known)
		}
		_, encErr := NewEncoder(Format(s), Product{})
		if (encErr == nil) != known {
			t.Fatalf("NewEncoder(%q): %v; ParseFormat: %v", s, encErr, err)
		}
		if err != nil {
			if got != "" || !errors.Is(err, ErrUsage) || !strings.Contains(err.Error(), strconv.Quote(s)) {
				t.Fatalf("ParseFormat(%q) = %q, %v: want a usage error quoting the input", s, got, err)
			}
			return
		}
		if string(got) != s || !strings.HasPrefix(got.EventsFile(), "events.") || strings.ContainsAny(got.EventsFile(), `/\`) {
			t.Fatalf("ParseFormat(%q) = %q (events file %q)", s, got, got.EventsFile())
		}
	})
}

// FuzzVerifyLineDecoders: every event, whatever its text fields hold, that
// the jsonl, Splunk HEC, ECS, OCSF and CEF encoders write is one line that
// the verifier's parseJSONEvent / parseCEFEvent read back as that event
// (id and seq; for the JSON formats every field verify-export compares with
// the log, and the revealed states). And no line, however malformed,
// panics them.
func FuzzVerifyLineDecoders(f *testing.F) {
	cat, err := storage.LoadCatalogue()
	if err != nil {
		f.Fatal(err)
	}
	types := cat.Types()
	f.Add("01936b2e-0000-7000-8000-000000000001", "alice@example.com", "acme-corp", "arn:aws:s3:::b", "note", uint64(1), uint64(0), uint8(0), []byte(nil))
	f.Add("id with spaces =x", " cn1=5 externalId=y ", "org|x", `a\b=c`, "x\ny\r\u2028", uint64(1<<63), uint64(1<<40), uint8(3), []byte("CEF:0|a|b|c|d|e|f|cn1=1 externalId=x"))
	f.Add(`\`, `=`, `\|`, "|", `"\u0000"`, uint64(0), uint64(99), uint8(255), []byte(`{"event":{"id":"a","sequence":1},"axiom":{"id":"a","seq":1}}`))
	f.Add("x", "y", "z", "", "", uint64(18446744073709551615), uint64(7), uint8(1), []byte(`{"metadata":{"uid":"a","sequence":1},"unmapped":{"axiom":{"id":"a","seq":1}},"entity":{"data":null}}`))
	for _, e := range hostileEvents(testOrg) {
		f.Add(e.ID, e.UserID, e.OrganizationID, strings.Join(e.ResourceIDs, ","), string(e.Metadata), uint64(2), uint64(3), uint8(4), []byte(e.Metadata))
	}
	f.Fuzz(func(t *testing.T, id, user, org, resource, text string, seq, at uint64, flags uint8, line []byte) {
		// Any line: no panic, and what CEF accepts has an id.
		for _, fm := range []Format{JSONLines, SplunkHEC, ECS, OCSF} {
			parseJSONEvent(fm, line)
		}
		if e, err := parseCEFEvent(line); err == nil && (e.ID == "" || !bytes.HasPrefix(line, []byte("CEF:0|"))) {
			t.Fatalf("parseCEFEvent accepts %q as %+v", line, e)
		}

		// The log holds only UTF-8 text, and never an empty id.
		for _, s := range []string{id, user, org, resource, text} {
			if !utf8.ValidString(s) {
				return
			}
		}
		if id == "" {
			id = "id"
		}
		at2000 := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
		ts := at2000.Add(time.Duration(at % uint64(100*365*24*time.Hour)))
		meta, _ := json.Marshal(map[string]string{text: text, "n": strconv.FormatUint(seq, 10)})
		typ := types[int(flags)%len(types)]
		se := &storage.StoredEvent{
			Event: storage.Event{ID: id, Timestamp: ts, OrganizationID: org, UserID: user, Provider: storage.Providers[int(flags)%len(storage.Providers)],
				ActionType: typ.Name, ResourceIDs: []string{resource, text}, Status: storage.Statuses[int(flags>>2)%len(storage.Statuses)],
				RiskLevel: storage.RiskLevels[int(flags>>4)%len(storage.RiskLevels)], Metadata: meta},
			Seq: seq, RecordedAt: ts.Add(time.Second), Category: typ.Category,
			PrevHash: strings.Repeat("ab", 32), LeafHash: strings.Repeat("cd", 32),
		}
		if flags&0x40 != 0 {
			se.ResourceIDs = nil
		}
		if flags&0x80 != 0 {
			before, _ := json.Marshal(map[string]string{"v": text, user: org})
			after, _ := json.Marshal(map[string][]string{"w": {resource}})
			se.BeforeState, se.AfterState = before, after
			se.BeforeStateCommitment, se.AfterStateCommitment = strings.Repeat("01", 32), strings.Repeat("02", 32)
		}
		var r Record
		newCatalogueInfo(cat).record(&r, se)
		pub := publicRecord{ActionType: r.ActionType, AfterStateCommitment: r.AfterStateCommitment, BeforeStateCommitment: r.BeforeStateCommitment,
			Category: r.Category, ID: r.ID, Metadata: r.Metadata, OrganizationID: r.OrganizationID, PrevHash: r.PrevHash, Provider: r.Provider,
			RecordedAt: formatTime(r.RecordedAt), ResourceIDs: r.ResourceIDs, RiskLevel: r.RiskLevel, Seq: r.Seq, Status: r.Status,
			Timestamp: formatTime(r.Timestamp), UserID: r.UserID}

		for _, fm := range []Format{JSONLines, SplunkHEC, ECS, OCSF, CEF} {
			enc, err := NewEncoder(fm, Product{Version: "1.2.3|x=y\\", Host: "host-1"})
			if err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			if err := enc.Encode(&buf, &r); err != nil {
				t.Fatalf("%s: %v", fm, err)
			}
			out, ok := bytes.CutSuffix(buf.Bytes(), []byte("\n"))
			if !ok || bytes.ContainsAny(out, "\r\n") {
				t.Fatalf("%s: the event is not one line: %q", fm, buf.Bytes())
			}
			var ex exported
			if fm == CEF {
				ex, err = parseCEFEvent(out)
			} else {
				ex, err = parseJSONEvent(fm, out)
			}
			if err != nil {
				t.Fatalf("%s line %q does not read back: %v", fm, out, err)
			}
			if ex.id() != id || ex.seq() != seq || len(ex.diffs) > 0 {
				t.Fatalf("%s line %q reads back as id %q seq %d (diffs %v), want %q %d", fm, out, ex.id(), ex.seq(), ex.diffs, id, seq)
			}
			if fm == CEF {
				continue
			}
			if diffs := compareEvent(ex.full, &pub); len(diffs) > 0 {
				t.Fatalf("%s line %q reads back with %v", fm, out, diffs)
			}
			if !sameState(ex.full.BeforeState, r.BeforeState) || !sameState(ex.full.AfterState, r.AfterState) {
				t.Fatalf("%s line %q reads back with states %s %s, want %s %s", fm, out, ex.full.BeforeState, ex.full.AfterState, r.BeforeState, r.AfterState)
			}
		}
	})
}

func sameState(a, b json.RawMessage) bool {
	if len(a) == 0 || len(b) == 0 {
		return len(a) == len(b)
	}
	return sameJSON(a, b)
}
