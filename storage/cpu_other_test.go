//go:build !unix

package storage

import "time"

// processCPU is not measured outside Unix; CPU figures read 0.
func processCPU() time.Duration { return 0 }
