package storage

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"testing"

	badger "github.com/dgraph-io/badger/v4"
)

// rotatedLog makes a log in a new directory with acme events of acme and
// globex of globex (receipts returned), rotates acme's data key (so its
// keys are wrapped by KEK kek/acme/1 in ks) and closes it.
func rotatedLog(t *testing.T, ks Keystore, acme, globex int) (dir string, globexReceipts []Receipt) {
	t.Helper()
	dir = t.TempDir()
	s := openTest(t, dir, ks)
	appendN(t, s, "acme", 0, acme)
	if globex > 0 {
		globexReceipts = appendN(t, s, "globex", 0, globex)
	}
	if _, err := s.RotateDataKey(context.Background(), "acme", "tester"); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return dir, globexReceipts
}

// drop removes the secret name from the keystore, as a user clearing a
// keychain entry would, and returns what it held.
func (m *storeKeystore) drop(name string) []byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	v := m.secrets[name]
	delete(m.secrets, name)
	return v
}

// wrappedKeys is every wrapped data key entry of org, by key id.
func wrappedKeys(t *testing.T, s *Store, org string) map[uint32][]byte {
	t.Helper()
	out := map[uint32][]byte{}
	err := s.db.View(func(txn *badger.Txn) error {
		p := orgPrefix(tagDataKey, org)
		it := txn.NewIterator(badger.IteratorOptions{Prefix: p})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			v, err := it.Item().ValueCopy(nil)
			if err != nil {
				return err
			}
			out[binary.BigEndian.Uint32(it.Item().Key()[len(p):])] = v
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// statesReadable fails t unless every event of org reads back with its
// states decrypted.
func statesReadable(t *testing.T, s *Store, org string, want int) {
	t.Helper()
	page, err := s.List(context.Background(), Filter{Org: org, Limit: 1000})
	if err != nil || len(page.Events) != want {
		t.Fatalf("%d events, %v; want %d", len(page.Events), err, want)
	}
	for _, e := range page.Events {
		if e.BeforeStateCommitment == "" {
			continue // an event without states (the rotation's own)
		}
		if e.StatesSealed || e.BeforeState == nil {
			t.Fatalf("seq %d: states not readable (sealed %v)", e.Seq, e.StatesSealed)
		}
	}
}

// statesSealed fails t unless the timeline shows want events of org and
// every one with states shows them sealed (why says what keeps them so).
func statesSealed(t *testing.T, s *Store, org string, want int, why string) {
	t.Helper()
	page, err := s.List(context.Background(), Filter{Org: org, Limit: 10})
	if err != nil || len(page.Events) != want {
		t.Fatalf("list %s: %d events, %v; want %d", why, len(page.Events), err, want)
	}
	for _, e := range page.Events {
		if e.BeforeStateCommitment != "" && !e.StatesSealed {
			t.Fatalf("seq %d: states not marked sealed %s", e.Seq, why)
		}
	}
}

// A rotation makes a random key-encryption key, stores it in the keystore
// and wraps the new data key and every earlier one with it: afterwards no
// data key of the organization unwraps with the master key's KEK, and only
// the newest KEK is needed to read every state.
func TestRotation_RewrapsEveryDataKey(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	ks := newStoreKeystore()
	s := openTest(t, dir, ks)
	appendN(t, s, "acme", 0, 3)
	appendN(t, s, "globex", 0, 2)
	before := wrappedKeys(t, s, "acme")
	if len(before) != 1 || before[1][0] != sealedV {
		t.Fatalf("before any rotation: %d keys, first version %x; want one key wrapped by the master key's KEK", len(before), before[1][0])
	}
	for round := uint32(1); round <= 2; round++ {
		rot, err := s.RotateDataKey(ctx, "acme", "tester")
		want := KeyRotation{KeyID: round + 1, PreviousKeyID: round, KeyEncryptionKey: KeyKEK("acme", round), Rewrapped: int(round)}
		if err != nil || rot != want {
			t.Fatalf("rotation %d = %+v, %v; want %+v", round, rot, err, want)
		}
		appendN(t, s, "acme", int(10*round), 2)
		kek, err := ks.Get(ctx, KeyKEK("acme", round))
		if err != nil || len(kek) != 32 {
			t.Fatalf("KEK %d in the keystore: %d bytes, %v", round, len(kek), err)
		}
		keys := wrappedKeys(t, s, "acme")
		if len(keys) != int(round)+1 {
			t.Fatalf("after rotation %d: %d data keys; want %d", round, len(keys), round+1)
		}
		for id, v := range keys {
			if v[0] != wrappedGenV || binary.BigEndian.Uint32(v[1:5]) != round {
				t.Fatalf("after rotation %d, data key %d is wrapped as %x; want generation %d", round, id, v[:5], round)
			}
			if _, err := s.keys.unwrap("acme", id, append([]byte{sealedV}, v[5:]...), nil); !errors.Is(err, ErrWrongKey) {
				t.Fatalf("data key %d unwraps with the master key's KEK after rotation %d: %v", id, round, err)
			}
		}
		if bytes.Equal(keys[1], before[1]) {
			t.Fatal("data key 1 was not wrapped again")
		}
	}
	// Another organization's keys are its own.
	if g := wrappedKeys(t, s, "globex"); len(g) != 1 || g[1][0] != sealedV {
		t.Fatalf("globex's keys changed with acme's rotation: %d keys", len(g))
	}
	s.Close()

	// Only the newest KEK is needed: drop the first.
	ks.drop(KeyKEK("acme", 1))
	s = openTest(t, dir, ks)
	defer s.Close()
	statesReadable(t, s, "acme", 9)
	statesReadable(t, s, "globex", 2)
	appendN(t, s, "acme", 100, 1)
	rot, err := s.List(ctx, Filter{Org: "acme", ActionTypes: []string{"audit.key_rotated"}})
	if err != nil || len(rot.Events) != 2 ||
		string(rot.Events[0].Metadata) != `{"keyEncryptionKey":"kek/acme/2","keyId":"3","previousKeyId":"2","rewrappedKeys":"2"}` {
		t.Fatalf("rotation records: %+v, %v", rot.Events, err)
	}
}

// Without the KEK its keys are wrapped with, an organization's appends
// fail, saying which key is missing and where to restore it from, and its
// states read as sealed; other organizations go on.
func TestRotation_MissingKEK(t *testing.T) {
	ctx := context.Background()
	ks := newStoreKeystore()
	dir, _ := rotatedLog(t, ks, 2, 1)
	saved := ks.drop(KeyKEK("acme", 1))
	s := openTest(t, dir, ks)
	_, err := s.Append(ctx, []Event{testEvent("acme", 50)})
	if !errors.Is(err, ErrKeyNotFound) || !strings.Contains(err.Error(), `"kek/acme/1"`) || !strings.Contains(err.Error(), "restore it") {
		t.Fatalf("append without the KEK: %v; want ErrKeyNotFound naming kek/acme/1 and how to restore it", err)
	}
	// An event without states needs no data key: it is recorded (the
	// log's own events too, such as an acknowledgement or a verify).
	plain := testEvent("acme", 51)
	plain.BeforeState, plain.AfterState = nil, nil
	if _, err := s.Append(ctx, []Event{plain}); err != nil {
		t.Fatalf("an event without states, without the KEK: %v", err)
	}
	// The timeline reads the states as sealed...
	statesSealed(t, s, "acme", 4, "without the KEK")
	// ...but what promises the states (an export with them, a sync) fails,
	// naming the key, rather than leave them out for good.
	if _, err := s.ReadFrom(ctx, "acme", 0, 10, true); !errors.Is(err, ErrKeyNotFound) || !strings.Contains(err.Error(), `"kek/acme/1"`) {
		t.Fatalf("reading the states to sync without the KEK: %v; want ErrKeyNotFound naming kek/acme/1", err)
	}
	if _, err := s.ReadFrom(ctx, "acme", 0, 10, false); err != nil {
		t.Fatalf("reading the public records without the KEK: %v", err)
	}
	// Verify says once that it cannot check the states, and how to check
	// the rest; keyless, it checks the rest.
	var problems []Problem
	collect := func(p Problem) error { problems = append(problems, p); return nil }
	if _, err := s.Verify(ctx, VerifyOptions{Org: "acme"}, collect); !errors.Is(err, ErrKeyNotFound) ||
		!strings.Contains(err.Error(), "cannot check the states") || !strings.Contains(err.Error(), "--keyless") || len(problems) != 0 {
		t.Fatalf("verify without the KEK: %v, %d problems; want one error pointing to --keyless", err, len(problems))
	}
	if sum, err := s.Verify(ctx, VerifyOptions{Org: "acme", Keyless: true}, collect); err != nil || len(problems) != 0 || sum.Events == 0 {
		t.Fatalf("keyless verify without the KEK: %+v, %v, problems %v", sum, err, problems)
	}
	appendN(t, s, "globex", 1, 1)
	s.Close()
	// Restored, the KEK opens everything again.
	ks.Set(ctx, KeyKEK("acme", 1), saved)
	s = openTest(t, dir, ks)
	defer s.Close()
	statesReadable(t, s, "acme", 4)
	if _, err := s.ReadFrom(ctx, "acme", 0, 10, true); err != nil {
		t.Fatalf("reading the states with the KEK restored: %v", err)
	}
	appendN(t, s, "acme", 60, 1)
}

// A KEK of the wrong size or the wrong key is a clear error, not states
// silently missing.
func TestRotation_WrongKEK(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		secret []byte
		want   string
	}{
		{"short", make([]byte, 16), "has 16 bytes, want 32"},
		{"another key", bytes.Repeat([]byte{7}, 32), `does not unwrap with the key-encryption key "kek/acme/1"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			ks := newStoreKeystore()
			s := openTest(t, dir, ks)
			appendN(t, s, "acme", 0, 1)
			if _, err := s.RotateDataKey(ctx, "acme", "tester"); err != nil {
				t.Fatal(err)
			}
			s.Close()
			ks.Set(ctx, KeyKEK("acme", 1), tc.secret)
			s = openTest(t, dir, ks)
			defer s.Close()
			_, err := s.Append(ctx, []Event{testEvent("acme", 5)})
			if !errors.Is(err, ErrWrongKey) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("append: %v; want ErrWrongKey saying %q", err, tc.want)
			}
		})
	}
}

// A rotation whose KEK cannot be stored changes nothing; one whose commit
// fails leaves the KEK in the keystore unused, and the next rotation takes
// the next generation rather than replace it.
func TestRotation_Failures(t *testing.T) {
	ctx := context.Background()
	t.Run("keystore refuses the KEK", func(t *testing.T) {
		dir := t.TempDir()
		ks := newStoreKeystore()
		s := openTest(t, dir, ks)
		defer s.Close()
		appendN(t, s, "acme", 0, 1)
		// The keys are loaded; the keystore then fails.
		ks.mu.Lock()
		ks.err = fmt.Errorf("the login keyring is locked: %w", ErrKeychainUnavailable)
		ks.mu.Unlock()
		_, err := s.RotateDataKey(ctx, "acme", "tester")
		if !errors.Is(err, ErrKeychainUnavailable) || !strings.Contains(err.Error(), "nothing changed") {
			t.Fatalf("rotation with a locked keychain: %v", err)
		}
		ks.mu.Lock()
		ks.err = nil
		ks.mu.Unlock()
		if keys := wrappedKeys(t, s, "acme"); len(keys) != 1 || keys[1][0] != sealedV {
			t.Fatalf("a refused rotation changed the keys: %d", len(keys))
		}
		rot, _ := s.List(ctx, Filter{Org: "acme", ActionTypes: []string{"audit.key_rotated"}})
		if len(rot.Events) != 0 {
			t.Fatal("a refused rotation was recorded")
		}
		appendN(t, s, "acme", 1, 1)
	})
	t.Run("commit fails", func(t *testing.T) {
		dir := t.TempDir()
		ks := newStoreKeystore()
		s := openTest(t, dir, ks)
		appendN(t, s, "acme", 0, 2)
		s.setFailed(errors.New("disk gone"))
		if _, err := s.RotateDataKey(ctx, "acme", "tester"); err == nil {
			t.Fatal("RotateDataKey succeeded on a failed store")
		}
		orphan, err := ks.Get(ctx, KeyKEK("acme", 1))
		if err != nil {
			t.Fatalf("the KEK was not stored before the commit: %v", err)
		}
		s.Close()
		s = openTest(t, dir, ks)
		defer s.Close()
		statesReadable(t, s, "acme", 2)
		rot, err := s.RotateDataKey(ctx, "acme", "tester")
		if err != nil || rot.KeyEncryptionKey != KeyKEK("acme", 2) {
			t.Fatalf("rotation after a failed one: %+v, %v; want the next free generation, %s", rot, err, KeyKEK("acme", 2))
		}
		// The unused KEK is left as it was: a commit answered as failed
		// may have been written with it.
		again, _ := ks.Get(ctx, KeyKEK("acme", 1))
		if !bytes.Equal(again, orphan) {
			t.Fatal("the next rotation replaced a KEK already in the keystore")
		}
		statesReadable(t, s, "acme", 3)
	})
}

// Data keys wrapped with different generations cannot come from a
// rotation, which wraps them all with one: the store says the keys were
// tampered with.
func TestRotation_MixedGenerationsAreTampering(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	ks := newStoreKeystore()
	s := openTest(t, dir, ks)
	appendN(t, s, "acme", 0, 1)
	old := wrappedKeys(t, s, "acme")[1]
	if _, err := s.RotateDataKey(ctx, "acme", "tester"); err != nil {
		t.Fatal(err)
	}
	// Put back key 1 as it was wrapped before the rotation.
	if err := s.db.Update(func(txn *badger.Txn) error { return txn.Set(dataKeyKey("acme", 1), old) }); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s = openTest(t, dir, ks)
	defer s.Close()
	if _, err := s.Append(ctx, []Event{testEvent("acme", 9)}); !errors.Is(err, ErrTampered) {
		t.Fatalf("append with mixed KEK generations: %v; want ErrTampered", err)
	}
}

func FuzzUnwrapDataKey(f *testing.F) {
	ks := newStoreKeystore()
	dir := f.TempDir()
	s := openTest(f, dir, ks)
	defer s.Close()
	appendN(f, s, "acme", 0, 1)
	if _, err := s.RotateDataKey(context.Background(), "acme", "tester"); err != nil {
		f.Fatal(err)
	}
	kek, err := ks.Get(context.Background(), KeyKEK("acme", 1))
	if err != nil {
		f.Fatal(err)
	}
	aead, err := newGCM(kek)
	if err != nil {
		f.Fatal(err)
	}
	s.db.View(func(txn *badger.Txn) error {
		for id := uint32(1); id <= 2; id++ {
			item, err := txn.Get(dataKeyKey("acme", id))
			if err != nil {
				f.Fatal(err)
			}
			v, _ := item.ValueCopy(nil)
			f.Add(id, v)
		}
		return nil
	})
	f.Add(uint32(1), []byte{0x01})
	f.Add(uint32(1), []byte{0x02, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, id uint32, v []byte) {
		gen, gerr := wrapGeneration("acme", id, v)
		dk, err := s.keys.unwrap("acme", id, v, aead)
		if gerr != nil {
			if err == nil || !errors.Is(err, ErrTampered) {
				t.Fatalf("malformed %x: unwrap = %v", v, err)
			}
			return
		}
		if err == nil && (len(dk.raw) != 32 || dk.id != id || dk.aead == nil) {
			t.Fatalf("generation %d, id %d: unwrapped %d bytes", gen, id, len(dk.raw))
		}
		if err != nil && !errors.Is(err, ErrWrongKey) && !errors.Is(err, ErrTampered) {
			t.Fatalf("unwrap %x: %v", v, err)
		}
	})
}

// With the keychain locked before an organization's keys were loaded, the
// timeline reads its states as sealed instead of failing the page.
func TestRotation_LockedKeychainSealsStatesOnTheTimeline(t *testing.T) {
	ctx := context.Background()
	ks := newStoreKeystore()
	dir, _ := rotatedLog(t, ks, 2, 0)
	s := openTest(t, dir, ks)
	defer s.Close()
	ks.mu.Lock()
	ks.err = fmt.Errorf("the login keyring is locked: %w", ErrKeychainUnavailable)
	ks.mu.Unlock()
	statesSealed(t, s, "acme", 3, "with the keychain locked")
	if _, err := s.ReadFrom(ctx, "acme", 0, 10, true); !errors.Is(err, ErrKeychainUnavailable) {
		t.Fatalf("reading states to sync with the keychain locked: %v; want ErrKeychainUnavailable", err)
	}
}
