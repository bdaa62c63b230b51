package tlog_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/axiomops/axiom-audit/storage/tlog"
)

func testReportStatement() tlog.ReportStatement {
	return tlog.ReportStatement{Origin: tlog.Origin(testInstallation, testOrg), SHA256: strings.Repeat("fedcba9876543210", 4)}
}

// The signed report statement is byte for byte what a third-party
// verifier is told to expect (testdata/report.sig, with the fixed test key).
func TestSignReport_Golden(t *testing.T) {
	msg, err := tlog.SignReport(testReportStatement(), testSigner(t))
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "report.sig")
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
	body := tlog.ReportHeader + "\n" + testReportStatement().Origin + "\n" + testReportStatement().SHA256 + "\n\n\u2014 " + tlog.KeyName(testInstallation) + " "
	if !strings.HasPrefix(string(msg), body) {
		t.Fatalf("statement %q does not start with %q", msg, body)
	}
}

// A report statement opens only as one, with the right key and origin;
// a manifest statement of the same digest is not one, nor it a manifest
// statement or a checkpoint.
func TestOpenReport(t *testing.T) {
	_, vkey := testKey(t)
	st := testReportStatement()
	msg, err := tlog.SignReport(st, testSigner(t))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := tlog.OpenReport(msg, vkey, st.Origin); err != nil || got != st {
		t.Fatalf("OpenReport = %+v, %v; want %+v", got, err, st)
	}
	manifest, err := tlog.SignManifest(tlog.ManifestStatement{Origin: st.Origin, SHA256: st.SHA256}, testSigner(t))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tlog.OpenReport(manifest, vkey, st.Origin); !errors.Is(err, tlog.ErrMalformedCheckpoint) {
		t.Errorf("a manifest statement opened as a report statement: %v", err)
	}
	if _, err := tlog.OpenManifest(msg, vkey, st.Origin); !errors.Is(err, tlog.ErrMalformedCheckpoint) {
		t.Errorf("a report statement opened as a manifest statement: %v", err)
	}
	if _, err := tlog.OpenCheckpoint(msg, vkey, st.Origin); !errors.Is(err, tlog.ErrMalformedCheckpoint) {
		t.Errorf("a report statement opened as a checkpoint: %v", err)
	}
	if _, err := tlog.OpenReport(msg, vkey, tlog.Origin(testInstallation, "other")); !errors.Is(err, tlog.ErrWrongOrigin) {
		t.Errorf("another organization's origin: %v", err)
	}
	for i := range msg {
		bad := append([]byte{}, msg...)
		bad[i] ^= 0x01
		if got, err := tlog.OpenReport(bad, vkey, st.Origin); err == nil {
			t.Errorf("byte %d flipped: opened as %+v", i, got)
		}
	}
}

func FuzzParseReportStatement(f *testing.F) {
	body, err := testReportStatement().Marshal()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(body)
	f.Add(body[:len(body)-1])
	f.Add([]byte(tlog.ManifestHeader + "\no\n00\n"))
	f.Fuzz(func(t *testing.T, text []byte) {
		if r, err := tlog.ParseReportStatement(text); err == nil {
			again, err := r.Marshal()
			if err != nil || string(again) != string(text) {
				t.Fatalf("ParseReportStatement(%q) = %+v, which marshals as %q, %v", text, r, again, err)
			}
		}
	})
}
