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
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/axiomops/axiom-audit/storage"
	"github.com/axiomops/axiom-audit/storage/tlog"
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

// editLine changes line i (from 0) of a bundle file, or with i < 0 every
// line. The test fails when nothing changed: a doctoring that missed its
// target would pass for a detection.
func editLine(t *testing.T, dir, name string, i int, edit func(string) string) {
	t.Helper()
	changed := false
	lines(t, dir, name, func(ls []string) []string {
		for j, l := range ls {
			if i < 0 || j == i {
				ls[j] = edit(l)
				changed = changed || ls[j] != l
			}
		}
		return ls
	})
	if !changed {
		t.Fatalf("%s: nothing to doctor", name)
	}
}

// withoutStates is a JSON line without its beforeState and afterState.
func withoutStates(line string) string {
	var m map[string]json.RawMessage
	json.Unmarshal([]byte(line), &m)
	delete(m, "afterState")
	delete(m, "beforeState")
	b, _ := json.Marshal(m)
	return string(b)
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
			editLine(t, dir, "events.jsonl", 1, func(l string) string {
				u := jsonString(userOf(l))
				return strings.Replace(l, `"userId":`+u, `"userId":"mallory@example.com","userId":`+u, 1)
			})
		}},
		{"a key that differs only in case", JSONLines, false, func(t *testing.T, dir string) {
			editLine(t, dir, "events.jsonl", 1, func(l string) string {
				u := jsonString(userOf(l))
				return strings.Replace(l, `"userId":`+u, `"userId":"mallory@example.com","USERID":`+u, 1)
			})
		}},
		{"a field an event does not have", JSONLines, false, func(t *testing.T, dir string) {
			editLine(t, dir, "events.jsonl", 1, func(l string) string { return strings.Replace(l, `{`, `{"approvedBy":"ciso@example.com",`, 1) })
		}},
		{"an ECS wrapper key in another case", ECS, false, func(t *testing.T, dir string) {
			editLine(t, dir, ECS.EventsFile(), 1, func(l string) string { return strings.Replace(l, `"axiom":`, `"axiom":{"id":"x"},"Axiom":`, 1) })
		}},
		{"an OCSF state in unmapped.axiom besides entity_result.data", OCSF, true, func(t *testing.T, dir string) {
			editLine(t, dir, OCSF.EventsFile(), -1, func(l string) string {
				if !strings.Contains(l, `"entity_result":`) || !strings.Contains(l, `"data":`) {
					return l
				}
				return strings.Replace(l, `"axiom":{`, `"axiom":{"afterState":{"Action":["*"]},`, 1)
			})
		}},
		{"a CEF state", CEF, true, func(t *testing.T, dir string) {
			editLine(t, dir, CEF.EventsFile(), -1, func(l string) string {
				if before, _, ok := strings.Cut(l, "flexString2="); ok {
					return before + `flexString2={"Action":["*"]}`
				}
				return l
			})
		}},
		{"a CEF user", CEF, false, func(t *testing.T, dir string) {
			editLine(t, dir, CEF.EventsFile(), 0, func(l string) string { return strings.Replace(l, " suser=", " suser=mallory@example.com x=", 1) })
		}},
		{"a CEF extension twice", CEF, false, func(t *testing.T, dir string) {
			editLine(t, dir, CEF.EventsFile(), 0, func(l string) string { return strings.Replace(l, " suser=", " suser=mallory@example.com suser=", 1) })
		}},
		{"a CEF severity", CEF, false, func(t *testing.T, dir string) {
			editLine(t, dir, CEF.EventsFile(), 0, func(l string) string {
				head, rest, _ := strings.Cut(l, "|rt=")
				return head[:len(head)-1] + "9|rt=" + rest
			})
		}},
		{"a leaf hash", JSONLines, false, func(t *testing.T, dir string) {
			editLine(t, dir, "events.jsonl", 1, func(l string) string {
				var m map[string]json.RawMessage
				json.Unmarshal([]byte(l), &m)
				return strings.Replace(l, string(m["leafHash"]), `"`+strings.Repeat("ab", 32)+`"`, 1)
			})
		}},
		{"a filter the events do not match", JSONLines, false, func(t *testing.T, dir string) {
			reseal(t, dir, func(m *Manifest) { m.Filter.Categories = []string{"finding"} })
		}},
		{"an unreadable filter", JSONLines, false, func(t *testing.T, dir string) {
			reseal(t, dir, func(m *Manifest) { m.Filter.Since = "yesterday" })
		}},
		{"a CSV formula stripped of its guard", CSV, false, func(t *testing.T, dir string) {
			editLine(t, dir, CSV.EventsFile(), -1, func(l string) string { return strings.Replace(l, `"'=HYPERLINK`, `"=HYPERLINK`, 1) })
		}},
		{"a CEF label", CEF, false, func(t *testing.T, dir string) {
			editLine(t, dir, CEF.EventsFile(), 0, func(l string) string { return strings.Replace(l, "cs1Label=organizationId", "cs1Label=approvedBy", 1) })
		}},
		{"a CEF extension the exporter does not write", CEF, false, func(t *testing.T, dir string) {
			editLine(t, dir, CEF.EventsFile(), 0, func(l string) string { return l + " msg=Approved by the CFO" })
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
			editLine(t, dir, ProofsFile, 1, withoutStates)
			editLine(t, dir, "events.jsonl", 1, withoutStates)
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			res := writeBundle(t, newSource(t), c.format, c.sensitive)
			c.doctor(t, res.Dir)
			// Resealed as an unsigned bundle, so that the check of what
			// was doctored is what finds it, not the manifest's signature
			// (TestVerify_signedManifest).
			unsign(t, res.Dir)
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

// unsign makes dir a version 2 bundle, written before manifests were
// signed: its manifest resealed, manifest.sig removed.
func unsign(t *testing.T, dir string) {
	t.Helper()
	reseal(t, dir, func(m *Manifest) { m.Version = bundleVersionV2 })
	if err := os.Remove(filepath.Join(dir, ManifestSigFile)); err != nil {
		t.Fatal(err)
	}
}

// Bundles are version 4 (with pruned.json) from sources that can tell what
// retention pruned, else version 3 (their manifest is signed, as a
// version 4's is). Version 2 (before)
// and 1 (before checkpoints carried their time) bundles are refused unless
// unsigned manifests are allowed, and then verify, unsigned; any other
// version is refused.
func TestVerify_bundleVersions(t *testing.T) {
	res := writeBundle(t, newSource(t), JSONLines, false)
	var m Manifest
	if err := json.Unmarshal(readFile(t, res.Dir, ManifestFile), &m); err != nil || m.Version != "axiom-audit-export/v3" {
		t.Fatalf("manifest version %q (%v), want axiom-audit-export/v3", m.Version, err)
	}
	if rep := verifyOK(t, res.Dir); !rep.ManifestSigned {
		t.Fatal("a version 3 bundle is not reported signed")
	}
	v4 := writeBundle(t, prunedSource{newSource(t), nil, nil}, JSONLines, false)
	if err := json.Unmarshal(readFile(t, v4.Dir, ManifestFile), &m); err != nil || m.Version != "axiom-audit-export/v4" {
		t.Fatalf("manifest version %q (%v), want axiom-audit-export/v4", m.Version, err)
	}
	if rep := verifyOK(t, v4.Dir); !rep.ManifestSigned {
		t.Fatal("a version 4 bundle is not reported signed")
	}
	unsign(t, res.Dir)
	for _, tc := range []struct {
		version string
		ok      bool
	}{{"axiom-audit-export/v1", true}, {"axiom-audit-export/v2", true}, {"axiom-audit-export/v4", false}, {"", false}} {
		reseal(t, res.Dir, func(m *Manifest) { m.Version = tc.version })
		rep, err := Verify(context.Background(), res.Dir, VerifyOptions{AllowUnsignedManifest: true})
		if ok := err == nil && rep.OK; ok != tc.ok || (ok && rep.ManifestSigned) {
			t.Errorf("version %q, unsigned allowed: verified %v (%v, %+v), signed %v; want %v, unsigned", tc.version, ok, err, rep.Problems, rep.ManifestSigned, tc.ok)
		}
		rep, err = Verify(context.Background(), res.Dir, VerifyOptions{})
		if err != nil || rep.OK {
			t.Errorf("version %q by default: verified %v (%v)", tc.version, rep.OK, err)
		}
	}
}

// A version 3 bundle's manifest is signed by the log's key, so that what
// the hashes alone cannot show is found: events taken out (with the
// manifest's count, seqs and file hashes rewritten to match, which a
// version 2 bundle cannot tell), or any other rewrite of the manifest.
func TestVerify_signedManifest(t *testing.T) {
	takeOut := func(t *testing.T, dir string) {
		for _, name := range []string{"events.jsonl", ProofsFile} {
			lines(t, dir, name, func(ls []string) []string { return ls[:len(ls)-1] })
		}
		var last ProofLine
		ls := strings.Split(strings.TrimSpace(string(readFile(t, dir, ProofsFile))), "\n")
		if err := json.Unmarshal([]byte(ls[len(ls)-1]), &last); err != nil {
			t.Fatal(err)
		}
		reseal(t, dir, func(m *Manifest) { m.Count--; m.LastSeq = last.Seq })
	}
	for _, c := range []struct {
		name   string
		doctor func(t *testing.T, dir string, src *MemSource)
		file   string
		says   string
	}{
		{"an event taken out", func(t *testing.T, dir string, _ *MemSource) { takeOut(t, dir) }, ManifestSigFile, "events may have been taken out"},
		{"the exporter rewritten", func(t *testing.T, dir string, _ *MemSource) {
			reseal(t, dir, func(m *Manifest) { m.Exporter = "ciso@example.com" })
		}, ManifestSigFile, "not this one"},
		{"manifest.sig removed", func(t *testing.T, dir string, _ *MemSource) {
			os.Remove(filepath.Join(dir, ManifestSigFile))
		}, ManifestSigFile, "is missing"},
		{"manifest.sig of another export of the log", func(t *testing.T, dir string, src *MemSource) {
			other := writeBundle(t, src, JSONLines, false, func(o *Options) { o.Filter.Categories = []string{"apply"} })
			os.WriteFile(filepath.Join(dir, ManifestSigFile), readFile(t, other.Dir, ManifestSigFile), 0o644)
		}, ManifestSigFile, "not this one"},
		{"manifest.sig signed by another key of the same name", func(t *testing.T, dir string, _ *MemSource) {
			var m Manifest
			if err := json.Unmarshal(readFile(t, dir, ManifestFile), &m); err != nil {
				t.Fatal(err)
			}
			name, _, _ := strings.Cut(strings.TrimSpace(string(readFile(t, dir, PublicKeyFile))), "+")
			skey, _, err := tlog.GenerateSigningKey(name)
			if err != nil {
				t.Fatal(err)
			}
			signer, _ := tlog.NewSigner(skey)
			sig, err := tlog.SignManifest(tlog.ManifestStatement{Origin: m.Checkpoint.Origin, SHA256: m.ManifestSHA256}, signer)
			if err != nil {
				t.Fatal(err)
			}
			os.WriteFile(filepath.Join(dir, ManifestSigFile), sig, 0o644)
		}, ManifestSigFile, "does not verify"},
		{"a checkpoint in place of manifest.sig", func(t *testing.T, dir string, _ *MemSource) {
			os.WriteFile(filepath.Join(dir, ManifestSigFile), readFile(t, dir, CheckpointFile), 0o644)
		}, ManifestSigFile, "does not verify"},
	} {
		t.Run(c.name, func(t *testing.T) {
			src := newSource(t)
			res := writeBundle(t, src, JSONLines, false)
			c.doctor(t, res.Dir, src)
			rep, err := Verify(context.Background(), res.Dir, VerifyOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if rep.OK || rep.ManifestSigned || len(rep.Problems) != 1 || rep.Problems[0].File != c.file || !strings.Contains(rep.Problems[0].Message, c.says) {
				t.Fatalf("verified %v, signed %v, problems %v; want one of %s saying %q", rep.OK, rep.ManifestSigned, rep.Problems, c.file, c.says)
			}
		})
	}
	// Without the signature (rewritten as a version 2 bundle), an event
	// taken out cannot be found: such a bundle is refused unless unsigned
	// manifests are allowed, and then it verifies, unsigned.
	res := writeBundle(t, newSource(t), JSONLines, false)
	takeOut(t, res.Dir)
	unsign(t, res.Dir)
	rep, err := Verify(context.Background(), res.Dir, VerifyOptions{})
	if err != nil || rep.OK || len(rep.Problems) != 1 || !strings.Contains(rep.Problems[0].Message, "nothing shows that no event was taken out") {
		t.Fatalf("by default: %v, %+v", err, rep)
	}
	rep, err = Verify(context.Background(), res.Dir, VerifyOptions{AllowUnsignedManifest: true})
	if err != nil || !rep.OK || rep.ManifestSigned {
		t.Fatalf("with unsigned manifests allowed: %v, %+v", err, rep)
	}
}

// A bundle holds plain files only: a symbolic link is not followed (it
// would have the verifier read, and quote in its report, a file of the
// machine it runs on, or never finish reading /dev/zero).
func TestVerify_symlinksAreNotFollowed(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("symbolic links need a privilege on Windows")
	}
	secret := filepath.Join(t.TempDir(), "credentials")
	if err := os.WriteFile(secret, []byte("aws_secret_access_key=AKIA-SECRET-1234\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ name, target string }{
		{PublicKeyFile, secret},
		{CheckpointFile, "/dev/zero"},
		{ManifestSigFile, secret},
		{"events.jsonl", secret},
		{ProofsFile, "/dev/zero"},
		{ManifestFile, secret},
	} {
		t.Run(c.name, func(t *testing.T) {
			res := writeBundle(t, newSource(t), JSONLines, false)
			path := filepath.Join(res.Dir, c.name)
			if err := os.Remove(path); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(c.target, path); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			rep, err := Verify(ctx, res.Dir, VerifyOptions{})
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			out, _ := json.Marshal(rep)
			if rep.OK || strings.Contains(string(out), "SECRET") {
				t.Fatalf("verified %v, report %s", rep.OK, out)
			}
			if !strings.Contains(string(out), "is not a regular file (a symbolic link)") {
				t.Errorf("no problem says %s is a symbolic link: %s", c.name, out)
			}
		})
	}
}

// With a trusted key, the manifest must be signed by it: a bundle signed
// by another key is not reported signed.
func TestVerify_signedManifestTrustedKey(t *testing.T) {
	res := writeBundle(t, newSource(t), JSONLines, false)
	own := strings.TrimSpace(string(readFile(t, res.Dir, PublicKeyFile)))
	rep, err := Verify(context.Background(), res.Dir, VerifyOptions{TrustedKey: own})
	if err != nil || !rep.OK || !rep.ManifestSigned {
		t.Fatalf("with its own key trusted: %v, %+v", err, rep)
	}
	name, _, _ := strings.Cut(own, "+")
	_, other, err := tlog.GenerateSigningKey(name)
	if err != nil {
		t.Fatal(err)
	}
	rep, err = Verify(context.Background(), res.Dir, VerifyOptions{TrustedKey: other})
	if err != nil || rep.OK || rep.ManifestSigned {
		t.Fatalf("with another key trusted: %v, verified %v, signed %v", err, rep.OK, rep.ManifestSigned)
	}
	found := false
	for _, p := range rep.Problems {
		found = found || (p.File == ManifestSigFile && strings.Contains(p.Message, "the trusted key"))
	}
	if !found {
		t.Errorf("no problem says manifest.sig is not signed by the trusted key: %v", rep.Problems)
	}
}

// An event deleted from the events file is said once, by the seq that is
// missing, not as every field of every later event differing from the log;
// also in a bundle written newest first, where the entry in its place has
// the lower seq.
func TestVerify_deletedEventIsNamed(t *testing.T) {
	for name, order := range map[string]storage.Order{"oldest first": storage.OldestFirst, "newest first": storage.NewestFirst} {
		t.Run(name, func(t *testing.T) {
			res := writeBundle(t, newSource(t), JSONLines, false, func(o *Options) { o.Filter.Order = order })
			if res.Count < 5 {
				t.Fatalf("%d events: too few to delete one", res.Count)
			}
			// Line 3 (index 2) goes: seq 3 oldest first, seq Count-2 newest first.
			missing, next := uint64(3), uint64(4)
			if order == storage.NewestFirst {
				missing, next = uint64(res.Count-2), uint64(res.Count-3)
			}
			lines(t, res.Dir, JSONLines.EventsFile(), func(ls []string) []string { return append(ls[:2:2], ls[3:]...) })
			rep, err := Verify(context.Background(), res.Dir, VerifyOptions{})
			if err != nil || rep.OK {
				t.Fatalf("a bundle missing an event: %v, ok %v", err, rep != nil && rep.OK)
			}
			var msgs []string
			for _, p := range rep.Problems {
				msgs = append(msgs, p.String())
			}
			all := strings.Join(msgs, "\n")
			if !strings.Contains(all, fmt.Sprintf("is seq %d where proofs.jsonl proves seq %d: seq %d is missing from the events file", next, missing, missing)) ||
				!strings.Contains(all, fmt.Sprintf("and %d more events are out of step with proofs.jsonl", res.Count-4)) ||
				strings.Contains(all, "differs from the log's") || len(rep.Problems) > 6 {
				t.Fatalf("problems of a bundle missing seq %d (%d in all):\n%s", missing, rep.ProblemCount, all)
			}
		})
	}
}

// A file the manifest lists and the folder lacks is said once, as missing,
// though both its hash check and its content check find it.
func TestVerify_missingFileIsSaidOnce(t *testing.T) {
	for _, name := range []string{CheckpointFile, PublicKeyFile, ProofsFile, "events.jsonl"} {
		t.Run(name, func(t *testing.T) {
			res := writeBundle(t, newSource(t), JSONLines, false)
			if err := os.Remove(filepath.Join(res.Dir, name)); err != nil {
				t.Fatal(err)
			}
			rep, err := Verify(context.Background(), res.Dir, VerifyOptions{})
			if err != nil || rep.OK {
				t.Fatalf("Verify: %v, verified %v", err, rep.OK)
			}
			said := 0
			for _, p := range rep.Problems {
				if p.File == name {
					said++
					if p.Message != "is missing" {
						t.Errorf("%s: %q, want %q", name, p.Message, "is missing")
					}
				}
			}
			if said != 1 {
				t.Errorf("%s is named by %d problems, want 1: %v", name, said, rep.Problems)
			}
		})
	}
}
