package tlog

import (
	"context"
	"errors"
	"fmt"
	"math/bits"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
)

// NodeReader reads stored perfect subtree nodes, the ones Tree.Append
// returned. It is the only storage this package needs to build proofs.
//
// GetNodes MUST return a new slice with one 32-byte hash per id, in the order
// of ids, or an error wrapping ErrNodeNotFound if any node is not stored.
// Callers do not modify the returned byte slices.
type NodeReader interface {
	GetNodes(ctx context.Context, ids []NodeID) ([][]byte, error)
}

// maxProofLen bounds proofs: a tree of at most 2^64 leaves has height 64.
const maxProofLen = 64

// getNodes fetches ids and checks that the reader kept its contract.
func getNodes(ctx context.Context, r NodeReader, ids []NodeID) ([][]byte, error) {
	if len(ids) == 0 {
		return [][]byte{}, nil
	}
	hashes, err := r.GetNodes(ctx, ids)
	if err != nil {
		return nil, fmt.Errorf("failed to read %d tree nodes: %w", len(ids), err)
	}
	if len(hashes) != len(ids) {
		return nil, fmt.Errorf("node reader returned %d hashes for %d nodes: %w", len(hashes), len(ids), ErrInvalidProof)
	}
	for i, h := range hashes {
		if len(h) != HashSize {
			return nil, fmt.Errorf("stored tree node (level %d, index %d) is %d bytes, want %d: %w",
				ids[i].Level, ids[i].Index, len(h), HashSize, ErrInvalidProof)
		}
	}
	return hashes, nil
}

// InclusionProof returns the RFC 6962 inclusion proof (audit path) of the
// leaf at index in the tree of the given size, from stored nodes. It reads at
// most ⌈log2 size⌉ + ⌊log2 size⌋ nodes in one GetNodes call: the siblings on
// the leaf's path, and, where the path meets the tree's imperfect right
// border, the perfect subtrees whose hashes are folded into the ephemeral
// node that a proof against an older size needs. size may be any size up to
// the number of leaves stored.
func InclusionProof(ctx context.Context, r NodeReader, index, size uint64) ([][]byte, error) {
	nodes, err := proof.Inclusion(index, size)
	if err != nil {
		return nil, fmt.Errorf("cannot prove inclusion of leaf %d in a tree of size %d: %w", index, size, err)
	}
	return rehash(ctx, r, nodes)
}

// ConsistencyProof returns the RFC 6962 consistency proof between the trees of
// size1 and size2 (size1 ≤ size2), from stored nodes. It is empty when size1
// is 0 or equal to size2.
func ConsistencyProof(ctx context.Context, r NodeReader, size1, size2 uint64) ([][]byte, error) {
	nodes, err := proof.Consistency(size1, size2)
	if err != nil {
		return nil, fmt.Errorf("cannot prove consistency of tree size %d with %d: %w", size1, size2, err)
	}
	return rehash(ctx, r, nodes)
}

func rehash(ctx context.Context, r NodeReader, nodes proof.Nodes) ([][]byte, error) {
	hashes, err := getNodes(ctx, r, nodes.IDs)
	if err != nil {
		return nil, err
	}
	// Rehash replaces the nodes of the ephemeral subtree by their root; it
	// writes into the outer slice only, which getNodes made sure is ours.
	p, err := nodes.Rehash(hashes, hashChildren)
	if err != nil {
		return nil, fmt.Errorf("failed to build the proof: %w", err)
	}
	return p, nil
}

// RootAt returns the root hash of the tree at an earlier (or the current)
// size, folding the ≤ ⌈log2 size⌉ stored perfect subtrees that cover
// [0, size) from right to left. It is how an old checkpoint is checked against
// the stored tree.
func RootAt(ctx context.Context, r NodeReader, size uint64) (Hash, error) {
	if size == 0 {
		return EmptyRoot(), nil
	}
	ids := compact.RangeNodes(0, size, nil)
	hashes, err := getNodes(ctx, r, ids)
	if err != nil {
		return Hash{}, fmt.Errorf("failed to compute the root at size %d: %w", size, err)
	}
	root := hashes[len(hashes)-1]
	for i := len(hashes) - 2; i >= 0; i-- {
		root = hashChildren(hashes[i], root)
	}
	return Hash(root), nil
}

// ProofSize returns the number of hashes in the inclusion proof of the leaf
// at index in a tree of size; it is at most ⌈log2 size⌉.
func ProofSize(index, size uint64) int {
	if index >= size {
		return 0
	}
	inner := bits.Len64(index ^ (size - 1))
	return inner + bits.OnesCount64(index>>uint(inner))
}

func checkProofShape(p [][]byte) error {
	if len(p) > maxProofLen {
		return fmt.Errorf("proof has %d hashes, more than a tree can have", len(p))
	}
	for i, h := range p {
		if len(h) != HashSize {
			return fmt.Errorf("proof hash %d is %d bytes, want %d", i, len(h), HashSize)
		}
	}
	return nil
}

// VerifyInclusion checks that leafHash is the leaf at index in the tree of
// the given size and root. It fails with an error wrapping ErrInvalidProof.
func VerifyInclusion(leafHash Hash, index, size uint64, p [][]byte, root Hash) error {
	if err := checkProofShape(p); err != nil {
		return fmt.Errorf("%w: inclusion of leaf %d in tree size %d: %v", ErrInvalidProof, index, size, err)
	}
	if err := proof.VerifyInclusion(rfc6962.DefaultHasher, index, size, leafHash[:], p, root[:]); err != nil {
		return fmt.Errorf("%w: inclusion of leaf %d in tree size %d: %s", ErrInvalidProof, index, size, describe(err))
	}
	return nil
}

// VerifyConsistency checks that the tree of size2 and root2 extends the tree
// of size1 and root1. Unlike the bare RFC 6962 algorithm it also requires
// root1 to be EmptyRoot when size1 is 0, so a claimed empty tree is real. It
// fails with an error wrapping ErrInvalidProof.
func VerifyConsistency(size1, size2 uint64, p [][]byte, root1, root2 Hash) error {
	if err := checkProofShape(p); err != nil {
		return fmt.Errorf("%w: consistency of tree size %d with %d: %v", ErrInvalidProof, size1, size2, err)
	}
	if size1 == 0 && root1 != EmptyRoot() {
		return fmt.Errorf("%w: the root of tree size 0 must be the empty root", ErrInvalidProof)
	}
	if size2 == 0 && root2 != EmptyRoot() {
		return fmt.Errorf("%w: the root of tree size 0 must be the empty root", ErrInvalidProof)
	}
	if err := proof.VerifyConsistency(rfc6962.DefaultHasher, size1, size2, p, root1[:], root2[:]); err != nil {
		return fmt.Errorf("%w: consistency of tree size %d with %d: %s", ErrInvalidProof, size1, size2, describe(err))
	}
	return nil
}

// describe shortens the merkle package's root mismatch message, which prints
// raw byte slices.
func describe(err error) string {
	var m proof.RootMismatchError
	if errors.As(err, &m) {
		return fmt.Sprintf("calculated root %x does not match expected root %x", m.CalculatedRoot, m.ExpectedRoot)
	}
	return err.Error()
}
