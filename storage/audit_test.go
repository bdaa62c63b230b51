package storage

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	badger "github.com/dgraph-io/badger/v4"
)

// readKeyOf is the read key of a tamper log's store.
func (l *tamperLog) readKey(t *testing.T) []byte {
	t.Helper()
	s := l.open(t)
	defer s.Close()
	return s.ReadKey()
}

// auditVerify opens dir for audit with key and verifies it.
func auditVerify(t *testing.T, dir string, key []byte, opts VerifyOptions) (VerifySummary, []Problem) {
	t.Helper()
	a, err := OpenForAudit(dir, key, Options{})
	if err != nil {
		t.Fatalf("OpenForAudit: %v", err)
	}
	defer a.Close()
	var ps []Problem
	sum, err := a.Verify(context.Background(), opts, func(p Problem) error { ps = append(ps, p); return nil })
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	return sum, ps
}

// dirDigest hashes every file of dir, names and contents.
func dirDigest(t *testing.T, dir string) [32]byte {
	t.Helper()
	h := sha256.New()
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		h.Write([]byte(p + "\x00"))
		h.Write(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return [32]byte(h.Sum(nil))
}

func TestOpenForAudit_VerifiesWithTheReadKeyAlone(t *testing.T) {
	l := newTamperLog(t)
	key := l.readKey(t)
	before := dirDigest(t, l.dir)
	sum, ps := auditVerify(t, l.dir, key, VerifyOptions{})
	if len(ps) != 0 {
		t.Fatalf("a genuine log has problems:\n%s", problemList(ps))
	}
	if sum.Orgs != 2 || sum.Events != 25 || !sum.Keyless || sum.States != 0 || sum.Checkpoints == 0 {
		t.Errorf("summary %+v: want 2 organizations, 25 events, keyless, no state decrypted, checkpoints checked", sum)
	}
	if dirDigest(t, l.dir) != before {
		t.Error("verifying for audit changed the log's files")
	}
	// The read key opens nothing else: it is not the master key, nor any
	// key derived from it for states or content MACs.
	dk, err := deriveKeys(l.ks.secrets[KeyMaster])
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(key, l.ks.secrets[KeyMaster]) || bytes.Equal(key, dk.dedup) {
		t.Error("the read key is the master key or the MAC key")
	}
}

func TestOpenForAudit_Refusals(t *testing.T) {
	l := newTamperLog(t)
	key := l.readKey(t)
	wrong := bytes.Clone(key)
	wrong[0] ^= 1
	cases := []struct {
		name string
		dir  string
		key  []byte
		want error
		says string
	}{
		{"wrong key", l.dir, wrong, ErrWrongKey, "does not open"},
		{"short key", l.dir, key[:16], ErrWrongKey, "32"},
		{"no log", t.TempDir(), key, ErrNotFound, "holds no audit log"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a, err := OpenForAudit(c.dir, c.key, Options{})
			if err == nil {
				a.Close()
				t.Fatal("opened")
			}
			if !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.says) {
				t.Errorf("error %q: want %v saying %q", err, c.want, c.says)
			}
		})
	}
	t.Run("open in another process", func(t *testing.T) {
		s := l.open(t)
		defer s.Close()
		a, err := OpenForAudit(l.dir, key, Options{})
		if err == nil {
			a.Close()
			t.Fatal("opened a log the store holds")
		}
		if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), "verify a copy") {
			t.Errorf("error %q: want ErrLocked, saying to verify a copy", err)
		}
	})
}

func TestOpenForAudit_FindsTampering(t *testing.T) {
	l := newTamperLog(t)
	key := l.readKey(t)
	rawTamper(t, l.dir, l.ks, func(txn *badger.Txn) {
		k := recordKey("acme", 7)
		v := rawGet(t, txn, k)
		i := bytes.Index(v, []byte("user-"))
		if i < 0 {
			t.Fatal("no user id in the record")
		}
		v[i+5] ^= 1
		rawSet(t, txn, k, v)
	})
	_, ps := auditVerify(t, l.dir, key, VerifyOptions{})
	wantProblem(t, ps, "acme", 7, l.ids[6], ProblemLeafMismatch)
}

// TestOpenForAudit_KeptCheckpoints is what a copy alone cannot show: a
// copy of the log from before (a rollback) verifies clean, unless the
// auditor brings the checkpoint kept from a later visit.
func TestOpenForAudit_KeptCheckpoints(t *testing.T) {
	ctx := context.Background()
	l := &tamperLog{dir: t.TempDir(), ks: newStoreKeystore(), clk: &manualClock{t: baseTime.Add(300 * 24 * time.Hour)}}
	s := l.open(t)
	appendN(t, s, "acme", 0, 10)
	s.Close()
	old := t.TempDir()
	copyDir(t, l.dir, old)
	s = l.open(t)
	appendN(t, s, "acme", 10, 5)
	appendN(t, s, "newco", 0, 3)
	acme, err := s.Checkpoint(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	newco, err := s.Checkpoint(ctx, "newco")
	if err != nil {
		t.Fatal(err)
	}
	pub, err := s.PublicKey(ctx)
	if err != nil {
		t.Fatal(err)
	}
	key := s.ReadKey()
	s.Close()
	kept := []HeldCheckpoint{{Name: "acme.cp", Note: acme.Note}, {Name: "newco.cp", Note: newco.Note}}

	if _, ps := auditVerify(t, l.dir, key, VerifyOptions{Checkpoints: kept, PublicKey: pub}); len(ps) != 0 {
		t.Fatalf("the log the checkpoints were taken of has problems:\n%s", problemList(ps))
	}
	if _, ps := auditVerify(t, old, key, VerifyOptions{}); len(ps) != 0 {
		t.Fatalf("the older copy alone has problems:\n%s", problemList(ps))
	}
	_, ps := auditVerify(t, old, key, VerifyOptions{Checkpoints: kept})
	wantKinds(t, ps, map[string]string{"acme": ProblemRollback, "newco": ProblemRollback})
	_, ps = auditVerify(t, old, key, VerifyOptions{Org: "acme", Checkpoints: kept})
	wantKinds(t, ps, map[string]string{"acme": ProblemRollback})

	// A changed kept checkpoint is a problem, not a pass.
	bad := bytes.Clone(acme.Note)
	bad[len(bad)-3] ^= 1
	_, ps = auditVerify(t, l.dir, key, VerifyOptions{Checkpoints: []HeldCheckpoint{{Name: "acme.cp", Note: bad}}})
	wantKinds(t, ps, map[string]string{"acme": ProblemBadSignature})

	// A file that is no checkpoint of an axiom-audit log is the caller's
	// mistake.
	a, err := OpenForAudit(l.dir, key, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	_, err = a.Verify(ctx, VerifyOptions{Checkpoints: []HeldCheckpoint{{Name: "notes.txt", Note: []byte("hello\n")}}}, func(Problem) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "notes.txt is not a signed checkpoint") {
		t.Errorf("a file that is not a checkpoint: error %v", err)
	}
}

// TestOpenForAudit_PublishedKey: a log whose every checkpoint was re-signed
// by another key verifies clean on its own; against the key the owner
// published, it does not.
func TestOpenForAudit_PublishedKey(t *testing.T) {
	l := newTamperLog(t)
	key := l.readKey(t)
	other := newTamperLog(t)
	s := other.open(t)
	otherPub, err := s.PublicKey(context.Background())
	s.Close()
	if err != nil {
		t.Fatal(err)
	}
	s = l.open(t)
	pub, err := s.PublicKey(context.Background())
	s.Close()
	if err != nil {
		t.Fatal(err)
	}
	if _, ps := auditVerify(t, l.dir, key, VerifyOptions{PublicKey: pub}); len(ps) != 0 {
		t.Fatalf("against its own key:\n%s", problemList(ps))
	}
	_, ps := auditVerify(t, l.dir, key, VerifyOptions{PublicKey: otherPub})
	wantKinds(t, ps, map[string]string{"acme": ProblemBadSignature, "other": ProblemBadSignature})
	if !strings.Contains(ps[0].Detail, "not the one given") {
		t.Errorf("first problem %q: want it to say the stored key is not the one given", ps[0])
	}
}

// wantKinds fails unless every problem is of an organization of want with
// its kind, and each organization of want has one.
func wantKinds(t *testing.T, ps []Problem, want map[string]string) {
	t.Helper()
	seen := map[string]bool{}
	for _, p := range ps {
		if k, ok := want[p.Org]; !ok || k != p.Kind {
			t.Errorf("unexpected problem %s", p)
		}
		seen[p.Org] = true
	}
	for org, kind := range want {
		if !seen[org] {
			t.Errorf("no %s problem for %s in:\n%s", kind, org, problemList(ps))
		}
	}
}

func TestParseReadKey(t *testing.T) {
	key := bytes.Repeat([]byte{0xab}, ReadKeySize)
	good := string(EncodeReadKey(key))
	cases := []struct {
		name, text, err string
	}{
		{"encoded", good, ""},
		{"no final newline", strings.TrimSuffix(good, "\n"), ""},
		{"CRLF", strings.ReplaceAll(good, "\n", "\r\n"), ""},
		{"empty", "", "first line"},
		{"other header", strings.Replace(good, "v1", "v2", 1), "first line"},
		{"header only", readKeyHeader + "\n", "missing"},
		{"short", readKeyHeader + "\nabab\n", "64 lowercase hex digits"},
		{"uppercase", strings.ToUpper(good[:len(readKeyHeader)+1]) + strings.ToUpper(good[len(readKeyHeader)+1:]), "first line"},
		{"uppercase key", readKeyHeader + "\n" + strings.Repeat("AB", 32) + "\n", "lowercase"},
		{"not hex", readKeyHeader + "\n" + strings.Repeat("zz", 32) + "\n", "not hex"},
		{"trailing text", good + "more\n", "more after the key"},
		{"blank line after", good + "\n", "more after the key"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := ParseReadKey([]byte(c.text))
			if c.err == "" {
				if err != nil || !bytes.Equal(got, key) {
					t.Errorf("got %x, %v: want the key", got, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("error %v: want one saying %q", err, c.err)
			}
		})
	}
}

func FuzzParseReadKey(f *testing.F) {
	f.Add(EncodeReadKey(bytes.Repeat([]byte{1}, ReadKeySize)))
	f.Add([]byte(readKeyHeader + "\r\n00\r\n"))
	f.Add([]byte(""))
	f.Fuzz(func(t *testing.T, text []byte) {
		key, err := ParseReadKey(text)
		if err != nil {
			return
		}
		if len(key) != ReadKeySize {
			t.Fatalf("parsed a key of %d bytes", len(key))
		}
		// What parses is the encoding of the key, up to line ends.
		norm := strings.ReplaceAll(string(text), "\r\n", "\n")
		if enc := string(EncodeReadKey(key)); norm != enc && norm+"\n" != enc {
			t.Fatalf("%q parsed to %x, whose encoding is %q", text, key, enc)
		}
	})
}

// TestOpenForAudit_CopyOfAnOpenLog: a copy made while the store had the log
// open ends in a partly written memtable log, which Badger will not read
// without truncating it; the copy itself is left as it was.
func TestOpenForAudit_CopyOfAnOpenLog(t *testing.T) {
	l := &tamperLog{dir: t.TempDir(), ks: newStoreKeystore(), clk: &manualClock{t: baseTime.Add(300 * 24 * time.Hour)}}
	s := l.open(t)
	appendN(t, s, "acme", 0, 12)
	if _, err := s.Checkpoint(context.Background(), "acme"); err != nil {
		t.Fatal(err)
	}
	key := s.ReadKey()
	cp := t.TempDir()
	copyDir(t, l.dir, cp)
	s.Close()
	os.Remove(filepath.Join(cp, "LOCK"))
	if _, err := badger.Open(badgerOptions(cp, mustDefaults(t), key).WithReadOnly(true).WithLogger(nil)); !truncateNeeded(err) {
		t.Fatalf("a read-only open of the copy: %v, want ErrTruncateNeeded (else this test tests nothing)", err)
	}
	before := dirDigest(t, cp)
	sum, ps := auditVerify(t, cp, key, VerifyOptions{})
	if len(ps) != 0 || sum.Events != 12 {
		t.Fatalf("%d events, problems:\n%s", sum.Events, problemList(ps))
	}
	if dirDigest(t, cp) != before {
		t.Error("verifying the copy changed it")
	}
	left, _ := filepath.Glob(filepath.Join(os.TempDir(), "axiom-audit-verify-*"))
	for _, d := range left {
		if fi, err := os.Stat(d); err == nil && time.Since(fi.ModTime()) < time.Minute {
			t.Errorf("scratch copy %s left behind", d)
		}
	}
}

func mustDefaults(t *testing.T) Options {
	t.Helper()
	o, err := Options{}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	return o
}
