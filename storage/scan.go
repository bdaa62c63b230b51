package storage

import (
	"context"
	"encoding/binary"
	"fmt"

	badger "github.com/dgraph-io/badger/v4"

	"github.com/axiomops/axiom-audit/storage/tlog"
)

// ScanRecords calls fn with every event of f.Org matching f whose seq is at
// most maxSeq, in log order (seq ascending; descending when f.Order is
// NewestFirst), its states decrypted as List does when decryptStates is
// set (an export that withholds them leaves them sealed). It reads in one transaction,
// iterating the records themselves with value prefetch: the fast path of
// exports, which read everything a filter selects, not a page. Limit and
// Cursor are ignored. The event passed to fn is valid only during the
// call. Memory does not grow with the number of events.
func (s *Store) ScanRecords(ctx context.Context, f Filter, maxSeq uint64, decryptStates bool, fn func(*StoredEvent) error) error {
	c, err := compile(f)
	if err != nil {
		return err
	}
	return s.view(ctx, func(txn *badger.Txn) error {
		prefix := orgPrefix(tagRecord, f.Org)
		rev := f.Order == NewestFirst
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix, PrefetchValues: false, Reverse: rev})
		defer it.Close()
		var seek []byte
		if rev {
			seek = recordKey(f.Org, maxSeq)
		} else {
			seek = recordKey(f.Org, 0)
		}
		var n int
		for it.Seek(seek); it.Valid(); it.Next() {
			if n++; n%256 == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			k := it.Item().Key()
			if len(k) != len(prefix)+8 {
				return fmt.Errorf("record key of %d bytes under a %d-byte prefix: %w", len(k), len(prefix), ErrTampered)
			}
			seq := binary.BigEndian.Uint64(k[len(prefix):])
			if seq > maxSeq {
				if rev {
					continue
				}
				return nil
			}
			var e StoredEvent
			err := it.Item().Value(func(v []byte) error {
				var err error
				e, err = s.decodeStored(v, f.Org, seq, decryptStates)
				return err
			})
			if err != nil {
				return err
			}
			if !c.matchEvent(&e) {
				continue
			}
			if err := fn(&e); err != nil {
				return err
			}
		}
		return nil
	})
}

// TreeNodes returns a reader of org's stored Merkle tree nodes, so that a
// caller proving many events (an export) can build the proofs with
// tlog.InclusionProof and share nodes between them. Each GetNodes call
// reads in its own transaction.
func (s *Store) TreeNodes(org string) tlog.NodeReader { return treeNodes{s, org} }

type treeNodes struct {
	s   *Store
	org string
}

func (t treeNodes) GetNodes(ctx context.Context, ids []tlog.NodeID) ([][]byte, error) {
	var out [][]byte
	err := t.s.view(ctx, func(txn *badger.Txn) error {
		var err error
		out, err = badgerNodes{txn, t.org}.GetNodes(ctx, ids)
		return err
	})
	return out, err
}
