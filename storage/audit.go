package storage

// An auditor's verification of a copy of the log, with no keychain at all
// (DESIGN.md §5: verification needs no key). Badger encrypts the log at
// rest, so reading it takes one key: the read key, which the owner hands
// out (ReadKey) and which opens nothing else. The data keys that seal
// states are wrapped by the key-encryption key, and the content MACs use a
// key of their own, both derived from the master key under other labels:
// a read key reveals the public records the log's hashes and checkpoints
// cover, and no state.

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	badger "github.com/dgraph-io/badger/v4"
)

// ReadKeySize is the size of a read key.
const ReadKeySize = 32

// readKeyHeader is the first line of an encoded read key.
const readKeyHeader = "axiom-audit read key v1"

// ReadKey returns the log's read key: the key Badger encrypts it at rest
// with, derived from the master key. OpenForAudit opens the log with it,
// for reading. The caller is handing out read access to every public
// record: the app records that (audit.read_key_exported).
func (s *Store) ReadKey() []byte { return bytes.Clone(s.readKey) }

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

// Audit is a log opened for an auditor's verification: read only, with
// its read key and no keystore. It holds no key that decrypts a state or
// signs a checkpoint.
type Audit struct {
	s *Store
	// scratch is the copy of the log Badger had to repair, if it had to
	// (OpenForAudit), removed on Close.
	scratch string
}

// OpenForAudit opens the log in dir for reading with its read key. It
// writes nothing to dir: a copy of a log made while it was open (or after
// a crash), which Badger must repair to read, is repaired in a scratch
// copy under os.TempDir(), removed on Close. On Windows, where Badger has
// no read-only mode, Badger itself may rewrite its own files on close:
// verify a copy there. A key
// that does not open the log gives ErrWrongKey; a log another process has
// open, ErrLocked (verify a copy of the directory).
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
	var scratch string
	if truncateNeeded(err) {
		// A copy made while the log was open (or after a crash) ends in
		// a partly written log file, which Badger truncates on open:
		// it does that to a scratch copy, never to dir.
		if scratch, err = os.MkdirTemp("", "axiom-audit-verify-*"); err != nil {
			return nil, fmt.Errorf("failed to make a scratch copy of %s: %w", dir, err)
		}
		if err = copyFiles(dir, scratch); err == nil {
			db, err = badger.Open(badgerOptions(scratch, opts, readKey))
		}
		if err != nil {
			os.RemoveAll(scratch)
		}
	}
	if err != nil {
		msg := err.Error()
		switch {
		case errors.Is(err, badger.ErrEncryptionKeyMismatch) || strings.Contains(msg, badger.ErrEncryptionKeyMismatch.Error()):
			return nil, fmt.Errorf("the read key does not open the audit log in %s (it is another log's, or the log was re-keyed): %w", dir, ErrWrongKey)
		case strings.Contains(msg, "Cannot acquire directory lock"), strings.Contains(msg, "resource temporarily unavailable"):
			return nil, fmt.Errorf("the audit log in %s is open in another process, such as the desktop app: verify a copy of the directory: %w", dir, ErrLocked)
		}
		return nil, fmt.Errorf("failed to open the audit log in %s for reading: %w", dir, err)
	}
	stride, err := readFormat(db)
	if err != nil {
		db.Close()
		return nil, err
	}
	return &Audit{s: &Store{db: db, opts: opts, log: opts.Logger, stride: stride, dir: dir}, scratch: scratch}, nil
}

// truncateNeeded reports whether err is Badger's ErrTruncateNeeded, which
// it wraps without Unwrap.
func truncateNeeded(err error) bool {
	return err != nil && (errors.Is(err, badger.ErrTruncateNeeded) || strings.Contains(err.Error(), badger.ErrTruncateNeeded.Error()))
}

// copyFiles copies the regular files of dir (a Badger directory has no
// subdirectories) into to.
func copyFiles(dir, to string) error {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range ents {
		if !e.Type().IsRegular() || e.Name() == "LOCK" {
			continue
		}
		if err := copyFile(filepath.Join(dir, e.Name()), filepath.Join(to, e.Name())); err != nil {
			return err
		}
	}
	return nil
}

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	// Badger's log files are preallocated: mostly zeros, which are
	// skipped (the copy is sparse) rather than written.
	buf := make([]byte, 1<<20)
	var size int64
	for {
		n, rerr := io.ReadFull(in, buf)
		if n > 0 {
			chunk := buf[:n]
			if bytes.Count(chunk, []byte{0}) == n {
				_, err = out.Seek(int64(n), io.SeekCurrent)
			} else {
				_, err = out.Write(chunk)
			}
			if err != nil {
				out.Close()
				return err
			}
			size += int64(n)
		}
		if rerr == io.EOF || rerr == io.ErrUnexpectedEOF {
			break
		}
		if rerr != nil {
			out.Close()
			return rerr
		}
	}
	if err := out.Truncate(size); err != nil {
		out.Close()
		return err
	}
	return out.Close()
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
			layout, err = decodeFormat(v)
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

// Organizations lists the organizations of the log, as Store.Organizations.
func (a *Audit) Organizations(ctx context.Context) ([]OrgInfo, error) {
	return a.s.Organizations(ctx)
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
	err := a.s.db.Close()
	if a.scratch != "" {
		os.RemoveAll(a.scratch)
	}
	if err != nil {
		return fmt.Errorf("failed to close the audit log: %w", err)
	}
	return nil
}
