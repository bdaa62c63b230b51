package storage

import "context"

// Keystore holds the secrets of one profile: the master key, the checkpoint
// signing key, the installation id and the per-organization anchors.
//
// Implementations live in storage/keystore (the OS keychain, an opt-in file,
// and an in-memory one for unit tests).
//
//   - Get MUST return an error matching ErrKeyNotFound when name is absent, and
//     one matching ErrKeychainUnavailable when the backend cannot be reached
//     or is locked, with a message saying how to fix it.
//   - Set MUST be durable when it returns nil, and MUST replace any earlier
//     value under the same name.
type Keystore interface {
	Get(ctx context.Context, name string) ([]byte, error)
	Set(ctx context.Context, name string, secret []byte) error
}

// A Keystore that keeps its secrets somewhere other than the OS keychain
// says where with a method Place() string ("key file"), so that messages
// about the anchors it holds name it: a user of --keystore file looking for
// "the keychain anchor" would look in the wrong place.
type keystorePlace interface{ Place() string }

// placeOf is where ks keeps its secrets, for messages: "keychain" unless ks
// says otherwise.
func placeOf(ks Keystore) string {
	if p, ok := ks.(keystorePlace); ok && p.Place() != "" {
		return p.Place()
	}
	return "keychain"
}

// Names of the secrets the store keeps in a Keystore.
const (
	KeyMaster         = "master-key"
	KeySigning        = "signing-key"
	KeyInstallationID = "installation-id"
)

// KeyAnchor is the keystore name of the newest checkpoint of org, mirrored
// there so that a rolled-back or truncated database is detected on open.
func KeyAnchor(org string) string { return "anchor/" + org }
