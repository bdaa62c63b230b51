package demo

import (
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/axiomops/axiom-audit/storage"
)

// Options says what to generate. The zero value is a sensible demo.
type Options struct {
	// Events is exactly how many events to generate (default 1000).
	Events int
	// Orgs is how many organizations share them, in different sizes
	// (default 3: "acme-prod", "acme-staging", "globex").
	Orgs int
	// Seed makes the output reproducible: the same options give the same
	// events, ids included.
	Seed int64
	// End is when the last event may happen (default: now). It is
	// truncated to the millisecond and converted to UTC.
	End time.Time
	// Span is how far back the first events go (default 90 days).
	Span time.Duration
}

// Defaults for the zero Options.
const (
	DefaultEvents = 1000
	DefaultOrgs   = 3
	DefaultSpan   = 90 * 24 * time.Hour
)

// ErrInvalidOptions is returned for negative counts or spans.
var ErrInvalidOptions = errors.New("invalid demo options")

func (o Options) withDefaults() (Options, error) {
	switch {
	case o.Events < 0:
		return o, fmt.Errorf("%w: events must not be negative, got %d", ErrInvalidOptions, o.Events)
	case o.Orgs < 0:
		return o, fmt.Errorf("%w: orgs must not be negative, got %d", ErrInvalidOptions, o.Orgs)
	case o.Span < 0:
		return o, fmt.Errorf("%w: span must not be negative, got %s", ErrInvalidOptions, o.Span)
	}
	if o.Events == 0 {
		o.Events = DefaultEvents
	}
	if o.Orgs == 0 {
		o.Orgs = DefaultOrgs
	}
	if o.Span == 0 {
		o.Span = DefaultSpan
	}
	if o.Span < time.Hour {
		return o, fmt.Errorf("%w: span must be at least an hour, got %s", ErrInvalidOptions, o.Span)
	}
	if o.End.IsZero() {
		o.End = time.Now()
	}
	o.End = o.End.UTC().Truncate(time.Millisecond)
	if o.End.Add(-o.Span).Before(storage.MinTimestamp) {
		return o, fmt.Errorf("%w: the span must start after %s", ErrInvalidOptions, storage.MinTimestamp.Format(time.RFC3339))
	}
	return o, nil
}

// Generate calls emit for opts.Events events, in timestamp order across all
// organizations (ties go to the earlier organization), and stops at the
// first error emit returns, returning it.
//
// Every event passes [storage.Catalogue.Validate] with a clock at or after
// opts.End; every apply follows the approvals of its plan, and every
// rollback follows the failed or rolled-back mutation it undoes.
func Generate(opts Options, emit func(storage.Event) error) error {
	o, err := opts.withDefaults()
	if err != nil {
		return err
	}
	endMs := o.End.UnixMilli()
	startMs := endMs - o.Span.Milliseconds()
	profiles := newProfiles(o.Orgs, o.Seed)
	quotas := splitQuota(o.Events, profiles)

	gens := make([]*orgGen, 0, len(profiles))
	for i, p := range profiles {
		if quotas[i] == 0 {
			continue
		}
		gens = append(gens, newOrgGen(p, quotas[i], o.Seed, i, startMs, endMs))
	}

	// A k-way merge of the organizations' streams, each already in order.
	type head struct {
		ev  storage.Event
		at  int64
		org int
	}
	h := minHeap[head]{less: func(a, b head) bool {
		if a.at != b.at {
			return a.at < b.at
		}
		return a.org < b.org
	}}
	for i, g := range gens {
		if ev, at, ok := g.next(); ok {
			h.push(head{ev, at, i})
		}
	}
	for h.len() > 0 {
		top := h.pop()
		if err := emit(top.ev); err != nil {
			return err
		}
		if ev, at, ok := gens[top.org].next(); ok {
			h.push(head{ev, at, top.org})
		}
	}
	return nil
}

// splitQuota shares n events among the organizations in proportion to
// their weights, exactly (largest remainder).
func splitQuota(n int, profiles []*orgProfile) []int {
	total := 0.0
	for _, p := range profiles {
		total += p.weight
	}
	quotas := make([]int, len(profiles))
	rem := make([]float64, len(profiles))
	given := 0
	for i, p := range profiles {
		exact := float64(n) * p.weight / total
		quotas[i] = int(exact)
		rem[i] = exact - float64(quotas[i])
		given += quotas[i]
	}
	for ; given < n; given++ {
		best := 0
		for i := range rem {
			if rem[i] > rem[best] {
				best = i
			}
		}
		quotas[best]++
		rem[best] = -1
	}
	return quotas
}

// pending is an event of a story waiting for its time.
type pending struct {
	at  int64 // Unix milliseconds
	seq uint64
	ev  storage.Event
}

// orgGen generates one organization's events in timestamp order. Stories
// are started one at a time at increasing times; their events wait in a
// heap until no story can start before them any more.
type orgGen struct {
	p                *orgProfile
	rng              *rand.Rand
	quota, emitted   int
	startMs, endMs   int64
	nextStart        int64
	pending          minHeap[pending]
	seq              uint64
	stories, created int
	onboarded        bool
	idBuf            [16]byte

	// State that stories change and later stories read.
	requiredApprovals int
	externalIDVersion []int64
	release           [3]int
}

func newOrgGen(p *orgProfile, quota int, seed int64, index int, startMs, endMs int64) *orgGen {
	g := &orgGen{
		p:                 p,
		rng:               rand.New(rand.NewPCG(uint64(seed), 0x9e3779b97f4a7c15^uint64(index+1)*0xbf58476d1ce4e5b9)),
		quota:             quota,
		startMs:           startMs,
		endMs:             endMs,
		nextStart:         startMs,
		requiredApprovals: p.requiredApprovals,
		externalIDVersion: make([]int64, len(p.clouds)),
		release:           [3]int{1 + index%4, 2 + index*3%9, 0},
	}
	for i := range g.externalIDVersion {
		g.externalIDVersion[i] = 1
	}
	g.pending.less = func(a, b pending) bool {
		if a.at != b.at {
			return a.at < b.at
		}
		return a.seq < b.seq
	}
	return g
}

// next returns the organization's next event and its time in Unix
// milliseconds, or false when its quota is reached.
func (g *orgGen) next() (storage.Event, int64, bool) {
	for g.emitted < g.quota {
		enough := g.emitted+g.pending.len() >= g.quota
		if g.pending.len() > 0 && (enough || g.pending.peek().at <= g.nextStart) {
			p := g.pending.pop()
			g.emitted++
			return p.ev, p.at, true
		}
		last := g.startStory(g.nextStart)
		if !g.onboarded {
			// Nothing happens in an organization before it is
			// connected: the next story starts after onboarding.
			g.onboarded = true
			g.nextStart = last
		}
		g.nextStart = g.schedule(g.nextStart)
	}
	return storage.Event{}, 0, false
}

// schedule picks when the next story starts: a Poisson process thinned by
// the organization's working hours, whose rate is recomputed each time so
// that the quota is spent over what is left of the span.
func (g *orgGen) schedule(from int64) int64 {
	left := g.quota - g.emitted - g.pending.len()
	if left <= 0 {
		return g.endMs
	}
	perStory := (float64(g.created) + 40) / (float64(g.stories) + 5)
	stories := math.Max(1, float64(left)/perStory)
	window := float64(g.endMs - from)
	if window <= 0 {
		return g.endMs
	}
	// Stories per millisecond at full density.
	rate := stories / window / avgDensity
	// Rate and window are for the remaining stories; a draw that passes
	// the end starts over, so the last stories still land inside the span
	// rather than piling up on its last millisecond.
	t := float64(from)
	for tries := 0; tries < 1000; tries++ {
		t += g.rng.ExpFloat64() / rate
		if t >= float64(g.endMs) {
			t = float64(from)
			continue
		}
		if g.rng.Float64() < g.p.density(int64(t)) {
			return int64(t)
		}
	}
	return from + (g.endMs-from)/2
}

// uuid returns a UUIDv7 for a time: the milliseconds, then random bits from
// the organization's generator, so ids sort by time and are reproducible.
func (g *orgGen) uuid(at int64) string {
	b := &g.idBuf
	ms := uint64(at)
	b[0], b[1], b[2], b[3], b[4], b[5] = byte(ms>>40), byte(ms>>32), byte(ms>>24), byte(ms>>16), byte(ms>>8), byte(ms)
	r1, r2 := g.rng.Uint64(), g.rng.Uint64()
	for i := 0; i < 2; i++ {
		b[6+i] = byte(r1 >> (8 * i))
	}
	for i := 0; i < 8; i++ {
		b[8+i] = byte(r2 >> (8 * i))
	}
	b[6] = 0x70 | b[6]&0x0f
	b[8] = 0x80 | b[8]&0x3f
	var s [36]byte
	hex.Encode(s[0:8], b[0:4])
	s[8] = '-'
	hex.Encode(s[9:13], b[4:6])
	s[13] = '-'
	hex.Encode(s[14:18], b[6:8])
	s[18] = '-'
	hex.Encode(s[19:23], b[8:10])
	s[23] = '-'
	hex.Encode(s[24:36], b[10:16])
	return string(s[:])
}

// hexID returns a short random identifier with a prefix ("plan-1a2b3c4d5e").
func (g *orgGen) hexID(prefix string, n int) string {
	const digits = "0123456789abcdef"
	b := make([]byte, len(prefix)+n)
	copy(b, prefix)
	for i := len(prefix); i < len(b); i++ {
		b[i] = digits[g.rng.IntN(16)]
	}
	return string(b)
}

// minHeap is a binary heap ordered by less.
type minHeap[T any] struct {
	items []T
	less  func(a, b T) bool
}

func (h *minHeap[T]) len() int { return len(h.items) }
func (h *minHeap[T]) peek() T  { return h.items[0] }

func (h *minHeap[T]) push(x T) {
	h.items = append(h.items, x)
	i := len(h.items) - 1
	for i > 0 {
		parent := (i - 1) / 2
		if !h.less(h.items[i], h.items[parent]) {
			break
		}
		h.items[i], h.items[parent] = h.items[parent], h.items[i]
		i = parent
	}
}

func (h *minHeap[T]) pop() T {
	top := h.items[0]
	last := len(h.items) - 1
	h.items[0] = h.items[last]
	var zero T
	h.items[last] = zero
	h.items = h.items[:last]
	i := 0
	for {
		l, r, m := 2*i+1, 2*i+2, i
		if l < len(h.items) && h.less(h.items[l], h.items[m]) {
			m = l
		}
		if r < len(h.items) && h.less(h.items[r], h.items[m]) {
			m = r
		}
		if m == i {
			return top
		}
		h.items[i], h.items[m] = h.items[m], h.items[i]
		i = m
	}
}
