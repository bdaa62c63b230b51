package tlog

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"

	"github.com/gowebpki/jcs"
	"github.com/transparency-dev/merkle/rfc6962"
)

// HashSize is the size in bytes of every hash in the log (SHA-256).
const HashSize = sha256.Size

// StateCommitmentPrefix is the domain separation prefix of state commitments.
const StateCommitmentPrefix = "axiom-audit/state/v1"

// Hash is a SHA-256 hash: a leaf hash, a tree node, a root or a state
// commitment. Its underlying type is [32]byte, so plain [32]byte values can be
// passed wherever a Hash is expected. In JSON and text it is standard,
// padded base64 (RFC 4648 §4), like the root line of a checkpoint.
type Hash [HashSize]byte

// String returns the hash in standard base64.
func (h Hash) String() string { return base64.StdEncoding.EncodeToString(h[:]) }

// MarshalText encodes the hash in standard base64.
func (h Hash) MarshalText() ([]byte, error) {
	out := make([]byte, base64.StdEncoding.EncodedLen(HashSize))
	base64.StdEncoding.Encode(out, h[:])
	return out, nil
}

// UnmarshalText decodes a hash written by MarshalText. See ParseHash.
func (h *Hash) UnmarshalText(text []byte) error {
	v, err := ParseHash(string(text))
	if err != nil {
		return err
	}
	*h = v
	return nil
}

// ParseHash decodes a hash from standard base64. It accepts only the
// canonical encoding of exactly 32 bytes, so that every hash has one textual
// form.
func ParseHash(s string) (Hash, error) {
	var h Hash
	if len(s) != base64.StdEncoding.EncodedLen(HashSize) {
		return h, fmt.Errorf("hash %.60q is not 44 characters of base64", s)
	}
	b, err := base64.StdEncoding.Strict().DecodeString(s)
	if err != nil || len(b) != HashSize {
		return h, fmt.Errorf("hash %q is not canonical base64 of 32 bytes", s)
	}
	copy(h[:], b)
	return h, nil
}

// EmptyRoot is the root of the empty tree: SHA-256 of no bytes (RFC 6962 §2.1).
func EmptyRoot() Hash { return sha256.Sum256(nil) }

// LeafHash returns the RFC 6962 leaf hash SHA-256(0x00 || publicRecordJCS).
// The argument must already be the RFC 8785 canonical form of the public
// record (see Canonicalize).
func LeafHash(publicRecordJCS []byte) Hash {
	return Hash(rfc6962.DefaultHasher.HashLeaf(publicRecordJCS))
}

// NodeHash returns the RFC 6962 interior node hash SHA-256(0x01 || left || right).
func NodeHash(left, right Hash) Hash {
	return Hash(hashChildren(left[:], right[:]))
}

// Canonicalize returns the RFC 8785 (JCS) canonical form of a JSON text: keys
// sorted by UTF-16 code units, no insignificant whitespace, ES6 number and
// minimal string escaping. It fails on invalid JSON and duplicate keys.
func Canonicalize(json []byte) ([]byte, error) {
	out, err := jcs.Transform(json)
	if err != nil {
		return nil, fmt.Errorf("failed to canonicalize JSON: %w", err)
	}
	return out, nil
}

// StateCommitment returns SHA-256("axiom-audit/state/v1" || salt || stateJCS),
// the public commitment to a sensitive state. stateJCS must be the RFC 8785
// canonical form of the state (see Canonicalize); salt is 32 fresh random
// bytes kept with the encrypted state.
func StateCommitment(salt [32]byte, stateJCS []byte) Hash {
	h := sha256.New()
	h.Write([]byte(StateCommitmentPrefix))
	h.Write(salt[:])
	h.Write(stateJCS)
	return Hash(h.Sum(nil))
}

// hashChildren is the RFC 6962 interior node hash on slices, the form the
// merkle packages take.
func hashChildren(left, right []byte) []byte {
	return rfc6962.DefaultHasher.HashChildren(left, right)
}
