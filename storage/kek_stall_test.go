package storage

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"
)

// slowKEKKeystore holds every read of a key-encryption key until release
// is closed, as a keychain waiting on an unlock prompt does (up to its
// two-minute call timeout).
type slowKEKKeystore struct {
	*storeKeystore
	entered chan struct{}
	once    sync.Once
	release chan struct{}
}

func (k *slowKEKKeystore) Get(ctx context.Context, name string) ([]byte, error) {
	if strings.HasPrefix(name, "kek/") {
		k.once.Do(func() { close(k.entered) })
		<-k.release
	}
	return k.storeKeystore.Get(ctx, name)
}

// While the keychain is slow to give one organization's KEK (an unlock
// prompt), another organization's appends go on: the keychain is not read
// by the writer, which every organization's appends pass through.
func TestRotation_SlowKEKReadDoesNotStallOtherOrganizations(t *testing.T) {
	ctx := context.Background()
	base := newStoreKeystore()
	dir, _ := rotatedLog(t, base, 1, 1)

	ks := &slowKEKKeystore{storeKeystore: base, entered: make(chan struct{}), release: make(chan struct{})}
	var releaseOnce sync.Once
	release := func() { releaseOnce.Do(func() { close(ks.release) }) }
	s := openTest(t, dir, ks)
	defer s.Close()
	defer release()
	appendN(t, s, "globex", 1, 1) // globex's key is loaded (generation 0)

	acmeErr := make(chan error, 1)
	go func() { _, err := s.Append(ctx, []Event{testEvent("acme", 2)}); acmeErr <- err }()
	<-ks.entered // acme's KEK is being read
	globexErr := make(chan error, 1)
	go func() { _, err := s.Append(ctx, []Event{testEvent("globex", 3)}); globexErr <- err }()
	select {
	case err := <-globexErr:
		if err != nil {
			t.Fatalf("globex's append: %v", err)
		}
	case <-time.After(5 * time.Second):
		release()
		<-globexErr
		t.Fatal("globex's append waited for the keychain to give acme's key-encryption key")
	}
	release()
	if err := <-acmeErr; err != nil {
		t.Fatalf("acme's append once its KEK came: %v", err)
	}
}
