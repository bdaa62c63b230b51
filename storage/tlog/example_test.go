package tlog_test

import (
	"context"
	"fmt"
	"log"

	"github.com/axiomops/axiom-audit/storage/tlog"
)

// A store appends each record's leaf hash to the tree and persists the
// returned nodes with the record; proofs are then read from those nodes.
func ExampleTree() {
	ctx := context.Background()
	tree, nodes := tlog.NewTree(), tlog.NewMemNodes()
	for _, record := range []string{`{"seq":1}`, `{"seq":2}`, `{"seq":3}`} {
		public, err := tlog.Canonicalize([]byte(record))
		if err != nil {
			log.Fatal(err)
		}
		if err := nodes.Put(tree.Append(tlog.LeafHash(public))...); err != nil {
			log.Fatal(err)
		}
	}
	root, err := tlog.RootAt(ctx, nodes, tree.Size())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(tree.Size(), root == tree.Root())
	// Output: 3 true
}

func ExampleInclusionProof() {
	ctx := context.Background()
	tree, nodes := tlog.NewTree(), tlog.NewMemNodes()
	var leaves []tlog.Hash
	for i := range 1000 {
		leaf := tlog.LeafHash(fmt.Appendf(nil, `{"seq":%d}`, i+1))
		leaves = append(leaves, leaf)
		if err := nodes.Put(tree.Append(leaf)...); err != nil {
			log.Fatal(err)
		}
	}
	proof, err := tlog.InclusionProof(ctx, nodes, 41, tree.Size())
	if err != nil {
		log.Fatal(err)
	}
	err = tlog.VerifyInclusion(leaves[41], 41, tree.Size(), proof, tree.Root())
	fmt.Println(len(proof), "hashes, verified:", err == nil)
	// Output: 10 hashes, verified: true
}

func ExampleConsistencyProof() {
	ctx := context.Background()
	tree, nodes := tlog.NewTree(), tlog.NewMemNodes()
	var oldRoot tlog.Hash
	for i := range 100 {
		if err := nodes.Put(tree.Append(tlog.LeafHash(fmt.Appendf(nil, "%d", i)))...); err != nil {
			log.Fatal(err)
		}
		if tree.Size() == 60 {
			oldRoot = tree.Root()
		}
	}
	proof, err := tlog.ConsistencyProof(ctx, nodes, 60, 100)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(tlog.VerifyConsistency(60, 100, proof, oldRoot, tree.Root()) == nil)
	// Output: true
}

func ExampleStateCommitment() {
	var salt [32]byte // fresh random bytes in real use; kept inside the ciphertext
	state, err := tlog.Canonicalize([]byte(`{"instanceType": "t3.large", "count": 2}`))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(string(state))
	fmt.Println(tlog.StateCommitment(salt, state))
	// Output:
	// {"count":2,"instanceType":"t3.large"}
	// 1bVMsUFdWDWlLnQDjCMlMfKcFiaWxtveMPNgAVR15zM=
}

func ExampleSign() {
	installation := "0193c2f4-7d1e-7a4b-9c55-0d2f6a1b9e33"
	skey, vkey, err := tlog.GenerateSigningKey(tlog.KeyName(installation))
	if err != nil {
		log.Fatal(err)
	}
	signer, err := tlog.NewSigner(skey)
	if err != nil {
		log.Fatal(err)
	}
	tree := tlog.NewTree()
	tree.Append(tlog.LeafHash([]byte(`{"seq":1}`)))
	cp := tlog.Checkpoint{Origin: tlog.Origin(installation, "org_acme"), Size: tree.Size(), Root: tree.Root()}
	signed, err := tlog.Sign(cp, signer)
	if err != nil {
		log.Fatal(err)
	}
	// An auditor needs only the note text, the public key and the origin.
	opened, err := tlog.OpenCheckpoint(signed, vkey, cp.Origin)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Print(opened)
	// Output:
	// axiom-audit/0193c2f4-7d1e-7a4b-9c55-0d2f6a1b9e33/org_acme
	// 1
	// sRmnekhkMIxIHvuUf/cj1r1Ooef6uQLrjKmL11nkau4=
}
