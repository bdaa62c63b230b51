package keystore

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/axiomops/axiom-audit/storage"
	"github.com/zalando/go-keyring"
)

// Service is the keychain service every Axiom Audit secret is stored under.
const Service = "axiom-audit"

// Keychain is the OS keychain as a Keystore: service [Service], user
// "<profile>/<name>", the secret base64-encoded.
//
// go-keyring has no context, and a locked Secret Service may wait for a
// prompt nobody answers: each call therefore runs in its own goroutine and
// returns when ctx is done, leaving that goroutine to finish on its own.
// The process's calls run one at a time (callMu), so that one given up on
// but still running cannot land after a later one (an abandoned Set of one
// key overwriting the key a retry stored), and one given up on while it
// waited for its turn never runs.
type Keychain struct {
	profile string
}

var _ storage.Keystore = (*Keychain)(nil)

// NewKeychain returns the keychain keystore of profile.
func NewKeychain(profile string) *Keychain { return &Keychain{profile: profile} }

// User is the keychain user a secret name is stored under, so that tools
// (secret-tool, Keychain Access) can find it.
func (k *Keychain) User(name string) string { return k.profile + "/" + name }

// Get returns the secret stored under name.
func (k *Keychain) Get(ctx context.Context, name string) ([]byte, error) {
	var encoded string
	err := k.call(ctx, func() (err error) {
		encoded, err = keyring.Get(Service, k.User(name))
		return err
	})
	if err != nil {
		return nil, k.mapError("read", name, err)
	}
	secret, err := base64.StdEncoding.DecodeString(encoded)
	if err != nil {
		return nil, fmt.Errorf("secret %q of profile %q in the OS keychain is not base64 (was it written by another tool?): %w", name, k.profile, err)
	}
	return secret, nil
}

// Set stores secret under name, replacing any earlier value.
func (k *Keychain) Set(ctx context.Context, name string, secret []byte) error {
	encoded := base64.StdEncoding.EncodeToString(secret)
	err := k.call(ctx, func() error { return keyring.Set(Service, k.User(name), encoded) })
	if err != nil {
		return k.mapError("store", name, err)
	}
	return nil
}

// Delete removes the secret stored under name. It is not part of
// storage.Keystore (the store never deletes keys); tests and tools use it.
func (k *Keychain) Delete(ctx context.Context, name string) error {
	err := k.call(ctx, func() error { return keyring.Delete(Service, k.User(name)) })
	if err != nil {
		return k.mapError("delete", name, err)
	}
	return nil
}

// callTimeout bounds one keychain call: a Secret Service waiting on an
// unlock prompt that nobody answers would otherwise hang the app, or a
// command, for ever (and, on a first start, every other process waiting
// for the first-start lock with it).
var callTimeout = 2 * time.Minute

// callMu is held by the keychain call running, across every Keychain.
var callMu sync.Mutex

func (k *Keychain) call(ctx context.Context, fn func() error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if why := noSessionBus(); why != "" {
		return &noBusError{why}
	}
	tctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		callMu.Lock()
		defer callMu.Unlock()
		if err := tctx.Err(); err != nil {
			done <- err // its caller gave up while it waited: it must not run
			return
		}
		done <- fn()
	}()
	select {
	case err := <-done:
		return err
	case <-tctx.Done():
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("the OS keychain did not answer (is it waiting for an unlock prompt?): %w", err)
		}
		return fmt.Errorf("%w: the OS keychain did not answer within %s: is it waiting for you to unlock it? Unlock it and retry",
			storage.ErrKeychainUnavailable, callTimeout)
	}
}

// mapError turns go-keyring's errors into the Keystore contract. Anything
// but "not found" and "too big" means the keychain itself could not be
// used: no D-Bus session, no Secret Service, a locked collection, a
// dismissed prompt.
func (k *Keychain) mapError(op, name string, err error) error {
	switch {
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded), errors.Is(err, storage.ErrKeychainUnavailable):
		return err
	case errors.Is(err, keyring.ErrNotFound):
		return fmt.Errorf("no secret %q for profile %q in the OS keychain (service %q): %w", name, k.profile, Service, storage.ErrKeyNotFound)
	case errors.Is(err, keyring.ErrSetDataTooBig):
		return fmt.Errorf("failed to %s secret %q: the OS keychain refuses a secret that large: %w", op, name, err)
	default:
		return &unavailableError{op: op, name: name, cause: err}
	}
}

// unavailableError matches both storage.ErrKeychainUnavailable and the
// underlying go-keyring or D-Bus error.
type unavailableError struct {
	op, name string
	cause    error
}

func (e *unavailableError) Error() string {
	hint := unavailableHint()
	var nb *noBusError
	if errors.As(e.cause, &nb) {
		hint = "run the command in the desktop session where the keychain is unlocked, " + fileOption
	} else if strings.Contains(e.cause.Error(), "unlock") {
		// The service answered but its collection stayed locked (no
		// unlock prompt, or the prompt was dismissed).
		hint = "the keychain is locked: unlock it (log in to the desktop session, or gnome-keyring-daemon --unlock), " + fileOption
	}
	return fmt.Sprintf("%s: failed to %s secret %q: %v; %s", storage.ErrKeychainUnavailable, e.op, e.name, e.cause, hint)
}

func (e *unavailableError) Unwrap() []error { return []error{storage.ErrKeychainUnavailable, e.cause} }

// noBusError: there is no D-Bus session bus to reach the Secret Service on.
type noBusError struct{ why string }

func (e *noBusError) Error() string { return e.why }

// unavailableHint says how to get a working keychain on this platform.
const fileOption = "or, for a new profile, run with --keystore file (stores keys in a 0600 file; less safe; " +
	"a profile keeps its keys in the keystore it was created with)"

func unavailableHint() string {
	switch runtime.GOOS {
	case "darwin":
		return "unlock the login keychain in Keychain Access, " + fileOption
	case "windows":
		return "check that the Credential Manager service is running, " + fileOption
	default:
		return "no Secret Service on the session bus: install and unlock gnome-keyring or KWallet, " + fileOption
	}
}
