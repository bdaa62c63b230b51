package export

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// A partial folder is where a bundle or report is written before Place
// gives it its name. Its writer holds a lock on a file beside it (the
// folder's name plus ".lock") for as long as it writes, so that a writer
// killed before it could clean up (SIGKILL, a crash, a power cut) is told
// apart from one still at work: the next MakePartial in the same folder
// finds the lock free and removes the folder, which may hold revealed
// states, and its lock file.

const lockSuffix = ".lock"

// MakePartial creates a new partial folder in outDir named
// prefix+random+".partial" (mode 0700), locked, and removes the partial folders of
// prefix whose writers died. done removes the folder unless it was placed,
// and releases the lock; a folder it cannot remove keeps its lock file, so
// that a later MakePartial removes it.
func MakePartial(outDir, prefix string) (dir string, done func(), err error) {
	removeAbandoned(outDir, prefix)
	// The lock first, and locked before the folder exists: a folder is
	// only ever beside a held lock while its writer lives, and a writer
	// killed at any point leaves a lock file, which tells the next one
	// that what is beside it may be removed.
	lock, err := os.CreateTemp(outDir, prefix+"*.partial"+lockSuffix)
	if err != nil {
		return "", nil, err
	}
	dir = strings.TrimSuffix(lock.Name(), lockSuffix)
	if err = tryLock(lock); err == nil {
		err = os.Mkdir(dir, 0o700)
	}
	if err != nil {
		lock.Close()
		os.Remove(lock.Name())
		return "", nil, err
	}
	return dir, func() {
		err := os.RemoveAll(dir) // nothing left once placed
		// Closed before it is removed (Windows removes no open file): a
		// MakePartial in between finds it free and removes what is
		// already gone.
		lock.Close()
		if err == nil {
			os.Remove(lock.Name())
		}
	}, nil
}

// lonelyLockAge is how old a lock file with no folder beside it must be
// to be removed: a writer makes its folder right after its lock, so an
// older one is a writer killed in between.
const lonelyLockAge = time.Minute

// removeAbandoned removes the partial folders of prefix in outDir whose
// lock is free: their writers are gone. A folder without a lock file (left
// by a build without locks) is left alone.
func removeAbandoned(outDir, prefix string) {
	entries, err := os.ReadDir(outDir)
	if err != nil {
		return
	}
	for _, e := range entries {
		name := e.Name()
		if !strings.HasPrefix(name, prefix) || !strings.HasSuffix(name, ".partial"+lockSuffix) || !e.Type().IsRegular() {
			continue
		}
		lockPath := filepath.Join(outDir, name)
		dir := strings.TrimSuffix(lockPath, lockSuffix)
		if _, err := os.Lstat(dir); errors.Is(err, fs.ErrNotExist) {
			// A writer between its lock and its folder has not locked
			// yet, perhaps: only an old lock file is a dead writer's.
			if fi, err := e.Info(); err != nil || time.Since(fi.ModTime()) < lonelyLockAge {
				continue
			}
		}
		f, err := os.OpenFile(lockPath, os.O_RDWR, 0)
		if err != nil {
			continue
		}
		if tryLock(f) != nil {
			f.Close()
			continue
		}
		removed := os.RemoveAll(dir) == nil
		f.Close() // before the remove: Windows removes no open file
		if removed {
			os.Remove(lockPath)
		}
	}
}

// errLocked is tryLock's answer when another holds the lock.
var errLocked = errors.New("locked")
