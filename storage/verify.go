package storage

// Verify: the store's fsck. It changes nothing. It recomputes every leaf
// from the stored public bytes, the hash chain, the Merkle tree (compared
// node by node with the stored nodes, the compact range and every stored
// checkpoint), checks the checkpoints' signatures with the verifier key
// stored in the log, and that the indexes and the records agree. With the
// keys it also decrypts every state and checks its commitment.
//
// Memory is flat: records are streamed through a bounded pipeline of
// chunks of 4096 seqs; each of GOMAXPROCS workers reads a chunk with its own
// iterator (Badger decrypting values is much of the work, so reading is
// parallel too) and decodes, hashes and decrypts its records in place, and
// one consumer takes the chunks in seq order and checks the order-dependent
// parts. The tree is a compact range; stored nodes are read by one cursor
// per tree level, so node reads are sequential; and the indexes are
// compared with the records through order-independent fingerprints (a sum
// of keyed hashes per table), with a second, pinpointing pass over the
// records only when a fingerprint differs.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	badger "github.com/dgraph-io/badger/v4"

	"github.com/axiomops/axiom-audit/storage/tlog"
)

// Problem kinds reported by Verify. They are stable: the CLI prints them and
// scripts match them.
const (
	ProblemRecordCorrupt           = "record_corrupt"            // a record value or public record does not decode, or is not canonical JCS
	ProblemSeqMismatch             = "seq_mismatch"              // a record names another seq or organization than its key
	ProblemSeqGap                  = "seq_gap"                   // a seq is missing (deleted record)
	ProblemLeafMismatch            = "leaf_mismatch"             // the stored leaf hash is not the hash of the public record
	ProblemChainBroken             = "chain_broken"              // prevHash is not the previous record's leaf hash
	ProblemNodeMismatch            = "node_mismatch"             // a stored tree node is missing, extra, or differs from the recomputed tree
	ProblemRangeMismatch           = "range_mismatch"            // the stored compact range or head differs from the recomputed tree
	ProblemBadSignature            = "bad_signature"             // a stored checkpoint does not verify with the log's key
	ProblemCheckpointMismatch      = "checkpoint_mismatch"       // a checkpoint's root is not the recomputed tree's root at its size
	ProblemCheckpointTime          = "checkpoint_time"           // a checkpoint's stored time is not the time its note signs
	ProblemInconsistentCheckpoints = "inconsistent_checkpoints"  // consecutive checkpoints do not extend each other
	ProblemRollback                = "rollback"                  // the log is smaller than a checkpoint or the keychain anchor
	ProblemIndexDangling           = "index_dangling"            // an index entry points at no record, or disagrees with it
	ProblemIndexMissing            = "index_missing"             // a record lacks one of its index entries
	ProblemStateDecryptFailed      = "state_decrypt_failed"      // a sealed state does not decrypt
	ProblemStateCommitmentMismatch = "state_commitment_mismatch" // a decrypted state does not match its commitment
	ProblemUnsigned                = "unsigned"                  // with VerifyOptions.PublicKey: events no checkpoint signed with that key covers
	ProblemIntegrityAlert          = "integrity_alert"           // the log holds an integrity alert (seen by a copy or keyless), or is damaged beyond loading
)

// Problem is one thing Verify found wrong: the organization, the seq and id
// of the record concerned (when there is one), what kind of problem, and a
// sentence saying what exactly. Checkpoint is the checkpoint's number for
// checkpoint problems; for a tree node Seq is the first leaf it covers.
type Problem struct {
	Org        string `json:"org"`
	Seq        uint64 `json:"seq,omitempty"`
	ID         string `json:"id,omitempty"`
	Kind       string `json:"kind"`
	Detail     string `json:"detail"`
	Checkpoint uint64 `json:"checkpoint,omitempty"`
}

func (p Problem) String() string {
	s := "org " + p.Org
	if p.Seq != 0 {
		s += fmt.Sprintf(" seq %d", p.Seq)
	}
	if p.ID != "" {
		s += " id " + p.ID
	}
	if p.Checkpoint != 0 {
		s += fmt.Sprintf(" checkpoint %d", p.Checkpoint)
	}
	return s + ": " + p.Kind + ": " + p.Detail
}

// VerifyOptions select what Verify checks.
type VerifyOptions struct {
	// Org limits verification to one organization; empty means all.
	Org string
	// Keyless uses no key beyond the one that opened the database: no data
	// keys (states are not decrypted), no signing key and no keychain
	// anchor; checkpoint signatures are checked with the verifier key stored
	// in the log. Badger is encrypted at rest with a key derived from the
	// master key, so opening the store always needs it; an auditor's fully
	// keyless path is an export bundle, verified offline.
	Keyless bool
	// PublicKey, when set, is the verifier key (note verifier format) the
	// caller trusts, such as the one the owner published: checkpoint
	// signatures are checked with it instead of the key the log stores,
	// and a log that stores another key is a problem. A copy of the log
	// alone cannot show that its key was not replaced along with its
	// records.
	PublicKey string
	// Checkpoints are signed checkpoints the caller kept, such as an
	// auditor's from an earlier visit. Each is checked as the keychain
	// anchor is: it must verify, and the log must hold its events with its
	// root at its size, or the log was rolled back, truncated or
	// rewritten. A copy of the log alone cannot show that.
	Checkpoints []HeldCheckpoint
	// Progress, when set, is called now and then with the records checked
	// of the organization being verified and its size.
	Progress func(org string, done, total uint64)
}

// HeldCheckpoint is a signed checkpoint the caller of Verify kept, and a
// name to call it by in problems (a file name).
type HeldCheckpoint struct {
	Name string
	Note []byte
}

// Org is the organization a kept checkpoint's origin names
// (tlog.Origin), or an error saying it is no checkpoint of an axiom-audit
// log.
func (h HeldCheckpoint) Org() (string, error) {
	text := strings.ReplaceAll(string(h.Note), "\r\n", "\n")
	origin, _, _ := strings.Cut(text, "\n")
	rest, ok := strings.CutPrefix(origin, strings.TrimSuffix(tlog.Origin("", ""), "/")) // "axiom-audit/"
	_, org, ok2 := strings.Cut(rest, "/")
	if !ok || !ok2 || !validOrg(org) || !strings.Contains(text, "\n\n") {
		return "", fmt.Errorf("%s is not a signed checkpoint of an axiom-audit log (its first line is %q)", h.Name, origin)
	}
	return org, nil
}

// VerifySummary counts what Verify checked and found.
type VerifySummary struct {
	Orgs        int    `json:"orgs"`
	Events      uint64 `json:"events"`
	Checkpoints uint64 `json:"checkpoints"`
	Nodes       uint64 `json:"nodes"`
	States      uint64 `json:"states"` // decrypted and checked (0 when keyless)
	Problems    uint64 `json:"problems"`
	Keyless     bool   `json:"keyless"`
	// Pruned counts the records retention replaced with tombstones under a
	// policy in force; PrunedRanges lists them as runs (the first 10,000).
	// They are not problems (retention_verify.go).
	Pruned                uint64        `json:"pruned"`
	PrunedRanges          []PrunedRange `json:"prunedRanges,omitempty"`
	PrunedRangesTruncated bool          `json:"prunedRangesTruncated,omitempty"`
}

// errStopVerify ends verification when report returns an error.
type stopVerify struct{ err error }

// Verify checks the log and calls report for each problem, in the order
// found (per organization, mostly by seq). It returns an error only when it
// could not check (I/O, a closed store, ctx, or report's own error); a
// tampered log gives a nil error and problems. It changes nothing.
func (s *Store) Verify(ctx context.Context, opts VerifyOptions, report func(Problem) error) (VerifySummary, error) {
	sum := VerifySummary{Keyless: opts.Keyless}
	if err := ctx.Err(); err != nil {
		return sum, err
	}
	if opts.Org != "" && !validOrg(opts.Org) {
		return sum, fmt.Errorf("organization id %q is not valid: %w", opts.Org, ErrNotFound)
	}
	s.closeMu.RLock()
	defer s.closeMu.RUnlock()
	if s.closed {
		return sum, ErrClosed
	}
	// The anchors are read before the snapshot: the checkpoint an anchor
	// holds was stored, and the events it covers appended, before the
	// anchor was written, so the snapshot has them all. An anchor read
	// after it could be of a checkpoint written since, larger than the
	// snapshot's tree: a rollback that is not there.
	anchors, err := s.readAnchors(ctx, opts)
	if err != nil {
		return sum, err
	}
	txn := s.db.NewTransaction(false)
	defer txn.Discard()
	if s.afterVerifySnapshot != nil {
		s.afterVerifySnapshot()
	}
	return s.verifyAt(ctx, txn, opts, anchors, report)
}

// verifyOrgs are the organizations a Verify of every organization checks:
// those with any key of their log or its indexes (index entries of an
// organization without records are problems too) and, unless keyless,
// those the keychain anchors, whose whole log may be gone.
func (s *Store) verifyOrgs(txn *badger.Txn, opts VerifyOptions) ([]string, error) {
	orgs, err := listOrgs(txn, tagHead, tagCompact, tagCheckpt, tagRecord, tagID, tagTime, tagIndex)
	if err == nil && (s.integ == nil || opts.Keyless) {
		// A copy (OpenForAudit), or a keyless verify, which reads no
		// keychain anchor: an organization whose log is gone may have
		// left its alert.
		for _, o := range alertedOrgs(txn) {
			if !slices.Contains(orgs, o) {
				orgs = append(orgs, o)
			}
		}
		slices.Sort(orgs)
	}
	if err != nil || opts.Keyless || s.integ == nil || s.integ.disabled {
		return orgs, err
	}
	s.integ.mu.Lock()
	for _, o := range s.integ.anchors {
		if !slices.Contains(orgs, o) {
			orgs = append(orgs, o)
		}
	}
	s.integ.mu.Unlock()
	slices.Sort(orgs)
	return orgs, nil
}

// readAnchors reads the keychain anchor of opts.Org, or of every
// organization of the log, by organization (none when keyless).
func (s *Store) readAnchors(ctx context.Context, opts VerifyOptions) (map[string][]byte, error) {
	anchors := map[string][]byte{}
	in := s.integ
	if in == nil || in.disabled || opts.Keyless {
		return anchors, nil
	}
	orgs := []string{opts.Org}
	if opts.Org == "" {
		// The organizations now: one that appears between this and the
		// snapshot had no anchor when it was read (its events come
		// before its first checkpoint).
		err := s.db.View(func(txn *badger.Txn) error {
			var err error
			orgs, err = s.verifyOrgs(txn, opts)
			return err
		})
		if err != nil {
			return nil, err
		}
	}
	for _, org := range orgs {
		raw, err := in.ks.Get(ctx, KeyAnchor(org))
		if errors.Is(err, ErrKeyNotFound) {
			raw, err = nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("failed to read the anchor of organization %q: %w", org, err)
		}
		anchors[org] = raw
	}
	return anchors, nil
}

// verifyTxn is Verify over the state txn sees, reading the anchors as it
// goes. Tests pass a read-write transaction holding uncommitted damage, so
// that flipping a bit and restoring it costs no commit
// (TestVerify_BitFlipSweep).
func (s *Store) verifyTxn(ctx context.Context, txn *badger.Txn, opts VerifyOptions, report func(Problem) error) (VerifySummary, error) {
	return s.verifyAt(ctx, txn, opts, nil, report)
}

// verifyAt is Verify over the state txn sees, with the anchors read before
// it (nil: read each when it is checked).
func (s *Store) verifyAt(ctx context.Context, txn *badger.Txn, opts VerifyOptions, anchors map[string][]byte, report func(Problem) error) (VerifySummary, error) {
	sum := VerifySummary{Keyless: opts.Keyless}
	v := &verifier{s: s, txn: txn, opts: opts, sum: &sum, seed: maphash.MakeSeed(), anchors: anchors}
	v.report = func(p Problem) error {
		sum.Problems++
		if err := report(p); err != nil {
			return stopVerify{err}
		}
		return nil
	}
	var err error
	if v.vkey, v.inst, err = readVerifierMeta(txn); err != nil {
		return sum, err
	}
	var keyProblem *Problem
	if opts.PublicKey != "" && opts.PublicKey != v.vkey {
		keyProblem = &Problem{Kind: ProblemBadSignature, Detail: fmt.Sprintf(
			"the log stores verifier key %q, not the one given (%q): its checkpoints are checked with the one given", v.vkey, opts.PublicKey)}
		v.vkey = opts.PublicKey
	}
	if v.held, err = heldByOrg(opts.Checkpoints, opts.Org); err != nil {
		return sum, err
	}
	orgs := []string{opts.Org}
	if opts.Org == "" {
		if orgs, err = s.verifyOrgs(txn, opts); err != nil {
			return sum, err
		}
		// An organization a kept checkpoint names is checked even when
		// the log has nothing of it: its whole log is gone.
		for org := range v.held {
			if !slices.Contains(orgs, org) {
				orgs = append(orgs, org)
			}
		}
		slices.Sort(orgs)
	}
	if keyProblem != nil {
		if len(orgs) == 0 {
			orgs = []string{""} // reported all the same
		}
		for _, org := range orgs {
			p := *keyProblem
			p.Org = org
			if err := v.report(p); err != nil {
				return sum, err.(stopVerify).err
			}
		}
	}
	for _, org := range orgs {
		sum.Orgs++
		if err := v.org(ctx, org); err != nil {
			var st stopVerify
			if errors.As(err, &st) {
				return sum, st.err
			}
			return sum, err
		}
	}
	return sum, errors.Join(v.keyErrs...)
}

func (e stopVerify) Error() string { return e.err.Error() }

func readVerifierMeta(txn *badger.Txn) (vkey, inst string, err error) {
	get := func(name string) (string, error) {
		item, err := txn.Get(metaKey(name))
		if errors.Is(err, badger.ErrKeyNotFound) {
			return "", nil
		}
		if err != nil {
			return "", fmt.Errorf("failed to read %s: %w", name, err)
		}
		b, err := item.ValueCopy(nil)
		return string(b), err
	}
	if vkey, err = get(metaVerifierKey); err != nil {
		return
	}
	inst, err = get(metaInstallationID)
	return
}

type verifier struct {
	s      *Store
	txn    *badger.Txn
	opts   VerifyOptions
	sum    *VerifySummary
	seed   maphash.Seed
	vkey   string
	inst   string
	report func(Problem) error
	ret    *retentionCheck // the organization's retention policies, for tombstones
	// anchors are the keychain anchors read before txn, by organization
	// (nil value: none); nil: read each when it is checked.
	anchors map[string][]byte
	// held are the checkpoints the caller kept, by organization
	// (VerifyOptions.Checkpoints).
	held map[string][]HeldCheckpoint
	// noStates: the organization being checked is checked without its
	// states, whose keys are not at hand; keyErrs says which, once every
	// organization has been checked.
	noStates bool
	keyErrs  []error
}

// Index tables compared through fingerprints.
const (
	ixID = iota
	ixTime
	ixSecondary
	ixTables
)

type fingerprint struct {
	sum, n uint64
}

func (f *fingerprint) add(h uint64) { f.sum += h; f.n++ }

// vrec is what a worker found in one record, for the consumer.
type vrec struct {
	seq    uint64
	keyLen bool // the key has the right length

	ok       bool // decoded: the fields below are meaningful
	id       string
	leaf     [32]byte // recomputed
	prev     [32]byte // prevHash of the public record
	prevOK   bool
	problems []Problem
	fp       [ixTables]fingerprint
	states   uint64
	tomb     *tombstone // a record retention pruned (retention_verify.go)
	recNs    int64      // recordedAt, when recOK
	recOK    bool
}

// vchunk is a range of seqs [lo, hi) (hi 0: to the end of the records)
// that one worker reads with its own iterator and checks; the consumer
// takes chunks in order.
type vchunk struct {
	lo, hi uint64
	first  bool // starts at the prefix itself, so malformed keys are seen
	recs   []vrec
	err    error
	done   chan struct{}
}

// idEntryCompared is the part of an id index value verify compares with
// what the record implies: seq and recordedAt, without the content MAC,
// which needs the states to recompute. A value of another length is
// compared whole, and one of exactly those 16 bytes made unequal: it is
// not a whole entry.
func idEntryCompared(val []byte) []byte {
	switch len(val) {
	case idEntryLen:
		return val[:16]
	case 16:
		return append(bytes.Clone(val), 0)
	}
	return val
}

// maxGapRows is the largest run of missing seqs verify names one by one;
// a longer one is one problem.
const maxGapRows = 1 << 16

// verifyChunk is the number of seqs per chunk: large enough that opening
// an iterator per chunk costs nothing, small enough that memory stays flat.
const verifyChunk = 4096

// vscratch is a worker's reusable buffers, so that checking a record
// allocates little.
type vscratch struct {
	pre  []byte // 0x00 || public record, the leaf preimage
	key  []byte
	val  []byte
	sum  []byte
	seen []string
	res  []string // resourceIds of the record being checked
}

// org verifies one organization.
func (v *verifier) org(ctx context.Context, org string) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	txn := v.txn
	v.noStates = false
	if !v.opts.Keyless && v.s.keys != nil {
		// The states need the organization's data keys: without the KEK
		// that wraps them (or the keychain), every state would be a
		// problem, though nothing in the log is wrong. The rest of this
		// organization, and every other one, is still checked; the
		// missing key is said once, at the end.
		if err := v.s.keys.ensure(ctx, org); errors.Is(err, ErrKeyNotFound) || errors.Is(err, ErrKeychainUnavailable) || errors.Is(err, ErrWrongKey) {
			v.keyErrs = append(v.keyErrs, fmt.Errorf("cannot check the states of organization %q: %w ('verify --keyless' checks everything but the states)", org, err))
			v.noStates = true
		}
	}
	v.ret = v.s.newRetentionCheck(txn, org)
	storedTree, hasTree, err := readTree(txn, org)
	if err != nil {
		if err := v.report(Problem{Org: org, Kind: ProblemRangeMismatch, Detail: err.Error()}); err != nil {
			return err
		}
		storedTree = tlog.NewTree()
	}
	var h head
	var hasHead bool
	if item, err := txn.Get(headKey(org)); err == nil {
		hasHead = true
		if err := item.Value(func(b []byte) error { h, err = decodeHead(b); return err }); err != nil {
			if err := v.report(Problem{Org: org, Kind: ProblemRangeMismatch, Detail: "the head does not decode: " + err.Error()}); err != nil {
				return err
			}
		}
	} else if !errors.Is(err, badger.ErrKeyNotFound) {
		return fmt.Errorf("failed to read the head of organization %q: %w", org, err)
	}
	total := max(h.seq, storedTree.Size())

	// Index fingerprints, computed from the index tables concurrently.
	var ixFP [ixTables]fingerprint
	var ixErr error
	var ixWG sync.WaitGroup
	ixWG.Add(1)
	go func() {
		defer ixWG.Done()
		ixFP, ixErr = v.indexFingerprints(ctx, org)
	}()

	// The record pipeline: chunks of seqs, each read and checked by a
	// worker with its own iterator (reading values, which Badger decrypts,
	// is most of the work), consumed in order.
	workers := max(1, runtime.GOMAXPROCS(0))
	work := make(chan *vchunk, workers)
	order := make(chan *vchunk, workers*2)
	go func() {
		defer close(work)
		defer close(order)
		// Chunks skip seqs without records, so that a head or tree size
		// (or a stray record) far beyond the records costs nothing: the
		// work is bounded by the records there are.
		next := txn.NewIterator(badger.IteratorOptions{Prefix: orgPrefix(tagRecord, org)})
		defer next.Close()
		for lo := uint64(1); ; lo += verifyChunk {
			first := lo == 1
			if !first {
				next.Seek(recordKey(org, lo))
				if !next.Valid() {
					return
				}
				if k := next.Item().Key(); len(k) == len(orgPrefix(tagRecord, org))+8 {
					lo = max(lo, binary.BigEndian.Uint64(k[len(k)-8:]))
				}
			}
			c := &vchunk{lo: lo, first: first, done: make(chan struct{})}
			if lo+verifyChunk <= total {
				c.hi = lo + verifyChunk
			}
			select {
			case order <- c:
			case <-ctx.Done():
				return
			}
			select {
			case work <- c:
			case <-ctx.Done():
				close(c.done)
				return
			}
			if c.hi == 0 {
				return
			}
		}
	}()
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var sc vscratch
			for c := range work {
				c.err = v.readChunk(ctx, org, c, &sc)
				close(c.done)
			}
		}()
	}
	defer wg.Wait()

	c := newTreeChecker(v, txn, org)
	defer c.close()
	var recFP [ixTables]fingerprint
	var prevLeaf [32]byte // recomputed leaf of the previous seq (zero before seq 1)
	var last uint64       // last seq seen
	var lastRec *int64    // its recordedAt, when known
	var done uint64
	// The leaf of a record that is missing or does not decode is taken from
	// the stored tree (its leaf node, or its tile when complete), else from
	// the next record's prevHash (stride 4, the tree's incomplete right
	// edge), so the tree stays aligned and the records after it are still
	// checked; the leaf of an undecodable record then waits (deferred)
	// until the next record is read.
	treeOff := false    // past a gap too large to follow the tree across
	var deferred uint64 // seq whose leaf waits for the next record, 0 when none
	var deferredID string
	knownLeaf := func(seq uint64, next *vrec) [32]byte {
		// The stored leaf node (stride 1) or the leaf in its complete
		// tile (stride 4).
		if l, ok := c.storedLeaf(seq); ok || c.v.s.stride == 1 {
			return l
		}
		if next != nil && next.seq == seq+1 && next.ok && next.prevOK {
			return next.prev
		}
		if next == nil && hasHead && h.seq == seq {
			return h.leaf
		}
		return [32]byte{}
	}
	flushDeferred := func(next *vrec) error {
		if deferred == 0 {
			return nil
		}
		seq := deferred
		deferred = 0
		prevLeaf = knownLeaf(seq, next)
		if treeOff {
			return nil
		}
		return c.leaf(prevLeaf, seq, deferredID)
	}
	consume := func(r *vrec) error {
		if !r.keyLen {
			return v.report(Problem{Org: org, Kind: ProblemRecordCorrupt, Detail: "a record key has the wrong length"})
		}
		if r.seq <= last {
			return v.report(Problem{Org: org, Seq: r.seq, Kind: ProblemSeqGap, Detail: "record out of order"})
		}
		if err := flushDeferred(r); err != nil {
			return err
		}
		if r.seq-last-1 > maxGapRows {
			// Too many to name one by one (a record moved far beyond the
			// log, or most of it deleted): one problem for the range. The
			// tree cannot be followed across it; the records are still
			// checked.
			if err := v.report(Problem{Org: org, Seq: last + 1, Kind: ProblemSeqGap,
				Detail: fmt.Sprintf("records seq %d to %d are missing (%d records; the next record is seq %d); the tree is not checked past seq %d",
					last+1, r.seq-1, r.seq-last-1, r.seq, last)}); err != nil {
				return err
			}
			treeOff = true
			last = r.seq - 1
		}
		// Missing seqs: report, and keep the tree aligned with the leaves
		// known otherwise so that the records after the gap are still
		// checked.
		for missing := last + 1; missing < r.seq; missing++ {
			if err := v.report(Problem{Org: org, Seq: missing, Kind: ProblemSeqGap,
				Detail: fmt.Sprintf("record seq %d is missing (deleted); the next record is seq %d", missing, r.seq)}); err != nil {
				return err
			}
			l := knownLeaf(missing, r)
			if !treeOff {
				if err := c.leaf(l, missing, ""); err != nil {
					return err
				}
			}
			prevLeaf = l
		}
		last, lastRec = r.seq, nil
		if r.recOK {
			lastRec = &r.recNs
		}
		for _, p := range r.problems {
			if err := v.report(p); err != nil {
				return err
			}
		}
		leaf := r.leaf
		if !r.ok {
			// Undecodable: keep the tree aligned with the leaf known
			// otherwise.
			if c.v.s.stride != 1 {
				deferred, deferredID = r.seq, r.id
			} else {
				leaf = knownLeaf(r.seq, nil)
			}
		} else {
			if r.prevOK && r.prev != prevLeaf {
				if err := v.report(Problem{Org: org, Seq: r.seq, ID: r.id, Kind: ProblemChainBroken,
					Detail: fmt.Sprintf("prevHash %x is not the leaf hash %x of seq %d", r.prev, prevLeaf, r.seq-1)}); err != nil {
					return err
				}
			}
			for t := range recFP {
				recFP[t].sum += r.fp[t].sum
				recFP[t].n += r.fp[t].n
			}
			v.sum.States += r.states
		}
		prevLeaf = leaf
		v.sum.Events++
		if r.tomb != nil {
			v.notePruned(org, r.tomb)
		}
		if deferred == 0 && !treeOff {
			if err := c.leaf(leaf, r.seq, r.id); err != nil {
				return err
			}
		}
		done++
		if v.opts.Progress != nil && done%8192 == 0 {
			v.opts.Progress(org, done, total)
		}
		return nil
	}
	var consumeErr error
	for ch := range order {
		<-ch.done
		if consumeErr != nil {
			continue
		}
		if ch.err != nil {
			consumeErr = ch.err
			cancel()
			continue
		}
		for i := range ch.recs {
			if consumeErr = consume(&ch.recs[i]); consumeErr != nil {
				cancel()
				break
			}
		}
		ch.recs = nil
	}
	wg.Wait()
	ixWG.Wait()
	if consumeErr == nil {
		consumeErr = flushDeferred(nil)
	}
	if consumeErr != nil {
		return consumeErr
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	// Seqs missing at the end (truncation) are caught by the head, the
	// compact range and the checkpoints below.
	if v.opts.Progress != nil {
		v.opts.Progress(org, done, total)
	}
	// The indexes.
	checkIndexes := func() error {
		if ixErr != nil {
			return ixErr
		}
		for t := range ixTables {
			if ixFP[t] != recFP[t] {
				if err := v.pinpointIndex(ctx, org, t); err != nil {
					return err
				}
			}
		}
		return nil
	}
	if treeOff {
		// The records were checked; the tree, its checkpoints and the
		// anchor cannot be, across the gap reported.
		return checkIndexes()
	}
	if err := c.finish(); err != nil {
		return err
	}
	tree := c.tree
	// The head and the compact range.
	var headProblem string
	switch {
	case !hasHead && last > 0:
		headProblem = fmt.Sprintf("the head is missing, the records end at seq %d", last)
	case hasHead && (h.seq != last || h.leaf != prevLeaf):
		headProblem = fmt.Sprintf("the head names seq %d with leaf %x, the records end at seq %d with leaf %x", h.seq, h.leaf, last, prevLeaf)
	case hasHead && lastRec != nil && h.lastRecordedAt != *lastRec:
		headProblem = fmt.Sprintf("the head says seq %d was recorded at %s, the record says %s", h.seq,
			time.Unix(0, h.lastRecordedAt).UTC().Format(time.RFC3339Nano), time.Unix(0, *lastRec).UTC().Format(time.RFC3339Nano))
	}
	if headProblem != "" {
		if err := v.report(Problem{Org: org, Seq: max(h.seq, last), Kind: ProblemRangeMismatch, Detail: headProblem}); err != nil {
			return err
		}
	}
	if hasTree || tree.Size() > 0 {
		ss, sh := storedTree.RangeState()
		rs, rh := tree.RangeState()
		if ss != rs || !slices.Equal(sh, rh) {
			if err := v.report(Problem{Org: org, Seq: ss, Kind: ProblemRangeMismatch,
				Detail: fmt.Sprintf("the stored compact range (size %d, root %s) is not the recomputed tree's (size %d, root %s)",
					ss, storedTree.Root(), rs, tree.Root())}); err != nil {
				return err
			}
		}
	}
	if err := c.restCheckpoints(); err != nil {
		return err
	}
	if v.opts.PublicKey != "" {
		// Checkpoints signed with the key the caller trusts are what
		// binds the records to their owner: events none covers could
		// have been written by anyone with the database (or with
		// checkpoints removed).
		var covered uint64
		if c.prev != nil {
			covered = min(c.prev.Checkpoint.Size, tree.Size())
		}
		if tree.Size() > covered {
			if err := v.report(Problem{Org: org, Seq: covered + 1, Kind: ProblemUnsigned,
				Detail: fmt.Sprintf("events %d to %d are covered by no checkpoint signed with the given verifier key", covered+1, tree.Size())}); err != nil {
				return err
			}
		}
	}
	if err := v.anchor(ctx, org, tree); err != nil {
		return err
	}
	for _, h := range v.held[org] {
		if err := v.checkHeld(ctx, org, tree, h); err != nil {
			return err
		}
	}
	return checkIndexes()
}

// storedAlert reports org's stored integrity alert, unless acknowledged.
func (v *verifier) storedAlert(org string) error {
	item, err := v.txn.Get(alertKey(org))
	if errors.Is(err, badger.ErrKeyNotFound) || err == nil && isCleared(item) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("failed to read the integrity alert of organization %q: %w", org, err)
	}
	var a IntegrityAlert
	detail := ""
	if err := item.Value(func(b []byte) error { return json.Unmarshal(b, &a) }); err != nil || a.Org != org {
		detail = fmt.Sprintf("the log holds an integrity alert that does not decode, or names another organization (%q)", a.Org)
	} else {
		detail = "the log holds an unacknowledged integrity alert, raised " + a.DetectedAt.UTC().Format(time.RFC3339) + ": " + a.Message()
	}
	return v.report(Problem{Org: org, Kind: ProblemIntegrityAlert, Detail: detail})
}

// heldByOrg sorts kept checkpoints by the organization their origin names
// (tlog.Origin). A note that is not a checkpoint of an axiom-audit log is
// the caller's mistake, an error; one of another installation is a
// problem of the organization it names (checkHeld): the log's
// installation id may be what was replaced.
func heldByOrg(held []HeldCheckpoint, only string) (map[string][]HeldCheckpoint, error) {
	out := map[string][]HeldCheckpoint{}
	for _, h := range held {
		h.Note = tlog.CopiedNote(h.Note)
		org, err := h.Org()
		if err != nil {
			return nil, err
		}
		if only != "" && org != only {
			return nil, fmt.Errorf("%s is a checkpoint of organization %q, and only %q is verified", h.Name, org, only)
		}
		out[org] = append(out[org], h)
	}
	return out, nil
}

// checkHeld checks a checkpoint the caller kept against org's log, as
// anchor checks the keychain's: its signature (with the verifier key in
// force) and origin, that the log holds its events, and its root.
func (v *verifier) checkHeld(ctx context.Context, org string, tree *tlog.Tree, h HeldCheckpoint) error {
	cp, err := tlog.OpenCheckpoint(h.Note, v.vkey, tlog.Origin(v.inst, org))
	if err != nil {
		origin, _, _ := strings.Cut(string(h.Note), "\n")
		why := "the checkpoint, or the log's key, was changed"
		if origin != tlog.Origin(v.inst, org) {
			why = "it is of another installation's log, or the log's installation id was changed"
		}
		return v.report(Problem{Org: org, Kind: ProblemBadSignature,
			Detail: fmt.Sprintf("the checkpoint kept in %s (origin %q) does not verify against this log (origin %q, verifier key %q): %v; %s",
				h.Name, origin, tlog.Origin(v.inst, org), v.vkey, err, why)})
	}
	if cp.Size > tree.Size() {
		detail := fmt.Sprintf("the checkpoint kept in %s is of %d events, the log has %d (rolled back or truncated)", h.Name, cp.Size, tree.Size())
		if tree.Size() == 0 {
			detail = fmt.Sprintf("the checkpoint kept in %s is of %d events of organization %q, and the log holds none of them: "+
				"a copy made for other organizations (copy-for-audit --org) does not include it; otherwise the log was truncated", h.Name, cp.Size, org)
		}
		return v.report(Problem{Org: org, Seq: tree.Size() + 1, Kind: ProblemRollback, Detail: detail})
	}
	root, err := tlog.RootAt(ctx, v.s.nodes(v.txn, org), cp.Size)
	if err != nil || root != cp.Root {
		detail := fmt.Sprintf("the checkpoint kept in %s signs root %s for size %d, the log's is %s (rewritten since)", h.Name, cp.Root, cp.Size, root)
		if err != nil {
			detail = fmt.Sprintf("the checkpoint kept in %s is of size %d, and the log's root at that size cannot be read: %v", h.Name, cp.Size, err)
		}
		return v.report(Problem{Org: org, Kind: ProblemInconsistentCheckpoints, Detail: detail})
	}
	return nil
}

// readChunk reads and checks the records of one chunk (a worker's part).
func (v *verifier) readChunk(ctx context.Context, org string, c *vchunk, sc *vscratch) error {
	p := orgPrefix(tagRecord, org)
	it := v.txn.NewIterator(badger.IteratorOptions{Prefix: p})
	defer it.Close()
	var end []byte
	if c.hi != 0 {
		end = recordKey(org, c.hi)
	}
	if c.first {
		it.Seek(p)
	} else {
		it.Seek(recordKey(org, c.lo))
	}
	n := uint64(256) // the last chunk: usually short
	if c.hi != 0 {
		n = c.hi - c.lo
	}
	c.recs = make([]vrec, 0, n)
	for ; it.Valid(); it.Next() {
		item := it.Item()
		k := item.Key()
		if end != nil && bytes.Compare(k, end) >= 0 {
			break
		}
		if len(c.recs)%256 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		r := vrec{keyLen: len(k) == len(p)+8}
		if r.keyLen {
			r.seq = binary.BigEndian.Uint64(k[len(p):])
		}
		v.s.readMapped(int(item.ValueSize()))
		// The value is only valid in the callback; checkRecord keeps
		// nothing of it.
		err := item.Value(func(val []byte) error {
			v.checkRecord(org, &r, val, sc)
			return nil
		})
		if err != nil {
			return fmt.Errorf("failed to read record %x of organization %q: %w", k, org, err)
		}
		c.recs = append(c.recs, r)
	}
	return nil
}

// checkRecord decodes and hashes one record value.
func (v *verifier) checkRecord(org string, r *vrec, val []byte, sc *vscratch) {
	if !r.keyLen {
		return
	}
	if isTombstone(val) {
		v.checkTombstone(org, r, val)
		return
	}
	bad := func(kind, detail string) {
		r.problems = append(r.problems, Problem{Org: org, Seq: r.seq, ID: r.id, Kind: kind, Detail: detail})
	}
	rv, err := decodeRecordValue(val)
	if err != nil {
		bad(ProblemRecordCorrupt, err.Error())
		return
	}
	sc.pre = append(append(sc.pre[:0], 0), rv.public...)
	r.leaf = sha256.Sum256(sc.pre)
	// Records in the exact form Append writes take the fast decoder, which
	// accepts only canonical JCS but for the metadata object, canonicalized
	// on its own; anything else the strict decoder and a full comparison.
	// The view's strings alias val: only r.id, cloned, outlives this call.
	p, fast, metaCanonical := decodePublicView(rv.public, sc.res)
	sc.res = p.ResourceIDs
	if fast && p.Seq <= 1<<53 {
		if !metaCanonical {
			if c, err := canonicalJSON(p.Metadata); err != nil || !bytes.Equal(c, p.Metadata) {
				bad(ProblemRecordCorrupt, "the public record is not in RFC 8785 canonical form")
			}
		}
	} else {
		if p, err = decodePublic(rv.public); err != nil {
			bad(ProblemRecordCorrupt, err.Error())
			return
		}
		if c, err := canonicalJSON(rv.public); err != nil || !bytes.Equal(c, rv.public) {
			bad(ProblemRecordCorrupt, "the public record is not in RFC 8785 canonical form")
		}
	}
	r.id = strings.Clone(p.ID)
	for i := range r.problems {
		r.problems[i].ID = r.id
	}
	if rv.leaf != r.leaf {
		bad(ProblemLeafMismatch, fmt.Sprintf("the stored leaf hash %x is not SHA-256(0x00 || public record) = %x", rv.leaf, r.leaf))
	}
	if p.Seq != r.seq || p.OrganizationID != org {
		bad(ProblemSeqMismatch, fmt.Sprintf("the record under seq %d of %q names seq %d of %q (moved or swapped)", r.seq, org, p.Seq, p.OrganizationID))
	}
	if decodeLowerHex(r.prev[:], p.PrevHash) {
		r.prevOK = true
	} else {
		bad(ProblemRecordCorrupt, "prevHash is not 64 lowercase hex digits")
	}
	ts, ok1 := parseRecordTime(p.Timestamp)
	rec, ok2 := parseRecordTime(p.RecordedAt)
	if !ok1 || !ok2 {
		bad(ProblemRecordCorrupt, "timestamp or recordedAt is not an RFC 3339 time")
	} else {
		r.recNs, r.recOK = rec.UnixNano(), true
		v.recordFingerprints(org, &p, r.seq, encTime(ts), r.recNs, &r.fp, sc)
	}
	// States: the commitments are public; the ciphertexts only with keys.
	for _, st := range [2]struct {
		sealed     []byte
		commitment string
		side       byte
		name       string
	}{{rv.sealedBefore, p.BeforeStateCommitment, 'b', "beforeState"}, {rv.sealedAfter, p.AfterStateCommitment, 'a', "afterState"}} {
		if (len(st.sealed) == 0) != (st.commitment == "") {
			bad(ProblemStateCommitmentMismatch, st.name+": a commitment without a sealed state, or a sealed state without a commitment")
			continue
		}
		if len(st.sealed) == 0 {
			continue
		}
		var c [32]byte
		if len(st.commitment) != 64 {
			bad(ProblemRecordCorrupt, st.name+": the commitment is not 32 bytes of hex")
			continue
		}
		if _, err := hex.Decode(c[:], []byte(st.commitment)); err != nil {
			bad(ProblemRecordCorrupt, st.name+": the commitment is not 32 bytes of hex")
			continue
		}
		if v.opts.Keyless || v.noStates {
			continue
		}
		salt, state, err := v.s.keys.openSealed(v.s.bgCtx, st.sealed, org, r.seq, p.ID, st.side, c[:])
		if err != nil {
			bad(ProblemStateDecryptFailed, st.name+": "+err.Error())
			continue
		}
		r.states++
		if sum := stateCommitment(salt, state); sum != c {
			bad(ProblemStateCommitmentMismatch, fmt.Sprintf("%s: the decrypted state hashes to %x, not the commitment %s", st.name, sum, st.commitment))
		}
	}
	r.ok = true
}

// decodeLowerHex decodes s, which must be exactly 2·len(dst) lowercase hex
// digits, into dst.
func decodeLowerHex(dst []byte, s string) bool {
	if len(s) != 2*len(dst) {
		return false
	}
	for i := range dst {
		hi, ok1 := lowerHexDigit(s[2*i])
		lo, ok2 := lowerHexDigit(s[2*i+1])
		if !ok1 || !ok2 {
			return false
		}
		dst[i] = hi<<4 | lo
	}
	return true
}

func lowerHexDigit(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}

// signatureLines counts the signature lines of a signed note: those after
// the blank line that ends its text.
func signatureLines(note []byte) int {
	i := bytes.LastIndex(note, []byte("\n\n"))
	if i < 0 {
		return 0
	}
	return bytes.Count(note[i+2:], []byte("\u2014 "))
}

// recordFingerprints adds the entry hashes of the index entries a record
// implies (expectedIndexEntries, built in sc's buffers) to fp.
func (v *verifier) recordFingerprints(org string, p *publicRecord, seq, ts uint64, recNs int64, fp *[ixTables]fingerprint, sc *vscratch) {
	sc.sum = summary{provider: p.Provider, status: p.Status, risk: p.RiskLevel, category: p.Category,
		actionType: p.ActionType, userID: p.UserID}.appendTo(sc.sum[:0])
	sc.key = append(append(append(sc.key[:0], tagID), org...), 0)
	sc.key = append(sc.key, p.ID...)
	sc.val = binary.BigEndian.AppendUint64(sc.val[:0], seq)
	sc.val = binary.BigEndian.AppendUint64(sc.val, uint64(recNs))
	fp[ixID].add(v.entryHash(sc.key, sc.val))
	sc.key = append(append(append(sc.key[:0], tagTime), org...), 0)
	sc.key = binary.BigEndian.AppendUint64(sc.key, ts)
	sc.key = binary.BigEndian.AppendUint64(sc.key, seq)
	fp[ixTime].add(v.entryHash(sc.key, sc.sum))
	add := func(field byte, value string) {
		sc.key = append(append(append(sc.key[:0], tagIndex), org...), 0, field)
		sc.key = append(append(sc.key, value...), 0)
		sc.key = binary.BigEndian.AppendUint64(sc.key, ts)
		sc.key = binary.BigEndian.AppendUint64(sc.key, seq)
		fp[ixSecondary].add(v.entryHash(sc.key, sc.sum))
	}
	add(fieldCategory, p.Category)
	add(fieldUserID, p.UserID)
	sc.seen = sc.seen[:0]
	for _, r := range p.ResourceIDs {
		if !slices.Contains(sc.seen, r) {
			sc.seen = append(sc.seen, r)
			add(fieldResourceID, r)
		}
	}
}

// indexEntry is one index entry a record implies.
type indexEntry struct {
	table    int
	key, val []byte
}

// expectedIndexEntries are the id, timeline and secondary index entries of
// a record, as Append writes them (append.go: prepare and build). The id
// entry's value is compared without its content MAC, which needs a key.
func expectedIndexEntries(org string, p *publicRecord, seq, ts uint64, recNs int64) []indexEntry {
	sum := summary{provider: p.Provider, status: p.Status, risk: p.RiskLevel, category: p.Category,
		actionType: p.ActionType, userID: p.UserID}.encode()
	idVal := binary.BigEndian.AppendUint64(nil, seq)
	idVal = binary.BigEndian.AppendUint64(idVal, uint64(recNs))
	out := []indexEntry{
		{ixID, idKey(org, p.ID), idVal},
		{ixTime, timeKey(org, ts, seq), sum},
	}
	var suffix [16]byte
	binary.BigEndian.PutUint64(suffix[:], ts)
	binary.BigEndian.PutUint64(suffix[8:], seq)
	add := func(field byte, value string) {
		out = append(out, indexEntry{ixSecondary, append(indexPrefix(org, field, value), suffix[:]...), sum})
	}
	add(fieldCategory, p.Category)
	add(fieldUserID, p.UserID)
	seen := map[string]bool{}
	for _, r := range p.ResourceIDs {
		if !seen[r] {
			seen[r] = true
			add(fieldResourceID, r)
		}
	}
	return out
}

func (v *verifier) entryHash(key, val []byte) uint64 {
	var h maphash.Hash
	h.SetSeed(v.seed)
	var n [binary.MaxVarintLen64]byte
	h.Write(n[:binary.PutUvarint(n[:], uint64(len(key)))])
	h.Write(key)
	h.Write(val)
	return h.Sum64()
}

// indexFingerprints sums the entry hashes of org's index tables.
func (v *verifier) indexFingerprints(ctx context.Context, org string) ([ixTables]fingerprint, error) {
	var fp [ixTables]fingerprint
	for t, tag := range map[int]byte{ixID: tagID, ixTime: tagTime, ixSecondary: tagIndex} {
		// Index values are small and kept in the LSM tree: reading them in
		// place beats Badger's prefetch, which starts a goroutine per item.
		it := v.txn.NewIterator(badger.IteratorOptions{Prefix: orgPrefix(tag, org)})
		for it.Rewind(); it.Valid(); it.Next() {
			if err := ctx.Err(); err != nil {
				it.Close()
				return fp, err
			}
			item := it.Item()
			err := item.Value(func(val []byte) error {
				if t == ixID {
					val = idEntryCompared(val)
				}
				fp[t].add(v.entryHash(item.Key(), val))
				return nil
			})
			if err != nil {
				it.Close()
				return fp, fmt.Errorf("failed to read an index entry of organization %q: %w", org, err)
			}
		}
		it.Close()
	}
	return fp, nil
}

// pinpointIndex runs when an index table's fingerprint differs from the
// records': it names each dangling entry and each record missing an entry.
func (v *verifier) pinpointIndex(ctx context.Context, org string, table int) error {
	txn := v.txn
	tag := map[int]byte{ixID: tagID, ixTime: tagTime, ixSecondary: tagIndex}[table]
	name := map[int]string{ixID: "id index", ixTime: "timeline index", ixSecondary: "secondary index"}[table]
	// Index entries come in key order, not seq order, and a record has
	// several: remember the last few thousand records' entries.
	type expect struct {
		id      string
		entries []indexEntry
		ok      bool
	}
	cache := map[uint64]expect{}
	var expectedUncached func(seq uint64) (string, []indexEntry, bool)
	expected := func(seq uint64) (string, []indexEntry, bool) {
		if e, ok := cache[seq]; ok {
			return e.id, e.entries, e.ok
		}
		if len(cache) >= 4096 {
			clear(cache)
		}
		id, entries, ok := expectedUncached(seq)
		cache[seq] = expect{id, entries, ok}
		return id, entries, ok
	}
	expectedUncached = func(seq uint64) (string, []indexEntry, bool) {
		item, err := txn.Get(recordKey(org, seq))
		if err != nil {
			return "", nil, false
		}
		var id string
		var out []indexEntry
		ok := item.Value(func(val []byte) error {
			if isTombstone(val) {
				var ok bool
				if id, out, ok = tombstoneIndexEntries(org, seq, val); !ok {
					return errCorrupt
				}
				return nil
			}
			rv, err := decodeRecordValue(val)
			if err != nil {
				return err
			}
			p, ok := decodePublicFast(rv.public)
			if !ok {
				if p, err = decodePublic(rv.public); err != nil {
					return err
				}
			}
			ts, ok1 := parseRecordTime(p.Timestamp)
			rec, ok2 := parseRecordTime(p.RecordedAt)
			if !ok1 || !ok2 {
				return errCorrupt
			}
			id = p.ID
			out = expectedIndexEntries(org, &p, seq, encTime(ts), rec.UnixNano())
			return nil
		}) == nil
		return id, out, ok
	}
	// Entries that point at nothing or disagree with their record.
	p := orgPrefix(tag, org)
	it := txn.NewIterator(badger.IteratorOptions{Prefix: p})
	defer it.Close()
	for it.Rewind(); it.Valid(); it.Next() {
		if err := ctx.Err(); err != nil {
			return err
		}
		item := it.Item()
		key := item.KeyCopy(nil)
		val, err := item.ValueCopy(nil)
		if err != nil {
			return fmt.Errorf("failed to read an index entry of organization %q: %w", org, err)
		}
		var seq uint64
		var entryID string
		if table == ixID {
			entryID = string(key[len(p):])
			if len(val) >= 8 {
				seq = binary.BigEndian.Uint64(val)
			}
			val = idEntryCompared(val)
		} else if len(key) >= len(p)+16 {
			seq = binary.BigEndian.Uint64(key[len(key)-8:])
		}
		id, want, ok := expected(seq)
		if entryID == "" {
			entryID = id
		}
		match := false
		for _, e := range want {
			if e.table == table && bytes.Equal(e.key, key) && bytes.Equal(e.val, val) {
				match = true
				break
			}
		}
		if !match {
			detail := fmt.Sprintf("a %s entry points at seq %d, which does not hold a record with this entry", name, seq)
			if !ok {
				detail = fmt.Sprintf("a %s entry points at seq %d, which holds no readable record", name, seq)
			}
			if err := v.report(Problem{Org: org, Seq: seq, ID: entryID, Kind: ProblemIndexDangling, Detail: detail}); err != nil {
				return err
			}
		}
	}
	// Records missing an entry.
	rp := orgPrefix(tagRecord, org)
	rit := txn.NewIterator(badger.IteratorOptions{Prefix: rp, PrefetchValues: false})
	defer rit.Close()
	for rit.Rewind(); rit.Valid(); rit.Next() {
		if err := ctx.Err(); err != nil {
			return err
		}
		k := rit.Item().Key()
		if len(k) != len(rp)+8 {
			continue
		}
		seq := binary.BigEndian.Uint64(k[len(rp):])
		id, want, ok := expected(seq)
		if !ok {
			continue // reported as record_corrupt
		}
		for _, e := range want {
			if e.table != table {
				continue
			}
			item, err := txn.Get(e.key)
			missing := err != nil
			if !missing {
				err = item.Value(func(val []byte) error {
					if table == ixID {
						val = idEntryCompared(val)
					}
					missing = !bytes.Equal(val, e.val)
					return nil
				})
			}
			if missing {
				if err := v.report(Problem{Org: org, Seq: seq, ID: id, Kind: ProblemIndexMissing,
					Detail: fmt.Sprintf("the record's %s entry is missing or wrong", name)}); err != nil {
					return err
				}
				break
			}
		}
	}
	return nil
}

// anchor compares the tree with the keychain anchor and reports active
// alerts (not when keyless: the anchor lives in the keychain).
func (v *verifier) anchor(ctx context.Context, org string, tree *tlog.Tree) error {
	in := v.s.integ
	if in == nil || v.opts.Keyless {
		// A copy opened for an auditor (OpenForAudit), or a keyless
		// verify, which reads no keychain anchor: the alerts the log
		// holds are its owner's findings.
		return v.storedAlert(org)
	}
	if in.disabled {
		return nil
	}
	in.mu.Lock()
	a, alerted := in.alerts[org]
	in.mu.Unlock()
	if alerted {
		p := Problem{Org: org, Kind: ProblemRollback, Detail: a.Message()}
		switch a.Kind {
		case AlertInconsistent, AlertExternal:
			p.Kind = ProblemInconsistentCheckpoints
		case AlertRollback:
			p.Seq = a.DBSize + 1 // the first event the anchor has and the log lacks
		case AlertDamaged:
			p.Kind = ProblemIntegrityAlert
		}
		return v.report(p)
	}
	var raw []byte
	if v.anchors != nil {
		// An organization anchored since the snapshot has none in it.
		raw = v.anchors[org]
	} else {
		var err error
		raw, err = in.ks.Get(ctx, KeyAnchor(org))
		if err != nil && !errors.Is(err, ErrKeyNotFound) {
			return fmt.Errorf("failed to read the anchor of organization %q: %w", org, err)
		}
	}
	if raw == nil {
		return nil
	}
	anchor := anchorName(placeOf(in.ks))
	cp, err := tlog.OpenCheckpoint(raw, in.vkey, tlog.Origin(in.instID, org))
	if err != nil {
		return v.report(Problem{Org: org, Kind: ProblemBadSignature, Detail: anchor + " does not verify: " + err.Error()})
	}
	if cp.Size > tree.Size() {
		return v.report(Problem{Org: org, Seq: tree.Size() + 1, Kind: ProblemRollback,
			Detail: fmt.Sprintf("%s is a checkpoint of %d events, the log has %d (rolled back or truncated)", anchor, cp.Size, tree.Size())})
	}
	root, err := tlog.RootAt(ctx, v.s.nodes(v.txn, org), cp.Size)
	if err == nil && root != cp.Root {
		return v.report(Problem{Org: org, Kind: ProblemInconsistentCheckpoints,
			Detail: fmt.Sprintf("%s signs root %s for size %d, the log's is %s", anchor, cp.Root, cp.Size, root)})
	}
	// The anchor mirrors a checkpoint the log stored first: the newest
	// stored one is never older.
	newest, n, err := v.s.newestCheckpoint(v.txn, org)
	if err == nil && (n == 0 || newest.Checkpoint.Size < cp.Size) {
		return v.report(Problem{Org: org, Checkpoint: n, Kind: ProblemCheckpointMismatch,
			Detail: fmt.Sprintf("%s is a checkpoint of %d events, but the newest checkpoint the log stores (number %d) is of %d: later checkpoints were deleted or replaced",
				anchor, cp.Size, n, newest.Checkpoint.Size)})
	}
	// Of the same size too: deleted heartbeats leave the size and root.
	if err == nil && n > 0 && !storedNote(v.txn, org, raw, cp.Size) {
		return v.report(Problem{Org: org, Checkpoint: n, Kind: ProblemCheckpointMismatch, Detail: anchorNotStored(anchor, cp)})
	}
	return nil
}

// treeChecker rebuilds an organization's tree from the recomputed leaves
// and compares it, node by node, with the stored nodes (one cursor per
// level, so reads are sequential), and with the stored checkpoints as the
// tree reaches their sizes.
type treeChecker struct {
	v       *verifier
	txn     *badger.Txn
	org     string
	origin  string
	tree    *tlog.Tree
	cursors []*nodeCursor
	bad     []int64 // per level, the index of the last mismatching node (stride 1)
	// stride 4: per level, the mismatching tiles whose parent tile is not
	// checked yet
	badTiles [][]uint64
	rows     tileRows          // stride 4: the recomputed tree's incomplete tiles
	ids      [tileWidth]string // stride 4: the records of the leaves of the incomplete level-4 tile
	buf      []byte

	cpIt     *badger.Iterator
	cpPrefix []byte
	next     *SignedCheckpoint // the next checkpoint whose size the tree has not reached
	nextOK   bool              // its signature verified
	prev     *SignedCheckpoint // the last checkpoint whose signature verified
	lastNum  uint64
}

type nodeCursor struct {
	it     *badger.Iterator
	prefix []byte
}

func newTreeChecker(v *verifier, txn *badger.Txn, org string) *treeChecker {
	c := &treeChecker{v: v, txn: txn, org: org, origin: tlog.Origin(v.inst, org), tree: tlog.NewTree(),
		cpPrefix: orgPrefix(tagCheckpt, org)}
	c.cpIt = txn.NewIterator(badger.IteratorOptions{Prefix: c.cpPrefix})
	c.cpIt.Rewind()
	return c
}

func (c *treeChecker) close() {
	for _, cur := range c.cursors {
		cur.it.Close()
	}
	c.cursors = nil
	if c.cpIt != nil {
		c.cpIt.Close()
		c.cpIt = nil
	}
}

func (c *treeChecker) cursor(level uint) *nodeCursor {
	for uint(len(c.cursors)) <= level {
		l := len(c.cursors)
		p := append(orgPrefix(tagTreeNode, c.org), byte(l))
		it := c.txn.NewIterator(badger.IteratorOptions{Prefix: p})
		it.Rewind()
		c.cursors = append(c.cursors, &nodeCursor{it: it, prefix: p})
		c.bad = append(c.bad, -1)
	}
	return c.cursors[level]
}

// storedLeaf is the leaf of seq in the stored tree: its level-0 node
// (stride 1), or the hash in its tile, else its record's (stride 4).
func (c *treeChecker) storedLeaf(seq uint64) ([32]byte, bool) {
	var l [32]byte
	h, err := c.v.s.nodes(c.txn, c.org).GetNodes(context.Background(), []tlog.NodeID{{Level: 0, Index: seq - 1}})
	if err != nil || len(h[0]) != 32 {
		return l, false
	}
	copy(l[:], h[0])
	return l, true
}

func nodeSeq(id tlog.NodeID) uint64 { return id.Index<<id.Level + 1 }

// nodeSeqs is the range of seqs a node covers, as text.
func nodeSeqs(id tlog.NodeID) string {
	if id.Level == 0 {
		return strconv.FormatUint(nodeSeq(id), 10)
	}
	return fmt.Sprintf("%d–%d", nodeSeq(id), (id.Index+1)<<id.Level)
}

// leaf appends the recomputed leaf of seq and checks the nodes it completes
// and the checkpoints of the new size.
func (c *treeChecker) leaf(l [32]byte, seq uint64, id string) error {
	for _, nd := range c.tree.Append(l) {
		if err := c.node(nd, id); err != nil {
			return err
		}
	}
	return c.checkpointsAt(c.tree.Size())
}

// node checks a node the recomputed tree completed against the store: the
// node itself (stride 1), or the tile it completes (stride 4, tiles.go).
// id is the record of the leaf just appended.
func (c *treeChecker) node(nd tlog.Node, id string) error {
	if c.v.s.stride == 1 {
		return c.checkNode(nd, id)
	}
	if nd.ID.Level == 0 {
		c.ids[nd.ID.Index%tileWidth] = id
	}
	tid, tile, ok, err := c.rows.add(nd)
	if err != nil || !ok {
		return err
	}
	return c.checkTile(tid, tile)
}

// checkNode compares a node with the stored one (stride 1).
func (c *treeChecker) checkNode(nd tlog.Node, id string) error {
	lvl, idx := nd.ID.Level, nd.ID.Index
	c.v.sum.Nodes++
	report := func(detail string) error {
		c.bad[lvl] = int64(idx)
		// Report where the difference starts: a parent of a bad node
		// differs because its child does.
		if lvl > 0 && (c.bad[lvl-1] == int64(2*idx) || c.bad[lvl-1] == int64(2*idx+1)) {
			return nil
		}
		p := Problem{Org: c.org, Seq: nodeSeq(nd.ID), Kind: ProblemNodeMismatch, Detail: detail}
		if lvl == 0 {
			p.ID = id
		}
		return c.v.report(p)
	}
	stored, found, err := c.stored(nd.ID)
	if err != nil {
		return err
	}
	if !found {
		return report(fmt.Sprintf("tree node (level %d, index %d) over seqs %s is not stored", lvl, idx, nodeSeqs(nd.ID)))
	}
	if !bytes.Equal(stored, nd.Hash[:]) {
		return report(fmt.Sprintf("stored tree node (level %d, index %d) over seqs %s is %x, the records give %x", lvl, idx, nodeSeqs(nd.ID), stored, nd.Hash[:]))
	}
	return nil
}

// checkTile compares a tile (stride 4) with the stored one and reports the
// first node of it that differs. A node that differs because the stored
// tile below it did (c.badTiles) is not reported again.
func (c *treeChecker) checkTile(tid tlog.NodeID, tile []byte) error {
	c.v.sum.Nodes += tileWidth
	bottom := tid.Level - tileHeight
	first := tid.Index * tileWidth
	stored, found, err := c.stored(tid)
	if err != nil {
		return err
	}
	for uint(len(c.badTiles)) <= tid.Level {
		c.badTiles = append(c.badTiles, nil)
	}
	var below []uint64 // the bad tiles under this one
	if bottom > 0 {
		below = c.badTiles[bottom]
		// The tiles under this one are all checked now.
		defer func() {
			c.badTiles[bottom] = slices.DeleteFunc(c.badTiles[bottom], func(i uint64) bool { return i < first+tileWidth })
		}()
	}
	problem := func(k int, detail string) error {
		c.badTiles[tid.Level] = append(c.badTiles[tid.Level], tid.Index)
		nid := tlog.NodeID{Level: bottom, Index: first + uint64(k)}
		p := Problem{Org: c.org, Seq: nodeSeq(nid), Kind: ProblemNodeMismatch, Detail: detail}
		if bottom == 0 {
			p.ID = c.ids[k]
		}
		return c.v.report(p)
	}
	if !found {
		return problem(0, fmt.Sprintf("tree tile (level %d, index %d) over seqs %s is not stored", tid.Level, tid.Index, nodeSeqs(tid)))
	}
	if len(stored) != tileSize {
		return problem(0, fmt.Sprintf("stored tree tile (level %d, index %d) over seqs %s has %d bytes, not %d", tid.Level, tid.Index, nodeSeqs(tid), len(stored), tileSize))
	}
	for k := range tileWidth {
		s, r := stored[k*tlog.HashSize:(k+1)*tlog.HashSize], tile[k*tlog.HashSize:(k+1)*tlog.HashSize]
		if bytes.Equal(s, r) {
			continue
		}
		nid := tlog.NodeID{Level: bottom, Index: first + uint64(k)}
		if slices.Contains(below, nid.Index) {
			continue // the tile under this node differs already
		}
		return problem(k, fmt.Sprintf("stored tree tile (level %d, index %d) holds %x for node (level %d, index %d) over seqs %s, the records give %x",
			tid.Level, tid.Index, s, bottom, nid.Index, nodeSeqs(nid), r))
	}
	return nil
}

// stored reads the stored value under node key id, in key order through
// the level's cursor; found is false when it is not stored.
func (c *treeChecker) stored(id tlog.NodeID) (v []byte, found bool, err error) {
	lvl, idx := id.Level, id.Index
	cur := c.cursor(lvl)
	for cur.it.Valid() {
		k := cur.it.Item().Key()
		if len(k) != len(cur.prefix)+8 {
			if err := c.v.report(Problem{Org: c.org, Kind: ProblemNodeMismatch, Detail: fmt.Sprintf("a tree node key at level %d is malformed", lvl)}); err != nil {
				return nil, false, err
			}
			cur.it.Next()
			continue
		}
		si := binary.BigEndian.Uint64(k[len(cur.prefix):])
		if si >= idx {
			break
		}
		// Cannot happen in a log written by Append: nodes are stored in
		// index order with no gap, and this one was already passed.
		if err := c.v.report(Problem{Org: c.org, Seq: nodeSeq(tlog.NodeID{Level: lvl, Index: si}), Kind: ProblemNodeMismatch,
			Detail: fmt.Sprintf("an unexpected stored node (level %d, index %d)", lvl, si)}); err != nil {
			return nil, false, err
		}
		cur.it.Next()
	}
	if !cur.it.Valid() || binary.BigEndian.Uint64(cur.it.Item().Key()[len(cur.prefix):]) != idx {
		return nil, false, nil
	}
	v, err = cur.it.Item().ValueCopy(c.buf[:0])
	c.buf = v
	cur.it.Next()
	if err != nil {
		return nil, false, fmt.Errorf("failed to read tree node (level %d, index %d) of organization %q: %w", lvl, idx, c.org, err)
	}
	return v, true, nil
}

// storesLevel reports whether the database keeps keys of level.
func (c *treeChecker) storesLevel(level uint) bool {
	return c.v.s.stride == 1 || level > 0 && level%tileHeight == 0
}

// finish reports stored nodes beyond the recomputed tree.
func (c *treeChecker) finish() error {
	for lvl, cur := range c.cursors {
		for ; cur.it.Valid(); cur.it.Next() {
			k := cur.it.Item().Key()
			var idx uint64
			if len(k) == len(cur.prefix)+8 {
				idx = binary.BigEndian.Uint64(k[len(cur.prefix):])
			}
			detail := fmt.Sprintf("stored tree node (level %d, index %d) is beyond the %d records", lvl, idx, c.tree.Size())
			if !c.storesLevel(uint(lvl)) {
				detail = fmt.Sprintf("tree node (level %d, index %d) is stored, but this log does not store level %d", lvl, idx, lvl)
			}
			if err := c.v.report(Problem{Org: c.org, Seq: nodeSeq(tlog.NodeID{Level: uint(lvl), Index: idx}), Kind: ProblemNodeMismatch,
				Detail: detail}); err != nil {
				return err
			}
		}
	}
	p := orgPrefix(tagTreeNode, c.org)
	it := c.txn.NewIterator(badger.IteratorOptions{Prefix: p})
	defer it.Close()
	it.Seek(append(slices.Clip(p), byte(len(c.cursors))))
	if it.Valid() {
		k := it.Item().Key()
		return c.v.report(Problem{Org: c.org, Kind: ProblemNodeMismatch,
			Detail: fmt.Sprintf("stored tree node %x is above the top of the %d-record tree", k[len(p):], c.tree.Size())})
	}
	return nil
}

// loadNext reads the next stored checkpoint and checks its signature, its
// number and that it extends the previous one.
func (c *treeChecker) loadNext() error {
	c.next = nil
	for c.cpIt.Valid() {
		item := c.cpIt.Item()
		k := item.Key()
		if len(k) != len(c.cpPrefix)+8 {
			c.cpIt.Next()
			if err := c.v.report(Problem{Org: c.org, Kind: ProblemInconsistentCheckpoints, Detail: "a checkpoint key is malformed"}); err != nil {
				return err
			}
			continue
		}
		n := binary.BigEndian.Uint64(k[len(c.cpPrefix):])
		var raw []byte
		err := item.Value(func(val []byte) error { raw = slices.Clone(val); return nil })
		c.cpIt.Next()
		if err != nil {
			return fmt.Errorf("failed to read checkpoint %d of organization %q: %w", n, c.org, err)
		}
		c.v.sum.Checkpoints++
		if n != c.lastNum+1 {
			if err := c.v.report(Problem{Org: c.org, Checkpoint: n, Kind: ProblemInconsistentCheckpoints,
				Detail: fmt.Sprintf("checkpoint %d follows checkpoint %d (checkpoints deleted)", n, c.lastNum)}); err != nil {
				return err
			}
		}
		c.lastNum = n
		sc, err := decodeCheckpoint(raw, n)
		if err != nil {
			if err := c.v.report(Problem{Org: c.org, Checkpoint: n, Kind: ProblemBadSignature, Detail: err.Error()}); err != nil {
				return err
			}
			continue
		}
		if c.v.vkey == "" {
			if err := c.v.report(Problem{Org: c.org, Checkpoint: n, Kind: ProblemBadSignature,
				Detail: "the log stores no verifier key to check checkpoints with"}); err != nil {
				return err
			}
			continue
		}
		cp, err := tlog.OpenCheckpoint(sc.Note, c.v.vkey, c.origin)
		if err == nil && signatureLines(sc.Note) != 1 {
			// OpenCheckpoint ignores other keys' signatures (witnesses),
			// but the store signs its checkpoints once and stores them as
			// signed: any other line was added.
			err = fmt.Errorf("it has %d signature lines; the store signs once", signatureLines(sc.Note))
		}
		if err != nil {
			if err := c.v.report(Problem{Org: c.org, Checkpoint: n, Kind: ProblemBadSignature,
				Detail: fmt.Sprintf("checkpoint %d (size %d) does not verify: %v", n, sc.Checkpoint.Size, err)}); err != nil {
				return err
			}
			continue
		}
		if !cp.Time.IsZero() && !sc.Time.Truncate(time.Second).Equal(cp.Time) {
			// The stored time is what the app shows and schedules
			// heartbeats by; the signed one is the evidence.
			if err := c.v.report(Problem{Org: c.org, Checkpoint: n, Kind: ProblemCheckpointTime,
				Detail: fmt.Sprintf("checkpoint %d is stored as written at %s, but its note signs %s",
					n, sc.Time.Format(time.RFC3339Nano), cp.Time.Format(time.RFC3339))}); err != nil {
				return err
			}
		}
		sc.Checkpoint = cp
		if c.prev != nil {
			if err := c.consistent(*c.prev, sc); err != nil {
				return err
			}
		}
		c.prev = &sc
		c.next = &sc
		return nil
	}
	return nil
}

// consistent checks that cur extends prev with a proof from the stored nodes.
func (c *treeChecker) consistent(prev, cur SignedCheckpoint) error {
	bad := func(detail string) error {
		return c.v.report(Problem{Org: c.org, Checkpoint: cur.Number, Kind: ProblemInconsistentCheckpoints, Detail: detail})
	}
	if cur.Checkpoint.Size < prev.Checkpoint.Size {
		return bad(fmt.Sprintf("checkpoint %d has size %d, smaller than checkpoint %d's %d", cur.Number, cur.Checkpoint.Size, prev.Number, prev.Checkpoint.Size))
	}
	p, err := tlog.ConsistencyProof(context.Background(), c.v.s.nodes(c.txn, c.org), prev.Checkpoint.Size, cur.Checkpoint.Size)
	if err != nil {
		return nil // nodes missing: reported as node or rollback problems
	}
	if err := tlog.VerifyConsistency(prev.Checkpoint.Size, cur.Checkpoint.Size, p, prev.Checkpoint.Root, cur.Checkpoint.Root); err != nil {
		return bad(fmt.Sprintf("checkpoint %d (size %d) does not extend checkpoint %d (size %d): %v",
			cur.Number, cur.Checkpoint.Size, prev.Number, prev.Checkpoint.Size, err))
	}
	return nil
}

// checkpointsAt compares the checkpoints of the tree's current size with
// its root.
func (c *treeChecker) checkpointsAt(size uint64) error {
	if c.next == nil {
		if !c.cpIt.Valid() {
			return nil
		}
		if err := c.loadNext(); err != nil {
			return err
		}
	}
	for c.next != nil && c.next.Checkpoint.Size <= size {
		if c.next.Checkpoint.Size == size {
			if root := c.tree.Root(); root != c.next.Checkpoint.Root {
				if err := c.v.report(Problem{Org: c.org, Checkpoint: c.next.Number, Kind: ProblemCheckpointMismatch,
					Detail: fmt.Sprintf("checkpoint %d signs root %s for size %d, the records give %s", c.next.Number, c.next.Checkpoint.Root, size, root)}); err != nil {
					return err
				}
			}
		}
		if err := c.loadNext(); err != nil {
			return err
		}
	}
	return nil
}

// restCheckpoints reports checkpoints larger than the log (truncation).
func (c *treeChecker) restCheckpoints() error {
	if c.next == nil && c.cpIt.Valid() {
		if err := c.loadNext(); err != nil {
			return err
		}
	}
	if c.tree.Size() == 0 {
		// An empty log: checkpoints of size 0 never exist.
		for c.next != nil && c.next.Checkpoint.Size == 0 {
			if err := c.loadNext(); err != nil {
				return err
			}
		}
	}
	for c.next != nil {
		if err := c.v.report(Problem{Org: c.org, Seq: c.tree.Size() + 1, Checkpoint: c.next.Number, Kind: ProblemRollback,
			Detail: fmt.Sprintf("checkpoint %d covers %d events, the log has %d (truncated or rolled back)", c.next.Number, c.next.Checkpoint.Size, c.tree.Size())}); err != nil {
			return err
		}
		if err := c.loadNext(); err != nil {
			return err
		}
	}
	return nil
}
