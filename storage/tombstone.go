package storage

// # Tombstone (record value version 2)
//
// Retention (retention.go) replaces an expired record's value under 0x11 with
// a tombstone: what a verifier needs to keep the chain and the Merkle tree
// whole, and to tell which policy removed the body and when. The public
// record and the sealed states are gone; the leaf hash stays, so the tree
// nodes, the checkpoints, the next record's prevHash and every proof of a
// surviving event still verify.
//
//	0x02 (tombstone version)
//	seq u64
//	uvarint len || id
//	timestamp i64 (unix ns)    the event's timestamp
//	recordedAt i64 (unix ns)   as in the id index entry, which stays
//	uvarint len || actionType
//	uvarint len || category
//	leafHash [32]              the removed public record's leaf hash
//	prevHash [32]              the removed public record's prevHash
//	uvarint len || policy      the rule's name, e.g. "operational 90 days (v2)"
//	policyVersion u32          the version of the organization's policy
//	windowDays u32             the window that expired (never 0)
//	prunedAt i64 (unix ns)     the sweep's time
//
// The timeline and secondary index entries of a pruned record are deleted
// in the same transaction; its id entry (0x12) stays, so Get answers
// ErrPruned instead of ErrNotFound and a retried append of the same event is
// still recognised.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"
)

// tombstoneV is the record value version of a tombstone.
const tombstoneV byte = 0x02

// ErrPruned: the event existed but retention removed its body; only its
// tombstone remains. The concrete error is a *PrunedError.
var ErrPruned = errors.New("pruned by retention policy")

// PrunedError says which event was pruned, by which policy and when.
type PrunedError struct {
	Org      string
	Seq      uint64
	ID       string
	Policy   string
	PrunedAt time.Time
}

func (e *PrunedError) Error() string {
	return fmt.Sprintf("event %q (seq %d) of organization %q was pruned by policy %s at %s",
		e.ID, e.Seq, e.Org, e.Policy, e.PrunedAt.UTC().Format(time.RFC3339))
}

func (e *PrunedError) Is(target error) bool { return target == ErrPruned }

// tombstone is a decoded tombstone value.
type tombstone struct {
	seq           uint64
	id            string
	timestamp     int64
	recordedAt    int64
	actionType    string
	category      string
	leaf          [32]byte
	prev          [32]byte
	policy        string
	policyVersion uint32
	windowDays    uint32
	prunedAt      int64
}

func (t tombstone) encode() []byte {
	b := make([]byte, 0, 1+8+3*binary.MaxVarintLen16+len(t.id)+len(t.actionType)+len(t.category)+len(t.policy)+16+64+16+8)
	b = append(b, tombstoneV)
	b = binary.BigEndian.AppendUint64(b, t.seq)
	b = binary.AppendUvarint(b, uint64(len(t.id)))
	b = append(b, t.id...)
	b = binary.BigEndian.AppendUint64(b, uint64(t.timestamp))
	b = binary.BigEndian.AppendUint64(b, uint64(t.recordedAt))
	b = binary.AppendUvarint(b, uint64(len(t.actionType)))
	b = append(b, t.actionType...)
	b = binary.AppendUvarint(b, uint64(len(t.category)))
	b = append(b, t.category...)
	b = append(b, t.leaf[:]...)
	b = append(b, t.prev[:]...)
	b = binary.AppendUvarint(b, uint64(len(t.policy)))
	b = append(b, t.policy...)
	b = binary.BigEndian.AppendUint32(b, t.policyVersion)
	b = binary.BigEndian.AppendUint32(b, t.windowDays)
	return binary.BigEndian.AppendUint64(b, uint64(t.prunedAt))
}

// isTombstone reports whether a record value is a tombstone (by its
// version byte; decodeTombstone checks the rest).
func isTombstone(v []byte) bool { return len(v) > 0 && v[0] == tombstoneV }

// decodeTombstone decodes a tombstone value strictly: every field present,
// strings valid for keys, nothing trailing.
func decodeTombstone(b []byte) (tombstone, error) {
	var t tombstone
	if len(b) == 0 || b[0] != tombstoneV {
		return t, fmt.Errorf("tombstone: unknown version: %w", errCorrupt)
	}
	rest := b[1:]
	u64 := func(what string) (uint64, error) {
		if len(rest) < 8 {
			return 0, fmt.Errorf("tombstone: %s truncated: %w", what, errCorrupt)
		}
		v := binary.BigEndian.Uint64(rest)
		rest = rest[8:]
		return v, nil
	}
	str := func(what string) (string, error) {
		f, r, err := readBytes(rest, "tombstone "+what)
		if err != nil {
			return "", err
		}
		if len(f) == 0 || !validKeyString(string(f)) {
			return "", fmt.Errorf("tombstone: %s is empty or not UTF-8 without NUL: %w", what, errCorrupt)
		}
		rest = r
		return string(f), nil
	}
	hash := func(dst *[32]byte, what string) error {
		if len(rest) < 32 {
			return fmt.Errorf("tombstone: %s truncated: %w", what, errCorrupt)
		}
		copy(dst[:], rest)
		rest = rest[32:]
		return nil
	}
	var err error
	var v uint64
	if t.seq, err = u64("seq"); err != nil {
		return t, err
	}
	if t.id, err = str("id"); err != nil {
		return t, err
	}
	if v, err = u64("timestamp"); err != nil {
		return t, err
	}
	t.timestamp = int64(v)
	if v, err = u64("recordedAt"); err != nil {
		return t, err
	}
	t.recordedAt = int64(v)
	if t.actionType, err = str("actionType"); err != nil {
		return t, err
	}
	if t.category, err = str("category"); err != nil {
		return t, err
	}
	if err = hash(&t.leaf, "leaf hash"); err != nil {
		return t, err
	}
	if err = hash(&t.prev, "prevHash"); err != nil {
		return t, err
	}
	if t.policy, err = str("policy"); err != nil {
		return t, err
	}
	if len(rest) != 16 {
		return t, fmt.Errorf("tombstone: %d bytes after the policy name, want 16: %w", len(rest), errCorrupt)
	}
	t.policyVersion = binary.BigEndian.Uint32(rest)
	t.windowDays = binary.BigEndian.Uint32(rest[4:])
	t.prunedAt = int64(binary.BigEndian.Uint64(rest[8:]))
	if t.seq == 0 || t.windowDays == 0 {
		return t, fmt.Errorf("tombstone: seq and window must not be 0: %w", errCorrupt)
	}
	return t, nil
}

// prunedError is the error reading a tombstoned record gives.
func prunedError(org string, seq uint64, v []byte) error {
	t, err := decodeTombstone(v)
	if err != nil {
		return fmt.Errorf("record seq %d of organization %q: %w", seq, org, err)
	}
	if t.seq != seq {
		return fmt.Errorf("tombstone under seq %d of organization %q names seq %d: %w", seq, org, t.seq, ErrTampered)
	}
	return &PrunedError{Org: org, Seq: seq, ID: t.id, Policy: t.policy, PrunedAt: time.Unix(0, t.prunedAt).UTC()}
}
