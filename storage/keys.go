package storage

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"sync"
	"time"

	badger "github.com/dgraph-io/badger/v4"
)

// HKDF labels: each derived key has its own, so that no key is ever used
// for two purposes.
const (
	labelBadger = "axiom-audit/badger/v1"
	labelKEK    = "axiom-audit/kek/v1"
	labelDedup  = "axiom-audit/dedup/v1"
	labelState  = "axiom-audit/state/v1"
	labelAAD    = "axiom-audit/state-aad/v1"
	labelWrap   = "axiom-audit/datakey/v1"
)

// derivedKeys are the keys derived from the master key.
type derivedKeys struct {
	badger []byte // Badger's at-rest encryption key
	kek    cipher.AEAD
	dedup  []byte // HMAC key for content MACs
}

func deriveKeys(master []byte) (derivedKeys, error) {
	var d derivedKeys
	var err error
	if d.badger, err = hkdf.Key(sha256.New, master, nil, labelBadger, 32); err != nil {
		return d, fmt.Errorf("failed to derive the database key: %w", err)
	}
	kek, err := hkdf.Key(sha256.New, master, nil, labelKEK, 32)
	if err != nil {
		return d, fmt.Errorf("failed to derive the key-encryption key: %w", err)
	}
	if d.kek, err = newGCM(kek); err != nil {
		return d, err
	}
	if d.dedup, err = hkdf.Key(sha256.New, master, nil, labelDedup, 32); err != nil {
		return d, fmt.Errorf("failed to derive the content MAC key: %w", err)
	}
	return d, nil
}

func newGCM(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("failed to create AES cipher: %w", err)
	}
	return cipher.NewGCM(block)
}

// stateCommitment is SHA-256("axiom-audit/state/v1" || salt || JCS(state)).
func stateCommitment(salt, state []byte) [32]byte {
	h := sha256.New()
	h.Write([]byte(labelState))
	h.Write(salt)
	h.Write(state)
	var out [32]byte
	h.Sum(out[:0])
	return out
}

func stateAAD(org string, seq uint64, id string, side byte, commitment []byte) []byte {
	b := make([]byte, 0, len(labelAAD)+len(org)+len(id)+48)
	b = append(b, labelAAD...)
	b = binary.AppendUvarint(b, uint64(len(org)))
	b = append(b, org...)
	b = binary.BigEndian.AppendUint64(b, seq)
	b = binary.AppendUvarint(b, uint64(len(id)))
	b = append(b, id...)
	b = append(b, side)
	return append(b, commitment...)
}

func wrapAAD(org string, keyID uint32) []byte {
	b := append([]byte(labelWrap), 0)
	b = append(b, org...)
	b = append(b, 0)
	return binary.BigEndian.AppendUint32(b, keyID)
}

// dataKey is one unwrapped organization data key.
type dataKey struct {
	id   uint32
	aead cipher.AEAD
	raw  []byte // the key itself, to wrap again when the KEK rotates
}

// Key-encryption keys (KEKs). Generation 0 of every organization is the
// KEK derived from the master key ("axiom-audit/kek/v1"): an
// organization's first data key is wrapped by it. Each rotation
// (RotateDataKey) makes a random KEK, the organization's next generation,
// stores it in the keystore (KeyKEK) before anything refers to it, and in
// the commit of the new data key wraps that key and every earlier one of
// the organization again with it. The records are not touched: old states
// stay sealed with their data keys, which only the newest KEK unwraps.
// Nothing derived from the master key then unwraps any of the
// organization's data keys: a copy of the master key, or of an older KEK,
// taken before a rotation does not open the states appended after it.
//
// A wrapped data key (table 0x15) is
//
//	0x01 || nonce [12] || AES-256-GCM(KEK generation 0, key), AAD wrapAAD(org, id)
//	0x02 || generation u32 || nonce [12] || AES-256-GCM(KEK generation, key), AAD wrapAAD(org, id) || generation u32
const wrappedGenV byte = 0x02

// KeyKEK is the keystore name of generation gen (from 1) of org's
// key-encryption key.
func KeyKEK(org string, gen uint32) string {
	return "kek/" + org + "/" + strconv.FormatUint(uint64(gen), 10)
}

// keyring caches the unwrapped data keys of every organization and the
// key-encryption keys that wrap them. Data keys are created and rotated
// under mu and written to Badger (synced) before they are used, so no
// record can refer to a key that is not durable.
type keyring struct {
	mu      sync.Mutex
	kek     cipher.AEAD // generation 0, derived from the master key
	ks      Keystore    // generations from 1
	db      *badger.DB
	now     func() time.Time
	current map[string]dataKey            // org → newest key
	all     map[string]map[uint32]dataKey // org → keyID → key
	gen     map[string]uint32             // org → the generation of the KEK its keys are wrapped with
	failed  map[string]loadFailure        // org → its last failure to load, answered until it expires
}

func newKeyring(db *badger.DB, kek cipher.AEAD, ks Keystore, now func() time.Time) *keyring {
	return &keyring{kek: kek, ks: ks, db: db, now: now, current: map[string]dataKey{},
		all: map[string]map[uint32]dataKey{}, gen: map[string]uint32{}, failed: map[string]loadFailure{}}
}

// keyMadeKey is the store metadata entry of when org's current data key
// was made (unix nanoseconds), written with the key.
func keyMadeKey(org string) []byte { return metaKey("datakey-made/" + org) }

func keyMadeEntry(org string, t time.Time) kv {
	return kv{keyMadeKey(org), binary.BigEndian.AppendUint64(nil, uint64(t.UnixNano()))}
}

// loadRetry is how long a failure to load an organization's keys (its KEK
// missing from the keystore, or the keystore locked) is answered from
// memory before the keystore is asked again: a page of sealed states, or
// the writer, would otherwise ask the keychain once per state.
const loadRetry = 10 * time.Second

// loadFailure is an organization's last failure to load its keys.
type loadFailure struct {
	err   error
	until time.Time
}

// ensure loads org's data keys unless they are loaded: it reads them from
// Badger and the KEK that wraps them from the keystore without holding mu
// (the keychain may take long, and every append takes mu), then installs
// them under mu. The caller does not hold mu.
func (k *keyring) ensure(ctx context.Context, org string) error {
	k.mu.Lock()
	if _, ok := k.all[org]; ok {
		k.mu.Unlock()
		return nil
	}
	if f, ok := k.failed[org]; ok && time.Now().Before(f.until) {
		k.mu.Unlock()
		return f.err
	}
	k.mu.Unlock()
	keys, gen, err := k.read(ctx, org)
	k.mu.Lock()
	defer k.mu.Unlock()
	if _, ok := k.all[org]; ok {
		// Loaded meanwhile (by a rotation, which also installs).
		return nil
	}
	if err != nil {
		if ctx.Err() == nil {
			k.failed[org] = loadFailure{err: err, until: time.Now().Add(loadRetry)}
		}
		return err
	}
	delete(k.failed, org)
	k.all[org] = keys
	k.gen[org] = gen
	var cur dataKey
	for _, dk := range keys {
		if dk.id > cur.id {
			cur = dk
		}
	}
	if cur.aead != nil {
		k.current[org] = cur
	}
	return nil
}

// read reads every data key of org from Badger and unwraps it, reading the
// KEK that wraps it from the keystore, and returns them with that KEK's
// generation.
func (k *keyring) read(ctx context.Context, org string) (map[uint32]dataKey, uint32, error) {
	type wrapped struct {
		id uint32
		v  []byte
	}
	var entries []wrapped
	err := k.db.View(func(txn *badger.Txn) error {
		p := orgPrefix(tagDataKey, org)
		it := txn.NewIterator(badger.IteratorOptions{Prefix: p, PrefetchValues: false})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			key := it.Item().Key()
			if len(key) != len(p)+4 {
				return fmt.Errorf("data key entry of organization %q has a malformed key: %w", org, ErrTampered)
			}
			id := binary.BigEndian.Uint32(key[len(p):])
			v, err := it.Item().ValueCopy(nil)
			if err != nil {
				return fmt.Errorf("failed to read data key %d of organization %q: %w", id, org, err)
			}
			entries = append(entries, wrapped{id, v})
		}
		return nil
	})
	if err != nil {
		return nil, 0, err
	}
	// A rotation wraps every key of the organization with one generation,
	// so the keystore is read once.
	keys := map[uint32]dataKey{}
	var gen uint32
	var kek cipher.AEAD
	for i, e := range entries {
		g, err := wrapGeneration(org, e.id, e.v)
		if err != nil {
			return nil, 0, err
		}
		if i == 0 && g != 0 {
			if kek, err = k.readKEK(ctx, org, g); err != nil {
				return nil, 0, err
			}
			gen = g
		} else if g != gen {
			return nil, 0, fmt.Errorf("data keys of organization %q are wrapped with key-encryption keys %d and %d, "+
				"where a rotation wraps them all with its own: %w", org, gen, g, ErrTampered)
		}
		dk, err := k.unwrap(org, e.id, e.v, kek)
		if err != nil {
			return nil, 0, err
		}
		keys[e.id] = dk
	}
	return keys, gen, nil
}

// readKEK reads generation gen (from 1) of org's KEK from the keystore.
func (k *keyring) readKEK(ctx context.Context, org string, gen uint32) (cipher.AEAD, error) {
	raw, err := k.ks.Get(ctx, KeyKEK(org, gen))
	if errors.Is(err, ErrKeyNotFound) {
		return nil, fmt.Errorf("the key-encryption key %q, which wraps the data keys of organization %q since its "+
			"last key rotation, is missing from the %s: restore it from the %s backup of this profile "+
			"(the states of the organization's events cannot be read or sealed without it): %w",
			KeyKEK(org, gen), org, placeOf(k.ks), placeOf(k.ks), err)
	}
	if err != nil {
		return nil, fmt.Errorf("failed to read the key-encryption key %q from the %s: %w", KeyKEK(org, gen), placeOf(k.ks), err)
	}
	if len(raw) != 32 {
		return nil, fmt.Errorf("the key-encryption key %q in the %s has %d bytes, want 32: %w",
			KeyKEK(org, gen), placeOf(k.ks), len(raw), ErrWrongKey)
	}
	return newGCM(raw)
}

// wrapGeneration is the KEK generation a wrapped data key names.
func wrapGeneration(org string, id uint32, v []byte) (uint32, error) {
	switch {
	case len(v) > 0 && v[0] == sealedV:
		return 0, nil
	case len(v) >= 5 && v[0] == wrappedGenV:
		if g := binary.BigEndian.Uint32(v[1:5]); g != 0 {
			return g, nil
		}
	}
	return 0, fmt.Errorf("data key %d of organization %q is malformed: %w", id, org, ErrTampered)
}

// unwrap opens wrapped data key id of org with kek (nil: generation 0).
func (k *keyring) unwrap(org string, id uint32, v []byte, kek cipher.AEAD) (dataKey, error) {
	gen, err := wrapGeneration(org, id, v)
	if err != nil {
		return dataKey{}, err
	}
	aad, body := wrapAAD(org, id), v[1:]
	if gen == 0 {
		kek = k.kek
	} else {
		aad, body = binary.BigEndian.AppendUint32(aad, gen), v[5:]
	}
	ns := kek.NonceSize()
	if len(body) < ns {
		return dataKey{}, fmt.Errorf("data key %d of organization %q is malformed: %w", id, org, ErrTampered)
	}
	raw, err := kek.Open(nil, body[:ns], body[ns:], aad)
	if err != nil {
		if gen == 0 {
			return dataKey{}, fmt.Errorf("data key %d of organization %q does not unwrap with this master key: %w", id, org, ErrWrongKey)
		}
		return dataKey{}, fmt.Errorf("data key %d of organization %q does not unwrap with the key-encryption key %q: %w",
			id, org, KeyKEK(org, gen), ErrWrongKey)
	}
	aead, err := newGCM(raw)
	if err != nil {
		return dataKey{}, err
	}
	return dataKey{id: id, aead: aead, raw: raw}, nil
}

// currentKey returns org's newest data key, creating the first one.
func (k *keyring) currentKey(ctx context.Context, org string) (dataKey, error) {
	k.mu.Lock()
	if dk, ok := k.current[org]; ok {
		k.mu.Unlock()
		return dk, nil
	}
	k.mu.Unlock()
	if err := k.ensure(ctx, org); err != nil {
		return dataKey{}, err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if dk, ok := k.current[org]; ok {
		return dk, nil
	}
	return k.createLocked(ctx, org)
}

// key returns org's data key id, or false when it is not in the database.
func (k *keyring) key(ctx context.Context, org string, id uint32) (dataKey, bool, error) {
	if err := k.ensure(ctx, org); err != nil {
		return dataKey{}, false, err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	dk, ok := k.all[org][id]
	return dk, ok, nil
}

// rotation is a data key rotation of one organization, made but not yet
// stored: its new KEK (generation gen), which the caller stores in the
// keystore first, and the entries of the commit that records it: the new
// data key and every earlier one, wrapped with the new KEK.
type rotation struct {
	org       string
	key       dataKey
	previous  uint32 // the id of the key it succeeds
	gen       uint32
	kekRaw    []byte
	kek       cipher.AEAD
	entries   []kv
	rewrapped int // earlier keys wrapped again
}

// generation is the generation of the KEK org's data keys are wrapped
// with (0: the master key's).
func (k *keyring) generation(ctx context.Context, org string) (uint32, error) {
	if err := k.ensure(ctx, org); err != nil {
		return 0, err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.gen[org], nil
}

// freeGeneration is the first generation from gen whose name (KeyKEK) is
// not in the keystore. A name there already may wrap the keys of a commit
// answered as failed but written, or of another copy of the log (a backup
// from before a rotation, rotated again): Set would replace it, and those
// keys would unwrap with nothing. Read outside mu: the keychain is slow.
func (k *keyring) freeGeneration(ctx context.Context, org string, gen uint32) (uint32, error) {
	for ; gen != 0; gen++ {
		_, err := k.ks.Get(ctx, KeyKEK(org, gen))
		if errors.Is(err, ErrKeyNotFound) {
			return gen, nil
		}
		if err != nil {
			return 0, fmt.Errorf("failed to check that the key-encryption key %q is not in the %s already: %w",
				KeyKEK(org, gen), placeOf(k.ks), err)
		}
	}
	return 0, fmt.Errorf("organization %q has no key-encryption key generation left", org)
}

// rotate makes org's next data key and KEK, of generation gen (above the
// current one, and free: freeGeneration), without storing either. A
// rotation stores the KEK in the keystore, then the keys in the commit of
// the event that records the rotation, and then installs them. The caller
// serializes rotations (Store.rotMu).
func (k *keyring) rotate(ctx context.Context, org string, gen uint32) (rotation, error) {
	if err := k.ensure(ctx, org); err != nil {
		return rotation{}, err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if gen <= k.gen[org] {
		return rotation{}, fmt.Errorf("key-encryption key generation %d of organization %q is not above its current one, %d", gen, org, k.gen[org])
	}
	if _, ok := k.current[org]; !ok {
		// An organization's first key is stored on its own, so that the
		// first append's and this one's are not both key 1.
		if _, err := k.createLocked(ctx, org); err != nil {
			return rotation{}, err
		}
	}
	r := rotation{org: org, previous: k.current[org].id, gen: gen, kekRaw: make([]byte, 32)}
	rand.Read(r.kekRaw)
	var err error
	if r.kek, err = newGCM(r.kekRaw); err != nil {
		return rotation{}, err
	}
	id := r.previous + 1
	if _, exists := k.all[org][id]; exists || id == 0 {
		// Rotations are serialized and each installs its key before the
		// next begins: a second key of one id would orphan states.
		return rotation{}, fmt.Errorf("data key %d of organization %q exists already", id, org)
	}
	raw := make([]byte, 32)
	rand.Read(raw)
	aead, err := newGCM(raw)
	if err != nil {
		return rotation{}, err
	}
	r.key = dataKey{id: id, aead: aead, raw: raw}
	ids := slices.Sorted(maps.Keys(k.all[org]))
	for _, old := range ids {
		r.entries = append(r.entries, kv{dataKeyKey(org, old), wrapKey(r.kek, r.gen, org, old, k.all[org][old].raw)})
	}
	r.rewrapped = len(ids)
	r.entries = append(r.entries, kv{dataKeyKey(org, id), wrapKey(r.kek, r.gen, org, id, raw)})
	return r, nil
}

// install makes r's key, stored, org's current key, and notes the
// generation of the KEK its keys are now wrapped with.
func (k *keyring) install(r rotation) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.all[r.org][r.key.id] = r.key
	if r.key.id > k.current[r.org].id {
		k.current[r.org] = r.key
	}
	k.gen[r.org] = r.gen
}

// wrapKey wraps data key id of org with kek, generation gen (from 1).
func wrapKey(kek cipher.AEAD, gen uint32, org string, id uint32, raw []byte) []byte {
	nonce := make([]byte, kek.NonceSize())
	rand.Read(nonce)
	v := binary.BigEndian.AppendUint32([]byte{wrappedGenV}, gen)
	v = append(v, nonce...)
	return kek.Seal(v, nonce, raw, binary.BigEndian.AppendUint32(wrapAAD(org, id), gen))
}

// createLocked makes and stores org's first data key, wrapped with the KEK
// of generation 0 (derived from the master key); caller holds mu.
func (k *keyring) createLocked(ctx context.Context, org string) (dataKey, error) {
	if err := ctx.Err(); err != nil {
		return dataKey{}, err
	}
	if len(k.all[org]) > 0 {
		return dataKey{}, fmt.Errorf("organization %q has data keys already", org)
	}
	raw := make([]byte, 32)
	rand.Read(raw)
	nonce := make([]byte, k.kek.NonceSize())
	rand.Read(nonce)
	v := append([]byte{sealedV}, nonce...)
	v = k.kek.Seal(v, nonce, raw, wrapAAD(org, 1))
	aead, err := newGCM(raw)
	if err != nil {
		return dataKey{}, err
	}
	dk := dataKey{id: 1, aead: aead, raw: raw}
	e := kv{dataKeyKey(org, dk.id), v}
	made := keyMadeEntry(org, k.now())
	err = k.db.Update(func(txn *badger.Txn) error {
		if err := txn.Set(e.k, e.v); err != nil {
			return err
		}
		return txn.Set(made.k, made.v)
	})
	if err != nil {
		return dataKey{}, fmt.Errorf("failed to store data key %d of organization %q: %w", dk.id, org, err)
	}
	k.all[org][dk.id] = dk
	k.current[org] = dk
	return dk, nil
}

// seal encrypts salt||state for one side of one record.
func seal(dk dataKey, plaintext []byte, org string, seq uint64, id string, side byte, commitment []byte) []byte {
	ns := dk.aead.NonceSize()
	out := make([]byte, 5+ns, 5+ns+len(plaintext)+dk.aead.Overhead())
	out[0] = sealedV
	binary.BigEndian.PutUint32(out[1:], dk.id)
	rand.Read(out[5 : 5+ns])
	return dk.aead.Seal(out, out[5:5+ns], plaintext, stateAAD(org, seq, id, side, commitment))
}

var errNoDataKey = errors.New("data key not present")

// openSealed decrypts a sealed state and returns salt and JCS(state).
func (k *keyring) openSealed(ctx context.Context, sealed []byte, org string, seq uint64, id string, side byte, commitment []byte) (salt, state []byte, err error) {
	if len(sealed) < 5+12+16+32 || sealed[0] != sealedV {
		return nil, nil, fmt.Errorf("sealed state of seq %d is malformed: %w", seq, ErrTampered)
	}
	keyID := binary.BigEndian.Uint32(sealed[1:])
	dk, ok, err := k.key(ctx, org, keyID)
	if err != nil {
		return nil, nil, err
	}
	if !ok {
		return nil, nil, fmt.Errorf("data key %d of organization %q for seq %d: %w", keyID, org, seq, errNoDataKey)
	}
	pt, err := dk.aead.Open(nil, sealed[5:17], sealed[17:], stateAAD(org, seq, id, side, commitment))
	if err != nil {
		return nil, nil, fmt.Errorf("sealed state of seq %d does not decrypt: %w", seq, ErrTampered)
	}
	return pt[:32], pt[32:], nil
}

// contentMAC identifies an event's content for idempotent appends.
func contentMAC(key, canonical []byte) [32]byte {
	m := hmac.New(sha256.New, key)
	m.Write(canonical)
	var out [32]byte
	m.Sum(out[:0])
	return out
}
