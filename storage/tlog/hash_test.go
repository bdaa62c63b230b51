package tlog_test

import (
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"

	"github.com/axiomops/axiom-audit/storage/tlog"
	"github.com/transparency-dev/merkle/testonly"
)

func TestLeafHash(t *testing.T) {
	// RFC 6962 leaf hashes of the transparency-dev test inputs.
	leaves, want := testonly.LeafInputs(), testonly.NodeHashes()[0]
	for i, in := range leaves {
		if got := tlog.LeafHash(in); !equalBytes(got[:], want[i]) {
			t.Errorf("LeafHash(%x) = %x, want %x", in, got, want[i])
		}
	}
	// Independently computed: sha256(0x00 || `{"id":"x"}`).
	got := tlog.LeafHash([]byte(`{"id":"x"}`))
	if h := hex.EncodeToString(got[:]); h != "ac27ce23f518ff5d702b062487dcdc2cd98e7f9f0d9dd4770643042ee007529a" {
		t.Errorf("LeafHash = %s", h)
	}
}

func TestStateCommitment(t *testing.T) {
	var salt [32]byte
	for i := range salt {
		salt[i] = byte(i)
	}
	state, err := tlog.Canonicalize([]byte(` { "b" : [ true, null ], "a": 1.0 } `))
	if err != nil {
		t.Fatal(err)
	}
	if string(state) != `{"a":1,"b":[true,null]}` {
		t.Fatalf("Canonicalize = %s", state)
	}
	// Independently computed: sha256("axiom-audit/state/v1" || 00..1f || state).
	got := tlog.StateCommitment(salt, state)
	if h := hex.EncodeToString(got[:]); h != "510def56859974937bf05b5d4d34bb9f9bce5bba83cded7c53487cef114b8c49" {
		t.Errorf("StateCommitment = %s", h)
	}
	salt[0] ^= 1
	if tlog.StateCommitment(salt, state) == got {
		t.Error("the commitment does not depend on the salt")
	}
}

func TestCanonicalize(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		// RFC 8785 §3.2.2 style: sorted keys, ES6 numbers, minimal escapes.
		{`{"b":2,"a":1}`, `{"a":1,"b":2}`},
		{`{"n":1e21,"m":0.000001,"s":"\u00e9\n"}`, "{\"m\":0.000001,\"n\":1e+21,\"s\":\"é\\n\"}"},
		{`{"\u20ac":1,"\r":2}`, "{\"\\r\":2,\"€\":1}"},
	} {
		got, err := tlog.Canonicalize([]byte(tc.in))
		if err != nil || string(got) != tc.want {
			t.Errorf("Canonicalize(%s) = %s, %v; want %s", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{`{"a":1,"a":2}`, `{`, `{"a":1} x`, ``} {
		if _, err := tlog.Canonicalize([]byte(bad)); err == nil {
			t.Errorf("Canonicalize(%q) succeeded", bad)
		}
	}
}

func TestHashText(t *testing.T) {
	h := tlog.LeafHash([]byte("x"))
	doc := struct {
		LeafHash tlog.Hash `json:"leafHash"`
		Proof    [][]byte  `json:"hashes"`
	}{h, [][]byte{h[:]}}
	b, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"leafHash":"` + h.String() + `","hashes":["` + h.String() + `"]}`
	if string(b) != want {
		t.Fatalf("json = %s, want %s", b, want)
	}
	var back struct {
		LeafHash tlog.Hash `json:"leafHash"`
	}
	if err := json.Unmarshal(b, &back); err != nil || back.LeafHash != h {
		t.Fatalf("round trip = %v, %v", back.LeafHash, err)
	}
	s := h.String()
	// Setting a padding bit of the last character keeps the decoded bytes.
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	nonCanonical := s[:42] + string(alphabet[strings.IndexByte(alphabet, s[42])|1]) + "="
	for _, bad := range []string{"", s[:43], s + "=", s[:43] + "A", nonCanonical, strings.Repeat("A", 44), " " + s[1:]} {
		if _, err := tlog.ParseHash(bad); err == nil {
			t.Errorf("ParseHash(%q) succeeded", bad)
		}
	}
	if got, err := tlog.ParseHash(s); err != nil || got != h {
		t.Errorf("ParseHash(%q) = %v, %v", s, got, err)
	}
}

func equalBytes(a, b []byte) bool { return string(a) == string(b) }
