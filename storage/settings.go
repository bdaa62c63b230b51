package storage

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	badger "github.com/dgraph-io/badger/v4"
)

// Settings are the application's small state that is not an audit event:
// API tokens (hashed), preferences, retention policies, sync cursors. They
// live in the same encrypted database under their own tag,
//
//	0x30 0x30 || name (UTF-8)                         value (opaque to the store; empty: cleared)
//
// and are never part of an organization's log, its hashes or its proofs.
// Changing a setting that matters to an auditor (a token, a policy) is
// recorded as an audit event by the application.
const tagSetting byte = 0x30

// maxSettingBytes bounds one setting's value: settings are small by nature.
const maxSettingBytes = 1 << 20

func settingKey(name string) []byte { return append([]byte{tagSetting}, name...) }

// A value the store clears (a finished sweep's progress, an acknowledged
// alert) is overwritten with an empty value rather than deleted. A Badger
// delete is a tombstone that a last-level compaction drops, and a
// value-log GC that read the old value just before the delete writes it
// back under its old version, above the tombstone; once the tombstone is
// gone the old value is the newest version again (dgraph-io/badger#2286
// fixed the window during the rewrite, not this; a soak saw a sweep's
// progress come back within a minute). An empty value is a version like
// any other: compaction keeps the newest, and readers take it for "none".
var cleared = []byte{}

// isCleared reports whether a stored value is a cleared one.
func isCleared(item *badger.Item) bool { return item.ValueSize() == 0 }

func checkSettingName(name string) error {
	if name == "" || len(name) > 512 || !utf8.ValidString(name) || strings.ContainsRune(name, 0) {
		return fmt.Errorf("setting name %q: must be 1–512 bytes of UTF-8 without NUL", name)
	}
	return nil
}

// ReadSetting returns the value of the setting name, or an error matching
// ErrNotFound when it has none (never written, or cleared).
func (s *Store) ReadSetting(ctx context.Context, name string) ([]byte, error) {
	if err := checkSettingName(name); err != nil {
		return nil, err
	}
	var out []byte
	err := s.view(ctx, func(txn *badger.Txn) error {
		item, err := txn.Get(settingKey(name))
		if errors.Is(err, badger.ErrKeyNotFound) || err == nil && isCleared(item) {
			return fmt.Errorf("setting %q: %w", name, ErrNotFound)
		}
		if err != nil {
			return err
		}
		out, err = item.ValueCopy(nil)
		return err
	})
	return out, err
}

// WriteSetting durably records value as the setting name, replacing the
// previous value. It returns once the write is synced to disk. An empty
// value clears the setting: it then reads as not found.
func (s *Store) WriteSetting(ctx context.Context, name string, value []byte) error {
	if err := checkSettingName(name); err != nil {
		return err
	}
	if value == nil {
		value = cleared
	}
	if len(value) > maxSettingBytes {
		return fmt.Errorf("setting %q: value of %d bytes is over the %d-byte limit", name, len(value), maxSettingBytes)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	s.closeMu.RLock()
	defer s.closeMu.RUnlock()
	if s.closed {
		return ErrClosed
	}
	err := s.update(func(txn *badger.Txn) error { return txn.Set(settingKey(name), value) })
	if err != nil {
		return fmt.Errorf("failed to write setting %q: %w", name, err)
	}
	return nil // synced: every commit is (SyncWrites, store.go)
}

// ScanSettings calls fn for every setting whose name starts with prefix, in
// name order, cleared ones left out.
func (s *Store) ScanSettings(ctx context.Context, prefix string, fn func(name string, value []byte) error) error {
	return s.view(ctx, func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: settingKey(prefix), PrefetchValues: true, PrefetchSize: 16})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			if err := ctx.Err(); err != nil {
				return err
			}
			item := it.Item()
			if isCleared(item) {
				continue
			}
			v, err := item.ValueCopy(nil)
			if err != nil {
				return err
			}
			if err := fn(string(item.Key()[1:]), v); err != nil {
				return err
			}
		}
		return nil
	})
}
