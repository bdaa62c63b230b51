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
	for i := 1; i <= maxPlaceTries; i++ {
		name := base
		if i > 1 {
			name = fmt.Sprintf("%s-%d", base, i)
		}
		target := filepath.Join(dir, name)
		switch err := renameNoReplace(tmp, target); {
		case err == nil:
			return target, nil
		case errors.Is(err, fs.ErrExist):
			continue // taken: the next name
		default:
			return "", fmt.Errorf("failed to move %s into place at %s: %w", tmp, target, err)
		}
	}
	return "", fmt.Errorf("%s and %s-2 … -%d: %w", filepath.Join(dir, base), base, maxPlaceTries, ErrExists)
}

// Reserve makes an empty folder in dir under the first free name of base,
// base-2, …, base-999 (as Place names them) and returns its path: the name
// a bundle will have, known before the bundle is there, so that its export
// can be recorded under it first. Fill then moves the bundle onto it.
func Reserve(dir, base string) (string, error) {
	for i := 1; i <= maxPlaceTries; i++ {
		name := base
		if i > 1 {
			name = fmt.Sprintf("%s-%d", base, i)
		}
		target := filepath.Join(dir, name)
		switch err := os.Mkdir(target, 0o755); {
		case err == nil:
			return target, nil
		case errors.Is(err, fs.ErrExist):
			continue
		default:
			return "", fmt.Errorf("failed to create %s: %w", target, err)
		}
	}
	return "", fmt.Errorf("%s and %s-2 … -%d: %w", filepath.Join(dir, base), base, maxPlaceTries, ErrExists)
}

// Fill moves the complete folder tmp onto target, the empty folder Reserve
// made (renameOntoEmpty: atomically on Linux and macOS, where the rename
// fails if anything was put in it meanwhile).
func Fill(tmp, target string) error {
	if err := renameOntoEmpty(tmp, target); err != nil {
		return fmt.Errorf("failed to move %s into place at %s: %w", tmp, target, err)
	}
	return nil
}

// checkAndRename renames oldpath to newpath unless newpath exists.
func checkAndRename(oldpath, newpath string) error {
	if _, err := os.Lstat(newpath); err == nil {
		return &os.LinkError{Op: "rename", Old: oldpath, New: newpath, Err: fs.ErrExist}
	}
	return os.Rename(oldpath, newpath)
}
