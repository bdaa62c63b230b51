//go:build race

package storage

// raceEnabled: the race detector slows the bit-flip sweep about tenfold, so
// under -race it flips a deterministic sample of the bits (sweep_test.go).
const raceEnabled = true
