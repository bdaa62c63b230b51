package storage

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

// jsonValues lists what anyJSONValue offers its function, in order.
func jsonValues(doc []byte) []string {
	var out []string
	anyJSONValue(doc, func(v string) bool { out = append(out, v); return false })
	return out
}

func TestAnyJSONValue(t *testing.T) {
	for _, tc := range []struct {
		doc  string
		want []string
	}{
		{`{}`, nil},
		{`{"a":"x"}`, []string{"x"}},
		{`{"path":"C:\\Users\\bob","quote":"say \"hi\"","tab":"a\tb"}`, []string{`C:\Users\bob`, `say "hi"`, "a\tb"}},
		{`{"n":-1.5e3,"t":true,"f":false,"z":null}`, []string{"-1.5e3", "true", "false"}},
		{`{"a":["x",{"k":"y"},[1,"z"]],"b":{"c":{"d":"w"}}}`, []string{"x", "y", "1", "z", "w"}},
		{`{"a" : [ "x" , 2 ] , "b" : "y" }`, []string{"x", "2", "y"}},
		{`{"\u00e9":"caf\u00e9","e":"\ud83d\ude00"}`, []string{"café", "😀"}},
		{`{"k":"v"`, []string{"v"}},                     // cut short: what came before
		{`{"k":"unterminated`, nil},                     // no value read
		{`]`, nil},                                      // a closing bracket first
		{`{"bad":"\x"}`, nil},                           // an escape JSON lacks
		{`{"key-only":{}}`, nil},                        // keys are not values
		{`{"a":{"b":"c"},"d":"e"}`, []string{"c", "e"}}, // key after a closed object
	} {
		if got := jsonValues([]byte(tc.doc)); !slices.Equal(got, tc.want) {
			t.Errorf("%s: values %q, want %q", tc.doc, got, tc.want)
		}
	}
}

// referenceValues walks doc with encoding/json's tokenizer.
func referenceValues(doc []byte) ([]string, error) {
	d := json.NewDecoder(bytes.NewReader(doc))
	d.UseNumber()
	var out []string
	var walk func() error
	walk = func() error {
		tok, err := d.Token()
		if err != nil {
			return err
		}
		switch v := tok.(type) {
		case json.Delim:
			obj := v == '{'
			for d.More() {
				if obj {
					if _, err := d.Token(); err != nil { // the key
						return err
					}
				}
				if err := walk(); err != nil {
					return err
				}
			}
			_, err := d.Token()
			return err
		case string:
			out = append(out, v)
		case json.Number:
			out = append(out, string(v))
		case bool:
			out = append(out, fmt.Sprint(v))
		}
		return nil
	}
	return out, walk()
}

func FuzzAnyJSONValue(f *testing.F) {
	for _, s := range []string{`{"a":"x","b":[1,true,null,{"c":"\u0041\n"}]}`, `{"path":"C:\\x"}`, `[]`, `{"a":`, `"s"`, `{"a":1e5,"b":-0.5}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		got := jsonValues(doc) // must not panic, whatever doc is
		if !json.Valid(doc) || !utf8.Valid(doc) {
			return // stored metadata is valid JSON in UTF-8; encoding/json mends bad UTF-8
		}
		want, err := referenceValues(doc)
		if err != nil {
			t.Fatalf("reference: %v", err)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("%q: values %q, want %q", doc, got, want)
		}
	})
}

// TestList_TextSearchesMetadataValues: free text finds what a metadata
// value says, escapes and all, and not the metadata's keys; every word or
// quoted phrase must be found, each in any field.
func TestList_TextSearchesMetadataValues(t *testing.T) {
	s, _, _ := newTestStore(t)
	ctx := context.Background()
	e := testEvent("acme", 1)
	e.ActionType = "custom.note"
	e.Metadata = json.RawMessage(`{"path":"C:\\Users\\Bob","quote":"say \"hi\"","tab":"a\tb","count":1234,"dryRun":true}`)
	other := testEvent("acme", 2)
	rs, err := s.Append(ctx, []Event{e, other})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		text string
		want int
	}{
		{`C:\Users`, 1}, {`c:\users\bob`, 1}, {`say "hi"`, 1}, {"\"a\tb\"", 1}, {"1234", 1}, {"true", 1},
		{`"path":`, 0}, {"quote", 0}, {`\\`, 0}, {`\"`, 0}, {"dryrun", 0},
		// Each word may match another field; all must match.
		{"bob 1234", 1}, {"1234 custom.note", 1}, {"BOB true", 1}, {"bob nowhere", 0}, {`"users\bob"`, 1},
		// A phrase is matched whole: these words are in the event, not as one phrase.
		{`"bob 1234"`, 0},
	} {
		p, err := s.List(ctx, Filter{Org: "acme", Text: tc.text})
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Events) != tc.want {
			t.Errorf("text %q: %d events, want %d", tc.text, len(p.Events), tc.want)
		}
		m, err := NewMatcher(Filter{Org: "acme", Text: tc.text})
		if err != nil {
			t.Fatal(err)
		}
		if got, err := s.Get(ctx, "acme", rs[0].ID); err != nil || m.Match(&got) != (tc.want == 1) {
			t.Errorf("text %q: Matcher says %v (%v), List %d", tc.text, m.Match(&got), err, tc.want)
		}
	}
}

// TestTextTerms reads its cases from testdata/text-terms.json, which the
// query bar's tests read too: both split text alike.
func TestTextTerms(t *testing.T) {
	raw, err := os.ReadFile("testdata/text-terms.json")
	if err != nil {
		t.Fatal(err)
	}
	var golden struct {
		Cases []struct {
			In    string   `json:"in"`
			Terms []string `json:"terms"`
		} `json:"cases"`
	}
	if err := json.Unmarshal(raw, &golden); err != nil || len(golden.Cases) == 0 {
		t.Fatalf("testdata/text-terms.json: %v", err)
	}
	for _, tc := range golden.Cases {
		got := TextTerms(tc.In)
		if len(got) == 0 && len(tc.Terms) == 0 {
			continue
		}
		if !slices.Equal(got, tc.Terms) {
			t.Errorf("TextTerms(%q) = %q, want %q", tc.In, got, tc.Terms)
		}
	}
}

func FuzzTextTerms(f *testing.F) {
	for _, s := range []string{"", "a b", `"a b" c`, `"x`, "\u00a0\u3000", `a"b"c`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		terms := TextTerms(s)
		total := 0
		for _, term := range terms {
			if strings.TrimSpace(term) == "" {
				t.Fatalf("TextTerms(%q) has an empty term: %q", s, terms)
			}
			if !strings.Contains(s, term) {
				t.Fatalf("TextTerms(%q) has %q, which is not in it", s, term)
			}
			total += len(term)
		}
		if total > len(s) {
			t.Fatalf("TextTerms(%q) = %q: longer than the input", s, terms)
		}
	})
}

// containsLower is strings.Contains(strings.ToLower(v), term) for a term
// in lower case, whatever v holds.
func TestContainsLower(t *testing.T) {
	for _, c := range []struct {
		v, term string
		want    bool
	}{
		{"AccessDenied", "denied", true},
		{"AccessDenied", "accessdenied", true},
		{"arn:aws:S3:::Bucket-1", "s3:::bucket", true},
		{"abc", "", true},
		{"", "a", false},
		{"ab", "abc", false},
		{"aab", "ab", true},
		{"ZZ", "zz", true},
		{"[@`{", "[@`{", true}, // the bytes next to A–Z and a–z are not folded
		{"[@`{", "{", true},
		{"@", "`", false},
		{"ÉCOLE", "école", true}, // non-ASCII: strings.ToLower
		{"Straße", "straße", true},
		{"İ", "i", true}, // as strings.ToLower maps U+0130
	} {
		if got := containsLower(c.v, c.term); got != c.want {
			t.Errorf("containsLower(%q, %q) = %v, want %v", c.v, c.term, got, c.want)
		}
	}
}

func FuzzContainsLower(f *testing.F) {
	for _, s := range [][2]string{{"AccessDenied", "denied"}, {"ÉCOLE", "école"}, {"@[`{", "`"}, {"x", ""}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, v, term string) {
		term = strings.ToLower(term)
		if got, want := containsLower(v, term), strings.Contains(strings.ToLower(v), term); got != want {
			t.Fatalf("containsLower(%q, %q) = %v, want %v", v, term, got, want)
		}
	})
}
