package tlog_test

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"math/bits"
	"math/rand/v2"
	"testing"

	"github.com/axiomops/axiom-audit/storage/tlog"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"github.com/transparency-dev/merkle/testonly"
)

// built is a tree appended leaf by leaf, its stored nodes, and the
// transparency-dev reference tree over the same leaves.
type built struct {
	tree  *tlog.Tree
	nodes *tlog.MemNodes
	ref   *testonly.Tree
}

func leafFor(i uint64) tlog.Hash {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], i)
	return tlog.LeafHash(b[:])
}

func build(t testing.TB, n uint64) built {
	t.Helper()
	b := built{tree: tlog.NewTree(), nodes: tlog.NewMemNodes(), ref: testonly.New(rfc6962.DefaultHasher)}
	for i := range n {
		h := leafFor(i)
		if err := b.nodes.Put(b.tree.Append(h)...); err != nil {
			t.Fatal(err)
		}
		b.ref.Append(h[:])
	}
	return b
}

func ceilLog2(n uint64) int {
	if n <= 1 {
		return 0
	}
	return bits.Len64(n - 1)
}

func TestTree_RFC6962Vectors(t *testing.T) {
	ctx := context.Background()
	tree, nodes := tlog.NewTree(), tlog.NewMemNodes()
	roots, compacts := testonly.RootHashes(), testonly.CompactTrees()
	if got := tree.Root(); !equalBytes(got[:], roots[0]) {
		t.Fatalf("empty root = %x, want %x", got, roots[0])
	}
	for i, in := range testonly.LeafInputs() {
		if err := nodes.Put(tree.Append(tlog.LeafHash(in))...); err != nil {
			t.Fatal(err)
		}
		size := uint64(i + 1)
		if got := tree.Root(); !equalBytes(got[:], roots[size]) {
			t.Errorf("root at size %d = %x, want %x", size, got, roots[size])
		}
		gotSize, hashes := tree.RangeState()
		if gotSize != size || len(hashes) != len(compacts[size]) {
			t.Fatalf("RangeState at size %d = %d, %d hashes; want %d hashes", size, gotSize, len(hashes), len(compacts[size]))
		}
		for j := range hashes {
			if !equalBytes(hashes[j][:], compacts[size][j]) {
				t.Errorf("compact range at size %d, hash %d = %x, want %x", size, j, hashes[j], compacts[size][j])
			}
		}
	}
	// Every perfect node stored matches the vectors.
	for level, row := range testonly.NodeHashes() {
		for index, want := range row {
			got, err := nodes.GetNodes(ctx, []tlog.NodeID{{Level: uint(level), Index: uint64(index)}})
			if err != nil || !equalBytes(got[0], want) {
				t.Errorf("node (%d, %d) = %x, %v; want %x", level, index, got, err, want)
			}
		}
	}
	for size, want := range roots {
		got, err := tlog.RootAt(ctx, nodes, uint64(size))
		if err != nil || !equalBytes(got[:], want) {
			t.Errorf("RootAt(%d) = %x, %v; want %x", size, got, err, want)
		}
	}
}

func TestTree_AppendReturnsCompletedNodes(t *testing.T) {
	tree := tlog.NewTree()
	for i := range uint64(64) {
		nodes := tree.Append(leafFor(i))
		// Leaf i completes one node per trailing one bit of i, plus the leaf.
		if want := 1 + bits.TrailingZeros64(^i); len(nodes) != want {
			t.Fatalf("Append(%d) returned %d nodes, want %d", i, len(nodes), want)
		}
		for level, n := range nodes {
			if n.ID.Level != uint(level) || n.ID.Index != i>>level {
				t.Fatalf("Append(%d) node %d = %+v", i, level, n.ID)
			}
		}
	}
}

// checkAll compares every proof of a tree of n leaves with the reference.
func checkAll(t *testing.T, b built, n uint64) {
	ctx := context.Background()
	for size := uint64(0); size <= n; size++ {
		root, err := tlog.RootAt(ctx, b.nodes, size)
		if err != nil || !equalBytes(root[:], b.ref.HashAt(size)) {
			t.Fatalf("RootAt(%d) = %x, %v; want %x", size, root, err, b.ref.HashAt(size))
		}
		for index := range size {
			p, err := tlog.InclusionProof(ctx, b.nodes, index, size)
			if err != nil {
				t.Fatalf("InclusionProof(%d, %d): %v", index, size, err)
			}
			checkInclusion(t, b, index, size, root, p)
		}
		for size1 := uint64(0); size1 <= size; size1++ {
			p, err := tlog.ConsistencyProof(ctx, b.nodes, size1, size)
			if err != nil {
				t.Fatalf("ConsistencyProof(%d, %d): %v", size1, size, err)
			}
			checkConsistency(t, b, size1, size, p)
		}
	}
}

func checkInclusion(t *testing.T, b built, index, size uint64, root tlog.Hash, p [][]byte) {
	t.Helper()
	want, _ := b.ref.InclusionProof(index, size)
	if !equalProofs(p, want) {
		t.Fatalf("InclusionProof(%d, %d) differs from the reference", index, size)
	}
	if len(p) > ceilLog2(size) || len(p) != tlog.ProofSize(index, size) {
		t.Fatalf("InclusionProof(%d, %d) has %d hashes (%d bytes), want ≤ ⌈log2 n⌉ = %d",
			index, size, len(p), len(p)*32, ceilLog2(size))
	}
	leaf := b.ref.LeafHash(index)
	if err := proof.VerifyInclusion(rfc6962.DefaultHasher, index, size, leaf, p, root[:]); err != nil {
		t.Fatalf("reference rejects inclusion (%d, %d): %v", index, size, err)
	}
	if err := tlog.VerifyInclusion(tlog.Hash(leaf), index, size, p, root); err != nil {
		t.Fatalf("VerifyInclusion(%d, %d): %v", index, size, err)
	}
	if err := tlog.VerifyInclusion(leafFor(index+1), index, size, p, root); !errors.Is(err, tlog.ErrInvalidProof) {
		t.Fatalf("VerifyInclusion of the wrong leaf = %v, want ErrInvalidProof", err)
	}
}

func checkConsistency(t *testing.T, b built, size1, size2 uint64, p [][]byte) {
	t.Helper()
	want, _ := b.ref.ConsistencyProof(size1, size2)
	if !equalProofs(p, want) {
		t.Fatalf("ConsistencyProof(%d, %d) differs from the reference", size1, size2)
	}
	if len(p) > ceilLog2(size2)+1 {
		t.Fatalf("ConsistencyProof(%d, %d) has %d hashes", size1, size2, len(p))
	}
	r1, r2 := b.ref.HashAt(size1), b.ref.HashAt(size2)
	if err := proof.VerifyConsistency(rfc6962.DefaultHasher, size1, size2, p, r1, r2); err != nil {
		t.Fatalf("reference rejects consistency (%d, %d): %v", size1, size2, err)
	}
	if err := tlog.VerifyConsistency(size1, size2, p, tlog.Hash(r1), tlog.Hash(r2)); err != nil {
		t.Fatalf("VerifyConsistency(%d, %d): %v", size1, size2, err)
	}
	if size1 > 0 && size1 < size2 {
		bad := sha256.Sum256(r1)
		if err := tlog.VerifyConsistency(size1, size2, p, bad, tlog.Hash(r2)); !errors.Is(err, tlog.ErrInvalidProof) {
			t.Fatalf("VerifyConsistency(%d, %d) with a wrong root1 = %v", size1, size2, err)
		}
	}
}

func equalProofs(a, b [][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !equalBytes(a[i], b[i]) {
			return false
		}
	}
	return true
}

func TestProofs_AllPairsUpTo64(t *testing.T) {
	checkAll(t, build(t, 64), 64)
}

func TestProofs_RandomSizes(t *testing.T) {
	const n = 3000
	b := build(t, n)
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		size := 1 + rng.Uint64N(n)
		index := rng.Uint64N(size)
		root, err := tlog.RootAt(ctx, b.nodes, size)
		if err != nil {
			t.Fatal(err)
		}
		p, err := tlog.InclusionProof(ctx, b.nodes, index, size)
		if err != nil {
			t.Fatal(err)
		}
		checkInclusion(t, b, index, size, root, p)
		size1 := rng.Uint64N(size + 1)
		c, err := tlog.ConsistencyProof(ctx, b.nodes, size1, size)
		if err != nil {
			t.Fatal(err)
		}
		checkConsistency(t, b, size1, size, c)
	}
}

func TestProofs_Errors(t *testing.T) {
	ctx := context.Background()
	b := build(t, 10)
	if _, err := tlog.InclusionProof(ctx, b.nodes, 10, 10); err == nil {
		t.Error("InclusionProof past the end succeeded")
	}
	if _, err := tlog.ConsistencyProof(ctx, b.nodes, 5, 4); err == nil {
		t.Error("ConsistencyProof(5, 4) succeeded")
	}
	// Sizes beyond the stored tree need nodes that do not exist.
	if _, err := tlog.InclusionProof(ctx, b.nodes, 3, 12); !errors.Is(err, tlog.ErrNodeNotFound) {
		t.Errorf("InclusionProof beyond the stored tree = %v, want ErrNodeNotFound", err)
	}
	if _, err := tlog.RootAt(ctx, b.nodes, 11); !errors.Is(err, tlog.ErrNodeNotFound) {
		t.Errorf("RootAt beyond the stored tree = %v, want ErrNodeNotFound", err)
	}
	root := b.tree.Root()
	p, _ := tlog.InclusionProof(ctx, b.nodes, 3, 10)
	leaf := leafFor(3)
	for name, bad := range map[string][][]byte{
		"short hash":  {p[0][:31], p[1], p[2], p[3]},
		"extra hash":  append(append([][]byte{}, p...), p[0]),
		"missing":     p[:len(p)-1],
		"huge":        make([][]byte, 65),
		"flipped bit": {p[0], p[1], flip(p[2]), p[3]},
	} {
		if err := tlog.VerifyInclusion(leaf, 3, 10, bad, root); !errors.Is(err, tlog.ErrInvalidProof) {
			t.Errorf("%s: VerifyInclusion = %v, want ErrInvalidProof", name, err)
		}
	}
	if err := tlog.VerifyInclusion(leaf, 4, 10, p, root); !errors.Is(err, tlog.ErrInvalidProof) {
		t.Errorf("wrong index: VerifyInclusion = %v", err)
	}
	if err := tlog.VerifyConsistency(0, 10, nil, leaf, root); !errors.Is(err, tlog.ErrInvalidProof) {
		t.Errorf("size 0 with a non-empty root1: VerifyConsistency = %v", err)
	}
	if err := tlog.VerifyConsistency(0, 10, nil, tlog.EmptyRoot(), root); err != nil {
		t.Errorf("size 0: VerifyConsistency = %v", err)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := tlog.InclusionProof(cancelled, b.nodes, 3, 10); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: %v", err)
	}
}

func flip(b []byte) []byte {
	c := append([]byte{}, b...)
	c[7] ^= 0x10
	return c
}

func TestTree_RestoreContinues(t *testing.T) {
	for _, cut := range []uint64{0, 1, 2, 7, 8, 63, 64, 100, 1000} {
		const n = 1100
		whole := build(t, n)

		first := tlog.NewTree()
		for i := range cut {
			first.Append(leafFor(i))
		}
		data, err := first.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		size, hashes := first.RangeState()
		if len(data) != 8+32*len(hashes) || len(hashes) != bits.OnesCount64(size) {
			t.Fatalf("cut %d: %d bytes for %d hashes", cut, len(data), len(hashes))
		}
		var second tlog.Tree
		if err := second.UnmarshalBinary(data); err != nil {
			t.Fatal(err)
		}
		if second.Size() != cut || second.Root() != first.Root() {
			t.Fatalf("cut %d: restored size %d root %v, want %d %v", cut, second.Size(), second.Root(), cut, first.Root())
		}
		for i := cut; i < n; i++ {
			second.Append(leafFor(i))
		}
		if second.Root() != whole.tree.Root() {
			t.Fatalf("cut %d: root after restore and append differs", cut)
		}
	}
	tree := tlog.NewTree()
	if err := tree.Restore(3, []tlog.Hash{{}}); !errors.Is(err, tlog.ErrInvalidRange) {
		t.Errorf("Restore with too few hashes = %v", err)
	}
	if err := tree.UnmarshalBinary(make([]byte, 7)); !errors.Is(err, tlog.ErrInvalidRange) {
		t.Errorf("UnmarshalBinary(7 bytes) = %v", err)
	}
}

func TestNodeKey(t *testing.T) {
	for _, id := range []tlog.NodeID{{Level: 0, Index: 0}, {Level: 3, Index: 1 << 40}, {Level: 63, Index: 1}} {
		key := tlog.AppendNodeKey(nil, id)
		got, err := tlog.ParseNodeKey(key)
		if len(key) != tlog.NodeKeySize || err != nil || got != id {
			t.Errorf("node key %x of %+v parsed to %+v, %v", key, id, got, err)
		}
	}
	a := tlog.AppendNodeKey(nil, tlog.NodeID{Level: 1, Index: 255})
	b := tlog.AppendNodeKey(nil, tlog.NodeID{Level: 1, Index: 256})
	if string(a) >= string(b) {
		t.Error("node keys of one level do not sort by index")
	}
	if _, err := tlog.ParseNodeKey([]byte{64, 0, 0, 0, 0, 0, 0, 0, 0}); err == nil {
		t.Error("ParseNodeKey accepted level 64")
	}
}

func TestTree_ZeroValue(t *testing.T) {
	var zero tlog.Tree
	if zero.Size() != 0 || zero.Root() != tlog.EmptyRoot() {
		t.Fatal("the zero Tree is not the empty tree")
	}
	zero.Append(leafFor(0))
	if want := tlog.NewTree(); want.Append(leafFor(0)) != nil && zero.Root() != want.Root() {
		t.Fatal("the zero Tree appends differently from NewTree")
	}
}
