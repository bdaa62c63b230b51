package sync

import (
	"math/rand/v2"
	"time"
)

// Backoff is exponential backoff with full jitter: the n-th consecutive
// failure waits a random time in [0, min(Max, Min·2ⁿ)), never less than a
// Retry-After the destination asked for.
type Backoff struct {
	Min, Max time.Duration
	// Rand returns a number in [0, 1); nil means math/rand/v2.
	Rand func() float64
}

// Delay returns the wait after the failures-th consecutive failure
// (failures ≥ 1), at least retryAfter.
func (b Backoff) Delay(failures int, retryAfter time.Duration) time.Duration {
	lo, hi := b.Min, b.Max
	if lo <= 0 {
		lo = time.Second
	}
	if hi < lo {
		hi = 5 * time.Minute
	}
	ceil := lo
	for i := 1; i < failures && ceil < hi; i++ {
		ceil *= 2
	}
	ceil = min(ceil, hi)
	r := b.Rand
	if r == nil {
		r = rand.Float64
	}
	// Full jitter, but never below half the minimum so that a burst of
	// failures does not hammer the destination.
	d := lo/2 + time.Duration(r()*float64(ceil-lo/2))
	return max(d, retryAfter)
}
