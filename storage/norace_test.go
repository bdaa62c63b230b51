//go:build !race

package storage

// raceEnabled: see race_test.go.
const raceEnabled = false
