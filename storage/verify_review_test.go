package storage

// Verify against damage found in review: bounds that a bit flip or a stray
// record pushes far beyond the log, index and id entries of the wrong shape
// or of organizations without records, checkpoints removed behind the
// keychain anchor, signatures added, and non-canonical records.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	badger "github.com/dgraph-io/badger/v4"

	"github.com/axiomops/axiom-audit/storage/tlog"
)

// A head whose seq has its top bit flipped must not make Verify walk 2^51
// empty chunks: the work is bounded by the records there are.
func TestVerify_HeadSeqBitFlipEnds(t *testing.T) {
	clk := &manualClock{t: baseTime.Add(300 * 24 * time.Hour)}
	s := openIntegrityTest(t, t.TempDir(), newStoreKeystore(), clk, Options{})
	defer s.Close()
	appendN(t, s, "acme", 0, 20)
	txn := s.db.NewTransaction(true)
	defer txn.Discard()
	v := rawGet(t, txn, headKey("acme"))
	v[0] ^= 0x80
	rawSet(t, txn, headKey("acme"), v)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	start := time.Now()
	var ps []Problem
	_, err := s.verifyTxn(ctx, txn, VerifyOptions{Org: "acme"}, func(p Problem) error { ps = append(ps, p); return nil })
	t.Logf("verify returned after %v: err=%v problems=%d", time.Since(start), err, len(ps))
	if err != nil {
		t.Errorf("Verify did not finish on a log with one flipped bit in its head: %v", err)
	}
}

// One stray record far beyond the head is one gap, not a problem (and a
// leaf) for every missing seq in between.
func TestVerify_FarRecordIsOneGap(t *testing.T) {
	clk := &manualClock{t: baseTime.Add(300 * 24 * time.Hour)}
	s := openIntegrityTest(t, t.TempDir(), newStoreKeystore(), clk, Options{})
	defer s.Close()
	appendN(t, s, "acme", 0, 20)
	txn := s.db.NewTransaction(true)
	defer txn.Discard()
	rawSet(t, txn, recordKey("acme", 1<<40), rawGet(t, txn, recordKey("acme", 20)))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	stop := errors.New("enough")
	n := 0
	start := time.Now()
	_, err := s.verifyTxn(ctx, txn, VerifyOptions{Org: "acme", Keyless: true}, func(p Problem) error {
		n++
		if n == 1_000_000 {
			return stop
		}
		return nil
	})
	t.Logf("after %v: %d problems, err=%v", time.Since(start), n, err)
	if n >= 1_000_000 || err != nil {
		t.Errorf("one extra record at seq 2^40: verify reported %d problems and did not finish (%v)", n, err)
	}
}

// An id entry cut to its first 16 bytes (seq and recordedAt) is reported:
// Get and appends of that id would fail on it. (The content MAC itself
// needs the states to recompute and is not checked.)
func TestVerify_IDEntryTruncated(t *testing.T) {
	l := newTamperLog(t)
	rawTamper(t, l.dir, l.ks, func(txn *badger.Txn) {
		v := rawGet(t, txn, idKey("acme", l.ids[2]))
		rawSet(t, txn, idKey("acme", l.ids[2]), v[:16])
	})
	s := l.open(t)
	defer s.Close()
	ps := verifyAll(t, s, VerifyOptions{})
	_, gerr := s.Get(context.Background(), "acme", l.ids[2])
	t.Logf("verify: %d problems; Get(seq 3 id) = %v", len(ps), gerr)
	if len(ps) == 0 {
		t.Errorf("id entry of seq 3 cut to 16 bytes: verify clean, but Get fails: %v", gerr)
	}
}

func kinds(ps []Problem) map[string]int {
	m := map[string]int{}
	for _, p := range ps {
		m[p.Kind]++
	}
	return m
}

// The newest stored checkpoints deleted, or replaced by an older one,
// behind the keychain anchor: an alert on open and a problem in verify
// (renumbering the later ones after deleting a middle one is not
// detectable: numbers and times are not signed).
func TestVerify_NewestCheckpointsRemoved(t *testing.T) {
	cases := []struct {
		name   string
		tamper func(t *testing.T, l *tamperLog, txn *badger.Txn)
	}{
		// newTamperLog: acme has checkpoint 1 (size 10) and 2 (size 20,
		// the keychain anchor).
		{"newest checkpoint deleted", func(t *testing.T, l *tamperLog, txn *badger.Txn) {
			txn.Delete(checkpointKey("acme", 2))
		}},
		{"newest checkpoint replaced by the older one", func(t *testing.T, l *tamperLog, txn *badger.Txn) {
			rawSet(t, txn, checkpointKey("acme", 2), rawGet(t, txn, checkpointKey("acme", 1)))
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			l := newTamperLog(t)
			rawTamper(t, l.dir, l.ks, func(txn *badger.Txn) { c.tamper(t, l, txn) })
			s := l.open(t)
			defer s.Close()
			a := s.IntegrityAlerts(context.Background())
			ps := verifyAll(t, s, VerifyOptions{Org: "acme"})
			t.Logf("alerts on open: %d; keyed verify: %v", len(a), kinds(ps))
			if len(ps) == 0 {
				t.Errorf("%s: keyed verify is clean (the keychain anchor is checkpoint 2 of size 20)", c.name)
			}
			if len(a) != 1 {
				t.Errorf("%s: %d alerts on open, want 1", c.name, len(a))
			}
		})
	}
}

// The last record deleted with its tile, the head and compact range
// rewritten, and the checkpoint that covered it deleted.
func TestVerify_EndRecordDeleted(t *testing.T) {
	for _, keyless := range []bool{false, true} {
		l := newTamperLog(t)
		// acme seqs 1–20; tile (4,0) covers 1–16. Make the log 16: delete 17–20.
		rawTamper(t, l.dir, l.ks, func(txn *badger.Txn) {
			tr := tlog.NewTree()
			var last [32]byte
			for seq := uint64(1); seq <= 20; seq++ {
				rv, _ := decodeRecordValue(rawGet(t, txn, recordKey("acme", seq)))
				if seq <= 15 {
					tr.Append(rv.leaf)
					last = rv.leaf
					continue
				}
				p, _ := decodePublic(rv.public)
				txn.Delete(recordKey("acme", seq))
				txn.Delete(idKey("acme", p.ID))
			}
			txn.Delete(nodeKey("acme", tlog.NodeID{Level: 4, Index: 0}))
			b, _ := tr.MarshalBinary()
			rawSet(t, txn, compactKey("acme"), b)
			h, _ := decodeHead(rawGet(t, txn, headKey("acme")))
			h.seq, h.leaf = 15, last
			rawSet(t, txn, headKey("acme"), h.encode())
			txn.Delete(checkpointKey("acme", 2))
		})
		s := l.open(t)
		ps := verifyAll(t, s, VerifyOptions{Org: "acme", Keyless: keyless})
		t.Logf("keyless=%v: %v\n%s", keyless, kinds(ps), problemList(ps))
		s.Close()
	}
}

// Records swapped across organizations, with everything else intact.
func TestVerify_CrossOrgSwap(t *testing.T) {
	l := newTamperLog(t)
	rawTamper(t, l.dir, l.ks, func(txn *badger.Txn) {
		a, b := rawGet(t, txn, recordKey("acme", 3)), rawGet(t, txn, recordKey("other", 3))
		rawSet(t, txn, recordKey("acme", 3), b)
		rawSet(t, txn, recordKey("other", 3), a)
	})
	s := l.open(t)
	defer s.Close()
	ps := verifyAll(t, s, VerifyOptions{})
	for _, org := range []string{"acme", "other"} {
		found := false
		for _, p := range ps {
			found = found || p.Org == org && p.Seq == 3
		}
		if !found {
			t.Errorf("%s seq 3 not named:\n%s", org, problemList(ps))
		}
	}
}

// Index entries of an organization that has no records, head, tree or id
// entries are reported by a Verify of every organization.
func TestVerify_GhostOrgIndexEntries(t *testing.T) {
	l := newTamperLog(t)
	rawTamper(t, l.dir, l.ks, func(txn *badger.Txn) {
		v := rawGet(t, txn, timeKey("acme", encTime(baseTime), 1))
		rawSet(t, txn, timeKey("ghost", encTime(baseTime), 1), v)
		rawSet(t, txn, append(indexPrefix("ghost", fieldUserID, "mallory"), make([]byte, 16)...), v)
	})
	s := l.open(t)
	defer s.Close()
	for _, org := range []string{"", "ghost"} {
		ps := verifyAll(t, s, VerifyOptions{Org: org})
		if len(ps) == 0 {
			t.Errorf("org %q: timeline and user index entries of organization ghost, which has no events: verify clean", org)
		}
	}
	_ = bytes.Equal
}

// Public records that are valid JSON but not canonical JCS must be
// reported as record_corrupt.
func TestVerify_NonCanonicalPublic(t *testing.T) {
	ctx := context.Background()
	clk := &manualClock{t: baseTime.Add(300 * 24 * time.Hour)}
	s := openIntegrityTest(t, t.TempDir(), newStoreKeystore(), clk, Options{})
	defer s.Close()
	appendN(t, s, "acme", 0, 5)
	var pub []byte
	var val []byte
	{
		txn := s.db.NewTransaction(false)
		val = rawGet(t, txn, recordKey("acme", 3))
		txn.Discard()
		rv, _ := decodeRecordValue(val)
		pub = rv.public
	}
	t.Logf("%s", pub)
	variants := map[string]func([]byte) []byte{
		"space after colon": func(b []byte) []byte { return bytes.Replace(b, []byte(`"category":`), []byte(`"category": `), 1) },
		"escaped slash":     func(b []byte) []byte { return bytes.Replace(b, []byte(`arn:aws`), []byte(`arn\/aws`), 1) },
		"escaped letter":    func(b []byte) []byte { return bytes.Replace(b, []byte(`"user-`), []byte(`"\u0075ser-`), 1) },
		"metadata 30.0": func(b []byte) []byte {
			return bytes.Replace(b, []byte(`"rtoSeconds":30`), []byte(`"rtoSeconds":30.0`), 1)
		},
		"metadata 3e1": func(b []byte) []byte {
			return bytes.Replace(b, []byte(`"rtoSeconds":30`), []byte(`"rtoSeconds":3e1`), 1)
		},
		"seq 3.0": func(b []byte) []byte { return bytes.Replace(b, []byte(`"seq":3`), []byte(`"seq":3.0`), 1) },
		"seq 03":  func(b []byte) []byte { return bytes.Replace(b, []byte(`"seq":3`), []byte(`"seq":03`), 1) },
		"formatVersion 1.0": func(b []byte) []byte {
			return bytes.Replace(b, []byte(`"formatVersion":1`), []byte(`"formatVersion":1.0`), 1)
		},
		"members swapped": func(b []byte) []byte {
			return bytes.Replace(b, []byte(`{"actionType":`), []byte(`{"zz":0,"actionType":`), 1)
		},
		"timestamp not 9 digits": func(b []byte) []byte {
			i := bytes.Index(b, []byte(`"timestamp":"`)) + len(`"timestamp":"`)
			out := append([]byte(nil), b[:i+19]...)
			out = append(out, 'Z')
			return append(out, b[i+30:]...)
		},
		"metadata as upper-case key dup": func(b []byte) []byte {
			return bytes.Replace(b, []byte(`"metadata":{`), []byte(`"Metadata":{"x":1},"metadata":{`), 1)
		},
	}
	for name, f := range variants {
		np := f(bytes.Clone(pub))
		if bytes.Equal(np, pub) {
			t.Errorf("%s: variant did not apply", name)
			continue
		}
		rv, _ := decodeRecordValue(val)
		rv.public = np
		rv.leaf = leafHash(np)
		txn := s.db.NewTransaction(true)
		rawSet(t, txn, recordKey("acme", 3), rv.encode())
		var ps []Problem
		if _, err := s.verifyTxn(ctx, txn, VerifyOptions{Org: "acme", Keyless: true}, func(p Problem) error { ps = append(ps, p); return nil }); err != nil {
			t.Fatal(err)
		}
		txn.Discard()
		corrupt := false
		for _, p := range ps {
			corrupt = corrupt || p.Seq == 3 && p.Kind == ProblemRecordCorrupt
		}
		if !corrupt {
			t.Errorf("%s: not reported as record_corrupt: %v\n%s", name, kinds(ps), np)
		}
	}
}

// An organization's log deleted from the database altogether: open raises
// a missing_org alert, and a Verify of every organization reports it.
func TestVerify_WholeOrgDeleted(t *testing.T) {
	ctx := context.Background()
	l := newTamperLog(t)
	rawTamper(t, l.dir, l.ks, func(txn *badger.Txn) {
		deleteOrgKeys(txn, "other")
	})
	s := l.open(t)
	defer s.Close()
	t.Logf("alerts on open: %+v", s.IntegrityAlerts(ctx))
	ps := verifyAll(t, s, VerifyOptions{})
	sawOther := false
	for _, p := range ps {
		sawOther = sawOther || p.Org == "other"
	}
	if !sawOther {
		t.Errorf("verify (all organizations, with keys) says nothing about organization other, whose log is gone:\n%s", problemList(ps))
	}
	ps = verifyAll(t, s, VerifyOptions{Org: "other"})
	t.Logf("verify org other: %v", kinds(ps))
}

// deleteOrgKeys deletes every key of org's log, its indexes and its tree
// (tags 0x10 to 0x2f), as if it had never been.
func deleteOrgKeys(txn *badger.Txn, org string) {
	for tag := byte(0x10); tag <= 0x2f; tag++ {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: orgPrefix(tag, org)})
		var keys [][]byte
		for it.Rewind(); it.Valid(); it.Next() {
			keys = append(keys, it.Item().KeyCopy(nil))
		}
		it.Close()
		for _, k := range keys {
			txn.Delete(k)
		}
	}
}

// A stored checkpoint with an extra (forged) signature line appended is no
// longer what the log signed: verify reports it.
func TestVerify_CheckpointExtraSignatureLine(t *testing.T) {
	ctx := context.Background()
	clk := &manualClock{t: baseTime.Add(300 * 24 * time.Hour)}
	s := openIntegrityTest(t, t.TempDir(), newStoreKeystore(), clk, Options{})
	defer s.Close()
	appendN(t, s, "acme", 0, 5)
	if _, err := s.Checkpoint(ctx, "acme"); err != nil {
		t.Fatal(err)
	}
	txn := s.db.NewTransaction(true)
	defer txn.Discard()
	v := rawGet(t, txn, checkpointKey("acme", 1))
	v = append(v, []byte("— witness.example/w1 AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n")...)
	rawSet(t, txn, checkpointKey("acme", 1), v)
	var ps []Problem
	if _, err := s.verifyTxn(ctx, txn, VerifyOptions{Org: "acme"}, func(p Problem) error { ps = append(ps, p); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(ps) == 0 {
		t.Errorf("checkpoint 1 with a forged witness signature line appended: verify clean")
	}
}

// A database whose history differs from its own stored checkpoints (a
// rewritten history with its tree rebuilt) raises an alert on open; one
// acknowledgement clears it, records one event, and appends go on.
func TestAcknowledge_RewrittenHistoryClears(t *testing.T) {
	ctx := context.Background()
	l := newTamperLog(t)
	var saved [][]byte
	rawTamper(t, l.dir, l.ks, func(txn *badger.Txn) {
		prev := [32]byte{}
		for seq := uint64(1); seq <= 20; seq++ {
			rv, _ := decodeRecordValue(rawGet(t, txn, recordKey("acme", seq)))
			pub := rv.public
			if seq == 15 {
				pub = bytes.Replace(pub, []byte(`"rtoSeconds":30`), []byte(`"rtoSeconds":31`), 1)
			}
			if seq > 1 {
				p, _ := decodePublic(pub)
				pub = bytes.Replace(pub, []byte(p.PrevHash), []byte(fmt.Sprintf("%x", prev)), 1)
			}
			rv.public = pub
			rv.leaf = leafHash(pub)
			prev = rv.leaf
			rawSet(t, txn, recordKey("acme", seq), rv.encode())
		}
		h, _ := decodeHead(rawGet(t, txn, headKey("acme")))
		h.leaf = prev
		rawSet(t, txn, headKey("acme"), h.encode())
		// Without its tree and checkpoints, Open rebuilds the tree from
		// the rewritten records, as for a log written before them.
		txn.Delete(compactKey("acme"))
		txn.Delete(nodeKey("acme", tlog.NodeID{Level: 4, Index: 0}))
		for n := uint64(1); n <= 2; n++ {
			saved = append(saved, rawGet(t, txn, checkpointKey("acme", n)))
			txn.Delete(checkpointKey("acme", n))
		}
	})
	s := l.open(t)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// The checkpoints of the old history are back.
	rawTamper(t, l.dir, l.ks, func(txn *badger.Txn) {
		for i, v := range saved {
			rawSet(t, txn, checkpointKey("acme", uint64(i+1)), v)
		}
	})
	s = l.open(t)
	defer s.Close()
	if a := s.IntegrityAlerts(ctx); len(a) != 1 || a[0].Kind != AlertInconsistent {
		t.Fatalf("alerts on open: %+v, want one inconsistent", a)
	}
	if _, err := s.AcknowledgeIntegrityAlert(ctx, "acme", "alice", "accept"); err != nil {
		t.Fatalf("acknowledge: %v", err)
	}
	if a := s.IntegrityAlerts(ctx); len(a) != 0 {
		t.Fatalf("alerts after the acknowledgement: %+v", a)
	}
	if _, err := s.Append(ctx, []Event{testEvent("acme", 77)}); err != nil {
		t.Fatalf("append after the acknowledgement: %v", err)
	}
	if size, _, err := s.Head(ctx, "acme"); err != nil || size != 22 {
		t.Fatalf("head after one acknowledgement and one append: %d, %v; want 22", size, err)
	}
}

// One damaged value of the integrity layer (a head, a compact range or the
// newest checkpoint that does not decode) must not keep the store closed:
// it opens with a "damaged" alert, verify names problems, appends to the
// organization are refused and the alert cannot be acknowledged, while
// other organizations go on.
func TestOpen_DamageIsAnAlert(t *testing.T) {
	for _, c := range []struct {
		name   string
		tamper func(t *testing.T, txn *badger.Txn)
	}{
		{"newest checkpoint: version byte", func(t *testing.T, txn *badger.Txn) {
			v := rawGet(t, txn, checkpointKey("acme", 2))
			v[0] ^= 2
			rawSet(t, txn, checkpointKey("acme", 2), v)
		}},
		{"newest checkpoint: size line", func(t *testing.T, txn *badger.Txn) {
			v := rawGet(t, txn, checkpointKey("acme", 2))
			i := len(v) - 1
			for j := 9; j < len(v); j++ {
				if v[j] == '\n' {
					i = j + 1
					break
				}
			}
			v[i] = 'x'
			rawSet(t, txn, checkpointKey("acme", 2), v)
		}},
		{"checkpoint key malformed", func(t *testing.T, txn *badger.Txn) {
			rawSet(t, txn, append(checkpointKey("acme", 2), 0), rawGet(t, txn, checkpointKey("acme", 2)))
		}},
		// The next append continues from the head and the compact range:
		// each must agree with the records and the stored tree.
		{"head deleted", func(t *testing.T, txn *badger.Txn) {
			txn.Delete(headKey("acme"))
		}},
		{"head leaf flipped", func(t *testing.T, txn *badger.Txn) { flip(t, txn, headKey("acme"), 8, 0) }},
		{"head one seq behind", func(t *testing.T, txn *badger.Txn) {
			h, _ := decodeHead(rawGet(t, txn, headKey("acme")))
			h.seq--
			rawSet(t, txn, headKey("acme"), h.encode())
		}},
		{"newest record deleted", func(t *testing.T, txn *badger.Txn) { txn.Delete(recordKey("acme", 20)) }},
		{"compact range hash flipped", func(t *testing.T, txn *badger.Txn) { flip(t, txn, compactKey("acme"), 8, 0) }},
		// The head's leaf and the newest record's stored leaf flipped
		// alike still disagree with the record's public part.
		{"head leaf and newest record leaf flipped together", func(t *testing.T, txn *badger.Txn) {
			flip(t, txn, headKey("acme"), 8, 0)
			v := rawGet(t, txn, recordKey("acme", 20))
			rv, err := decodeRecordValue(v)
			if err != nil {
				t.Fatal(err)
			}
			rv.leaf[0] ^= 1
			rawSet(t, txn, recordKey("acme", 20), rv.encode())
		}},
		// What is left of an organization without its head and tree is
		// damage, not a new organization (nor a missing one to
		// acknowledge, which an append would start over on).
		{"head and compact range deleted", func(t *testing.T, txn *badger.Txn) {
			txn.Delete(headKey("acme"))
			txn.Delete(compactKey("acme"))
		}},
		{"head, compact range and checkpoints deleted", func(t *testing.T, txn *badger.Txn) {
			txn.Delete(headKey("acme"))
			txn.Delete(compactKey("acme"))
			deletePrefix(t, txn, orgPrefix(tagCheckpt, "acme"))
		}},
		{"head, compact range and records deleted", func(t *testing.T, txn *badger.Txn) {
			txn.Delete(headKey("acme"))
			txn.Delete(compactKey("acme"))
			deletePrefix(t, txn, orgPrefix(tagRecord, "acme"))
		}},
		// Only what was written with the head is left: each alone shows
		// the organization was there.
		{"all but the id index deleted", wipeAllBut(tagID)},
		{"all but the timeline index deleted", wipeAllBut(tagTime)},
		{"all but the indexes deleted", wipeAllBut(tagIndex)},
		{"all but the tree nodes deleted", wipeAllBut(tagTreeNode)},
		{"all but the counters deleted", wipeAllBut(tagCounter)},
		{"head one byte short", func(t *testing.T, txn *badger.Txn) {
			v := rawGet(t, txn, headKey("acme"))
			rawSet(t, txn, headKey("acme"), v[:47])
		}},
		{"compact range one byte short", func(t *testing.T, txn *badger.Txn) {
			v := rawGet(t, txn, compactKey("acme"))
			rawSet(t, txn, compactKey("acme"), v[:len(v)-1])
		}},
		// A stored alert is the key's organization's: one that does not
		// decode, or names another organization (which would release
		// acme and block other-org), keeps acme refused as damaged.
		{"stored alert unreadable", func(t *testing.T, txn *badger.Txn) {
			rawSet(t, txn, alertKey("acme"), []byte(`{"org":"acme","kind":`))
		}},
		{"stored alert names another organization", func(t *testing.T, txn *badger.Txn) {
			rawSet(t, txn, alertKey("acme"), []byte(`{"org":"other-org","kind":"rollback"}`))
		}},
		{"stored alert of no kind", func(t *testing.T, txn *badger.Txn) {
			rawSet(t, txn, alertKey("acme"), []byte(`{"org":"acme"}`))
			// Keys that name no organization are left aside.
			rawSet(t, txn, []byte{tagAlert}, []byte(`{"org":"acme","kind":"rollback"}`))
			rawSet(t, txn, []byte{tagAlert, 'x'}, []byte(`{"org":"x","kind":"rollback"}`))
			rawSet(t, txn, []byte{tagHead}, rawGet(t, txn, headKey("acme")))
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			for _, anchor := range []bool{true, false} {
				t.Run(fmt.Sprintf("anchor %v", anchor), func(t *testing.T) {
					l := newTamperLog(t)
					if !anchor {
						// Without the keychain anchor, the database
						// alone must show the damage.
						delete(l.ks.secrets, KeyAnchor("acme"))
					}
					rawTamper(t, l.dir, l.ks, func(txn *badger.Txn) { c.tamper(t, txn) })
					checkDamaged(t, l)
				})
			}
		})
	}
}

// wipeAllBut deletes acme's head, compact range, checkpoints and every
// key of its log but those under keep (and its data keys, which a new
// organization may have too).
func wipeAllBut(keep byte) func(t *testing.T, txn *badger.Txn) {
	return func(t *testing.T, txn *badger.Txn) {
		txn.Delete(headKey("acme"))
		txn.Delete(compactKey("acme"))
		deletePrefix(t, txn, orgPrefix(tagCheckpt, "acme"))
		for _, tag := range leftoverTags() {
			if tag != keep {
				deletePrefix(t, txn, orgPrefix(tag, "acme"))
			}
		}
	}
}

// forIntegrityModes runs f as a subtest with the integrity layer on, and
// again with it off.
func forIntegrityModes(t *testing.T, f func(t *testing.T, opts Options)) {
	for _, c := range []struct {
		name string
		opts Options
	}{{"integrity on", Options{}}, {"integrity off", Options{disableIntegrity: true}}} {
		t.Run(c.name, func(t *testing.T) { f(t, c.opts) })
	}
}

// checkDamaged opens l and checks that acme is refused as damaged, and
// only acme.
func checkDamaged(t *testing.T, l *tamperLog) {
	t.Helper()
	ctx := context.Background()
	s, err := Open(ctx, l.dir, l.ks, Options{Now: l.clk.Now, GCInterval: -1})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer s.Close()
	alerts := s.IntegrityAlerts(ctx)
	if len(alerts) != 1 || alerts[0].Org != "acme" || alerts[0].Kind != AlertDamaged {
		t.Fatalf("alerts: %+v, want one damaged alert of acme", alerts)
	}
	for _, keyless := range []bool{false, true} {
		if ps := verifyAll(t, s, VerifyOptions{Org: "acme", Keyless: keyless}); len(ps) == 0 {
			t.Errorf("verify (keyless %v) of the damaged organization is clean", keyless)
		}
	}
	if _, err := s.Append(ctx, []Event{testEvent("acme", 99)}); !errors.Is(err, ErrIntegrityAlert) {
		t.Errorf("append to the damaged organization: %v, want ErrIntegrityAlert", err)
	}
	if _, err := s.AcknowledgeIntegrityAlert(ctx, "acme", "alice", "accept"); err == nil || !strings.Contains(err.Error(), "restore") {
		t.Errorf("acknowledging a damaged log: %v", err)
	}
	if _, err := s.Append(ctx, []Event{testEvent("other-org", 1)}); err != nil {
		t.Errorf("append to another organization: %v", err)
	}
}

// deletePrefix deletes every key with prefix p.
func deletePrefix(t *testing.T, txn *badger.Txn, p []byte) {
	t.Helper()
	var keys [][]byte
	it := txn.NewIterator(badger.IteratorOptions{Prefix: p})
	for it.Rewind(); it.Valid(); it.Next() {
		keys = append(keys, it.Item().KeyCopy(nil))
	}
	it.Close()
	if len(keys) == 0 {
		t.Fatalf("no keys under %x", p)
	}
	for _, k := range keys {
		if err := txn.Delete(k); err != nil {
			t.Fatal(err)
		}
	}
}

// A log whose compact range was deleted but which stores checkpoints is
// damaged, not one written before the integrity layer: Open must not
// rebuild its tree over the stored tiles (which are never rewritten, and
// are what verify compares the records with).
func TestOpen_MissingCompactRangeIsNotRebuilt(t *testing.T) {
	ctx := context.Background()
	l := newTamperLog(t)
	var before []byte
	rawTamper(t, l.dir, l.ks, func(txn *badger.Txn) {
		txn.Delete(compactKey("acme"))
		before = rawGet(t, txn, nodeKey("acme", tlog.NodeID{Level: 4, Index: 0}))
	})
	s := l.open(t)
	defer s.Close()
	var after []byte
	s.db.View(func(txn *badger.Txn) error {
		after = rawGet(t, txn, nodeKey("acme", tlog.NodeID{Level: 4, Index: 0}))
		return nil
	})
	if !bytes.Equal(before, after) {
		t.Error("Open rewrote tile (4,0)")
	}
	if a := s.IntegrityAlerts(ctx); len(a) != 1 || a[0].Kind != AlertDamaged {
		t.Errorf("alerts: %+v, want one damaged alert", a)
	}
	if ps := verifyAll(t, s, VerifyOptions{Org: "acme"}); len(ps) == 0 {
		t.Error("verify is clean without a compact range")
	}
}

// A stored newest checkpoint that does not verify (a flipped bit of its
// signature, which Open does not read) is not handed out: LatestCheckpoint
// and the proofs against it fail with ErrTampered instead of passing it to
// an auditor.
func TestLatestCheckpoint_MustVerify(t *testing.T) {
	ctx := context.Background()
	l := newTamperLog(t)
	rawTamper(t, l.dir, l.ks, func(txn *badger.Txn) {
		v := rawGet(t, txn, checkpointKey("acme", 2))
		i := bytes.LastIndexByte(bytes.TrimSuffix(v, []byte("\n")), ' ') + 10
		v[i] ^= 0x01
		rawSet(t, txn, checkpointKey("acme", 2), v)
	})
	s := l.open(t)
	defer s.Close()
	if _, err := s.LatestCheckpoint(ctx, "acme"); !errors.Is(err, ErrTampered) {
		t.Fatalf("LatestCheckpoint: %v, want ErrTampered", err)
	}
	if _, err := s.LatestCheckpoint(ctx, "other"); err != nil {
		t.Fatalf("another organization's: %v", err)
	}
	if _, err := s.InclusionProof(ctx, "acme", l.ids[0], 0); !errors.Is(err, ErrTampered) {
		t.Fatalf("InclusionProof: %v, want ErrTampered", err)
	}
}

// CheckpointOfSize hands out a stored older checkpoint only if its note
// verifies.
func TestCheckpointOfSize(t *testing.T) {
	ctx := context.Background()
	l := newTamperLog(t) // acme: checkpoints of 10 and 20 events
	s := l.open(t)
	cp, err := s.CheckpointOfSize(ctx, "acme", 10)
	if err != nil || cp.Checkpoint.Size != 10 || cp.Number != 1 {
		t.Fatalf("CheckpointOfSize(10) = %+v, %v", cp.Checkpoint, err)
	}
	if _, err := s.CheckpointOfSize(ctx, "acme", 11); !errors.Is(err, ErrNotFound) {
		t.Fatalf("a size never checkpointed: %v", err)
	}
	s.Close()
	rawTamper(t, l.dir, l.ks, func(txn *badger.Txn) {
		v := rawGet(t, txn, checkpointKey("acme", 1))
		v[bytes.LastIndexByte(bytes.TrimSuffix(v, []byte("\n")), ' ')+10] ^= 0x01
		rawSet(t, txn, checkpointKey("acme", 1), v)
	})
	s = l.open(t)
	defer s.Close()
	if _, err := s.CheckpointOfSize(ctx, "acme", 10); !errors.Is(err, ErrTampered) {
		t.Fatalf("a checkpoint whose signature was changed: %v, want ErrTampered", err)
	}
}

// The append path does not trust a head it reads from the database: one
// lost with the rest of the organization's tree (so that Open has nothing
// to check it against) must not make the next append overwrite record 1.
func TestAppend_LostHeadDoesNotOverwrite(t *testing.T) {
	ctx := context.Background()
	forIntegrityModes(t, func(t *testing.T, opts Options) {
		dir, ks := t.TempDir(), newStoreKeystore()
		clk := &manualClock{t: baseTime.Add(300 * 24 * time.Hour)}
		s := openIntegrityTest(t, dir, ks, clk, opts)
		appendN(t, s, "acme", 0, 3)
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		var before []byte
		rawTamper(t, dir, ks, func(txn *badger.Txn) {
			before = rawGet(t, txn, recordKey("acme", 1))
			txn.Delete(headKey("acme"))
			txn.Delete(compactKey("acme"))
			for n := uint64(1); n <= 3; n++ {
				txn.Delete(checkpointKey("acme", n))
			}
		})
		s = openIntegrityTest(t, dir, ks, clk, opts)
		defer s.Close()
		_, err := s.Append(ctx, []Event{testEvent("acme", 50)})
		if opts.disableIntegrity {
			if !errors.Is(err, ErrTampered) || !strings.Contains(err.Error(), "restore") {
				t.Errorf("append over a lost head: %v, want ErrTampered saying to restore", err)
			}
		} else {
			// Records without a head are damage, found on open: an
			// alert that cannot be acknowledged (acknowledging
			// appends an event, which would overwrite record 1).
			if !errors.Is(err, ErrIntegrityAlert) {
				t.Errorf("append over a lost head: %v, want ErrIntegrityAlert", err)
			}
			if _, err := s.AcknowledgeIntegrityAlert(ctx, "acme", "alice", "accept"); err == nil || !strings.Contains(err.Error(), "restore") {
				t.Errorf("acknowledging over a lost head: %v, want a refusal saying to restore", err)
			}
		}
		var after []byte
		s.db.View(func(txn *badger.Txn) error { after = rawGet(t, txn, recordKey("acme", 1)); return nil })
		if !bytes.Equal(before, after) {
			t.Error("record seq 1 was overwritten")
		}
		if _, err := s.Append(ctx, []Event{testEvent("other", 1)}); err != nil {
			t.Errorf("append to another organization: %v", err)
		}
	})
}

// The head's recordedAt (what the organization list shows as the last
// event) is checked against the newest record.
func TestVerify_HeadRecordedAt(t *testing.T) {
	l := newTamperLog(t)
	rawTamper(t, l.dir, l.ks, func(txn *badger.Txn) { flip(t, txn, headKey("acme"), 46, 0) })
	s := l.open(t)
	defer s.Close()
	for _, keyless := range []bool{false, true} {
		ps := verifyAll(t, s, VerifyOptions{Org: "acme", Keyless: keyless})
		wantProblem(t, ps, "acme", 20, "", ProblemRangeMismatch)
		if len(ps) != 1 || !strings.Contains(ps[0].Detail, "recorded at") {
			t.Errorf("keyless %v: want one problem naming the head's recordedAt:\n%s", keyless, problemList(ps))
		}
	}
}

// The head's leaf and the newest record's stored leaf flipped alike, where
// the newest leaf closes a tile (so that the tree's nodes no longer read
// it from the record), still disagree with the record's public part.
func TestOpen_NewestLeafFlippedInHeadAndRecord(t *testing.T) {
	for _, n := range []int{1 << tileHeight, 2 << tileHeight} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			dir, ks := t.TempDir(), newStoreKeystore()
			clk := &manualClock{t: baseTime.Add(300 * 24 * time.Hour)}
			s := openIntegrityTest(t, dir, ks, clk, Options{})
			appendN(t, s, "acme", 0, n)
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			rawTamper(t, dir, ks, func(txn *badger.Txn) {
				flip(t, txn, headKey("acme"), 8, 0)
				rv, err := decodeRecordValue(rawGet(t, txn, recordKey("acme", uint64(n))))
				if err != nil {
					t.Fatal(err)
				}
				rv.leaf[0] ^= 1
				rawSet(t, txn, recordKey("acme", uint64(n)), rv.encode())
			})
			checkDamaged(t, &tamperLog{dir: dir, ks: ks, clk: clk})
		})
	}
}

// A head found damaged while the writer builds a group fails only the
// requests of its own organization: the other organizations' requests of
// the same group are committed, and the damaged one raises an alert (with
// integrity on). The damage here appears after Open (which would have
// found it), and the three requests reach the writer together: a lone
// append is held in its commit while the writer takes one request and
// two more queue behind it.
func TestAppend_DamagedHeadFailsOnlyItsOrganization(t *testing.T) {
	ctx := context.Background()
	forIntegrityModes(t, func(t *testing.T, opts Options) {
		dir, ks := t.TempDir(), newStoreKeystore()
		clk := &manualClock{t: baseTime.Add(300 * 24 * time.Hour)}
		s := openIntegrityTest(t, dir, ks, clk, opts)
		for _, org := range []string{"acme", "globex", "hooli", "initech"} {
			appendN(t, s, org, 0, 3)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		// Reopened, the store has read no head yet.
		s = openIntegrityTest(t, dir, ks, clk, opts)
		defer s.Close()
		if err := s.db.Update(func(txn *badger.Txn) error { return txn.Delete(headKey("acme")) }); err != nil {
			t.Fatal(err)
		}
		entered, release := holdFirstCommit(s)
		type result struct {
			org string
			err error
		}
		results := make(chan result, 4)
		appendAsync := func(org string, i int) {
			go func() {
				_, err := s.Append(ctx, []Event{testEvent(org, i)})
				results <- result{org, err}
			}()
		}
		appendAsync("hooli", 10) // a lone append, held in its commit
		select {
		case <-entered:
		case <-time.After(10 * time.Second):
			t.Fatal("the first append did not reach its commit")
		}
		appendAsync("initech", 11)
		waitFor(t, "the writer to take a request and wait", func() bool { return s.writerWaits.Load() > 0 })
		groups := s.writerGroups.Load()
		appendAsync("acme", 12)
		appendAsync("globex", 13)
		waitFor(t, "two requests queued behind it", func() bool { return len(s.reqs) == 2 })
		close(release)
		got := map[string]error{}
		for range 4 {
			select {
			case r := <-results:
				got[r.org] = r.err
			case <-time.After(10 * time.Second):
				t.Fatalf("appends answered: %v, want 4", got)
			}
		}
		if n := s.writerGroups.Load() - groups; n != 1 {
			t.Fatalf("the writer built %d groups for the three queued requests, want 1 (the test relies on them sharing one)", n)
		}
		for _, org := range []string{"hooli", "initech", "globex"} {
			if got[org] != nil {
				t.Errorf("append to %s, in a group with the damaged acme: %v", org, got[org])
			}
		}
		if err := got["acme"]; !errors.Is(err, ErrTampered) || !strings.Contains(err.Error(), "restore") {
			t.Errorf("append to acme over its lost head: %v, want ErrTampered saying to restore", err)
		}
		for _, org := range []string{"initech", "globex"} {
			if size, _, err := s.Head(ctx, org); err != nil || size != 4 {
				t.Errorf("%s after the group: size %d, %v; want 4", org, size, err)
			}
		}
		if opts.disableIntegrity {
			return
		}
		waitFor(t, "the damaged alert", func() bool { return len(s.IntegrityAlerts(ctx)) > 0 })
		alerts := s.IntegrityAlerts(ctx)
		if len(alerts) != 1 || alerts[0].Org != "acme" || alerts[0].Kind != AlertDamaged {
			t.Fatalf("alerts: %+v, want one damaged alert of acme", alerts)
		}
		if _, err := s.Append(ctx, []Event{testEvent("acme", 14)}); !errors.Is(err, ErrIntegrityAlert) {
			t.Errorf("a later append to acme: %v, want ErrIntegrityAlert", err)
		}
	})
}
