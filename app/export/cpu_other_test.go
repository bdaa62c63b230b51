//go:build !unix

package export_test

import "time"

// cpuTime is not measured outside Unix; CPU figures read 0.
func cpuTime() time.Duration { return 0 }
