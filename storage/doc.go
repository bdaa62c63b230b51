// Package storage is the Axiom Audit store: an append-only, per-organization,
// encrypted and verifiable audit log kept in Badger.
//
// # Model
//
// Producers append [Event] values. The store validates each event against the
// action-type catalogue ([Catalogue]), assigns it the next sequence number of
// its organization, seals its sensitive states (beforeState, afterState) with
// the organization's current data key, and records a [Record]: the public
// fields, the commitments to the states, the hash chain (prevHash) and the
// leaf hash. Nothing in this package updates or deletes an event.
//
// # Keys
//
// Keys live in a [Keystore] (the OS keychain in production). The master key
// derives Badger's at-rest key and the key-encryption key that wraps each
// organization's data keys; see DESIGN.md §4.
package storage
