package tlog_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/axiomops/axiom-audit/storage/tlog"
)

// The tests in this file check the golden files and the tree against the
// specification in doc.go with the standard library only, as an auditor's
// independent verifier would, without golang.org/x/mod or transparency-dev.

func TestSpec_SignedNoteByHand(t *testing.T) {
	msg, err := os.ReadFile(filepath.Join("testdata", "checkpoint.golden"))
	if err != nil {
		t.Fatal(err)
	}
	vkeyText, err := os.ReadFile(filepath.Join("testdata", "checkpoint.vkey"))
	if err != nil {
		t.Fatal(err)
	}
	// Verifier key: <name>+<8 hex key hash>+<base64(0x01 || public key)>.
	parts := strings.SplitN(strings.TrimSuffix(string(vkeyText), "\n"), "+", 3)
	name, hash8, key64 := parts[0], parts[1], parts[2]
	key, err := base64.StdEncoding.DecodeString(key64)
	if err != nil || len(key) != 33 || key[0] != 0x01 {
		t.Fatalf("verifier key %q is not 0x01 || Ed25519 key", vkeyText)
	}
	kh := sha256.Sum256(append([]byte(name+"\n"), key...))
	if hex.EncodeToString(kh[:4]) != hash8 {
		t.Fatalf("key hash %x, verifier key says %s", kh[:4], hash8)
	}

	// Note: body, empty line, "— <name> <base64(key hash || signature)>\n".
	body, sigs, ok := bytes.Cut(msg, []byte("\n\n"))
	if !ok {
		t.Fatal("no empty line before the signatures")
	}
	body = append(body, '\n')
	prefix := "— " + name + " "
	line := string(sigs)
	if !strings.HasPrefix(line, prefix) || !strings.HasSuffix(line, "\n") || strings.Count(line, "\n") != 1 {
		t.Fatalf("signature line %q", line)
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSuffix(strings.TrimPrefix(line, prefix), "\n"))
	if err != nil || len(raw) != 4+ed25519.SignatureSize {
		t.Fatalf("signature is not key hash || Ed25519 signature: %v", err)
	}
	if !bytes.Equal(raw[:4], kh[:4]) {
		t.Fatalf("signature key hash %x, want %x", raw[:4], kh[:4])
	}
	if !ed25519.Verify(ed25519.PublicKey(key[1:]), body, raw[4:]) {
		t.Fatal("Ed25519 signature over the body does not verify")
	}

	// Body: origin, decimal size, base64 root, each ending in a newline.
	lines := strings.Split(strings.TrimSuffix(string(body), "\n"), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], name+"/") {
		t.Fatalf("body %q", body)
	}
	cp, err := tlog.ParseCheckpoint(body)
	if err != nil || cp.Origin != lines[0] || cp.Root.String() != lines[2] {
		t.Fatalf("ParseCheckpoint = %+v, %v", cp, err)
	}
}

// mth is RFC 6962's Merkle Tree Hash, written from its definition.
func mth(leaves [][32]byte) [32]byte {
	switch len(leaves) {
	case 0:
		return sha256.Sum256(nil)
	case 1:
		return leaves[0]
	}
	k := 1
	for k*2 < len(leaves) {
		k *= 2
	}
	l, r := mth(leaves[:k]), mth(leaves[k:])
	return sha256.Sum256(append(append([]byte{0x01}, l[:]...), r[:]...))
}

func TestSpec_TreeByHand(t *testing.T) {
	ctx := context.Background()
	b := build(t, 70)
	var leaves [][32]byte
	for i := range uint64(70) {
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], i)
		leaves = append(leaves, sha256.Sum256(append([]byte{0x00}, n[:]...)))
	}
	for size := range len(leaves) + 1 {
		got, err := tlog.RootAt(ctx, b.nodes, uint64(size))
		if err != nil || got != tlog.Hash(mth(leaves[:size])) {
			t.Fatalf("RootAt(%d) = %v, %v; want %x", size, got, err, mth(leaves[:size]))
		}
	}
	// Stored node (L, i) is the MTH of leaves [i·2^L, (i+1)·2^L).
	for _, id := range []tlog.NodeID{{Level: 0, Index: 5}, {Level: 3, Index: 7}, {Level: 6, Index: 0}} {
		got, err := b.nodes.GetNodes(ctx, []tlog.NodeID{id})
		lo, hi := id.Index<<id.Level, (id.Index+1)<<id.Level
		if want := mth(leaves[lo:hi]); err != nil || !bytes.Equal(got[0], want[:]) {
			t.Fatalf("node %+v = %x, %v; want %x", id, got, err, want)
		}
	}
}
