package storage

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	badger "github.com/dgraph-io/badger/v4"

	"github.com/axiomops/axiom-audit/storage/tlog"
)

// rawTamper opens a closed store's Badger directory with the same derived
// at-rest key, as an attacker with the master key could, and runs fn in one
// read-write transaction.
func rawTamper(t *testing.T, dir string, ks *storeKeystore, fn func(txn *badger.Txn)) {
	t.Helper()
	dk, err := deriveKeys(ks.secrets[KeyMaster])
	if err != nil {
		t.Fatal(err)
	}
	db, err := badger.Open(badger.DefaultOptions(dir).WithEncryptionKey(dk.badger).WithIndexCacheSize(16 << 20).WithLogger(nil))
	if err != nil {
		t.Fatalf("raw open: %v", err)
	}
	defer db.Close()
	if err := db.Update(func(txn *badger.Txn) error { fn(txn); return nil }); err != nil {
		t.Fatal(err)
	}
}

func rawGet(t *testing.T, txn *badger.Txn, key []byte) []byte {
	t.Helper()
	item, err := txn.Get(key)
	if err != nil {
		t.Fatalf("raw get %x: %v", key, err)
	}
	v, err := item.ValueCopy(nil)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func rawSet(t *testing.T, txn *badger.Txn, key, val []byte) {
	t.Helper()
	if err := txn.Set(key, val); err != nil {
		t.Fatal(err)
	}
}

// tamperLog is a closed store with two organizations: acme (20 events,
// checkpoints at 10 and 20) and other (5 events).
type tamperLog struct {
	dir string
	ks  *storeKeystore
	clk *manualClock
	ids []string // ids[seq-1] of acme
}

func newTamperLog(t *testing.T) *tamperLog {
	t.Helper()
	l := &tamperLog{dir: t.TempDir(), ks: newStoreKeystore(), clk: &manualClock{t: baseTime.Add(300 * 24 * time.Hour)}}
	s := l.open(t)
	for _, r := range appendN(t, s, "acme", 0, 10) {
		l.ids = append(l.ids, r.ID)
	}
	if _, err := s.Checkpoint(context.Background(), "acme"); err != nil {
		t.Fatal(err)
	}
	for _, r := range appendN(t, s, "acme", 10, 10) {
		l.ids = append(l.ids, r.ID)
	}
	appendN(t, s, "other", 0, 5)
	if err := s.Close(); err != nil { // final checkpoints: acme 20, other 5
		t.Fatal(err)
	}
	return l
}

func (l *tamperLog) open(t *testing.T) *Store {
	t.Helper()
	return openIntegrityTest(t, l.dir, l.ks, l.clk, Options{})
}

func verifyAll(t *testing.T, s *Store, opts VerifyOptions) []Problem {
	t.Helper()
	var ps []Problem
	_, err := s.Verify(context.Background(), opts, func(p Problem) error { ps = append(ps, p); return nil })
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	return ps
}

// wantProblem fails unless ps has a problem of org/seq/kind (and id, when
// given), and none outside org.
func wantProblem(t *testing.T, ps []Problem, org string, seq uint64, id, kind string) {
	t.Helper()
	found := false
	for _, p := range ps {
		if p.Org != org {
			t.Errorf("problem outside the tampered organization: %v", p)
		}
		if p.Org == org && p.Seq == seq && p.Kind == kind && (id == "" || p.ID == id) {
			found = true
		}
	}
	if !found {
		t.Errorf("no %s problem at %s seq %d id %q; got:\n%s", kind, org, seq, id, problemList(ps))
	}
}

func problemList(ps []Problem) string {
	var b strings.Builder
	for _, p := range ps {
		b.WriteString("  " + p.String() + "\n")
	}
	return b.String()
}

// flip flips one bit of the value at key.
func flip(t *testing.T, txn *badger.Txn, key []byte, byteIndex int, bit uint) {
	t.Helper()
	v := rawGet(t, txn, key)
	v[byteIndex] ^= 1 << bit
	rawSet(t, txn, key, v)
}

// A database of the first layout (stride 1) stores the leaf hashes as tree
// nodes too: a flipped bit in one is pinpointed to its record.
func TestVerify_Stride1LeafNode(t *testing.T) {
	dir, ks := t.TempDir(), newStoreKeystore()
	clk := &manualClock{t: baseTime.Add(300 * 24 * time.Hour)}
	s := openIntegrityTest(t, dir, ks, clk, Options{treeStride: 1})
	rs := appendN(t, s, "acme", 0, 20)
	if ps := verifyAll(t, s, VerifyOptions{}); len(ps) != 0 {
		t.Fatalf("clean stride-1 log:\n%s", problemList(ps))
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	rawTamper(t, dir, ks, func(txn *badger.Txn) {
		flip(t, txn, nodeKey("acme", tlog.NodeID{Level: 0, Index: 12}), 31, 2)
	})
	s = openIntegrityTest(t, dir, ks, clk, Options{})
	defer s.Close()
	wantProblem(t, verifyAll(t, s, VerifyOptions{}), "acme", 13, rs[12].ID, ProblemNodeMismatch)
}

func TestVerify_CleanLog(t *testing.T) {
	l := newTamperLog(t)
	s := l.open(t)
	defer s.Close()
	for _, keyless := range []bool{false, true} {
		var progress []uint64
		var ps []Problem
		sum, err := s.Verify(context.Background(), VerifyOptions{Keyless: keyless, Progress: func(org string, done, total uint64) {
			progress = append(progress, done)
		}}, func(p Problem) error { ps = append(ps, p); return nil })
		if err != nil || len(ps) != 0 {
			t.Fatalf("keyless=%v: clean log: %v\n%s", keyless, err, problemList(ps))
		}
		if sum.Events != 25 || sum.Orgs != 2 || sum.Checkpoints != 3 || (keyless != (sum.States == 0)) || len(progress) == 0 {
			t.Fatalf("keyless=%v: summary %+v, progress %v", keyless, sum, progress)
		}
	}
}

// TestVerify_CheckpointDuringVerify: a checkpoint written while a verify
// runs (its events appended after the verify's snapshot) moves the keychain
// anchor past the snapshot's tree. Verify reads the anchors before its
// snapshot, so it is clean; reading them after, as it once did, reported a
// rollback that is not there.
func TestVerify_CheckpointDuringVerify(t *testing.T) {
	ctx := context.Background()
	l := newTamperLog(t)
	s := l.open(t)
	defer s.Close()
	next := 1000
	s.afterVerifySnapshot = func() {
		var evs []Event
		for range 5 {
			evs = append(evs, testEvent("acme", next))
			next++
		}
		if _, err := s.Append(ctx, evs); err != nil {
			t.Error(err)
		}
		if _, err := s.Checkpoint(ctx, "acme"); err != nil {
			t.Error(err)
		}
	}
	for _, org := range []string{"", "acme"} {
		var ps []Problem
		if _, err := s.Verify(ctx, VerifyOptions{Org: org}, func(p Problem) error { ps = append(ps, p); return nil }); err != nil || len(ps) != 0 {
			t.Fatalf("org %q: checkpoint during verify: %v\n%s", org, err, problemList(ps))
		}
	}
	s.afterVerifySnapshot = nil
	verifyClean(t, s, "acme")
}

func TestVerify_Tamper(t *testing.T) {
	ctx := context.Background()
	type tc struct {
		name   string
		tamper func(t *testing.T, l *tamperLog, txn *badger.Txn)
		check  func(t *testing.T, l *tamperLog, ps []Problem)
	}
	cases := []tc{
		{"bit in a public field", func(t *testing.T, l *tamperLog, txn *badger.Txn) {
			v := rawGet(t, txn, recordKey("acme", 7))
			i := bytes.Index(v, []byte(`"userId":"user-`)) + len(`"userId":"`)
			flip(t, txn, recordKey("acme", 7), i, 0) // 'u' → 't'
		}, func(t *testing.T, l *tamperLog, ps []Problem) {
			wantProblem(t, ps, "acme", 7, l.ids[6], ProblemLeafMismatch)
			wantProblem(t, ps, "acme", 8, l.ids[7], ProblemChainBroken)
		}},
		{"bit in a state ciphertext", func(t *testing.T, l *tamperLog, txn *badger.Txn) {
			v := rawGet(t, txn, recordKey("acme", 9))
			flip(t, txn, recordKey("acme", 9), len(v)-20, 3) // inside the sealed afterState
		}, func(t *testing.T, l *tamperLog, ps []Problem) {
			wantProblem(t, ps, "acme", 9, l.ids[8], ProblemStateDecryptFailed)
		}},
		{"bit in a stored leaf hash", func(t *testing.T, l *tamperLog, txn *badger.Txn) {
			v := rawGet(t, txn, recordKey("acme", 4))
			rv, _ := decodeRecordValue(v)
			i := bytes.Index(v, rv.leaf[:])
			flip(t, txn, recordKey("acme", 4), i+5, 7)
		}, func(t *testing.T, l *tamperLog, ps []Problem) {
			wantProblem(t, ps, "acme", 4, l.ids[3], ProblemLeafMismatch)
		}},
		{"bit in a tree node", func(t *testing.T, l *tamperLog, txn *badger.Txn) {
			// The tile of seqs 1–16 (tiles.go): the sixth hash, seq 6's leaf.
			flip(t, txn, nodeKey("acme", tlog.NodeID{Level: 4, Index: 0}), 5*32+3, 0)
		}, func(t *testing.T, l *tamperLog, ps []Problem) {
			wantProblem(t, ps, "acme", 6, l.ids[5], ProblemNodeMismatch)
		}},
		{"tree node stored at a level the log does not store", func(t *testing.T, l *tamperLog, txn *badger.Txn) {
			rawSet(t, txn, nodeKey("acme", tlog.NodeID{Level: 1, Index: 2}), make([]byte, 32))
		}, func(t *testing.T, l *tamperLog, ps []Problem) {
			wantProblem(t, ps, "acme", 5, "", ProblemNodeMismatch)
		}},
		{"bit in a checkpoint signature", func(t *testing.T, l *tamperLog, txn *badger.Txn) {
			v := rawGet(t, txn, checkpointKey("acme", 1))
			flip(t, txn, checkpointKey("acme", 1), len(v)-10, 1)
		}, func(t *testing.T, l *tamperLog, ps []Problem) {
			found := false
			for _, p := range ps {
				found = found || p.Org == "acme" && p.Checkpoint == 1 && p.Kind == ProblemBadSignature
			}
			if !found {
				t.Errorf("no bad_signature for checkpoint 1:\n%s", problemList(ps))
			}
		}},
		{"stored time of a checkpoint moved an hour", func(t *testing.T, l *tamperLog, txn *badger.Txn) {
			// The time is stored next to the note, unsigned; the note
			// signs it too.
			v := rawGet(t, txn, checkpointKey("acme", 1))
			at := binary.BigEndian.Uint64(v[1:9])
			binary.BigEndian.PutUint64(v[1:9], at+uint64(time.Hour))
			rawSet(t, txn, checkpointKey("acme", 1), v)
		}, func(t *testing.T, l *tamperLog, ps []Problem) {
			found := false
			for _, p := range ps {
				found = found || p.Org == "acme" && p.Checkpoint == 1 && p.Kind == ProblemCheckpointTime
			}
			if !found {
				t.Errorf("no checkpoint_time for checkpoint 1:\n%s", problemList(ps))
			}
		}},
		{"deleted record", func(t *testing.T, l *tamperLog, txn *badger.Txn) {
			if err := txn.Delete(recordKey("acme", 12)); err != nil {
				t.Fatal(err)
			}
		}, func(t *testing.T, l *tamperLog, ps []Problem) {
			wantProblem(t, ps, "acme", 12, "", ProblemSeqGap)
			wantProblem(t, ps, "acme", 12, l.ids[11], ProblemIndexDangling)
		}},
		{"two records swapped", func(t *testing.T, l *tamperLog, txn *badger.Txn) {
			a, b := rawGet(t, txn, recordKey("acme", 5)), rawGet(t, txn, recordKey("acme", 6))
			rawSet(t, txn, recordKey("acme", 5), b)
			rawSet(t, txn, recordKey("acme", 6), a)
		}, func(t *testing.T, l *tamperLog, ps []Problem) {
			wantProblem(t, ps, "acme", 5, l.ids[5], ProblemSeqMismatch)
			wantProblem(t, ps, "acme", 6, l.ids[4], ProblemSeqMismatch)
		}},
		{"record rewritten with a recomputed leaf hash but the old chain", func(t *testing.T, l *tamperLog, txn *badger.Txn) {
			v := rawGet(t, txn, recordKey("acme", 8))
			rv, _ := decodeRecordValue(v)
			pub := bytes.Replace(rv.public, []byte(`"status":"`), []byte(`"status":"x`), 1) // still canonical JCS
			rv.public = pub
			rv.leaf = leafHash(pub)
			rawSet(t, txn, recordKey("acme", 8), rv.encode())
		}, func(t *testing.T, l *tamperLog, ps []Problem) {
			wantProblem(t, ps, "acme", 8, l.ids[7], ProblemNodeMismatch)
			wantProblem(t, ps, "acme", 9, l.ids[8], ProblemChainBroken)
		}},
		{"record re-inserted at the end with a recomputed leaf hash but the old chain", func(t *testing.T, l *tamperLog, txn *badger.Txn) {
			// Seq 12 removed from the middle and appended again as seq 21,
			// its seq and leaf recomputed, its prevHash still seq 11's.
			rv, _ := decodeRecordValue(rawGet(t, txn, recordKey("acme", 12)))
			if err := txn.Delete(recordKey("acme", 12)); err != nil {
				t.Fatal(err)
			}
			rv.public = bytes.Replace(rv.public, []byte(`"seq":12,`), []byte(`"seq":21,`), 1)
			rv.leaf = leafHash(rv.public)
			rawSet(t, txn, recordKey("acme", 21), rv.encode())
		}, func(t *testing.T, l *tamperLog, ps []Problem) {
			wantProblem(t, ps, "acme", 12, "", ProblemSeqGap)
			wantProblem(t, ps, "acme", 21, l.ids[11], ProblemChainBroken)
			wantProblem(t, ps, "acme", 20, "", ProblemRangeMismatch) // head and tree end at 20
		}},
		{"record and its whole chain recomputed (a rewritten history)", func(t *testing.T, l *tamperLog, txn *badger.Txn) {
			prev := [32]byte{}
			for seq := uint64(1); seq <= 20; seq++ {
				rv, _ := decodeRecordValue(rawGet(t, txn, recordKey("acme", seq)))
				pub := rv.public
				if seq == 15 {
					pub = bytes.Replace(pub, []byte(`"riskLevel":"`), []byte(`"riskLevel":"z`), 1)
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
		}, func(t *testing.T, l *tamperLog, ps []Problem) {
			wantProblem(t, ps, "acme", 15, l.ids[14], ProblemNodeMismatch)
			found := false
			for _, p := range ps {
				found = found || p.Kind == ProblemCheckpointMismatch && p.Checkpoint == 2
			}
			if !found {
				t.Errorf("the signed checkpoint does not catch a rewritten history:\n%s", problemList(ps))
			}
		}},
		{"index entry pointing elsewhere", func(t *testing.T, l *tamperLog, txn *badger.Txn) {
			v := rawGet(t, txn, idKey("acme", l.ids[2]))
			binary.BigEndian.PutUint64(v, 4)
			rawSet(t, txn, idKey("acme", l.ids[2]), v)
		}, func(t *testing.T, l *tamperLog, ps []Problem) {
			wantProblem(t, ps, "acme", 4, l.ids[2], ProblemIndexDangling)
			wantProblem(t, ps, "acme", 3, l.ids[2], ProblemIndexMissing)
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			l := newTamperLog(t)
			rawTamper(t, l.dir, l.ks, func(txn *badger.Txn) { c.tamper(t, l, txn) })
			s := l.open(t)
			defer s.Close()
			c.check(t, l, verifyAll(t, s, VerifyOptions{}))
			// Keyless finds the same, except what needs the data keys.
			if c.name != "bit in a state ciphertext" {
				c.check(t, l, verifyAll(t, s, VerifyOptions{Keyless: true}))
			}
			// Org filter: the other organization is clean.
			if ps := verifyAll(t, s, VerifyOptions{Org: "other"}); len(ps) != 0 {
				t.Errorf("other organization:\n%s", problemList(ps))
			}
		})
	}
	_ = ctx
}

func copyDir(t *testing.T, from, to string) {
	t.Helper()
	if out, err := exec.Command("cp", "-a", from+"/.", to).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v: %s", err, out)
	}
}

func TestVerify_RollbackAndTruncation(t *testing.T) {
	ctx := context.Background()
	for _, mode := range []string{"rollback", "truncation"} {
		t.Run(mode, func(t *testing.T) {
			l := &tamperLog{dir: t.TempDir(), ks: newStoreKeystore(), clk: &manualClock{t: baseTime.Add(300 * 24 * time.Hour)}}
			old := t.TempDir()
			s := l.open(t)
			appendN(t, s, "acme", 0, 10)
			appendN(t, s, "other", 0, 3)
			s.Close() // checkpoints at 10 (acme), 3 (other)
			copyDir(t, l.dir, old)
			s = l.open(t)
			appendN(t, s, "acme", 10, 7)
			s.Close() // checkpoint at 17: the anchor

			switch mode {
			case "rollback":
				os.RemoveAll(l.dir)
				os.MkdirAll(l.dir, 0o700)
				copyDir(t, old, l.dir)
			case "truncation":
				// Drop seqs 11–17 and everything that names them, and make
				// head, tree and checkpoints agree: a careful attacker.
				rawTamper(t, l.dir, l.ks, func(txn *badger.Txn) {
					tr := tlog.NewTree()
					var last [32]byte
					for seq := uint64(1); seq <= 17; seq++ {
						rv, _ := decodeRecordValue(rawGet(t, txn, recordKey("acme", seq)))
						if seq <= 10 {
							tr.Append(rv.leaf)
							last = rv.leaf
							continue
						}
						txn.Delete(recordKey("acme", seq))
						txn.Delete(nodeKey("acme", tlog.NodeID{Level: 0, Index: seq - 1}))
					}
					for lvl := uint(1); lvl < 5; lvl++ {
						for idx := uint64(10 >> lvl); idx < 17>>lvl+1; idx++ {
							txn.Delete(nodeKey("acme", tlog.NodeID{Level: lvl, Index: idx}))
						}
					}
					b, _ := tr.MarshalBinary()
					rawSet(t, txn, compactKey("acme"), b)
					h, _ := decodeHead(rawGet(t, txn, headKey("acme")))
					h.seq, h.leaf = 10, last
					rawSet(t, txn, headKey("acme"), h.encode())
					txn.Delete(checkpointKey("acme", 2))
				})
			}

			s = l.open(t)
			alerts := s.IntegrityAlerts(ctx)
			if len(alerts) != 1 || alerts[0].Org != "acme" || alerts[0].Kind != AlertRollback || alerts[0].AnchorSize != 17 || alerts[0].DBSize != 10 {
				t.Fatalf("alerts %+v", alerts)
			}
			_, err := s.Append(ctx, []Event{testEvent("acme", 50)})
			var ae *IntegrityAlertError
			if !errors.Is(err, ErrIntegrityAlert) || !errors.As(err, &ae) || !strings.Contains(err.Error(), "recover --acknowledge") ||
				!strings.Contains(err.Error(), "17") || !strings.Contains(err.Error(), "10") {
				t.Fatalf("append during the alert: %v", err)
			}
			if _, err := s.Append(ctx, []Event{testEvent("other", 50)}); err != nil {
				t.Fatalf("another organization is not affected: %v", err)
			}
			if _, err := s.Checkpoint(ctx, "acme"); !errors.Is(err, ErrIntegrityAlert) {
				t.Fatalf("checkpoint during the alert: %v", err)
			}
			ps := verifyAll(t, s, VerifyOptions{Org: "acme"})
			wantProblem(t, ps, "acme", 11, "", ProblemRollback) // seqs 11–17 are gone
			// The alert survives a restart.
			s.Close()
			s = l.open(t)
			if len(s.IntegrityAlerts(ctx)) != 1 {
				t.Fatal("the alert did not survive a restart")
			}
			if _, err := s.Append(ctx, []Event{testEvent("acme", 51)}); !errors.Is(err, ErrIntegrityAlert) {
				t.Fatalf("append after a restart: %v", err)
			}
			r, err := s.AcknowledgeIntegrityAlert(ctx, "acme", "alice@example.com", "restored from backup on purpose")
			if err != nil {
				t.Fatal(err)
			}
			e, err := s.Get(ctx, "acme", r.ID)
			if err != nil || e.ActionType != "audit.integrity_alert_acknowledged" || e.Seq != 11 {
				t.Fatalf("acknowledgement event %+v %v", e, err)
			}
			var meta map[string]any
			json.Unmarshal(e.Metadata, &meta)
			if meta["kind"] != "rollback" || meta["anchorSize"] != float64(17) || meta["dbSize"] != float64(10) || meta["note"] == nil {
				t.Fatalf("evidence %v", meta)
			}
			if _, err := s.Append(ctx, []Event{testEvent("acme", 52)}); err != nil {
				t.Fatalf("append after acknowledgement: %v", err)
			}
			s.Close()
			s = l.open(t)
			defer s.Close()
			if a := s.IntegrityAlerts(ctx); len(a) != 0 {
				t.Fatalf("alerts after acknowledgement and reopen: %+v", a)
			}
			if mode == "rollback" {
				if ps := verifyAll(t, s, VerifyOptions{}); len(ps) != 0 {
					t.Fatalf("an acknowledged rollback verifies clean:\n%s", problemList(ps))
				}
			}
		})
	}
}

// Two records missing in a row: their leaves are in the stored tile, so
// the tree stays aligned and nothing but the gap is reported.
func TestVerify_TwoRecordsMissing(t *testing.T) {
	l := newTamperLog(t)
	rawTamper(t, l.dir, l.ks, func(txn *badger.Txn) {
		for _, seq := range []uint64{11, 12} {
			if err := txn.Delete(recordKey("acme", seq)); err != nil {
				t.Fatal(err)
			}
		}
	})
	s := l.open(t)
	defer s.Close()
	ps := verifyAll(t, s, VerifyOptions{Org: "acme"})
	wantProblem(t, ps, "acme", 11, "", ProblemSeqGap)
	wantProblem(t, ps, "acme", 12, "", ProblemSeqGap)
	for _, p := range ps {
		switch p.Kind {
		case ProblemNodeMismatch, ProblemCheckpointMismatch, ProblemRangeMismatch, ProblemInconsistentCheckpoints:
			t.Errorf("the tree and checkpoints are intact, yet: %v", p)
		}
	}
}

// Records rewritten in two leaf tiles under one level-8 tile: each is
// named once, at its seq, and not again through the parent tile.
func TestVerify_TwoBadTilesOneParent(t *testing.T) {
	dir, ks := t.TempDir(), newStoreKeystore()
	clk := &manualClock{t: baseTime.Add(300 * 24 * time.Hour)}
	s := openIntegrityTest(t, dir, ks, clk, Options{})
	rs := appendN(t, s, "acme", 0, 300)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	rawTamper(t, dir, ks, func(txn *badger.Txn) {
		for _, seq := range []uint64{3, 20} {
			rv, _ := decodeRecordValue(rawGet(t, txn, recordKey("acme", seq)))
			rv.public = bytes.Replace(rv.public, []byte(`"status":"`), []byte(`"status":"x`), 1)
			rv.leaf = leafHash(rv.public)
			rawSet(t, txn, recordKey("acme", seq), rv.encode())
		}
	})
	s = openIntegrityTest(t, dir, ks, clk, Options{})
	defer s.Close()
	ps := verifyAll(t, s, VerifyOptions{Org: "acme"})
	wantProblem(t, ps, "acme", 3, rs[2].ID, ProblemNodeMismatch)
	wantProblem(t, ps, "acme", 20, rs[19].ID, ProblemNodeMismatch)
	n := 0
	for _, p := range ps {
		if p.Kind == ProblemNodeMismatch {
			n++
		}
	}
	if n != 2 {
		t.Errorf("%d node mismatches, want 2:\n%s", n, problemList(ps))
	}
}

// A damaged tile or an undecodable record under the tree is a damaged
// organization on open (an acknowledgement could not make the tree grow
// again), not a store that will not open.
func TestIntegrity_DamagedTreeOnOpenIsAnAlert(t *testing.T) {
	for _, c := range []struct {
		name   string
		tamper func(t *testing.T, txn *badger.Txn)
	}{
		{"a tile of the wrong size", func(t *testing.T, txn *badger.Txn) {
			rawSet(t, txn, nodeKey("acme", tlog.NodeID{Level: 4, Index: 0}), make([]byte, 100))
		}},
		{"an undecodable record in the incomplete tile", func(t *testing.T, txn *badger.Txn) {
			rawSet(t, txn, recordKey("acme", 18), []byte{0x01, 0xff})
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			l := newTamperLog(t)
			rawTamper(t, l.dir, l.ks, func(txn *badger.Txn) { c.tamper(t, txn) })
			s := l.open(t)
			defer s.Close()
			a := s.IntegrityAlerts(context.Background())
			if len(a) != 1 || a[0].Org != "acme" || a[0].Kind != AlertDamaged {
				t.Fatalf("alerts %+v", a)
			}
			if _, err := s.Append(context.Background(), []Event{testEvent("acme", 99)}); !errors.Is(err, ErrIntegrityAlert) {
				t.Fatalf("append: %v, want ErrIntegrityAlert", err)
			}
		})
	}
}
