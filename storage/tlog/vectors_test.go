package tlog_test

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/axiomops/axiom-audit/storage/tlog"
)

// The tests in this file check the tree and the proof verifiers against
// transparency-dev/merkle's test vectors, kept as data under
// testdata/transparency-dev (see ORIGIN there), so that they do not depend
// on the reference implementation's code.

// vectorTree is the RFC 6962 reference tree of testdata/transparency-dev/tree.json.
type vectorTree struct {
	LeafInputs []string   `json:"leafInputs"`
	RootHashes []string   `json:"rootHashes"`
	NodeHashes [][]string `json:"nodeHashes"`
}

func readVectorTree(t *testing.T) (vectorTree, *tlog.Tree, *tlog.MemNodes) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", "transparency-dev", "tree.json"))
	if err != nil {
		t.Fatal(err)
	}
	var v vectorTree
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	if len(v.LeafInputs) != 8 || len(v.RootHashes) != 9 {
		t.Fatalf("tree.json has %d leaves and %d roots", len(v.LeafInputs), len(v.RootHashes))
	}
	tree, nodes := tlog.NewTree(), tlog.NewMemNodes()
	for _, in := range v.LeafInputs {
		if err := nodes.Put(tree.Append(tlog.LeafHash(unhex(t, in)))...); err != nil {
			t.Fatal(err)
		}
	}
	return v, tree, nodes
}

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestVectors_Tree(t *testing.T) {
	ctx := context.Background()
	v, _, nodes := readVectorTree(t)
	tree := tlog.NewTree()
	if got := tree.Root(); hex.EncodeToString(got[:]) != v.RootHashes[0] {
		t.Fatalf("empty root %x, want %s", got, v.RootHashes[0])
	}
	for i, in := range v.LeafInputs {
		tree.Append(tlog.LeafHash(unhex(t, in)))
		if got := tree.Root(); hex.EncodeToString(got[:]) != v.RootHashes[i+1] {
			t.Errorf("root at size %d = %x, want %s", i+1, got, v.RootHashes[i+1])
		}
	}
	for size, want := range v.RootHashes {
		got, err := tlog.RootAt(ctx, nodes, uint64(size))
		if err != nil || hex.EncodeToString(got[:]) != want {
			t.Errorf("RootAt(%d) = %x, %v; want %s", size, got, err, want)
		}
	}
	for level, row := range v.NodeHashes {
		for index, want := range row {
			got, err := nodes.GetNodes(ctx, []tlog.NodeID{{Level: uint(level), Index: uint64(index)}})
			if err != nil || hex.EncodeToString(got[0]) != want {
				t.Errorf("stored node (%d, %d) = %x, %v; want %s", level, index, got, err, want)
			}
		}
	}
}

type inclusionVector struct {
	LeafIdx  uint64   `json:"leafIdx"`
	TreeSize uint64   `json:"treeSize"`
	Root     []byte   `json:"root"`
	LeafHash []byte   `json:"leafHash"`
	Proof    [][]byte `json:"proof"`
	Desc     string   `json:"desc"`
	WantErr  bool     `json:"wantErr"`
}

type consistencyVector struct {
	Size1   uint64   `json:"size1"`
	Size2   uint64   `json:"size2"`
	Root1   []byte   `json:"root1"`
	Root2   []byte   `json:"root2"`
	Proof   [][]byte `json:"proof"`
	Desc    string   `json:"desc"`
	WantErr bool     `json:"wantErr"`
}

func vectorFiles(t *testing.T, kind string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "transparency-dev", kind, "*", "*.json"))
	if err != nil || len(files) < 10 {
		t.Fatalf("%d %s vectors (%v)", len(files), kind, err)
	}
	return files
}

func readVector(t *testing.T, file string, v any) {
	t.Helper()
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
}

func samePath(a, b [][]byte) bool { return len(a) == len(b) && (len(a) == 0 || equalProofs(a, b)) }

func TestVectors_Inclusion(t *testing.T) {
	ctx := context.Background()
	_, _, nodes := readVectorTree(t)
	for _, file := range vectorFiles(t, "inclusion") {
		t.Run(file, func(t *testing.T) {
			var v inclusionVector
			readVector(t, file, &v)
			if len(v.Root) != tlog.HashSize || len(v.LeafHash) != tlog.HashSize {
				// Not a hash at all: no proof can verify it.
				if !v.WantErr {
					t.Fatalf("%s: a %d-byte root or %d-byte leaf cannot verify", v.Desc, len(v.Root), len(v.LeafHash))
				}
				return
			}
			err := tlog.VerifyInclusion(tlog.Hash(v.LeafHash), v.LeafIdx, v.TreeSize, v.Proof, tlog.Hash(v.Root))
			if (err != nil) != v.WantErr {
				t.Fatalf("%s: VerifyInclusion = %v, want error %v", v.Desc, err, v.WantErr)
			}
			if err != nil && !errors.Is(err, tlog.ErrInvalidProof) {
				t.Fatalf("%s: error %v does not wrap ErrInvalidProof", v.Desc, err)
			}
			// The happy paths are proofs in the reference tree: the proofs
			// built from its stored nodes are the same.
			if !v.WantErr {
				p, err := tlog.InclusionProof(ctx, nodes, v.LeafIdx, v.TreeSize)
				if err != nil || !samePath(p, v.Proof) {
					t.Fatalf("%s: InclusionProof(%d, %d) = %x, %v; want %x", v.Desc, v.LeafIdx, v.TreeSize, p, err, v.Proof)
				}
			}
		})
	}
}

func TestVectors_Consistency(t *testing.T) {
	ctx := context.Background()
	_, _, nodes := readVectorTree(t)
	for _, file := range vectorFiles(t, "consistency") {
		t.Run(file, func(t *testing.T) {
			var v consistencyVector
			readVector(t, file, &v)
			if len(v.Root1) != tlog.HashSize || len(v.Root2) != tlog.HashSize {
				if !v.WantErr {
					t.Fatalf("%s: a %d-byte or %d-byte root cannot verify", v.Desc, len(v.Root1), len(v.Root2))
				}
				return
			}
			err := tlog.VerifyConsistency(v.Size1, v.Size2, v.Proof, tlog.Hash(v.Root1), tlog.Hash(v.Root2))
			if (err != nil) != v.WantErr {
				t.Fatalf("%s: VerifyConsistency = %v, want error %v", v.Desc, err, v.WantErr)
			}
			if err != nil && !errors.Is(err, tlog.ErrInvalidProof) {
				t.Fatalf("%s: error %v does not wrap ErrInvalidProof", v.Desc, err)
			}
			if !v.WantErr {
				p, err := tlog.ConsistencyProof(ctx, nodes, v.Size1, v.Size2)
				if err != nil || !samePath(p, v.Proof) {
					t.Fatalf("%s: ConsistencyProof(%d, %d) = %x, %v; want %x", v.Desc, v.Size1, v.Size2, p, err, v.Proof)
				}
			}
		})
	}
}
