package storage

import (
	"context"
	"sync"
	"sync/atomic"
)

// subscribers are the live subscriptions. The writer publishes to them
// after each commit without ever blocking: a subscriber whose buffer is
// full is dropped (its channel closed), because a slow reader must not slow
// down or fail appends.
type subscribers struct {
	mu   sync.Mutex
	n    atomic.Int32
	set  map[*subscription]struct{}
	shut bool
}

type subscription struct {
	f  *compiledFilter
	ch chan StoredEvent
	// stop unregisters the removal at the end of the subscriber's context,
	// which would otherwise keep a dropped subscription (and its buffer)
	// until then.
	stop func() bool
}

func (s *subscribers) active() bool { return s.n.Load() > 0 }

func (s *subscribers) add(sub *subscription) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.shut {
		return false
	}
	if s.set == nil {
		s.set = map[*subscription]struct{}{}
	}
	s.set[sub] = struct{}{}
	s.n.Store(int32(len(s.set)))
	return true
}

// remove closes sub's channel once.
func (s *subscribers) remove(sub *subscription) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.removeLocked(sub)
}

func (s *subscribers) removeLocked(sub *subscription) {
	if _, ok := s.set[sub]; ok {
		delete(s.set, sub)
		close(sub.ch)
		s.n.Store(int32(len(s.set)))
		sub.stop()
	}
}

func (s *subscribers) publish(e StoredEvent) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for sub := range s.set {
		if !sub.f.matchEvent(&e) {
			continue
		}
		select {
		case sub.ch <- e:
		default:
			s.removeLocked(sub)
		}
	}
}

func (s *subscribers) closeAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.shut = true
	for sub := range s.set {
		s.removeLocked(sub)
	}
}

// Subscribe delivers the events matching f (Cursor, Limit and Order
// ignored) that are committed after it returns, in commit order, which is
// seq order within the organization.
//
// The channel is closed when ctx ends, when the store closes, or when the
// subscriber falls more than Options.SubscriberBuffer events behind: appends
// never wait for a subscriber. A channel closed while ctx is still live means
// the subscription was dropped and events may have been missed: subscribe
// again first, then reload what is shown with List (which orders by
// timestamp, not seq, so it cannot resume from the last seq seen); events
// delivered by both are told apart by their seq.
//
// Delivered events are as List returns them (canonical metadata, states
// decrypted) and are shared by all subscribers: read only.
func (s *Store) Subscribe(ctx context.Context, f Filter) (<-chan StoredEvent, error) {
	c, err := compile(f)
	if err != nil {
		return nil, err
	}
	s.closeMu.RLock()
	defer s.closeMu.RUnlock()
	if s.closed {
		return nil, ErrClosed
	}
	sub := &subscription{f: c, ch: make(chan StoredEvent, s.opts.SubscriberBuffer)}
	sub.stop = context.AfterFunc(ctx, func() { s.subs.remove(sub) })
	if !s.subs.add(sub) {
		sub.stop()
		return nil, ErrClosed
	}
	if ctx.Err() != nil {
		// The removal may have run before the subscription was added.
		s.subs.remove(sub)
	}
	return sub.ch, nil
}
