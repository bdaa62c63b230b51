package tlog_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/axiomops/axiom-audit/storage/tlog"
	"golang.org/x/mod/sumdb/note"
)

func testStatement() tlog.ManifestStatement {
	return tlog.ManifestStatement{Origin: tlog.Origin(testInstallation, testOrg), SHA256: strings.Repeat("0123456789abcdef", 4)}
}

// The signed statement is byte for byte what a third-party verifier is
// told to expect (testdata/manifest.sig, with the fixed test key).
func TestSignManifest_Golden(t *testing.T) {
	msg, err := tlog.SignManifest(testStatement(), testSigner(t))
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "manifest.sig")
	if *update {
		if err := os.WriteFile(golden, msg, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if string(msg) != string(want) {
		t.Fatalf("got\n%s\nwant\n%s", msg, want)
	}
	body := tlog.ManifestHeader + "\n" + testStatement().Origin + "\n" + testStatement().SHA256 + "\n\n\u2014 " + tlog.KeyName(testInstallation) + " "
	if !strings.HasPrefix(string(msg), body) {
		t.Fatalf("statement %q does not start with %q", msg, body)
	}
}

func TestOpenManifest(t *testing.T) {
	_, vkey := testKey(t)
	st := testStatement()
	msg, err := tlog.SignManifest(st, testSigner(t))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := tlog.OpenManifest(msg, vkey, st.Origin); err != nil || got != st {
		t.Fatalf("OpenManifest = %+v, %v; want %+v", got, err, st)
	}
	_, other, err := tlog.GenerateSigningKey(tlog.KeyName(testInstallation))
	if err != nil {
		t.Fatal(err)
	}
	cpNote, err := tlog.Sign(testCheckpoint(), testSigner(t))
	if err != nil {
		t.Fatal(err)
	}
	signed := func(body string) []byte {
		n, err := note.Sign(&note.Note{Text: body}, testSigner(t))
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	for _, c := range []struct {
		name   string
		text   []byte
		vkey   string
		origin string
		want   error
	}{
		{"another organization's log", msg, vkey, tlog.Origin(testInstallation, "other"), tlog.ErrWrongOrigin},
		{"another key", msg, other, st.Origin, tlog.ErrUnknownKey},
		{"a checkpoint is no statement", cpNote, vkey, st.Origin, tlog.ErrMalformedCheckpoint},
		{"upper-case digest", signed(tlog.ManifestHeader + "\n" + st.Origin + "\n" + strings.ToUpper(st.SHA256) + "\n"), vkey, st.Origin, tlog.ErrMalformedCheckpoint},
		{"short digest", signed(tlog.ManifestHeader + "\n" + st.Origin + "\n" + st.SHA256[:62] + "\n"), vkey, st.Origin, tlog.ErrMalformedCheckpoint},
		{"another header", signed("axiom-audit-export-manifest/v2\n" + st.Origin + "\n" + st.SHA256 + "\n"), vkey, st.Origin, tlog.ErrMalformedCheckpoint},
		{"an extra line", signed(tlog.ManifestHeader + "\n" + st.Origin + "\n" + st.SHA256 + "\nmore\n"), vkey, st.Origin, tlog.ErrMalformedCheckpoint},
		{"origin outside the key", signed(tlog.ManifestHeader + "\n" + tlog.Origin("elsewhere", testOrg) + "\n" + st.SHA256 + "\n"), vkey, tlog.Origin("elsewhere", testOrg), tlog.ErrWrongOrigin},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got, err := tlog.OpenManifest(c.text, c.vkey, c.origin); !errors.Is(err, c.want) {
				t.Fatalf("OpenManifest = %+v, %v; want %v", got, err, c.want)
			}
		})
	}
	// Nor does a statement open as a checkpoint.
	if _, err := tlog.OpenCheckpoint(msg, vkey, st.Origin); !errors.Is(err, tlog.ErrMalformedCheckpoint) {
		t.Fatalf("OpenCheckpoint of a statement = %v, want ErrMalformedCheckpoint", err)
	}
	// A key signs only its own installation's origins.
	foreign := st
	foreign.Origin = tlog.Origin("elsewhere", testOrg)
	if _, err := tlog.SignManifest(foreign, testSigner(t)); !errors.Is(err, tlog.ErrWrongOrigin) {
		t.Fatalf("SignManifest of a foreign origin = %v, want ErrWrongOrigin", err)
	}
	for i := range msg {
		bad := append([]byte{}, msg...)
		bad[i] ^= 0x01
		if got, err := tlog.OpenManifest(bad, vkey, st.Origin); err == nil {
			t.Errorf("byte %d flipped: opened as %+v", i, got)
		}
	}
}

func FuzzOpenManifest(f *testing.F) {
	_, vkey := testKey(f)
	st := testStatement()
	msg, err := tlog.SignManifest(st, testSigner(f))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(msg)
	f.Add(msg[:len(msg)-1])
	f.Add([]byte(tlog.ManifestHeader + "\no\n00\n\n— o AAAAAAAA\n"))
	f.Fuzz(func(t *testing.T, text []byte) {
		got, err := tlog.OpenManifest(text, vkey, st.Origin)
		if err == nil && got != st {
			t.Fatalf("opened a statement we never signed: %+v", got)
		}
		if m, err := tlog.ParseManifestStatement(text); err == nil {
			body, err := m.Marshal()
			if err != nil || string(body) != string(text) {
				t.Fatalf("ParseManifestStatement(%q) = %+v, which marshals as %q, %v", text, m, body, err)
			}
		}
	})
}
