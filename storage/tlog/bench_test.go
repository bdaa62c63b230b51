package tlog_test

import (
	"context"
	"math/rand/v2"
	"testing"

	"github.com/axiomops/axiom-audit/storage/tlog"
)

// buildNodes appends n leaves and keeps only what a store keeps: the nodes.
func buildNodes(b *testing.B, n uint64) (*tlog.MemNodes, tlog.Hash) {
	b.Helper()
	tree, nodes := tlog.NewTree(), tlog.NewMemNodes()
	for i := range n {
		if err := nodes.Put(tree.Append(leafFor(i))...); err != nil {
			b.Fatal(err)
		}
	}
	return nodes, tree.Root()
}

// BenchmarkInclusionProof_1M: the proof of a random leaf of a 1,000,000-leaf
// tree, from stored nodes (target ≤ 1 ms).
func BenchmarkInclusionProof_1M(b *testing.B) {
	const n = 1_000_000
	nodes, root := buildNodes(b, n)
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(1, 2))
	var bytes int
	for b.Loop() {
		index := rng.Uint64N(n)
		p, err := tlog.InclusionProof(ctx, nodes, index, n)
		if err != nil {
			b.Fatal(err)
		}
		bytes = len(p) * tlog.HashSize
	}
	b.ReportMetric(float64(bytes), "proof-bytes")
	p, _ := tlog.InclusionProof(ctx, nodes, 999_999, n)
	if err := tlog.VerifyInclusion(leafFor(999_999), 999_999, n, p, root); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkInclusionProof_1M_OldSize: the proof against an older, imperfect
// size, which rehashes an ephemeral node from stored nodes.
func BenchmarkInclusionProof_1M_OldSize(b *testing.B) {
	const n = 1_000_000
	nodes, _ := buildNodes(b, n)
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(3, 4))
	for b.Loop() {
		size := 1 + rng.Uint64N(n)
		if _, err := tlog.InclusionProof(ctx, nodes, rng.Uint64N(size), size); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkConsistencyProof_1M(b *testing.B) {
	const n = 1_000_000
	nodes, _ := buildNodes(b, n)
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(5, 6))
	for b.Loop() {
		if _, err := tlog.ConsistencyProof(ctx, nodes, 1+rng.Uint64N(n), n); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyInclusion_1M(b *testing.B) {
	const n = 1_000_000
	nodes, root := buildNodes(b, n)
	p, err := tlog.InclusionProof(context.Background(), nodes, 123_456, n)
	if err != nil {
		b.Fatal(err)
	}
	leaf := leafFor(123_456)
	for b.Loop() {
		if err := tlog.VerifyInclusion(leaf, 123_456, n, p, root); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAppend: the tree's cost per record on the append path (the store
// adds its own writes of the returned nodes).
func BenchmarkAppend(b *testing.B) {
	tree := tlog.NewTree()
	leaf := leafFor(1)
	for b.Loop() {
		tree.Append(leaf)
	}
}
