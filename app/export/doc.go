// Package export writes evidence bundles of an audit log and verifies them
// offline.
//
// # Encoders
//
// An [Encoder] writes events in one format, streaming: Begin, Encode per
// event, End. There is one per [Format]: csv (RFC 4180, formula cells
// guarded), jsonl, json (one array), ocsf (OCSF 1.3 events of the class the
// catalogue maps each action type to), cef (ArcSight CEF:0), splunk-hec
// (HEC envelopes) and ecs (Elastic Common Schema). Every format carries the
// event's SOC 2 and ISO 27001 controls.
//
// # Bundles
//
// [Write] signs a fresh checkpoint through its [Source], then writes the
// events that checkpoint covers to a new folder
// axiom-audit-export-<org>-<UTC time>/ (or the first free of its name
// followed by -2, -3, …: see [Place]):
//
//	events.<ext>    the events in the chosen format
//	proofs.jsonl    one RFC 6962 inclusion proof per event, with the public
//	                record it proves (and the opened states when revealed)
//	checkpoint.txt  the signed checkpoint (C2SP signed note)
//	public-key.txt  the note verifier key
//	manifest.json   what, who, when, which filter; size and SHA-256 of every
//	                other file; sealed by its own SHA-256
//	manifest.sig    the seal signed by the log's key (a signed note), so
//	                that no event can be taken out, nor the filter changed
//
// The folder is written under a hidden temporary name, synced, and renamed
// into place only when complete; an error or a cancelled context removes it.
// Memory does not grow with the number of events: a [Scanner] source is
// read in batches ahead of encoding, and a [NodeSource] lets the export
// build proofs from the batch's own leaves.
//
// # Verification
//
// [Verify] checks a bundle with no key store and no database: the
// manifest's seal and signature and every file's hash, the checkpoint's signature, each
// proof against the checkpoint root, each revealed state against its
// commitment, and that the events file holds the proved events. The README
// ("Verifying an export") states the algorithm for auditors who write their
// own verifier; storage/tlog's package documentation specifies the hashes,
// proofs and checkpoints.
package export
