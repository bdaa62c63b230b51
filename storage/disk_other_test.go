//go:build !linux

package storage

// settleDisk is a no-op outside Linux, where sync(2) need not wait for the
// writeback.
func settleDisk() {}
