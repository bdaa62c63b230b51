package storage

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	badger "github.com/dgraph-io/badger/v4"
)

// Text sketches.
//
// A free-text search (Filter.Text) looks at what no index holds, so a scan
// reads the record of every event its other conditions leave: a term that
// one event of 90 days has took 15–30 s over a million events. A sketch
// tells, for a block of sketchBlock consecutive seqs of one organization,
// whether a term can be in any of its events: it is a Bloom filter of the
// 3- and 5-byte windows (grams) of the text a search looks at, lower-cased
// as the search does (matchRecord: id, userId, provider, actionType,
// category, status, riskLevel, resourceIds and the metadata's values). A
// term with a gram the sketch lacks is in none of the block's events, and
// the scan reads none of their records. Terms of five bytes or more are
// looked up by their 5-grams: identifiers (hex, digits) have every trigram
// in a block of thousands, but few of their 5-grams. A term shorter than
// three bytes, a block without a sketch (the newest, not yet complete, or
// not built yet) and a sketch that cannot be read are read record by
// record as before. So a sketch can only spare reads, never leave an event
// out.
//
// Sketches are derived data, outside the integrity layer: built from the
// records of complete blocks (whose events never change; retention only
// removes some, which leaves a sketch true of the rest) by a background
// loop once appends pause (KeepTextSketches, which the desktop app and
// serve start: a one-shot command would build them at the expense of its
// own work), never on the append path. A database written before them
// gets them the same way.
//
// Key: tagSketch || org || 0x00 || block (big-endian uint64), block =
// (seq-1) / sketchBlock. Value: sketchV || log2(m) || m bits, m a power of
// two; each gram sets two bits (sketchBits).
const (
	tagSketch byte = 0x18
	sketchV   byte = 0x01
)

// sketchBlock is how many seqs one sketch covers. (A variable, so that
// tests can make small blocks; a database's blocks are this size.)
var sketchBlock uint64 = 4096

// The bounds of a sketch's size in bits: 8 bits per distinct gram (two
// set: a few percent false positives per gram, far fewer for a term of
// several), at least 4 Kib and at most 16 Mib (2 MiB, for blocks of events
// with megabytes of text each, where a sketch says less).
const (
	minSketchLog2 = 12
	maxSketchLog2 = 24
)

func sketchKey(org string, block uint64) []byte {
	return binary.BigEndian.AppendUint64(orgPrefix(tagSketch, org), block)
}

func sketchBlockOf(seq uint64) uint64 { return (seq - 1) / sketchBlock }

// gram packs the n (3 or 5) bytes of s at i, and n.
func gram(s string, i, n int) uint64 {
	g := uint64(n) << 56
	for _, c := range []byte(s[i : i+n]) {
		g = g<<8 | uint64(c)
	}
	return g
}

// sketchBits returns the two bits of a sketch of 2^log2m bits that gram g
// sets.
func sketchBits(g uint64, log2m uint8) (uint64, uint64) {
	h := g * 0x9E3779B97F4A7C15
	h ^= h >> 29
	h1 := h * 0xBF58476D1CE4E5B9
	h2 := (h ^ h>>32) * 0x94D049BB133111EB
	return h1 >> (64 - log2m), h2 >> (64 - log2m)
}

// lowerForSearch is v as containsLower compares it with a term: lower-cased
// by strings.ToLower (for ASCII, byte by byte).
func lowerForSearch(v string) string {
	for i := 0; i < len(v); i++ {
		if c := v[i]; c >= utf8.RuneSelf || 'A' <= c && c <= 'Z' {
			return strings.ToLower(v)
		}
	}
	return v
}

// termGrams returns the grams each search term (TextTerms, lower case)
// must have in a sketch: its 5-grams, or for a term of three or four bytes
// its trigrams. A term shorter than three bytes has none, and no sketch
// rules it out.
func termGrams(terms []string) [][]uint64 {
	var out [][]uint64
	for _, t := range terms {
		n := 5
		if len(t) < 5 {
			n = 3
		}
		if len(t) < n {
			continue
		}
		g := make([]uint64, 0, len(t)-n+1)
		for i := 0; i+n <= len(t); i++ {
			g = append(g, gram(t, i, n))
		}
		slices.Sort(g)
		out = append(out, slices.Compact(g))
	}
	return out
}

// sketchMay reports whether a block whose sketch is v can hold an event
// with every term of grams (termGrams); an error when v is not a sketch.
func sketchMay(v []byte, grams [][]uint64) (bool, error) {
	if len(v) < 2 || v[0] != sketchV || v[1] < minSketchLog2 || v[1] > maxSketchLog2 || len(v) != 2+(1<<v[1])/8 {
		return false, fmt.Errorf("text sketch of %d bytes is not one this version writes: %w", len(v), errCorrupt)
	}
	for _, term := range grams {
		for _, g := range term {
			if !hasGram(v[2:], g, v[1]) {
				return false, nil
			}
		}
	}
	return true, nil
}

// sketchBuilder gathers the distinct grams of a block's text. A block can
// have billions (4096 events of up to 1 MiB), but past 2^maxSketchLog2/16
// the sketch has the most bits whatever else comes: the builder then sets
// their bits in it as it goes (full) instead of keeping them.
type sketchBuilder struct {
	grams map[uint64]struct{}
	full  []byte
}

func newSketchBuilder() *sketchBuilder { return &sketchBuilder{grams: map[uint64]struct{}{}} }

// add adds the grams of text v, as searches compare it.
func (b *sketchBuilder) add(v string) {
	v = lowerForSearch(v)
	for i := 0; i+3 <= len(v); i++ {
		b.put(gram(v, i, 3))
		if i+5 <= len(v) {
			b.put(gram(v, i, 5))
		}
	}
}

func (b *sketchBuilder) put(g uint64) {
	if b.full != nil {
		setGram(b.full[2:], g, maxSketchLog2)
		return
	}
	b.grams[g] = struct{}{}
	if 8*len(b.grams) > 1<<(maxSketchLog2-1) {
		b.full = make([]byte, 2+(1<<maxSketchLog2)/8)
		b.full[0], b.full[1] = sketchV, maxSketchLog2
		for g := range b.grams {
			setGram(b.full[2:], g, maxSketchLog2)
		}
		b.grams = map[uint64]struct{}{}
	}
}

// setGram sets the bits of gram g in set, of 2^log2m bits.
func setGram(set []byte, g uint64, log2m uint8) {
	x, y := sketchBits(g, log2m)
	set[x/8] |= 1 << (x % 8)
	set[y/8] |= 1 << (y % 8)
}

// hasGram reports whether both bits of gram g are set in set, of 2^log2m
// bits.
func hasGram(set []byte, g uint64, log2m uint8) bool {
	x, y := sketchBits(g, log2m)
	return set[x/8]&(1<<(x%8)) != 0 && set[y/8]&(1<<(y%8)) != 0
}

// addEvent adds what a search looks at in e (matchRecord).
func (b *sketchBuilder) addEvent(e *StoredEvent) {
	for _, v := range []string{e.ID, e.UserID, e.Provider, e.ActionType, e.Category, e.Status, e.RiskLevel} {
		b.add(v)
	}
	for _, r := range e.ResourceIDs {
		b.add(r)
	}
	if len(e.Metadata) > 0 {
		anyJSONValue(e.Metadata, func(v string) bool { b.add(v); return false })
	}
}

// sketch returns the sketch of the grams added, and starts again.
func (b *sketchBuilder) sketch() []byte {
	if out := b.full; out != nil {
		b.reset()
		return out
	}
	log2m := uint8(minSketchLog2)
	for log2m < maxSketchLog2 && 1<<log2m < 8*len(b.grams) {
		log2m++
	}
	out := make([]byte, 2+(1<<log2m)/8)
	out[0], out[1] = sketchV, log2m
	set := out[2:]
	for g := range b.grams {
		setGram(set, g, log2m)
	}
	b.reset()
	return out
}

func (b *sketchBuilder) reset() { b.grams, b.full = map[uint64]struct{}{}, nil }

// sketchCheck answers a scan whether a seq's block can hold a match of its
// text terms, reading each block's sketch once.
type sketchCheck struct {
	s        *Store
	txn      *badger.Txn
	org      string
	grams    [][]uint64
	verdicts map[uint64]bool
}

func (s *Store) newSketchCheck(txn *badger.Txn, c *compiledFilter) *sketchCheck {
	if len(c.grams) == 0 {
		return nil
	}
	return &sketchCheck{s: s, txn: txn, org: c.f.Org, grams: c.grams, verdicts: map[uint64]bool{}}
}

// may is false when seq's block has a sketch that rules out a term.
func (k *sketchCheck) may(seq uint64) bool {
	if k == nil {
		return true
	}
	block := sketchBlockOf(seq)
	if v, ok := k.verdicts[block]; ok {
		return v
	}
	may := true
	item, err := k.txn.Get(sketchKey(k.org, block))
	if err == nil {
		err = item.Value(func(v []byte) error {
			var err error
			may, err = sketchMay(v, k.grams)
			return err
		})
	}
	if err != nil && !errors.Is(err, badger.ErrKeyNotFound) {
		// Read the block's records instead; the loop writes it again.
		may = true
		k.s.log.Warn("a text sketch cannot be read; searches read its events' records until it is built again",
			"organization", k.org, "seqs", fmt.Sprintf("%d-%d", block*sketchBlock+1, (block+1)*sketchBlock), "err", err)
		k.s.sketchDamaged(k.org, block)
	}
	k.verdicts[block] = may
	return may
}

// sketchDamaged asks the loop to build org's block again.
func (s *Store) sketchDamaged(org string, block uint64) {
	s.sketchMu.Lock()
	defer s.sketchMu.Unlock()
	if s.sketchRedo == nil {
		s.sketchRedo = map[string][]uint64{}
	}
	if !slices.Contains(s.sketchRedo[org], block) {
		s.sketchRedo[org] = append(s.sketchRedo[org], block)
	}
}

// sketchQuiet is how long appends must have paused before sketchLoop
// builds (a variable, so that tests need not wait).
var sketchQuiet = 2 * time.Second

// KeepTextSketches builds the text sketches of complete blocks in the
// background until the store closes: every interval, once appends have
// paused for two seconds, newest blocks first, giving way as soon as
// appends resume. Calls after the first, or after Close, do nothing.
func (s *Store) KeepTextSketches(interval time.Duration) {
	s.closeMu.RLock()
	defer s.closeMu.RUnlock()
	if s.closed || interval <= 0 || !s.sketching.CompareAndSwap(false, true) {
		return
	}
	s.wg.Add(1)
	go func() { defer s.wg.Done(); s.sketchLoop(s.bgCtx, interval) }()
}

// sketchLoop is KeepTextSketches' loop.
func (s *Store) sketchLoop(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if !s.appendsPaused() {
			continue
		}
		if _, err := s.buildSketches(ctx, s.appendsPaused); err != nil && ctx.Err() == nil {
			s.log.Warn("failed to build text sketches; searches read records where there are none", "err", err)
		}
	}
}

// BuildSketches builds the text sketch of every complete block that has
// none, as KeepTextSketches does in the background once appends pause,
// and returns how many it wrote. A command that writes many events and
// exits (demo) calls it, so that free-text searches of the log it leaves
// need not read every record until the app or serve has had it open. The
// store stays open meanwhile (Close waits).
func (s *Store) BuildSketches(ctx context.Context) (int, error) {
	s.closeMu.RLock()
	defer s.closeMu.RUnlock()
	if s.closed {
		return 0, ErrClosed
	}
	return s.buildSketches(ctx, func() bool { return true })
}

func (s *Store) appendsPaused() bool {
	return time.Since(time.Unix(0, s.lastAppend.Load())) >= sketchQuiet
}

// buildSketches builds every missing sketch of a complete block of every
// organization (and those a search found damaged), newest first, while
// goOn holds; it returns how many it wrote. A block with a record it
// cannot read is left without one (its error is returned, once) and the
// others are built: one damaged record must not leave the whole log, or
// every organization after its own, without sketches.
func (s *Store) buildSketches(ctx context.Context, goOn func() bool) (int, error) {
	var orgs []string
	err := s.db.View(func(txn *badger.Txn) (err error) {
		orgs, err = listOrgs(txn, tagHead)
		return err
	})
	if err != nil {
		return 0, err
	}
	b := newSketchBuilder()
	built := 0
	var unreadable []error
	for _, org := range orgs {
		todo, err := s.missingSketches(org)
		if err != nil {
			return built, err
		}
		for _, block := range todo {
			if ctx.Err() != nil || !goOn() {
				return built, ctx.Err()
			}
			v, err := s.sketchOf(ctx, b, org, block)
			if ctx.Err() != nil {
				return built, ctx.Err()
			}
			if err != nil {
				// Not read again until the store is reopened (Verify
				// says what is wrong with it).
				s.sketchMu.Lock()
				if s.sketchUnreadable == nil {
					s.sketchUnreadable = map[string][]uint64{}
				}
				s.sketchUnreadable[org] = append(s.sketchUnreadable[org], block)
				s.sketchMu.Unlock()
				unreadable = append(unreadable, err)
				continue
			}
			lo, hi := block*sketchBlock+1, (block+1)*sketchBlock
			if err := s.update(func(txn *badger.Txn) error { return txn.Set(sketchKey(org, block), v) }); err != nil {
				return built, fmt.Errorf("failed to store the text sketch of seqs %d-%d of organization %q: %w", lo, hi, org, err)
			}
			built++
		}
	}
	return built, errors.Join(unreadable...)
}

// missingSketches lists org's complete blocks without a sketch (but those
// with a record buildSketches could not read), and those to build again,
// newest first.
func (s *Store) missingSketches(org string) ([]uint64, error) {
	s.sketchMu.Lock()
	redo := s.sketchRedo[org]
	delete(s.sketchRedo, org)
	unreadable := slices.Clone(s.sketchUnreadable[org])
	s.sketchMu.Unlock()
	var todo []uint64
	err := s.db.View(func(txn *badger.Txn) error {
		h, err := orgHead(txn, org)
		if err != nil {
			return err
		}
		complete := h.seq / sketchBlock
		have := make(map[uint64]bool)
		p := orgPrefix(tagSketch, org)
		it := txn.NewIterator(badger.IteratorOptions{Prefix: p})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			k := it.Item().Key()
			if len(k) == len(p)+8 {
				have[binary.BigEndian.Uint64(k[len(p):])] = true
			}
		}
		for _, block := range redo {
			delete(have, block)
		}
		for _, block := range unreadable {
			have[block] = true
		}
		for block := complete; block > 0; block-- {
			if !have[block-1] {
				todo = append(todo, block-1)
			}
		}
		return nil
	})
	return todo, err
}

// sketchOf reads the records of org's block and returns its sketch.
func (s *Store) sketchOf(ctx context.Context, b *sketchBuilder, org string, block uint64) ([]byte, error) {
	lo, hi := block*sketchBlock+1, (block+1)*sketchBlock
	err := s.db.View(func(txn *badger.Txn) error {
		p := orgPrefix(tagRecord, org)
		it := txn.NewIterator(badger.IteratorOptions{Prefix: p, PrefetchValues: false})
		defer it.Close()
		for it.Seek(recordKey(org, lo)); it.Valid(); it.Next() {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			k := it.Item().Key()
			if len(k) != len(p)+8 {
				return fmt.Errorf("record key of %d bytes in organization %q: %w", len(k), org, errCorrupt)
			}
			seq := binary.BigEndian.Uint64(k[len(p):])
			if seq > hi {
				break
			}
			err := it.Item().Value(func(v []byte) error {
				if isTombstone(v) {
					return nil // retention removed it: nothing to find
				}
				e, err := s.decodeStored(v, org, seq, statesPublic)
				if err != nil {
					return err
				}
				b.addEvent(&e)
				return nil
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.reset()
		return nil, fmt.Errorf("failed to read seqs %d-%d of organization %q for their text sketch: %w", lo, hi, org, err)
	}
	return b.sketch(), nil
}
