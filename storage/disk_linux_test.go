package storage

import "syscall"

// settleDisk waits until the kernel has written back every dirty page
// (sync(2) waits for it on Linux), so that a benchmark's reads do not
// queue behind the writeback of the gigabytes an earlier benchmark wrote.
func settleDisk() { syscall.Sync() }
