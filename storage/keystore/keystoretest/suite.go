// Package keystoretest is the conformance suite of storage.Keystore, run
// against every implementation, and the helper that decides whether the
// tests that need the real OS keychain run.
//
// It is a non-test package so that other packages' tests (the store's, the
// app's) can use it too.
package keystoretest

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/axiomops/axiom-audit/storage"
	"github.com/axiomops/axiom-audit/storage/keystore"
)

// Run checks that the keystores made by open keep the storage.Keystore
// contract. open is called once per subtest and must return an empty
// keystore (cleaning up after itself with t.Cleanup if it needs to).
func Run(t *testing.T, open func(t *testing.T) storage.Keystore) {
	t.Run("MissingIsErrKeyNotFound", func(t *testing.T) {
		ks := open(t)
		_, err := ks.Get(ctx(t), "absent")
		if !errors.Is(err, storage.ErrKeyNotFound) {
			t.Fatalf("Get(absent) = %v; want an error matching ErrKeyNotFound", err)
		}
		if errors.Is(err, storage.ErrKeychainUnavailable) {
			t.Errorf("Get(absent) = %v also matches ErrKeychainUnavailable", err)
		}
		if !strings.Contains(err.Error(), "absent") {
			t.Errorf("error %q does not name the secret", err)
		}
	})

	t.Run("RoundTripBinary", func(t *testing.T) {
		ks := open(t)
		secret := make([]byte, 0, 260)
		for i := range 256 {
			secret = append(secret, byte(i))
		}
		secret = append(secret, 0, 0, 0, 0) // trailing zeros must survive
		mustSet(t, ks, storage.KeyMaster, secret)
		got := mustGet(t, ks, storage.KeyMaster)
		if !bytes.Equal(got, secret) {
			t.Fatalf("Get returned %x; want %x", got, secret)
		}
		got[0] ^= 0xff
		if again := mustGet(t, ks, storage.KeyMaster); !bytes.Equal(again, secret) {
			t.Error("changing the slice Get returned changed the stored secret")
		}
	})

	t.Run("SetCopiesItsArgument", func(t *testing.T) {
		ks := open(t)
		secret := []byte("original")
		mustSet(t, ks, "copy", secret)
		copy(secret, "XXXXXXXX")
		if got := mustGet(t, ks, "copy"); string(got) != "original" {
			t.Errorf("Get = %q after the caller reused its buffer; want %q", got, "original")
		}
	})

	t.Run("Overwrite", func(t *testing.T) {
		ks := open(t)
		mustSet(t, ks, storage.KeySigning, []byte("first"))
		mustSet(t, ks, storage.KeySigning, []byte("second, longer"))
		mustSet(t, ks, storage.KeySigning, []byte("3rd"))
		if got := mustGet(t, ks, storage.KeySigning); string(got) != "3rd" {
			t.Errorf("Get = %q after overwrites; want %q", got, "3rd")
		}
	})

	t.Run("NamesWithSlashes", func(t *testing.T) {
		ks := open(t)
		names := []string{storage.KeyAnchor("org-1"), storage.KeyAnchor("org-1/sub"), storage.KeyAnchor("org-2"), "anchor", "a/b/c/d"}
		for i, n := range names {
			mustSet(t, ks, n, []byte(fmt.Sprintf("value %d", i)))
		}
		for i, n := range names {
			if got := mustGet(t, ks, n); string(got) != fmt.Sprintf("value %d", i) {
				t.Errorf("Get(%q) = %q; want %q", n, got, fmt.Sprintf("value %d", i))
			}
		}
		if _, err := ks.Get(ctx(t), storage.KeyAnchor("org-3")); !errors.Is(err, storage.ErrKeyNotFound) {
			t.Errorf("Get(anchor/org-3) = %v; want ErrKeyNotFound", err)
		}
	})

	t.Run("ConcurrentSets", func(t *testing.T) {
		ks := open(t)
		const n = 8
		var wg sync.WaitGroup
		errs := make(chan error, 2*n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := ks.Set(ctx(t), fmt.Sprintf("concurrent/%d", i), []byte{byte(i)}); err != nil {
					errs <- err
				}
				if err := ks.Set(ctx(t), "concurrent/shared", []byte{byte(i)}); err != nil {
					errs <- err
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Errorf("concurrent Set: %v", err)
		}
		for i := range n {
			if got := mustGet(t, ks, fmt.Sprintf("concurrent/%d", i)); !bytes.Equal(got, []byte{byte(i)}) {
				t.Errorf("Get(concurrent/%d) = %x; want %02x (a concurrent Set was lost)", i, got, i)
			}
		}
		if got := mustGet(t, ks, "concurrent/shared"); len(got) != 1 || got[0] >= n {
			t.Errorf("Get(concurrent/shared) = %x; want one of the written values", got)
		}
	})

	t.Run("Large4KiB", func(t *testing.T) {
		ks := open(t)
		secret := make([]byte, 4096)
		if _, err := rand.Read(secret); err != nil {
			t.Fatal(err)
		}
		mustSet(t, ks, "large", secret)
		if got := mustGet(t, ks, "large"); !bytes.Equal(got, secret) {
			t.Errorf("4 KiB secret came back as %d different bytes", len(got))
		}
	})

	t.Run("CanceledContext", func(t *testing.T) {
		ks := open(t)
		c, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := ks.Get(c, "absent"); !errors.Is(err, context.Canceled) {
			t.Errorf("Get with a canceled context = %v; want context.Canceled", err)
		}
		if err := ks.Set(c, "x", []byte("x")); !errors.Is(err, context.Canceled) {
			t.Errorf("Set with a canceled context = %v; want context.Canceled", err)
		}
	})
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

func mustSet(t *testing.T, ks storage.Keystore, name string, secret []byte) {
	t.Helper()
	if err := ks.Set(ctx(t), name, secret); err != nil {
		t.Fatalf("Set(%q): %v", name, err)
	}
}

func mustGet(t *testing.T, ks storage.Keystore, name string) []byte {
	t.Helper()
	got, err := ks.Get(ctx(t), name)
	if err != nil {
		t.Fatalf("Get(%q): %v", name, err)
	}
	return got
}

// EnvKeychain is set to 1 by `make test`, which runs the tests inside
// dbus-run-session with an unlocked gnome-keyring and a fresh HOME.
const EnvKeychain = "AXIOM_TEST_KEYCHAIN"

// RequireKeychain skips t unless the real OS keychain is meant to be
// tested (AXIOM_TEST_KEYCHAIN=1), and fails it when it is meant to be but
// cannot be reached: a broken `make test` environment must not pass as
// skipped.
func RequireKeychain(t testing.TB) {
	t.Helper()
	if os.Getenv(EnvKeychain) != "1" {
		t.Skip("real keychain tests run under make test (AXIOM_TEST_KEYCHAIN=1)")
	}
	c, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	var probe [8]byte
	_, _ = rand.Read(probe[:])
	_, err := keystore.NewKeychain(fmt.Sprintf("probe-%x", probe)).Get(c, "probe")
	if err != nil && !errors.Is(err, storage.ErrKeyNotFound) {
		t.Fatalf("%s=1 but the OS keychain is unreachable: %v", EnvKeychain, err)
	}
}
