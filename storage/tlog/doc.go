// Package tlog holds the integrity primitives of the Axiom Audit log: leaf
// hashes, state commitments, the RFC 6962 Merkle tree with its proofs, and
// signed checkpoints. It uses no key store and no database, so the same code
// serves the store and an offline verifier of an export.
//
// This comment is the specification of the formats. An auditor can write an
// independent verifier from it, with SHA-256, Ed25519 and an RFC 8785 JSON
// canonicalizer.
//
// # Hashes
//
// Every hash is SHA-256 (32 bytes). In JSON, in checkpoints and in the CLI a
// hash is written in standard, padded base64 (RFC 4648 §4, 44 characters);
// decoders accept only that canonical form ([ParseHash]). In JSON, a proof is
// an array of such strings.
//
// # Leaves
//
// Each organization has its own log. Record number seq (from 1) is leaf
// index seq−1. The leaf is the record's public form: every field except
// beforeState and afterState, plus their commitments, serialised with RFC
// 8785 JSON canonicalization (JCS, [Canonicalize]); public fields contain no
// floating-point numbers. The leaf hash is the RFC 6962 leaf hash
//
//	leafHash = SHA-256(0x00 || JCS(public record))
//
// ([LeafHash]). A record's prevHash is the leafHash of the record before it in
// the same organization (the row-level hash chain).
//
// # State commitments
//
// A sensitive state S (beforeState or afterState) is committed to as
//
//	commitment = SHA-256("axiom-audit/state/v1" || salt || JCS(S))
//
// where the prefix is those 20 ASCII bytes with no terminator and salt is 32
// fresh random bytes ([StateCommitment]). The salt travels inside the state's
// ciphertext, or beside the plaintext when an export reveals a state, so a
// revealed state can be checked against the public commitment and a withheld
// one cannot be guessed from it.
//
// # Tree
//
// The leaves of an organization form the Merkle tree of RFC 6962 §2.1 (the
// same as RFC 9162 §2.1.1):
//
//	MTH({})      = SHA-256()                                  (the empty root)
//	MTH({d0})    = leafHash(d0)
//	MTH(D[n])    = SHA-256(0x01 || MTH(D[0:k]) || MTH(D[k:n]))
//	               with k the largest power of two smaller than n
//
// A node is addressed as (level, index): level 0 holds the leaves, and node
// (L, i) covers leaves [i·2^L, (i+1)·2^L). A node is perfect once all its
// leaves exist; its hash never changes after that. [Tree.Append] hands each
// perfect node to the caller when it becomes complete; the store persists
// those of the levels it keeps, keyed by [AppendNodeKey] (level as one byte,
// index as 8 bytes big-endian), and computes the others from the nodes
// below them (storage/format.go: the tree stride). A tree of
// any size n is covered by one perfect node per one bit of n, largest first
// (the compact range, [Tree.RangeState]); the root of size n folds them from
// the right ([RootAt]). Nodes that are not perfect in a
// tree of size n (ephemeral nodes) are never stored; they are recomputed from
// the perfect nodes below them.
//
// # Proofs
//
// Inclusion proofs (audit paths) and consistency proofs are those of RFC 6962
// §2.1.1 and §2.1.2, produced from stored nodes for any tree size up to the
// current one ([InclusionProof], [ConsistencyProof]) and checked with the
// RFC 9162 §2.1.3.2 and §2.1.4.2 algorithms ([VerifyInclusion],
// [VerifyConsistency]). An inclusion proof has at most ⌈log2 n⌉ hashes. A
// proof is evidence only against a root: take the tree size and root together
// from a verified checkpoint. In addition to RFC 9162, a tree of size 0 must
// have the empty root.
//
// # Checkpoints
//
// A checkpoint is a C2SP tlog-checkpoint (https://c2sp.org/tlog-checkpoint):
// a body of three lines and at most one extension line, each ended by a
// newline (0x0A),
//
//	<origin>
//	<tree size, decimal, no sign, no leading zeros>
//	<root hash, standard base64>
//	time <when it was signed, RFC 3339 in UTC to the second>
//
// with origin "axiom-audit/<installation-id>/<organizationId>" ([Origin]).
// Origins contain no whitespace and no control characters. The time line is
// the one extension line Axiom Audit writes (checkpoints signed before it
// did have none); [ParseCheckpoint] rejects any other.
//
// The body is signed as a C2SP signed note (https://c2sp.org/signed-note, as
// implemented by golang.org/x/mod/sumdb/note) with one Ed25519 key per
// installation, named "axiom-audit/<installation-id>" ([KeyName]). The note
// is the body, one empty line, then one line per signature:
//
//	— <key name> <base64(key hash || signature)>
//
// starting with U+2014 EM DASH and a space. The signature is Ed25519 over the
// body bytes (including its final newline); the key hash is the first 4 bytes,
// big-endian, of SHA-256(key name || "\n" || 0x01 || public key). The public
// verifier key is published as "<key name>+<key hash, 8 hex digits>+<base64(0x01
// || public key)>", stored in the log and in every export. The key name,
// followed by "/", must prefix the origin. Other signatures (witness
// cosignatures) may follow and are ignored by [OpenCheckpoint]; the log's own
// signature must be canonical base64.
//
// # Manifest statements
//
// An export bundle's manifest is signed by the same key, in a signed note of
// its own (manifest.sig) whose body is three lines, each ended by a newline:
//
//	axiom-audit-export-manifest/v1
//	<origin>
//	<the manifest's seal: 64 lowercase hex digits>
//
// ([ManifestHeader], [SignManifest], [OpenManifest]). The seal is the
// SHA-256 of manifest.json with its manifestSha256 value replaced by 64 "0"
// characters. The first line is no origin and the second no tree size, so a
// statement never opens as a checkpoint, nor a checkpoint as a statement.
//
// # Report statements
//
// A compliance report folder's SHA256SUMS is signed the same way
// (SHA256SUMS.sig), with its own first line, so that a report statement
// never opens as a manifest statement, nor the reverse:
//
//	axiom-audit-report-sums/v1
//	<origin>
//	<the SHA-256 of SHA256SUMS: 64 lowercase hex digits>
//
// ([ReportHeader], [SignReport], [OpenReport]).
//
// # Verifying an export
//
// Given the verifier key and the origin of the organization, an auditor:
//
//  1. opens each checkpoint with the verifier key and checks its origin
//     ([OpenCheckpoint]);
//  2. checks every checkpoint extends the one before: equal origin, size not
//     smaller, consistency proof valid ([VerifyConsistency], [CheckConsistent]);
//  3. recomputes each leaf hash from the record's public fields, and each
//     prevHash from the previous leaf;
//  4. recomputes the tree from the leaves and compares its root at each
//     checkpoint's size with the checkpoint's root (or checks an inclusion
//     proof per record against the checkpoint);
//  5. for each revealed state, recomputes the commitment from salt and JCS of
//     the plaintext and compares it with the public commitment.
//
// A record pruned by retention keeps its leaf hash, so steps 2 and 4 still
// verify without its body.
//
// # Errors
//
// Integrity failures wrap the sentinels [ErrInvalidProof], [ErrInconsistent],
// [ErrBadSignature], [ErrUnknownKey], [ErrWrongOrigin] and
// [ErrMalformedCheckpoint]; missing nodes wrap [ErrNodeNotFound].
package tlog
