package storage

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"strconv"
	"time"
	"unicode/utf8"
	"unsafe"

	badger "github.com/dgraph-io/badger/v4"

	"github.com/axiomops/axiom-audit/storage/tlog"
)

// ScanRecords calls fn with every event of f.Org matching f whose seq is at
// most maxSeq, in log order (seq ascending; descending when f.Order is
// NewestFirst), its states decrypted as List does when decryptStates is
// set (an export that withholds them leaves them sealed). It reads in one transaction,
// iterating the records themselves: the fast path of exports, which read
// everything a filter selects, not a page. Limit and Cursor are ignored.
// The event passed to fn is valid only during the call; fn is called on
// the caller's goroutine, one event at a time. Memory does not grow with
// the number of events.
//
// Two stages overlap: a goroutine iterates and reads the values (which
// Badger decrypts) in batches, while the caller's goroutine decodes them
// and calls fn. One goroutine doing both was what limited an export.
func (s *Store) ScanRecords(ctx context.Context, f Filter, maxSeq uint64, decryptStates bool, fn func(*StoredEvent) error) error {
	return s.ScanRecordsAndPruned(ctx, f, maxSeq, decryptStates, fn, nil)
}

// PrunedEvent is what is left of an event retention pruned (its
// tombstone): enough to say which events of a time range are gone, and
// under which rule.
type PrunedEvent struct {
	Seq                  uint64
	ID                   string
	Timestamp            time.Time
	ActionType, Category string
	Policy               string // the rule's name, e.g. "operational 90 days (v2)"
	PolicyVersion        uint32
	WindowDays           uint32
	PrunedAt, RecordedAt time.Time
}

// ScanRecordsAndPruned is ScanRecords that also calls pruned (when not nil)
// with every event of the scan retention pruned that f may have matched:
// its timestamp in f's range and its category and action type allowed by
// f. A pruned event's other fields are gone; PrunedMatchIsExact says
// whether f looks at any of them. Both callbacks run on the caller's
// goroutine, in log order.
func (s *Store) ScanRecordsAndPruned(ctx context.Context, f Filter, maxSeq uint64, decryptStates bool,
	fn func(*StoredEvent) error, pruned func(*PrunedEvent) error) error {
	c, err := compile(f)
	if err != nil {
		return err
	}
	return s.view(ctx, func(txn *badger.Txn) error {
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		// Three batches circulate: one being read, one being decoded and
		// one in between.
		full, free := make(chan *scanBatch, 1), make(chan *scanBatch, 3)
		for range 3 {
			free <- &scanBatch{}
		}
		var readErr error
		read := make(chan struct{})
		go func() {
			defer close(read)
			defer close(full)
			readErr = s.readRecords(ctx, txn, f, maxSeq, full, free)
		}()
		var err error
		var e StoredEvent // passed to fn, valid only during the call
		for b := range full {
			if err == nil {
				// The reader may have sent everything before it saw a
				// cancellation; the caller's must still end the scan.
				err = ctx.Err()
			}
			for i := 0; i < len(b.recs) && err == nil; i++ {
				err = s.decodeScanned(b, i, f.Org, decryptStates, c, &e, fn, pruned)
			}
			if err != nil {
				cancel() // the reader stops; the loop drains what it sent
			}
			b.recs, b.buf = b.recs[:0], b.buf[:0]
			free <- b
		}
		<-read
		if err != nil {
			return err
		}
		return readErr
	})
}

// scanBatch is a batch of record values read by ScanRecords' reader:
// recs[i] is the seq of a record and the end of its value in buf.
type scanBatch struct {
	recs []struct{ seq, end uint64 }
	buf  []byte
}

// scanBatchSize is how many records the reader hands over at a time.
const scanBatchSize = 256

// readRecords iterates f.Org's records up to maxSeq in f's order, copying
// each value into a batch from free and sending full batches to full.
func (s *Store) readRecords(ctx context.Context, txn *badger.Txn, f Filter, maxSeq uint64, full, free chan *scanBatch) error {
	prefix := orgPrefix(tagRecord, f.Org)
	rev := f.Order == NewestFirst
	it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix, PrefetchValues: false, Reverse: rev})
	defer it.Close()
	seek := recordKey(f.Org, 0)
	if rev {
		seek = recordKey(f.Org, maxSeq)
	}
	var b *scanBatch
	take := func() error {
		select {
		case b = <-free:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	send := func() error {
		select {
		case full <- b:
			b = nil
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if err := take(); err != nil {
		return err
	}
	for it.Seek(seek); it.Valid(); it.Next() {
		k := it.Item().Key()
		if len(k) != len(prefix)+8 {
			return fmt.Errorf("record key of %d bytes under a %d-byte prefix: %w", len(k), len(prefix), ErrTampered)
		}
		seq := binary.BigEndian.Uint64(k[len(prefix):])
		if seq > maxSeq {
			if rev {
				continue
			}
			break
		}
		s.readMapped(int(it.Item().ValueSize()))
		err := it.Item().Value(func(v []byte) error {
			b.buf = append(b.buf, v...)
			return nil
		})
		if err != nil {
			return err
		}
		b.recs = append(b.recs, struct{ seq, end uint64 }{seq, uint64(len(b.buf))})
		if len(b.recs) == scanBatchSize {
			if err := send(); err != nil {
				return err
			}
			if err := take(); err != nil {
				return err
			}
		}
	}
	if len(b.recs) > 0 {
		return send()
	}
	return nil
}

// decodeScanned decodes the i-th record of b and calls fn with it when it
// matches c (a record retention pruned is skipped: exports carry what
// remains).
func (s *Store) decodeScanned(b *scanBatch, i int, org string, decryptStates bool, c *compiledFilter, e *StoredEvent,
	fn func(*StoredEvent) error, pruned func(*PrunedEvent) error) error {
	var start uint64
	if i > 0 {
		start = b.recs[i-1].end
	}
	v, seq := b.buf[start:b.recs[i].end], b.recs[i].seq
	if isTombstone(v) {
		if pruned == nil {
			return nil
		}
		t, err := decodeTombstone(v)
		if err != nil {
			return fmt.Errorf("tombstone of seq %d of organization %q: %w: %w", seq, org, err, ErrTampered)
		}
		if t.seq != seq {
			return fmt.Errorf("the tombstone under seq %d of organization %q says seq %d: %w", seq, org, t.seq, ErrTampered)
		}
		if !c.matchPruned(&t) {
			return nil
		}
		return pruned(&PrunedEvent{Seq: t.seq, ID: t.id, Timestamp: time.Unix(0, t.timestamp).UTC(),
			ActionType: t.actionType, Category: t.category, Policy: t.policy, PolicyVersion: t.policyVersion,
			WindowDays: t.windowDays, PrunedAt: time.Unix(0, t.prunedAt).UTC(), RecordedAt: time.Unix(0, t.recordedAt).UTC()})
	}
	ok := false
	if !decryptStates {
		*e, ok = decodeStoredFast(v, org, seq)
	}
	if !ok {
		var err error
		mode := statesPublic
		if decryptStates {
			mode = statesAll
		}
		if *e, err = s.decodeStored(v, org, seq, mode); err != nil {
			return err
		}
	}
	if !c.matchEvent(e) {
		return nil
	}
	return fn(e)
}

// TreeNodes returns a reader of org's stored Merkle tree nodes, so that a
// caller proving many events (an export) can build the proofs with
// tlog.InclusionProof and share nodes between them. Each GetNodes call
// reads in its own transaction.
func (s *Store) TreeNodes(org string) tlog.NodeReader { return treeNodes{s, org} }

type treeNodes struct {
	s   *Store
	org string
}

func (t treeNodes) GetNodes(ctx context.Context, ids []tlog.NodeID) ([][]byte, error) {
	var out [][]byte
	err := t.s.view(ctx, func(txn *badger.Txn) error {
		var err error
		out, err = t.s.nodes(txn, t.org).GetNodes(ctx, ids)
		return err
	})
	return out, err
}

// decodeStoredFast is decodeStored without decryption for a public record
// in the exact form the store writes (RFC 8785: members in key order, no
// whitespace) with no escaped string: most records. It reports false for
// anything else, and the caller uses decodeStored, so both accept the same
// records with the same result (FuzzDecodePublicFast).
func decodeStoredFast(v []byte, org string, seq uint64) (StoredEvent, bool) {
	rv, err := decodeRecordValue(v)
	if err != nil {
		return StoredEvent{}, false
	}
	return storedFast(rv, org, seq)
}

// storedFast is decodeStoredFast of a decoded record value.
func storedFast(rv recordValue, org string, seq uint64) (StoredEvent, bool) {
	// One copy of the public record is the event's Public, and its string
	// fields and metadata are views of it, instead of a copy each.
	pub := append([]byte(nil), rv.public...)
	p, ok, _ := decodePublicView(pub, nil)
	if !ok || p.Seq != seq || p.OrganizationID != org {
		return StoredEvent{}, false
	}
	se := p.stored(rv, pub)
	if se.Timestamp, ok = parseRecordTime(p.Timestamp); !ok {
		return StoredEvent{}, false
	}
	if se.RecordedAt, ok = parseRecordTime(p.RecordedAt); !ok {
		return StoredEvent{}, false
	}
	return se, true
}

// decodePublicFast parses a public record in canonical form without
// escapes; false means "use decodePublic". The result's strings are views
// of one copy of b.
func decodePublicFast(b []byte) (publicRecord, bool) {
	p, ok, _ := decodePublicView(bytes.Clone(b), nil)
	return p, ok
}

// decodePublicView is decodePublicFast without the copy: the strings and
// the metadata of the result share b's memory (valid only while b is:
// Verify reads records in place), and resourceIds are appended to res[:0]
// (to a new slice when res is nil). metaCanonical reports that the
// metadata, if any, is known to be in canonical form (canonicalSimple was
// sure of it).
func decodePublicView(b []byte, res []string) (p publicRecord, ok, metaCanonical bool) {
	metaCanonical = true
	if len(b) < 2 || b[0] != '{' || b[len(b)-1] != '}' {
		return p, false, false
	}
	i := 1
	// str reads the string at i, as a view of b.
	str := func() (string, bool) {
		j, ok := plainString(b, i)
		if !ok {
			return "", false
		}
		s := b[i+1 : j-1]
		i = j
		return unsafe.String(unsafe.SliceData(s), len(s)), true
	}
	var last string
	var seenID, seenSeq, seenRes bool
	for first := true; ; first = false {
		if i >= len(b) {
			return p, false, false
		}
		if b[i] == '}' && i == len(b)-1 {
			break
		}
		if !first {
			if b[i] != ',' {
				return p, false, false
			}
			i++
		}
		key, ok := str()
		if !ok || i >= len(b) || b[i] != ':' || (!first && key <= last) {
			return p, false, false
		}
		last = key
		switch key {
		case "id":
			seenID = true
		case "seq":
			seenSeq = true
		case "resourceIds":
			seenRes = true
		}
		i++
		var dst *string
		switch key {
		case "actionType":
			dst = &p.ActionType
		case "afterStateCommitment":
			dst = &p.AfterStateCommitment
		case "beforeStateCommitment":
			dst = &p.BeforeStateCommitment
		case "category":
			dst = &p.Category
		case "id":
			dst = &p.ID
		case "organizationId":
			dst = &p.OrganizationID
		case "prevHash":
			dst = &p.PrevHash
		case "provider":
			dst = &p.Provider
		case "recordedAt":
			dst = &p.RecordedAt
		case "riskLevel":
			dst = &p.RiskLevel
		case "status":
			dst = &p.Status
		case "timestamp":
			dst = &p.Timestamp
		case "userId":
			dst = &p.UserID
		case "formatVersion", "seq":
			j := i
			for j < len(b) && b[j] >= '0' && b[j] <= '9' {
				j++
			}
			if j == i || (b[i] == '0' && j-i > 1) {
				return p, false, false
			}
			n, err := strconv.ParseUint(string(b[i:j]), 10, 64)
			if err != nil {
				return p, false, false
			}
			if key == "seq" {
				p.Seq = n
			} else if n > 1<<31 {
				return p, false, false
			} else {
				p.FormatVersion = int(n)
			}
			i = j
			continue
		case "resourceIds":
			if i >= len(b) || b[i] != '[' {
				return p, false, false
			}
			i++
			if res != nil {
				p.ResourceIDs = res[:0]
			} else {
				p.ResourceIDs = []string{}
			}
			for k := 0; ; k++ {
				if i < len(b) && b[i] == ']' {
					i++
					break
				}
				if k > 0 {
					if i >= len(b) || b[i] != ',' {
						return p, false, false
					}
					i++
				}
				s, ok := str()
				if !ok {
					return p, false, false
				}
				p.ResourceIDs = append(p.ResourceIDs, s)
			}
			continue
		case "metadata":
			// An object: the common, canonical kind is checked and
			// delimited in one pass (simpleValue); otherwise find its end,
			// skipping strings, and check it with json.Valid.
			if i >= len(b) || b[i] != '{' {
				return p, false, false
			}
			if end, sure := simpleValue(b, i, 0); sure {
				p.Metadata = b[i:end:end]
				i = end
				continue
			}
			metaCanonical = false
			depth, j := 0, i
			for ; j < len(b); j++ {
				switch b[j] {
				case '"':
					for j++; j < len(b) && b[j] != '"'; j++ {
						if b[j] == '\\' {
							j++
						}
					}
				case '{', '[':
					depth++
				case '}', ']':
					depth--
				}
				if depth == 0 {
					break
				}
			}
			if j >= len(b) || !json.Valid(b[i:j+1]) {
				return p, false, false
			}
			p.Metadata = b[i : j+1 : j+1]
			i = j + 1
			continue
		default:
			return p, false, false
		}
		if *dst, ok = str(); !ok {
			return p, false, false
		}
	}
	if p.FormatVersion != FormatVersion || !seenID || !seenSeq || !seenRes {
		return p, false, false
	}
	return p, true, metaCanonical
}

// canonicalSimple reports whether b is a JSON value in RFC 8785 canonical
// form, for the common case only: objects whose keys are ASCII, arrays,
// strings without escapes, integers of at most 15 digits, true, false and
// null, no whitespace. sure is false when b falls outside that case (or is
// not JSON at all); then canonicalJSON must decide. When sure, b is valid
// JSON and canonical is exact.
func canonicalSimple(b []byte) (canonical, sure bool) {
	i, ok := simpleValue(b, 0, 0)
	return ok && i == len(b), ok && i == len(b)
}

// IsPlainCanonicalJSON reports that b is, for sure, a JSON value in RFC
// 8785 canonical form of the common kind canonicalSimple knows (no
// whitespace, strings without escapes, small integers, ASCII keys in
// order): then it is valid and compact, and json.Compact would write it
// unchanged. false means "not sure". The store's metadata is of this kind,
// so an encoder can copy it instead of compacting it again.
func IsPlainCanonicalJSON(b []byte) bool {
	_, sure := canonicalSimple(b)
	return sure
}

// simpleValue checks the value at b[i:] and returns where it ends; false
// means "not sure".
func simpleValue(b []byte, i, depth int) (int, bool) {
	if i >= len(b) || depth > 64 {
		return i, false
	}
	switch c := b[i]; {
	case c == '{':
		i++
		if i < len(b) && b[i] == '}' {
			return i + 1, true
		}
		var last []byte
		for first := true; ; first = false {
			if !first {
				if i >= len(b) || b[i] != ',' {
					return i, false
				}
				i++
			}
			start := i
			end, ok := simpleString(b, i)
			if !ok {
				return i, false
			}
			key := b[start+1 : end-1]
			for _, k := range key {
				if k >= 0x80 {
					return i, false // UTF-16 order is not byte order beyond ASCII
				}
			}
			if !first && string(key) <= string(last) {
				return i, false
			}
			last = key
			i = end
			if i >= len(b) || b[i] != ':' {
				return i, false
			}
			if i, ok = simpleValue(b, i+1, depth+1); !ok {
				return i, false
			}
			if i < len(b) && b[i] == '}' {
				return i + 1, true
			}
		}
	case c == '[':
		i++
		if i < len(b) && b[i] == ']' {
			return i + 1, true
		}
		for {
			var ok bool
			if i, ok = simpleValue(b, i, depth+1); !ok {
				return i, false
			}
			if i >= len(b) {
				return i, false
			}
			if b[i] == ']' {
				return i + 1, true
			}
			if b[i] != ',' {
				return i, false
			}
			i++
		}
	case c == '"':
		return simpleString(b, i)
	case c == '-' || c >= '0' && c <= '9':
		j := i
		if c == '-' {
			j++
		}
		d := j
		for j < len(b) && b[j] >= '0' && b[j] <= '9' {
			j++
		}
		n := j - d
		// No fraction or exponent, no leading zero, no -0, and exact in a
		// double (JCS writes numbers as ECMAScript does).
		if n == 0 || n > 15 || (b[d] == '0' && (n > 1 || c == '-')) {
			return i, false
		}
		if j < len(b) && (b[j] == '.' || b[j] == 'e' || b[j] == 'E') {
			return i, false
		}
		return j, true
	}
	for _, lit := range []string{"true", "false", "null"} {
		if len(b)-i >= len(lit) && string(b[i:i+len(lit)]) == lit {
			return i + len(lit), true
		}
	}
	return i, false
}

// simpleString checks a string without escapes or control characters at
// b[i:] and returns the index after its closing quote.
func simpleString(b []byte, i int) (int, bool) { return plainString(b, i) }

// plainString checks the JSON string that starts at b[i]: it has no escapes
// and no control characters and is valid UTF-8. It returns the index after
// the closing quote; false (and i) when the string is not of that kind or
// does not end. Eight bytes at a time: a word with none of '"', '\\' or a
// byte below 0x20 is skipped whole, its high bits noted for the UTF-8 check.
func plainString(b []byte, i int) (int, bool) {
	if i >= len(b) || b[i] != '"' {
		return i, false
	}
	const lo, hi = 0x0101010101010101, 0x8080808080808080
	j, high := i+1, uint64(0)
	for ; j+8 <= len(b); j += 8 {
		w := binary.LittleEndian.Uint64(b[j:])
		q, e := w^(lo*'"'), w^(lo*'\\')
		// Has a zero byte (haszero), twice, and a byte below 0x20
		// (hasless): exact about whether there is one, not where.
		if ((q-lo)&^q|(e-lo)&^e|(w-lo*0x20)&^w)&hi != 0 {
			break
		}
		high |= w
	}
	for ; j < len(b) && b[j] != '"'; j++ {
		c := b[j]
		if c < 0x20 || c == '\\' {
			return i, false
		}
		high |= uint64(c)
	}
	if j >= len(b) {
		return i, false
	}
	if high&hi != 0 && !utf8.Valid(b[i+1:j]) {
		return i, false
	}
	return j + 1, true
}
