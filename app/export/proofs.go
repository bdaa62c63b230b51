package export

import (
	"context"
	"encoding/hex"
	"fmt"

	"github.com/transparency-dev/merkle/proof"

	"github.com/axiomops/axiom-audit/storage"
	"github.com/axiomops/axiom-audit/storage/tlog"
)

// Scanner is implemented by sources that can stream every event of a
// filter in log order without paging (storage.Store.ScanRecords): the
// fast path of an export.
type Scanner interface {
	ScanRecords(ctx context.Context, f storage.Filter, maxSeq uint64, decryptStates bool, fn func(*storage.StoredEvent) error) error
}

// PrunedScanner is a Scanner that also reports the events of the filter
// that retention pruned (storage.Store.ScanRecordsAndPruned). An export
// from one says in pruned.json what retention took out of its filter's
// range (a version 4 bundle); from any other source it is a version 3
// bundle, which says nothing of it.
type PrunedScanner interface {
	ScanRecordsAndPruned(ctx context.Context, f storage.Filter, maxSeq uint64, decryptStates bool,
		fn func(*storage.StoredEvent) error, pruned func(*storage.PrunedEvent) error) error
}

// NodeSource is implemented by sources that expose their stored tree
// nodes (storage.Store.TreeNodes). An export then builds the inclusion
// proofs itself, computing the nodes under each batch of consecutive
// events from their leaf hashes and reading only the others, instead of
// asking for each proof separately.
type NodeSource interface {
	TreeNodes(org string) tlog.NodeReader
}

// batchProver builds inclusion proofs for one batch of events at a time.
// It is a tlog.NodeReader: nodes covering only leaves of the batch's
// contiguous run are computed from the leaf hashes, bottom-up, once per
// batch; others come from the store once and are kept (a node of level L
// serves 2^L neighbouring leaves).
type batchProver struct {
	store      tlog.NodeReader
	size       uint64
	leaves     map[uint64]tlog.Hash // level 0, this batch
	run0, run1 uint64               // contiguous leaves [run0, run1) of the batch
	// levels[L][x-bases[L]] is node (L, x) for the nodes within the run.
	levels [][]tlog.Hash
	bases  []uint64
	kept   map[tlog.NodeID]tlog.Hash
	// ephem holds the ephemeral nodes of proofs (the root of the tree's
	// imperfect right part, folded from stored nodes): the same few for
	// every leaf, so each is folded once per export.
	ephem map[tlog.NodeID]tlog.Hash
	// Buffers of prove, reused: a Proof's Hashes are valid until the next
	// call.
	hashes  []tlog.Hash
	out     [][]byte
	missing []tlog.NodeID
	at      []int
}

func newBatchProver(store tlog.NodeReader, size uint64) *batchProver {
	return &batchProver{store: store, size: size, leaves: map[uint64]tlog.Hash{},
		kept: map[tlog.NodeID]tlog.Hash{}, ephem: map[tlog.NodeID]tlog.Hash{}}
}

// setBatch makes the leaves of events known and, when they are a
// contiguous run, computes every node within it.
func (p *batchProver) setBatch(events []storage.StoredEvent) {
	clear(p.leaves)
	if len(p.kept) > 1<<14 {
		clear(p.kept)
	}
	p.run0, p.run1 = 0, 0
	for l := range p.levels {
		p.levels[l] = p.levels[l][:0]
	}
	if len(events) == 0 {
		return
	}
	lo, hi := events[0].Seq, events[0].Seq
	for i := range events {
		e := &events[i]
		var h tlog.Hash
		if len(e.LeafHash) == 2*len(h) {
			if _, err := hex.Decode(h[:], []byte(e.LeafHash)); err == nil {
				p.leaves[e.Seq-1] = h
			}
		}
		lo, hi = min(lo, e.Seq), max(hi, e.Seq)
	}
	if hi-lo+1 != uint64(len(p.leaves)) || len(p.leaves) != len(events) {
		return
	}
	p.run0, p.run1 = lo-1, hi
	if len(p.levels) == 0 {
		p.levels, p.bases = make([][]tlog.Hash, 1), make([]uint64, 1)
	}
	p.bases[0] = p.run0
	for x := p.run0; x < p.run1; x++ {
		p.levels[0] = append(p.levels[0], p.leaves[x])
	}
	for l := 1; ; l++ {
		base := (p.run0 + 1<<l - 1) >> l // the first node wholly in the run
		end := p.run1 >> l
		if end <= base {
			break
		}
		if l == len(p.levels) {
			p.levels, p.bases = append(p.levels, nil), append(p.bases, 0)
		}
		p.bases[l] = base
		below, bb := p.levels[l-1], p.bases[l-1]
		for x := base; x < end; x++ {
			p.levels[l] = append(p.levels[l], nodeHash(&below[2*x-bb], &below[2*x+1-bb]))
		}
	}
}

// compute returns node id when all its leaves are in the batch.
func (p *batchProver) compute(id tlog.NodeID) (tlog.Hash, bool) {
	if l := int(id.Level); l < len(p.levels) && id.Index >= p.bases[l] && id.Index-p.bases[l] < uint64(len(p.levels[l])) {
		return p.levels[l][id.Index-p.bases[l]], true
	}
	if id.Level == 0 {
		h, ok := p.leaves[id.Index]
		return h, ok
	}
	return tlog.Hash{}, false
}

// GetNodes implements tlog.NodeReader.
func (p *batchProver) GetNodes(ctx context.Context, ids []tlog.NodeID) ([][]byte, error) {
	out := make([][]byte, len(ids))
	var missing []tlog.NodeID
	var at []int
	for i, id := range ids {
		if h, ok := p.kept[id]; ok {
			out[i] = h[:]
			continue
		}
		if h, ok := p.compute(id); ok {
			out[i] = h[:]
			continue
		}
		missing = append(missing, id)
		at = append(at, i)
	}
	if len(missing) == 0 {
		return out, nil
	}
	got, err := p.store.GetNodes(ctx, missing)
	if err != nil {
		return nil, err
	}
	for k, id := range missing {
		var h tlog.Hash
		copy(h[:], got[k])
		p.kept[id] = h
		out[at[k]] = got[k]
	}
	return out, nil
}

// node returns a node that is computed from the batch or was read before.
func (p *batchProver) node(id tlog.NodeID) (tlog.Hash, bool) {
	if h, ok := p.kept[id]; ok {
		return h, true
	}
	return p.compute(id)
}

// prove returns the inclusion proof of e (as tlog.InclusionProof would).
// Its Hashes are valid until the next call.
func (p *batchProver) prove(ctx context.Context, e *storage.StoredEvent) (Proof, error) {
	index := e.Seq - 1
	nodes, err := proof.Inclusion(index, p.size)
	if err != nil {
		return Proof{}, fmt.Errorf("cannot prove inclusion of leaf %d in a tree of size %d: %w", index, p.size, err)
	}
	ids := nodes.IDs
	ephem, begin, end := nodes.Ephem()
	p.hashes, p.missing, p.at = p.hashes[:0], p.missing[:0], p.at[:0]
	for i := 0; i < len(ids); i++ {
		if i == begin && end-begin > 1 {
			h, ok := p.ephem[ephem]
			if !ok {
				hs, err := p.GetNodes(ctx, ids[begin:end])
				if err != nil {
					return Proof{}, err
				}
				// As proof.Nodes.Rehash folds them.
				copy(h[:], hs[0])
				for _, x := range hs[1:] {
					var l tlog.Hash
					copy(l[:], x)
					h = nodeHash(&l, &h)
				}
				p.ephem[ephem] = h
			}
			p.hashes = append(p.hashes, h)
			i = end - 1
			continue
		}
		h, ok := p.node(ids[i])
		if !ok {
			p.missing = append(p.missing, ids[i])
			p.at = append(p.at, len(p.hashes))
		}
		p.hashes = append(p.hashes, h)
	}
	if len(p.missing) > 0 {
		got, err := p.store.GetNodes(ctx, p.missing)
		if err != nil {
			return Proof{}, err
		}
		if len(got) != len(p.missing) {
			return Proof{}, fmt.Errorf("the store returned %d of %d tree nodes", len(got), len(p.missing))
		}
		for k, id := range p.missing {
			var h tlog.Hash
			if len(got[k]) != len(h) {
				return Proof{}, fmt.Errorf("tree node %v has %d bytes", id, len(got[k]))
			}
			copy(h[:], got[k])
			p.kept[id] = h
			p.hashes[p.at[k]] = h
		}
	}
	p.out = p.out[:0]
	for i := range p.hashes {
		p.out = append(p.out, p.hashes[i][:])
	}
	return Proof{LeafIndex: index, TreeSize: p.size, LeafHash: p.leaves[index], Hashes: p.out}, nil
}
