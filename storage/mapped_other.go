//go:build !linux

package storage

// releaseMapped leaves the resident pages of mapped files to the operating
// system's own policy outside Linux.
func releaseMapped(dir string, budget int64, pin func() *pinned) error { return nil }
