package tlog_test

import (
	"bytes"
	"encoding/base64"
	"math"
	"strings"
	"testing"

	"github.com/axiomops/axiom-audit/storage/tlog"
)

// FuzzParseNodeKey: a node key parses exactly when it is a level byte of
// at most 63 and an 8-byte index, and AppendNodeKey writes it back.
func FuzzParseNodeKey(f *testing.F) {
	for _, id := range []tlog.NodeID{{Level: 0, Index: 0}, {Level: 4, Index: 17}, {Level: 63, Index: 0}, {Level: 0, Index: math.MaxUint64}} {
		f.Add(tlog.AppendNodeKey(nil, id))
	}
	f.Add(append([]byte{64}, make([]byte, 8)...))
	f.Add(append([]byte{0xff}, make([]byte, 8)...))
	f.Add(make([]byte, tlog.NodeKeySize-1))
	f.Add(make([]byte, tlog.NodeKeySize+1))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, key []byte) {
		id, err := tlog.ParseNodeKey(key)
		wellFormed := len(key) == tlog.NodeKeySize && key[0] <= 63
		if (err == nil) != wellFormed {
			t.Fatalf("ParseNodeKey(%x): %v", key, err)
		}
		if err != nil {
			return
		}
		if again := tlog.AppendNodeKey(nil, id); !bytes.Equal(again, key) {
			t.Fatalf("ParseNodeKey(%x) = %+v, whose key is %x", key, id, again)
		}
		// A prefix (the store's tag and organization) is kept.
		if k := tlog.AppendNodeKey([]byte("p\x00"), id); !bytes.Equal(k[2:], key) || string(k[:2]) != "p\x00" {
			t.Fatalf("AppendNodeKey after a prefix: %x", k)
		}
	})
}

// FuzzParseHash: ParseHash accepts exactly the canonical standard base64 of
// 32 bytes, the one text String and MarshalText write; UnmarshalText agrees.
func FuzzParseHash(f *testing.F) {
	for _, h := range []tlog.Hash{tlog.EmptyRoot(), tlog.LeafHash([]byte("x")), {}, {0xff, 0xff}} {
		f.Add(h.String())
	}
	root := tlog.EmptyRoot().String()
	for _, s := range []string{root[:43] + "B", root[:42] + "==", root[:43], root + "=", strings.TrimRight(root, "="),
		root[:20] + "\n" + root[21:], base64.URLEncoding.EncodeToString(bytes.Repeat([]byte{0xfb}, 32)),
		base64.StdEncoding.EncodeToString(make([]byte, 33)), base64.StdEncoding.EncodeToString(make([]byte, 31)), ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		h, err := tlog.ParseHash(s)
		b, rerr := base64.StdEncoding.DecodeString(s)
		canonical := rerr == nil && len(b) == tlog.HashSize && base64.StdEncoding.EncodeToString(b) == s
		if (err == nil) != canonical {
			t.Fatalf("ParseHash(%q): %v; canonical: %v", s, err, canonical)
		}
		var u tlog.Hash
		uerr := u.UnmarshalText([]byte(s))
		if (uerr == nil) != (err == nil) || u != h {
			t.Fatalf("UnmarshalText(%q) = %x, %v; ParseHash = %x, %v", s, u, uerr, h, err)
		}
		if err != nil {
			if h != (tlog.Hash{}) {
				t.Fatalf("ParseHash(%q) failed but returned %x", s, h)
			}
			return
		}
		m, _ := h.MarshalText()
		if !bytes.Equal(h[:], b) || h.String() != s || string(m) != s {
			t.Fatalf("ParseHash(%q) = %x, which is written %q", s, h, h.String())
		}
	})
}
