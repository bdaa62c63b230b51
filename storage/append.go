package storage

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"strings"
	"time"

	badger "github.com/dgraph-io/badger/v4"
	"github.com/google/uuid"
)

// prepared is an event with all the work that does not depend on its seq
// done by the appending goroutine, so the single writer only assigns seqs,
// hashes, seals and writes.
type prepared struct {
	ev       Event
	category string
	ts       uint64
	parts    publicParts
	beforePT []byte // salt || JCS(beforeState); nil when absent
	afterPT  []byte
	beforeC  []byte // commitments; nil when absent
	afterC   []byte
	mac      [32]byte
	summary  []byte
	indexes  [][]byte // index key prefixes (without ts, seq)
	counts   []counterField
	idKey    []byte
	dedupKey string // org \x00 id
	entries  int64  // estimated Badger entries and bytes of this event
	size     int64
}

// sealsStates reports whether the event has states to seal, and so needs
// its organization's data key.
func (p *prepared) sealsStates() bool { return p.beforePT != nil || p.afterPT != nil }

type counterField struct {
	field byte
	value string
}

const fieldTotal byte = 't'

type appendRequest struct {
	events []prepared
	size   int64
	count  int64
	done   chan appendResult
	// extra are written in the same commit as the events, and onCommit
	// runs once that commit is durable, before the caller is answered
	// (a data key rotation and the event that records it).
	extra    []kv
	onCommit func()
}

type appendResult struct {
	receipts []Receipt
	err      error
}

// Append validates events, records them and returns one receipt per event,
// in order, once they are durable (fsynced).
//
// It is all-or-nothing: if any event is invalid, Append returns a
// *ValidationError (matching ErrInvalidEvent) whose Index names it, and
// writes nothing. Appends are idempotent by id: an id already recorded with
// identical content yields its original receipt, with different content an
// error matching ErrConflict. Events without an id get a UUIDv7.
//
// Concurrent calls are group-committed: one writer takes every queued batch
// (a batch is never split), assigns each organization's next seqs, writes
// them in one Badger transaction and syncs once. A failing commit fails
// every caller of that group and writes nothing; a failing sync leaves the
// store refusing appends until it is reopened (fail closed). A batch larger
// than one Badger transaction (about 15% of Options.MemTableSize) is refused.
func (s *Store) Append(ctx context.Context, events []Event) ([]Receipt, error) {
	s.lastAppend.Store(time.Now().UnixNano()) // the text sketches wait (sketch.go)
	if len(events) == 0 {
		return nil, nil
	}
	req := &appendRequest{events: make([]prepared, len(events)), done: make(chan appendResult, 1)}
	for i := range events {
		if err := s.prepare(&events[i], i, &req.events[i]); err != nil {
			return nil, err
		}
		req.size += req.events[i].size
		req.count += req.events[i].entries
	}
	if err := s.alertGate(ctx, events); err != nil {
		return nil, err
	}
	if limSize, limCount := s.txnBudget(); req.size > limSize || req.count > limCount {
		return nil, fmt.Errorf("a batch of %d events needs %d bytes and %d writes, over the %d and %d of one atomic commit: append it in smaller batches: %w",
			len(events), req.size, req.count, limSize, limCount, ErrBatchTooLarge)
	}
	// The data keys of the organizations whose states the batch seals are
	// loaded here, not by the writer: reading a KEK from the keychain may
	// wait on an unlock prompt, and every organization's appends pass
	// through the writer.
	if err := s.loadDataKeys(ctx, req); err != nil {
		return nil, err
	}
	return s.submit(ctx, req)
}

// loadDataKeys loads the data keys of the organizations whose states req
// seals (keyring.ensure), in the caller's goroutine.
func (s *Store) loadDataKeys(ctx context.Context, req *appendRequest) error {
	s.closeMu.RLock()
	defer s.closeMu.RUnlock()
	if s.closed {
		return ErrClosed
	}
	// A batch is nearly always of one organization; ensure is cheap once
	// its keys are loaded, so a repeat for an interleaved batch is fine.
	last := ""
	for i := range req.events {
		p := &req.events[i]
		if org := p.ev.OrganizationID; p.sealsStates() && org != last {
			if err := s.keys.ensure(ctx, org); err != nil {
				return fmt.Errorf("failed to get the data key of organization %q: %w", org, err)
			}
			last = org
		}
	}
	return nil
}

// submit hands a prepared request to the writer and waits for its answer.
func (s *Store) submit(ctx context.Context, req *appendRequest) ([]Receipt, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	// Checked here, before the writer stages anything: a group it staged
	// and could not commit would fail the store.
	if err := s.roomFor(req.size); err != nil {
		return nil, err
	}
	s.closeMu.RLock()
	if s.closed {
		s.closeMu.RUnlock()
		return nil, ErrClosed
	}
	if s.appendDirect(req) {
		s.closeMu.RUnlock()
		r := <-req.done
		return r.receipts, r.err
	}
	select {
	case s.reqs <- req:
		s.closeMu.RUnlock()
	case <-ctx.Done():
		s.closeMu.RUnlock()
		return nil, ctx.Err()
	}
	select {
	case r := <-req.done:
		return r.receipts, r.err
	case <-ctx.Done():
		return nil, fmt.Errorf("stopped waiting for the commit, which may still complete (retrying is safe for events "+
			"with an id; an event without one got a new id, so look for it before appending it again): %w", ctx.Err())
	}
}

// CheckAppend reports what Append would refuse events for, and writes
// nothing: a *ValidationError for an invalid event, a *ConflictError for an
// id recorded, or repeated in events, with different content, and an
// *IntegrityAlertError while an organization of events has an active
// alert. Unlike Append it does not bound the batch, so that a caller with
// more events than one atomic commit holds can check them all before it
// appends them in parts. An Append after it can still meet a conflict that
// a concurrent Append created.
func (s *Store) CheckAppend(ctx context.Context, events []Event) error {
	cs, err := s.CheckConflicts(ctx, events)
	if err != nil || len(cs) == 0 {
		return err
	}
	return &ConflictError{Index: cs[0].Index, ID: events[cs[0].Index].ID, OrganizationID: events[cs[0].Index].OrganizationID}
}

// Conflict is an event of a batch that Append would refuse because its id
// is recorded, or repeated earlier in the batch, with different content.
type Conflict struct {
	Index int // the event's index in the batch
	// Earlier is the index of the earlier event of the batch with this
	// organization and id whose content it does not have, or -1 when the
	// id is recorded in the log with other content. An earlier event that
	// conflicts itself is not one: a repeat of it is held against the log.
	Earlier int
}

// CheckConflicts is CheckAppend naming every conflicting event, in order,
// rather than the first; its error is CheckAppend's for anything else.
func (s *Store) CheckConflicts(ctx context.Context, events []Event) ([]Conflict, error) {
	s.closeMu.RLock()
	defer s.closeMu.RUnlock()
	if s.closed {
		return nil, ErrClosed
	}
	if err := s.alertGate(ctx, events); err != nil {
		return nil, err
	}
	type first struct {
		index int
		mac   [32]byte
	}
	seen := make(map[string]first, len(events)) // the first event of each id that does not conflict
	var cs []Conflict
	err := s.db.View(func(txn *badger.Txn) error {
		var p prepared
		for i := range events {
			if err := ctx.Err(); err != nil {
				return err
			}
			p = prepared{}
			if err := s.prepare(&events[i], i, &p); err != nil {
				return err
			}
			if f, ok := seen[p.dedupKey]; ok {
				if f.mac != p.mac {
					cs = append(cs, Conflict{Index: i, Earlier: f.index})
				}
				continue
			}
			ie, found, err := recordedID(txn, &p)
			if err != nil {
				return err
			}
			if found && ie.mac != p.mac {
				cs = append(cs, Conflict{Index: i, Earlier: -1})
				continue
			}
			seen[p.dedupKey] = first{i, p.mac}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return cs, nil
}

// recordedID reads the id index entry of p's event, if it was recorded.
func recordedID(txn *badger.Txn, p *prepared) (ie idEntry, found bool, err error) {
	item, err := txn.Get(p.idKey)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return idEntry{}, false, nil
	}
	if err == nil {
		err = item.Value(func(v []byte) error { ie, err = decodeIDEntry(v); return err })
	}
	if err != nil {
		return idEntry{}, false, fmt.Errorf("failed to read the id index for %q: %w", p.ev.ID, err)
	}
	return ie, true, nil
}

// txnBudget is how much one group may write: Badger's transaction limits,
// with room for the heads written at the end.
func (s *Store) txnBudget() (size, count int64) {
	maxSize := s.opts.MemTableSize * 15 / 100
	return maxSize * 9 / 10, maxSize / 96 * 9 / 10
}

func (s *Store) prepare(in *Event, index int, p *prepared) error {
	p.ev = *in
	e := &p.ev
	if e.ID == "" {
		id, err := uuid.NewV7()
		if err != nil {
			return fmt.Errorf("failed to generate an id for event %d: %w", index, err)
		}
		e.ID = id.String()
	}
	// A timestamp with a zone offset is refused by the validator, not
	// converted: the producer must say what it means in UTC.
	if err := s.opts.Catalogue.Validate(e); err != nil {
		var ve *ValidationError
		if errors.As(err, &ve) {
			ve.Index = index
			return ve
		}
		return fmt.Errorf("event %d: %w", index, err)
	}
	if _, off := e.Timestamp.Zone(); off != 0 {
		return &ValidationError{Index: index, Errors: []FieldError{{Field: "timestamp", Reason: "must be UTC (zone offset 0)"}}}
	}
	// Offset 0 in another Location (time.Local on a UTC machine) is the
	// same instant; the record holds it as UTC.
	e.Timestamp = e.Timestamp.UTC()
	// The validator checks all of this too; the store checks what its key
	// layout and record format depend on, so a validator bug cannot corrupt
	// the log.
	var fe []FieldError
	bad := func(field, reason string) { fe = append(fe, FieldError{Field: field, Reason: reason}) }
	if !validOrg(e.OrganizationID) {
		bad("organizationId", "must match ^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
	}
	if e.Timestamp.IsZero() || e.Timestamp.Year() < 1970 || e.Timestamp.Year() > 2200 {
		bad("timestamp", "must be a time between 1970 and 2200")
	}
	for _, f := range []struct{ name, v string }{{"id", e.ID}, {"userId", e.UserID}, {"provider", e.Provider},
		{"actionType", e.ActionType}, {"status", e.Status}, {"riskLevel", e.RiskLevel}} {
		if f.v == "" || !validKeyString(f.v) {
			bad(f.name, "must be a non-empty UTF-8 string without NUL")
		}
	}
	for i, r := range e.ResourceIDs {
		if r == "" || !validKeyString(r) {
			bad(fmt.Sprintf("resourceIds[%d]", i), "must be a non-empty UTF-8 string without NUL")
		}
	}
	canon := func(field string, raw json.RawMessage) []byte {
		if len(raw) == 0 {
			return nil
		}
		c, err := canonicalJSON(raw)
		if err != nil {
			bad(field, "must be valid JSON: "+err.Error())
			return nil
		}
		return c
	}
	before := canon("beforeState", e.BeforeState)
	after := canon("afterState", e.AfterState)
	meta := canon("metadata", e.Metadata)
	if meta != nil && meta[0] != '{' {
		bad("metadata", "must be a JSON object")
	}
	if string(meta) == "{}" {
		meta = nil
	}
	if len(fe) > 0 {
		return &ValidationError{Index: index, Errors: fe}
	}

	p.category = s.categoryOf(e.ActionType)
	p.ts = encTime(e.Timestamp)
	sealIn := func(state []byte) (pt, c []byte) {
		if state == nil {
			return nil, nil
		}
		pt = make([]byte, 32+len(state))
		rand.Read(pt[:32])
		copy(pt[32:], state)
		sum := stateCommitment(pt[:32], state)
		return pt, sum[:]
	}
	p.beforePT, p.beforeC = sealIn(before)
	p.afterPT, p.afterC = sealIn(after)
	p.parts = buildPublicParts(e, p.category, p.beforeC, p.afterC, meta)

	// The content MAC covers the event as appended, states included but
	// salts excluded, so an identical retry has an identical MAC.
	n := len(e.ID) + len(tsLayout) + len(e.OrganizationID) + len(e.UserID) + len(e.ActionType) + len(meta) + len(before) + len(after) + 128
	for _, r := range e.ResourceIDs {
		n += len(r) + 4
	}
	c := make([]byte, 0, n)
	str := func(v string) {
		c = append(c, 1)
		c = binary.AppendUvarint(c, uint64(len(v)))
		c = append(c, v...)
	}
	field := func(present bool, b []byte) {
		if !present {
			c = append(c, 0)
			return
		}
		c = append(c, 1)
		c = binary.AppendUvarint(c, uint64(len(b)))
		c = append(c, b...)
	}
	for _, v := range [...]string{e.ID, formatTime(e.Timestamp), e.OrganizationID, e.UserID, e.Provider, e.ActionType, e.Status, e.RiskLevel} {
		str(v)
	}
	c = binary.AppendUvarint(c, uint64(len(e.ResourceIDs)))
	for _, r := range e.ResourceIDs {
		str(r)
	}
	field(meta != nil, meta)
	field(before != nil, before)
	field(after != nil, after)
	p.mac = contentMAC(s.dedup, c)

	org := e.OrganizationID
	p.summary = summary{provider: e.Provider, status: e.Status, risk: e.RiskLevel,
		category: p.category, actionType: e.ActionType, userID: e.UserID}.encode()
	// Only selective fields are indexed: each index entry costs a Badger
	// write per event. actionType filters use the category index, and
	// provider/status/riskLevel (three or four values each) are filtered
	// from the summaries of the timeline index.
	p.indexes = [][]byte{
		indexPrefix(org, fieldCategory, p.category),
		indexPrefix(org, fieldUserID, e.UserID),
	}
	seen := map[string]bool{}
	for _, r := range e.ResourceIDs {
		if !seen[r] {
			seen[r] = true
			p.indexes = append(p.indexes, indexPrefix(org, fieldResourceID, r))
		}
	}
	p.counts = []counterField{{fieldTotal, ""}, {fieldCategory, p.category}, {fieldProvider, e.Provider},
		{fieldStatus, e.Status}, {fieldRiskLevel, e.RiskLevel}, {fieldUserID, e.UserID}}
	p.idKey = idKey(org, e.ID)
	p.dedupKey = org + "\x00" + e.ID

	// Estimate what this event adds to a Badger transaction, the way Badger
	// counts it (key + inline value + 12 bytes per pointer + 12 overhead).
	add := func(k, v int) {
		p.entries++
		if int64(v) >= s.opts.ValueThreshold {
			v = 12
		}
		p.size += int64(k + v + 12)
	}
	recLen := len(p.parts.a) + len(p.parts.b) + len(p.parts.c) + len(p.parts.d) + 160 + 40 +
		len(p.beforePT) + len(p.afterPT) + 2*(17+16)
	kl := len(org) + 2
	add(kl+8, recLen)
	if !s.opts.disableIntegrity {
		// Tree nodes: two per event on average (the leaf and one parent).
		add(kl+9, 32)
		add(kl+9, 32)
	}
	add(kl+len(e.ID), 48)
	add(kl+16, len(p.summary))
	for _, ix := range p.indexes {
		add(len(ix)+16, len(p.summary))
	}
	// The user's counter, and the hour's pack with this event's pairs (a
	// pack also holds the hour's earlier pairs, a few hundred bytes at most,
	// which the budget's margin covers).
	pack := 0
	for _, cf := range p.counts {
		if cf.field == fieldUserID {
			add(kl+9+len(cf.value), 8)
		} else {
			pack += 2 + len(cf.value) + binary.MaxVarintLen64
		}
	}
	add(kl+9, pack)
	return nil
}

// The append pipeline has three stages, each one goroutine:
//
//   - writer: takes every queued request up to Options.MaxGroupEvents (a
//     request is never split), assigns seqs and stages the group's writes;
//   - committer: writes the staged groups as Badger transactions, one
//     after another, in seq order, each time all that are staged and fit
//     in one; Badger syncs each before the commit returns (SyncWrites,
//     store.go);
//   - syncer: answers the callers of the groups committed so far.
//
// So building a group overlaps committing the previous one, which overlaps
// answering the one before. A group with nothing before it in flight and no
// request waiting behind it is committed and answered by the
// writer itself, and a lone Append with the writer idle does all that on
// its own goroutine (appendDirect): no hand-off when there is nothing to
// overlap. The writer reads (the id index, for retries)
// through a snapshot it keeps across groups, because a new Badger
// transaction waits until every commit in progress is applied, which would
// stop the writer while the committer works; the ids of groups the snapshot
// does not show are kept in memory until a newer snapshot does.
//
// A group is committed only after the previous commit succeeded, so the log
// on disk is always a prefix of the seqs handed out: a crash or failure
// never leaves a gap. Any failing commit or sync fails its callers and every
// later one: the store refuses appends (fail closed) until it is reopened,
// which replays only complete transactions.
//
// What the writer reads and changes is guarded by s.wmu, so that a lone
// Append can do the writer's work itself (appendDirect).
func (s *Store) writer(ctx context.Context) {
	// Close ends ctx once the queue is closed, and what was queued before
	// is still committed: creating an organization's first data key must
	// not fail for it.
	ctx = context.WithoutCancel(ctx)
	var carry *appendRequest
	maxSize, maxCount := s.txnBudget()
	w := s.wv
	defer func() {
		s.wmu.Lock()
		defer s.wmu.Unlock()
		w.close()
	}()
	defer close(s.commitc)
	settle := func() {
		s.wmu.Lock()
		w.settled++
		s.wmu.Unlock()
	}
	for {
		req := carry
		carry = nil
		for req == nil {
			var ok bool
			select {
			case req, ok = <-s.reqs:
				if !ok {
					return
				}
			case <-s.settled:
				settle()
			}
		}
		// A waiting writer keeps lone Appends from overtaking it.
		s.writerWaits.Add(1)
		s.wmu.Lock()
		s.writerWaits.Add(-1)
		group := []*appendRequest{req}
		n, size, count := len(req.events), req.size, req.count
	drain:
		for n < s.opts.MaxGroupEvents {
			select {
			case r, ok := <-s.reqs:
				if !ok {
					break drain
				}
				if n+len(r.events) > s.opts.MaxGroupEvents || size+r.size > maxSize || count+r.count > maxCount {
					carry = r
					break drain
				}
				group = append(group, r)
				n, size, count = n+len(r.events), size+r.size, count+r.count
			default:
				break drain
			}
		}
		s.writerGroups.Add(1)
		w.refresh()
		if w.settled == len(w.groups) && carry == nil && len(s.reqs) == 0 {
			// Every earlier group is answered and no other request
			// waits: commit, sync and answer here, two goroutine
			// hand-offs less. When requests wait, the group goes to the
			// committer so that the next one is built meanwhile.
			s.buildCommitAndSync(ctx, group, w)
			s.wmu.Unlock()
			continue
		}
		g := s.build(ctx, group, w)
		w.handed(g)
		s.wmu.Unlock()
		// Even a group that writes nothing (only retries of recorded
		// events) goes through the pipeline: its receipts may name events
		// of groups not yet synced, so it is answered after the next sync.
		// Only this goroutine hands groups to the committer, so they reach
		// it in seq order.
		s.pipelinedGroups.Add(1)
		for sent := false; !sent; {
			select {
			case s.commitc <- g:
				sent = true
			case <-s.settled:
				settle()
			}
		}
	}
}

// buildCommitAndSync builds group, commits and syncs it and answers its
// callers, with every earlier group answered (w idle) and s.wmu held.
func (s *Store) buildCommitAndSync(ctx context.Context, group []*appendRequest, w *writerView) {
	g := s.build(ctx, group, w)
	w.handed(g)
	s.commit([]*inflight{g})
	s.syncAndAnswer([]*inflight{g}, false)
	w.settled++
}

// appendDirect does the writer's work for req on the caller's goroutine
// when the writer has nothing queued or in flight, and reports whether it
// did (req is then answered). A lone Append so skips the two goroutine
// hand-offs of the pipeline; under load, requests queue for the writer and
// are group-committed as before. Once started it finishes: like a request
// handed to the writer, it does not heed the caller's context.
func (s *Store) appendDirect(req *appendRequest) bool {
	if len(s.reqs) > 0 || s.writerWaits.Load() > 0 || !s.wmu.TryLock() {
		return false
	}
	defer s.wmu.Unlock()
	w := s.wv
	// Go on only when no group is in flight: refresh then never waits for
	// one (it would wait holding wmu, which the writer needs to count
	// them).
	w.countSettled()
	if w.settled != len(w.groups) || len(s.reqs) > 0 || s.writerWaits.Load() > 0 {
		return false
	}
	w.refresh()
	s.buildCommitAndSync(s.bgCtx, []*appendRequest{req}, w)
	s.directGroups.Add(1)
	return true
}

// countSettled counts the groups answered so far, without waiting.
func (w *writerView) countSettled() {
	for {
		select {
		case <-w.s.settled:
			w.settled++
		default:
			return
		}
	}
}

// writerView is what the writer reads through: a Badger snapshot plus the
// ids of the groups handed on since, which the snapshot may not show.
type writerView struct {
	s    *Store
	snap *badger.Txn
	// pending: ids of the groups in groups, which snap may not show.
	pending map[string]pendingID
	// the ids of each group handed on and not yet known to be in snap,
	// oldest first (not the groups, which hold their events); the first
	// settled of them have been committed, synced and answered.
	groups  []map[string]pendingID
	settled int
}

// Bounds on what the writer keeps in memory beyond its snapshot; past them
// it waits for the commits in flight and takes a new snapshot.
const (
	maxPendingIDs    = 1 << 16
	maxSettledGroups = 64
)

// maxCounterCache bounds the counters the writer caches (a variable for
// tests).
var maxCounterCache = 1 << 17

// refresh notes the groups committed since the last call and, when that is
// free (nothing in flight, so a new transaction does not wait) or needed
// (too much kept in memory), takes a new snapshot that shows them.
func (w *writerView) refresh() {
	w.countSettled()
	idle := w.settled == len(w.groups)
	cached := len(w.s.counters) + len(w.s.packs)
	full := len(w.pending) > maxPendingIDs || w.settled > maxSettledGroups || cached > maxCounterCache
	switch {
	case w.snap == nil:
	case idle && w.settled > 0:
		if cached > maxCounterCache {
			// Every group is settled: the new snapshot shows what the
			// cache holds.
			clear(w.s.counters)
			clear(w.s.packs)
		}
	case full:
		if cached > maxCounterCache {
			// The counter cache is only dropped when the snapshot shows
			// every group: counters missing from the cache are read from it.
			for w.settled < len(w.groups) {
				<-w.s.settled
				w.settled++
			}
			clear(w.s.counters)
			clear(w.s.packs)
		}
	default:
		return
	}
	if w.snap != nil {
		w.snap.Discard()
	}
	w.snap = w.s.db.NewTransaction(false)
	for _, ids := range w.groups[:w.settled] {
		for k := range ids {
			delete(w.pending, k)
		}
	}
	n := copy(w.groups, w.groups[w.settled:])
	clear(w.groups[n:])
	w.groups = w.groups[:n]
	w.settled = 0
}

// handed records a group given to the committer.
func (w *writerView) handed(g *inflight) {
	for k, v := range g.ids {
		w.pending[k] = v
	}
	w.groups = append(w.groups, g.ids)
}

// close waits until every group handed on is answered (each sends on
// settled exactly once) and drops the snapshot.
func (w *writerView) close() {
	for w.settled < len(w.groups) {
		<-w.s.settled
		w.settled++
	}
	if w.snap != nil {
		w.snap.Discard()
	}
}

// committer commits built groups in order: each time, every group built
// so far that fits in one Badger transaction, in one transaction and so
// one sync. Under load the writer builds small groups as their requests
// arrive, and Badger's serial commit and sync is then the bottleneck:
// committing the groups that queued behind a commit together cut the
// transactions of the 16-producer benchmark by a third and raised its
// rate by about 8%.
func (s *Store) committer() {
	defer close(s.syncc)
	var carry *inflight
	for {
		g := carry
		carry = nil
		if g == nil {
			var ok bool
			if g, ok = <-s.commitc; !ok {
				return
			}
		}
		batch := []*inflight{g}
		size, count := g.writes.budget()
	more:
		for {
			select {
			case next, ok := <-s.commitc:
				if !ok {
					break more
				}
				ns, nc := next.writes.budget()
				if !s.fitsOneTxn(size+ns, count+nc) {
					carry = next
					break more
				}
				batch = append(batch, next)
				size, count = size+ns, count+nc
			default:
				break more
			}
		}
		s.commit(batch)
		// When nothing else is queued or being synced, answer here: one
		// goroutine hand-off less. Otherwise the syncer answers these
		// while the next commit runs. Either way groups are answered and
		// published in order.
		if carry == nil && len(s.commitc) == 0 && s.syncing.Load() == 0 {
			s.syncAndAnswer(batch, true)
			continue
		}
		s.syncing.Add(int32(len(batch)))
		for _, g := range batch {
			s.syncc <- g
		}
	}
}

// txnMarkerSize bounds what the entry Badger adds to every transaction to
// mark its commit (key "!badger!txn", the commit timestamp, metadata) counts
// against the transaction's size.
const txnMarkerSize = 64

// fitsOneTxn reports whether writes of this size and count, as
// groupWrites counts them, fit one Badger transaction. Each write passed
// Badger's own check as it was staged (count and size below the limits),
// but at commit Badger adds the marker entry and refuses a transaction
// whose count then reaches its limit.
func (s *Store) fitsOneTxn(size, count int64) bool {
	return size+txnMarkerSize < s.db.MaxBatchSize() && count+1 < s.db.MaxBatchCount()
}

// commit writes the groups of batch in one transaction (unless the store
// has failed) and sets each one's err: they are durable together or not at
// all. A failure makes the store refuse appends until it is reopened.
func (s *Store) commit(batch []*inflight) {
	events := 0
	writes := make([]*groupWrites, 0, len(batch))
	for _, g := range batch {
		events += len(g.done)
		if g.writes != nil {
			writes = append(writes, g.writes)
		}
	}
	// (Whether the files are still there is checked after the sync, before
	// anyone is answered: what was written into removed files is lost.)
	err := s.failure()
	if err == nil && s.beforeCommit != nil {
		if err = s.beforeCommit(); err != nil {
			err = fmt.Errorf("failed to commit %d events: %w", events, err)
			s.setFailed(fmt.Errorf("an earlier commit failed, reopen the store: %w", err))
		}
	}
	if err == nil && len(writes) > 0 {
		if err = s.commitGroups(writes); err != nil {
			err = fmt.Errorf("failed to commit %d events: %w", events, err)
			s.setFailed(fmt.Errorf("an earlier commit failed, reopen the store: %w", err))
		}
	}
	for _, g := range batch {
		g.err = err
	}
}

// commitGroups writes staged groups as one Badger transaction, in order, so
// that a key two groups write (a head, a counter) ends with the later
// value. Transactions are committed one at a time, so one does not wait
// for another to be applied.
func (s *Store) commitGroups(groups []*groupWrites) error {
	s.commits.Add(1)
	txn := s.db.NewTransaction(true)
	defer txn.Discard()
	for _, w := range groups {
		for _, kv := range w.kvs {
			if err := txn.Set(kv.k, kv.v); err != nil {
				return err
			}
		}
	}
	return txn.Commit()
}

// syncer makes committed groups durable, one sync for all that are ready,
// and answers their callers.
func (s *Store) syncer() {
	for g := range s.syncc {
		batch := []*inflight{g}
	more:
		for {
			select {
			case g, ok := <-s.syncc:
				if !ok {
					break more
				}
				batch = append(batch, g)
			default:
				break more
			}
		}
		s.syncAndAnswer(batch, true)
		s.syncing.Add(-int32(len(batch)))
	}
}

// syncAndAnswer answers the callers of batch, whose commits Badger synced
// (SyncWrites); with notify, it then tells the writer (settled) of each
// group. Groups that wrote nothing are answered after the groups their
// receipts may name, which were committed before them.
func (s *Store) syncAndAnswer(batch []*inflight, notify bool) {
	if notify {
		defer func() {
			for _, g := range batch {
				s.settled <- g
			}
		}()
	}
	// Synced into files that were removed meanwhile is not durable.
	_ = s.stillThere()
	for _, g := range batch {
		if g.err == nil {
			// A group committed after a failure is not durable-safe.
			g.err = s.failure()
		}
		if g.err != nil {
			s.fail(g, g.err)
			continue
		}
		// Subscribers are offered the events before Append returns.
		if s.subs.active() {
			for _, c := range g.done {
				s.subs.publish(c.storedEvent(g.recNs))
			}
		}
		// The checkpointer learns of the events before their callers, so
		// nothing of the group is touched after Append returns.
		s.durable(g.done)
		for i, r := range g.group {
			if r.onCommit != nil && g.results[i].err == nil {
				r.onCommit()
			}
		}
		s.answer(g)
	}
}

func (s *Store) failure() error {
	if e := s.failed.Load(); e != nil {
		return *e
	}
	return nil
}

func (s *Store) setFailed(err error) { s.failed.CompareAndSwap(nil, &err) }

type pendingID struct {
	seq        uint64
	recordedAt int64
	mac        [32]byte
}

// committed is one event written by a group, kept to publish it.
type committed struct {
	p      *prepared
	seq    uint64
	public []byte
	leaf   [32]byte
	prev   [32]byte
}

// inflight is a built group on its way to disk.
type inflight struct {
	group   []*appendRequest
	results []appendResult
	writes  *groupWrites // nil when the group writes nothing
	done    []committed
	ids     map[string]pendingID
	recNs   int64
	err     error // set by the committer
}

// groupWrites are a group's staged writes, counted the way Badger counts a
// transaction so that a group too large for one is refused here, before
// the writer's caches move on, rather than by the committer.
type groupWrites struct {
	kvs               []kv
	size, count       int64
	maxSize, maxCount int64
	threshold         int64
}

type kv struct{ k, v []byte }

// kvSetter stages writes (groupWrites, or a Badger transaction).
type kvSetter interface{ Set(k, v []byte) error }

func (s *Store) newGroupWrites(events int) *groupWrites {
	return &groupWrites{kvs: make([]kv, 0, events*10+16),
		maxSize: s.db.MaxBatchSize(), maxCount: s.db.MaxBatchCount(), threshold: s.opts.ValueThreshold}
}

// budget is the size and count Badger charges a transaction for w's
// writes (none for a group that writes nothing).
func (w *groupWrites) budget() (size, count int64) {
	if w == nil {
		return 0, 0
	}
	return w.size, w.count
}

// Set stages one write; it fails as Badger's Txn.Set would.
func (w *groupWrites) Set(k, v []byte) error {
	e := int64(len(k)) + 2 + 10 // metas and the version Badger appends
	if int64(len(v)) < w.threshold {
		e += int64(len(v))
	} else {
		e += 12
	}
	if w.count+1 >= w.maxCount || w.size+e >= w.maxSize {
		return badger.ErrTxnTooBig
	}
	w.count++
	w.size += e
	w.kvs = append(w.kvs, kv{k, v})
	return nil
}

// build stages a group's writes. It updates the head and counter caches as
// if the group had committed, so the next group can be built before this
// one is durable (if it fails, the store fails closed and the caches no
// longer matter). It reads through w: the writer's snapshot and the ids of
// the groups it may not show.
func (s *Store) build(ctx context.Context, group []*appendRequest, w *writerView) *inflight {
	g := &inflight{group: group, results: make([]appendResult, len(group))}
	if err := s.failure(); err != nil {
		for i := range g.results {
			g.results[i].err = err
		}
		return g
	}
	now := s.opts.Now().UTC()
	recAt, recNs := formatTime(now), now.UnixNano()
	g.recNs = recNs
	txn := w.snap
	var nEvents int
	for _, r := range group {
		nEvents += len(r.events)
	}
	wr := s.newGroupWrites(nEvents)
	abort := func(err error) *inflight {
		g.ids, g.done = nil, nil
		for i := range g.results {
			g.results[i] = appendResult{err: err}
		}
		return g
	}

	heads := map[string]head{}
	trees := s.beginTrees()
	g.ids = map[string]pendingID{}
	deltas := map[string]uint64{}                // user counters
	packDeltas := map[string]map[string]uint64{} // hourly packs
	read := map[string]head{}                    // heads read from the database by this group
	dataKeys := map[string]dataKey{}             // the group's organizations' current data keys, got once
	getHead := func(org string) (head, error) {
		if h, ok := heads[org]; ok {
			return h, nil
		}
		if h, ok := s.heads[org]; ok {
			return h, nil
		}
		if h, ok := read[org]; ok {
			return h, nil
		}
		var h head
		item, err := txn.Get(headKey(org))
		lost := errors.Is(err, badger.ErrKeyNotFound)
		switch {
		case lost:
		case err != nil:
			return head{}, fmt.Errorf("failed to read the head of organization %q: %w", org, err)
		default:
			if err := item.Value(func(v []byte) error { h, err = decodeHead(v); return err }); err != nil {
				return head{}, fmt.Errorf("organization %q: %w", org, err)
			}
		}
		// A head read from the database (once per organization) must
		// be the log's end: a lost or stale one would overwrite records.
		_, err = txn.Get(recordKey(org, h.seq+1))
		if err == nil {
			where := fmt.Sprintf("is at seq %d", h.seq)
			if lost {
				where = "is missing"
			}
			return head{}, fmt.Errorf("the head of organization %q %s, but record seq %d exists: the log is damaged; "+
				"run `axiom-audit verify` and restore the database from a backup: %w", org, where, h.seq+1, ErrTampered)
		}
		if !errors.Is(err, badger.ErrKeyNotFound) {
			return head{}, fmt.Errorf("failed to read record seq %d of organization %q: %w", h.seq+1, org, err)
		}
		read[org] = h
		return h, nil
	}

	for gi, req := range group {
		receipts := make([]Receipt, len(req.events))
		dupOf := make([]int, len(req.events)) // -1 new, -2 recorded earlier, else index in req
		local := map[string]int{}
		var conflict error
		for i := range req.events {
			p := &req.events[i]
			dupOf[i] = -1
			pid, ok := g.ids[p.dedupKey]
			if !ok {
				pid, ok = w.pending[p.dedupKey]
			}
			if ok {
				if pid.mac != p.mac {
					conflict = conflictErr(i, p)
					break
				}
				receipts[i] = receipt(p, pid.seq, pid.recordedAt)
				dupOf[i] = -2
				continue
			}
			if j, ok := local[p.dedupKey]; ok {
				if req.events[j].mac != p.mac {
					conflict = conflictErr(i, p)
					break
				}
				dupOf[i] = j
				continue
			}
			ie, found, err := recordedID(txn, p)
			if err != nil {
				return abort(err)
			}
			if found {
				if ie.mac != p.mac {
					conflict = conflictErr(i, p)
					break
				}
				receipts[i] = receipt(p, ie.seq, ie.recordedAt)
				dupOf[i] = -2
				continue
			}
			local[p.dedupKey] = i
		}
		if conflict != nil {
			g.results[gi].err = conflict
			continue
		}
		// An organization whose head is damaged fails its own requests,
		// before anything of them is staged, not the whole group.
		for i := range req.events {
			if dupOf[i] != -1 {
				continue
			}
			if _, err := getHead(req.events[i].ev.OrganizationID); err != nil {
				conflict = err
				if errors.Is(err, ErrTampered) {
					s.raiseDamaged(req.events[i].ev.OrganizationID, err)
				}
				break
			}
			// So does one whose data keys cannot be had (its KEK missing
			// from the keystore) for an event with states to seal: the key
			// is kept for the staging below. Events without states need no
			// key, and are recorded.
			org := req.events[i].ev.OrganizationID
			if _, ok := dataKeys[org]; ok || !req.events[i].sealsStates() {
				continue
			}
			dk, err := s.keys.currentKey(ctx, org)
			if err != nil {
				conflict = fmt.Errorf("failed to get the data key of organization %q: %w", org, err)
				break
			}
			dataKeys[org] = dk
		}
		if conflict != nil {
			g.results[gi].err = conflict
			continue
		}
		for i := range req.events {
			if dupOf[i] != -1 {
				continue
			}
			p := &req.events[i]
			org := p.ev.OrganizationID
			h, err := getHead(org)
			if err != nil {
				return abort(err)
			}
			dk := dataKeys[org] // set for every organization whose events seal states
			seq := h.seq + 1
			public := p.parts.assemble(make([]byte, 0, len(p.parts.a)+len(p.parts.c)+len(p.parts.d)+200), h.leaf, recAt, seq)
			rv := recordValue{public: public, leaf: leafHash(public)}
			if p.beforePT != nil {
				rv.sealedBefore = seal(dk, p.beforePT, org, seq, p.ev.ID, 'b', p.beforeC)
			}
			if p.afterPT != nil {
				rv.sealedAfter = seal(dk, p.afterPT, org, seq, p.ev.ID, 'a', p.afterC)
			}
			sets := [][2][]byte{
				{recordKey(org, seq), rv.encode()},
				{p.idKey, idEntry{seq: seq, recordedAt: recNs, mac: p.mac}.encode()},
				{timeKey(org, p.ts, seq), p.summary},
			}
			var suffix [16]byte
			binary.BigEndian.PutUint64(suffix[:], p.ts)
			binary.BigEndian.PutUint64(suffix[8:], seq)
			for _, ix := range p.indexes {
				k := make([]byte, 0, len(ix)+16)
				k = append(append(k, ix...), suffix[:]...)
				sets = append(sets, [2][]byte{k, p.summary})
			}
			for _, kv := range sets {
				if err := wr.Set(kv[0], kv[1]); err != nil {
					return abort(fmt.Errorf("failed to stage seq %d of organization %q: %w", seq, org, err))
				}
			}
			if err := trees.leaf(txn, wr, org, seq, rv.leaf); err != nil {
				return abort(err)
			}
			hour := hourOf(p.ts)
			pk := string(counterKey(org, hour, fieldPack, ""))
			pack := packDeltas[pk]
			if pack == nil {
				pack = map[string]uint64{}
				packDeltas[pk] = pack
			}
			for _, cf := range p.counts {
				if cf.field == fieldUserID {
					deltas[string(counterKey(org, hour, cf.field, cf.value))]++
					continue
				}
				pack[packKeyOf(cf.field, cf.value)]++
			}
			g.done = append(g.done, committed{p: p, seq: seq, public: public, leaf: rv.leaf, prev: h.leaf})
			heads[org] = head{seq: seq, leaf: rv.leaf, lastRecordedAt: recNs}
			g.ids[p.dedupKey] = pendingID{seq: seq, recordedAt: recNs, mac: p.mac}
			receipts[i] = receipt(p, seq, recNs)
		}
		for i, j := range dupOf {
			if j >= 0 {
				receipts[i] = receipts[j]
			}
		}
		g.results[gi].receipts = receipts
	}
	for gi, req := range group {
		if req.extra == nil || g.results[gi].err != nil {
			continue
		}
		for _, e := range req.extra {
			if err := wr.Set(e.k, e.v); err != nil {
				return abort(fmt.Errorf("failed to stage a write of the group: %w", err))
			}
		}
	}
	if len(g.done) == 0 {
		g.ids = nil
		return g
	}
	for org, h := range heads {
		if err := wr.Set(headKey(org), h.encode()); err != nil {
			return abort(fmt.Errorf("failed to stage the head of organization %q: %w", org, err))
		}
	}
	newCounts := make(map[string]uint64, len(deltas))
	for k, d := range deltas {
		cur, ok := s.counters[k]
		if !ok {
			err := readCounter(txn, k, func(v []byte) error {
				if len(v) != 8 {
					return fmt.Errorf("counter value has %d bytes: %w", len(v), errCorrupt)
				}
				cur = binary.BigEndian.Uint64(v)
				return nil
			})
			if err != nil {
				return abort(err)
			}
		}
		newCounts[k] = cur + d
		if err := wr.Set([]byte(k), binary.BigEndian.AppendUint64(nil, cur+d)); err != nil {
			return abort(fmt.Errorf("failed to stage a counter: %w", err))
		}
	}
	newPacks := make(map[string]map[string]uint64, len(packDeltas))
	for k, d := range packDeltas {
		cur, ok := s.packs[k]
		if !ok {
			err := readCounter(txn, k, func(v []byte) error {
				cur = map[string]uint64{}
				return decodePack(v, func(field byte, value string, n uint64) { cur[packKeyOf(field, value)] += n })
			})
			if err != nil {
				return abort(err)
			}
		}
		next := maps.Clone(cur)
		if next == nil {
			next = make(map[string]uint64, len(d))
		}
		for f, n := range d {
			next[f] += n
		}
		newPacks[k] = next
		if err := wr.Set([]byte(k), encodePack(next)); err != nil {
			return abort(fmt.Errorf("failed to stage a counter: %w", err))
		}
	}
	if err := trees.finish(wr); err != nil {
		return abort(err)
	}
	trees.commit()
	// Optimistic: the next group builds on these.
	for org, h := range heads {
		s.heads[org] = h
	}
	for k, v := range newCounts {
		s.counters[k] = v
	}
	for k, v := range newPacks {
		s.packs[k] = v
	}
	g.writes = wr
	return g
}

// readCounter calls decode with the stored value of counter key k, if
// there is one.
func readCounter(txn *badger.Txn, k string, decode func(v []byte) error) error {
	item, err := txn.Get([]byte(k))
	switch {
	case err == nil:
		return item.Value(decode)
	case errors.Is(err, badger.ErrKeyNotFound):
		return nil
	default:
		return fmt.Errorf("failed to read a counter: %w", err)
	}
}

func (s *Store) fail(g *inflight, err error) {
	for i := range g.results {
		if g.results[i].err == nil {
			g.results[i] = appendResult{err: err}
		}
	}
	s.answer(g)
}

func (s *Store) answer(g *inflight) {
	for i, r := range g.group {
		r.done <- g.results[i]
	}
}

// categoryOf is the category of an action type: the catalogue's, else the
// part before the first dot.
func (s *Store) categoryOf(actionType string) string {
	if at, ok := s.opts.Catalogue.Lookup(actionType); ok && at.Category != "" {
		return at.Category
	}
	if i := strings.IndexByte(actionType, '.'); i > 0 {
		return actionType[:i]
	}
	return actionType
}

func conflictErr(i int, p *prepared) error {
	return &ConflictError{Index: i, ID: p.ev.ID, OrganizationID: p.ev.OrganizationID}
}

func receipt(p *prepared, seq uint64, recNs int64) Receipt {
	return Receipt{ID: p.ev.ID, OrganizationID: p.ev.OrganizationID, Seq: seq, RecordedAt: time.Unix(0, recNs).UTC()}
}

// storedEvent is the event as List and Get return it: its public fields
// read back from the record (canonical metadata, nothing shared with the
// caller's Event), its states from the sealed plaintext.
func (c committed) storedEvent(recNs int64) StoredEvent {
	p, ok := decodePublicFast(c.public)
	if !ok {
		// The fast decoder declines what is unusual, not what is wrong.
		p, _ = decodePublic(c.public)
	}
	ts, ok := parseRecordTime(p.Timestamp)
	if !ok {
		ts = c.p.ev.Timestamp.UTC()
	}
	e := Event{ID: p.ID, Timestamp: ts, OrganizationID: p.OrganizationID, UserID: p.UserID,
		Provider: p.Provider, ActionType: p.ActionType, ResourceIDs: p.ResourceIDs, Status: p.Status,
		RiskLevel: p.RiskLevel, Metadata: p.Metadata}
	if c.p.beforePT != nil {
		e.BeforeState = json.RawMessage(c.p.beforePT[32:])
	}
	if c.p.afterPT != nil {
		e.AfterState = json.RawMessage(c.p.afterPT[32:])
	}
	return StoredEvent{
		Event:                 e,
		FormatVersion:         FormatVersion,
		Seq:                   c.seq,
		RecordedAt:            time.Unix(0, recNs).UTC(),
		Category:              c.p.category,
		PrevHash:              hex.EncodeToString(c.prev[:]),
		LeafHash:              hex.EncodeToString(c.leaf[:]),
		BeforeStateCommitment: hexOrEmpty(c.p.beforeC),
		AfterStateCommitment:  hexOrEmpty(c.p.afterC),
		Public:                c.public,
	}
}

func hexOrEmpty(b []byte) string {
	if b == nil {
		return ""
	}
	return hex.EncodeToString(b)
}
