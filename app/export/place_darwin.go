package export

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// renameNoReplace renames oldpath to newpath and fails with an error that
// is fs.ErrExist when newpath exists, atomically (renamex_np with
// RENAME_EXCL). On a file system without it, it checks and renames.
func renameNoReplace(oldpath, newpath string) error {
	err := unix.RenamexNp(oldpath, newpath, unix.RENAME_EXCL)
	if errors.Is(err, unix.ENOTSUP) || errors.Is(err, unix.EINVAL) {
		return checkAndRename(oldpath, newpath)
	}
	if err != nil {
		return &os.LinkError{Op: "rename", Old: oldpath, New: newpath, Err: err}
	}
	return nil
}

// renameOntoEmpty renames the folder oldpath onto newpath, an empty
// folder, which rename(2) replaces atomically (and refuses when it is not
// empty); os.Rename refuses any existing folder.
func renameOntoEmpty(oldpath, newpath string) error {
	if err := unix.Rename(oldpath, newpath); err != nil {
		return &os.LinkError{Op: "rename", Old: oldpath, New: newpath, Err: err}
	}
	return nil
}
