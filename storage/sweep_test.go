package storage

import (
	"bytes"
	"context"
	"testing"
	"time"

	badger "github.com/dgraph-io/badger/v4"

	"github.com/axiomops/axiom-audit/storage/tlog"
)

// TestVerify_BitFlipSweep flips, in the style of systemd's journal tests,
// every bit of the first 8 stored record values and of every tree tile of a
// small log (two organizations of 16 events with both states), one at a time, and checks
// that Verify reports each flip at the right organization and seq (no
// false negatives), and that the untouched log verifies clean before and
// after (no false positives).
//
// The store is opened once. Each flip is written in a read-write
// transaction that Verify's checks then read (verifyTxn, which is Verify
// over a given transaction) and that is discarded afterwards: flipping and
// restoring a bit costs no commit and leaves no versions behind, so the
// whole sweep runs in seconds.
//
// Without -race every bit is flipped (about 125,000 flips, under a minute
// on 2 cores). Under -race, which slows Verify several times over, a
// deterministic sample of about 3,800: every bit of each value's first 4
// bytes (version, lengths) and one bit of every 7th byte, rotating through
// the bit positions so that each position is flipped in every value.
func TestVerify_BitFlipSweep(t *testing.T) {
	ctx := context.Background()
	clk := &manualClock{t: baseTime.Add(300 * 24 * time.Hour)}
	s := openIntegrityTest(t, t.TempDir(), newStoreKeystore(), clk, Options{})
	defer s.Close()
	orgs := []string{"acme", "other"}
	for _, org := range orgs {
		appendN(t, s, org, 0, 16)
		if _, err := s.Checkpoint(ctx, org); err != nil {
			t.Fatal(err)
		}
	}

	type target struct {
		org  string
		seq  uint64 // the seq verify must name
		key  []byte
		val  []byte
		what string
		tile tlog.NodeID // for a tile, its key
	}
	var targets []target
	err := s.db.View(func(txn *badger.Txn) error {
		for _, org := range orgs {
			for seq := uint64(1); seq <= 8; seq++ {
				item, err := txn.Get(recordKey(org, seq))
				if err != nil {
					return err
				}
				v, _ := item.ValueCopy(nil)
				targets = append(targets, target{org, seq, recordKey(org, seq), v, "record", tlog.NodeID{}})
			}
			// Every stored tile (tiles.go): the 16 events give one, their
			// leaf hashes.
			p := orgPrefix(tagTreeNode, org)
			it := txn.NewIterator(badger.IteratorOptions{Prefix: p})
			nodes := 0
			for it.Rewind(); it.Valid(); it.Next() {
				id, err := tlog.ParseNodeKey(it.Item().KeyCopy(nil)[len(p):])
				if err != nil {
					it.Close()
					return err
				}
				v, _ := it.Item().ValueCopy(nil)
				targets = append(targets, target{org, nodeSeq(id), nodeKey(org, id), v, "tree tile", id})
				nodes++
			}
			it.Close()
			if nodes != 1 {
				t.Fatalf("%s: %d stored tree nodes, want 1", org, nodes)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	// verify runs Verify's checks on org with key set to val (nil: the log
	// as stored) in a transaction that is then discarded.
	verify := func(org string, key, val []byte) []Problem {
		t.Helper()
		txn := s.db.NewTransaction(true)
		defer txn.Discard()
		if key != nil {
			if err := txn.Set(key, val); err != nil {
				t.Fatal(err)
			}
		}
		var ps []Problem
		if _, err := s.verifyTxn(ctx, txn, VerifyOptions{Org: org}, func(p Problem) error { ps = append(ps, p); return nil }); err != nil {
			t.Fatalf("Verify: %v", err)
		}
		return ps
	}
	for _, org := range orgs {
		if ps := verify(org, nil, nil); len(ps) != 0 {
			t.Fatalf("the untouched log does not verify clean:\n%s", problemList(ps))
		}
	}

	flips, bits := 0, 0
	for ti, tg := range targets {
		bits += 8 * len(tg.val)
		for i := range tg.val {
			for bit := range uint(8) {
				// Under -race: every bit of the first 4 bytes (version,
				// lengths), and one bit of every 7th byte, rotating
				// through the bit positions.
				if raceEnabled && i >= 4 && ((i+ti)%7 != 0 || uint(i/7+ti)%8 != bit) {
					continue
				}
				flips++
				v := bytes.Clone(tg.val)
				v[i] ^= 1 << bit
				ps := verify(tg.org, tg.key, v)
				seq := tg.seq
				if tg.what == "tree tile" { // the node whose hash the byte is in
					seq = nodeSeq(tlog.NodeID{Level: tg.tile.Level - tileHeight, Index: tg.tile.Index*tileWidth + uint64(i/tlog.HashSize)})
				}
				found := false
				for _, p := range ps {
					if p.Org != tg.org {
						t.Fatalf("%s %s seq %d byte %d bit %d: problem outside the organization: %v", tg.org, tg.what, tg.seq, i, bit, p)
					}
					found = found || p.Seq == seq
				}
				if !found {
					t.Fatalf("%s %s seq %d byte %d bit %d: not detected at seq %d:\n%s", tg.org, tg.what, tg.seq, i, bit, seq, problemList(ps))
				}
			}
		}
	}
	for _, org := range orgs {
		if ps := verify(org, nil, nil); len(ps) != 0 {
			t.Fatalf("the log does not verify clean after the sweep:\n%s", problemList(ps))
		}
		// Verify itself, in its own transaction, agrees.
		if ps := verifyAll(t, s, VerifyOptions{Org: org}); len(ps) != 0 {
			t.Fatalf("the log does not verify clean after the sweep:\n%s", problemList(ps))
		}
	}
	t.Logf("%d of %d bits flipped in %d values, each detected", flips, bits, len(targets))
}
