package storage

import (
	"context"
	"errors"
	"fmt"

	badger "github.com/dgraph-io/badger/v4"

	"github.com/axiomops/axiom-audit/storage/tlog"
)

// InclusionProof proves that one event is leaf LeafIndex (its seq − 1) of
// its organization's tree of TreeSize leaves: with the root of a verified
// checkpoint of that size, tlog.VerifyInclusion(LeafHash, LeafIndex,
// TreeSize, Hashes, root) succeeds. Hashes has at most ⌈log2 TreeSize⌉
// entries of 32 bytes.
type InclusionProof struct {
	LeafIndex uint64    `json:"leafIndex"`
	TreeSize  uint64    `json:"treeSize"`
	LeafHash  tlog.Hash `json:"leafHash"`
	Hashes    [][]byte  `json:"hashes"`
}

// InclusionProof returns the inclusion proof of event id of org in the tree
// of treeSize leaves. treeSize 0 means the newest checkpoint's size; when
// the event is newer than the newest checkpoint, InclusionProof first writes
// a checkpoint (so the proof is always against a signed checkpoint, which
// LatestCheckpoint then returns). An explicit treeSize must cover the event
// and not exceed the current tree; it need not be a checkpoint's size.
// Proofs read O(log n) stored nodes.
func (s *Store) InclusionProof(ctx context.Context, org, id string, treeSize uint64) (InclusionProof, error) {
	if err := s.integrityReady(ctx); err != nil {
		return InclusionProof{}, err
	}
	if !validOrg(org) {
		return InclusionProof{}, fmt.Errorf("organization id %q is not valid: %w", org, ErrNotFound)
	}
	var seq uint64
	var leaf [32]byte
	err := s.view(ctx, func(txn *badger.Txn) error {
		item, err := txn.Get(idKey(org, id))
		if errors.Is(err, badger.ErrKeyNotFound) {
			return fmt.Errorf("event %q of organization %q: %w", id, org, ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("failed to read the id index: %w", err)
		}
		var ie idEntry
		if err := item.Value(func(v []byte) error { ie, err = decodeIDEntry(v); return err }); err != nil {
			return err
		}
		seq = ie.seq
		// The leaf hash is the tree's level-0 node (the stored node in a
		// stride-1 database, else the record's): what the tree and its
		// checkpoints commit to.
		h, err := s.nodes(txn, org).GetNodes(ctx, []tlog.NodeID{{Level: 0, Index: seq - 1}})
		if err != nil {
			return err
		}
		copy(leaf[:], h[0])
		return nil
	})
	if err != nil {
		return InclusionProof{}, err
	}
	if treeSize == 0 {
		last, err := s.LatestCheckpoint(ctx, org)
		if err != nil && !errors.Is(err, ErrNotFound) {
			return InclusionProof{}, err
		}
		if last.Checkpoint.Size < seq {
			if last, err = s.Checkpoint(ctx, org); err != nil {
				return InclusionProof{}, fmt.Errorf("event %q (seq %d) is newer than the newest checkpoint, and writing one failed: %w", id, seq, err)
			}
		}
		treeSize = last.Checkpoint.Size
	}
	if treeSize < seq {
		return InclusionProof{}, fmt.Errorf("event %q is seq %d, after tree size %d: %w", id, seq, treeSize, ErrNotFound)
	}
	p := InclusionProof{LeafIndex: seq - 1, TreeSize: treeSize, LeafHash: leaf}
	err = s.view(ctx, func(txn *badger.Txn) error {
		if err := s.checkSize(txn, org, treeSize); err != nil {
			return err
		}
		var err error
		p.Hashes, err = tlog.InclusionProof(ctx, s.nodes(txn, org), seq-1, treeSize)
		return err
	})
	if err != nil {
		return InclusionProof{}, fmt.Errorf("failed to prove event %q of organization %q: %w", id, org, err)
	}
	return p, nil
}

// checkSize fails unless size ≤ org's committed tree size.
func (s *Store) checkSize(txn *badger.Txn, org string, size uint64) error {
	t, _, err := readTree(txn, org)
	if err != nil {
		return err
	}
	if size > t.Size() {
		return fmt.Errorf("organization %q has %d events, fewer than tree size %d: %w", org, t.Size(), size, ErrNotFound)
	}
	return nil
}

// ConsistencyProof returns the RFC 6962 consistency proof that org's tree of
// size2 extends its tree of size1 (0 ≤ size1 ≤ size2 ≤ current size); check
// it with tlog.VerifyConsistency against the two checkpoints' roots.
func (s *Store) ConsistencyProof(ctx context.Context, org string, size1, size2 uint64) ([][]byte, error) {
	if err := s.integrityReady(ctx); err != nil {
		return nil, err
	}
	if !validOrg(org) {
		return nil, fmt.Errorf("organization id %q is not valid: %w", org, ErrNotFound)
	}
	if size1 > size2 {
		return nil, fmt.Errorf("cannot prove tree size %d consistent with the smaller %d: %w", size2, size1, ErrInvalidEvent)
	}
	var p [][]byte
	err := s.view(ctx, func(txn *badger.Txn) error {
		if err := s.checkSize(txn, org, size2); err != nil {
			return err
		}
		var err error
		p, err = tlog.ConsistencyProof(ctx, s.nodes(txn, org), size1, size2)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("failed to prove consistency of organization %q from size %d to %d: %w", org, size1, size2, err)
	}
	return p, nil
}
