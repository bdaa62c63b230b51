package storage

import (
	"context"
	"encoding/binary"
	"fmt"
	"time"

	badger "github.com/dgraph-io/badger/v4"
)

// ReadFrom returns up to limit events of org with seq > afterSeq, in seq
// order, reading the records directly (tag 0x11, keyed by org and
// big-endian seq). It is the read path of consumers that treat the log as
// a queue, such as sync: no filter, no index, nothing skipped but the records
// retention pruned (tombstone.go), whose seqs are absent. States are
// decrypted only when withStates is true; otherwise only the public record
// and its commitments are returned.
//
// limit <= 0 means DefaultLimit; there is no upper bound other than the
// caller's memory, so callers page.
func (s *Store) ReadFrom(ctx context.Context, org string, afterSeq uint64, limit int, withStates bool) ([]StoredEvent, error) {
	if !validOrg(org) {
		return nil, fmt.Errorf("organization id %q is not valid: %w", org, ErrNotFound)
	}
	if limit <= 0 {
		limit = DefaultLimit
	}
	var out []StoredEvent
	err := s.view(ctx, func(txn *badger.Txn) error {
		prefix := orgPrefix(tagRecord, org)
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix, PrefetchValues: true, PrefetchSize: min(limit, 256)})
		defer it.Close()
		want := afterSeq + 1
		for it.Seek(recordKey(org, want)); it.Valid() && len(out) < limit; it.Next() {
			if err := ctx.Err(); err != nil {
				return err
			}
			item := it.Item()
			k := item.Key()
			if len(k) != len(prefix)+8 {
				return fmt.Errorf("record key of %d bytes in organization %q: %w", len(k), org, ErrTampered)
			}
			seq := binary.BigEndian.Uint64(k[len(prefix):])
			if seq != want {
				return fmt.Errorf("record seq %d of organization %q is missing (found %d): %w", want, org, seq, ErrTampered)
			}
			var se StoredEvent
			pruned := false
			err := item.Value(func(v []byte) error {
				if pruned = isTombstone(v); pruned {
					return nil
				}
				if !withStates {
					var ok bool
					if se, ok = decodeStoredFast(v, org, seq); ok {
						return nil
					}
				}
				var err error
				mode := statesPublic
				if withStates {
					mode = statesAll
				}
				se, err = s.decodeStored(v, org, seq, mode)
				return err
			})
			if err != nil {
				return err
			}
			want++
			if pruned {
				continue // retention removed it: consumers skip its seq
			}
			out = append(out, se)
		}
		return nil
	})
	return out, err
}

// Head returns the newest seq of org (0 when it has no events) and when
// that event was recorded.
func (s *Store) Head(ctx context.Context, org string) (seq uint64, lastRecordedAt time.Time, err error) {
	if !validOrg(org) {
		return 0, time.Time{}, fmt.Errorf("organization id %q is not valid: %w", org, ErrNotFound)
	}
	err = s.view(ctx, func(txn *badger.Txn) error {
		h, err := orgHead(txn, org)
		if err != nil {
			return err
		}
		seq = h.seq
		if h.seq > 0 {
			lastRecordedAt = time.Unix(0, h.lastRecordedAt).UTC()
		}
		return nil
	})
	return seq, lastRecordedAt, err
}
