package storage

// An auditor's verification of a copy of the log, with no keychain at all
// (DESIGN.md §5: verification needs no key). The owner makes the copy
// (CopyForAudit): one consistent snapshot of the log's records, indexes,
// tree, checkpoints, alerts and retention policies, in a new Badger
// database encrypted at rest with a fresh key of its own, the copy's read
// key. The copy holds no data key, no token, no sync setting: the read key
// reads the public records the log's hashes and checkpoints cover (the
// states stay sealed with data keys it cannot unwrap), and it opens
// nothing of the owner's log.

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strings"
	"time"

	badger "github.com/dgraph-io/badger/v4"

	"github.com/axiomops/axiom-audit/storage/tlog"
)

// ReadKeySize is the size of a read key.
const ReadKeySize = 32

// readKeyHeader is the first line of an encoded read key.
const readKeyHeader = "axiom-audit read key v1"

// EncodeReadKey is the text form of a read key, as a file holds it: a
// header line, then the key in lowercase hex, each line ending in "\n".
func EncodeReadKey(key []byte) []byte {
	return []byte(readKeyHeader + "\n" + hex.EncodeToString(key) + "\n")
}

// ParseReadKey parses the text form of a read key (EncodeReadKey; "\r\n"
// line ends are accepted too, as a file copied through Windows may have).
func ParseReadKey(text []byte) ([]byte, error) {
	s := strings.ReplaceAll(string(text), "\r\n", "\n")
	header, rest, ok := strings.Cut(s, "\n")
	if !ok || header != readKeyHeader {
		return nil, fmt.Errorf("not a read key: the first line must be %q", readKeyHeader)
	}
	line, rest, ok := strings.Cut(rest, "\n")
	if rest != "" {
		return nil, errors.New("a read key has two lines: there is more after the key")
	}
	if !ok && line == "" {
		return nil, errors.New("the key line is missing")
	}
	if len(line) != 2*ReadKeySize || strings.ToLower(line) != line {
		return nil, fmt.Errorf("the key line must be %d lowercase hex digits, it has %d characters", 2*ReadKeySize, len(line))
	}
	key, err := hex.DecodeString(line)
	if err != nil {
		return nil, fmt.Errorf("the key line is not hex: %v", err)
	}
	return key, nil
}

// CopySummary says what CopyForAudit copied.
type CopySummary struct {
	Orgs   int    // organizations with events
	Events uint64 // records (tombstones included)
}

// copiedFor reports whether a key that copiedTag takes belongs in a copy
// of the organizations only: the log's own metadata, and the keys and
// retention settings of those organizations.
func copiedFor(k []byte, only []string) bool {
	switch k[0] {
	case tagMeta:
		return true
	case tagSetting:
		name := string(k[1:])
		for _, o := range only {
			if name == retentionSettingName(o) || name == sweepSettingName(o) {
				return true
			}
		}
		return false
	}
	// Per-organization keys are tag || org || 0x00 || ... (format.go).
	i := bytes.IndexByte(k[1:], 0)
	return i > 0 && slices.Contains(only, string(k[1:1+i]))
}

// copiedTag reports whether a key goes into an auditor's copy: everything
// Verify reads, and nothing that is a secret or the app's own business.
func copiedTag(k []byte) bool {
	switch k[0] {
	case tagHead, tagRecord, tagID, tagTime, tagIndex, tagCounter, tagPrunedCounter,
		tagTreeNode, tagCompact, tagCheckpt, tagAlert:
		return true
	case tagMeta:
		// The format, the verifier key and the installation id; not the
		// data keys' ages.
		name := string(k[1:])
		return name == metaFormat || name == metaVerifierKey || name == metaInstallationID || name == metaCopiedAt
	case tagSetting:
		// The retention policies and sweeps, against which Verify tells
		// tombstones from deletions; not sync destinations or tokens.
		return bytes.HasPrefix(k[1:], []byte(retentionSettingName(""))) || bytes.HasPrefix(k[1:], []byte(sweepSettingName("")))
	}
	return false // data keys (wrapped), anything unknown
}

// CopyForAudit writes a copy of the log for an auditor into dir, which
// must not exist (its parent must): one consistent snapshot, in a new
// Badger database encrypted at rest with a fresh key, which it returns
// (the copy's read key, for OpenForAudit). Events no stored checkpoint
// covers get one in the copy (snapshotCheckpoint), so that a verification
// against the owner's verifier key finds none unsigned. Appends go on
// meanwhile. On failure dir is removed.
func (s *Store) CopyForAudit(ctx context.Context, dir string) (CopySummary, []byte, error) {
	return s.CopyForAuditOf(ctx, dir, nil)
}

// CopyForAuditOf is CopyForAudit of the organizations orgs only (nil:
// every one): their records, indexes, trees, checkpoints, alerts and
// retention, and none of another organization's. An organization of orgs
// with no log is ErrNotFound, and nothing is copied.
func (s *Store) CopyForAuditOf(ctx context.Context, dir string, orgs []string) (CopySummary, []byte, error) {
	for _, o := range orgs {
		if !validOrg(o) {
			return CopySummary{}, nil, fmt.Errorf("organization id %q is not valid: %w", o, ErrNotFound)
		}
	}
	if err := os.Mkdir(dir, 0o700); err != nil {
		return CopySummary{}, nil, fmt.Errorf("failed to make the copy's directory: %w", err)
	}
	key := make([]byte, ReadKeySize)
	rand.Read(key)
	sum, err := s.copyForAudit(ctx, dir, key, orgs)
	if err != nil {
		os.RemoveAll(dir)
		return CopySummary{}, nil, err
	}
	return sum, key, nil
}

func (s *Store) copyForAudit(ctx context.Context, dir string, key []byte, only []string) (CopySummary, error) {
	var sum CopySummary
	// The store stays open while the copy reads it (Close waits).
	s.closeMu.RLock()
	defer s.closeMu.RUnlock()
	if s.closed {
		return sum, ErrClosed
	}
	txn := s.db.NewTransaction(false)
	defer txn.Discard()
	copiedAt := s.opts.Now().UTC()
	db, err := badger.Open(badgerOptions(dir, s.opts, key).WithSyncWrites(false).WithLogger(nil))
	if err != nil {
		return sum, fmt.Errorf("failed to create the copy: %w", err)
	}
	defer func() {
		if db != nil {
			db.Close()
		}
	}()
	wb := db.NewWriteBatch()
	defer wb.Cancel()
	it := txn.NewIterator(badger.IteratorOptions{PrefetchValues: true, PrefetchSize: 64})
	defer it.Close()
	var orgs []string
	for it.Rewind(); it.Valid(); it.Next() {
		if err := ctx.Err(); err != nil {
			return sum, err
		}
		item := it.Item()
		k := item.KeyCopy(nil)
		if len(k) == 0 || !copiedTag(k) || only != nil && !copiedFor(k, only) {
			continue
		}
		v, err := item.ValueCopy(nil)
		if err != nil {
			return sum, fmt.Errorf("failed to read the log for the copy: %w", err)
		}
		if err := wb.Set(k, v); err != nil {
			return sum, fmt.Errorf("failed to write the copy: %w", err)
		}
		switch k[0] {
		case tagRecord:
			sum.Events++
		case tagHead:
			if org, ok := keyOrg(k); ok {
				orgs = append(orgs, org)
			}
		}
	}
	it.Close()
	for _, o := range only {
		if !slices.Contains(orgs, o) {
			return sum, fmt.Errorf("organization %q has no log to copy: %w", o, ErrNotFound)
		}
	}
	// Events the snapshot holds beyond its organization's newest
	// checkpoint get one, of the snapshot's own tree, in the copy only:
	// a true statement about the log, which the owner's key signs, so
	// that a verification against that key finds nothing unsigned.
	for _, org := range orgs {
		k, v, ok, err := s.snapshotCheckpoint(ctx, txn, org, copiedAt)
		if err != nil {
			return sum, err
		}
		if ok {
			if err := wb.Set(k, v); err != nil {
				return sum, fmt.Errorf("failed to write the copy: %w", err)
			}
		}
	}
	if err := wb.Set(metaKey(metaCopiedAt), []byte(copiedAt.Format(time.RFC3339Nano))); err != nil {
		return sum, fmt.Errorf("failed to write the copy: %w", err)
	}
	if err := wb.Flush(); err != nil {
		return sum, fmt.Errorf("failed to write the copy: %w", err)
	}
	err = db.Close()
	db = nil
	if err != nil {
		return sum, fmt.Errorf("failed to close the copy: %w", err)
	}
	sum.Orgs = len(orgs)
	return sum, nil
}

// snapshotCheckpoint signs a checkpoint of org's tree as txn sees it,
// numbered after the newest checkpoint txn holds, when that one does not
// cover the tree: the key and value to store it under. It signs nothing
// for an organization under an integrity alert, or whose tree does not
// extend its newest checkpoint (Verify then says what is wrong).
func (s *Store) snapshotCheckpoint(ctx context.Context, txn *badger.Txn, org string, at time.Time) (k, v []byte, ok bool, err error) {
	in := s.integ
	if in == nil || in.disabled {
		return nil, nil, false, nil
	}
	in.mu.Lock()
	_, alerted := in.alerts[org]
	in.mu.Unlock()
	if alerted {
		return nil, nil, false, nil
	}
	t, _, err := readTree(txn, org)
	if err != nil || t.Size() == 0 {
		return nil, nil, false, nil
	}
	prev, n, err := s.newestCheckpoint(txn, org)
	if err != nil || n > 0 && prev.Checkpoint.Size >= t.Size() {
		return nil, nil, false, nil
	}
	next := tlog.Checkpoint{Origin: tlog.Origin(in.instID, org), Size: t.Size(), Root: t.Root(), Time: at}
	if root, err := tlog.RootAt(ctx, s.nodes(txn, org), next.Size); err != nil || root != next.Root {
		return nil, nil, false, ctx.Err()
	}
	if n > 0 && tlog.CheckConsistent(ctx, s.nodes(txn, org), prev.Checkpoint, next) != nil {
		return nil, nil, false, ctx.Err()
	}
	note, err := tlog.Sign(next, in.signer)
	if err != nil {
		return nil, nil, false, err
	}
	sc := SignedCheckpoint{Checkpoint: next, Note: note, Time: at, Number: n + 1}
	return checkpointKey(org, sc.Number), encodeCheckpoint(sc), true, nil
}

// Audit is a log opened for an auditor's verification: read only, with
// its read key and no keystore. It holds no key that decrypts a state or
// signs a checkpoint.
type Audit struct {
	s *Store
}

// OpenForAudit opens a copy of a log (CopyForAudit) in dir for reading
// with its read key, without a keystore. It writes nothing to dir (on
// Windows, where Badger has no read-only mode, Badger may rewrite its own
// files on close). A key that does not open the copy gives ErrWrongKey.
func OpenForAudit(dir string, readKey []byte, opts Options) (*Audit, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	if len(readKey) != ReadKeySize {
		return nil, fmt.Errorf("a read key has %d bytes, not %d: %w", ReadKeySize, len(readKey), ErrWrongKey)
	}
	if !hasData(dir) {
		return nil, fmt.Errorf("%s holds no audit log: %w", dir, ErrNotFound)
	}
	bo := badgerOptions(dir, opts, readKey).WithReadOnly(runtime.GOOS != "windows")
	db, err := badger.Open(bo)
	if err != nil {
		msg := err.Error()
		switch {
		case errors.Is(err, badger.ErrEncryptionKeyMismatch) || strings.Contains(msg, badger.ErrEncryptionKeyMismatch.Error()):
			return nil, fmt.Errorf("the read key does not open the audit log in %s: it is the read key of another copy, or %s is not the copy made with it: %w", dir, dir, ErrWrongKey)
		case strings.Contains(msg, "Cannot acquire directory lock"), strings.Contains(msg, "resource temporarily unavailable"):
			return nil, fmt.Errorf("the audit log in %s is open in another process: %w", dir, ErrLocked)
		case truncateNeeded(err):
			// A copy CopyForAudit made is closed cleanly: one that ends
			// in a partly written file was cut short or changed since.
			return nil, fmt.Errorf("the copy in %s ends in a partly written file (it was cut short or changed after it was made): %w", dir, errCorrupt)
		}
		return nil, fmt.Errorf("failed to open the audit log in %s for reading: %w", dir, err)
	}
	stride, err := readFormat(db)
	if err != nil {
		db.Close()
		return nil, err
	}
	// The copy is judged as of when it was made, by its owner's clock:
	// the auditor's may be behind (a tombstone pruned "later than now").
	if at, err := readCopiedAt(db); err == nil {
		opts.Now = func() time.Time { return at }
	}
	return &Audit{s: &Store{db: db, opts: opts, log: opts.Logger, stride: stride, dir: dir}}, nil
}

// truncateNeeded reports whether err is Badger's ErrTruncateNeeded, which
// it wraps without Unwrap.
func truncateNeeded(err error) bool {
	return err != nil && (errors.Is(err, badger.ErrTruncateNeeded) || strings.Contains(err.Error(), badger.ErrTruncateNeeded.Error()))
}

// metaCopiedAt is when a copy for an auditor was made (RFC 3339), by its
// owner's clock.
const metaCopiedAt = "copied-at"

func readCopiedAt(db *badger.DB) (time.Time, error) {
	var at time.Time
	err := db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(metaKey(metaCopiedAt))
		if err != nil {
			return err
		}
		return item.Value(func(v []byte) error {
			at, err = time.Parse(time.RFC3339Nano, string(v))
			return err
		})
	})
	return at, err
}

// readFormat reads the tree layout of an existing log (checkFormat without
// writing).
func readFormat(db *badger.DB) (uint, error) {
	var layout uint32
	err := db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(metaKey(metaFormat))
		if errors.Is(err, badger.ErrKeyNotFound) {
			return fmt.Errorf("the database records no format version: it is not an audit log: %w", errCorrupt)
		}
		if err != nil {
			return fmt.Errorf("failed to read the format version: %w", err)
		}
		return item.Value(func(v []byte) error {
			layout, _, err = decodeFormat(v)
			return err
		})
	})
	return strideOf(layout), err
}

// Verify is Store.Verify without keys: opts.Keyless is implied. Give
// opts.PublicKey (the verifier key the owner published) and
// opts.Checkpoints (signed checkpoints kept from earlier) for what a copy
// of the log alone cannot show: that its key was not replaced, and that it
// was not rolled back.
func (a *Audit) Verify(ctx context.Context, opts VerifyOptions, report func(Problem) error) (VerifySummary, error) {
	opts.Keyless = true
	return a.s.Verify(ctx, opts, report)
}

// Organizations lists the organizations of the log, as Store.Organizations,
// and those the copy holds an integrity alert of but no log (size 0).
func (a *Audit) Organizations(ctx context.Context) ([]OrgInfo, error) {
	orgs, err := a.s.Organizations(ctx)
	if err != nil {
		return nil, err
	}
	err = a.s.view(ctx, func(txn *badger.Txn) error {
		for _, org := range alertedOrgs(txn) {
			if !slices.ContainsFunc(orgs, func(o OrgInfo) bool { return o.ID == org }) {
				orgs = append(orgs, OrgInfo{ID: org})
			}
		}
		return nil
	})
	return orgs, err
}

// alertedOrgs lists the organizations with an unacknowledged alert stored.
func alertedOrgs(txn *badger.Txn) []string {
	var out []string
	it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte{tagAlert}})
	defer it.Close()
	for it.Rewind(); it.Valid(); it.Next() {
		if org, ok := keyOrg(it.Item().Key()); ok && !isCleared(it.Item()) {
			out = append(out, org)
		}
	}
	return out
}

// PublicKey is the verifier key the log stores (note verifier format).
func (a *Audit) PublicKey() (string, error) {
	var vkey string
	err := a.s.db.View(func(txn *badger.Txn) error {
		var err error
		vkey, _, err = readVerifierMeta(txn)
		return err
	})
	return vkey, err
}

// Close closes the log.
func (a *Audit) Close() error {
	a.s.closeMu.Lock()
	defer a.s.closeMu.Unlock()
	if a.s.closed {
		return nil
	}
	a.s.closed = true
	if err := a.s.db.Close(); err != nil {
		return fmt.Errorf("failed to close the audit log: %w", err)
	}
	return nil
}
