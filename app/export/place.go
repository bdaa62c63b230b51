package export

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// maxPlaceTries bounds the names Place tries: base, base-2, … base-999.
const maxPlaceTries = 999

// Place moves the complete folder tmp into dir under the first free name
// of base, base-2, base-3, …, and returns its path. Folders are named to
// the second, so two exports (or reports) of one organization in the same
// second, as a script writing several formats makes, each get their own.
// It never replaces anything (renameNoReplace: atomically where the
// system can rename without replacing, Linux and macOS). With every name
// taken the error wraps ErrExists.
func Place(tmp, dir, base string) (string, error) {
	return firstFree(dir, base, func(target string) error {
		err := renameNoReplace(tmp, target)
		if err != nil && !errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("failed to move %s into place at %s: %w", tmp, target, err)
		}
		return err
	})
}

// PlaceRecorded is Place for a folder whose writing must be recorded
// before it is visible: it reserves the first free name as an empty folder,
// calls record with that path, and only then moves tmp onto it
// (renameOntoEmpty: atomically on Linux and macOS, where the rename fails
// if anything was put in the folder meanwhile). An error of record or of
// the move removes the empty folder. A crash before record returns leaves
// at most the empty folder; once it has returned, the folder's name is
// written beside tmp (tmp+targetSuffix, synced), so that a crash before the
// move is finished by the next MakePartial in dir: a recorded bundle or
// report is not lost to the clean-up of abandoned folders.
func PlaceRecorded(tmp, dir, base string, record func(target string) error) (string, error) {
	target, err := firstFree(dir, base, func(target string) error {
		err := os.Mkdir(target, 0o755)
		if err != nil && !errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("failed to create %s: %w", target, err)
		}
		return err
	})
	if err != nil {
		return "", err
	}
	if err := record(target); err != nil {
		os.Remove(target)
		return "", err
	}
	// Only insurance against a crash in the next lines: without it the
	// move is still made.
	_ = writeTarget(tmp, dir, filepath.Base(target))
	if err := renameOntoEmpty(tmp, target); err != nil {
		os.Remove(target)
		os.Remove(tmp + targetSuffix)
		return "", fmt.Errorf("it is recorded, but %s could not be moved into place at %s, and was removed: %w", tmp, target, err)
	}
	os.Remove(tmp + targetSuffix)
	return target, nil
}

// firstFree calls take with dir/base, dir/base-2, … dir/base-999 until it
// does not answer fs.ErrExist (the name is taken), and returns the name it
// took; with every name taken the error wraps ErrExists.
func firstFree(dir, base string, take func(target string) error) (string, error) {
	for i := 1; i <= maxPlaceTries; i++ {
		name := base
		if i > 1 {
			name = fmt.Sprintf("%s-%d", base, i)
		}
		target := filepath.Join(dir, name)
		switch err := take(target); {
		case err == nil:
			return target, nil
		case errors.Is(err, fs.ErrExist):
			continue // taken: the next name
		default:
			return "", err
		}
	}
	return "", fmt.Errorf("%s and %s-2 … -%d: %w", filepath.Join(dir, base), base, maxPlaceTries, ErrExists)
}

// checkAndRename renames oldpath to newpath unless newpath exists.
func checkAndRename(oldpath, newpath string) error {
	if _, err := os.Lstat(newpath); err == nil {
		return &os.LinkError{Op: "rename", Old: oldpath, New: newpath, Err: fs.ErrExist}
	}
	return os.Rename(oldpath, newpath)
}
