package storage

// What Verify (verify.go) needs to understand tombstones: a tombstone is
// not a problem when it names the rule of the policy in force when it was
// pruned and the event's window had ended by then; its leaf hash is
// checked like any leaf (against the stored tree and the next record's
// prevHash), and its id index entry like any record's.

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"

	badger "github.com/dgraph-io/badger/v4"
)

// ProblemPrunedOutsidePolicy: a tombstone does not match a retention policy
// that was in force (a material event removed, an event removed before its
// window ended, an unknown policy version): tampering dressed as retention.
const ProblemPrunedOutsidePolicy = "pruned_outside_policy"

// maxPrunedRanges bounds the runs a VerifySummary lists.
const maxPrunedRanges = 10000

// PrunedRange is a run of consecutive seqs that one sweep pruned by one
// rule. Verify lists them in its summary: they are not problems.
type PrunedRange struct {
	Org      string    `json:"org"`
	FromSeq  uint64    `json:"fromSeq"`
	ToSeq    uint64    `json:"toSeq"`
	Count    uint64    `json:"count"`
	Policy   string    `json:"policy"`
	PrunedAt time.Time `json:"prunedAt"`
}

func (r PrunedRange) String() string {
	seqs := fmt.Sprintf("seq %d", r.FromSeq)
	if r.ToSeq != r.FromSeq {
		seqs = fmt.Sprintf("seqs %d–%d", r.FromSeq, r.ToSeq)
	}
	return fmt.Sprintf("org %s %s: pruned by policy %s at %s", r.Org, seqs, r.Policy, r.PrunedAt.UTC().Format(time.RFC3339))
}

// retentionCheck judges the tombstones of one organization.
type retentionCheck struct {
	org        string
	history    []RetentionPolicy
	histErr    error
	classes    map[string]RetentionClass
	categoryOf func(string) string
	now        time.Time
	// covered: the seqs recorded sweeps pruned, per class (nil: not
	// checked, because the log's own events may have been pruned).
	covered map[RetentionClass][]SeqRange
	covErr  error
}

func (s *Store) newRetentionCheck(txn *badger.Txn, org string) *retentionCheck {
	h, err := readRetentionHistory(txn, org)
	rc := &retentionCheck{org: org, history: h, histErr: err, classes: categoryClasses(s.opts.Catalogue),
		categoryOf: s.categoryOf, now: s.opts.Now()}
	if err == nil && !auditEverFinite(h) {
		rc.covered, rc.covErr = s.sweepCoverage(txn, org)
	}
	return rc
}

// auditEverFinite reports whether some policy version gave the log's own
// events (category audit) a finite window: then the sweeps' records may be
// pruned themselves, and tombstones cannot be matched with them.
func auditEverFinite(h []RetentionPolicy) bool {
	for _, p := range h {
		if !p.Window(RetentionMaterial, auditCategory).Indefinite {
			return true
		}
	}
	return false
}

// sweepCoverage collects the seq ranges that org's recorded sweeps
// (audit.retention_swept events, which the chain and the checkpoints
// protect) say they pruned, per class, and those of an unfinished sweep
// (its progress setting). A tombstone outside them was not written by a
// sweep: the check that catches a forged tombstone whose action type was
// rewritten to look operational.
func (s *Store) sweepCoverage(txn *badger.Txn, org string) (map[RetentionClass][]SeqRange, error) {
	out := map[RetentionClass][]SeqRange{}
	add := func(classes []*ClassSweep) {
		for _, c := range classes {
			if c != nil {
				out[c.Class] = append(out[c.Class], c.Ranges...)
			}
		}
	}
	prefix := indexPrefix(org, fieldCategory, auditCategory)
	it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix, PrefetchValues: false})
	defer it.Close()
	for it.Rewind(); it.Valid(); it.Next() {
		k := it.Item().Key()
		if len(k) != len(prefix)+16 {
			continue
		}
		var sweep bool
		if err := it.Item().Value(func(v []byte) error {
			sm, err := decodeSummary(v)
			sweep = err == nil && sm.actionType == "audit.retention_swept"
			return nil
		}); err != nil {
			return nil, err
		}
		if !sweep {
			continue
		}
		seq := binary.BigEndian.Uint64(k[len(prefix)+8:])
		item, err := txn.Get(recordKey(org, seq))
		if err != nil {
			continue // reported by the record checks
		}
		err = item.Value(func(v []byte) error {
			if m, ok := sweepRecord(v); ok {
				add(m.Classes)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	if item, err := txn.Get(settingKey(sweepSettingName(org))); err == nil && !isCleared(item) {
		var prog sweepProgress
		if err := item.Value(func(v []byte) error { return json.Unmarshal(v, &prog) }); err == nil {
			add(prog.Classes)
		}
	}
	return out, nil
}

// coveredBy reports whether seq lies in one of ranges.
func coveredBy(ranges []SeqRange, seq uint64) bool {
	for _, r := range ranges {
		if r.From <= seq && seq <= r.To {
			return true
		}
	}
	return false
}

// tombstoneCheck is what checking one tombstone found.
type tombstoneCheck struct {
	t        tombstone
	ok       bool   // decoded: t, idKey and idVal are meaningful
	idKey    []byte // the id index entry the tombstone implies (value without the MAC)
	idVal    []byte
	problems []Problem
}

// check decodes and judges the tombstone v stored under seq.
func (rc *retentionCheck) check(seq uint64, v []byte) tombstoneCheck {
	var out tombstoneCheck
	t, err := decodeTombstone(v)
	if err != nil {
		out.problems = append(out.problems, Problem{Org: rc.org, Seq: seq, Kind: ProblemRecordCorrupt, Detail: err.Error()})
		return out
	}
	out.t, out.ok = t, true
	bad := func(kind, detail string) {
		out.problems = append(out.problems, Problem{Org: rc.org, Seq: seq, ID: t.id, Kind: kind, Detail: detail})
	}
	if t.seq != seq {
		bad(ProblemSeqMismatch, fmt.Sprintf("the tombstone under seq %d names seq %d (moved or swapped)", seq, t.seq))
	}
	out.idKey = idKey(rc.org, t.id)
	out.idVal = binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64(nil, seq), uint64(t.recordedAt))
	if rc.histErr != nil {
		bad(ProblemPrunedOutsidePolicy, "the organization's retention policy history cannot be read: "+rc.histErr.Error())
		return out
	}
	if why := checkTombstone(t, rc.history, rc.classes, rc.categoryOf, rc.now); why != "" {
		bad(ProblemPrunedOutsidePolicy, fmt.Sprintf("the record was removed (tombstone naming policy %s), but no policy in force allowed it: %s", t.policy, why))
		return out
	}
	if rc.covErr != nil {
		bad(ProblemPrunedOutsidePolicy, "the organization's retention sweeps cannot be read: "+rc.covErr.Error())
	} else if rc.covered != nil {
		if class := rc.classes[t.category]; !coveredBy(rc.covered[class], seq) {
			bad(ProblemPrunedOutsidePolicy, fmt.Sprintf("the record was removed (tombstone naming policy %s), but no recorded retention sweep pruned %s seq %d", t.policy, class, seq))
		}
	}
	return out
}

// checkTombstone is checkRecord for a tombstone: its stored leaf hash and
// prevHash stand for the removed record's (the tree checker and the chain
// check compare them as for any record), its id entry is fingerprinted, and
// it must match a policy in force.
func (v *verifier) checkTombstone(org string, r *vrec, val []byte) {
	tc := v.ret.check(r.seq, val)
	r.problems = append(r.problems, tc.problems...)
	if !tc.ok {
		return
	}
	r.id, r.leaf, r.prev, r.prevOK = tc.t.id, tc.t.leaf, tc.t.prev, true
	r.fp[ixID].add(v.entryHash(tc.idKey, tc.idVal))
	t := tc.t
	r.tomb = &t
	r.recNs, r.recOK = t.recordedAt, true
	r.ok = true
}

// notePruned adds a tombstone to the summary's pruned runs.
func (v *verifier) notePruned(org string, t *tombstone) {
	s := v.sum
	s.Pruned++
	at := time.Unix(0, t.prunedAt).UTC()
	if l := len(s.PrunedRanges) - 1; l >= 0 && s.PrunedRanges[l].Org == org && s.PrunedRanges[l].ToSeq+1 == t.seq &&
		s.PrunedRanges[l].Policy == t.policy && s.PrunedRanges[l].PrunedAt.Equal(at) {
		s.PrunedRanges[l].ToSeq = t.seq
		s.PrunedRanges[l].Count++
		return
	}
	if len(s.PrunedRanges) >= maxPrunedRanges {
		s.PrunedRangesTruncated = true
		return
	}
	s.PrunedRanges = append(s.PrunedRanges, PrunedRange{Org: org, FromSeq: t.seq, ToSeq: t.seq, Count: 1, Policy: t.policy, PrunedAt: at})
}

// tombstoneIndexEntries is expectedIndexEntries for a tombstone: only its
// id entry remains.
func tombstoneIndexEntries(org string, seq uint64, val []byte) (string, []indexEntry, bool) {
	t, err := decodeTombstone(val)
	if err != nil {
		return "", nil, false
	}
	idVal := binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64(nil, seq), uint64(t.recordedAt))
	return t.id, []indexEntry{{ixID, idKey(org, t.id), idVal}}, true
}
