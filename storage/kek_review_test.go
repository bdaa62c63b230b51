package storage

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
)

// A backup of the log from before a rotation "still opens" (README). But
// rotating it again reuses the generation the newer log's keys are wrapped
// with, and Set replaces the keystore entry: the newer log's data keys then
// unwrap with nothing, and every state of the organization is lost.
func TestRotation_RestoredBackupRotationKeepsNewerKEK(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	dir, backup := filepath.Join(root, "log"), t.TempDir()
	ks := newStoreKeystore()
	s := openTest(t, dir, ks)
	appendN(t, s, "acme", 0, 2)
	s.Close()
	copyDir(t, dir, backup) // before any rotation: generation 0

	s = openTest(t, dir, ks)
	if _, err := s.RotateDataKey(ctx, "acme", "tester"); err != nil {
		t.Fatal(err)
	}
	appendN(t, s, "acme", 10, 2)
	s.Close()

	// The backup is opened (restored, or looked at) with the profile's
	// keystore and rotated, as the app does on its own for an old key.
	b := openTest(t, backup, ks)
	// The restored backup is a rollback; the user accepts it, as the
	// alert says to.
	if _, err := b.AcknowledgeIntegrityAlert(ctx, "acme", "tester", "restored a backup"); err != nil {
		t.Fatal(err)
	}
	if _, err := b.RotateDataKey(ctx, "acme", "tester"); err != nil {
		t.Fatalf("rotating the backup: %v", err)
	}
	b.Close()

	s = openTest(t, dir, ks)
	defer s.Close()
	statesReadable(t, s, "acme", 5)
}

// A rotation whose commit reached Badger but was answered as failed (here:
// the files were replaced before the answer) is followed, without a
// reopen, by a retry: the retry replaces the KEK the committed keys are
// wrapped with before the failed store refuses it.
func TestRotation_RetryAfterUnknownOutcomeKeepsKEK(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	ks := newStoreKeystore()
	s := openTest(t, dir, ks)
	appendN(t, s, "acme", 0, 2)
	lock := filepath.Join(dir, badgerLockFile)
	s.beforeCommit = func() error {
		// Replace the lock file (another inode) just before the commit.
		if err := os.Rename(lock, lock+".orig"); err != nil {
			return err
		}
		return os.WriteFile(lock, nil, 0o600)
	}
	_, err := s.RotateDataKey(ctx, "acme", "tester")
	s.beforeCommit = nil
	if err == nil {
		t.Fatal("rotation succeeded")
	}
	t.Logf("first rotation: %v", err)
	if err := os.Rename(lock+".orig", lock); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RotateDataKey(ctx, "acme", "tester"); err == nil {
		t.Fatal("retry succeeded on a failed store")
	}
	s.Close()
	s = openTest(t, dir, ks)
	defer s.Close()
	page, err := s.List(ctx, Filter{Org: "acme", Limit: 10})
	if err != nil {
		if errors.Is(err, ErrWrongKey) {
			t.Fatalf("the retry replaced the KEK of the committed rotation: %v", err)
		}
		t.Fatal(err)
	}
	t.Logf("%d events after reopen", len(page.Events))
	statesReadable(t, s, "acme", len(page.Events))
}

// countingKeystore counts Gets.
type countingKeystore struct {
	*storeKeystore
	gets atomic.Int64
}

func (c *countingKeystore) Get(ctx context.Context, name string) ([]byte, error) {
	c.gets.Add(1)
	return c.storeKeystore.Get(ctx, name)
}

// Without an organization's KEK, its appends fail; another organization's
// appends, grouped with them by the writer, must not.
func TestRotation_MissingKEKFailsOnlyItsOrganization(t *testing.T) {
	ctx := context.Background()
	ks := newStoreKeystore()
	dir, _ := rotatedLog(t, ks, 1, 1)
	ks.drop(KeyKEK("acme", 1))
	s := openTest(t, dir, ks)
	defer s.Close()
	appendN(t, s, "globex", 1, 1) // globex's key is loaded
	entered, release := holdFirstCommit(s)
	go s.Append(ctx, []Event{testEvent("globex", 2)}) // held in its commit
	<-entered
	acmeErr, globexErr := make(chan error, 1), make(chan error, 1)
	go func() { _, err := s.Append(ctx, []Event{testEvent("acme", 3)}); acmeErr <- err }()
	go func() { _, err := s.Append(ctx, []Event{testEvent("globex", 4)}); globexErr <- err }()
	// acme's append fails while the commit is still held (its keys are
	// loaded before it reaches the writer); globex's waits behind it.
	if err := <-acmeErr; !errors.Is(err, ErrKeyNotFound) {
		t.Fatalf("acme's append without its KEK: %v", err)
	}
	waitFor(t, "globex's append to queue", func() bool { return len(s.reqs) >= 1 || s.writerWaits.Load() > 0 })
	close(release)
	if err := <-globexErr; err != nil {
		t.Fatalf("globex's append, grouped with acme's, failed: %v", err)
	}
}

// Without an organization's KEK, each state read asks the keystore again
// (under the keyring's mutex, which every append takes): a page of events
// is a keychain call per state.
func TestRotation_MissingKEKIsReadOncePerPage(t *testing.T) {
	ctx := context.Background()
	ks := &countingKeystore{storeKeystore: newStoreKeystore()}
	dir, _ := rotatedLog(t, ks, 50, 0)
	ks.drop(KeyKEK("acme", 1))
	s := openTest(t, dir, ks)
	defer s.Close()
	before := ks.gets.Load()
	if _, err := s.List(ctx, Filter{Org: "acme", Limit: 100}); err != nil {
		t.Fatal(err)
	}
	if n := ks.gets.Load() - before; n > 2 {
		t.Fatalf("listing 50 events without the KEK read the keystore %d times", n)
	}
}
