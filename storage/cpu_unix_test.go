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
