package storage

import (
	"bytes"
	"encoding/json"
	"errors"
	"hash/maphash"
	"reflect"
	"testing"
	"time"

	"github.com/gowebpki/jcs"
	"golang.org/x/mod/sumdb/note"

	"github.com/axiomops/axiom-audit/storage/tlog"
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

// fuzzPublic is a canonical public record of seq 1 of "acme" with both
// state commitments, as Append writes it.
const fuzzPublic = `{"actionType":"scan.started","afterStateCommitment":"` + fuzzHex + `","beforeStateCommitment":"` + fuzzHex +
	`","category":"scan","formatVersion":1,"id":"x","metadata":{"a":[1,"b",true,null],"n":-5},"organizationId":"acme","prevHash":"` + fuzzZeros +
	`","provider":"aws","recordedAt":"2026-01-01T00:00:00.000000000Z","resourceIds":["r1","r2","r1"],"riskLevel":"low","seq":1,"status":"applied","timestamp":"2026-01-01T00:00:00.000000000Z","userId":"u"}`

const (
	fuzzHex   = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
	fuzzZeros = "0000000000000000000000000000000000000000000000000000000000000000"
)

// FuzzVerifyRecord runs Verify's per-record checks (keyless) on arbitrary
// record values: they never panic, and a value they pass is a real record:
// its leaf hash is SHA-256(0x00 || public record), the public record is in
// canonical form, decodes strictly and names the seq and organization of
// its key.
func FuzzVerifyRecord(f *testing.F) {
	sealed := bytes.Repeat([]byte{1}, 80)
	good := recordValue{public: []byte(fuzzPublic), leaf: leafHash([]byte(fuzzPublic)), sealedBefore: sealed, sealedAfter: sealed}.encode()
	f.Add(good)
	f.Add(good[:len(good)-3])
	f.Add(bytes.Replace(good, []byte(`"seq":1`), []byte(`"seq":01`), 1))
	f.Add(bytes.Replace(good, []byte(`"n":-5`), []byte(`"n":-5.0`), 1))
	f.Add(bytes.Replace(good, []byte(`"id":"x"`), []byte(`"id":"\u0078"`), 1))
	f.Add(bytes.Replace(good, []byte(`.000000000Z`), []byte(`.000000000+00:00`), 1))
	f.Add(bytes.Replace(good, []byte(`2026-01-01`), []byte(`2026-02-30`), 1))
	f.Add([]byte{})
	f.Add([]byte{1, 0x80})
	v := &verifier{opts: VerifyOptions{Keyless: true}, seed: maphash.MakeSeed()}
	seed := vrec{seq: 1, keyLen: true}
	v.checkRecord("acme", &seed, good, &vscratch{})
	if !seed.ok || len(seed.problems) > 0 {
		f.Fatalf("the seed record does not pass: %v", seed.problems)
	}
	f.Fuzz(func(t *testing.T, val []byte) {
		var sc vscratch
		r := vrec{seq: 1, keyLen: true}
		v.checkRecord("acme", &r, val, &sc)
		if !r.ok || len(r.problems) > 0 {
			return
		}
		rv, err := decodeRecordValue(val)
		if err != nil {
			t.Fatalf("passed a value that does not decode: %v", err)
		}
		if rv.leaf != leafHash(rv.public) || r.leaf != rv.leaf {
			t.Fatal("passed a record whose leaf hash is wrong")
		}
		if c, err := canonicalJSON(rv.public); err != nil || !bytes.Equal(c, rv.public) {
			t.Fatalf("passed a public record that is not canonical: %q", rv.public)
		}
		p, err := decodePublic(rv.public)
		if err != nil || p.Seq != 1 || p.OrganizationID != "acme" || p.ID != r.id {
			t.Fatalf("passed a public record that names seq %d of %q (%v)", p.Seq, p.OrganizationID, err)
		}
		for _, ts := range []string{p.Timestamp, p.RecordedAt} {
			if _, err := time.Parse(time.RFC3339Nano, ts); err != nil {
				t.Fatalf("passed a record with time %q", ts)
			}
		}
	})
}

// FuzzDecodeCheckpoint: a stored checkpoint value that decodes has exactly
// one encoding, and its checkpoint is the body of its note.
func FuzzDecodeCheckpoint(f *testing.F) {
	signer, vkey := fuzzSigner(f)
	cp := tlog.Checkpoint{Origin: tlog.Origin("inst", "acme"), Size: 37, Root: tlog.LeafHash([]byte("root"))}
	msg, err := tlog.Sign(cp, signer)
	if err != nil {
		f.Fatal(err)
	}
	good := encodeCheckpoint(SignedCheckpoint{Checkpoint: cp, Note: msg, Time: baseTime, Number: 1})
	f.Add(good)
	f.Add(good[:9])
	f.Add(good[:len(good)-1])
	f.Add(bytes.Replace(good, []byte("\n37\n"), []byte("\n037\n"), 1))
	f.Add(bytes.Replace(good, []byte("\n\n"), []byte("\n"), 1))
	f.Add([]byte{checkpointV})
	f.Fuzz(func(t *testing.T, v []byte) {
		sc, err := decodeCheckpoint(v, 7)
		if err != nil {
			if !errors.Is(err, errCorrupt) {
				t.Fatalf("error %v does not wrap errCorrupt", err)
			}
			return
		}
		if sc.Number != 7 || !bytes.Equal(encodeCheckpoint(sc), v) {
			t.Fatalf("decode/encode round trip changed the value")
		}
		body, _, _ := bytes.Cut(sc.Note, []byte("\n\n"))
		m, err := sc.Checkpoint.Marshal()
		if err != nil || !bytes.Equal(m, append(body, '\n')) {
			t.Fatalf("checkpoint %+v is not the note's body %q", sc.Checkpoint, body)
		}
		// Only the note we signed opens with the key.
		if got, err := tlog.OpenCheckpoint(sc.Note, vkey, cp.Origin); err == nil && got != cp {
			t.Fatalf("opened a checkpoint we never signed: %+v", got)
		}
	})
}

func fuzzSigner(f *testing.F) (note.Signer, string) {
	sk, vk, err := tlog.GenerateSigningKey(tlog.KeyName("inst"))
	if err != nil {
		f.Fatal(err)
	}
	s, err := tlog.NewSigner(sk)
	if err != nil {
		f.Fatal(err)
	}
	return s, vk
}

// FuzzCanonicalSimple: when the quick canonical-form check is sure, it
// agrees with canonicalJSON, and the input is valid JSON.
func FuzzCanonicalSimple(f *testing.F) {
	for _, s := range []string{`{"a":[1,"b",true,null],"n":-5}`, `{"b":1,"a":2}`, `{"a":1,"a":1}`, `{}`, `[]`, `[[],{}]`,
		`-0`, `0`, `01`, `123456789012345`, `1234567890123456`, `1.5`, `1e3`, `"\u0041"`, `"é"`, `{"é":1}`, `{ "a":1}`,
		`{"a":"x\ty"}`, `nul`, `[1,]`, `{"a":1,}`, `{"a"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		canonical, sure := canonicalSimple(b)
		if !sure {
			return
		}
		c, err := canonicalJSON(b)
		if err != nil || !json.Valid(b) {
			t.Fatalf("sure about %q, which is not JSON (%v)", b, err)
		}
		if canonical != bytes.Equal(c, b) {
			t.Fatalf("canonicalSimple(%q) = %v, canonicalJSON gives %q", b, canonical, c)
		}
	})
}

func FuzzDecodePack(f *testing.F) {
	f.Add(encodePack(map[string]uint64{"t": 3, "cscan": 2, "capply": 1, "paws": 3}))
	f.Add([]byte{'c', 4, 's', 'c', 'a', 'n'})
	f.Add([]byte{'c', 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Fuzz(func(t *testing.T, b []byte) {
		m := map[string]uint64{}
		if err := decodePack(b, func(field byte, value string, n uint64) { m[packKeyOf(field, value)] += n }); err != nil {
			return
		}
		// What decodes encodes to a pack that decodes to the same counts.
		again := map[string]uint64{}
		if err := decodePack(encodePack(m), func(field byte, value string, n uint64) { again[packKeyOf(field, value)] += n }); err != nil {
			t.Fatalf("re-encoded pack does not decode: %v", err)
		}
		if !reflect.DeepEqual(m, again) {
			t.Fatalf("round trip: %v, then %v", m, again)
		}
	})
}
