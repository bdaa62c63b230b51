//go:build linux || darwin

package storage

import "golang.org/x/sys/unix"

// diskFree is how many bytes an unprivileged writer may still write on
// the file system that holds dir.
func diskFree(dir string) (uint64, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return 0, err
	}
	return uint64(st.Bavail) * uint64(st.Bsize), nil
}
