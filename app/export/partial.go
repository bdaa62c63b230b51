package export

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
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
// and releases the lock.
func MakePartial(outDir, prefix string) (dir string, done func(), err error) {
	removeAbandoned(outDir, prefix)
	// The lock first: a writer killed at any point leaves a lock file,
	// which tells the next one that what is beside it may be removed.
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
		os.RemoveAll(dir) // nothing left once placed
		// Closed before it is removed (Windows removes no open file): a
		// MakePartial in between finds it free and removes what is
		// already gone.
		lock.Close()
		os.Remove(lock.Name())
	}, nil
}

// removeAbandoned removes the partial folders of prefix in outDir whose
// lock is free: their writers are gone. A folder without a lock file (left
// by a build without locks) is left alone.
func removeAbandoned(outDir, prefix string) {
	locks, err := filepath.Glob(filepath.Join(outDir, globEscape(prefix)+"*.partial"+lockSuffix))
	if err != nil {
		return
	}
	for _, name := range locks {
		f, err := os.OpenFile(name, os.O_RDWR, 0)
		if err != nil {
			continue
		}
		if tryLock(f) == nil {
			os.RemoveAll(strings.TrimSuffix(name, lockSuffix))
			os.Remove(name)
		}
		f.Close()
	}
}

// errLocked is tryLock's answer when another holds the lock.
var errLocked = errors.New("locked")

func globEscape(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `*`, `\*`, `?`, `\?`, `[`, `\[`)
	return r.Replace(s)
}
