package storage

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
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
// value says, escapes and all, and not the metadata's keys.
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
		{`C:\Users`, 1}, {`c:\users\bob`, 1}, {`say "hi"`, 1}, {"a\tb", 1}, {"1234", 1}, {"true", 1},
		{`"path":`, 0}, {"quote", 0}, {`\\`, 0}, {`\"`, 0}, {"dryrun", 0},
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
