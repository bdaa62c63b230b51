package storage

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	badger "github.com/dgraph-io/badger/v4"
)

// ErrBadCursor: a cursor that is malformed or belongs to another filter.
var ErrBadCursor = errors.New("invalid cursor")

// Order is the order of a timeline: by (timestamp, seq).
type Order int

const (
	NewestFirst Order = iota // the default
	OldestFirst
)

// Default and maximum page sizes of List.
const (
	DefaultLimit = 100
	MaxLimit     = 1000
)

// Filter selects events of one organization. Empty fields do not filter;
// several values of one field match any of them; different fields must all
// match. Not* fields exclude events with any of the listed values.
type Filter struct {
	Org          string    // required: every read is scoped to one organization
	Since, Until time.Time // timestamp ≥ Since and < Until; zero means open

	Categories, ActionTypes, Providers, UserIDs, Statuses, RiskLevels []string

	NotCategories, NotActionTypes, NotProviders, NotUserIDs, NotStatuses, NotRiskLevels []string

	ResourceID       string // exact match of one of the event's resourceIds
	ResourceIDPrefix string // prefix of one of the event's resourceIds

	// Text is free text: words, and "phrases in double quotes", each of
	// which must be a case-insensitive substring of a public field (id,
	// user, provider, actionType, category, status, riskLevel, a
	// resourceId) or of a value in the metadata: a string as it reads
	// unescaped, a number as written, true or false. Different words may
	// match different fields (TextTerms splits it). Metadata keys are not
	// searched, and the sealed states never are.
	Text string

	Order  Order
	Limit  int    // page size: 0 means DefaultLimit; at most MaxLimit
	Cursor string // from the previous Page; must come from the same filter
}

// StoredEvent is a recorded event: its public record and, when the data
// keys are present, its decrypted states.
type StoredEvent struct {
	Event
	FormatVersion         int       `json:"formatVersion"`
	Seq                   uint64    `json:"seq"`
	RecordedAt            time.Time `json:"recordedAt"`
	Category              string    `json:"category"`
	PrevHash              string    `json:"prevHash"` // hex
	LeafHash              string    `json:"leafHash"` // hex
	BeforeStateCommitment string    `json:"beforeStateCommitment,omitempty"`
	AfterStateCommitment  string    `json:"afterStateCommitment,omitempty"`
	// StatesSealed is true when the event has states that could not be
	// decrypted because their data key is not in this database, or the
	// key-encryption key that wraps it is not in the keystore.
	StatesSealed bool `json:"statesSealed,omitempty"`
	// Public is the public record exactly as hashed (JCS). Read only: the
	// string fields and Metadata of an event read from the store may be
	// views of it.
	Public []byte `json:"-"`
}

// Page is one page of a timeline.
type Page struct {
	Events []StoredEvent `json:"events"`
	// NextCursor continues after the last event; empty when the page was
	// not full. A full last page yields a cursor whose next page is empty.
	NextCursor string `json:"nextCursor,omitempty"`
}

// Get returns the event id of org, its states decrypted when the keys are
// present.
func (s *Store) Get(ctx context.Context, org, id string) (StoredEvent, error) {
	if !validOrg(org) {
		return StoredEvent{}, fmt.Errorf("organization id %q is not valid: %w", org, ErrNotFound)
	}
	var out StoredEvent
	err := s.view(ctx, func(txn *badger.Txn) error {
		item, err := txn.Get(idKey(org, id))
		if errors.Is(err, badger.ErrKeyNotFound) {
			return fmt.Errorf("event %q of organization %q: %w", id, org, ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("failed to read the id index: %w", err)
		}
		var ie idEntry
		if err := item.Value(func(v []byte) error { ie, err = decodeIDEntry(v); return err }); err != nil {
			return err
		}
		out, err = s.readRecord(txn, org, ie.seq, statesIfKeys)
		s.readMapped(getMapped)
		return err
	})
	return out, err
}

// getMapped is what one Get is counted as reading through Badger's
// mappings (readMapped): not the record's 2 KB but what a read of it maps.
// When the value log is in the page cache (in large folios, as a read or
// a readahead leaves it), a fault maps the whole folio: 201 Gets of
// events spread over 1M made 290 MB of the value log resident, about 1.5
// MB each, before the loop's next tick. Counted so, a burst of Gets wakes
// the loop every few Gets, as a scan does every mappedChunk.
const getMapped = 2 << 20

// stateMode is whether a read decrypts the states of the records it reads.
type stateMode uint8

const (
	statesPublic stateMode = iota // the public record only
	// statesIfKeys: the states, or StatesSealed when their keys are not
	// at hand (a data key absent from the database, or the KEK that wraps
	// it missing from the keystore or the keystore locked): the timeline
	// and Get.
	statesIfKeys
	// statesAll: the states; a missing KEK is an error, not sealed states:
	// an export or sync that promises states must not leave them out
	// because the keychain lost an entry that may come back.
	statesAll
)

// readRecord reads and decodes the record org/seq.
func (s *Store) readRecord(txn *badger.Txn, org string, seq uint64, mode stateMode) (StoredEvent, error) {
	item, err := txn.Get(recordKey(org, seq))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return StoredEvent{}, fmt.Errorf("record seq %d of organization %q is missing: %w", seq, org, ErrTampered)
	}
	if err != nil {
		return StoredEvent{}, fmt.Errorf("failed to read record seq %d: %w", seq, err)
	}
	var se StoredEvent
	err = item.Value(func(v []byte) error {
		var err error
		se, err = s.decodeStored(v, org, seq, mode)
		return err
	})
	return se, err
}

// decodeStored turns a record value into a StoredEvent. A record in the
// exact form the store writes is parsed by storedFast, several times
// faster than encoding/json; anything else by decodeStoredSlow, with the
// same result (FuzzDecodePublicFast).
func (s *Store) decodeStored(v []byte, org string, seq uint64, mode stateMode) (StoredEvent, error) {
	if isTombstone(v) {
		return StoredEvent{}, prunedError(org, seq, v) // retention removed it (tombstone.go)
	}
	rv, err := decodeRecordValue(v)
	if err != nil {
		return StoredEvent{}, fmt.Errorf("record seq %d of organization %q: %w", seq, org, err)
	}
	se, ok := storedFast(rv, org, seq)
	if !ok {
		if se, err = decodeStoredSlow(rv, org, seq); err != nil {
			return StoredEvent{}, err
		}
	}
	if mode == statesPublic {
		return se, nil
	}
	open := func(sealed []byte, side byte, commitment string) (json.RawMessage, error) {
		if len(sealed) == 0 {
			return nil, nil
		}
		c, err := hex.DecodeString(commitment)
		if err != nil || len(c) != 32 {
			return nil, fmt.Errorf("record seq %d: state commitment is not 32 bytes of hex: %w", seq, ErrTampered)
		}
		_, state, err := s.keys.openSealed(s.bgCtx, sealed, org, seq, se.ID, side, c)
		// A key-encryption key missing from the keystore seals the
		// organization's states on the timeline as a missing data key
		// does (appends of states, exports and syncs of them fail and say
		// which key to restore).
		if errors.Is(err, errNoDataKey) || (mode == statesIfKeys && (errors.Is(err, ErrKeyNotFound) || errors.Is(err, ErrKeychainUnavailable))) {
			se.StatesSealed = true
			return nil, nil
		}
		return json.RawMessage(state), err
	}
	if se.BeforeState, err = open(rv.sealedBefore, 'b', se.BeforeStateCommitment); err != nil {
		return StoredEvent{}, err
	}
	if se.AfterState, err = open(rv.sealedAfter, 'a', se.AfterStateCommitment); err != nil {
		return StoredEvent{}, err
	}
	return se, nil
}

// stored is the StoredEvent of public record p of rv, whose bytes are pub,
// without its times (which each decoder parses its own way) and states.
func (p *publicRecord) stored(rv recordValue, pub []byte) StoredEvent {
	return StoredEvent{
		Event: Event{ID: p.ID, OrganizationID: p.OrganizationID, UserID: p.UserID, Provider: p.Provider,
			ActionType: p.ActionType, ResourceIDs: p.ResourceIDs, Status: p.Status, RiskLevel: p.RiskLevel,
			Metadata: p.Metadata},
		FormatVersion:         p.FormatVersion,
		Seq:                   p.Seq,
		Category:              p.Category,
		PrevHash:              p.PrevHash,
		LeafHash:              hex.EncodeToString(rv.leaf[:]),
		BeforeStateCommitment: p.BeforeStateCommitment,
		AfterStateCommitment:  p.AfterStateCommitment,
		Public:                pub,
	}
}

// decodeStoredSlow decodes the public record of rv with encoding/json:
// records decodeStoredFast does not take (escaped strings, a form the
// store does not write), and damaged ones, whose errors it names.
func decodeStoredSlow(rv recordValue, org string, seq uint64) (StoredEvent, error) {
	p, err := decodePublic(rv.public)
	if err != nil {
		return StoredEvent{}, fmt.Errorf("record seq %d of organization %q: %w", seq, org, err)
	}
	if p.Seq != seq || p.OrganizationID != org {
		return StoredEvent{}, fmt.Errorf("record seq %d of organization %q names seq %d of %q: %w", seq, org, p.Seq, p.OrganizationID, ErrTampered)
	}
	se := p.stored(rv, append([]byte(nil), rv.public...))
	if se.Timestamp, err = time.Parse(time.RFC3339Nano, p.Timestamp); err != nil {
		return StoredEvent{}, fmt.Errorf("record seq %d: timestamp: %v: %w", seq, err, errCorrupt)
	}
	if se.RecordedAt, err = time.Parse(time.RFC3339Nano, p.RecordedAt); err != nil {
		return StoredEvent{}, fmt.Errorf("record seq %d: recordedAt: %v: %w", seq, err, errCorrupt)
	}
	return se, nil
}

// compiledFilter is a Filter ready to match index summaries and records.
type compiledFilter struct {
	f                                      Filter
	ctx                                    context.Context // scans stop when it ends (a client that gave up)
	since, until                           uint64          // encoded; until exclusive
	cat, act, prov, user, status, risk     map[string]bool
	ncat, nact, nprov, nuser, nstat, nrisk map[string]bool
	text                                   []string   // TextTerms(f.Text), lower case
	grams                                  [][]uint64 // the grams of text's terms that have any (sketch.go)
	needRecord                             bool       // resource or text filters need the record
}

func set(vs []string) map[string]bool {
	if len(vs) == 0 {
		return nil
	}
	m := make(map[string]bool, len(vs))
	for _, v := range vs {
		m[v] = true
	}
	return m
}

func compile(f Filter) (*compiledFilter, error) {
	if f.Org == "" {
		return nil, &FilterError{"Org", "is required: every read is scoped to one organization"}
	}
	if !validOrg(f.Org) {
		return nil, &FilterError{"Org", fmt.Sprintf("%q is not an organization id (letters, digits, '.', '_' and '-', at most 128)", f.Org)}
	}
	if f.Order != NewestFirst && f.Order != OldestFirst {
		return nil, &FilterError{"Order", fmt.Sprintf("unknown order %d", f.Order)}
	}
	// Values are compared with the stored ones, which are valid UTF-8
	// without NUL (0x00 ends an index key's value).
	for _, v := range []struct {
		field  string
		values []string
	}{
		{"Categories", f.Categories}, {"ActionTypes", f.ActionTypes}, {"Providers", f.Providers},
		{"UserIDs", f.UserIDs}, {"Statuses", f.Statuses}, {"RiskLevels", f.RiskLevels},
		{"NotCategories", f.NotCategories}, {"NotActionTypes", f.NotActionTypes}, {"NotProviders", f.NotProviders},
		{"NotUserIDs", f.NotUserIDs}, {"NotStatuses", f.NotStatuses}, {"NotRiskLevels", f.NotRiskLevels},
		{"ResourceID", []string{f.ResourceID}}, {"ResourceIDPrefix", []string{f.ResourceIDPrefix}}, {"Text", []string{f.Text}},
	} {
		for _, s := range v.values {
			if !utf8.ValidString(s) || strings.IndexByte(s, 0) >= 0 {
				return nil, &FilterError{v.field, fmt.Sprintf("%q is not valid UTF-8 without NUL", s)}
			}
		}
	}
	c := &compiledFilter{f: f, since: 0, until: math.MaxUint64,
		cat: set(f.Categories), act: set(f.ActionTypes), prov: set(f.Providers), user: set(f.UserIDs),
		status: set(f.Statuses), risk: set(f.RiskLevels),
		ncat: set(f.NotCategories), nact: set(f.NotActionTypes), nprov: set(f.NotProviders),
		nuser: set(f.NotUserIDs), nstat: set(f.NotStatuses), nrisk: set(f.NotRiskLevels),
		text: TextTerms(strings.ToLower(f.Text))}
	if !f.Since.IsZero() {
		c.since = encBound(f.Since)
	}
	if !f.Until.IsZero() {
		c.until = encBound(f.Until)
	}
	c.grams = termGrams(c.text)
	c.needRecord = f.ResourceID != "" || f.ResourceIDPrefix != "" || f.Text != ""
	return c, nil
}

// Times that an int64 of nanoseconds since 1970 holds (1677-09-21 to
// 2262-04-11): what the keys encode.
var (
	minEncTime = time.Unix(0, math.MinInt64).UTC()
	maxEncTime = time.Unix(0, math.MaxInt64).UTC()
)

// encBound encodes a range bound like encTime, and one beyond what keys
// encode as the end that is (no event is dated there: the validator keeps
// timestamps between MinTimestamp and tomorrow).
func encBound(t time.Time) uint64 {
	switch {
	case t.Before(minEncTime):
		return 0
	case t.After(maxEncTime):
		return math.MaxUint64
	}
	return encTime(t)
}

func in(m map[string]bool, v string) bool    { return m == nil || m[v] }
func notIn(m map[string]bool, v string) bool { return m == nil || !m[v] }

func (c *compiledFilter) matchSummary(s *summary) bool {
	return in(c.cat, s.category) && in(c.act, s.actionType) && in(c.prov, s.provider) &&
		in(c.user, s.userID) && in(c.status, s.status) && in(c.risk, s.risk) &&
		notIn(c.ncat, s.category) && notIn(c.nact, s.actionType) && notIn(c.nprov, s.provider) &&
		notIn(c.nuser, s.userID) && notIn(c.nstat, s.status) && notIn(c.nrisk, s.risk)
}

// matchPruned reports whether f may have matched the pruned event of t:
// what its tombstone keeps (timestamp, category and action type) matches.
func (c *compiledFilter) matchPruned(t *tombstone) bool {
	ts := encTime(time.Unix(0, t.timestamp))
	return ts >= c.since && ts < c.until && in(c.cat, t.category) && in(c.act, t.actionType) &&
		notIn(c.ncat, t.category) && notIn(c.nact, t.actionType)
}

// PrunedMatchIsExact reports whether f looks only at what a pruned event
// keeps (its time, category and action type), so that the pruned events
// ScanRecordsAndPruned reports are exactly those f would have matched;
// otherwise they are those it may have matched.
func (f Filter) PrunedMatchIsExact() bool {
	return len(f.Providers)+len(f.UserIDs)+len(f.Statuses)+len(f.RiskLevels)+
		len(f.NotProviders)+len(f.NotUserIDs)+len(f.NotStatuses)+len(f.NotRiskLevels) == 0 &&
		f.ResourceID == "" && f.ResourceIDPrefix == "" && f.Text == ""
}

// matchRecord checks what summaries do not carry: resource ids and text.
func (c *compiledFilter) matchRecord(e *StoredEvent) bool {
	if c.f.ResourceID != "" && !slices.Contains(e.ResourceIDs, c.f.ResourceID) {
		return false
	}
	if p := c.f.ResourceIDPrefix; p != "" && !slices.ContainsFunc(e.ResourceIDs, func(r string) bool { return strings.HasPrefix(r, p) }) {
		return false
	}
	for _, term := range c.text {
		has := func(v string) bool { return containsLower(v, term) }
		if has(e.ID) || has(e.UserID) || has(e.Provider) || has(e.ActionType) || has(e.Category) ||
			has(e.Status) || has(e.RiskLevel) || slices.ContainsFunc(e.ResourceIDs, has) {
			continue
		}
		// The metadata's values, as they read unescaped: not its keys, and
		// not the JSON text, where `C:\Users` is `C:\\Users`.
		if len(e.Metadata) == 0 || !anyJSONValue(e.Metadata, has) {
			return false
		}
	}
	return true
}

// Matcher tells whether an event is one a filter selects, as List and
// exports select it (its public fields; states are never searched). An
// auditor's tool checks with it that a bundle holds only what its filter
// says.
type Matcher struct{ c *compiledFilter }

// NewMatcher compiles f (Cursor and Limit are ignored).
func NewMatcher(f Filter) (*Matcher, error) {
	c, err := compile(f)
	if err != nil {
		return nil, err
	}
	return &Matcher{c}, nil
}

// Match reports whether f selects e.
func (m *Matcher) Match(e *StoredEvent) bool { return m.c.matchEvent(e) }

// matchEvent matches a whole event (subscriptions and tests).
func (c *compiledFilter) matchEvent(e *StoredEvent) bool {
	if e.OrganizationID != c.f.Org {
		return false
	}
	ts := encBound(e.Timestamp)
	if ts < c.since || ts >= c.until {
		return false
	}
	s := summary{provider: e.Provider, status: e.Status, risk: e.RiskLevel, category: e.Category,
		actionType: e.ActionType, userID: e.UserID}
	return c.matchSummary(&s) && c.matchRecord(e)
}

// hash identifies the filter (without cursor and limit) in its cursors.
func (f Filter) hash() uint64 {
	h := sha256.New()
	str := func(s string) {
		var n [binary.MaxVarintLen64]byte
		h.Write(n[:binary.PutUvarint(n[:], uint64(len(s)))])
		h.Write([]byte(s))
	}
	list := func(vs []string) {
		vs = slices.Clone(vs)
		slices.Sort(vs)
		str(fmt.Sprint(len(vs)))
		for _, v := range vs {
			str(v)
		}
	}
	str(f.Org)
	str(f.Since.UTC().Format(time.RFC3339Nano))
	str(f.Until.UTC().Format(time.RFC3339Nano))
	for _, l := range [][]string{f.Categories, f.ActionTypes, f.Providers, f.UserIDs, f.Statuses, f.RiskLevels,
		f.NotCategories, f.NotActionTypes, f.NotProviders, f.NotUserIDs, f.NotStatuses, f.NotRiskLevels} {
		list(l)
	}
	str(f.ResourceID)
	str(f.ResourceIDPrefix)
	str(f.Text)
	str(fmt.Sprint(int(f.Order)))
	return binary.BigEndian.Uint64(h.Sum(nil))
}

// position is a place in a timeline.
type position struct{ ts, seq uint64 }

func (a position) less(b position) bool { return a.ts < b.ts || a.ts == b.ts && a.seq < b.seq }

// candidate is one index entry.
type candidate struct {
	pos position
	sum []byte
}

// source yields candidates in timeline order.
type source interface {
	next() (candidate, bool, error)
	close()
}

// indexSource iterates one key prefix whose keys end in ts || seq.
type indexSource struct {
	it      *badger.Iterator
	prefix  []byte
	stop    []byte // forward: stop at key ≥ stop; reverse: stop at key < stop
	reverse bool
	started bool
	seek    []byte
	// borrow: a candidate's summary is in a buffer the source reuses,
	// valid until the next call, not a copy of its own: for a source its
	// caller reads one candidate at a time (scan), not one a mergeSource
	// holds while it reads the next.
	borrow bool
	buf    []byte
}

func posKey(prefix []byte, p position) []byte {
	k := append(slices.Clip(prefix), make([]byte, 16)...)
	binary.BigEndian.PutUint64(k[len(prefix):], p.ts)
	binary.BigEndian.PutUint64(k[len(prefix)+8:], p.seq)
	return k
}

// newIndexSource iterates prefix over [from, to) forward, or from `from`
// (inclusive) down to `to` (inclusive) in reverse.
func newIndexSource(txn *badger.Txn, prefix []byte, reverse bool, from, to position) *indexSource {
	it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix, PrefetchValues: false, Reverse: reverse})
	return &indexSource{it: it, prefix: prefix, reverse: reverse, seek: posKey(prefix, from), stop: posKey(prefix, to)}
}

// checkIndexKey checks that index key k is prefix's and a timestamp and a
// seq (16 bytes) after it.
func checkIndexKey(k, prefix []byte) error {
	if len(k) != len(prefix)+16 {
		return fmt.Errorf("index key of %d bytes under a %d-byte prefix: %w", len(k), len(prefix), ErrTampered)
	}
	return nil
}

func (s *indexSource) next() (candidate, bool, error) {
	if !s.started {
		s.started = true
		s.it.Seek(s.seek)
	} else {
		s.it.Next()
	}
	if !s.it.Valid() {
		return candidate{}, false, nil
	}
	item := s.it.Item()
	k := item.Key()
	if err := checkIndexKey(k, s.prefix); err != nil {
		return candidate{}, false, err
	}
	if c := bytes.Compare(k, s.stop); !s.reverse && c >= 0 || s.reverse && c < 0 {
		return candidate{}, false, nil
	}
	var v []byte
	var err error
	if s.borrow {
		err = item.Value(func(b []byte) error { s.buf = append(s.buf[:0], b...); return nil })
		v = s.buf
	} else {
		v, err = item.ValueCopy(nil)
	}
	if err != nil {
		return candidate{}, false, fmt.Errorf("failed to read an index entry: %w", err)
	}
	n := len(s.prefix)
	return candidate{pos: position{binary.BigEndian.Uint64(k[n:]), binary.BigEndian.Uint64(k[n+8:])}, sum: v}, true, nil
}

func (s *indexSource) close() { s.it.Close() }

// mergeSource merges sources of one field's values (an OR).
type mergeSource struct {
	srcs    []source
	heads   []candidate
	ok      []bool
	reverse bool
	primed  bool
	last    position
	emitted bool
}

func (m *mergeSource) next() (candidate, bool, error) {
	if !m.primed {
		m.primed = true
		m.heads = make([]candidate, len(m.srcs))
		m.ok = make([]bool, len(m.srcs))
		for i, s := range m.srcs {
			var err error
			if m.heads[i], m.ok[i], err = s.next(); err != nil {
				return candidate{}, false, err
			}
		}
	}
	for {
		best := -1
		for i := range m.srcs {
			if !m.ok[i] {
				continue
			}
			if best < 0 || (!m.reverse && m.heads[i].pos.less(m.heads[best].pos)) || (m.reverse && m.heads[best].pos.less(m.heads[i].pos)) {
				best = i
			}
		}
		if best < 0 {
			return candidate{}, false, nil
		}
		c := m.heads[best]
		var err error
		if m.heads[best], m.ok[best], err = m.srcs[best].next(); err != nil {
			return candidate{}, false, err
		}
		if m.emitted && c.pos == m.last {
			continue // the same event under two values (resource ids)
		}
		m.emitted, m.last = true, c.pos
		return c, true, nil
	}
}

func (m *mergeSource) close() {
	for _, s := range m.srcs {
		s.close()
	}
}

// sliceSource yields collected candidates.
type sliceSource struct {
	items []candidate
	i     int
}

func (s *sliceSource) next() (candidate, bool, error) {
	if s.i >= len(s.items) {
		return candidate{}, false, nil
	}
	s.i++
	return s.items[s.i-1], true, nil
}
func (s *sliceSource) close() {}

// maxPrefixCandidates bounds the resourceIdPrefix index scan; past it the
// query walks the timeline instead.
const maxPrefixCandidates = 200_000

// plan picks the source that drives a query: the most selective index the
// filter allows, else the timeline.
func (s *Store) plan(txn *badger.Txn, c *compiledFilter, from, to position) (source, error) {
	org, rev := c.f.Org, c.f.Order == NewestFirst
	one := func(field byte, value string) source {
		return newIndexSource(txn, indexPrefix(org, field, value), rev, from, to)
	}
	many := func(field byte, values []string) source {
		if len(values) == 1 {
			return one(field, values[0])
		}
		vs := slices.Compact(slices.Sorted(slices.Values(values)))
		m := &mergeSource{reverse: rev}
		for _, v := range vs {
			m.srcs = append(m.srcs, one(field, v))
		}
		return m
	}
	f := c.f
	switch {
	case f.ResourceID != "":
		return one(fieldResourceID, f.ResourceID), nil
	case f.ResourceIDPrefix != "":
		if src, ok, err := s.prefixSource(txn, c, from, to); err != nil || ok {
			return src, err
		}
	}
	// Pick the most selective field by counting its entries, up to a small
	// cap, in the queried range; an unfiltered timeline is the fallback.
	type option struct {
		field  byte
		values []string
	}
	var opts []option
	cats := f.Categories
	if len(cats) == 0 && len(f.ActionTypes) > 0 {
		// A new slice: f.Categories' array is the caller's, which
		// FacetChoices' passes read at the same time.
		cats = make([]string, 0, len(f.ActionTypes))
		for _, a := range f.ActionTypes {
			cats = append(cats, s.categoryOf(a))
		}
	}
	for _, o := range []option{{fieldUserID, f.UserIDs}, {fieldCategory, cats}} {
		if len(o.values) > 0 {
			opts = append(opts, o)
		}
	}
	if len(opts) == 0 {
		return newIndexSource(txn, orgPrefix(tagTime, org), rev, from, to), nil
	}
	best, bestN := opts[0], -1
	if len(opts) > 1 {
		const probe = 2000
		for _, o := range opts {
			src := many(o.field, o.values)
			n := 0
			for ; n < probe; n++ {
				_, ok, err := src.next()
				if err != nil {
					src.close()
					return nil, err
				}
				if !ok {
					break
				}
			}
			src.close()
			if bestN < 0 || n < bestN {
				best, bestN = o, n
			}
		}
	}
	return many(best.field, best.values), nil
}

// prefixSource collects the resourceIdPrefix index entries in range; false
// when there are too many to sort in memory.
func (s *Store) prefixSource(txn *badger.Txn, c *compiledFilter, from, to position) (source, bool, error) {
	p := append(orgPrefix(tagIndex, c.f.Org), fieldResourceID)
	p = append(p, c.f.ResourceIDPrefix...)
	it := txn.NewIterator(badger.IteratorOptions{Prefix: p, PrefetchValues: false})
	defer it.Close()
	rev := c.f.Order == NewestFirst
	var items []candidate
	for it.Rewind(); it.Valid(); it.Next() {
		k := it.Item().Key()
		if len(k) < len(p)+17 {
			return nil, false, fmt.Errorf("resource index key too short: %w", ErrTampered)
		}
		pos := position{binary.BigEndian.Uint64(k[len(k)-16:]), binary.BigEndian.Uint64(k[len(k)-8:])}
		if !rev && (pos.less(from) || !pos.less(to)) || rev && (from.less(pos) || pos.less(to)) {
			continue
		}
		if len(items) == maxPrefixCandidates {
			return nil, false, nil
		}
		v, err := it.Item().ValueCopy(nil)
		if err != nil {
			return nil, false, fmt.Errorf("failed to read an index entry: %w", err)
		}
		items = append(items, candidate{pos: pos, sum: v})
	}
	slices.SortFunc(items, func(a, b candidate) int {
		if a.pos == b.pos {
			return 0
		}
		if a.pos.less(b.pos) != rev {
			return -1
		}
		return 1
	})
	items = slices.CompactFunc(items, func(a, b candidate) bool { return a.pos == b.pos })
	return &sliceSource{items: items}, true, nil
}

// bounds turns the filter's range and cursor into source bounds.
func (c *compiledFilter) bounds(cur *cursor) (from, to position) {
	if c.f.Order == OldestFirst {
		from, to = position{c.since, 0}, position{c.until, 0}
		if cur != nil && from.less(position{cur.ts, cur.seq + 1}) {
			from = position{cur.ts, cur.seq + 1}
		}
		return from, to
	}
	from, to = position{c.until, 0}, position{c.since, 0}
	if cur != nil && cur.seq > 0 && (position{cur.ts, cur.seq - 1}).less(from) {
		from = position{cur.ts, cur.seq - 1}
	}
	return from, to
}

// scan feeds fn every event matching c, in order, up to the seq ceiling. It
// fetches records only when fetch is true or the filter needs them.
func (s *Store) scan(txn *badger.Txn, c *compiledFilter, cur *cursor, ceiling uint64, fetch bool,
	fn func(pos position, sum *summary, e *StoredEvent) (more bool, err error)) error {
	from, to := c.bounds(cur)
	src, err := s.plan(txn, c, from, to)
	if err != nil {
		return err
	}
	defer src.close()
	if is, ok := src.(*indexSource); ok {
		is.borrow = true // each candidate is done with before the next
	}
	memo := summaryMemo{m: map[string]*summary{}}
	sketches := s.newSketchCheck(txn, c) // nil without text terms of three bytes or more
	for n := 0; ; n++ {
		// A scan over a large log takes a while: stop when the caller
		// has gone (checked every 4096 candidates, which costs nothing).
		if n&4095 == 4095 && c.ctx != nil {
			if err := c.ctx.Err(); err != nil {
				return err
			}
		}
		cand, ok, err := src.next()
		if err != nil || !ok {
			return err
		}
		if cand.pos.seq > ceiling {
			continue
		}
		sum, err := memo.get(cand.sum, c)
		if err != nil {
			return fmt.Errorf("index entry of seq %d: %w", cand.pos.seq, err)
		}
		if !sum.match {
			continue
		}
		var e *StoredEvent
		if fetch || c.needRecord {
			if !sketches.may(cand.pos.seq) {
				continue // no event of its block has every term
			}
			mode := statesPublic
			if fetch {
				mode = statesIfKeys
			}
			se, err := s.readRecord(txn, c.f.Org, cand.pos.seq, mode)
			if err != nil {
				return err
			}
			if !c.matchRecord(&se) {
				continue
			}
			e = &se
		}
		more, err := fn(cand.pos, sum, e)
		if err != nil || !more {
			return err
		}
	}
}

// summaryMemo decodes each distinct index summary of a scan once, and
// matches it against the filter once: a log's summaries repeat (three
// providers, statuses and risk levels, its categories, action types and
// users), so most index entries cost a map lookup instead of a decode, its
// strings and a match. A summary it hands out is shared by every entry
// with the same bytes, until the memo is full and starts again (a log with
// a user per event).
type summaryMemo struct {
	m map[string]*summary
}

// maxMemoSummaries bounds a scan's memo: about 1 MB of summaries, which a
// FacetChoices of five filtered fields, each pass in four parts, holds 24
// times at once. (A variable, so that tests can fill it.)
var maxMemoSummaries = 1 << 12

func (m *summaryMemo) get(b []byte, c *compiledFilter) (*summary, error) {
	if sum, ok := m.m[string(b)]; ok {
		return sum, nil
	}
	sum, err := decodeSummary(b)
	if err != nil {
		return nil, err
	}
	sum.match = c.matchSummary(&sum)
	if len(m.m) == maxMemoSummaries {
		clear(m.m)
	}
	m.m[string(b)] = &sum
	return &sum, nil
}

// orgHead reads org's head in txn; zero when the organization is empty.
func orgHead(txn *badger.Txn, org string) (head, error) {
	item, err := txn.Get(headKey(org))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return head{}, nil
	}
	if err != nil {
		return head{}, fmt.Errorf("failed to read the head of organization %q: %w", org, err)
	}
	var h head
	err = item.Value(func(v []byte) error { h, err = decodeHead(v); return err })
	return h, err
}

// List returns one page of org's timeline matching f. Pages are cut by
// (timestamp, seq) and the first page fixes the newest seq the following
// pages may show, so events appended meanwhile never shift or join a
// paging that has started.
func (s *Store) List(ctx context.Context, f Filter) (Page, error) {
	c, err := compile(f)
	if err != nil {
		return Page{}, err
	}
	c.ctx = ctx
	limit := f.Limit
	if limit <= 0 {
		limit = DefaultLimit
	}
	limit = min(limit, MaxLimit)
	var cur *cursor
	if f.Cursor != "" {
		cu, err := decodeCursor(f.Cursor)
		if err != nil {
			return Page{}, err
		}
		if cu.filter != f.hash() || cu.order != f.Order {
			return Page{}, fmt.Errorf("the cursor belongs to another filter: %w", ErrBadCursor)
		}
		cur = &cu
	}
	var page Page
	err = s.view(ctx, func(txn *badger.Txn) error {
		ceiling := uint64(math.MaxUint64)
		if cur != nil {
			ceiling = cur.ceiling
		} else {
			h, err := orgHead(txn, f.Org)
			if err != nil {
				return err
			}
			ceiling = h.seq
		}
		var last position
		err := s.scan(txn, c, cur, ceiling, true, func(pos position, _ *summary, e *StoredEvent) (bool, error) {
			if err := ctx.Err(); err != nil {
				return false, err
			}
			page.Events = append(page.Events, *e)
			last = pos
			return len(page.Events) < limit, nil
		})
		if err != nil {
			return err
		}
		if len(page.Events) == limit {
			page.NextCursor = cursor{order: f.Order, ts: last.ts, seq: last.seq, ceiling: ceiling, filter: f.hash()}.encode()
		}
		return nil
	})
	return page, err
}

// Facet names returned by Facets.
const (
	FacetCategory  = "category"
	FacetProvider  = "provider"
	FacetStatus    = "status"
	FacetRiskLevel = "riskLevel"
	FacetUserID    = "userId"
)

var facetOfField = map[byte]string{fieldCategory: FacetCategory, fieldProvider: FacetProvider,
	fieldStatus: FacetStatus, fieldRiskLevel: FacetRiskLevel, fieldUserID: FacetUserID}

// timeOnly reports whether f filters by time alone, so that the hourly
// counters can answer aggregates.
func (f Filter) timeOnly() bool {
	return len(f.Categories)+len(f.ActionTypes)+len(f.Providers)+len(f.UserIDs)+len(f.Statuses)+len(f.RiskLevels)+
		len(f.NotCategories)+len(f.NotActionTypes)+len(f.NotProviders)+len(f.NotUserIDs)+len(f.NotStatuses)+len(f.NotRiskLevels) == 0 &&
		f.ResourceID == "" && f.ResourceIDPrefix == "" && f.Text == ""
}

// aggregate feeds add the counts of the matching events' summary fields,
// by bucket: add(bucket, field, value, n) with bucket = bucketOf(the
// events' timestamp), which is negative for a timestamp to leave out. For
// time-only filters it reads the hourly counters for whole hours (an
// hour's bucket is that of its start) and scans only the partial hours at
// the ends, and the hours in split (sorted hour starts, in the encoding):
// a counter dated at its hour's start cannot tell which side of a bucket
// boundary inside the hour its events are on. Otherwise it scans the best
// index, in parts side by side (aggregateScan).
func (s *Store) aggregate(txn *badger.Txn, c *compiledFilter, useCounters bool, split []uint64, bucketOf func(ts uint64) int,
	add func(bucket int, field byte, value string, n int64)) error {
	c2 := *c
	c2.f.Order = OldestFirst
	if !useCounters || !c.f.timeOnly() {
		return s.aggregateScan(txn, &c2, bucketOf, add)
	}
	hourLo := hourOf(c.since)
	if hourLo < c.since {
		// The next hour, in the encoding (nanoseconds offset by 2^63),
		// saturating: a since past the encodable times leaves no hour.
		hourLo += uint64(time.Hour)
		if hourLo < uint64(time.Hour) {
			hourLo = math.MaxUint64
		}
	}
	if c.since == 0 {
		hourLo = 0
	}
	hourHi := c.until
	if c.until != math.MaxUint64 {
		hourHi = hourOf(c.until)
	}
	if hourLo >= hourHi {
		return s.aggregateScan(txn, &c2, bucketOf, add)
	}
	edges := newAggregator(bucketOf, add, nil)
	defer edges.flush()
	if c.since < hourLo {
		edge := c2
		edge.until = hourLo
		if err := s.scan(txn, &edge, nil, math.MaxUint64, false, edges.event); err != nil {
			return err
		}
	}
	if hourHi < c.until {
		edge := c2
		edge.since = hourHi
		if err := s.scan(txn, &edge, nil, math.MaxUint64, false, edges.event); err != nil {
			return err
		}
	}
	var cut []uint64 // the hours of split between hourLo and hourHi
	for _, h := range split {
		if h < hourLo || h >= hourHi || (len(cut) > 0 && cut[len(cut)-1] == h) {
			continue
		}
		cut = append(cut, h)
		edge := c2
		edge.since, edge.until = h, h+uint64(time.Hour)
		if err := s.scan(txn, &edge, nil, math.MaxUint64, false, edges.event); err != nil {
			return err
		}
	}
	hourly := func(hour uint64, field byte, value string, n int64) {
		if b := bucketOf(hour); b >= 0 {
			add(b, field, value, n)
		}
	}
	if err := scanHourCounters(txn, tagCounter, c.f.Org, hourLo, hourHi, cut, 1, hourly); err != nil {
		return err
	}
	// Less the events retention pruned (retention.go).
	return scanHourCounters(txn, tagPrunedCounter, c.f.Org, hourLo, hourHi, cut, -1, hourly)
}

// aggregator counts a scan's events per (bucket, summary), the summaries
// its memo shares (summaryMemo), and feeds add six fields per group, not
// per event.
type aggregator struct {
	bucketOf func(ts uint64) int
	add      func(bucket int, field byte, value string, n int64)
	mu       *sync.Mutex // held around add, when aggregators of one query feed it side by side
	groups   map[aggregateGroup]int64
}

type aggregateGroup struct {
	bucket int
	sum    *summary
}

// maxAggregateGroups bounds the groups an aggregator counts before it
// feeds them on (a log with a user per event has as many as events). (A
// variable, so that tests can fill it.)
var maxAggregateGroups = 1 << 13

func newAggregator(bucketOf func(ts uint64) int, add func(bucket int, field byte, value string, n int64), mu *sync.Mutex) *aggregator {
	return &aggregator{bucketOf: bucketOf, add: add, mu: mu, groups: map[aggregateGroup]int64{}}
}

// event is a scan's callback.
func (a *aggregator) event(pos position, sum *summary, _ *StoredEvent) (bool, error) {
	b := a.bucketOf(pos.ts)
	if b < 0 {
		return true, nil
	}
	a.groups[aggregateGroup{b, sum}]++
	if len(a.groups) == maxAggregateGroups {
		a.flush()
	}
	return true, nil
}

func (a *aggregator) flush() {
	if a.mu != nil {
		a.mu.Lock()
		defer a.mu.Unlock()
	}
	for g, n := range a.groups {
		a.add(g.bucket, fieldTotal, "", n)
		a.add(g.bucket, fieldCategory, g.sum.category, n)
		a.add(g.bucket, fieldProvider, g.sum.provider, n)
		a.add(g.bucket, fieldStatus, g.sum.status, n)
		a.add(g.bucket, fieldRiskLevel, g.sum.risk, n)
		a.add(g.bucket, fieldUserID, g.sum.userID, n)
	}
	clear(a.groups)
}

// scanParts is how many parts aggregateScan scans side by side: one per
// core, up to four. (A variable, so that tests can cut more parts.)
var scanParts = func() int { return min(runtime.GOMAXPROCS(0), 4) }

// minPartSpan is the least time one part of aggregateScan covers.
const minPartSpan = uint64(time.Minute)

// aggregateScan scans c's range for aggregate, one part per core: the
// range from the organization's first to its last event in it, cut into
// equal spans of time, each scanned by an iterator of its own on txn (a
// read-only Badger transaction serves iterators side by side) into an
// aggregator of its own. A scan of 90 days of a million events is mostly
// Badger's iteration (decrypting and reading blocks), which one core does
// at a time; a query's parts all read the same snapshot.
func (s *Store) aggregateScan(txn *badger.Txn, c *compiledFilter, bucketOf func(ts uint64) int,
	add func(bucket int, field byte, value string, n int64)) error {
	cuts := [][2]uint64{{c.since, c.until}}
	if parts := scanParts(); parts > 1 {
		lo, hi, found, err := eventSpan(txn, c)
		if err != nil || !found {
			return err
		}
		cuts = cutParts(c.since, c.until, lo, hi, parts)
	}
	if len(cuts) == 1 {
		a := newAggregator(bucketOf, add, nil)
		defer a.flush()
		return s.scan(txn, c, nil, math.MaxUint64, false, a.event)
	}
	// The first failure ends the other parts (scan asks c.ctx.Err).
	ctx := &partsCtx{Context: c.ctx}
	if ctx.Context == nil {
		ctx.Context = context.Background()
	}
	var mu sync.Mutex
	aggs := make([]*aggregator, len(cuts))
	err := ctx.run(len(cuts), func(i int) error {
		part := *c
		part.ctx = ctx
		part.since, part.until = cuts[i][0], cuts[i][1]
		aggs[i] = newAggregator(bucketOf, add, &mu)
		return s.scan(txn, &part, nil, math.MaxUint64, false, aggs[i].event)
	})
	if err != nil {
		return err
	}
	for _, a := range aggs {
		a.flush()
	}
	return nil
}

// cutParts cuts the range [since, until) whose events lie in [lo, hi) into
// up to parts ranges [since, until) of equal spans of [lo, hi), each at
// least minPartSpan long: the first starts at since and the last ends at
// until, so that together they are the range, each timestamp in one.
func cutParts(since, until, lo, hi uint64, parts int) [][2]uint64 {
	n := uint64(max(parts, 1))
	if hi > lo {
		n = min(n, (hi-lo)/minPartSpan)
	}
	if n < 2 {
		return [][2]uint64{{since, until}}
	}
	step := (hi - lo) / n
	cuts := make([][2]uint64, n)
	for i := range n {
		cuts[i] = [2]uint64{lo + i*step, lo + (i+1)*step}
	}
	cuts[0][0], cuts[n-1][1] = since, until
	return cuts
}

// partsCtx is the context of the parts of one query's scan: its Err is
// the first part's failure, or else the query's context's.
type partsCtx struct {
	context.Context
	failed atomic.Pointer[error]
}

func (c *partsCtx) Err() error {
	if err := c.failed.Load(); err != nil {
		return *err
	}
	return c.Context.Err()
}

// run runs part(0) to part(n-1), each in a goroutine of its own, and waits
// for them all. The first part to fail is the answer, and ends the others.
// A part that panics ends the others too, and its panic is raised again
// here, in the caller's goroutine, as a *PartPanic: the app's bindings and
// the REST API recover a call's panic, but one in a goroutine of its own
// ends the process.
func (c *partsCtx) run(n int, part func(i int) error) error {
	var wg sync.WaitGroup
	var panicked atomic.Pointer[any]
	for i := range n {
		wg.Go(func() {
			defer func() {
				if r := recover(); r != nil {
					var p any = &PartPanic{Value: r, Stack: debug.Stack()}
					panicked.CompareAndSwap(nil, &p)
					err := fmt.Errorf("a part of the scan panicked: %v", r)
					c.failed.CompareAndSwap(nil, &err)
				}
			}()
			if err := part(i); err != nil {
				c.failed.CompareAndSwap(nil, &err)
			}
		})
	}
	wg.Wait()
	if r := panicked.Load(); r != nil {
		panic(*r)
	}
	if err := c.failed.Load(); err != nil {
		return *err
	}
	return nil
}

// A PartPanic is the panic of a part of a query that scans in parts side
// by side, raised again in the query's goroutine: Value is what the part
// panicked with, and Stack the part's goroutine's stack where it did (the
// stack of the goroutine that raises it again says only where the query
// waited for its parts).
type PartPanic struct {
	Value any
	Stack []byte
}

func (p *PartPanic) String() string {
	return fmt.Sprintf("%v\n\ngoroutine of the part that panicked:\n%s", p.Value, p.Stack)
}

// eventSpan returns the timestamps of the organization's first and last
// events in c's range (by the timeline index), hi one past the last; false
// when there is none. A damaged key where it looks is an error, as it is
// to the scan (indexSource): taken for the end of the timeline, it would
// leave the range uncounted.
func eventSpan(txn *badger.Txn, c *compiledFilter) (lo, hi uint64, found bool, err error) {
	p := orgPrefix(tagTime, c.f.Org)
	edge := func(reverse bool, seek uint64) (uint64, bool, error) {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: p, PrefetchValues: false, Reverse: reverse})
		defer it.Close()
		k := binary.BigEndian.AppendUint64(slices.Clip(p), seek)
		if reverse {
			if seek == 0 {
				return 0, false, nil
			}
			// The last key before seek's first.
			k = binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64(slices.Clip(p), seek-1), math.MaxUint64)
		}
		it.Seek(k)
		if !it.Valid() {
			return 0, false, nil
		}
		if err := checkIndexKey(it.Item().Key(), p); err != nil {
			return 0, false, err
		}
		return binary.BigEndian.Uint64(it.Item().Key()[len(p):]), true, nil
	}
	lo, ok, err := edge(false, c.since)
	if err != nil || !ok {
		return 0, 0, false, err
	}
	last, ok, err := edge(true, c.until)
	if err != nil || !ok || last < lo {
		return 0, 0, false, err
	}
	return lo, last + 1, true, nil
}

// scanHourCounters feeds add the hourly counters of table tag (0x16 the
// appended events, 0x17 the pruned ones) for whole hours in [hourLo,
// hourHi) other than those in skip (sorted), each count multiplied by sign.
func scanHourCounters(txn *badger.Txn, tag byte, org string, hourLo, hourHi uint64, skip []uint64, sign int64,
	add func(ts uint64, field byte, value string, n int64)) error {
	p := orgPrefix(tag, org)
	it := txn.NewIterator(badger.IteratorOptions{Prefix: p, PrefetchValues: false})
	defer it.Close()
	stop := binary.BigEndian.AppendUint64(slices.Clip(p), hourHi)
	for it.Seek(binary.BigEndian.AppendUint64(slices.Clip(p), hourLo)); it.Valid(); it.Next() {
		k := it.Item().Key()
		if hourHi != math.MaxUint64 && bytes.Compare(k, stop) >= 0 {
			break
		}
		if len(k) < len(p)+9 {
			return fmt.Errorf("counter key (table 0x%02x) too short: %w", tag, ErrTampered)
		}
		hour, field := binary.BigEndian.Uint64(k[len(p):]), k[len(p)+8]
		if _, found := slices.BinarySearch(skip, hour); found {
			continue
		}
		if field == fieldPack && tag == tagCounter {
			if len(k) != len(p)+9 {
				return fmt.Errorf("counter pack key (table 0x%02x) has %d bytes: %w", tag, len(k), ErrTampered)
			}
			err := it.Item().Value(func(v []byte) error {
				return decodePack(v, func(f byte, value string, n uint64) { add(hour, f, value, sign*int64(n)) })
			})
			if err != nil {
				return fmt.Errorf("counter pack (table 0x%02x): %w: %w", tag, err, ErrTampered)
			}
			continue
		}
		var n uint64
		err := it.Item().Value(func(v []byte) error {
			if len(v) != 8 {
				return fmt.Errorf("counter value (table 0x%02x) has %d bytes: %w", tag, len(v), ErrTampered)
			}
			n = binary.BigEndian.Uint64(v)
			return nil
		})
		if err != nil {
			return err
		}
		add(hour, field, string(k[len(p)+9:]), sign*int64(n))
	}
	return nil
}

// Facets counts the events matching f (cursor, limit and order ignored) per
// category, provider, status, riskLevel and userId.
func (s *Store) Facets(ctx context.Context, f Filter) (map[string]map[string]int64, error) {
	c, err := compile(f)
	if err != nil {
		return nil, err
	}
	c.ctx = ctx
	var out map[string]map[string]int64
	err = s.view(ctx, func(txn *badger.Txn) error {
		out, err = s.facets(txn, c)
		return err
	})
	return out, err
}

// facets is Facets in txn.
func (s *Store) facets(txn *badger.Txn, c *compiledFilter) (map[string]map[string]int64, error) {
	out := newFacetCounts()
	err := s.aggregate(txn, c, true, nil, func(uint64) int { return 0 }, out.add)
	out.dropPruned()
	return out, err
}

// facetCounts are the counts per facet and value.
type facetCounts map[string]map[string]int64

func newFacetCounts() facetCounts {
	out := facetCounts{}
	for _, name := range facetOfField {
		out[name] = map[string]int64{}
	}
	return out
}

// add is an add of aggregate's: it counts the facet fields, in any bucket.
func (fc facetCounts) add(_ int, field byte, value string, n int64) {
	if name, ok := facetOfField[field]; ok {
		fc[name][value] += n
	}
}

// dropPruned deletes the values counted zero times: retention pruned every
// event of theirs.
func (fc facetCounts) dropPruned() {
	for _, m := range fc {
		for v, n := range m {
			if n == 0 {
				delete(m, v)
			}
		}
	}
}

// FacetChoices counts the events matching f per category, provider,
// status, riskLevel and userId, as Facets does, except that a field f
// filters (values filtered for or out) is counted without f's own filters
// on it: its counts are the choices a user has for that field, with the
// rest of the filter kept. So a sidebar filtered for provider aws still
// shows how many events gcp and azure have, and one value more can be
// added. A field f does not filter is counted under all of f. The counts
// of each filtered field take one more pass, run alongside the others, all
// on one snapshot of the log.
func (s *Store) FacetChoices(ctx context.Context, f Filter) (map[string]map[string]int64, error) {
	out, _, err := s.facetChoices(ctx, f, nil)
	return out, err
}

// Overview counts what a timeline shows beside its rows: FacetChoices(f)
// and Histogram(f, opts), on one snapshot of the log. Where the hourly
// counters do not answer f (it filters by more than time), one pass counts
// both the histogram and the facets of all of f: the histogram's range
// holds every event matching f. That is half the work of asking for each.
func (s *Store) Overview(ctx context.Context, f Filter, opts HistogramOptions) (map[string]map[string]int64, Histogram, error) {
	return s.facetChoices(ctx, f, &opts)
}

// facetChoices is FacetChoices, and the histogram hist asks for unless it
// is nil.
func (s *Store) facetChoices(ctx context.Context, f Filter, hist *HistogramOptions) (map[string]map[string]int64, Histogram, error) {
	type pass struct {
		facet string // "" for all of f
		f     Filter
		out   map[string]map[string]int64
	}
	passes := []*pass{{f: f}}
	for _, c := range []struct {
		facet     string
		only, not *[]string
	}{
		{FacetCategory, &f.Categories, &f.NotCategories},
		{FacetProvider, &f.Providers, &f.NotProviders},
		{FacetStatus, &f.Statuses, &f.NotStatuses},
		{FacetRiskLevel, &f.RiskLevels, &f.NotRiskLevels},
		{FacetUserID, &f.UserIDs, &f.NotUserIDs},
	} {
		if len(*c.only)+len(*c.not) == 0 {
			continue
		}
		only, not := *c.only, *c.not
		*c.only, *c.not = nil, nil
		passes = append(passes, &pass{facet: c.facet, f: f})
		*c.only, *c.not = only, not
	}
	// The histogram is counted in the pass of all of f, with its facets,
	// unless the hourly counters answer those (f filters by time alone):
	// then it has a pass of its own, the last.
	shared := hist != nil && !f.timeOnly()
	n := len(passes)
	if hist != nil && !shared {
		n++
	}
	// The passes read one snapshot, side by side (a read-only Badger
	// transaction serves iterators side by side); a pass that fails stops
	// the others, and its error is the answer.
	pctx := &partsCtx{Context: ctx}
	cs := make([]*compiledFilter, n)
	for i := range cs {
		pf := f // the histogram's own pass
		if i < len(passes) {
			pf = passes[i].f
		}
		c, err := compile(pf)
		if err != nil {
			return nil, Histogram{}, err
		}
		c.ctx = pctx
		cs[i] = c
	}
	var h Histogram
	err := s.view(ctx, func(txn *badger.Txn) error {
		return pctx.run(n, func(i int) (err error) {
			switch {
			case i == len(passes):
				h, err = s.histogram(txn, cs[i], *hist, nil)
			case i == 0 && shared:
				fc := newFacetCounts()
				h, err = s.histogram(txn, cs[i], *hist, fc.add)
				fc.dropPruned()
				passes[i].out = fc
			default:
				passes[i].out, err = s.facets(txn, cs[i])
			}
			return err
		})
	})
	if err != nil {
		return nil, Histogram{}, err
	}
	out := passes[0].out
	for _, p := range passes[1:] {
		out[p.facet] = p.out[p.facet]
	}
	return out, h, nil
}

// Bucket is one bar of a histogram: the events in [Start, End).
type Bucket struct {
	Start    time.Time        `json:"start"`
	End      time.Time        `json:"end"`
	Count    int64            `json:"count"`
	ByRisk   map[string]int64 `json:"byRisk"`
	ByStatus map[string]int64 `json:"byStatus"`
}

// A Histogram is the count of the events matching a filter per time bucket.
type Histogram struct {
	// Step is the buckets' length on the wall clock of the histogram's
	// location: a day's bucket is 23 or 25 hours long across a
	// daylight-saving change there.
	Step    time.Duration
	Buckets []Bucket
}

// HistogramOptions say how Histogram buckets its counts. The zero value
// means at most 60 buckets, on UTC's clock.
type HistogramOptions struct {
	// Buckets is how many buckets are wanted at most (default 60).
	Buckets int
	// Location is the time zone whose clock the buckets follow (default
	// UTC): a bucket of a day starts at midnight there and one of an hour
	// on a whole hour, so that in Asia/Kolkata (UTC+5:30) a day's bucket
	// is that day's, not the one from 05:30 to 05:30.
	Location *time.Location
}

// bucketSizes are the histogram steps, smallest first.
var bucketSizes = []time.Duration{time.Minute, 5 * time.Minute, 15 * time.Minute, time.Hour, 6 * time.Hour,
	12 * time.Hour, 24 * time.Hour, 7 * 24 * time.Hour, 30 * 24 * time.Hour, 91 * 24 * time.Hour, 365 * 24 * time.Hour}

// Histogram counts the events matching f per time bucket, with at most
// opts.Buckets buckets of the smallest step among 1m, 5m, 15m, 1h, 6h,
// 12h, 1d, 7d, 30d, 91d, 365d that fits (a range too long for that many
// steps of 365 days gets more). Buckets start where the clock of
// opts.Location reads a multiple of their step since 0001-01-01 00:00:
// at midnight for days (weeks on Mondays), on the hour for hours. An open
// Since starts at the oldest matching event, an open Until just after the
// newest one or at the store's clock, whichever is later; a Since before
// MinTimestamp starts there, since no event is older. Empty buckets are
// included.
//
// Hourly counters answer whole UTC hours; an hour that a bucket boundary
// cuts (in a zone whose offset is not whole hours) is counted event by
// event.
func (s *Store) Histogram(ctx context.Context, f Filter, opts HistogramOptions) (Histogram, error) {
	c, err := compile(f)
	if err != nil {
		return Histogram{}, err
	}
	c.ctx = ctx
	var out Histogram
	err = s.view(ctx, func(txn *badger.Txn) error {
		out, err = s.histogram(txn, c, opts, nil)
		return err
	})
	return out, err
}

// histogram is Histogram in txn. When also is not nil, it is fed every
// count of the events the histogram counts (add's, of aggregate): all the
// events matching c, since its range covers them, so that their facets
// are counted in the same pass.
func (s *Store) histogram(txn *badger.Txn, c *compiledFilter, opts HistogramOptions,
	also func(bucket int, field byte, value string, n int64)) (Histogram, error) {
	f := c.f
	buckets, loc := opts.Buckets, opts.Location
	if buckets <= 0 {
		buckets = 60
	}
	if loc == nil {
		loc = time.UTC
	}
	// The oldest or newest matching event, if any.
	edge := func(order Order) (time.Time, bool, error) {
		cf := *c
		cf.f.Order = order
		var t time.Time
		found := false
		err := s.scan(txn, &cf, nil, math.MaxUint64, false, func(pos position, _ *summary, _ *StoredEvent) (bool, error) {
			t, found = decTime(pos.ts), true
			return false, nil
		})
		return t, found, err
	}
	since, until := f.Since, f.Until
	if until.IsZero() || until.After(maxEncTime) {
		// Events may be dated up to MaxFutureSkew ahead of the clock.
		until = s.opts.Now()
		newest, found, err := edge(NewestFirst)
		if err != nil {
			return Histogram{}, err
		}
		if found && !newest.Before(until) {
			until = newest.Add(time.Nanosecond)
		}
	}
	if since.IsZero() {
		oldest, found, err := edge(OldestFirst)
		if err != nil || !found {
			return Histogram{}, err
		}
		since = oldest
	}
	if since.Before(MinTimestamp) {
		since = MinTimestamp
	}
	if !since.Before(until) {
		return Histogram{}, nil
	}
	var out Histogram
	step := bucketSizes[len(bucketSizes)-1]
	for _, b := range bucketSizes {
		if until.Sub(since)/b < time.Duration(buckets) {
			step = b
			break
		}
	}
	out.Step = step
	edges := bucketEdges(since, until, step, loc)
	out.Buckets = make([]Bucket, len(edges)-1)
	enc := make([]uint64, len(edges))
	var split []uint64
	for i, e := range edges {
		enc[i] = encBound(e)
		if i < len(out.Buckets) {
			out.Buckets[i] = Bucket{Start: e, End: edges[i+1], ByRisk: map[string]int64{}, ByStatus: map[string]int64{}}
		}
		// An edge inside a UTC hour (every midnight in Asia/Kolkata)
		// divides that hour's counts between two buckets.
		if i > 0 && i < len(out.Buckets) && hourOf(enc[i]) != enc[i] {
			split = append(split, hourOf(enc[i]))
		}
	}
	cc := *c
	cc.since, cc.until = encTime(since), encTime(until)
	// Hourly counters only answer buckets of whole hours.
	bucketOf := func(ts uint64) int { return bucketIndex(enc, ts) }
	err := s.aggregate(txn, &cc, step >= time.Hour, split, bucketOf, func(i int, field byte, value string, n int64) {
		switch field {
		case fieldTotal:
			out.Buckets[i].Count += n
		case fieldRiskLevel:
			out.Buckets[i].ByRisk[value] += n
		case fieldStatus:
			out.Buckets[i].ByStatus[value] += n
		}
		if also != nil {
			also(i, field, value, n)
		}
	})
	return out, err
}

// bucketEdges returns the starts of the buckets of step that cover [since,
// until), then the end of the last: the instants at which the clock of loc
// reads a multiple of step since 0001-01-01 00:00. A time that a
// daylight-saving change skips or repeats is an edge once at most, so no
// bucket is empty of time.
func bucketEdges(since, until time.Time, step time.Duration, loc *time.Location) []time.Time {
	// A wall-clock reading in loc, held as the UTC time that reads the same,
	// so that adding a step adds it to the clock.
	wall := func(t time.Time) time.Time {
		t = t.In(loc)
		y, m, d := t.Date()
		hour, minute, sec := t.Clock()
		return time.Date(y, m, d, hour, minute, sec, t.Nanosecond(), time.UTC)
	}
	at := func(w time.Time) time.Time {
		return time.Date(w.Year(), w.Month(), w.Day(), w.Hour(), w.Minute(), w.Second(), w.Nanosecond(), loc).UTC()
	}
	w := wall(since).Truncate(step)
	first := at(w)
	for first.After(since) { // a clock reading that loc skips, resolved to a later time
		w = w.Add(-step)
		first = at(w)
	}
	edges := []time.Time{first}
	for last := first; last.Before(until); {
		w = w.Add(step)
		if e := at(w); e.After(last) {
			edges = append(edges, e)
			last = e
		}
	}
	return edges
}

// bucketIndex returns the index of the bucket whose [start, end) in edges
// (their starts, then the last one's end, in the encoding) holds ts; -1
// when none does.
func bucketIndex(edges []uint64, ts uint64) int {
	i, found := slices.BinarySearch(edges, ts)
	if !found {
		i--
	}
	if i < 0 || i >= len(edges)-1 {
		return -1
	}
	return i
}
