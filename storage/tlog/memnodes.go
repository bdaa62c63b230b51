package tlog

import (
	"context"
	"fmt"
)

// MemNodes is an in-memory NodeReader: one dense slice of hashes per level.
// Tests, examples and an offline verifier that rebuilds a tree from an export
// use it; memory is about 64 bytes per leaf.
//
// A MemNodes is not safe for concurrent use.
type MemNodes struct {
	levels [][]Hash
}

// NewMemNodes returns an empty node store.
func NewMemNodes() *MemNodes { return &MemNodes{} }

// Put stores nodes. Within each level, indexes must be stored in order with
// no gap, as Tree.Append produces them; an index already stored is
// overwritten.
func (m *MemNodes) Put(nodes ...Node) error {
	for _, n := range nodes {
		for uint(len(m.levels)) <= n.ID.Level {
			m.levels = append(m.levels, nil)
		}
		lvl := m.levels[n.ID.Level]
		switch {
		case n.ID.Index < uint64(len(lvl)):
			lvl[n.ID.Index] = n.Hash
		case n.ID.Index == uint64(len(lvl)):
			m.levels[n.ID.Level] = append(lvl, n.Hash)
		default:
			return fmt.Errorf("node (level %d, index %d) stored before index %d of its level",
				n.ID.Level, n.ID.Index, len(lvl))
		}
	}
	return nil
}

// GetNodes implements NodeReader.
func (m *MemNodes) GetNodes(ctx context.Context, ids []NodeID) ([][]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	out := make([][]byte, len(ids))
	for i, id := range ids {
		if id.Level >= uint(len(m.levels)) || id.Index >= uint64(len(m.levels[id.Level])) {
			return nil, fmt.Errorf("%w: level %d, index %d", ErrNodeNotFound, id.Level, id.Index)
		}
		out[i] = m.levels[id.Level][id.Index][:]
	}
	return out, nil
}
