package storage

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	badger "github.com/dgraph-io/badger/v4"
)

// auditCopy copies the tamper log's store for an auditor, closing the
// store after, and returns the copy's directory and read key.
func (l *tamperLog) auditCopy(t *testing.T, prepare func(s *Store)) (string, []byte) {
	t.Helper()
	s := l.open(t)
	defer s.Close()
	if prepare != nil {
		prepare(s)
	}
	dir := filepath.Join(t.TempDir(), "copy")
	sum, key, err := s.CopyForAudit(context.Background(), dir)
	if err != nil {
		t.Fatalf("CopyForAudit: %v", err)
	}
	orgs, err := s.Organizations(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var events uint64
	for _, o := range orgs {
		events += o.Size
	}
	if sum.Orgs != len(orgs) || sum.Events != events {
		t.Errorf("copy summary %+v, want %d organizations and %d events", sum, len(orgs), events)
	}
	return dir, key
}

func (l *tamperLog) publicKey(t *testing.T) string {
	t.Helper()
	s := l.open(t)
	defer s.Close()
	pub, err := s.PublicKey(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return pub
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

// rawKeys lists the keys of a closed Badger directory encrypted with key.
func rawKeys(t *testing.T, dir string, key []byte) [][]byte {
	t.Helper()
	db, err := badger.Open(badgerOptions(dir, mustDefaults(t), key).WithReadOnly(true).WithLogger(nil))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	return rawKeys0(t, db)
}

func mustDefaults(t *testing.T) Options {
	t.Helper()
	o, err := Options{}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func TestCopyForAudit_VerifiesWithTheReadKeyAlone(t *testing.T) {
	l := newTamperLog(t)
	pub := l.publicKey(t)
	ctx := context.Background()
	dir, key := l.auditCopy(t, func(s *Store) {
		// Secrets and the app's own business, which the copy leaves out.
		if err := s.WriteSetting(ctx, "sync/acme/webhook/config", []byte(`{"url":"https://user:pass@siem.example/?api_key=SECRET"}`)); err != nil {
			t.Fatal(err)
		}
		// Tombstones, which the copy's retention policies explain.
		if _, _, err := s.SetRetention(ctx, "acme", RetentionChange{Class: RetentionOperational, Window: RetentionWindow{Days: 30}}); err != nil {
			t.Fatal(err)
		}
		if res, err := s.SweepRetention(ctx, "acme", SweepOptions{NoReclaim: true}); err != nil || res.Pruned == 0 {
			t.Fatalf("sweep: %+v, %v", res, err)
		}
		appendN(t, s, "acme", 20, 3) // pending: the copy checkpoints them first
	})
	before := dirDigest(t, dir)
	sum, ps := auditVerify(t, dir, key, VerifyOptions{PublicKey: pub})
	if len(ps) != 0 {
		t.Fatalf("a genuine copy has problems:\n%s", problemList(ps))
	}
	if sum.Orgs != 2 || sum.Events < 28 || sum.Pruned == 0 || !sum.Keyless || sum.States != 0 || sum.Checkpoints == 0 {
		t.Errorf("summary %+v: want 2 organizations, 28 events or more (the sweep's own), some pruned, keyless, no state decrypted, checkpoints checked", sum)
	}
	if dirDigest(t, dir) != before {
		t.Error("verifying the copy changed its files")
	}
	// What the read key opens: no data key, no setting but the retention
	// policies, no meta but the log's identity and format.
	for _, k := range rawKeys(t, dir, key) {
		if !copiedTag(k) {
			t.Errorf("the copy holds key %q", k)
		}
		if k[0] == tagSetting && !bytes.HasPrefix(k[1:], []byte("retention/")) && !bytes.HasPrefix(k[1:], []byte("retention-sweep/")) || k[0] == tagDataKey {
			t.Errorf("the copy holds a secret or a setting: %q", k)
		}
	}
	if copiedTag(dataKeyKey("acme", 1)) || copiedTag(settingKey("sync/acme/webhook/config")) || copiedTag(keyMadeKey("acme")) {
		t.Error("copiedTag lets data keys or settings through")
	}
	// The copy's key is its own: it opens nothing of the owner's log.
	if _, err := OpenForAudit(l.dir, key, Options{}); !errors.Is(err, ErrWrongKey) {
		t.Errorf("the copy's read key on the owner's log: %v, want ErrWrongKey", err)
	}
}

// A copy of some organizations holds theirs alone: no key of another
// organization (records, indexes, trees, checkpoints, retention), and it
// verifies clean with the owner's key. An organization with no log copies
// nothing.
func TestCopyForAuditOf_OneOrganization(t *testing.T) {
	l := newTamperLog(t)
	pub := l.publicKey(t)
	ctx := context.Background()
	s := l.open(t)
	if _, _, err := s.SetRetention(ctx, "other", RetentionChange{Class: RetentionOperational, Window: RetentionWindow{Days: 30}}); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "copy")
	sum, key, err := s.CopyForAuditOf(ctx, dir, []string{"acme"})
	if err != nil {
		t.Fatal(err)
	}
	otherCP, err := s.Checkpoint(ctx, "other")
	if err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(t.TempDir(), "copy")
	if _, _, err := s.CopyForAuditOf(ctx, missing, []string{"acme", "nobody"}); !errors.Is(err, ErrNotFound) {
		t.Errorf("a copy of an organization with no log: %v, want ErrNotFound", err)
	}
	if _, err := os.Stat(missing); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the refused copy left %s", missing)
	}
	s.Close()
	if sum.Orgs != 1 || sum.Events != 20 {
		t.Errorf("summary %+v, want acme's 20 events alone", sum)
	}
	acme := 0
	for _, k := range rawKeys(t, dir, key) {
		if bytes.Contains(k, []byte("other")) {
			t.Errorf("the copy of acme holds %q", k)
		}
		if bytes.Contains(k, []byte("acme\x00")) {
			acme++
		}
	}
	if acme < 40 {
		t.Errorf("the copy holds %d keys of acme", acme)
	}
	vs, ps := auditVerify(t, dir, key, VerifyOptions{PublicKey: pub})
	if len(ps) != 0 || vs.Orgs != 1 || vs.Events != 20 {
		t.Errorf("verify of the copy: %+v\n%s", vs, problemList(ps))
	}
	// A checkpoint of an organization the copy leaves out says so, rather
	// than that the log was rolled back.
	_, ps = auditVerify(t, dir, key, VerifyOptions{PublicKey: pub, Checkpoints: []HeldCheckpoint{{Name: "other.cp", Note: otherCP.Note}}})
	if len(ps) != 1 || ps[0].Kind != ProblemRollback || !strings.Contains(ps[0].Detail, "does not include it") {
		t.Errorf("a checkpoint of an organization not in the copy: %s", problemList(ps))
	}
}

// A copy made while appends go on is one consistent snapshot.
func TestCopyForAudit_WhileAppending(t *testing.T) {
	s, _, _ := newTestStore(t)
	ctx := context.Background()
	appendN(t, s, "acme", 0, 50)
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 50; ; i += 5 {
			select {
			case <-stop:
				return
			default:
			}
			evs := make([]Event, 5)
			for j := range evs {
				evs[j] = testEvent("acme", i+j)
			}
			if _, err := s.Append(ctx, evs); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	var dirs []string
	var keys [][]byte
	for range 3 {
		dir := filepath.Join(t.TempDir(), "copy")
		if _, key, err := s.CopyForAudit(ctx, dir); err != nil {
			t.Fatal(err)
		} else {
			dirs, keys = append(dirs, dir), append(keys, key)
		}
	}
	close(stop)
	<-done
	pub, err := s.PublicKey(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i, dir := range dirs {
		// Against the owner's key: the events appended since the last
		// checkpoint are covered by one the copy signs of its snapshot.
		if sum, ps := auditVerify(t, dir, keys[i], VerifyOptions{PublicKey: pub}); len(ps) != 0 || sum.Events < 50 {
			t.Errorf("copy %d: %d events, problems:\n%s", i, sum.Events, problemList(ps))
		}
	}
}

func TestOpenForAudit_Refusals(t *testing.T) {
	l := newTamperLog(t)
	dir, key := l.auditCopy(t, nil)
	wrong := bytes.Clone(key)
	wrong[0] ^= 1
	cases := []struct {
		name string
		dir  string
		key  []byte
		want error
		says string
	}{
		{"wrong key", dir, wrong, ErrWrongKey, "does not open"},
		{"short key", dir, key[:16], ErrWrongKey, "32"},
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
	t.Run("copy into an existing directory", func(t *testing.T) {
		s := l.open(t)
		defer s.Close()
		existing := t.TempDir()
		if _, _, err := s.CopyForAudit(context.Background(), existing); err == nil || !strings.Contains(err.Error(), "exists") {
			t.Errorf("copy into an existing directory: %v", err)
		}
		if ents, _ := os.ReadDir(existing); len(ents) != 0 {
			t.Errorf("the existing directory got %d files", len(ents))
		}
	})
}

func TestOpenForAudit_FindsTampering(t *testing.T) {
	l := newTamperLog(t)
	dir, key := l.auditCopy(t, nil)
	db, err := badger.Open(badgerOptions(dir, mustDefaults(t), key).WithLogger(nil))
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(txn *badger.Txn) error {
		k := recordKey("acme", 7)
		v := rawGet(t, txn, k)
		i := bytes.Index(v, []byte("user-"))
		if i < 0 {
			t.Fatal("no user id in the record")
		}
		v[i+5] ^= 1
		return txn.Set(k, v)
	})
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
	_, ps := auditVerify(t, dir, key, VerifyOptions{})
	wantProblem(t, ps, "acme", 7, l.ids[6], ProblemLeafMismatch)
}

// TestOpenForAudit_KeptCheckpoints is what a copy alone cannot show: an
// older copy (a rollback) verifies clean, unless the auditor brings the
// checkpoint kept from a later visit.
func TestOpenForAudit_KeptCheckpoints(t *testing.T) {
	ctx := context.Background()
	l := &tamperLog{dir: t.TempDir(), ks: newStoreKeystore(), clk: &manualClock{t: baseTime.Add(300 * 24 * time.Hour)}}
	old, key := l.auditCopy(t, func(s *Store) { appendN(t, s, "acme", 0, 10) })
	var acme, newco SignedCheckpoint
	cur, curKey := l.auditCopy(t, func(s *Store) {
		appendN(t, s, "acme", 10, 5)
		appendN(t, s, "newco", 0, 3)
		var err error
		if acme, err = s.Checkpoint(ctx, "acme"); err != nil {
			t.Fatal(err)
		}
		if newco, err = s.Checkpoint(ctx, "newco"); err != nil {
			t.Fatal(err)
		}
	})
	pub := l.publicKey(t)
	kept := []HeldCheckpoint{{Name: "acme.cp", Note: acme.Note}, {Name: "newco.cp", Note: newco.Note}}

	if _, ps := auditVerify(t, cur, curKey, VerifyOptions{Checkpoints: kept, PublicKey: pub}); len(ps) != 0 {
		t.Fatalf("the copy the checkpoints were taken of has problems:\n%s", problemList(ps))
	}
	if _, ps := auditVerify(t, old, key, VerifyOptions{PublicKey: pub}); len(ps) != 0 {
		t.Fatalf("the older copy alone has problems:\n%s", problemList(ps))
	}
	_, ps := auditVerify(t, old, key, VerifyOptions{Checkpoints: kept})
	wantKinds(t, ps, map[string][]string{"acme": {ProblemRollback}, "newco": {ProblemRollback}})
	_, ps = auditVerify(t, old, key, VerifyOptions{Org: "acme", Checkpoints: kept[:1]})
	wantKinds(t, ps, map[string][]string{"acme": {ProblemRollback}})

	// A changed kept checkpoint is a problem, not a pass; one copied
	// through Windows (CRLF) is the same checkpoint.
	bad := bytes.Clone(acme.Note)
	bad[len(bad)-3] ^= 1
	_, ps = auditVerify(t, cur, curKey, VerifyOptions{Checkpoints: []HeldCheckpoint{{Name: "acme.cp", Note: bad}}})
	wantKinds(t, ps, map[string][]string{"acme": {ProblemBadSignature}})
	crlf := bytes.ReplaceAll(acme.Note, []byte("\n"), []byte("\r\n"))
	if _, ps := auditVerify(t, cur, curKey, VerifyOptions{Checkpoints: []HeldCheckpoint{{Name: "acme.cp", Note: crlf}}}); len(ps) != 0 {
		t.Errorf("a CRLF copy of a kept checkpoint:\n%s", problemList(ps))
	}
	// Another installation's checkpoint says so.
	other := newTamperLog(t)
	os := other.open(t)
	otherCP, err := os.Checkpoint(ctx, "acme")
	os.Close()
	if err != nil {
		t.Fatal(err)
	}
	_, ps = auditVerify(t, cur, curKey, VerifyOptions{Checkpoints: []HeldCheckpoint{{Name: "theirs.cp", Note: otherCP.Note}}})
	wantKinds(t, ps, map[string][]string{"acme": {ProblemBadSignature}})
	if len(ps) == 0 || !strings.Contains(ps[0].Detail, "another installation") {
		t.Errorf("another installation's checkpoint: %v", ps)
	}

	// The caller's mistakes: a file that is no checkpoint of an
	// axiom-audit log, or one of an organization not verified.
	a, err := OpenForAudit(cur, curKey, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	for _, c := range []struct {
		opts VerifyOptions
		says string
	}{
		{VerifyOptions{Checkpoints: []HeldCheckpoint{{Name: "notes.txt", Note: []byte("hello\n")}}}, "notes.txt is not a signed checkpoint"},
		{VerifyOptions{Org: "acme", Checkpoints: kept}, `newco.cp is a checkpoint of organization "newco"`},
	} {
		if _, err := a.Verify(ctx, c.opts, func(Problem) error { return nil }); err == nil || !strings.Contains(err.Error(), c.says) {
			t.Errorf("error %v, want one saying %q", err, c.says)
		}
	}
}

// TestOpenForAudit_PublishedKey: against the key the owner published, a
// copy whose checkpoints another key signed, or whose checkpoints were
// removed, does not pass.
func TestOpenForAudit_PublishedKey(t *testing.T) {
	l := newTamperLog(t)
	pub := l.publicKey(t)
	otherPub := newTamperLog(t).publicKey(t)
	dir, key := l.auditCopy(t, nil)
	if _, ps := auditVerify(t, dir, key, VerifyOptions{PublicKey: pub}); len(ps) != 0 {
		t.Fatalf("against its own key:\n%s", problemList(ps))
	}
	_, ps := auditVerify(t, dir, key, VerifyOptions{PublicKey: otherPub})
	wantKinds(t, ps, map[string][]string{"acme": {ProblemBadSignature, ProblemUnsigned}, "other": {ProblemBadSignature, ProblemUnsigned}})
	if !strings.Contains(ps[0].Detail, "not the one given") {
		t.Errorf("first problem %q: want it to say the stored key is not the one given", ps[0])
	}

	// Every checkpoint removed: clean without the published key (nothing
	// signed is there to contradict), unsigned with it.
	db, err := badger.Open(badgerOptions(dir, mustDefaults(t), key).WithLogger(nil))
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range rawKeys0(t, db) {
		if k[0] == tagCheckpt {
			if err := db.Update(func(txn *badger.Txn) error { return txn.Delete(k) }); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if _, ps := auditVerify(t, dir, key, VerifyOptions{}); len(ps) != 0 {
		t.Logf("without checkpoints, no key:\n%s", problemList(ps))
	}
	_, ps = auditVerify(t, dir, key, VerifyOptions{PublicKey: pub})
	wantKinds(t, ps, map[string][]string{"acme": {ProblemUnsigned}, "other": {ProblemUnsigned}})
}

func rawKeys0(t *testing.T, db *badger.DB) [][]byte {
	t.Helper()
	var keys [][]byte
	db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			keys = append(keys, it.Item().KeyCopy(nil))
		}
		return nil
	})
	return keys
}

// A copy made while a retention sweep is part way through (it is resumed
// later) holds the sweep's progress, which explains its tombstones; one
// verified by a clock behind the owner's is judged as of the copy.
func TestCopyForAudit_DuringASweep(t *testing.T) {
	ctx := context.Background()
	clk := &manualClock{t: baseTime}
	dir := t.TempDir()
	ks := newStoreKeystore()
	s := openRetentionTest(t, dir, ks, clk)
	defer s.Close()
	appendN(t, s, "acme", 0, 60)
	if _, _, err := s.SetRetention(ctx, "acme", RetentionChange{Class: RetentionOperational, Window: RetentionWindow{Days: 30}}); err != nil {
		t.Fatal(err)
	}
	clk.Add(91 * 24 * time.Hour)
	copyDir := filepath.Join(t.TempDir(), "copy")
	var key []byte
	stop := errors.New("the copy was made")
	s.ret.afterBatch = func(batch int) error {
		if batch != 2 {
			return nil
		}
		var err error
		_, key, err = s.CopyForAudit(ctx, copyDir)
		if err != nil {
			t.Fatal(err)
		}
		return stop
	}
	if res, err := s.SweepRetention(ctx, "acme", SweepOptions{BatchSize: 10}); !errors.Is(err, stop) || res.Pruned == 0 {
		t.Fatalf("sweep: %+v, %v", res, err)
	}
	pub, _ := s.PublicKey(ctx)
	sum, ps := auditVerify(t, copyDir, key, VerifyOptions{PublicKey: pub})
	if len(ps) != 0 || sum.Pruned == 0 {
		t.Fatalf("a copy made during a sweep: %d pruned, problems:\n%s", sum.Pruned, problemList(ps))
	}
	a, err := OpenForAudit(copyDir, key, Options{Now: func() time.Time { return clk.Now().Add(-time.Hour) }})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	var skewed []Problem
	if _, err := a.Verify(ctx, VerifyOptions{}, func(p Problem) error { skewed = append(skewed, p); return nil }); err != nil || len(skewed) != 0 {
		t.Errorf("verified by a clock an hour behind: %v\n%s", err, problemList(skewed))
	}
}

// An organization whose whole log is gone from the owner's database has
// an alert, which its copy holds and reports.
func TestCopyForAudit_MissingLog(t *testing.T) {
	l := newTamperLog(t)
	rawTamper(t, l.dir, l.ks, func(txn *badger.Txn) {
		deleteOrgKeys(txn, "other")
	})
	dir, key := l.auditCopy(t, nil)
	_, ps := auditVerify(t, dir, key, VerifyOptions{PublicKey: l.publicKey(t)})
	wantKinds(t, ps, map[string][]string{"other": {ProblemIntegrityAlert}})
	_, ps = auditVerify(t, dir, key, VerifyOptions{Org: "other"})
	wantKinds(t, ps, map[string][]string{"other": {ProblemIntegrityAlert}})
	a, err := OpenForAudit(dir, key, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	orgs, err := a.Organizations(context.Background())
	if err != nil || !slices.ContainsFunc(orgs, func(o OrgInfo) bool { return o.ID == "other" && o.Size == 0 }) {
		t.Errorf("the copy's organizations %+v (%v) do not list other, whose log is gone", orgs, err)
	}
}

// An integrity alert the owner's log holds is in the copy, and reported.
func TestOpenForAudit_StoredAlert(t *testing.T) {
	l := newTamperLog(t)
	dir, key := l.auditCopy(t, func(s *Store) {
		if err := s.RaiseIntegrityAlert(context.Background(), "acme", "the witness saw another root", nil); err != nil {
			t.Fatal(err)
		}
	})
	_, ps := auditVerify(t, dir, key, VerifyOptions{})
	wantKinds(t, ps, map[string][]string{"acme": {ProblemIntegrityAlert}})
	if len(ps) == 0 || !strings.Contains(ps[0].Detail, "witness") {
		t.Errorf("the alert's problem does not say what it was: %v", ps)
	}
}

// wantKinds fails unless every problem is of an organization of want with
// one of its kinds, and each organization has each of its kinds.
func wantKinds(t *testing.T, ps []Problem, want map[string][]string) {
	t.Helper()
	seen := map[string]bool{}
	for _, p := range ps {
		if !slices.Contains(want[p.Org], p.Kind) {
			t.Errorf("unexpected problem %s", p)
		}
		seen[p.Org+"/"+p.Kind] = true
	}
	for org, kinds := range want {
		for _, kind := range kinds {
			if !seen[org+"/"+kind] {
				t.Errorf("no %s problem for %s in:\n%s", kind, org, problemList(ps))
			}
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

// A copy whose context ends stops, says why, and leaves no directory: the
// command's Ctrl-C (main_test.go) relies on it.
func TestCopyForAudit_Cancelled(t *testing.T) {
	l := newTamperLog(t)
	s := l.open(t)
	defer s.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	dir := filepath.Join(t.TempDir(), "copy")
	if _, _, err := s.CopyForAudit(ctx, dir); !errors.Is(err, context.Canceled) {
		t.Fatalf("CopyForAudit with an ended context = %v, want context.Canceled", err)
	}
	if _, err := os.Lstat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the cancelled copy left %s: %v", dir, err)
	}
}
