package tlog_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/axiomops/axiom-audit/storage/tlog"
	"golang.org/x/mod/sumdb/note"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

const (
	testInstallation = "0193c2f4-7d1e-7a4b-9c55-0d2f6a1b9e33"
	testOrg          = "org_acme"
)

// testKey returns a fixed signed-note key pair derived from a fixed seed, so
// that signatures (deterministic in Ed25519) and golden files are stable.
func testKey(t testing.TB) (skey, vkey string) {
	t.Helper()
	name := tlog.KeyName(testInstallation)
	seed := sha256.Sum256([]byte("axiom-audit tlog test key"))
	pub := ed25519.NewKeyFromSeed(seed[:]).Public().(ed25519.PublicKey)
	vkey, err := note.NewEd25519VerifierKey(name, pub)
	if err != nil {
		t.Fatal(err)
	}
	hash := strings.Split(vkey, "+")[1]
	skey = "PRIVATE+KEY+" + name + "+" + hash + "+" + base64.StdEncoding.EncodeToString(append([]byte{1}, seed[:]...))
	if v, err := tlog.VerifierKey(skey); err != nil || v != vkey {
		t.Fatalf("VerifierKey = %q, %v; want %q", v, err, vkey)
	}
	return skey, vkey
}

func testSigner(t testing.TB) note.Signer {
	t.Helper()
	skey, _ := testKey(t)
	s, err := tlog.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func testCheckpoint() tlog.Checkpoint {
	return tlog.Checkpoint{
		Origin: tlog.Origin(testInstallation, testOrg),
		Size:   10,
		Root:   tlog.LeafHash([]byte("root")),
	}
}

func TestCheckpoint_Marshal(t *testing.T) {
	cp := testCheckpoint()
	body, err := cp.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	want := "axiom-audit/" + testInstallation + "/org_acme\n10\n" + cp.Root.String() + "\n"
	if string(body) != want {
		t.Fatalf("Marshal = %q, want %q", body, want)
	}
	got, err := tlog.ParseCheckpoint(body)
	if err != nil || got != cp {
		t.Fatalf("ParseCheckpoint = %+v, %v", got, err)
	}
	empty := tlog.Checkpoint{Origin: "o", Size: 0, Root: tlog.EmptyRoot()}
	body, _ = empty.Marshal()
	if string(body) != "o\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n" {
		t.Fatalf("empty checkpoint = %q", body)
	}
	for _, origin := range []string{"", "a b", "a\nb", "a\tb", strings.Repeat("x", 1025), "\xff"} {
		if _, err := (tlog.Checkpoint{Origin: origin}).Marshal(); !errors.Is(err, tlog.ErrMalformedCheckpoint) {
			t.Errorf("Marshal with origin %q = %v, want ErrMalformedCheckpoint", origin, err)
		}
	}
}

// The time a checkpoint was signed is its one extension line, RFC 3339 in
// UTC to the second; Marshal truncates, and the body parses back to it.
func TestCheckpoint_TimeLine(t *testing.T) {
	cp := testCheckpoint()
	cp.Time = time.Date(2026, 11, 28, 3, 55, 12, 987654321, time.FixedZone("CET", 3600))
	body, err := cp.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	want := "axiom-audit/" + testInstallation + "/org_acme\n10\n" + cp.Root.String() + "\ntime 2026-11-28T02:55:12Z\n"
	if string(body) != want {
		t.Fatalf("Marshal = %q, want %q", body, want)
	}
	got, err := tlog.ParseCheckpoint(body)
	if err != nil || !got.Time.Equal(cp.Time.Truncate(time.Second)) || got.Time.Location() != time.UTC || got.Size != cp.Size {
		t.Fatalf("ParseCheckpoint = %+v, %v", got, err)
	}
	for _, bad := range []time.Time{time.Unix(-1, 0), time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)} {
		if _, err := (tlog.Checkpoint{Origin: "o", Time: bad}).Marshal(); !errors.Is(err, tlog.ErrMalformedCheckpoint) {
			t.Errorf("Marshal with time %s = %v, want ErrMalformedCheckpoint", bad, err)
		}
	}
	// The signed note carries the time: a heartbeat of an unchanged tree
	// is a new statement, not the previous note again.
	later := cp
	later.Time = cp.Time.Add(24 * time.Hour)
	a, err1 := tlog.Sign(cp, testSigner(t))
	b, err2 := tlog.Sign(later, testSigner(t))
	if err1 != nil || err2 != nil || bytes.Equal(a, b) {
		t.Fatalf("signing the same tree a day apart gave the same note (%v, %v)", err1, err2)
	}
	_, vkey := testKey(t)
	opened, err := tlog.OpenCheckpoint(b, vkey, cp.Origin)
	if err != nil || !opened.Time.Equal(later.Time.Truncate(time.Second)) {
		t.Fatalf("OpenCheckpoint = %+v, %v", opened, err)
	}
}

func TestParseCheckpoint_Strict(t *testing.T) {
	root := tlog.LeafHash([]byte("root")).String()
	for name, body := range map[string]string{
		"time with an offset":    "o\n1\n" + root + "\ntime 2026-01-02T15:04:05+01:00\n",
		"time with fractions":    "o\n1\n" + root + "\ntime 2026-01-02T15:04:05.5Z\n",
		"time without zone":      "o\n1\n" + root + "\ntime 2026-01-02T15:04:05\n",
		"time, lowercase z":      "o\n1\n" + root + "\ntime 2026-01-02T15:04:05z\n",
		"time, unpadded":         "o\n1\n" + root + "\ntime 2026-1-2T15:04:05Z\n",
		"time, two spaces":       "o\n1\n" + root + "\ntime  2026-01-02T15:04:05Z\n",
		"time, trailing space":   "o\n1\n" + root + "\ntime 2026-01-02T15:04:05Z \n",
		"time, Unix seconds":     "o\n1\n" + root + "\ntime 1767366245\n",
		"time before 1970":       "o\n1\n" + root + "\ntime 1969-12-31T23:59:59Z\n",
		"time, leap second":      "o\n1\n" + root + "\ntime 2016-12-31T23:59:60Z\n",
		"Timestamp: line":        "o\n1\n" + root + "\nTimestamp: 1767366245000000000\n",
		"two time lines":         "o\n1\n" + root + "\ntime 2026-01-02T15:04:05Z\ntime 2026-01-02T15:04:05Z\n",
		"time then an extension": "o\n1\n" + root + "\ntime 2026-01-02T15:04:05Z\nextra\n",
		"empty":                  "",
		"no final newline":       "o\n1\n" + root,
		"extension line":         "o\n1\n" + root + "\nextra\n",
		"blank line":             "o\n1\n" + root + "\n\n",
		"two lines":              "o\n1\n",
		"empty origin":           "\n1\n" + root + "\n",
		"leading zero":           "o\n01\n" + root + "\n",
		"plus sign":              "o\n+1\n" + root + "\n",
		"negative":               "o\n-1\n" + root + "\n",
		"hex size":               "o\n0x1\n" + root + "\n",
		"overflow":               "o\n18446744073709551616\n" + root + "\n",
		"empty size":             "o\n\n" + root + "\n",
		"short root":             "o\n1\n" + root[:40] + "\n",
		"unpadded root":          "o\n1\n" + strings.TrimRight(root, "=") + "\n",
		"url-safe root":          "o\n1\n" + strings.NewReplacer("+", "-", "/", "_").Replace(tlog.Hash{0xfb, 0xff}.String()) + "\n",
		"CRLF":                   "o\r\n1\r\n" + root + "\r\n",
		"space after size":       "o\n1 \n" + root + "\n",
		"64-byte root":           "o\n1\n" + base64.StdEncoding.EncodeToString(make([]byte, 64)) + "\n",
		"space in origin":        "o o\n1\n" + root + "\n",
		"control in origin":      "o\x01\n1\n" + root + "\n",
		"invalid UTF-8":          "o\xff\n1\n" + root + "\n",
		"trailing blank+sig":     "o\n1\n" + root + "\n\n— o AAAA\n",
	} {
		if cp, err := tlog.ParseCheckpoint([]byte(body)); !errors.Is(err, tlog.ErrMalformedCheckpoint) {
			t.Errorf("%s: ParseCheckpoint(%q) = %+v, %v; want ErrMalformedCheckpoint", name, body, cp, err)
		}
	}
	cp, err := tlog.ParseCheckpoint([]byte("o\n18446744073709551615\n" + root + "\n"))
	if err != nil || cp.Size != 1<<64-1 {
		t.Errorf("max size: %+v, %v", cp, err)
	}
}

func TestSign_Golden(t *testing.T) {
	_, vkey := testKey(t)
	cp := testCheckpoint()
	msg, err := tlog.Sign(cp, testSigner(t))
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "checkpoint.golden")
	keyGolden := filepath.Join("testdata", "checkpoint.vkey")
	if *update {
		if err := os.WriteFile(golden, msg, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(keyGolden, []byte(vkey+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(msg, want) {
		t.Fatalf("signed note differs from %s:\n%s\nwant:\n%s", golden, msg, want)
	}
	wantKey, err := os.ReadFile(keyGolden)
	if err != nil || string(wantKey) != vkey+"\n" {
		t.Fatalf("verifier key differs from %s: %q, %v", keyGolden, vkey, err)
	}
	// The golden note opens with the bare note package, as an auditor would.
	v, err := note.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	n, err := note.Open(want, note.VerifierList(v))
	if err != nil {
		t.Fatal(err)
	}
	if body, _ := cp.Marshal(); n.Text != string(body) {
		t.Fatalf("note text = %q, want %q", n.Text, body)
	}
}

func TestOpenCheckpoint(t *testing.T) {
	_, vkey := testKey(t)
	cp := testCheckpoint()
	msg, err := tlog.Sign(cp, testSigner(t))
	if err != nil {
		t.Fatal(err)
	}
	got, err := tlog.OpenCheckpoint(msg, vkey, cp.Origin)
	if err != nil || got != cp {
		t.Fatalf("OpenCheckpoint = %+v, %v; want %+v", got, err, cp)
	}

	t.Run("wrong origin", func(t *testing.T) {
		_, err := tlog.OpenCheckpoint(msg, vkey, tlog.Origin(testInstallation, "other"))
		if !errors.Is(err, tlog.ErrWrongOrigin) {
			t.Fatalf("err = %v, want ErrWrongOrigin", err)
		}
	})
	t.Run("other key", func(t *testing.T) {
		_, other, err := tlog.GenerateSigningKey(tlog.KeyName(testInstallation))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tlog.OpenCheckpoint(msg, other, cp.Origin); !errors.Is(err, tlog.ErrUnknownKey) {
			t.Fatalf("err = %v, want ErrUnknownKey", err)
		}
	})
	t.Run("bad verifier key", func(t *testing.T) {
		if _, err := tlog.OpenCheckpoint(msg, "nonsense", cp.Origin); !errors.Is(err, tlog.ErrInvalidKey) {
			t.Fatalf("err = %v, want ErrInvalidKey", err)
		}
	})
	t.Run("bad signature", func(t *testing.T) {
		// Re-sign another body, then splice the signature under this body.
		other := cp
		other.Size++
		msg2, _ := tlog.Sign(other, testSigner(t))
		sig := msg2[bytes.Index(msg2, []byte("\n\n")):]
		body := msg[:bytes.Index(msg, []byte("\n\n"))]
		_, err := tlog.OpenCheckpoint(append(append([]byte{}, body...), sig...), vkey, cp.Origin)
		if !errors.Is(err, tlog.ErrBadSignature) {
			t.Fatalf("err = %v, want ErrBadSignature", err)
		}
	})
	t.Run("malformed body", func(t *testing.T) {
		n, err := note.Sign(&note.Note{Text: cp.Origin + "\n010\n" + cp.Root.String() + "\n"}, testSigner(t))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tlog.OpenCheckpoint(n, vkey, cp.Origin); !errors.Is(err, tlog.ErrMalformedCheckpoint) {
			t.Fatalf("err = %v, want ErrMalformedCheckpoint", err)
		}
	})
	t.Run("a second signature line by the key", func(t *testing.T) {
		// note.Open checks the first and drops the second unchecked.
		i := bytes.Index(msg, []byte("\n\n")) + 2
		line := msg[i:]
		sp := bytes.LastIndexByte(line, ' ')
		sig, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(line[sp+1:])))
		if err != nil {
			t.Fatal(err)
		}
		// The key's hash, then a signature of 64 bytes that is not one.
		forged := base64.StdEncoding.EncodeToString(append(sig[:4:4], bytes.Repeat([]byte{0x41}, 64)...))
		garbage := append(append([]byte{}, line[:sp+1]...), forged+"\n"...)
		for name, text := range map[string][]byte{
			"after":  append(append([]byte{}, msg...), garbage...),
			"before": append(append(append([]byte{}, msg[:i]...), garbage...), line...),
			"twice":  append(append([]byte{}, msg...), line...),
		} {
			if _, err := tlog.OpenCheckpoint(text, vkey, cp.Origin); !errors.Is(err, tlog.ErrBadSignature) {
				t.Errorf("%s: err = %v, want ErrBadSignature", name, err)
			}
		}
	})
	t.Run("witness cosignature is ignored", func(t *testing.T) {
		wskey, _, _ := tlog.GenerateSigningKey("witness.example")
		w, _ := tlog.NewSigner(wskey)
		body, _ := cp.Marshal()
		n, err := note.Sign(&note.Note{Text: string(body)}, testSigner(t), w)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := tlog.OpenCheckpoint(n, vkey, cp.Origin); err != nil || got != cp {
			t.Fatalf("OpenCheckpoint = %+v, %v", got, err)
		}
	})
}

func TestSign_KeyMustOwnOrigin(t *testing.T) {
	cp := testCheckpoint()
	cp.Origin = tlog.Origin("another-installation", testOrg)
	if _, err := tlog.Sign(cp, testSigner(t)); !errors.Is(err, tlog.ErrWrongOrigin) {
		t.Fatalf("Sign = %v, want ErrWrongOrigin", err)
	}
	// A note signed with the bare package for a foreign origin is refused too.
	body, _ := cp.Marshal()
	msg, _ := note.Sign(&note.Note{Text: string(body)}, testSigner(t))
	_, vkey := testKey(t)
	if _, err := tlog.OpenCheckpoint(msg, vkey, cp.Origin); !errors.Is(err, tlog.ErrWrongOrigin) {
		t.Fatalf("OpenCheckpoint = %v, want ErrWrongOrigin", err)
	}
}

// Every change of one byte of a signed checkpoint, in the body or in the
// signature line, must make it fail to open.
func TestOpenCheckpoint_EveryByteFlip(t *testing.T) {
	_, vkey := testKey(t)
	cp := testCheckpoint()
	msg, err := tlog.Sign(cp, testSigner(t))
	if err != nil {
		t.Fatal(err)
	}
	for i := range msg {
		for _, mask := range []byte{0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40, 0x80} {
			bad := append([]byte{}, msg...)
			bad[i] ^= mask
			if got, err := tlog.OpenCheckpoint(bad, vkey, cp.Origin); err == nil {
				t.Errorf("byte %d ^ %#x: opened as %+v", i, mask, got)
			}
		}
	}
}

func TestGenerateSigningKey(t *testing.T) {
	skey, vkey, err := tlog.GenerateSigningKey(tlog.KeyName(testInstallation))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(skey, "PRIVATE+KEY+axiom-audit/"+testInstallation+"+") {
		t.Fatalf("skey has the wrong layout")
	}
	if v, err := tlog.VerifierKey(skey); err != nil || v != vkey {
		t.Fatalf("VerifierKey = %q, %v; want %q", v, err, vkey)
	}
	for _, name := range []string{"", "a b", "a+b", "a\n"} {
		if _, _, err := tlog.GenerateSigningKey(name); !errors.Is(err, tlog.ErrInvalidKey) {
			t.Errorf("GenerateSigningKey(%q) = %v, want ErrInvalidKey", name, err)
		}
	}
	if _, err := tlog.NewSigner(vkey); !errors.Is(err, tlog.ErrInvalidKey) {
		t.Errorf("NewSigner(vkey) = %v, want ErrInvalidKey", err)
	}
}

func TestCheckConsistent(t *testing.T) {
	ctx := context.Background()
	b := build(t, 100)
	origin := tlog.Origin(testInstallation, testOrg)
	at := func(size uint64) tlog.Checkpoint {
		root, err := tlog.RootAt(ctx, b.nodes, size)
		if err != nil {
			t.Fatal(err)
		}
		return tlog.Checkpoint{Origin: origin, Size: size, Root: root}
	}
	for _, pair := range [][2]uint64{{0, 0}, {0, 100}, {1, 2}, {37, 37}, {37, 100}, {64, 100}, {99, 100}} {
		if err := tlog.CheckConsistent(ctx, b.nodes, at(pair[0]), at(pair[1])); err != nil {
			t.Errorf("CheckConsistent(%d, %d) = %v", pair[0], pair[1], err)
		}
	}
	if err := tlog.CheckConsistent(ctx, b.nodes, at(50), at(40)); !errors.Is(err, tlog.ErrInconsistent) {
		t.Errorf("shrinking tree: %v, want ErrInconsistent", err)
	}
	forged := at(50)
	forged.Root[0] ^= 1
	if err := tlog.CheckConsistent(ctx, b.nodes, forged, at(60)); !errors.Is(err, tlog.ErrInconsistent) || !errors.Is(err, tlog.ErrInvalidProof) {
		t.Errorf("forged old root: %v, want ErrInconsistent and ErrInvalidProof", err)
	}
	if err := tlog.CheckConsistent(ctx, b.nodes, forged, at(50)); !errors.Is(err, tlog.ErrInconsistent) {
		t.Errorf("same size, other root: %v, want ErrInconsistent", err)
	}
	other := at(60)
	other.Origin = tlog.Origin(testInstallation, "org_other")
	if err := tlog.CheckConsistent(ctx, b.nodes, at(50), other); !errors.Is(err, tlog.ErrWrongOrigin) {
		t.Errorf("other origin: %v, want ErrWrongOrigin", err)
	}
	if err := tlog.CheckConsistent(ctx, b.nodes, at(50), tlog.Checkpoint{Origin: origin, Size: 200}); !errors.Is(err, tlog.ErrNodeNotFound) {
		t.Errorf("size beyond the stored tree: %v, want ErrNodeNotFound", err)
	}
}

func TestCopiedNote(t *testing.T) {
	msg, err := tlog.Sign(testCheckpoint(), testSigner(t))
	if err != nil {
		t.Fatal(err)
	}
	_, vkey := testKey(t)
	signed := string(msg)
	for _, c := range []struct {
		name, text string
		opens      bool
	}{
		{"as signed", signed, true},
		{"CRLF", strings.ReplaceAll(signed, "\n", "\r\n"), true},
		{"no final newline", strings.TrimSuffix(signed, "\n"), true},
		{"CRLF, no final newline", strings.TrimSuffix(strings.ReplaceAll(signed, "\n", "\r\n"), "\r\n"), true},
		{"a trailing blank line", signed + "\n", false},
		{"a lone CR", strings.Replace(signed, "\n", "\r", 1), false},
		{"empty", "", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := tlog.CopiedNote([]byte(c.text))
			_, err := tlog.OpenCheckpoint(got, vkey, testCheckpoint().Origin)
			if (err == nil) != c.opens {
				t.Errorf("OpenCheckpoint(CopiedNote(%q)) = %v, want opens %v", c.text, err, c.opens)
			}
			if c.opens && string(got) != signed {
				t.Errorf("CopiedNote = %q, want the signed note", got)
			}
		})
	}
}
