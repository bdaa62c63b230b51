package keystore

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/axiomops/axiom-audit/storage"
)

// A keychain call that does not answer (an unlock prompt nobody answers)
// gives up after callTimeout, as "keychain unavailable", saying what to do.
func TestKeychain_CallTimesOut(t *testing.T) {
	old := callTimeout
	callTimeout = 50 * time.Millisecond
	t.Cleanup(func() { callTimeout = old })
	k := NewKeychain("p")
	block := make(chan struct{})
	defer close(block)
	err := k.call(context.Background(), func() error { <-block; return nil })
	if !errors.Is(err, storage.ErrKeychainUnavailable) || !strings.Contains(err.Error(), "unlock it") {
		t.Fatalf("err = %v", err)
	}
	if got := k.mapError("read", "master-key", err); got != err {
		t.Errorf("mapError changed it to %v", got)
	}
}

// A locked keychain's message does not also say there is no Secret Service.
func TestKeychain_LockedMessage(t *testing.T) {
	msg := (&unavailableError{op: "read", name: "master-key", cause: errors.New("cannot unlock the collection")}).Error()
	if !strings.Contains(msg, "the keychain is locked") || strings.Contains(msg, "no Secret Service") {
		t.Fatalf("message %q", msg)
	}
}
