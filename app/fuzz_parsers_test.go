package app

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/axiomops/axiom-audit/storage"
)

// fuzzNow is the clock of the parsers' fuzz targets, so that what the
// catalogue accepts (no timestamp over 24h ahead) does not change with the
// day the corpus is replayed.
var fuzzNow = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

func fuzzCatalogue(tb testing.TB) *storage.Catalogue {
	tb.Helper()
	cat, err := storage.LoadCatalogue()
	if err != nil {
		tb.Fatal(err)
	}
	return cat.WithClock(func() time.Time { return fuzzNow })
}

func jsonText(tb testing.TB, v any) string {
	tb.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		tb.Fatal(err)
	}
	return string(b)
}

// refEvent is what the REST append must make of one element or line: what
// storage.ParseEvent and the producer's catalogue validation make of it.
func refEvent(cat *storage.Catalogue, raw []byte) (storage.Event, bool) {
	e, err := storage.ParseEvent(raw)
	if err == nil {
		err = validateProduced(cat, &e)
	}
	return e, err == nil
}

// FuzzDecodeEventBatch: the REST append body never panics; it is read
// element by element (array) or line by line (JSON Lines) exactly as
// storage.ParseEvent and the catalogue read one event, accepting none they
// refuse and refusing none they accept; every problem names a field and
// the index or line it is about, and only one that was refused; an
// accepted event, encoded again, reads back as itself.
func FuzzDecodeEventBatch(f *testing.F) {
	cat := fuzzCatalogue(f)
	good := TestEvent("org-a", 1, fuzzNow.Add(-time.Hour))
	good.ID = "01936b2e-0000-7000-8000-000000000001"
	bad := TestEvent("org-a", 2, fuzzNow.Add(-time.Hour))
	bad.RiskLevel, bad.Provider = "catastrophic", ""
	own := TestEvent("org-a", 3, fuzzNow.Add(-time.Hour))
	own.ActionType = "audit.verified"
	g, b, o := jsonText(f, good), jsonText(f, bad), jsonText(f, own)
	for _, s := range []string{
		"[" + g + "," + b + "]", "[" + b + "," + g + "]", g + "\n" + b + "\n", "\n\n" + g + "\r\n\r\n" + g,
		"\ufeff" + g, "\ufeff[" + g + "]", " \t[" + g + "]\n", "[" + g + "]\n" + g, g + g, "[" + o + "]", o,
		"\u00a0[" + g + "]", "\f[" + g + "]\v", "\u2028[" + g + "]\u3000", "[]", "", "\n", " ", "[null]", "[[]]", "[{}]", "{}", "null", "[1,", "[" + g + ",]", `{"id":"a","id":"b"}`,
		strings.Replace(g, `"org-a"`, `"org-\u0000"`, 1), strings.Replace(g, `{`, "{\n", 1),
		strings.Replace(g, `"timestamp":"`, `"timestamp":"+`, 1), strings.Replace(g, `Z"`, `+00:00"`, 1),
		strings.Replace(g, `"userId"`, `"UserID"`, 1), strings.Replace(g, `"n":1`, `"n":1e400`, 1),
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		events, lines, problems := decodeEventBatch(body, cat)
		for _, p := range problems {
			if p.Field == "" || p.Reason == "" {
				t.Fatalf("%q: problem %+v does not name a field and a reason", body, p)
			}
		}
		for i := range events {
			checkReencoded(t, cat, &events[i])
		}
		// A byte order mark before the body is not the JSON's.
		unmarked := bytes.TrimPrefix(body, []byte("\xef\xbb\xbf"))
		trimmed := bytes.Trim(unmarked, " \t\r\n")
		if len(trimmed) > 0 && trimmed[0] == '[' {
			if lines != nil {
				t.Fatalf("%q: an array has line numbers %v", body, lines)
			}
			var raws []json.RawMessage
			if err := json.Unmarshal(trimmed, &raws); err != nil {
				if len(events) != 0 || len(problems) != 1 || problems[0].Field != "body" {
					t.Fatalf("%q is not a JSON array (%v), yet: %d events, problems %+v", body, err, len(events), problems)
				}
				return
			}
			refused := map[int]bool{}
			for _, p := range problems {
				if p.Index == nil || *p.Index < 0 || *p.Index >= len(raws) || p.Line != 0 {
					t.Fatalf("%q: problem %+v is not at an index of the %d elements", body, p, len(raws))
				}
				refused[*p.Index] = true
			}
			k := 0
			for i, raw := range raws {
				want, ok := refEvent(cat, raw)
				if ok == refused[i] {
					t.Fatalf("element %d %q: storage.ParseEvent and the catalogue accept it: %v; decodeEventBatch refused it: %v (%+v)",
						i, raw, ok, refused[i], problems)
				}
				if ok {
					if k >= len(events) || !reflect.DeepEqual(events[k], want) {
						t.Fatalf("element %d %q: decoded as something other than storage.ParseEvent's %+v", i, raw, want)
					}
					k++
				}
			}
			if k != len(events) {
				t.Fatalf("%q: %d events accepted, %d elements valid", body, len(events), k)
			}
			if len(events) > 0 && !json.Valid(unmarked) {
				t.Fatalf("%q is not JSON, yet %d events of it were accepted as an array", body, len(events))
			}
			return
		}

		// JSON Lines.
		if len(lines) != len(events) {
			t.Fatalf("%q: %d events but %d line numbers", body, len(events), len(lines))
		}
		text := bytes.Split(body, []byte("\n"))
		refused := map[int]bool{}
		for _, p := range problems {
			if p.Index != nil || p.Line < 1 || p.Line > len(text) {
				t.Fatalf("%q: problem %+v is not on one of the %d lines", body, p, len(text))
			}
			refused[p.Line] = true
		}
		k := 0
		for n, l := range text {
			line := n + 1
			l = bytes.TrimRight(l, "\r")
			if line == 1 {
				l = bytes.TrimPrefix(l, []byte("\ufeff"))
			}
			if len(bytes.TrimSpace(l)) == 0 {
				if refused[line] {
					t.Fatalf("%q: blank line %d has a problem: %+v", body, line, problems)
				}
				continue
			}
			want, ok := refEvent(cat, l)
			if ok == refused[line] {
				t.Fatalf("line %d %q: storage.ParseEvent and the catalogue accept it: %v; decodeEventBatch refused it: %v (%+v)",
					line, l, ok, refused[line], problems)
			}
			if ok {
				if k >= len(events) || lines[k] != line || !reflect.DeepEqual(events[k], want) {
					t.Fatalf("line %d %q: decoded as something other than storage.ParseEvent's %+v (lines %v)", line, l, want, lines)
				}
				k++
			}
		}
		if k != len(events) {
			t.Fatalf("%q: %d events accepted, %d lines valid", body, len(events), k)
		}
	})
}

// checkReencoded: an accepted event, written as JSON, is accepted again,
// as a one-element array and as one line, as the same event.
func checkReencoded(t *testing.T, cat *storage.Catalogue, e *storage.Event) {
	t.Helper()
	enc, err := json.Marshal(e)
	if err != nil {
		t.Fatalf("accepted event %+v does not encode: %v", e, err)
	}
	for _, body := range [][]byte{enc, append(append([]byte("["), enc...), ']')} {
		again, _, problems := decodeEventBatch(body, cat)
		if len(problems) != 0 || len(again) != 1 {
			t.Fatalf("accepted event re-encoded as %q is refused: %+v", body, problems)
		}
		enc2, err := json.Marshal(&again[0])
		if err != nil || !bytes.Equal(enc, enc2) {
			t.Fatalf("accepted event re-encoded as %q reads back as %q (%v)", enc, enc2, err)
		}
	}
}

// maxAgo is the longest duration parseAgo takes in days (100 years).
const maxAgo = 36500 * 24 * time.Hour

// FuzzParseAgo: parseAgo (--since/--until and token --expires) never
// panics; what it accepts is positive, is N days for 1 ≤ N ≤ 36500 when
// written in days and what time.ParseDuration reads otherwise. cliTime
// names its flag and the input when it refuses, and what it gives back is
// RFC 3339 that the service's parseQueryTime accepts, that long before now.
func FuzzParseAgo(f *testing.F) {
	for _, s := range []string{"15m", "24h", "7d", "90d", "1h30m", "0d", "-1d", "+1d", "1.5d", "d", "", "0", "-5m",
		"36500d", "36501d", "99999999999d", "99999999999999999999d", "876000h", "876001h", "2562047h", "2562048h", "+1h", ".5h",
		"9223372036854775807ns", "1e3d", "٣d", "2026-09-30T12:00:00Z", "2026-09-30T12:00:00+02:00", "2026-09-30"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, ok := parseAgo(s)
		if ok {
			if d <= 0 || d > 36500*24*time.Hour || s[0] < '0' || s[0] > '9' {
				t.Fatalf("parseAgo(%q) = %v, accepted: want digits first and 1ns to 36500 days", s, d)
			}
			if n, isDays := strings.CutSuffix(s, "d"); isDays {
				days, err := strconv.Atoi(n)
				if err != nil || days < 1 || days > 36500 || d != time.Duration(days)*24*time.Hour {
					t.Fatalf("parseAgo(%q) = %v: not 1 to 36500 days", s, d)
				}
			} else if pd, err := time.ParseDuration(s); err != nil || pd != d {
				t.Fatalf("parseAgo(%q) = %v; time.ParseDuration: %v, %v", s, d, pd, err)
			}
		}

		out, err := cliTime("--since", s, fuzzNow)
		if err != nil {
			var re *RequestError
			if !errors.As(err, &re) || re.Field != "--since" || !strings.Contains(re.Reason, strconv.Quote(s)) {
				t.Fatalf("cliTime(%q): %v does not name --since and the input", s, err)
			}
			if ok {
				t.Fatalf("cliTime(%q) refuses what parseAgo accepts: %v", s, err)
			}
			return
		}
		if s == "" {
			if out != "" {
				t.Fatalf("cliTime(\"\") = %q", out)
			}
			return
		}
		at, err := parseQueryTime("since", out)
		if err != nil {
			t.Fatalf("cliTime(%q) = %q, which the service refuses: %v", s, out, err)
		}
		if _, rfcErr := time.Parse(time.RFC3339Nano, s); rfcErr != nil {
			// A duration back past 1970 is a bound at 1970: no event is older.
			want := fuzzNow.Add(-d)
			if want.Before(time.Unix(0, 0)) {
				want = time.Unix(0, 0)
			}
			if !ok || !at.Equal(want) || !at.Before(fuzzNow) {
				t.Fatalf("cliTime(%q) = %q, want %v before %v", s, out, d, fuzzNow)
			}
		}
	})
}

// FuzzParseQueryTime: parseQueryTime never panics; it takes "" as no bound;
// a refusal names the field and quotes the input; an accepted time is UTC,
// is what time.Parse reads as RFC 3339 (or 1970 for one before it), and survives formatTime and
// parseQueryTime again unchanged, as the API writes and reads it.
func FuzzParseQueryTime(f *testing.F) {
	for _, s := range []string{"", "2026-09-30T12:00:00Z", "2026-09-30T12:00:00.123456789Z", "2026-09-30T12:00:00+02:00",
		"2026-09-30T12:00:00-23:59", "0000-01-01T00:00:00Z", "9999-12-31T23:59:59.999999999Z", "2026-09-30T24:00:00Z",
		"2026-09-30t12:00:00z", "2026-09-30T12:00:00,5Z", "2026-09-30T12:00:00.1234567891Z", "2026-09-30", "24h", "90d",
		"2026-02-30T00:00:00Z", "2026-09-30T12:00:60Z"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		at, err := parseQueryTime("until", s)
		if s == "" {
			if err != nil || !at.IsZero() {
				t.Fatalf("parseQueryTime(\"\") = %v, %v; want no bound", at, err)
			}
			return
		}
		if err != nil {
			var re *RequestError
			if !errors.As(err, &re) || re.Field != "until" || !strings.Contains(re.Reason, strconv.Quote(s)) {
				t.Fatalf("parseQueryTime(%q): %v does not name until and the input", s, err)
			}
			if !at.IsZero() {
				t.Fatalf("parseQueryTime(%q) refused but returned %v", s, at)
			}
			return
		}
		if at.Location() != time.UTC {
			t.Fatalf("parseQueryTime(%q) = %v, not in UTC", s, at)
		}
		// A time before 1970 is a bound at 1970: no event is older.
		if ref, err := time.Parse(time.RFC3339Nano, s); err != nil || !ref.Equal(at) && !(ref.Before(time.Unix(0, 0)) && at.Equal(time.Unix(0, 0))) {
			t.Fatalf("parseQueryTime(%q) = %v; time.Parse: %v, %v", s, at, ref, err)
		}
		again, err := parseQueryTime("until", formatTime(at))
		if err != nil || !again.Equal(at) {
			t.Fatalf("parseQueryTime(%q) = %v, written %q, reads back as %v, %v", s, at, formatTime(at), again, err)
		}
	})
}
