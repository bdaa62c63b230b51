package storage

import (
	"os"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// settleDisk waits until the kernel has written back every dirty page
// (sync(2) waits for it on Linux), so that a benchmark's reads do not
// queue behind the writeback of the gigabytes an earlier benchmark wrote.
func settleDisk() { syscall.Sync() }

// dropCache evicts dir's files from the page cache (POSIX_FADV_DONTNEED;
// their pages are clean after settleDisk and mapped by no one): the state
// of a store after a reboot.
func dropCache(b testing.TB, dir string) {
	b.Helper()
	eachFile(b, dir, func(f *os.File) error { return unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED) })
}
