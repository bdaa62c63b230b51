package export

import (
	"context"
	"encoding/hex"

	"github.com/axiomops/axiom-audit/storage"
	"github.com/axiomops/axiom-audit/storage/tlog"
)

// Scanner is implemented by sources that can stream every event of a
// filter in log order without paging (storage.Store.ScanRecords): the
// fast path of an export.
type Scanner interface {
	ScanRecords(ctx context.Context, f storage.Filter, maxSeq uint64, decryptStates bool, fn func(*storage.StoredEvent) error) error
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
// contiguous run are computed from the leaf hashes; others come from the
// store once and are kept (a node of level L serves 2^L neighbouring
// leaves).
type batchProver struct {
	store      tlog.NodeReader
	size       uint64
	leaves     map[uint64]tlog.Hash // level 0, this batch
	run0, run1 uint64               // contiguous leaves [run0, run1) of the batch
	memo       map[tlog.NodeID]tlog.Hash
	kept       map[tlog.NodeID]tlog.Hash
}

func newBatchProver(store tlog.NodeReader, size uint64) *batchProver {
	return &batchProver{store: store, size: size, leaves: map[uint64]tlog.Hash{},
		memo: map[tlog.NodeID]tlog.Hash{}, kept: map[tlog.NodeID]tlog.Hash{}}
}

// setBatch makes the leaves of events known.
func (p *batchProver) setBatch(events []storage.StoredEvent) {
	clear(p.leaves)
	clear(p.memo)
	if len(p.kept) > 1<<14 {
		clear(p.kept)
	}
	p.run0, p.run1 = 0, 0
	if len(events) == 0 {
		return
	}
	lo, hi := events[0].Seq, events[0].Seq
	for i := range events {
		e := &events[i]
		var h tlog.Hash
		if b, err := hex.DecodeString(e.LeafHash); err == nil && len(b) == len(h) {
			copy(h[:], b)
			p.leaves[e.Seq-1] = h
		}
		lo, hi = min(lo, e.Seq), max(hi, e.Seq)
	}
	if hi-lo+1 == uint64(len(p.leaves)) && len(p.leaves) == len(events) {
		p.run0, p.run1 = lo-1, hi
	}
}

// compute returns node id when all its leaves are in the run.
func (p *batchProver) compute(id tlog.NodeID) (tlog.Hash, bool) {
	first := id.Index << id.Level
	last := first + 1<<id.Level
	if id.Level == 0 {
		h, ok := p.leaves[id.Index]
		return h, ok
	}
	if first < p.run0 || last > p.run1 || last < first {
		return tlog.Hash{}, false
	}
	if h, ok := p.memo[id]; ok {
		return h, true
	}
	l, ok1 := p.compute(tlog.NodeID{Level: id.Level - 1, Index: id.Index * 2})
	r, ok2 := p.compute(tlog.NodeID{Level: id.Level - 1, Index: id.Index*2 + 1})
	if !ok1 || !ok2 {
		return tlog.Hash{}, false
	}
	h := tlog.NodeHash(l, r)
	p.memo[id] = h
	return h, true
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

// prove returns the inclusion proof of e.
func (p *batchProver) prove(ctx context.Context, e *storage.StoredEvent) (Proof, error) {
	hashes, err := tlog.InclusionProof(ctx, p, e.Seq-1, p.size)
	if err != nil {
		return Proof{}, err
	}
	return Proof{LeafIndex: e.Seq - 1, TreeSize: p.size, LeafHash: p.leaves[e.Seq-1], Hashes: hashes}, nil
}
