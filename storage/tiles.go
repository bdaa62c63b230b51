package storage

import (
	"errors"
	"fmt"
	"slices"

	badger "github.com/dgraph-io/badger/v4"

	"github.com/axiomops/axiom-audit/storage/tlog"
)

// # Tree tiles (tree stride 4)
//
// A database of stride 4 stores its Merkle tree as tiles of height 4, in
// the manner of C2SP tlog-tiles: the tile under key (level T, index j), T a
// positive multiple of 4, holds the 16 nodes of level T−4 with indices
// 16j … 16j+15, 32 bytes each, in index order (512 bytes). Node (T, j) is
// their Merkle root. A tile is stored in the transaction that completes
// node (T, j), and never rewritten. So the leaf hashes of seqs 16j+1 …
// 16j+16 are tile (4, j), the level-4 nodes are in the level-8 tiles, and
// so on: an append stores about one tile per 16 events. A node under a
// complete tile is one tile read and at most 7 hashes away (it folds at
// most 8 of the tile's 16); in the incomplete right edge of the tree it
// folds up to 8 leaf hashes read from the records, or the roots of up to 8
// tiles below (up to 127 hashes).

const (
	tileHeight = 4
	tileWidth  = 1 << tileHeight
	tileSize   = tileWidth * tlog.HashSize
)

// tileRows are the bottom-row nodes an organization's incomplete tiles have
// so far: rows[k] are the nodes of level 4k since the last multiple of 16.
type tileRows [][]tlog.Hash

func (r tileRows) clone() tileRows {
	c := make(tileRows, len(r))
	for i, row := range r {
		c[i] = slices.Clone(row)
	}
	return c
}

// add takes a node the tree completed and returns the tile it completes
// (its key's level and index, and value), if any. Nodes of a level come in
// index order.
func (r *tileRows) add(nd tlog.Node) (id tlog.NodeID, tile []byte, ok bool, err error) {
	if nd.ID.Level%tileHeight != 0 {
		return id, nil, false, nil
	}
	k := int(nd.ID.Level / tileHeight)
	for len(*r) <= k {
		*r = append(*r, nil)
	}
	row := (*r)[k]
	if uint64(len(row)) != nd.ID.Index%tileWidth {
		return id, nil, false, fmt.Errorf("tree node (level %d, index %d) does not follow the %d nodes of its tile: %w",
			nd.ID.Level, nd.ID.Index, len(row), ErrTampered)
	}
	row = append(row, nd.Hash)
	if len(row) < tileWidth {
		(*r)[k] = row
		return id, nil, false, nil
	}
	tile = make([]byte, 0, tileSize)
	for _, h := range row {
		tile = append(tile, h[:]...)
	}
	(*r)[k] = row[:0]
	return tlog.NodeID{Level: nd.ID.Level + tileHeight, Index: nd.ID.Index / tileWidth}, tile, true, nil
}

// loadTileRows reads the incomplete tiles' bottom rows of a tree of size n.
func loadTileRows(r badgerNodes, n uint64) (tileRows, error) {
	var rows tileRows
	for level := uint(0); n>>level > 0; level += tileHeight {
		count := n >> level
		var row []tlog.Hash
		for b := count &^ (tileWidth - 1); b < count; b++ {
			h, err := r.tileNode(tlog.NodeID{Level: level, Index: b})
			if err != nil {
				return nil, err
			}
			row = append(row, h)
		}
		rows = append(rows, row)
	}
	return rows, nil
}

// tileNode computes node id of a stride-4 database: from the tile that
// holds the nodes under it, or, when that tile is not complete, from the
// leaves or tiles below.
func (r badgerNodes) tileNode(id tlog.NodeID) (tlog.Hash, error) {
	bottom := id.Level - id.Level%tileHeight
	span := id.Level - bottom // the node folds 2^span bottom-row nodes
	first := id.Index << span
	tile, err := r.tile(tlog.NodeID{Level: bottom + tileHeight, Index: first / tileWidth})
	if err == nil {
		at := first % tileWidth
		return fold(tile[at : at+1<<span]), nil
	}
	if !errors.Is(err, badger.ErrKeyNotFound) {
		return tlog.Hash{}, err
	}
	hs := make([]tlog.Hash, 1<<span)
	for i := range hs {
		b := first + uint64(i)
		if bottom == 0 {
			l, err := r.leaf(b + 1)
			if errors.Is(err, badger.ErrKeyNotFound) {
				return tlog.Hash{}, fmt.Errorf("organization %q: node (level 0, index %d): no record: %w", r.org, b, tlog.ErrNodeNotFound)
			}
			if err != nil {
				return tlog.Hash{}, err
			}
			hs[i] = l
			continue
		}
		// Node (bottom, b) is complete, so its own tile is stored.
		below, err := r.tile(tlog.NodeID{Level: bottom, Index: b})
		if errors.Is(err, badger.ErrKeyNotFound) {
			return tlog.Hash{}, fmt.Errorf("organization %q: node (level %d, index %d): %w", r.org, bottom, b, tlog.ErrNodeNotFound)
		}
		if err != nil {
			return tlog.Hash{}, err
		}
		hs[i] = fold(below)
	}
	return fold(hs), nil
}

// tile reads the tile under key id; badger.ErrKeyNotFound when none.
func (r badgerNodes) tile(id tlog.NodeID) ([]tlog.Hash, error) {
	var hs []tlog.Hash
	key := tlog.AppendNodeKey(orgPrefix(tagTreeNode, r.org), id)
	err := r.value(key, func(v []byte) error {
		var err error
		hs, err = decodeTile(v)
		return err
	})
	if err != nil && !errors.Is(err, badger.ErrKeyNotFound) {
		return nil, fmt.Errorf("failed to read tree tile (level %d, index %d) of organization %q: %w", id.Level, id.Index, r.org, err)
	}
	return hs, err
}

func decodeTile(v []byte) ([]tlog.Hash, error) {
	if len(v) != tileSize {
		return nil, fmt.Errorf("a tile has %d bytes, not %d: %w", len(v), tileSize, ErrTampered)
	}
	hs := make([]tlog.Hash, tileWidth)
	for i := range hs {
		copy(hs[i][:], v[i*tlog.HashSize:])
	}
	return hs, nil
}

// fold is the Merkle root of a power-of-two run of nodes of one level.
func fold(hs []tlog.Hash) tlog.Hash {
	if len(hs) == 1 {
		return hs[0]
	}
	buf := slices.Clone(hs)
	for n := len(buf); n > 1; n /= 2 {
		for i := 0; i < n/2; i++ {
			buf[i] = tlog.NodeHash(buf[2*i], buf[2*i+1])
		}
	}
	return buf[0]
}
