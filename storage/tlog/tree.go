package tlog

import (
	"encoding/binary"
	"fmt"

	"github.com/transparency-dev/merkle/compact"
)

// NodeID addresses a node of the tree: Level 0 holds the leaves, and node
// (L, i) covers leaves [i·2^L, (i+1)·2^L). It is the compact package's type,
// so IDs from proof.Nodes need no conversion.
type NodeID = compact.NodeID

// Node is a perfect subtree node and its hash, as persisted by the store.
type Node struct {
	ID   NodeID
	Hash Hash
}

// NodeKeySize is the length of a key produced by AppendNodeKey.
const NodeKeySize = 9

// AppendNodeKey appends the 9-byte key of a node to dst: the level as one
// byte, then the index as 8 bytes big-endian. Keys of one level sort by index,
// so a store may range-scan a level in order.
func AppendNodeKey(dst []byte, id NodeID) []byte {
	dst = append(dst, byte(id.Level))
	return binary.BigEndian.AppendUint64(dst, id.Index)
}

// ParseNodeKey decodes a key written by AppendNodeKey.
func ParseNodeKey(key []byte) (NodeID, error) {
	if len(key) != NodeKeySize || key[0] > 63 {
		return NodeID{}, fmt.Errorf("node key %x is not a level byte and an 8-byte index", key)
	}
	return compact.NewNodeID(uint(key[0]), binary.BigEndian.Uint64(key[1:])), nil
}

// Tree is the append side of the log's Merkle tree. It holds only the compact
// range of the tree: the hashes of the at most ⌈log2 n⌉ perfect subtrees along
// its right border, so memory and the cost of an append are O(log n). Every
// node that becomes complete is handed to the caller to persist; proofs are
// then built from those stored nodes (see InclusionProof).
//
// The zero value is an empty tree. A Tree is not safe for concurrent use.
type Tree struct {
	f *compact.RangeFactory
	r *compact.Range
}

// NewTree returns an empty tree.
func NewTree() *Tree {
	t := &Tree{}
	t.init()
	return t
}

// init makes the zero value usable.
func (t *Tree) init() {
	if t.r == nil {
		t.f = &compact.RangeFactory{Hash: hashChildren}
		t.r = t.f.NewEmptyRange(0)
	}
}

// Append adds a leaf hash at index Size() and returns the nodes that became
// complete: the leaf itself (level 0) first, then each new parent, lowest
// level first. A store persists them in the same batch as the record, so
// that the stored nodes always match the stored records.
func (t *Tree) Append(leafHash Hash) []Node {
	t.init()
	nodes := make([]Node, 0, 2)
	err := t.r.Append(leafHash[:], func(id NodeID, h []byte) {
		nodes = append(nodes, Node{ID: id, Hash: Hash(h)})
	})
	if err != nil {
		// Append fails only when the range is corrupt, which Restore and
		// NewTree make impossible.
		panic(fmt.Sprintf("tlog: compact range corrupt: %v", err))
	}
	return nodes
}

// Size returns the number of leaves.
func (t *Tree) Size() uint64 {
	t.init()
	return t.r.End()
}

// Root returns the RFC 6962 root hash of the tree; EmptyRoot when empty.
func (t *Tree) Root() Hash {
	t.init()
	root, err := t.r.GetRootHash(nil)
	if err != nil || root == nil {
		return EmptyRoot()
	}
	return Hash(root)
}

// RangeState returns the tree size and the compact range: the roots of the
// perfect subtrees covering [0, size), largest (leftmost) first. Their number
// is the number of one bits in size. Persisting them lets Restore resume the
// tree without reading any leaf.
func (t *Tree) RangeState() (size uint64, hashes []Hash) {
	t.init()
	raw := t.r.Hashes()
	hashes = make([]Hash, len(raw))
	for i, h := range raw {
		hashes[i] = Hash(h)
	}
	return t.r.End(), hashes
}

// Restore replaces the tree's state with a compact range saved by RangeState.
// It fails with ErrInvalidRange when the number of hashes does not match size.
// The hashes are not checked against the stored nodes; compare Root with the
// latest signed checkpoint, or RootAt, to do so.
func (t *Tree) Restore(size uint64, hashes []Hash) error {
	t.init()
	raw := make([][]byte, len(hashes))
	for i := range hashes {
		h := hashes[i]
		raw[i] = h[:]
	}
	r, err := t.f.NewRange(0, size, raw)
	if err != nil {
		return fmt.Errorf("failed to restore the tree at size %d: %w: %v", size, ErrInvalidRange, err)
	}
	t.r = r
	return nil
}

// MarshalBinary encodes the compact range as the 8-byte big-endian size
// followed by the hashes of RangeState.
func (t *Tree) MarshalBinary() ([]byte, error) {
	size, hashes := t.RangeState()
	out := make([]byte, 0, 8+len(hashes)*HashSize)
	out = binary.BigEndian.AppendUint64(out, size)
	for _, h := range hashes {
		out = append(out, h[:]...)
	}
	return out, nil
}

// UnmarshalBinary restores a tree encoded by MarshalBinary.
func (t *Tree) UnmarshalBinary(data []byte) error {
	if len(data) < 8 || (len(data)-8)%HashSize != 0 {
		return fmt.Errorf("failed to decode the tree: %w: %d bytes", ErrInvalidRange, len(data))
	}
	size := binary.BigEndian.Uint64(data)
	hashes := make([]Hash, (len(data)-8)/HashSize)
	for i := range hashes {
		copy(hashes[i][:], data[8+i*HashSize:])
	}
	return t.Restore(size, hashes)
}
