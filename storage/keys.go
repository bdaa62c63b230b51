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
}

// keyring caches the unwrapped data keys of every organization. Data keys
// are created and rotated under mu and written to Badger (synced) before
// they are used, so no record can refer to a key that is not durable.
type keyring struct {
	mu      sync.Mutex
	kek     cipher.AEAD
	db      *badger.DB
	now     func() time.Time
	current map[string]dataKey            // org → newest key
	all     map[string]map[uint32]dataKey // org → keyID → key
}

func newKeyring(db *badger.DB, kek cipher.AEAD, now func() time.Time) *keyring {
	return &keyring{kek: kek, db: db, now: now, current: map[string]dataKey{}, all: map[string]map[uint32]dataKey{}}
}

// keyMadeKey is the store metadata entry of when org's current data key
// was made (unix nanoseconds), written with the key.
func keyMadeKey(org string) []byte { return metaKey("datakey-made/" + org) }

func keyMadeEntry(org string, t time.Time) kv {
	return kv{keyMadeKey(org), binary.BigEndian.AppendUint64(nil, uint64(t.UnixNano()))}
}

// load reads every data key of org from Badger; caller holds mu.
func (k *keyring) load(org string) error {
	if _, ok := k.all[org]; ok {
		return nil
	}
	keys := map[uint32]dataKey{}
	var cur dataKey
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
			dk, err := k.unwrap(org, id, v)
			if err != nil {
				return err
			}
			keys[id] = dk
			if id > cur.id {
				cur = dk
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	k.all[org] = keys
	if cur.aead != nil {
		k.current[org] = cur
	}
	return nil
}

func (k *keyring) unwrap(org string, id uint32, v []byte) (dataKey, error) {
	ns := k.kek.NonceSize()
	if len(v) < 1+ns || v[0] != sealedV {
		return dataKey{}, fmt.Errorf("data key %d of organization %q is malformed: %w", id, org, ErrTampered)
	}
	raw, err := k.kek.Open(nil, v[1:1+ns], v[1+ns:], wrapAAD(org, id))
	if err != nil {
		return dataKey{}, fmt.Errorf("data key %d of organization %q does not unwrap with this master key: %w", id, org, ErrWrongKey)
	}
	aead, err := newGCM(raw)
	if err != nil {
		return dataKey{}, err
	}
	return dataKey{id: id, aead: aead}, nil
}

// currentKey returns org's newest data key, creating the first one.
func (k *keyring) currentKey(ctx context.Context, org string) (dataKey, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if dk, ok := k.current[org]; ok {
		return dk, nil
	}
	if err := k.load(org); err != nil {
		return dataKey{}, err
	}
	if dk, ok := k.current[org]; ok {
		return dk, nil
	}
	return k.createLocked(ctx, org)
}

// key returns org's data key id, or false when it is not in the database.
func (k *keyring) key(org string, id uint32) (dataKey, bool, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := k.load(org); err != nil {
		return dataKey{}, false, err
	}
	dk, ok := k.all[org][id]
	return dk, ok, nil
}

// nextKey makes org's next data key without storing it: the key, and its
// entry for the database (wrapped by the key-encryption key). A rotation
// stores it in the commit of the event that records the rotation and then
// installs it. The caller serializes rotations (Store.rotMu).
func (k *keyring) nextKey(ctx context.Context, org string) (dataKey, kv, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := k.load(org); err != nil {
		return dataKey{}, kv{}, err
	}
	if _, ok := k.current[org]; !ok {
		// An organization's first key is stored on its own, so that the
		// first append's and this one's are not both key 1.
		if _, err := k.createLocked(ctx, org); err != nil {
			return dataKey{}, kv{}, err
		}
	}
	dk, e, err := k.wrapNew(org, k.current[org].id+1)
	if _, exists := k.all[org][dk.id]; exists && err == nil {
		// Rotations are serialized and each installs its key before the
		// next begins: a second key of one id would orphan states.
		err = fmt.Errorf("data key %d of organization %q exists already", dk.id, org)
	}
	return dk, e, err
}

// install makes dk, stored, org's current key.
func (k *keyring) install(org string, dk dataKey) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.all[org][dk.id] = dk
	if dk.id > k.current[org].id {
		k.current[org] = dk
	}
}

// wrapNew makes data key id of org and its wrapped entry.
func (k *keyring) wrapNew(org string, id uint32) (dataKey, kv, error) {
	raw := make([]byte, 32)
	rand.Read(raw)
	nonce := make([]byte, k.kek.NonceSize())
	rand.Read(nonce)
	v := append([]byte{sealedV}, nonce...)
	v = k.kek.Seal(v, nonce, raw, wrapAAD(org, id))
	aead, err := newGCM(raw)
	if err != nil {
		return dataKey{}, kv{}, err
	}
	return dataKey{id: id, aead: aead}, kv{dataKeyKey(org, id), v}, nil
}

func (k *keyring) createLocked(ctx context.Context, org string) (dataKey, error) {
	if err := ctx.Err(); err != nil {
		return dataKey{}, err
	}
	dk, e, err := k.wrapNew(org, k.current[org].id+1)
	if err != nil {
		return dataKey{}, err
	}
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
func (k *keyring) openSealed(sealed []byte, org string, seq uint64, id string, side byte, commitment []byte) (salt, state []byte, err error) {
	if len(sealed) < 5+12+16+32 || sealed[0] != sealedV {
		return nil, nil, fmt.Errorf("sealed state of seq %d is malformed: %w", seq, ErrTampered)
	}
	keyID := binary.BigEndian.Uint32(sealed[1:])
	dk, ok, err := k.key(org, keyID)
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
