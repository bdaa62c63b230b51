package tlog_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/axiomops/axiom-audit/storage/tlog"
)

func FuzzParseCheckpoint(f *testing.F) {
	root := tlog.LeafHash([]byte("root")).String()
	for _, s := range []string{
		"o\n0\n" + tlog.EmptyRoot().String() + "\n",
		"axiom-audit/i/o\n10\n" + root + "\n",
		"o\n18446744073709551615\n" + root + "\n",
		"o\n01\n" + root + "\n",
		"o\n1\n" + root + "\next\n",
		"o\n1\n" + root + "\ntime 2026-01-02T15:04:05Z\n",
		"o\n1\n" + root + "\ntime 2026-01-02T15:04:05+00:00\n",
		"",
		"\n\n\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		cp, err := tlog.ParseCheckpoint(body)
		if err != nil {
			if !errors.Is(err, tlog.ErrMalformedCheckpoint) {
				t.Fatalf("error %v does not wrap ErrMalformedCheckpoint", err)
			}
			return
		}
		// A body that parses has exactly one form.
		out, err := cp.Marshal()
		if err != nil || !bytes.Equal(out, body) {
			t.Fatalf("parsed %q but marshals to %q, %v", body, out, err)
		}
	})
}

func FuzzOpenCheckpoint(f *testing.F) {
	_, vkey := testKey(f)
	cp := testCheckpoint()
	msg, err := tlog.Sign(cp, testSigner(f))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(msg)
	f.Add(msg[:len(msg)-1])
	f.Add(append(append([]byte{}, msg...), msg...))
	f.Add([]byte("o\n1\nAAAA\n\n— o AAAAAAAA\n"))
	f.Fuzz(func(t *testing.T, text []byte) {
		got, err := tlog.OpenCheckpoint(text, vkey, cp.Origin)
		if err != nil {
			return
		}
		// Only the one note we signed opens: the body is fixed by the
		// signature and the signature line must be canonical.
		if got != cp {
			t.Fatalf("opened a checkpoint we never signed: %+v", got)
		}
	})
}

func FuzzVerifyInclusion(f *testing.F) {
	b := build(f, 20)
	root := b.tree.Root()
	f.Add(uint64(3), uint64(20), []byte{}, uint8(0))
	f.Add(uint64(19), uint64(20), []byte{1, 2, 3}, uint8(7))
	f.Add(uint64(0), uint64(1), []byte{}, uint8(0))
	f.Fuzz(func(t *testing.T, index, size uint64, raw []byte, mutate uint8) {
		// Build a proof from raw bytes, seeded with the real proof of a leaf
		// so the fuzzer starts near valid inputs.
		var p [][]byte
		if index < 20 {
			real, _ := b.ref.InclusionProof(index, 20)
			p = append(p, real...)
		}
		for len(raw) >= 32 {
			p = append(p, raw[:32])
			raw = raw[32:]
		}
		if len(raw) > 0 {
			p = append(p, raw)
		}
		if len(p) > 0 && mutate != 0 {
			i := int(mutate) % len(p)
			if len(p[i]) > 0 {
				p[i] = append([]byte{}, p[i]...)
				p[i][int(mutate)%len(p[i])] ^= mutate
			}
		}
		leaf := leafFor(index % 20)
		err := tlog.VerifyInclusion(leaf, index, size, p, root)
		if err == nil {
			// Only the true audit path of a true leaf may verify. The size
			// may differ from 20 only where it gives the path the same shape
			// (index 3 in size 20 or 32): a size means something only with
			// its root, which a checkpoint signs together.
			want, _ := b.ref.InclusionProof(index, 20)
			if index >= 20 || !equalProofs(p, want) || tlog.ProofSize(index, size) != len(want) {
				t.Fatalf("false inclusion: index %d size %d proof %x", index, size, p)
			}
		} else if !errors.Is(err, tlog.ErrInvalidProof) {
			t.Fatalf("error %v does not wrap ErrInvalidProof", err)
		}
	})
}

func FuzzVerifyConsistency(f *testing.F) {
	b := build(f, 20)
	f.Add(uint64(7), uint64(20), []byte{}, uint8(0), false)
	f.Add(uint64(8), uint64(16), []byte{}, uint8(3), false)
	f.Add(uint64(0), uint64(20), []byte{1}, uint8(0), false)
	f.Add(uint64(20), uint64(20), []byte{}, uint8(0), true)
	f.Add(uint64(13), uint64(5), make([]byte, 64), uint8(1), false)
	f.Fuzz(func(t *testing.T, size1, size2 uint64, raw []byte, mutate uint8, swap bool) {
		// Roots of real trees of up to 20 leaves; a proof built from raw
		// bytes, seeded with the real proof so the fuzzer starts near
		// valid inputs.
		size1, size2 = size1%21, size2%21
		r1, r2 := tlog.Hash(b.ref.HashAt(size1)), tlog.Hash(b.ref.HashAt(size2))
		if swap {
			r1, r2 = r2, r1
		}
		var p [][]byte
		real, realErr := b.ref.ConsistencyProof(size1, size2)
		if realErr == nil {
			p = append(p, real...)
		}
		for len(raw) >= 32 {
			p = append(p, raw[:32])
			raw = raw[32:]
		}
		if len(raw) > 0 {
			p = append(p, raw)
		}
		if len(p) > 0 && mutate != 0 {
			i := int(mutate) % len(p)
			if len(p[i]) > 0 {
				p[i] = append([]byte{}, p[i]...)
				p[i][int(mutate)%len(p[i])] ^= mutate
			}
		}
		err := tlog.VerifyConsistency(size1, size2, p, r1, r2)
		if err == nil {
			// Only the real proof between the real roots verifies.
			if realErr != nil || !equalProofs(p, real) || (swap && r1 != r2) {
				t.Fatalf("false consistency: %d → %d, proof %x", size1, size2, p)
			}
		} else if !errors.Is(err, tlog.ErrInvalidProof) {
			t.Fatalf("error %v does not wrap ErrInvalidProof", err)
		}
	})
}
