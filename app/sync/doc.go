// Package sync delivers an organization's audit log to destinations the
// user opted in to: the cloud tenant, S3-compatible object storage, Azure
// Blob Storage, and a SIEM webhook (issue 9).
//
// # Model
//
// The log is the queue. Each destination of an organization has a durable
// cursor, the highest seq the destination acknowledged, kept in the store's
// settings next to its status. A [Syncer] runs one loop per enabled
// destination: it reads the events after the cursor in seq order
// ([storage.Store.ReadFrom]), hands them to the [Destination] as a [Batch],
// and advances the cursor to the seq the destination acknowledged. Nothing
// else is queued, so a restart, a laptop asleep for a week or a crash in
// the middle of a batch resumes from the cursor: delivery is at least once,
// and every event carries its idempotency key (organization, seq, id) so a
// receiver removes the duplicates a resend creates.
//
// # Failures
//
// Network errors, timeouts, 5xx, 408 and 429 are retried with exponential
// backoff and full jitter, honouring Retry-After. Any other 4xx means the
// destination will never take this batch (a poison batch, a revoked
// token): the destination stops with that reason in its status instead of
// looping, until the user enables it again or asks for run-now. Failures
// and recoveries are recorded in the organization's log once per change of
// state (audit.sync_failed, audit.sync_recovered), never once per retry.
//
// # Witness
//
// The tenant acknowledges batches with the newest checkpoint it holds. A
// checkpoint signed by this installation that is not consistent with the
// local log means the local log was rewritten, rolled back or truncated:
// the Syncer records audit.sync_failed, then raises the integrity alert
// through [Options].Alert (the app raises the store's persisted alert, which
// refuses appends to the organization until it is acknowledged), and stops
// the destination; run-now does not restart it. A tenant that lost data
// acknowledges less, with an older checkpoint the local log still extends:
// that is no inconsistency, and the Syncer sends the missing events again.
//
// # Destinations
//
// Each destination is a subpackage with a type named Client (tenant, s3,
// azure, webhook); [github.com/axiomops/axiom-audit/app/sync/synctest] is the
// conformance suite all of them pass.
package sync
