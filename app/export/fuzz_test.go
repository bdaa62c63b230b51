package export

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/axiomops/axiom-audit/storage"
)

// FuzzCEFEscape: any value survives escaping, a line of extensions, and
// both the verifier's and the test's CEF parsers; an escaped value never
// breaks a line and a header field never splits.
func FuzzCEFEscape(f *testing.F) {
	for _, s := range []string{"", "a=b", `a\b`, "x\ny\r", "|", `\=`, `\\n`, "k=v other=w", "=", "😀", " = ", `\`} {
		f.Add(s, "next")
	}
	f.Fuzz(func(t *testing.T, v, w string) {
		if !utf8.ValidString(v) || !utf8.ValidString(w) {
			t.Skip("CEF values are UTF-8 text; invalid UTF-8 is not an input")
		}
		esc := EscapeCEFValue(v)
		if strings.ContainsAny(esc, "\r\n") {
			t.Fatalf("escaped %q holds a line break: %q", v, esc)
		}
		if got := UnescapeCEFValue(esc); got != v {
			t.Fatalf("round trip %q -> %q -> %q", v, esc, got)
		}
		line := "CEF:0|Axiom|Axiom Audit|" + EscapeCEFHeader(w) + "|act|name|3|suser=" + esc + " cs1=" + EscapeCEFValue(w)
		head, ext, ok := cefHeaderFields(line)
		if !ok || len(head) != 7 {
			t.Fatalf("header of %q does not have 7 fields", line)
		}
		x := cefExtensions(ext)
		if x["suser"] != v || x["cs1"] != w {
			t.Fatalf("verifier parser: suser %q cs1 %q, want %q %q", x["suser"], x["cs1"], v, w)
		}
		if !strings.ContainsAny(w, "\r\n") && head[3] != w {
			t.Fatalf("header field %q read back as %q", w, head[3])
		}
		// The test's own parser splits values at spaces and rejoins them,
		// which cannot keep a value's edge spaces next to another key.
		c, err := parseCEFLine(line)
		if err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		if c.Ext["suser"] != v && !strings.Contains(v, " ") {
			t.Fatalf("test parser: suser %q, want %q", c.Ext["suser"], v)
		}
	})
}

// FuzzCSVCell: the formula guard round-trips and never leaves a cell that
// starts a formula.
func FuzzCSVCell(f *testing.F) {
	for _, s := range []string{"", "=1+1", "'=x", "''", "-", "+", "@a", "\tx", "\rx", "plain"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		e := EscapeCSVCell(v)
		if e != "" && strings.ContainsRune("=+-@\t\r", rune(e[0])) {
			t.Fatalf("%q escaped to %q", v, e)
		}
		if got := UnescapeCSVCell(e); got != v {
			t.Fatalf("%q -> %q -> %q", v, e, got)
		}
	})
}

// FuzzCSVField: a cell as the CSV encoder writes it reads back with
// encoding/csv (which reads a quoted CR LF as LF, as RFC 4180 allows) as
// EscapeCSVCell's form of it, which UnescapeCSVCell turns back into it.
func FuzzCSVField(f *testing.F) {
	for _, s := range []string{"", "plain", `a,b`, `say "hi"`, "two\nlines", "cr\rlf\r\n", " lead", `\.`, `"`, `""`, "ü,\"ß\"",
		"=1,2", "'", "-\n", "\r\n", "@\"x\""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		line := string(appendCell(nil, v)) + ",end\n"
		rec, err := csv.NewReader(strings.NewReader(line)).Read()
		if err != nil {
			t.Fatalf("%q encoded as %q: %v", v, line, err)
		}
		want := strings.ReplaceAll(EscapeCSVCell(v), "\r\n", "\n")
		if len(rec) != 2 || rec[0] != want || rec[1] != "end" {
			t.Fatalf("%q encoded as %q read back as %q, want %q", v, line, rec, want)
		}
		if v[:min(len(v), 1)] != "\r" && UnescapeCSVCell(rec[0]) != strings.ReplaceAll(v, "\r\n", "\n") {
			t.Fatalf("%q read back as %q, which does not unescape to it", v, rec[0])
		}
	})
}

// FuzzAppendRaw: appendRaw writes what json.Compact writes, and fails where
// it fails, whether or not its fast path for plain values takes the input.
func FuzzAppendRaw(f *testing.F) {
	for _, s := range []string{`{}`, `[]`, `{"a":1,"b":[true,false,null,-0,12],"c":{"d":"x y"}}`, `{"a" : 1}`, `{"a":1.5}`,
		`{"a":01}`, `{"a":"\n"}`, "{\"a\":\"\x01\"}", `[1,]`, `{"a"}`, `truex`, `-`, `"\xff"`, `[[[[[[[[[[]]]]]]]]]]`, ``} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		got, gotErr := appendRaw([]byte("pre"), raw)
		var want bytes.Buffer
		want.WriteString("pre")
		wantErr := json.Compact(&want, raw)
		if (gotErr != nil) != (wantErr != nil) {
			t.Fatalf("%q: appendRaw error %v, json.Compact error %v", raw, gotErr, wantErr)
		}
		if wantErr == nil && !bytes.Equal(got, want.Bytes()) {
			t.Fatalf("%q: appendRaw wrote %q, json.Compact %q", raw, got, want.Bytes())
		}
		if gotErr != nil && string(got) != "pre" {
			t.Fatalf("%q: appendRaw failed but changed the line to %q", raw, got)
		}
	})
}

// FuzzParseProofLine: the strict proofs.jsonl parser never panics, and what
// it accepts re-encodes to a line it accepts again with the same content.
func FuzzParseProofLine(f *testing.F) {
	res := writeBundle(f, newSource(f), JSONLines, true)
	data, _ := os.ReadFile(filepath.Join(res.Dir, ProofsFile))
	for _, l := range bytes.Split(data, []byte("\n")) {
		if len(l) > 0 && len(l) < 4096 {
			f.Add(l)
		}
	}
	f.Add([]byte(`{"id":"x","seq":1,"leafIndex":0,"treeSize":1,"leafHash":"AAAA","hashes":[],"record":"e30="}`))
	f.Add([]byte(`{}`))
	// One cache for every input, as a verifier keeps one for every line:
	// whatever line came before, a line parses the same with it. The seeds
	// are consecutive proofs, which share most of their path.
	var cache hashTextCache
	f.Fuzz(func(t *testing.T, line []byte) {
		// The fast path must agree with encoding/json on what it accepts.
		fast, ok := parseProofLineFast(line, nil)
		if ok {
			slow, err := parseProofLineJSON(line)
			if err != nil || !reflect.DeepEqual(fast, slow) {
				t.Fatalf("fast parser accepts %q as %+v; encoding/json: %+v, %v", line, fast, slow, err)
			}
		}
		if cached, cok := parseProofLineFast(line, &cache); cok != ok || ok && !reflect.DeepEqual(cached, fast) {
			t.Fatalf("with the previous line's hashes, %q parses as %+v (%v), without as %+v (%v)", line, cached, cok, fast, ok)
		}
		p, err := ParseProofLine(line)
		if err != nil {
			return
		}
		var rec bytes.Buffer
		rec.Write(line)
		p2, err := ParseProofLine(rec.Bytes())
		if err != nil || p2.ID != p.ID || p2.Seq != p.Seq || !bytes.Equal(p2.Record, p.Record) {
			t.Fatalf("accepted line parses differently the second time")
		}
	})
}

// FuzzParseManifest: the manifest parser and the verifier never panic on
// any manifest, and never call a changed manifest OK.
func FuzzParseManifest(f *testing.F) {
	res := writeBundle(f, newSource(f), CSV, false)
	orig, _ := os.ReadFile(filepath.Join(res.Dir, ManifestFile))
	f.Add(orig)
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"version":"axiom-audit-export/v1"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		if m, err := ParseManifest(data); err == nil {
			manifestDigest(data, m.ManifestSHA256)
		}
		if bytes.Equal(data, orig) || len(data) > 1<<16 {
			return
		}
		dir := t.TempDir()
		for _, e := range entries(t, res.Dir) {
			b, _ := os.ReadFile(filepath.Join(res.Dir, e))
			os.WriteFile(filepath.Join(dir, e), b, 0o644)
		}
		os.WriteFile(filepath.Join(dir, ManifestFile), data, 0o644)
		rep, err := Verify(context.Background(), dir, VerifyOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if rep.OK {
			t.Fatalf("a changed manifest verified:\n%s", data)
		}
	})
}

// FuzzAppendEventJSON: the hand-written event encoder writes exactly what
// encoding/json writes.
func FuzzAppendEventJSON(f *testing.F) {
	for _, s := range []string{"", "a\"b\\c", "\x00\x1f\n\r\t", "\u2028\u2029", "\xff\xfe", "<&>", "😀ü"} {
		f.Add(s, `{"k":"v"}`)
	}
	f.Fuzz(func(t *testing.T, s, meta string) {
		e := EventJSON{ID: s, Seq: 7, Timestamp: s, UserID: s, ResourceIDs: []string{s, s}, SOC2: []string{s},
			Metadata: json.RawMessage(meta), PrevHash: s, LeafHash: s, Retention: s, AfterStateCommitment: s}
		if !json.Valid(e.Metadata) {
			e.Metadata = json.RawMessage(`{}`)
		}
		got, err := appendEventJSON(nil, &e)
		if err != nil {
			t.Fatal(err)
		}
		want, err := marshal(&e)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("\ngot  %s\nwant %s", got, want)
		}
	})
}

// FuzzFastDecoders: the verifier's scanners give what encoding/json gives.
func FuzzFastDecoders(f *testing.F) {
	src := newSource(f)
	page, _ := src.List(context.Background(), storage.Filter{Org: testOrg, Order: storage.OldestFirst, Limit: 100})
	for _, e := range page.Events {
		f.Add(e.Public)
	}
	data, _ := encodeAllF(f, JSONLines)
	for _, l := range bytes.Split(data, []byte("\n")) {
		f.Add(l)
	}
	f.Add([]byte(`{"seq":1,"seq":2,"id":"a","ID":"b"}`))
	f.Add([]byte(`{"metadata":null,"resourceIds":null}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var fast, slow publicRecord
		errFast := parsePublicRecord(b, &fast)
		errSlow := json.Unmarshal(b, &slow)
		if (errFast == nil) != (errSlow == nil) || errFast == nil && !reflect.DeepEqual(fast, slow) {
			t.Fatalf("public record %q:\nfast %+v %v\nslow %+v %v", b, fast, errFast, slow, errSlow)
		}
		var fe, se EventJSON
		errFast = parseEventJSON(b, &fe)
		errSlow = json.Unmarshal(b, &se)
		if (errFast == nil) != (errSlow == nil) || errFast == nil && !reflect.DeepEqual(fe, se) {
			t.Fatalf("event %q:\nfast %+v %v\nslow %+v %v", b, fe, errFast, se, errSlow)
		}
	})
}
