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
// states, and its lock file; unless its writing was already recorded and
// only the move was left to do (targetSuffix), which it then does.

const lockSuffix = ".lock"

// targetSuffix names the file beside a partial folder (its name plus
// ".target") that holds the name it is being moved to, once its writing is
// recorded (PlaceRecorded): a writer killed before the move leaves it, and
// the next MakePartial finishes the move instead of removing the folder.
const targetSuffix = ".target"

// writeTarget writes name, the folder partial is about to be moved onto,
// beside partial in dir, and syncs it and dir.
func writeTarget(partial, dir, name string) error {
	f, err := os.OpenFile(partial+targetSuffix, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	_, err = f.WriteString(name)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = syncDir(dir)
	}
	return err
}

// finishMove moves the abandoned partial folder onto the folder its
// target file names, when that folder is in dir and still empty: its
// writer recorded it and died before the move. It reports whether it did.
func finishMove(dir, partial string) bool {
	raw, err := os.ReadFile(partial + targetSuffix)
	if err != nil {
		return false
	}
	name := string(raw)
	if name == "" || name != filepath.Base(name) || name == "." || name == ".." || strings.HasPrefix(name, ".") {
		return false
	}
	target := filepath.Join(dir, name)
	if fi, err := os.Lstat(target); err != nil || !fi.IsDir() {
		return false
	}
	if entries, err := os.ReadDir(target); err != nil || len(entries) != 0 {
		return false
	}
	if renameOntoEmpty(partial, target) != nil {
		return false
	}
	syncDir(dir)
	return true
}

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
			os.Remove(dir + targetSuffix)
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
		removed := finishMove(outDir, dir) || os.RemoveAll(dir) == nil
		f.Close() // before the remove: Windows removes no open file
		if removed {
			os.Remove(dir + targetSuffix)
			os.Remove(lockPath)
		}
	}
}

// errLocked is tryLock's answer when another holds the lock.
var errLocked = errors.New("locked")
