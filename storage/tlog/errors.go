package tlog

import "errors"

// Sentinel errors. Every error returned by this package that concerns the
// integrity of the log wraps one of them; callers test them with errors.Is.
var (
	// ErrInvalidProof: an inclusion or consistency proof does not verify, or a
	// stored node does not lead to the expected root.
	ErrInvalidProof = errors.New("invalid proof")
	// ErrNodeNotFound: a NodeReader has no hash for a perfect subtree node
	// that the requested tree size needs. Readers wrap it.
	ErrNodeNotFound = errors.New("tree node not found")
	// ErrMalformedCheckpoint: a checkpoint body or its signed note is not in
	// the C2SP tlog-checkpoint format this package writes.
	ErrMalformedCheckpoint = errors.New("malformed checkpoint")
	// ErrBadSignature: the checkpoint carries a signature by the expected key
	// that does not verify.
	ErrBadSignature = errors.New("bad checkpoint signature")
	// ErrUnknownKey: the checkpoint is not signed by the expected key.
	ErrUnknownKey = errors.New("checkpoint not signed by the expected key")
	// ErrWrongOrigin: the checkpoint belongs to another log.
	ErrWrongOrigin = errors.New("checkpoint has the wrong origin")
	// ErrInconsistent: a checkpoint is not an extension of an earlier one
	// (smaller tree, different root at the same size, or a consistency proof
	// that fails).
	ErrInconsistent = errors.New("checkpoints are inconsistent")
	// ErrInvalidKey: a signer or verifier key text cannot be used.
	ErrInvalidKey = errors.New("invalid checkpoint key")
	// ErrInvalidRange: a persisted compact range does not fit its tree size.
	ErrInvalidRange = errors.New("invalid compact range")
)
