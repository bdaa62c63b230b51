package keystore

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/axiomops/axiom-audit/storage"
)

// File is the opt-in file keystore (--keystore file): every secret of a
// profile in one JSON file,
//
//	{"version": 1, "secrets": {"<name>": "<base64>"}}
//
// with mode 0600 in a directory created 0700. The file is only as safe as
// its permissions and the disk it sits on, which is why the OS keychain is
// the default and File announces itself with a warning.
//
// Every Get and Set reads the file again, so that two processes of the same
// profile see each other's writes; Set replaces the file atomically (temp
// file, fsync, rename, fsync of the directory), so a crash leaves the old
// or the new file, never half of one. Writes from concurrent processes are
// not serialised: the last rename wins.
type File struct {
	path string
	mu   sync.Mutex // serialises read-modify-write within this process
}

var _ storage.Keystore = (*File)(nil)

// Place names the file keystore in the store's messages about the anchors
// it holds ("the key file's anchor", not "the keychain anchor").
func (f *File) Place() string { return "key file" }

type fileContents struct {
	Version int               `json:"version"`
	Secrets map[string][]byte `json:"secrets"`
}

// NewFile opens (or prepares to create) the file keystore at path and logs
// a warning on logger, which must not be nil for the warning to be seen (a
// nil logger writes to standard error). It refuses a file or directory
// that group or others can access, and a file it cannot parse.
func NewFile(path string, logger *slog.Logger) (*File, error) {
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("failed to create the keystore directory %s: %w", dir, err)
	}
	di, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("failed to inspect the keystore directory %s: %w", dir, err)
	}
	if di.Mode().Perm()&0o022 != 0 {
		return nil, fmt.Errorf("the keystore directory %s has mode %04o: others could replace the key file; run chmod 700 %s", dir, di.Mode().Perm(), dir)
	}
	f := &File{path: path}
	if _, err := f.load(); err != nil {
		return nil, err
	}
	removeStaleTemps(path, logger)
	logger.Warn("using the file keystore: the audit log's keys are stored in a plain file protected only by its permissions; anyone who can read it as you can decrypt and sign the log. Prefer the OS keychain.",
		"path", path)
	return f, nil
}

// load reads the file; a missing file is an empty keystore.
func (f *File) load() (fileContents, error) {
	c := fileContents{Version: 1, Secrets: map[string][]byte{}}
	fh, err := os.Open(f.path)
	if errors.Is(err, fs.ErrNotExist) {
		return c, nil
	}
	if err != nil {
		return c, fmt.Errorf("failed to open the keystore file %s: %w", f.path, err)
	}
	defer fh.Close()
	fi, err := fh.Stat()
	if err != nil {
		return c, fmt.Errorf("failed to inspect the keystore file %s: %w", f.path, err)
	}
	if !fi.Mode().IsRegular() {
		return c, fmt.Errorf("the keystore file %s is not a regular file", f.path)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return c, fmt.Errorf("the keystore file %s has mode %04o: other users may be able to read the keys; run chmod 600 %s (and consider the keys exposed)", f.path, perm, f.path)
	}
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(fh); err != nil {
		return c, fmt.Errorf("failed to read the keystore file %s: %w", f.path, err)
	}
	dec := json.NewDecoder(&buf)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return c, fmt.Errorf("the keystore file %s is damaged: %w", f.path, err)
	}
	if c.Version != 1 {
		return c, fmt.Errorf("the keystore file %s has version %d; this build reads version 1", f.path, c.Version)
	}
	if c.Secrets == nil {
		c.Secrets = map[string][]byte{}
	}
	return c, nil
}

// Get returns the secret stored under name.
func (f *File) Get(ctx context.Context, name string) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	c, err := f.load()
	if err != nil {
		return nil, err
	}
	s, ok := c.Secrets[name]
	if !ok {
		return nil, fmt.Errorf("no secret %q in the keystore file %s: %w", name, f.path, storage.ErrKeyNotFound)
	}
	return slices.Clone(s), nil
}

// Set stores secret under name, replacing any earlier value. It is durable
// when it returns nil.
func (f *File) Set(ctx context.Context, name string, secret []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	c, err := f.load()
	if err != nil {
		return err
	}
	c.Secrets[name] = append([]byte{}, secret...)
	data, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return fmt.Errorf("failed to encode the keystore file: %w", err)
	}
	if err := writeFileAtomic(f.path, append(data, '\n')); err != nil {
		return fmt.Errorf("failed to store secret %q in %s: %w", name, f.path, err)
	}
	return nil
}

// staleTempAge is how old a temp file of writeFileAtomic must be for
// NewFile to take it for one a crash left behind, rather than another
// process's write in progress.
const staleTempAge = time.Minute

// tempPattern is the name pattern (os.CreateTemp, filepath.Glob) of the
// temp files writeFileAtomic writes next to path.
func tempPattern(path string) string { return "." + filepath.Base(path) + ".tmp-*" }

// removeStaleTemps removes the temp files of path that a crash between
// writing and renaming one left: each is a full copy of the secrets.
func removeStaleTemps(path string, logger *slog.Logger) {
	temps, _ := filepath.Glob(filepath.Join(filepath.Dir(path), tempPattern(path)))
	for _, t := range temps {
		if fi, err := os.Lstat(t); err == nil && fi.Mode().IsRegular() && time.Since(fi.ModTime()) > staleTempAge {
			if err := os.Remove(t); err != nil {
				logger.Warn("failed to remove a copy of the keystore file left by an interrupted write", "path", t, "err", err)
			}
		}
	}
}

// writeFileAtomic replaces path with data so that a crash leaves either the
// old or the new content: write a temp file in the same directory (rename
// is only atomic within a file system), fsync it, rename it over path, and
// fsync the directory so that the rename itself is durable.
func writeFileAtomic(path string, data []byte) (err error) {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, tempPattern(path))
	if err != nil {
		return fmt.Errorf("failed to create a temporary file: %w", err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	// CreateTemp already uses 0600; Chmod says so explicitly and survives
	// an unusual umask-free implementation.
	if err := tmp.Chmod(0o600); err != nil {
		return fmt.Errorf("failed to restrict the temporary file: %w", err)
	}
	if _, err := tmp.Write(data); err != nil {
		return fmt.Errorf("failed to write the temporary file: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("failed to sync the temporary file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("failed to close the temporary file: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("failed to move the new file into place: %w", err)
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("failed to open the directory to sync it: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("failed to sync the directory: %w", err)
	}
	return nil
}
