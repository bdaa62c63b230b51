//go:build !linux && !darwin

package export

import "os"

// renameNoReplace renames oldpath to newpath unless newpath exists (an
// error that is fs.ErrExist). Without an atomic way here, a folder created
// at newpath between the check and the rename may be replaced if empty.
func renameNoReplace(oldpath, newpath string) error { return checkAndRename(oldpath, newpath) }

// renameOntoEmpty renames the folder oldpath onto newpath, an empty
// folder: removed first, as a rename cannot replace a folder here.
func renameOntoEmpty(oldpath, newpath string) error {
	if err := os.Remove(newpath); err != nil {
		return err
	}
	return os.Rename(oldpath, newpath)
}
