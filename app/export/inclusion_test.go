package export

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/axiomops/axiom-audit/storage"
	"github.com/axiomops/axiom-audit/storage/tlog"
)

// mth and auditPath are RFC 9162 §2.1.1 and §2.1.3.1 written out
// recursively: the reference the checker is compared with.
func mth(leaves []tlog.Hash) tlog.Hash {
	if len(leaves) == 1 {
		return leaves[0]
	}
	k := largestPow2Below(len(leaves))
	l, r := mth(leaves[:k]), mth(leaves[k:])
	return nodeHash(&l, &r)
}

func auditPath(m int, leaves []tlog.Hash) []tlog.Hash {
	if len(leaves) == 1 {
		return nil
	}
	k := largestPow2Below(len(leaves))
	if m < k {
		return append(auditPath(m, leaves[:k]), mth(leaves[k:]))
	}
	return append(auditPath(m-k, leaves[k:]), mth(leaves[:k]))
}

func largestPow2Below(n int) int {
	k := 1
	for k*2 < n {
		k *= 2
	}
	return k
}

// TestInclusionChecker compares the remembering checker with the plain
// algorithm on valid and damaged proofs, in log order (what an export
// holds) and shuffled, so that every early exit is exercised.
func TestInclusionChecker(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	sizes := []int{1, 2, 3, 4, 5, 7, 8, 9, 16, 17, 31, 33, 64, 100, 255, 256, 257, 300}
	for _, n := range sizes {
		leaves := make([]tlog.Hash, n)
		for i := range leaves {
			leaves[i] = sha256.Sum256([]byte{byte(i), byte(i >> 8), 7})
		}
		root := mth(leaves)
		plain := func(leaf tlog.Hash, index uint64, path []tlog.Hash) bool {
			hs := make([][]byte, len(path))
			for i := range path {
				hs[i] = path[i][:]
			}
			return tlog.VerifyInclusion(leaf, index, uint64(n), hs, root) == nil
		}
		order := rng.Perm(n)
		for pass, indexes := range [][]int{identity(n), order} {
			c := newInclusionChecker(uint64(n), root)
			for _, i := range indexes {
				path := auditPath(i, leaves)
				if !c.verify(leaves[i], uint64(i), path) {
					t.Fatalf("size %d pass %d: the proof of leaf %d does not verify", n, pass, i)
				}
				// Damaged versions must fail exactly when the plain check does.
				for k := range 6 {
					leaf, index, p := leaves[i], uint64(i), append([]tlog.Hash(nil), path...)
					switch k {
					case 0:
						if len(p) == 0 {
							continue
						}
						j := rng.IntN(len(p))
						p[j][rng.IntN(32)] ^= 1 << rng.IntN(8)
					case 1:
						leaf[0] ^= 1
					case 2:
						index = uint64(rng.IntN(n + 1))
					case 3:
						if len(p) == 0 {
							continue
						}
						p = p[:len(p)-1]
					case 4:
						p = append(p, leaves[0])
					case 5:
						if len(p) == 0 {
							continue
						}
						p[len(p)-1][0] ^= 1
					}
					if got, want := c.verify(leaf, index, p), plain(leaf, index, p); got != want {
						t.Fatalf("size %d leaf %d damage %d: checker %v, plain %v", n, i, k, got, want)
					}
				}
			}
		}
	}
}

func identity(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}

func BenchmarkInclusionChecker(b *testing.B) {
	const n = 1 << 12
	leaves := make([]tlog.Hash, n)
	for i := range leaves {
		leaves[i] = sha256.Sum256([]byte{byte(i), byte(i >> 8)})
	}
	paths := make([][]tlog.Hash, n)
	for i := range paths {
		paths[i] = auditPath(i, leaves)
	}
	root := mth(leaves)
	b.Run("remembering", func(b *testing.B) {
		for k := 0; k < b.N; k++ {
			c := newInclusionChecker(n, root)
			for i := range n {
				if !c.verify(leaves[i], uint64(i), paths[i]) {
					b.Fatal("does not verify")
				}
			}
		}
	})
	b.Run("plain", func(b *testing.B) {
		for k := 0; k < b.N; k++ {
			for i := range n {
				hs := make([][]byte, len(paths[i]))
				for j := range paths[i] {
					hs[j] = paths[i][j][:]
				}
				if tlog.VerifyInclusion(leaves[i], uint64(i), n, hs, root) != nil {
					b.Fatal("does not verify")
				}
			}
		}
	})
}

// perfectNodes serves the stored (perfect) subtree nodes of a tree.
type perfectNodes struct{ leaves []tlog.Hash }

func (r perfectNodes) GetNodes(_ context.Context, ids []tlog.NodeID) ([][]byte, error) {
	out := make([][]byte, len(ids))
	for i, id := range ids {
		first := id.Index << id.Level
		last := first + 1<<id.Level
		if last > uint64(len(r.leaves)) {
			return nil, fmt.Errorf("node %v is not stored in a tree of %d", id, len(r.leaves))
		}
		h := mth(r.leaves[first:last])
		out[i] = h[:]
	}
	return out, nil
}

// TestBatchProver checks the export's proofs against RFC 9162's audit
// paths, over batches of consecutive events as an export reads them and
// over batches with gaps (a filter that skips events).
func TestBatchProver(t *testing.T) {
	for _, n := range []int{1, 2, 3, 5, 8, 13, 64, 100, 257, 1000} {
		leaves := make([]tlog.Hash, n)
		events := make([]storage.StoredEvent, n)
		for i := range leaves {
			leaves[i] = sha256.Sum256([]byte{byte(i), byte(i >> 8), 3})
			events[i].Seq = uint64(i + 1)
			events[i].LeafHash = hex.EncodeToString(leaves[i][:])
		}
		for _, stride := range []int{1, 3} {
			var picked []storage.StoredEvent
			for i := 0; i < n; i += stride {
				picked = append(picked, events[i])
			}
			p := newBatchProver(perfectNodes{leaves}, uint64(n))
			for lo := 0; lo < len(picked); lo += 37 {
				batch := picked[lo:min(lo+37, len(picked))]
				p.setBatch(batch)
				for k := range batch {
					e := &batch[k]
					got, err := p.prove(context.Background(), e)
					if err != nil {
						t.Fatalf("size %d seq %d: %v", n, e.Seq, err)
					}
					want := auditPath(int(e.Seq-1), leaves)
					if len(got.Hashes) != len(want) || got.LeafHash != leaves[e.Seq-1] || got.TreeSize != uint64(n) || got.LeafIndex != e.Seq-1 {
						t.Fatalf("size %d seq %d: proof %+v", n, e.Seq, got)
					}
					for j := range want {
						if !bytes.Equal(got.Hashes[j], want[j][:]) {
							t.Fatalf("size %d seq %d: hash %d differs", n, e.Seq, j)
						}
					}
				}
			}
		}
	}
}
