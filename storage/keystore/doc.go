// Package keystore holds the implementations of [storage.Keystore]: where
// Axiom Audit keeps the secrets of a profile (the master key, the
// checkpoint signing key, the installation id and the per-organization
// anchors; see DESIGN.md §4).
//
// # Implementations
//
//   - [Keychain] is the production keystore: the OS keychain through
//     github.com/zalando/go-keyring (the Secret Service on Linux, the
//     Keychain on macOS, the Credential Manager on Windows). Secrets are
//     stored under service "axiom-audit" and user "<profile>/<name>",
//     base64-encoded because the keychains store text.
//   - [File] is an explicit opt-in (--keystore file) for machines without a
//     keychain: one JSON file, mode 0600 in a 0700 directory, written
//     atomically, refused when other users can read it, and announced with a
//     warning every time it is opened. It is never a silent fallback.
//   - [Memory] is for unit tests.
//
// All three pass the conformance suite in package keystoretest.
//
// # Errors
//
// Get returns an error matching [storage.ErrKeyNotFound] for an absent name
// and one matching [storage.ErrKeychainUnavailable] when the backend cannot
// be reached or is locked; the message of the latter says how to fix it.
package keystore
