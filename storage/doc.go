// Package storage is the Axiom Audit store: an append-only, per-organization,
// encrypted and verifiable audit log kept in Badger.
//
// # Model
//
// Producers append [Event] values with [Store.Append]. The store validates
// each event against the action-type catalogue ([Catalogue]), assigns it the
// next sequence number of its organization, seals its sensitive states
// (beforeState, afterState) with the organization's current data key, and
// records it: the public record (every field but the states, plus the
// commitments to the states, seq, recordedAt, category, the hash chain
// prevHash and a format version) in RFC 8785 canonical JSON, its RFC 6962
// leaf hash, and the sealed states. Nothing in this package updates or
// deletes an event; a test enumerates the methods of [Store] to keep it so.
// The on-disk layout is specified in format.go.
//
// # Appending
//
// Append returns once the events are durable (fsynced). It is all-or-nothing
// per call and idempotent by event id. Concurrent callers are
// group-committed: the caller's goroutine does the per-event work that does
// not need a seq (validation, canonical JSON, salts and commitments, index
// keys); one writer goroutine assigns seqs, hashes, seals and stages a whole
// group in one Badger transaction; a committer commits groups in order and a
// syncer makes them durable with one sync for all that are ready. A failed
// commit or sync fails its callers and every later append until the store is
// reopened: the log on disk is always a gap-free prefix.
//
// # Reading
//
// Every read takes one organization ([Filter.Org]); keys are prefixed by the
// organization so no scan can cross into another. [Store.List] pages a
// timeline ordered by (timestamp, seq) through an opaque cursor that also
// pins the newest seq of the first page, so appends never shift a paging in
// progress. It drives the query from the most selective index (resource id,
// user, category), filtering the rest from summaries kept in the index
// entries, and reads records only for the page and for text or resource
// filters. [Store.Facets] and [Store.Histogram] read hourly counters kept in
// the same transaction as the records for time-only filters and scan the
// indexes otherwise, in parts side by side. [Store.FacetChoices] counts a
// filtered field without the filter's own conditions on it (a sidebar's
// choices), and [Store.Overview] counts those and the histogram on one
// snapshot, in one scan where it scans. [Store.Subscribe] streams newly committed events and
// drops a subscriber that falls behind rather than slow down appends.
//
// # Keys
//
// Keys live in a [Keystore] (the OS keychain in production). The master key
// (32 random bytes, created on first start only) derives, with HKDF-SHA256
// under distinct labels, Badger's at-rest key ("axiom-audit/badger/v1"), the
// key-encryption key ("axiom-audit/kek/v1") that wraps each organization's
// AES-256 data keys, and the key of the content MACs used for idempotency
// ("axiom-audit/dedup/v1"). [Store.RotateDataKey] starts a new data key
// and a new random key-encryption key, kept in the keystore ([KeyKEK]),
// that wraps it and re-wraps the organization's earlier data keys; old
// keys stay for old records, which are not rewritten (keys.go). See
// DESIGN.md §4.
package storage
