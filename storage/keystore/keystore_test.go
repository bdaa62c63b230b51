package keystore_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/axiomops/axiom-audit/storage"
	"github.com/axiomops/axiom-audit/storage/keystore"
	"github.com/axiomops/axiom-audit/storage/keystore/keystoretest"
)

func TestMemory(t *testing.T) {
	keystoretest.Run(t, func(t *testing.T) storage.Keystore { return keystore.NewMemory() })
}

func TestFile(t *testing.T) {
	keystoretest.Run(t, func(t *testing.T) storage.Keystore {
		f, err := keystore.NewFile(filepath.Join(t.TempDir(), "keys", "keystore.json"), slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		return f
	})
}

// TestKeychain runs the suite against the real Secret Service and checks
// with secret-tool that the secret really is there.
func TestKeychain(t *testing.T) {
	keystoretest.RequireKeychain(t)
	keystoretest.Run(t, func(t *testing.T) storage.Keystore {
		return &cleanupKeychain{Keychain: keystore.NewKeychain(randomProfile(t)), t: t}
	})

	t.Run("VisibleToSecretTool", func(t *testing.T) {
		if _, err := exec.LookPath("secret-tool"); err != nil {
			t.Fatal("secret-tool (libsecret-tools) is needed to check the keychain from outside")
		}
		profile := randomProfile(t)
		kc := keystore.NewKeychain(profile)
		secret := []byte{0, 1, 2, 0xff, 'k', 0}
		if err := kc.Set(context.Background(), storage.KeyMaster, secret); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { kc.Delete(context.Background(), storage.KeyMaster) })
		out, err := exec.Command("secret-tool", "lookup", "service", keystore.Service, "username", profile+"/"+storage.KeyMaster).Output()
		if err != nil {
			t.Fatalf("secret-tool lookup: %v", err)
		}
		got, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(out)))
		if err != nil || !bytes.Equal(got, secret) {
			t.Fatalf("secret-tool found %q (%v); want base64 of %x", out, err, secret)
		}

		if err := kc.Delete(context.Background(), storage.KeyMaster); err != nil {
			t.Fatal(err)
		}
		if _, err := kc.Get(context.Background(), storage.KeyMaster); !errors.Is(err, storage.ErrKeyNotFound) {
			t.Errorf("Get after Delete = %v; want ErrKeyNotFound", err)
		}
		if err := kc.Delete(context.Background(), storage.KeyMaster); !errors.Is(err, storage.ErrKeyNotFound) {
			t.Errorf("Delete of a deleted secret = %v; want ErrKeyNotFound", err)
		}
	})

	t.Run("ProfilesAreSeparate", func(t *testing.T) {
		a, b := keystore.NewKeychain(randomProfile(t)), keystore.NewKeychain(randomProfile(t))
		if err := a.Set(context.Background(), "x", []byte("a")); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { a.Delete(context.Background(), "x") })
		if _, err := b.Get(context.Background(), "x"); !errors.Is(err, storage.ErrKeyNotFound) {
			t.Errorf("another profile sees the secret: %v", err)
		}
	})
}

// cleanupKeychain deletes what a subtest stored, so runs outside a fresh
// HOME do not leave test secrets in a developer's keychain.
type cleanupKeychain struct {
	*keystore.Keychain
	t    *testing.T
	mu   sync.Mutex
	seen map[string]bool
}

func (c *cleanupKeychain) Set(ctx context.Context, name string, secret []byte) error {
	c.mu.Lock()
	if c.seen == nil {
		c.seen = map[string]bool{}
		c.t.Cleanup(func() {
			for n := range c.seen {
				c.Keychain.Delete(context.Background(), n)
			}
		})
	}
	c.seen[name] = true
	c.mu.Unlock()
	return c.Keychain.Set(ctx, name, secret)
}

func randomProfile(t *testing.T) string {
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("test-%x", b)
}

// envUnavailableChild makes the test binary act as a keychain client with
// no reachable session bus. A subprocess is needed because godbus caches
// the session bus connection for the life of the process.
const envUnavailableChild = "AXIOM_TEST_KEYCHAIN_UNAVAILABLE_CHILD"

func TestKeychain_Unavailable(t *testing.T) {
	if os.Getenv(envUnavailableChild) == "1" {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		kc := keystore.NewKeychain("unavailable")
		_, getErr := kc.Get(ctx, storage.KeyMaster)
		setErr := kc.Set(ctx, storage.KeyMaster, []byte("x"))
		for _, err := range []error{getErr, setErr} {
			fmt.Printf("unavailable=%v notfound=%v msg=%v\n", errors.Is(err, storage.ErrKeychainUnavailable), errors.Is(err, storage.ErrKeyNotFound), err)
		}
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestKeychain_Unavailable$", "-test.count=1")
	cmd.Env = append(os.Environ(),
		envUnavailableChild+"=1",
		"DBUS_SESSION_BUS_ADDRESS=unix:path="+filepath.Join(t.TempDir(), "no-such-bus"),
	)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	lines := 0
	for _, line := range strings.Split(string(out), "\n") {
		if !strings.HasPrefix(line, "unavailable=") {
			continue
		}
		lines++
		if !strings.HasPrefix(line, "unavailable=true notfound=false ") {
			t.Errorf("want ErrKeychainUnavailable, got %s", line)
		}
		for _, want := range []string{"keychain unavailable", "install and unlock gnome-keyring or KWallet", "--keystore file", "0600"} {
			if !strings.Contains(line, want) {
				t.Errorf("message does not say %q: %s", want, line)
			}
		}
	}
	if lines != 2 {
		t.Fatalf("child printed %d results; want 2:\n%s", lines, out)
	}
}

func TestKeychain_ContextDone(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := keystore.NewKeychain("x").Get(ctx, "y"); !errors.Is(err, context.Canceled) {
		t.Errorf("Get with a canceled context = %v", err)
	}
}

func TestFile_Permissions(t *testing.T) {
	discard := slog.New(slog.DiscardHandler)
	t.Run("CreatesPrivateFileAndDir", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "new", "keys.json")
		f, err := keystore.NewFile(path, discard)
		if err != nil {
			t.Fatal(err)
		}
		if err := f.Set(context.Background(), "k", []byte("v")); err != nil {
			t.Fatal(err)
		}
		assertMode(t, path, 0o600)
		assertMode(t, filepath.Dir(path), 0o700)
		entries, _ := os.ReadDir(filepath.Dir(path))
		if len(entries) != 1 {
			t.Errorf("directory holds %d entries; want only the keystore (no temp files left)", len(entries))
		}
	})
	t.Run("RemovesCopiesLeftByACrash", func(t *testing.T) {
		// A crash between writing the temp file and renaming it leaves a
		// full copy of the secrets; a write in progress (a fresh one) is
		// another process's.
		dir := t.TempDir()
		path := filepath.Join(dir, "keys.json")
		stale, fresh := filepath.Join(dir, ".keys.json.tmp-111"), filepath.Join(dir, ".keys.json.tmp-222")
		for _, p := range []string{stale, fresh} {
			if err := os.WriteFile(p, []byte(`{"version":1,"secrets":{"master-key":"c2VjcmV0"}}`), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		old := time.Now().Add(-time.Hour)
		if err := os.Chtimes(stale, old, old); err != nil {
			t.Fatal(err)
		}
		if _, err := keystore.NewFile(path, discard); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(stale); !os.IsNotExist(err) {
			t.Errorf("the stale copy is still there: %v", err)
		}
		if _, err := os.Stat(fresh); err != nil {
			t.Errorf("a write in progress was removed: %v", err)
		}
	})
	t.Run("RefusesReadableByOthers", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "keys.json")
		if err := os.WriteFile(path, []byte(`{"version":1,"secrets":{}}`), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(path, 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := keystore.NewFile(path, discard)
		if err == nil || !strings.Contains(err.Error(), "chmod 600") {
			t.Fatalf("NewFile(0644 file) = %v; want a refusal saying chmod 600", err)
		}
	})
	t.Run("RefusesWhenLoosenedLater", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "keys.json")
		f, err := keystore.NewFile(path, discard)
		if err != nil {
			t.Fatal(err)
		}
		if err := f.Set(context.Background(), "k", []byte("v")); err != nil {
			t.Fatal(err)
		}
		os.Chmod(path, 0o640)
		if _, err := f.Get(context.Background(), "k"); err == nil || errors.Is(err, storage.ErrKeyNotFound) {
			t.Fatalf("Get from a 0640 file = %v; want a refusal", err)
		}
	})
	t.Run("RefusesDamagedFile", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "keys.json")
		os.WriteFile(path, []byte(`{"version":1,"secrets":`), 0o600)
		if _, err := keystore.NewFile(path, discard); err == nil || !strings.Contains(err.Error(), "damaged") {
			t.Fatalf("NewFile(damaged) = %v", err)
		}
	})
	t.Run("WarnsOnOpen", func(t *testing.T) {
		var buf bytes.Buffer
		path := filepath.Join(t.TempDir(), "keys.json")
		if _, err := keystore.NewFile(path, slog.New(slog.NewTextHandler(&buf, nil))); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(buf.String(), "level=WARN") || !strings.Contains(buf.String(), "file keystore") || !strings.Contains(buf.String(), path) {
			t.Errorf("no warning naming the file: %q", buf.String())
		}
	})
	t.Run("PersistsAcrossOpens", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "keys.json")
		f, _ := keystore.NewFile(path, discard)
		if err := f.Set(context.Background(), storage.KeyMaster, []byte{0, 1, 2}); err != nil {
			t.Fatal(err)
		}
		g, err := keystore.NewFile(path, discard)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := g.Get(context.Background(), storage.KeyMaster); err != nil || !bytes.Equal(got, []byte{0, 1, 2}) {
			t.Errorf("reopened Get = %x, %v", got, err)
		}
	})
}

func assertMode(t *testing.T, path string, want os.FileMode) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != want {
		t.Errorf("%s has mode %04o; want %04o", path, got, want)
	}
}

// TestKeychain_StoreKeys opens a store with the real keychain: the master
// key and, after a rotation, the organization's new key-encryption key are
// in the keychain, where secret-tool finds them, and in no file of the log;
// reopened with them, the store reads every state.
func TestKeychain_StoreKeys(t *testing.T) {
	keystoretest.RequireKeychain(t)
	if _, err := exec.LookPath("secret-tool"); err != nil {
		t.Fatal("secret-tool (libsecret-tools) is needed to check the keychain from outside")
	}
	ctx := context.Background()
	profile := randomProfile(t)
	kc := &cleanupKeychain{Keychain: keystore.NewKeychain(profile), t: t}
	dir := filepath.Join(t.TempDir(), "log")
	open := func() *storage.Store {
		s, err := storage.Open(ctx, dir, kc, storage.Options{GCInterval: -1})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	event := func(i int) storage.Event {
		return storage.Event{ID: fmt.Sprintf("01900000-0000-7000-8000-%012x", i), Timestamp: time.Now().UTC().Add(-time.Minute),
			OrganizationID: "acme", UserID: "ops@example.com", Provider: "aws", ActionType: "apply.mutation",
			ResourceIDs: []string{"arn:aws:ec2:eu-west-1:1:instance/i-1"}, Status: "applied", RiskLevel: "low",
			BeforeState: []byte(`{"size":"t3.micro"}`), AfterState: []byte(fmt.Sprintf(`{"size":"t3.large","i":%d}`, i))}
	}
	s := open()
	if _, err := s.Append(ctx, []storage.Event{event(1)}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RotateDataKey(ctx, "acme", "tester"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Append(ctx, []storage.Event{event(2)}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	var secrets [][]byte
	for _, name := range []string{storage.KeyMaster, storage.KeyKEK("acme", 1)} {
		out, err := exec.Command("secret-tool", "lookup", "service", keystore.Service, "username", profile+"/"+name).Output()
		if err != nil {
			t.Fatalf("secret-tool lookup of %s: %v", name, err)
		}
		got, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(out)))
		if err != nil || len(got) != 32 {
			t.Fatalf("secret-tool found %q for %s (%v); want base64 of 32 bytes", out, name, err)
		}
		secrets = append(secrets, got)
	}
	err := filepath.Walk(filepath.Dir(dir), func(path string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for i, k := range secrets {
			for _, form := range [][]byte{k, []byte(base64.StdEncoding.EncodeToString(k)), []byte(fmt.Sprintf("%x", k))} {
				if bytes.Contains(b, form) {
					t.Errorf("%s holds key %d", path, i)
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	s = open()
	defer s.Close()
	for i := 1; i <= 2; i++ {
		e, err := s.Get(ctx, "acme", event(i).ID)
		if err != nil || e.StatesSealed || !strings.Contains(string(e.AfterState), "t3.large") {
			t.Fatalf("event %d after reopening: %s, sealed %v, %v", i, e.AfterState, e.StatesSealed, err)
		}
	}
}
