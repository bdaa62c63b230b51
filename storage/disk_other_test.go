//go:build !linux

package storage

import "testing"

// dropCache is a no-op outside Linux: cold figures read as warm ones.
func dropCache(b testing.TB, dir string) {}

// settleDisk is a no-op outside Linux, where sync(2) need not wait for the
// writeback.
func settleDisk() {}
