package storage

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"

	badger "github.com/dgraph-io/badger/v4"
)

// StateOpening opens a state commitment: the salt and the canonical (JCS)
// state, so that SHA-256("axiom-audit/state/v1" || Salt || JCS) can be
// checked against the public commitment (tlog.StateCommitment).
type StateOpening struct {
	Salt [32]byte
	JCS  []byte
}

// RevealedState holds the openings of an event's states; a side is nil
// when the event has no such state.
type RevealedState struct {
	Before, After *StateOpening
}

// ErrStatesSealed: the data key that sealed a state is not in this
// database, so the state cannot be revealed.
var ErrStatesSealed = errors.New("the state's data key is not present")

// RevealStates decrypts the states of event id of org and returns them with
// their salts, for an export that reveals states to an auditor. It is the
// only way the salts leave the store; callers audit that they did.
func (s *Store) RevealStates(ctx context.Context, org, id string) (RevealedState, error) {
	if !validOrg(org) {
		return RevealedState{}, fmt.Errorf("organization id %q is not valid: %w", org, ErrNotFound)
	}
	var out RevealedState
	err := s.view(ctx, func(txn *badger.Txn) error {
		item, err := txn.Get(idKey(org, id))
		if errors.Is(err, badger.ErrKeyNotFound) {
			return fmt.Errorf("event %q of organization %q: %w", id, org, ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("failed to read the id index: %w", err)
		}
		var ie idEntry
		if err := item.Value(func(v []byte) error { ie, err = decodeIDEntry(v); return err }); err != nil {
			return err
		}
		rec, err := txn.Get(recordKey(org, ie.seq))
		if errors.Is(err, badger.ErrKeyNotFound) {
			return fmt.Errorf("record seq %d of organization %q is missing: %w", ie.seq, org, ErrTampered)
		}
		if err != nil {
			return fmt.Errorf("failed to read record seq %d: %w", ie.seq, err)
		}
		return rec.Value(func(v []byte) error {
			if isTombstone(v) {
				return prunedError(org, ie.seq, v)
			}
			rv, err := decodeRecordValue(v)
			if err != nil {
				return fmt.Errorf("record seq %d of organization %q: %w", ie.seq, org, err)
			}
			p, err := decodePublic(rv.public)
			if err != nil {
				return fmt.Errorf("record seq %d of organization %q: %w", ie.seq, org, err)
			}
			if p.ID != id || p.Seq != ie.seq {
				return fmt.Errorf("record seq %d names event %q, want %q: %w", ie.seq, p.ID, id, ErrTampered)
			}
			open := func(sealed []byte, side byte, commitment string) (*StateOpening, error) {
				if len(sealed) == 0 {
					return nil, nil
				}
				c, err := hex.DecodeString(commitment)
				if err != nil || len(c) != 32 {
					return nil, fmt.Errorf("record seq %d: state commitment is not 32 bytes of hex: %w", ie.seq, ErrTampered)
				}
				salt, state, err := s.keys.openSealed(ctx, sealed, org, ie.seq, id, side, c)
				if errors.Is(err, errNoDataKey) {
					return nil, fmt.Errorf("event %q (seq %d): %w", id, ie.seq, ErrStatesSealed)
				}
				if err != nil {
					return nil, err
				}
				o := &StateOpening{JCS: append([]byte(nil), state...)}
				copy(o.Salt[:], salt)
				return o, nil
			}
			if out.Before, err = open(rv.sealedBefore, 'b', p.BeforeStateCommitment); err != nil {
				return err
			}
			out.After, err = open(rv.sealedAfter, 'a', p.AfterStateCommitment)
			return err
		})
	})
	return out, err
}
