package export

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// reseal recomputes the manifest's file sizes and digests and its seal, as
// anyone can (the seal is a plain SHA-256): what verify-export must catch
// is then only what the files say, not that they changed.
func reseal(t *testing.T, dir string, edit func(*Manifest)) {
	t.Helper()
	var m Manifest
	if err := json.Unmarshal(readFile(t, dir, ManifestFile), &m); err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		edit(&m)
	}
	for i, f := range m.Files {
		data, err := os.ReadFile(filepath.Join(dir, f.Name))
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(data)
		m.Files[i].Bytes, m.Files[i].SHA256 = int64(len(data)), hex.EncodeToString(sum[:])
	}
	data, _, err := encodeManifest(m)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, ManifestFile), data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// lines edits the lines of a bundle file.
func lines(t *testing.T, dir, name string, edit func([]string) []string) {
	t.Helper()
	ls := strings.Split(strings.TrimSuffix(string(readFile(t, dir, name)), "\n"), "\n")
	ls = edit(ls)
	if err := os.WriteFile(filepath.Join(dir, name), []byte(strings.Join(ls, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}

// A doctored bundle whose manifest was resealed must not verify. Each case
// was found to pass before (a review of verify-export).
func TestVerify_resealedDoctoring(t *testing.T) {
	userOf := func(line string) string {
		var e struct {
			UserID string `json:"userId"`
		}
		json.Unmarshal([]byte(line), &e)
		return e.UserID
	}
	for _, c := range []struct {
		name      string
		format    Format
		sensitive bool
		doctor    func(t *testing.T, dir string)
	}{
		{"a key twice, the reader's first", JSONLines, false, func(t *testing.T, dir string) {
			lines(t, dir, "events.jsonl", func(ls []string) []string {
				u := userOf(ls[1])
				ls[1] = strings.Replace(ls[1], `"userId":`+jsonString(u), `"userId":"mallory@example.com","userId":`+jsonString(u), 1)
				return ls
			})
		}},
		{"a key that differs only in case", JSONLines, false, func(t *testing.T, dir string) {
			lines(t, dir, "events.jsonl", func(ls []string) []string {
				u := userOf(ls[1])
				ls[1] = strings.Replace(ls[1], `"userId":`+jsonString(u), `"userId":"mallory@example.com","USERID":`+jsonString(u), 1)
				return ls
			})
		}},
		{"a field an event does not have", JSONLines, false, func(t *testing.T, dir string) {
			lines(t, dir, "events.jsonl", func(ls []string) []string {
				ls[1] = strings.Replace(ls[1], `{`, `{"approvedBy":"ciso@example.com",`, 1)
				return ls
			})
		}},
		{"an ECS wrapper key in another case", ECS, false, func(t *testing.T, dir string) {
			lines(t, dir, ECS.EventsFile(), func(ls []string) []string {
				ls[1] = strings.Replace(ls[1], `"axiom":`, `"axiom":{"id":"x"},"Axiom":`, 1)
				return ls
			})
		}},
		{"an OCSF state in unmapped.axiom besides entity_result.data", OCSF, true, func(t *testing.T, dir string) {
			n := 0
			lines(t, dir, OCSF.EventsFile(), func(ls []string) []string {
				for i, l := range ls {
					if strings.Contains(l, `"entity_result":`) && strings.Contains(l, `"data":`) {
						ls[i] = strings.Replace(l, `"axiom":{`, `"axiom":{"afterState":{"Action":["*"]},`, 1)
						n++
					}
				}
				return ls
			})
			if n == 0 {
				t.Fatal("no OCSF event with entity_result.data to doctor")
			}
		}},
		{"a CEF state", CEF, true, func(t *testing.T, dir string) {
			lines(t, dir, CEF.EventsFile(), func(ls []string) []string {
				for i, l := range ls {
					if strings.Contains(l, "flexString2=") {
						_, after, _ := strings.Cut(l, "flexString2=")
						ls[i] = strings.Replace(l, "flexString2="+after, `flexString2={"Action":["*"]}`, 1)
						return ls
					}
				}
				t.Fatal("no CEF line with an afterState")
				return ls
			})
		}},
		{"a CEF user", CEF, false, func(t *testing.T, dir string) {
			lines(t, dir, CEF.EventsFile(), func(ls []string) []string {
				ls[0] = strings.Replace(ls[0], " suser=", " suser=mallory@example.com x=", 1)
				return ls
			})
		}},
		{"a CEF extension twice", CEF, false, func(t *testing.T, dir string) {
			lines(t, dir, CEF.EventsFile(), func(ls []string) []string {
				ls[0] = strings.Replace(ls[0], " suser=", " suser=mallory@example.com suser=", 1)
				return ls
			})
		}},
		{"a CEF severity", CEF, false, func(t *testing.T, dir string) {
			lines(t, dir, CEF.EventsFile(), func(ls []string) []string {
				head, rest, _ := strings.Cut(ls[0], "|rt=")
				head = head[:len(head)-1] + "9"
				ls[0] = head + "|rt=" + rest
				return ls
			})
		}},
		{"a leaf hash", JSONLines, false, func(t *testing.T, dir string) {
			lines(t, dir, "events.jsonl", func(ls []string) []string {
				var m map[string]json.RawMessage
				json.Unmarshal([]byte(ls[1]), &m)
				ls[1] = strings.Replace(ls[1], string(m["leafHash"]), `"`+strings.Repeat("ab", 32)+`"`, 1)
				return ls
			})
		}},
		{"a filter the events do not match", JSONLines, false, func(t *testing.T, dir string) {
			reseal(t, dir, func(m *Manifest) { m.Filter.Categories = []string{"finding"} })
		}},
		{"an unreadable filter", JSONLines, false, func(t *testing.T, dir string) {
			reseal(t, dir, func(m *Manifest) { m.Filter.Since = "yesterday" })
		}},
		{"a CSV formula stripped of its guard", CSV, false, func(t *testing.T, dir string) {
			n := 0
			lines(t, dir, CSV.EventsFile(), func(ls []string) []string {
				for i, l := range ls {
					if strings.Contains(l, `"'=HYPERLINK`) {
						ls[i] = strings.Replace(l, `"'=HYPERLINK`, `"=HYPERLINK`, 1)
						n++
					}
				}
				return ls
			})
			if n == 0 {
				t.Fatal("no guarded formula cell to strip")
			}
		}},
		{"a CEF label", CEF, false, func(t *testing.T, dir string) {
			lines(t, dir, CEF.EventsFile(), func(ls []string) []string {
				ls[0] = strings.Replace(ls[0], "cs1Label=organizationId", "cs1Label=approvedBy", 1)
				return ls
			})
		}},
		{"a CEF extension the exporter does not write", CEF, false, func(t *testing.T, dir string) {
			lines(t, dir, CEF.EventsFile(), func(ls []string) []string {
				ls[0] += " msg=Approved by the CFO"
				return ls
			})
		}},
		{"an event repeated", JSONLines, false, func(t *testing.T, dir string) {
			lines(t, dir, "events.jsonl", func(ls []string) []string { return append(ls[:3:3], ls[2:]...) })
			lines(t, dir, ProofsFile, func(ls []string) []string { return append(ls[:3:3], ls[2:]...) })
			reseal(t, dir, func(m *Manifest) { m.Count++ })
		}},
		{"two events swapped", JSONLines, false, func(t *testing.T, dir string) {
			for _, name := range []string{"events.jsonl", ProofsFile} {
				lines(t, dir, name, func(ls []string) []string { ls[1], ls[2] = ls[2], ls[1]; return ls })
			}
		}},
		{"another events file, listed", JSONLines, false, func(t *testing.T, dir string) {
			if err := os.WriteFile(filepath.Join(dir, "events.csv"), []byte("id,seq\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			reseal(t, dir, func(m *Manifest) { m.Files = append(m.Files, File{Name: "events.csv"}) })
		}},
		{"states stripped from a bundle that says it has them", JSONLines, true, func(t *testing.T, dir string) {
			lines(t, dir, ProofsFile, func(ls []string) []string {
				var m map[string]json.RawMessage
				json.Unmarshal([]byte(ls[1]), &m)
				delete(m, "afterState")
				delete(m, "beforeState")
				b, _ := json.Marshal(m)
				ls[1] = string(b)
				return ls
			})
			lines(t, dir, "events.jsonl", func(ls []string) []string {
				var m map[string]json.RawMessage
				json.Unmarshal([]byte(ls[1]), &m)
				delete(m, "afterState")
				delete(m, "beforeState")
				b, _ := json.Marshal(m)
				ls[1] = string(b)
				return ls
			})
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			res := writeBundle(t, newSource(t), c.format, c.sensitive)
			c.doctor(t, res.Dir)
			reseal(t, res.Dir, nil)
			rep, err := Verify(context.Background(), res.Dir, VerifyOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if rep.OK {
				t.Errorf("a doctored bundle verified OK")
			}
			t.Logf("%v", rep.Problems)
		})
	}
}

func jsonString(s string) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.Encode(s)
	return strings.TrimSuffix(b.String(), "\n")
}

// sameJSON: the same JSON in any key order and spacing, but not another
// spelling of a number that rounds to the same double.
func TestSameJSON(t *testing.T) {
	for _, c := range []struct {
		a, b string
		want bool
	}{
		{`{"b":1,"a":[true,null]}`, `{"a":[true,null],"b":1}`, true},
		{`{ "a" : "\u00e9" }`, `{"a":"é"}`, true},
		{`{"n":9007199254740993}`, `{"n":9007199254740992}`, false},
		{`{"n":100000000000000000001}`, `{"n":100000000000000000000}`, false},
		{`{"n":1e20}`, `{"n":100000000000000000000}`, false},
		{`{"n":1.50}`, `{"n":1.5}`, false},
		{`{"n":-0}`, `{"n":0}`, false},
		{`{"n":100000000000000000000}`, `{"n":100000000000000000000}`, true},
		{`{"n":2}`, `{"n":3}`, false},
	} {
		if got := sameJSON(json.RawMessage(c.a), json.RawMessage(c.b)); got != c.want {
			t.Errorf("sameJSON(%s, %s) = %v, want %v", c.a, c.b, got, c.want)
		}
	}
}

// A genuine CSV bundle whose cells begin with CRLF, CR, a quote or a
// formula character verifies: the guard the exporter wrote is the one the
// verifier expects.
func TestVerify_csvGuards(t *testing.T) {
	src, err := NewMemSource("test-installation")
	if err != nil {
		t.Fatal(err)
	}
	for i, user := range []string{"\r\nalice", "\rbob", "'carol", "''dave", "=1+1", "-1", "@x\r", "\tt", "plain"} {
		e := hostileEvents(testOrg)[0]
		e.ID = fmt.Sprintf("01936b2e-0000-7000-8000-%012x", 100+i)
		e.UserID = user
		e.Timestamp = e.Timestamp.Add(time.Duration(i) * time.Second)
		if _, err := src.Append(e); err != nil {
			t.Fatal(err)
		}
	}
	verifyOK(t, writeBundle(t, src, CSV, false).Dir)
}
