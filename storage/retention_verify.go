package storage

// What Verify (verify.go) needs to understand tombstones: a tombstone is
// not a problem when it names the rule of the policy in force when it was
// pruned and the event's window had ended by then; its leaf hash is
// checked like any leaf (against the stored tree and the next record's
// prevHash), and its id index entry like any record's.

import (
	"encoding/binary"
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
}

func (s *Store) newRetentionCheck(txn *badger.Txn, org string) *retentionCheck {
	h, err := readRetentionHistory(txn, org)
	return &retentionCheck{org: org, history: h, histErr: err, classes: categoryClasses(s.opts.Catalogue),
		categoryOf: s.categoryOf, now: s.opts.Now()}
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
	}
	return out
}

// prunedRuns accumulates the runs of tombstones, in seq order, for the
// summary.
type prunedRuns struct {
	n    uint64
	runs []PrunedRange
	more bool // runs past maxPrunedRanges were not listed
}

func (p *prunedRuns) add(org string, t *tombstone) {
	p.n++
	at := time.Unix(0, t.prunedAt).UTC()
	if l := len(p.runs) - 1; l >= 0 && p.runs[l].Org == org && p.runs[l].ToSeq+1 == t.seq && p.runs[l].Policy == t.policy && p.runs[l].PrunedAt.Equal(at) {
		p.runs[l].ToSeq = t.seq
		p.runs[l].Count++
		return
	}
	if len(p.runs) >= maxPrunedRanges {
		p.more = true
		return
	}
	p.runs = append(p.runs, PrunedRange{Org: org, FromSeq: t.seq, ToSeq: t.seq, Count: 1, Policy: t.policy, PrunedAt: at})
}
