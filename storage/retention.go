package storage

// Retention (DESIGN.md §6): per organization, a policy says how long each
// retention class (and optionally each category) is kept. The policy and
// its history are settings,
//
//	setting "retention/<org>"        JSON retentionDoc: every version, oldest first
//	setting "retention-sweep/<org>"  JSON sweepProgress of an unfinished sweep
//
// and a sweep (SweepRetention) replaces each expired record with a
// tombstone (tombstone.go) in bounded batches, one Badger transaction each.
// Every batch also deletes the records' timeline and secondary index
// entries, counts them under
//
//	0x17 0x17 || org || 0x00 || hour u64 || field || value    count u64: pruned events
//
// (the same layout as the hourly counters 0x16, which only the append
// writer owns and caches; aggregates subtract these), and records the
// sweep's progress, so that a crash between batches leaves a log that
// verifies and the next sweep resumes with the same time and policy and
// finishes the job. A finished sweep is recorded as an audit.retention_swept
// event whose id is the sweep's, so recording it again after a crash is an
// idempotent retry.

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	badger "github.com/dgraph-io/badger/v4"
	"github.com/google/uuid"
)

// tagPrunedCounter: events per UTC hour per field value removed by
// retention (see above).
const tagPrunedCounter byte = 0x17

// Retention window bounds: custom windows are 1 day to 7 years.
const (
	MinRetentionDays       = 1
	MaxRetentionDays       = 2557 // 7 × 365 + 2 leap days
	DefaultOperationalDays = 90
)

// DefaultRetentionGrace is how long after a change a shortened window takes
// effect: the week the expiring-events warning looks ahead, so that nothing
// a change prunes goes without that warning, and the chance to export it
// first. A change that shortens nothing takes effect at once.
const DefaultRetentionGrace = 7 * 24 * time.Hour

// ErrInvalidPolicy: a retention policy change was refused. The concrete
// error is a *PolicyError naming the field and the reason.
var ErrInvalidPolicy = errors.New("invalid retention policy")

// PolicyError is one reason a retention policy change was refused.
type PolicyError struct {
	Field  string
	Reason string
}

func (e *PolicyError) Error() string {
	return "invalid retention policy: " + e.Field + ": " + e.Reason
}

func (e *PolicyError) Is(target error) bool { return target == ErrInvalidPolicy }

// RetentionWindow is how long events are kept: Days, or indefinitely.
type RetentionWindow struct {
	Days       int  `json:"days,omitempty"`
	Indefinite bool `json:"indefinite,omitempty"`
}

func (w RetentionWindow) String() string {
	if w.Indefinite {
		return "indefinite"
	}
	if w.Days == 1 {
		return "1 day"
	}
	return fmt.Sprintf("%d days", w.Days)
}

func (w RetentionWindow) check(field string) error {
	switch {
	case w.Indefinite && w.Days != 0:
		return &PolicyError{field, "give either a number of days or indefinite, not both"}
	case w.Indefinite:
		return nil
	case w.Days < MinRetentionDays || w.Days > MaxRetentionDays:
		return &PolicyError{field, fmt.Sprintf("%d days is outside the allowed windows of %d day to %d days (7 years); use indefinite to keep events forever",
			w.Days, MinRetentionDays, MaxRetentionDays)}
	}
	return nil
}

// RetentionPolicy is one version of an organization's retention policy.
type RetentionPolicy struct {
	// Version counts changes from 1; 0 is the built-in default.
	Version uint32 `json:"version"`
	// EffectiveFrom is when the version came into force (the store's clock);
	// it stays in force until the next version's.
	EffectiveFrom time.Time `json:"effectiveFrom"`
	// ChangedAt is when the version was made; a shortened window takes
	// effect a grace period later (SetRetention). Versions made before
	// grace periods have none: they took effect when made.
	ChangedAt   time.Time                  `json:"changedAt,omitzero"`
	ChangedBy   string                     `json:"changedBy,omitempty"`
	Operational RetentionWindow            `json:"operational"`
	Material    RetentionWindow            `json:"material"`
	Categories  map[string]RetentionWindow `json:"categories,omitempty"`
}

// DefaultRetentionPolicy is the policy of an organization that never set
// one: operational events 90 days, material events indefinitely.
func DefaultRetentionPolicy() RetentionPolicy {
	return RetentionPolicy{Operational: RetentionWindow{Days: DefaultOperationalDays}, Material: RetentionWindow{Indefinite: true}}
}

// Window is the window of class, or of category when the policy has one.
func (p RetentionPolicy) Window(class RetentionClass, category string) RetentionWindow {
	if w, ok := p.Categories[category]; ok && category != "" {
		return w
	}
	if class == RetentionOperational {
		return p.Operational
	}
	return p.Material
}

// RuleName names the rule that applies to category in class, as tombstones
// and verification report it: "operational 90 days (v2)", "category scan
// 30 days (v3)".
func (p RetentionPolicy) RuleName(class RetentionClass, category string) string {
	w := p.Window(class, category)
	if _, ok := p.Categories[category]; ok && category != "" {
		return fmt.Sprintf("category %s %s (v%d)", category, w, p.Version)
	}
	return fmt.Sprintf("%s %s (v%d)", class, w, p.Version)
}

func (p RetentionPolicy) clone() RetentionPolicy {
	if p.Categories != nil {
		m := make(map[string]RetentionWindow, len(p.Categories))
		for k, v := range p.Categories {
			m[k] = v
		}
		p.Categories = m
	}
	return p
}

// retentionDoc is the stored value of "retention/<org>".
type retentionDoc struct {
	Versions []RetentionPolicy `json:"versions"` // oldest first; never empty once stored
}

func retentionSettingName(org string) string { return "retention/" + org }
func sweepSettingName(org string) string     { return "retention-sweep/" + org }

// retentionState is the store's retention machinery (Store.ret).
type retentionState struct {
	mu sync.Mutex // one policy change or sweep at a time
	// afterBatch, when set (tests), runs after each committed batch of a
	// sweep; an error stops the sweep there, as a crash would.
	afterBatch func(batch int) error
}

// categoryClasses maps each catalogued category to its retention class.
func categoryClasses(c *Catalogue) map[string]RetentionClass {
	m := map[string]RetentionClass{c.custom.Category: c.custom.Retention}
	for _, name := range c.sorted {
		e := c.types[name]
		m[e.Category] = e.Retention
	}
	return m
}

// readRetentionHistory reads org's policy versions, oldest first; an
// organization without a stored policy has the default (version 0).
func readRetentionHistory(txn *badger.Txn, org string) ([]RetentionPolicy, error) {
	item, err := txn.Get(settingKey(retentionSettingName(org)))
	if errors.Is(err, badger.ErrKeyNotFound) || err == nil && isCleared(item) {
		return []RetentionPolicy{DefaultRetentionPolicy()}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("failed to read the retention policy of organization %q: %w", org, err)
	}
	var doc retentionDoc
	err = item.Value(func(v []byte) error { return json.Unmarshal(v, &doc) })
	if err != nil || len(doc.Versions) == 0 {
		return nil, fmt.Errorf("the retention policy of organization %q does not decode: %v: %w", org, err, errCorrupt)
	}
	return doc.Versions, nil
}

// policyAt is the version in force at t: the newest version that took
// effect by t. A version whose effect was deferred (a shortened window,
// SetRetention) is in force from its EffectiveFrom, unless a newer version
// took effect by then: that one supersedes it.
func policyAt(history []RetentionPolicy, t time.Time) (RetentionPolicy, bool) {
	for i := len(history) - 1; i >= 0; i-- {
		if !history[i].EffectiveFrom.After(t) {
			return history[i], true
		}
	}
	return RetentionPolicy{}, false
}

// RetentionPolicy returns the policy of org in force now.
func (s *Store) RetentionPolicy(ctx context.Context, org string) (RetentionPolicy, error) {
	h, err := s.RetentionHistory(ctx, org)
	if err != nil {
		return RetentionPolicy{}, err
	}
	p, _ := policyAt(h, s.opts.Now())
	return p, nil
}

// PendingRetention returns the versions of history that will take effect
// after now, in the order they will: each is in force from its
// EffectiveFrom (one a newer version supersedes before then never is).
func PendingRetention(history []RetentionPolicy, now time.Time) []RetentionPolicy {
	var out []RetentionPolicy
	for _, p := range history {
		if p.EffectiveFrom.After(now) {
			if in, ok := policyAt(history, p.EffectiveFrom); ok && in.Version == p.Version {
				out = append(out, p)
			}
		}
	}
	slices.SortFunc(out, func(a, b RetentionPolicy) int { return a.EffectiveFrom.Compare(b.EffectiveFrom) })
	return out
}

// InForce returns the version of history in force at t (the built-in
// default before any).
func InForce(history []RetentionPolicy, t time.Time) RetentionPolicy {
	if p, ok := policyAt(history, t); ok {
		return p
	}
	return history[0]
}

// shortens reports whether p keeps any category's events for less time
// than q.
func (p RetentionPolicy) shortens(q RetentionPolicy, classes map[string]RetentionClass) bool {
	for cat, class := range classes {
		if p.Window(class, cat).less(q.Window(class, cat)) {
			return true
		}
	}
	return false
}

// keptAsInForce is p with every window that keeps events for less time
// than in force's kept as in force's: the part of a change that applies
// at once.
func keptAsInForce(p, inForce RetentionPolicy, classes map[string]RetentionClass) RetentionPolicy {
	out := p.clone()
	if out.Operational.less(inForce.Operational) {
		out.Operational = inForce.Operational
	}
	if out.Material.less(inForce.Material) {
		out.Material = inForce.Material
	}
	for cat, class := range classes {
		if w := inForce.Window(class, cat); out.Window(class, cat).less(w) {
			if out.Categories == nil {
				out.Categories = map[string]RetentionWindow{}
			}
			out.Categories[cat] = w
		}
	}
	return out
}

// changedAt is when p was made.
func (p RetentionPolicy) changedAt() time.Time {
	if p.ChangedAt.IsZero() {
		return p.EffectiveFrom
	}
	return p.ChangedAt
}

// less reports whether w keeps events for less time than v.
func (w RetentionWindow) less(v RetentionWindow) bool {
	return !w.Indefinite && (v.Indefinite || w.Days < v.Days)
}

// RetentionHistory returns every version of org's policy, oldest first (the
// built-in default alone when it never changed).
func (s *Store) RetentionHistory(ctx context.Context, org string) ([]RetentionPolicy, error) {
	if !validOrg(org) {
		return nil, fmt.Errorf("organization id %q is not valid: %w", org, ErrNotFound)
	}
	var out []RetentionPolicy
	err := s.view(ctx, func(txn *badger.Txn) error {
		var err error
		out, err = readRetentionHistory(txn, org)
		return err
	})
	return out, err
}

// RetentionChange is one change of a policy: which class or category, to
// what window. It applies to the newest version (which may not be in force
// yet).
type RetentionChange struct {
	Class RetentionClass
	// Category, when set, gives that category (of Class) its own window.
	Category string
	Window   RetentionWindow
	// ChangedBy is who changed it (recorded in the policy).
	ChangedBy string
	// AtOnce: the change takes effect now even if it shortens a window,
	// without the grace period, because the one making it has exported
	// what it will prune, or must not keep it (data minimisation).
	AtOnce bool
}

// auditCategory is the category of the log's own events (DESIGN.md §7),
// which every policy keeps indefinitely.
const auditCategory = "audit"

// SetRetention changes org's policy and returns the versions before and
// after. The new version is in force from the store's clock on, unless it
// keeps some category's events for less time than the version in force:
// then from Options.RetentionGrace (a week) later, so that what the change
// will prune is announced as expiring and can be exported first (or from
// when a pending version it shortens nothing of takes effect, if sooner).
// Earlier versions stay in the history, so a verifier can tell which
// policy pruned what. It does not record an audit event: the application records
// audit.settings_changed with both versions. Errors are *PolicyError.
func (s *Store) SetRetention(ctx context.Context, org string, ch RetentionChange) (before, after RetentionPolicy, err error) {
	if !validOrg(org) {
		return before, after, &PolicyError{"org", fmt.Sprintf("organization id %q must match ^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$", org)}
	}
	if ch.Class != RetentionOperational && ch.Class != RetentionMaterial {
		return before, after, &PolicyError{"class", fmt.Sprintf("%q is not a retention class: use operational or material", ch.Class)}
	}
	if ch.Category != "" {
		classes := categoryClasses(s.opts.Catalogue)
		cls, ok := classes[ch.Category]
		if !ok {
			names := make([]string, 0, len(classes))
			for c := range classes {
				names = append(names, c)
			}
			sort.Strings(names)
			return before, after, &PolicyError{"category", fmt.Sprintf("%q is not a category of the catalogue (%s)", ch.Category, strings.Join(names, ", "))}
		}
		if cls != ch.Class {
			return before, after, &PolicyError{"category", fmt.Sprintf("category %s is %s, not %s", ch.Category, cls, ch.Class)}
		}
	}
	if err := ch.Window.check("days"); err != nil {
		return before, after, err
	}
	if ch.Category == auditCategory && !ch.Window.Indefinite {
		return before, after, &PolicyError{"category", "the log's own events (category audit: exports, sweeps, key rotations, " +
			"policy changes) are kept indefinitely, so that every sweep and change stays on record; their window cannot be finite"}
	}
	if err := ctx.Err(); err != nil {
		return before, after, err
	}
	s.ret.mu.Lock()
	defer s.ret.mu.Unlock()
	lastSweep, err := s.lastSweepAt(ctx, org)
	if err != nil {
		return before, after, err
	}
	s.closeMu.RLock()
	defer s.closeMu.RUnlock()
	if s.closed {
		return before, after, ErrClosed
	}
	err = s.update(func(txn *badger.Txn) error {
		h, err := readRetentionHistory(txn, org)
		if err != nil {
			return err
		}
		before = h[len(h)-1]
		after = before.clone()
		after.Version = before.Version + 1
		now := s.opts.Now().UTC()
		if !now.After(lastSweep) {
			// A change comes after every sweep that pruned, even if the
			// clock stepped back: verify takes a sweep to have seen every
			// version made before its time.
			now = lastSweep.Add(time.Nanosecond)
		}
		if last := before.changedAt(); !now.After(last) {
			// Changes are ordered in time; a clock that did not move
			// (tests, or a coarse clock) still gives a later instant.
			now = last.Add(time.Nanosecond)
		}
		after.ChangedAt, after.EffectiveFrom = now, now
		after.ChangedBy = ch.ChangedBy
		if ch.Category != "" {
			if after.Categories == nil {
				after.Categories = map[string]RetentionWindow{}
			}
			after.Categories[ch.Category] = ch.Window
		} else if ch.Class == RetentionOperational {
			after.Operational = ch.Window
		} else {
			after.Material = ch.Window
		}
		// A finite material window does not reach the log's own events:
		// the version pins category audit to indefinite, and so ends a
		// finite window an earlier version (before they were refused) gave
		// them.
		if !after.Window(RetentionMaterial, auditCategory).Indefinite {
			if after.Categories == nil {
				after.Categories = map[string]RetentionWindow{}
			}
			after.Categories[auditCategory] = RetentionWindow{Indefinite: true}
		}
		var interim *RetentionPolicy
		classes := categoryClasses(s.opts.Catalogue)
		pending := PendingRetention(h, now)
		if ch.AtOnce && len(pending) > 0 {
			// It would apply the pending changes, which it builds on, at
			// once too.
			p := pending[len(pending)-1]
			return &PolicyError{"atOnce", fmt.Sprintf("version %d is pending until %s, and a change at once would apply it too: "+
				"wait until it is in force, or make a change that shortens nothing first (which replaces it)", p.Version, p.EffectiveFrom.Format(time.RFC3339))}
		}
		if inForce := InForce(h, now); after.shortens(inForce, classes) && s.opts.RetentionGrace > 0 && !ch.AtOnce {
			// What the change lengthens, and what it undoes of pending
			// changes, applies at once: an interim version, the change
			// with every window it shortens kept as in force, takes
			// effect now and so supersedes every pending version. It is
			// left out when it would change nothing.
			if in := keptAsInForce(after, inForce, classes); len(pending) > 0 || in.shortens(inForce, classes) || inForce.shortens(in, classes) {
				in.EffectiveFrom = now
				interim = &in
				after.Version++
				after.ChangedAt = now.Add(time.Nanosecond)
			}
			after.EffectiveFrom = now.Add(s.opts.RetentionGrace)
			// A pending version that prunes at least as much was announced
			// for sooner: the new one, which prunes less, can take effect
			// then.
			for _, p := range pending {
				if !after.shortens(p, classes) && p.EffectiveFrom.Before(after.EffectiveFrom) {
					after.EffectiveFrom = p.EffectiveFrom
				}
			}
		}
		if before.Version == 0 {
			h = h[:0] // the stored history starts with the built-in default at version 0
			h = append(h, before)
		}
		if interim != nil {
			h = append(h, *interim)
		}
		b, err := json.Marshal(retentionDoc{Versions: append(h, after)})
		if err != nil {
			return err
		}
		if len(b) > maxSettingBytes {
			return fmt.Errorf("the retention policy history of organization %q is full", org)
		}
		return txn.Set(settingKey(retentionSettingName(org)), b)
	})
	if err != nil {
		return before, after, err
	}
	return before, after, nil
}

// SeqRange is a run of seqs, both ends included.
type SeqRange struct {
	From uint64 `json:"from"`
	To   uint64 `json:"to"`
}

// maxSweepRanges bounds the seq ranges a sweep remembers per class; past it
// the closest ranges merge, so a range may then also span surviving events
// (Exact turns false).
const maxSweepRanges = 1024

// ClassSweep is what a sweep pruned of one retention class.
type ClassSweep struct {
	Class  RetentionClass `json:"class"`
	Pruned uint64         `json:"pruned"`
	Ranges []SeqRange     `json:"seqRanges"`
	// Exact: every seq inside Ranges was pruned (false once ranges merged).
	Exact bool `json:"exact"`
}

func (c *ClassSweep) add(seq uint64) {
	c.Pruned++
	r := c.Ranges
	i := sort.Search(len(r), func(i int) bool { return r[i].To >= seq })
	switch {
	case i < len(r) && r[i].From <= seq:
		return
	case i < len(r) && r[i].From == seq+1:
		r[i].From = seq
		if i > 0 && r[i-1].To+1 == seq {
			r[i-1].To = r[i].To
			r = slices.Delete(r, i, i+1)
		}
	case i > 0 && r[i-1].To+1 == seq:
		r[i-1].To = seq
	default:
		r = slices.Insert(r, i, SeqRange{seq, seq})
	}
	if len(r) > maxSweepRanges {
		best, gap := 0, uint64(math.MaxUint64)
		for j := 0; j+1 < len(r); j++ {
			if g := r[j+1].From - r[j].To; g < gap {
				best, gap = j, g
			}
		}
		r[best].To = r[best+1].To
		r = slices.Delete(r, best+1, best+2)
		c.Exact = false
	}
	c.Ranges = r
}

// sweepProgress is the stored state of a sweep, written in each batch's
// transaction.
type sweepProgress struct {
	SweepID   string        `json:"sweepId"`
	StartedAt time.Time     `json:"startedAt"` // the sweep's "now": cutoffs and prunedAt
	Policy    uint32        `json:"policyVersion"`
	Batches   int           `json:"batches"`
	Classes   []*ClassSweep `json:"classes"`
}

func (p *sweepProgress) class(c RetentionClass) *ClassSweep {
	for _, cs := range p.Classes {
		if cs.Class == c {
			return cs
		}
	}
	cs := &ClassSweep{Class: c, Exact: true, Ranges: []SeqRange{}}
	p.Classes = append(p.Classes, cs)
	sort.Slice(p.Classes, func(i, j int) bool { return p.Classes[i].Class > p.Classes[j].Class })
	return cs
}

func (p *sweepProgress) pruned() uint64 {
	var n uint64
	for _, c := range p.Classes {
		n += c.Pruned
	}
	return n
}

// SweepOptions tune a retention sweep.
type SweepOptions struct {
	// DryRun reports what would be pruned and writes nothing.
	DryRun bool
	// BatchSize is the number of records per transaction (default 256).
	BatchSize int
	// Actor is the userId of the audit.retention_swept event (default "system").
	Actor string
	// Record records the audit event even when nothing was pruned (an
	// explicit sweep); background sweeps record only sweeps that pruned.
	Record bool
	// NoReclaim skips the value-log GC after the sweep.
	NoReclaim bool
}

// SweepResult says what a sweep pruned (or would have, for a dry run).
type SweepResult struct {
	Org     string        `json:"org"`
	SweepID string        `json:"sweepId,omitempty"`
	At      time.Time     `json:"at"` // the sweep's time: cutoffs are measured from it
	Policy  uint32        `json:"policyVersion"`
	Pruned  uint64        `json:"pruned"`
	Classes []*ClassSweep `json:"classes"`
	Batches int           `json:"batches"`
	Resumed bool          `json:"resumed,omitempty"` // it finished an interrupted sweep
	DryRun  bool          `json:"dryRun,omitempty"`
	// Event is the receipt of the audit.retention_swept event, when one was recorded.
	Event *Receipt `json:"event,omitempty"`
	// Reclaimed is the value-log bytes freed by GC after the sweep.
	Reclaimed int64 `json:"reclaimed,omitempty"`
}

// SweepRetention prunes org's expired events: those whose timestamp is
// older than their window (by org's policy in force) at the sweep's time.
// It works in batches of opts.BatchSize records, each one transaction, and
// finishes an interrupted sweep first (with that sweep's time and policy).
// A dry run reports what a sweep now would prune and writes nothing.
func (s *Store) SweepRetention(ctx context.Context, org string, opts SweepOptions) (SweepResult, error) {
	res := SweepResult{Org: org, DryRun: opts.DryRun, Classes: []*ClassSweep{}}
	if !validOrg(org) {
		return res, fmt.Errorf("organization id %q is not valid: %w", org, ErrNotFound)
	}
	if opts.BatchSize <= 0 {
		opts.BatchSize = 256
	}
	if opts.Actor == "" {
		opts.Actor = "system"
	}
	if !opts.DryRun {
		// A log under an integrity alert refuses appends, so it could not
		// record the sweep: it prunes nothing either (fail closed).
		if err := s.orgAlertGate(ctx, org); err != nil {
			return res, err
		}
	}
	s.ret.mu.Lock()
	defer s.ret.mu.Unlock()

	var prog *sweepProgress
	var history []RetentionPolicy
	// An event already holds prog's sweep id: the ranges its record
	// holds, when it is the sweep's record (recordedSweep).
	recorded := false
	var recordedClasses []*ClassSweep
	err := s.view(ctx, func(txn *badger.Txn) error {
		var err error
		if history, err = readRetentionHistory(txn, org); err != nil {
			return err
		}
		item, err := txn.Get(settingKey(sweepSettingName(org)))
		if errors.Is(err, badger.ErrKeyNotFound) || err == nil && isCleared(item) {
			return nil
		}
		if err != nil {
			return err
		}
		prog = &sweepProgress{}
		err = item.Value(func(v []byte) error {
			if err := json.Unmarshal(v, prog); err != nil {
				return fmt.Errorf("the progress of an interrupted retention sweep of %q does not decode: %v: %w", org, err, errCorrupt)
			}
			return nil
		})
		if err != nil {
			return err
		}
		recorded, recordedClasses, err = recordedSweep(txn, org, prog.SweepID)
		return err
	})
	if err != nil {
		return res, err
	}
	// Whether a progress setting is written (it is cleared once the sweep
	// is recorded).
	progressWritten := false
	if recorded && !opts.DryRun {
		// An event already has this sweep's id: the sweep was recorded
		// and its progress not cleared (the process ended between the
		// two, or the progress was lost and came back), or a producer
		// used the id. Resuming it would prune what expired since under
		// an id whose event is written: the record would conflict for
		// ever. A new sweep takes over instead, with whatever the
		// progress holds that no record does, so that every tombstone
		// stays covered by a recorded sweep (verify checks it); the
		// progress is replaced in one synced write.
		next, err := s.newSweep(history)
		if err != nil {
			return res, err
		}
		if next.Classes = unrecordedClasses(prog.Classes, recordedClasses); len(next.Classes) > 0 {
			raw, err := json.Marshal(next)
			if err == nil {
				err = s.WriteSetting(ctx, sweepSettingName(org), raw)
			}
			if err != nil {
				return res, err
			}
			progressWritten = true
			prog = next
		} else {
			if err := s.WriteSetting(ctx, sweepSettingName(org), cleared); err != nil {
				return res, err
			}
			prog = nil
		}
	}
	if prog != nil && opts.DryRun {
		prog = nil // a dry run says what a sweep now would do
	}
	if prog != nil {
		res.Resumed = !progressWritten
	} else if prog, err = s.newSweep(history); err != nil {
		return res, err
	}
	var pol RetentionPolicy
	for _, p := range history {
		if p.Version == prog.Policy {
			pol = p
		}
	}
	if pol.Version != prog.Policy {
		return res, fmt.Errorf("the retention policy version %d of organization %q is not in its history: %w", prog.Policy, org, errCorrupt)
	}

	classes := categoryClasses(s.opts.Catalogue)
	cats := make([]string, 0, len(classes))
	for c := range classes {
		cats = append(cats, c)
	}
	sort.Strings(cats)
	// A resumed sweep keeps its time and policy, so that its tombstones
	// match it; but it prunes only what the policy in force now has let
	// expire too, which is what was announced: a window lengthened since
	// the interruption keeps what it keeps.
	now := s.opts.Now()
	current := InForce(history, now)
	for _, cat := range cats {
		class := classes[cat]
		w := pol.Window(class, cat)
		if w.Indefinite || w.Days <= 0 {
			continue
		}
		cutoff := prog.StartedAt.Add(-time.Duration(w.Days) * 24 * time.Hour)
		if res.Resumed {
			cw := current.Window(class, cat)
			if cw.Indefinite {
				continue
			}
			if c := now.Add(-time.Duration(cw.Days) * 24 * time.Hour); c.Before(cutoff) {
				cutoff = c
			}
		}
		rule := pol.RuleName(class, cat)
		if err := s.sweepCategory(ctx, org, cat, class, encTime(cutoff), rule, uint32(w.Days), prog, opts); err != nil {
			return s.sweepResult(res, prog), err
		}
	}
	res = s.sweepResult(res, prog)
	if opts.DryRun {
		res.SweepID = ""
		return res, nil
	}
	if prog.pruned() > 0 || opts.Record {
		rc, err := s.recordSweep(ctx, org, prog, pol, opts.Actor)
		if err != nil {
			return res, err
		}
		res.Event = &rc
	}
	if prog.Batches > 0 || progressWritten {
		if err := s.WriteSetting(ctx, sweepSettingName(org), cleared); err != nil {
			return res, err
		}
	}
	if prog.pruned() > 0 && !opts.NoReclaim {
		n, err := s.ReclaimSpace(ctx)
		if err != nil {
			s.log.Warn("value-log GC after a retention sweep failed", "org", org, "err", err)
		}
		res.Reclaimed = n
	}
	return res, nil
}

// lastSweepAt is the time of org's latest sweep that pruned: the newest
// recorded one (audit.retention_swept, dated the sweep's time), or one not
// finished. Zero when there is none. Callers hold s.ret.mu.
func (s *Store) lastSweepAt(ctx context.Context, org string) (time.Time, error) {
	var last time.Time
	page, err := s.List(ctx, Filter{Org: org, ActionTypes: []string{"audit.retention_swept"}, Order: NewestFirst, Limit: 1})
	switch {
	case err == nil && len(page.Events) > 0:
		last = page.Events[0].Timestamp
	case err != nil && !errors.Is(err, ErrNotFound):
		return last, fmt.Errorf("failed to read the latest retention sweep of organization %q: %w", org, err)
	}
	raw, err := s.ReadSetting(ctx, sweepSettingName(org))
	switch {
	case err == nil:
		var p sweepProgress
		if json.Unmarshal(raw, &p) == nil && p.StartedAt.After(last) {
			last = p.StartedAt
		}
	case !errors.Is(err, ErrNotFound):
		return last, err
	}
	return last, nil
}

// newSweep starts a sweep now, under the policy in force.
func (s *Store) newSweep(history []RetentionPolicy) (*sweepProgress, error) {
	id, err := uuid.NewV7()
	if err != nil {
		return nil, err
	}
	p := &sweepProgress{SweepID: id.String(), StartedAt: s.opts.Now().UTC()}
	pol, _ := policyAt(history, p.StartedAt)
	p.Policy = pol.Version
	return p, nil
}

// recordedSweep reports whether org has an event with id sweepID and, when
// it is a retention sweep's record, the ranges it records. A record pruned
// since (the log's own events had a finite window) records none that can
// be read; verify does not match tombstones with sweeps then.
func recordedSweep(txn *badger.Txn, org, sweepID string) (bool, []*ClassSweep, error) {
	item, err := txn.Get(idKey(org, sweepID))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return false, nil, nil
	}
	if err != nil {
		return false, nil, err
	}
	var ie idEntry
	if err := item.Value(func(v []byte) error { ie, err = decodeIDEntry(v); return err }); err != nil {
		return false, nil, err
	}
	item, err = txn.Get(recordKey(org, ie.seq))
	if err != nil {
		return false, nil, fmt.Errorf("the record of event %q (seq %d): %w", sweepID, ie.seq, err)
	}
	var classes []*ClassSweep
	err = item.Value(func(v []byte) error {
		if m, ok := sweepRecord(v); ok && m.SweepID == sweepID {
			classes = m.Classes
		}
		return nil
	})
	return true, classes, err
}

// sweepRecord decodes record value v as a retention sweep's record, and
// reports whether it is one: an audit.retention_swept event, not pruned,
// whose metadata decodes.
func sweepRecord(v []byte) (sweepMetadata, bool) {
	var m sweepMetadata
	if isTombstone(v) {
		return m, false
	}
	rv, err := decodeRecordValue(v)
	if err != nil {
		return m, false
	}
	p, err := decodePublic(rv.public)
	if err != nil || p.ActionType != "audit.retention_swept" {
		return m, false
	}
	return m, json.Unmarshal(p.Metadata, &m) == nil
}

// unrecordedClasses is what progress holds that recorded does not: per
// class, its seq ranges less those recorded, and the count pruned beyond
// the recorded one; nil when every range is recorded.
func unrecordedClasses(progress, recorded []*ClassSweep) []*ClassSweep {
	var out []*ClassSweep
	for _, c := range progress {
		if c == nil {
			continue
		}
		var rec *ClassSweep
		for _, r := range recorded {
			if r != nil && r.Class == c.Class {
				rec = r
			}
		}
		left := slices.Clone(c.Ranges)
		pruned := c.Pruned
		exact := c.Exact
		if rec != nil {
			left = subtractRanges(left, rec.Ranges)
			pruned -= min(pruned, rec.Pruned)
			exact = exact && rec.Exact
		}
		if len(left) == 0 {
			continue
		}
		if exact {
			pruned = 0
			for _, r := range left {
				pruned += r.To - r.From + 1
			}
		}
		out = append(out, &ClassSweep{Class: c.Class, Pruned: pruned, Ranges: left, Exact: exact})
	}
	return out
}

// subtractRanges is the seqs of a not in b, as sorted disjoint ranges; a
// and b are sorted and disjoint.
func subtractRanges(a, b []SeqRange) []SeqRange {
	var out []SeqRange
	j := 0
	for _, r := range a {
		from := r.From
		for j < len(b) && b[j].To < from {
			j++
		}
		for k := j; k < len(b) && b[k].From <= r.To && from <= r.To; k++ {
			if b[k].From > from {
				out = append(out, SeqRange{From: from, To: b[k].From - 1})
			}
			if b[k].To >= r.To {
				from = r.To + 1
				break
			}
			from = b[k].To + 1
		}
		if from <= r.To {
			out = append(out, SeqRange{From: from, To: r.To})
		}
	}
	return out
}

func (s *Store) sweepResult(res SweepResult, p *sweepProgress) SweepResult {
	res.SweepID, res.At, res.Policy, res.Batches = p.SweepID, p.StartedAt, p.Policy, p.Batches
	res.Pruned = p.pruned()
	res.Classes = p.Classes
	if res.Classes == nil {
		res.Classes = []*ClassSweep{}
	}
	return res
}

// sweepCategory prunes (or counts, for a dry run) the events of one
// category older than cutoff, walking the category index in time order.
func (s *Store) sweepCategory(ctx context.Context, org, cat string, class RetentionClass, cutoff uint64, rule string, days uint32,
	prog *sweepProgress, opts SweepOptions) error {
	prefix := indexPrefix(org, fieldCategory, cat)
	seek := slices.Clone(prefix)
	for {
		type cand struct{ ts, seq uint64 }
		var batch []cand
		err := s.view(ctx, func(txn *badger.Txn) error {
			it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix, PrefetchValues: false})
			defer it.Close()
			for it.Seek(seek); it.Valid() && len(batch) < opts.BatchSize; it.Next() {
				k := it.Item().Key()
				if len(k) != len(prefix)+16 {
					continue
				}
				ts := binary.BigEndian.Uint64(k[len(prefix):])
				if ts >= cutoff {
					break
				}
				batch = append(batch, cand{ts, binary.BigEndian.Uint64(k[len(prefix)+8:])})
			}
			return nil
		})
		if err != nil {
			return err
		}
		if len(batch) == 0 {
			return nil
		}
		last := batch[len(batch)-1]
		seek = binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64(slices.Clone(prefix), last.ts), last.seq+1)
		if opts.DryRun {
			cs := prog.class(class)
			for _, c := range batch {
				cs.add(c.seq)
			}
			continue
		}
		seqs := make([]uint64, len(batch))
		for i, c := range batch {
			seqs[i] = c.seq
		}
		if err := s.pruneSplitting(ctx, org, class, seqs, rule, prog, days); err != nil {
			return err
		}
	}
}

// pruneSplitting prunes seqs in one batch, or in halves when they do not
// fit in one Badger transaction (a small Options.MemTableSize).
func (s *Store) pruneSplitting(ctx context.Context, org string, class RetentionClass, seqs []uint64, rule string, prog *sweepProgress, days uint32) error {
	err := s.pruneBatch(ctx, org, class, seqs, rule, prog, days)
	if errors.Is(err, badger.ErrTxnTooBig) && len(seqs) > 1 {
		if err := s.pruneSplitting(ctx, org, class, seqs[:len(seqs)/2], rule, prog, days); err != nil {
			return err
		}
		return s.pruneSplitting(ctx, org, class, seqs[len(seqs)/2:], rule, prog, days)
	}
	if err != nil {
		return err
	}
	if hook := s.ret.afterBatch; hook != nil {
		return hook(prog.Batches)
	}
	return nil
}

// pruneBatch replaces the records seqs of org with tombstones, deletes
// their timeline and secondary index entries, counts them as pruned and
// records the sweep's progress, all in one transaction.
func (s *Store) pruneBatch(ctx context.Context, org string, class RetentionClass, seqs []uint64, rule string, prog *sweepProgress, days uint32) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.closeMu.RLock()
	defer s.closeMu.RUnlock()
	if s.closed {
		return ErrClosed
	}
	next := *prog
	next.Classes = make([]*ClassSweep, len(prog.Classes))
	for i, c := range prog.Classes {
		cp := *c
		cp.Ranges = slices.Clone(c.Ranges)
		next.Classes[i] = &cp
	}
	err := s.update(func(txn *badger.Txn) error {
		deltas := map[string]uint64{}
		cs := next.class(class)
		for _, seq := range seqs {
			item, err := txn.Get(recordKey(org, seq))
			if err != nil {
				return fmt.Errorf("failed to read record seq %d of organization %q: %w", seq, org, err)
			}
			v, err := item.ValueCopy(nil)
			if err != nil {
				return err
			}
			if isTombstone(v) {
				continue
			}
			rv, err := decodeRecordValue(v)
			if err != nil {
				return fmt.Errorf("record seq %d of organization %q: %w", seq, org, err)
			}
			p, err := decodePublic(rv.public)
			if err != nil {
				return fmt.Errorf("record seq %d of organization %q: %w", seq, org, err)
			}
			ts, err1 := time.Parse(time.RFC3339Nano, p.Timestamp)
			rec, err2 := time.Parse(time.RFC3339Nano, p.RecordedAt)
			prev, err3 := decodeHash(p.PrevHash)
			if p.Seq != seq || p.OrganizationID != org || err1 != nil || err2 != nil || err3 != nil {
				return fmt.Errorf("record seq %d of organization %q does not decode as its seq: %w", seq, org, errCorrupt)
			}
			t := tombstone{seq: seq, id: p.ID, timestamp: ts.UnixNano(), recordedAt: rec.UnixNano(),
				actionType: p.ActionType, category: p.Category, leaf: rv.leaf, prev: prev,
				policy: rule, policyVersion: next.Policy, windowDays: days, prunedAt: next.StartedAt.UnixNano()}
			if err := txn.Set(recordKey(org, seq), t.encode()); err != nil {
				return err
			}
			enc := encTime(ts)
			for _, e := range expectedIndexEntries(org, &p, seq, enc, rec.UnixNano()) {
				if e.table == ixID {
					continue
				}
				if err := txn.Delete(e.key); err != nil {
					return err
				}
			}
			hour := hourOf(enc)
			for _, cf := range []counterField{{fieldTotal, ""}, {fieldCategory, p.Category}, {fieldProvider, p.Provider},
				{fieldStatus, p.Status}, {fieldRiskLevel, p.RiskLevel}, {fieldUserID, p.UserID}} {
				deltas[string(prunedCounterKey(org, hour, cf.field, cf.value))]++
			}
			cs.add(seq)
		}
		for k, d := range deltas {
			var cur uint64
			item, err := txn.Get([]byte(k))
			switch {
			case err == nil:
				if err := item.Value(func(v []byte) error {
					if len(v) != 8 {
						return fmt.Errorf("pruned counter value has %d bytes: %w", len(v), errCorrupt)
					}
					cur = binary.BigEndian.Uint64(v)
					return nil
				}); err != nil {
					return err
				}
			case !errors.Is(err, badger.ErrKeyNotFound):
				return err
			}
			if err := txn.Set([]byte(k), binary.BigEndian.AppendUint64(nil, cur+d)); err != nil {
				return err
			}
		}
		next.Batches++
		b, err := json.Marshal(&next)
		if err != nil {
			return err
		}
		return txn.Set(settingKey(sweepSettingName(org)), b)
	})
	if err != nil {
		return fmt.Errorf("failed to prune a batch of %d records of organization %q: %w", len(seqs), org, err)
	}
	*prog = next
	return nil
}

func decodeHash(h string) ([32]byte, error) {
	var out [32]byte
	if len(h) != 64 {
		return out, errCorrupt
	}
	for i := 0; i < 32; i++ {
		hi, lo := unhex(h[2*i]), unhex(h[2*i+1])
		if hi > 15 || lo > 15 {
			return out, errCorrupt
		}
		out[i] = hi<<4 | lo
	}
	return out, nil
}

func unhex(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	}
	return 255
}

func prunedCounterKey(org string, hour uint64, field byte, value string) []byte {
	k := binary.BigEndian.AppendUint64(orgPrefix(tagPrunedCounter, org), hour)
	k = append(k, field)
	return append(k, value...)
}

// sweepMetadata is the metadata of audit.retention_swept.
type sweepMetadata struct {
	Pruned        uint64        `json:"pruned"`
	SweepID       string        `json:"sweepId"`
	Policy        string        `json:"policy"`
	PolicyVersion uint32        `json:"policyVersion"`
	Batches       int           `json:"batches"`
	Classes       []*ClassSweep `json:"classes"`
}

// recordSweep appends the sweep's audit.retention_swept event. Its id is
// the sweep's and its content depends only on the stored progress, so
// recording it again after a crash is an idempotent retry.
func (s *Store) recordSweep(ctx context.Context, org string, p *sweepProgress, pol RetentionPolicy, actor string) (Receipt, error) {
	classes := p.Classes
	if classes == nil {
		classes = []*ClassSweep{}
	}
	meta, err := json.Marshal(sweepMetadata{Pruned: p.pruned(), SweepID: p.SweepID, PolicyVersion: p.Policy,
		Policy:  fmt.Sprintf("operational %s, material %s (v%d)", pol.Operational, pol.Material, pol.Version),
		Batches: p.Batches, Classes: classes})
	if err != nil {
		return Receipt{}, err
	}
	rs, err := s.Append(ctx, []Event{{
		ID: p.SweepID, Timestamp: p.StartedAt, OrganizationID: org, UserID: actor, Provider: "system",
		ActionType: "audit.retention_swept", ResourceIDs: []string{"retention/" + org},
		Status: "applied", RiskLevel: "low", Metadata: meta,
	}})
	if err != nil {
		return Receipt{}, fmt.Errorf("failed to record the retention sweep of organization %q: %w", org, err)
	}
	return rs[0], nil
}

// ReclaimSpace compacts the LSM tree, so that the record values retention
// replaced are counted as garbage, and runs value-log GC until it finds
// nothing to rewrite. It returns how many bytes the value log shrank by:
// net of what appends wrote meanwhile, and 0 when they wrote more than it
// freed.
// Memtables not yet flushed keep the values they replaced alive until they
// are; the periodic GC (Options.GCInterval) catches those later.
//
// The compaction (Badger's Flatten) ends only once every table is on one
// level, which steady appends, each memtable flush adding a level-0 table,
// can put off for ever (a soak at 350 events/s kept it running for 22
// minutes). After a minute alongside appends it therefore holds them
// until it is done: appends wait, none fails.
func (s *Store) ReclaimSpace(ctx context.Context) (int64, error) {
	s.closeMu.RLock()
	defer s.closeMu.RUnlock()
	if s.closed {
		return 0, ErrClosed
	}
	before := s.valueLogBytes()
	flat := make(chan error, 1)
	go func() { flat <- s.db.Flatten(1) }()
	var err error
	select {
	case err = <-flat:
	case <-time.After(s.flattenAlone):
		s.wmu.Lock()
		err = <-flat
		s.wmu.Unlock()
		s.log.Info("held appends until the compaction of ReclaimSpace ended", "after", s.flattenAlone)
	}
	if err != nil {
		return 0, fmt.Errorf("failed to compact the database: %w", err)
	}
	for ctx.Err() == nil {
		err := s.runValueLogGC(0.5)
		if err != nil {
			if errors.Is(err, badger.ErrNoRewrite) || errors.Is(err, badger.ErrRejected) {
				break
			}
			return 0, fmt.Errorf("value-log GC failed: %w", err)
		}
	}
	return max(0, before-s.valueLogBytes()), ctx.Err()
}

// valueLogBytes is the size of the value-log files on disk.
func (s *Store) valueLogBytes() int64 {
	var n int64
	ents, _ := os.ReadDir(s.dir)
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ".vlog") {
			if fi, err := os.Stat(filepath.Join(s.dir, e.Name())); err == nil {
				n += fi.Size()
			}
		}
	}
	return n
}

// ExpiringGroup is the events of one category that a sweep at the end of
// the horizon would prune: exactly those of Category with a timestamp
// before Until.
type ExpiringGroup struct {
	Category string          `json:"category"`
	Class    RetentionClass  `json:"class"`
	Window   RetentionWindow `json:"window"`
	Until    time.Time       `json:"until"`
	Count    uint64          `json:"count"`
	Oldest   time.Time       `json:"oldest"`
	Newest   time.Time       `json:"newest"`
}

// Expiring is what retention will prune of an organization within a
// horizon, so the user can be warned and export it first.
type Expiring struct {
	Org     string          `json:"org"`
	Horizon time.Time       `json:"horizon"` // now + within
	Count   uint64          `json:"count"`
	Oldest  *time.Time      `json:"oldest,omitempty"`
	Newest  *time.Time      `json:"newest,omitempty"`
	Groups  []ExpiringGroup `json:"groups"`
}

// ExpiringEvents counts org's events that the policy prunes before now +
// within (including expired events no sweep has pruned yet): the version
// in force, and each pending version from when it takes effect.
func (s *Store) ExpiringEvents(ctx context.Context, org string, within time.Duration) (Expiring, error) {
	out := Expiring{Org: org, Groups: []ExpiringGroup{}}
	if !validOrg(org) {
		return out, fmt.Errorf("organization id %q is not valid: %w", org, ErrNotFound)
	}
	out.Horizon = s.opts.Now().UTC().Add(within)
	classes := categoryClasses(s.opts.Catalogue)
	cats := make([]string, 0, len(classes))
	for c := range classes {
		cats = append(cats, c)
	}
	sort.Strings(cats)
	err := s.view(ctx, func(txn *badger.Txn) error {
		history, err := readRetentionHistory(txn, org)
		if err != nil {
			return err
		}
		// The policy changes at most at these times before the horizon:
		// over each span, an event expires by the span's end when it is
		// older than the end less the window in force.
		type span struct {
			pol RetentionPolicy
			end time.Time
		}
		now := s.opts.Now().UTC()
		spans := []span{{InForce(history, now), out.Horizon}}
		for _, p := range PendingRetention(history, now) {
			if !p.EffectiveFrom.After(out.Horizon) {
				spans[len(spans)-1].end = p.EffectiveFrom
				spans = append(spans, span{p, out.Horizon})
			}
		}
		for _, cat := range cats {
			var g ExpiringGroup
			for _, sp := range spans {
				w := sp.pol.Window(classes[cat], cat)
				if w.Indefinite || w.Days <= 0 {
					continue
				}
				if until := sp.end.Add(-time.Duration(w.Days) * 24 * time.Hour); g.Window.Days == 0 || until.After(g.Until) {
					g = ExpiringGroup{Category: cat, Class: classes[cat], Window: w, Until: until}
				}
			}
			if g.Window.Days == 0 {
				continue
			}
			until := g.Until
			prefix := indexPrefix(org, fieldCategory, cat)
			it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix, PrefetchValues: false})
			stop := encTime(until)
			var n int
			for it.Rewind(); it.Valid(); it.Next() {
				if n++; n%4096 == 0 && ctx.Err() != nil {
					break
				}
				k := it.Item().Key()
				if len(k) != len(prefix)+16 {
					continue
				}
				ts := binary.BigEndian.Uint64(k[len(prefix):])
				if ts >= stop {
					break
				}
				if g.Count == 0 {
					g.Oldest = decTime(ts)
				}
				g.Newest = decTime(ts)
				g.Count++
			}
			it.Close()
			if err := ctx.Err(); err != nil {
				return err
			}
			if g.Count == 0 {
				continue
			}
			out.Groups = append(out.Groups, g)
			out.Count += g.Count
			if out.Oldest == nil || g.Oldest.Before(*out.Oldest) {
				t := g.Oldest
				out.Oldest = &t
			}
			if out.Newest == nil || g.Newest.After(*out.Newest) {
				t := g.Newest
				out.Newest = &t
			}
		}
		return nil
	})
	return out, err
}

// PrunedRun is a run of consecutive tombstones pruned by one rule at one
// time.
type PrunedRun struct {
	Org      string         `json:"org"`
	FromSeq  uint64         `json:"fromSeq"`
	ToSeq    uint64         `json:"toSeq"`
	Count    uint64         `json:"count"`
	Class    RetentionClass `json:"class"`
	Policy   string         `json:"policy"`
	PrunedAt time.Time      `json:"prunedAt"`
	// Oldest and Newest are the pruned events' timestamps.
	Oldest time.Time `json:"oldest"`
	Newest time.Time `json:"newest"`
}

// PrunedRuns is what retention pruned of a range: every event and run
// counted, the newest runs listed.
type PrunedRuns struct {
	Runs   []PrunedRun `json:"runs"`   // the newest runs, in seq order
	Total  int         `json:"total"`  // runs in all
	Events uint64      `json:"events"` // pruned events in all
	Listed uint64      `json:"listed"` // pruned events in Runs
}

// PrunedRuns lists org's tombstones with a timestamp in [since, until) (zero
// times: unbounded) as runs of consecutive seqs with the same rule and
// sweep time, in seq order: the newest limit runs (0: 1000), and how many
// runs and events there are in all.
func (s *Store) PrunedRuns(ctx context.Context, org string, since, until time.Time, limit int) (PrunedRuns, error) {
	res := PrunedRuns{Runs: []PrunedRun{}}
	if !validOrg(org) {
		return res, fmt.Errorf("organization id %q is not valid: %w", org, ErrNotFound)
	}
	if limit <= 0 {
		limit = 1000
	}
	classes := categoryClasses(s.opts.Catalogue)
	var out []PrunedRun
	// out keeps the newest runs: past 2×limit, the oldest half is dropped.
	trim := func() {
		if len(out) > 2*limit {
			out = append(out[:0], out[len(out)-limit:]...)
		}
	}
	err := s.view(ctx, func(txn *badger.Txn) error {
		prefix := orgPrefix(tagRecord, org)
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix, PrefetchValues: false})
		defer it.Close()
		var n int
		for it.Rewind(); it.Valid(); it.Next() {
			if n++; n%4096 == 0 && ctx.Err() != nil {
				return ctx.Err()
			}
			item := it.Item()
			// Tombstones are small and live in the LSM tree; records with
			// states may not, and are not read.
			if item.ValueSize() > 1024 {
				continue
			}
			var t tombstone
			var ok bool
			if err := item.Value(func(v []byte) error {
				if isTombstone(v) {
					var err error
					t, err = decodeTombstone(v)
					ok = err == nil
				}
				return nil
			}); err != nil {
				return err
			}
			if !ok {
				continue
			}
			ts := time.Unix(0, t.timestamp).UTC()
			if (!since.IsZero() && ts.Before(since)) || (!until.IsZero() && !ts.Before(until)) {
				continue
			}
			at := time.Unix(0, t.prunedAt).UTC()
			res.Events++
			if l := len(out) - 1; l >= 0 && out[l].ToSeq+1 == t.seq && out[l].Policy == t.policy && out[l].PrunedAt.Equal(at) {
				out[l].ToSeq = t.seq
				out[l].Count++
				if ts.Before(out[l].Oldest) {
					out[l].Oldest = ts
				}
				if ts.After(out[l].Newest) {
					out[l].Newest = ts
				}
				continue
			}
			trim()
			res.Total++
			cls, known := classes[t.category]
			if !known {
				cls = RetentionMaterial
			}
			out = append(out, PrunedRun{Org: org, FromSeq: t.seq, ToSeq: t.seq, Count: 1, Class: cls,
				Policy: t.policy, PrunedAt: at, Oldest: ts, Newest: ts})
		}
		return nil
	})
	if len(out) > limit {
		out = out[len(out)-limit:]
	}
	res.Runs = append(res.Runs, out...)
	for _, r := range out {
		res.Listed += r.Count
	}
	return res, err
}

// checkTombstone says why a tombstone does not match a policy that was in
// force ("" when it does): the rule it names must be the rule of its
// category in the policy version in force when it was pruned, that rule
// must have a finite window, and the window must have expired by then.
func checkTombstone(t tombstone, history []RetentionPolicy, classes map[string]RetentionClass, categoryOf func(string) string, now time.Time) string {
	at := time.Unix(0, t.prunedAt).UTC()
	if at.After(now) {
		return fmt.Sprintf("pruned at %s, which is later than now", at.Format(time.RFC3339))
	}
	if c := categoryOf(t.actionType); c != t.category {
		return fmt.Sprintf("action type %s is in category %s, the tombstone says %s", t.actionType, c, t.category)
	}
	var pol RetentionPolicy
	found := false
	for _, p := range history {
		if p.Version == t.policyVersion {
			pol, found = p, true
		}
	}
	if !found {
		return fmt.Sprintf("policy version %d is not in the organization's retention history", t.policyVersion)
	}
	// The version in force at the sweep's time, by the versions made
	// before it; a change made at that very instant may have come before
	// or after the sweep (they can share a clock reading).
	inForce := false
	for k := 1; k <= len(history) && !inForce; k++ {
		if k < len(history) && history[k].changedAt().Before(at) {
			continue // a version made before the sweep: the sweep saw it
		}
		if history[k-1].changedAt().After(at) {
			break // made after the sweep
		}
		then, _ := policyAt(history[:k], at)
		inForce = then.Version == pol.Version
	}
	if !inForce {
		return fmt.Sprintf("policy version %d was not in force at %s", t.policyVersion, at.Format(time.RFC3339))
	}
	class, ok := classes[t.category]
	if !ok {
		return fmt.Sprintf("category %s has no retention class", t.category)
	}
	w := pol.Window(class, t.category)
	if w.Indefinite {
		return fmt.Sprintf("a %s event (%s) was removed, but policy version %d keeps its category indefinitely", class, t.actionType, pol.Version)
	}
	if w.Days != int(t.windowDays) || pol.RuleName(class, t.category) != t.policy {
		return fmt.Sprintf("the tombstone names %q (%d days); the policy in force says %q", t.policy, t.windowDays, pol.RuleName(class, t.category))
	}
	if ts := time.Unix(0, t.timestamp).UTC(); ts.Add(time.Duration(w.Days) * 24 * time.Hour).After(at) {
		return fmt.Sprintf("the event of %s was removed at %s, before its %s window ended", ts.Format(time.RFC3339), at.Format(time.RFC3339), w)
	}
	return ""
}
