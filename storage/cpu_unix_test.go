//go:build unix

package storage

import (
	"syscall"
	"time"
)

// processCPU is the CPU time (user and system) this process has used, for
// benchmarks that report CPU per event beside wall-clock rates: on a
// shared machine the wall clock measures the neighbours too.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// settleDisk waits until the kernel has written back every dirty page
// (sync(2)), so that a benchmark's reads do not queue behind the writeback
// of the gigabytes an earlier benchmark wrote.
func settleDisk() { syscall.Sync() }
