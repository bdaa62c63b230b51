//go:build !linux && !darwin

package export

// renameNoReplace renames oldpath to newpath unless newpath exists (an
// error that is fs.ErrExist). Without an atomic way here, a folder created
// at newpath between the check and the rename may be replaced if empty.
func renameNoReplace(oldpath, newpath string) error { return checkAndRename(oldpath, newpath) }
