package keystore

import (
	"context"
	"errors"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/axiomops/axiom-audit/storage"
)

// quickKeychain is a keychain whose calls give up after 50 ms, with a
// session bus as far as noSessionBus can tell.
func quickKeychain(t *testing.T) *Keychain {
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent")
	old := callTimeout
	callTimeout = 50 * time.Millisecond
	t.Cleanup(func() { callTimeout = old })
	return NewKeychain("p")
}

// A keychain call that does not answer (an unlock prompt nobody answers)
// gives up after callTimeout, as "keychain unavailable", saying what to do.
func TestKeychain_CallTimesOut(t *testing.T) {
	k := quickKeychain(t)
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

func TestSessionBusMissing(t *testing.T) {
	for _, tc := range []struct {
		name    string
		address string
		files   []string
		missing bool
	}{
		{"address", "unix:path=/run/user/1000/bus", nil, false},
		{"socket in the runtime dir", "", []string{"/run/user/1000/bus"}, false},
		{"dbus-session file", "", []string{"/run/user/1000/dbus-session"}, false},
		{"autolaunch: is no address", "autolaunch:", nil, true},
		{"nothing", "", nil, true},
		{"another user's socket", "", []string{"/run/user/1001/bus"}, true},
	} {
		env := map[string]string{"DBUS_SESSION_BUS_ADDRESS": tc.address}
		why := sessionBusMissing(func(k string) string { return env[k] }, "1000", func(p string) bool {
			for _, f := range tc.files {
				if f == p {
					return true
				}
			}
			return false
		})
		if (why != "") != tc.missing {
			t.Errorf("%s: %q, want missing %v", tc.name, why, tc.missing)
		}
	}
}

// Without a session bus, a keychain call fails at once, saying so and what
// to do, and go-keyring is not called (it would start a bus and a keyring
// daemon that outlive the command).
func TestKeychain_NoSessionBus(t *testing.T) {
	if runtime.GOOS == "darwin" || runtime.GOOS == "windows" {
		t.Skip("no D-Bus on " + runtime.GOOS)
	}
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", "")
	if noSessionBus() == "" {
		t.Skip("this user's runtime directory has a session bus")
	}
	k := NewKeychain("p")
	called := false
	err := k.mapError("read", "master-key", k.call(context.Background(), func() error { called = true; return nil }))
	if called || !errors.Is(err, storage.ErrKeychainUnavailable) ||
		!strings.Contains(err.Error(), "no D-Bus session bus") || !strings.Contains(err.Error(), "desktop session") {
		t.Fatalf("called %v, err = %v", called, err)
	}
	if _, err := k.Get(context.Background(), "master-key"); !errors.Is(err, storage.ErrKeychainUnavailable) {
		t.Fatalf("Get: %v", err)
	}
}

// Calls run one at a time, in turn: while a call given up on still runs
// (a Set waiting on an unlock prompt), a later one waits for it instead of
// running first, and one whose caller gave up while it waited never runs,
// so an abandoned write cannot land after a later one.
func TestKeychain_CallsRunOneAtATime(t *testing.T) {
	k := quickKeychain(t)
	var order []string
	var mu sync.Mutex
	ran := func(s string) {
		mu.Lock()
		order = append(order, s)
		mu.Unlock()
	}
	release := make(chan struct{})
	if err := k.call(context.Background(), func() error { <-release; ran("stuck"); return nil }); !errors.Is(err, storage.ErrKeychainUnavailable) {
		t.Fatalf("the stuck call: %v", err)
	}
	// Waits behind the stuck call, and gives up: it must never run.
	if err := k.call(context.Background(), func() error { ran("abandoned"); return nil }); !errors.Is(err, storage.ErrKeychainUnavailable) {
		t.Fatalf("the call behind it: %v", err)
	}
	// The next one runs once the stuck call ends (with time to spare).
	callTimeout = time.Minute
	res := make(chan error, 1)
	n := runtime.NumGoroutine()
	go func() {
		res <- k.call(context.Background(), func() error { ran("later"); return nil })
	}()
	// Released once the later call waits for its turn: its goroutine and
	// the one it started are running.
	for deadline := time.Now().Add(10 * time.Second); runtime.NumGoroutine() < n+2; runtime.Gosched() {
		if time.Now().After(deadline) {
			t.Fatal("the later call did not start")
		}
	}
	close(release)
	if err := <-res; err != nil {
		t.Fatalf("the later call: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(order, []string{"stuck", "later"}) {
		t.Fatalf("calls ran as %v, want [stuck later]", order)
	}
}
