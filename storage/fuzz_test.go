package storage

import (
	"bytes"
	"testing"

	"github.com/gowebpki/jcs"
)

func FuzzDecodeRecordValue(f *testing.F) {
	pub := []byte(`{"actionType":"scan.started","category":"scan","formatVersion":1,"id":"x","organizationId":"acme","prevHash":"00","provider":"aws","recordedAt":"2026-01-01T00:00:00.000000000Z","resourceIds":[],"riskLevel":"low","seq":1,"status":"applied","timestamp":"2026-01-01T00:00:00.000000000Z","userId":"u"}`)
	good := recordValue{public: pub, leaf: leafHash(pub), sealedBefore: []byte{1, 2, 3}}.encode()
	f.Add(good)
	f.Add([]byte{})
	f.Add([]byte{1, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Add(good[:len(good)-1])
	f.Fuzz(func(t *testing.T, b []byte) {
		rv, err := decodeRecordValue(b)
		if err != nil {
			return
		}
		// A value that decodes re-encodes to the same bytes: no two
		// encodings of one record.
		if !bytes.Equal(rv.encode(), b) {
			t.Fatalf("decode/encode round trip changed the value")
		}
		if p, err := decodePublic(rv.public); err == nil && p.FormatVersion != FormatVersion {
			t.Fatalf("accepted format version %d", p.FormatVersion)
		}
	})
}

func FuzzDecodeSummary(f *testing.F) {
	f.Add(summary{provider: "aws", status: "applied", risk: "low", category: "scan", actionType: "scan.started", userID: "u"}.encode())
	f.Add([]byte{1, 0, 0, 0, 5})
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := decodeSummary(b)
		if err != nil {
			return
		}
		if len(s.category)+len(s.actionType)+len(s.userID) > len(b) {
			t.Fatal("decoded more than was there")
		}
	})
}

func FuzzDecodeCursor(f *testing.F) {
	f.Add(cursor{order: OldestFirst, ts: 5, seq: 3, ceiling: 9, filter: 42}.encode())
	f.Add("")
	f.Add("AQ")
	f.Add("not base64 at all!!")
	f.Fuzz(func(t *testing.T, s string) {
		c, err := decodeCursor(s)
		if err != nil {
			return
		}
		if c.seq == 0 || c.seq > c.ceiling || (c.order != NewestFirst && c.order != OldestFirst) {
			t.Fatalf("accepted an impossible cursor %+v", c)
		}
		if c2, err := decodeCursor(c.encode()); err != nil || c2 != c {
			t.Fatalf("round trip: %+v, %v", c2, err)
		}
	})
}

func FuzzCanonicalJSON(f *testing.F) {
	for _, s := range []string{`{"b":[1,2.5,-0,1e21,1E-7,0.1],"a":"\u00e9\n\"x\"","\ud83d\ude00":null,"\ue000":true}`,
		`[]`, `{}`, `"\u0001<>&\u2028"`, `123456789012345678`, `{"a":{"a":{"a":[]}}}`, ` 1 `, `{"a":1,"a":2}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		mine, err := canonicalJSON(in)
		if err != nil {
			return
		}
		ref, rerr := jcs.Transform(in)
		if rerr == nil && !bytes.Equal(mine, ref) {
			t.Fatalf("canonicalJSON(%q) = %q, jcs.Transform = %q", in, mine, ref)
		}
		again, err := canonicalJSON(mine)
		if err != nil || !bytes.Equal(again, mine) {
			t.Fatalf("not idempotent: %q → %q, %v", mine, again, err)
		}
	})
}
