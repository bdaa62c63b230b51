package export

import (
	"bytes"
	"encoding/base64"
	"testing"
)

// The hash text a line reuses from the line before is always the text of
// its own hash: proofs of different lengths, changed and repeated hashes.
func TestHashB64_ReusesOnlyIdenticalHashes(t *testing.T) {
	h := func(b byte) []byte { return bytes.Repeat([]byte{b}, 32) }
	proofs := [][][]byte{
		{h(1), h(2), h(3)},
		{h(9), h(2), h(3)},
		{h(9), h(2)},
		{h(9), h(2), h(3), h(4)},
		{h(3), h(2), h(1), h(4)},
		{},
		{h(1)},
	}
	var c hashB64
	for n, p := range proofs {
		for i, x := range p {
			got := string(c.append([]byte("x"), i, x))
			if want := "x" + base64.StdEncoding.EncodeToString(x); got != want {
				t.Fatalf("proof %d, hash %d: %q, want %q", n, i, got, want)
			}
		}
	}
}
