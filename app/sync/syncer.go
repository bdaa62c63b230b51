package sync

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	gosync "sync"
	"time"

	"github.com/axiomops/axiom-audit/storage"
	"github.com/axiomops/axiom-audit/storage/tlog"
)

// Integrity is what the Syncer needs from the integrity layer: the newest
// signed checkpoint, consistency proofs between sizes, and checking that a
// note a destination returns was signed by this installation for org.
// LatestCheckpoint returns an error matching storage.ErrNotFound when the
// organization has no checkpoint yet.
type Integrity interface {
	LatestCheckpoint(ctx context.Context, org string) (Checkpoint, error)
	ConsistencyProof(ctx context.Context, org string, size1, size2 uint64) ([][]byte, error)
	OpenCheckpoint(ctx context.Context, org string, note []byte) (Checkpoint, error)
}

// Opener builds the Destination of cfg with its secret from the keystore
// (nil when it has none).
type Opener func(ctx context.Context, cfg Config, secret []byte) (Destination, error)

// Options configure a Syncer. Store, Keystore and Open are required.
type Options struct {
	Store    *storage.Store
	Keystore storage.Keystore
	Open     Opener
	// Integrity may be nil: batches then carry no checkpoint and the
	// tenant's witness check is skipped.
	Integrity Integrity
	// Record records an event of the log about itself (audit.sync_*); nil
	// records nothing.
	Record func(ctx context.Context, org, actionType string, metadata map[string]any) error
	// Alert raises the integrity alert of org: the destination (kind and
	// target, as in audit events) witnessed the inconsistency e. It is
	// called after the failure is recorded (Record), because the alert
	// refuses every later append to org. nil records nothing beyond
	// stopping the destination.
	Alert func(ctx context.Context, org, destination string, e *InconsistencyError) error
	// User is who enables and disables (the config's enabledBy).
	User   string
	Logger *slog.Logger
	// Now and After are the clock; nil means the real one.
	Now   func() time.Time
	After func(time.Duration) <-chan time.Time
	// BatchSize is the most events per batch (default 1000).
	BatchSize int
	Backoff   Backoff
	// Poll is how often an idle loop looks for events it was not told
	// about (default 30 s); Store.Subscribe wakes it otherwise.
	Poll time.Duration
}

// Syncer runs the delivery loops of the enabled destinations.
type Syncer struct {
	opts Options
	log  *slog.Logger

	base   context.Context
	cancel context.CancelFunc
	wg     gosync.WaitGroup

	mu      gosync.Mutex
	started bool
	closed  bool
	workers map[wkey]*worker
}

type wkey struct {
	org  string
	kind Kind
}

// worker is one destination of one organization.
type worker struct {
	cfg Config
	// mu is held while delivering: one delivery at a time per destination.
	mu   gosync.Mutex
	dest Destination
	p    progress // guarded by mu
	// snap is a copy of p for Status, which must not wait for a delivery.
	smu  gosync.Mutex
	snap progress
	// cancel stops the running loop; nil when none runs.
	cancel context.CancelFunc
	done   chan struct{}
	loaded bool
	// dirty: the cursor advanced since it was last made durable, at
	// savedAt (guarded by mu).
	dirty   bool
	savedAt time.Time
	// batch is the batch size, halved after a 413 (guarded by mu; 0 means
	// Options.BatchSize).
	batch int
	// retryNow wakes the loop from its wait before a retry: a RunNow
	// delivered, so the destination is healthy again.
	retryNow chan struct{}
}

// errNoProgress: an acknowledgement that does not advance the cursor (a
// stale or replayed one, or a destination that lost data and wants it
// again). Retried with backoff like a transient failure.
var errNoProgress = errors.New("the destination acknowledged nothing new")

// saveEvery is how often a cursor advancing through a backlog is made
// durable (one fsync). In between a crash only means the batches since
// are sent again, which at-least-once allows.
const saveEvery = time.Second

// New returns a Syncer. It runs nothing until Start.
func New(opts Options) *Syncer {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.After == nil {
		opts.After = time.After
	}
	if opts.BatchSize <= 0 {
		opts.BatchSize = 1000
	}
	if opts.Poll <= 0 {
		opts.Poll = 30 * time.Second
	}
	base, cancel := context.WithCancel(context.Background())
	return &Syncer{opts: opts, log: opts.Logger, base: base, cancel: cancel, workers: map[wkey]*worker{}}
}

// Start starts a loop for every enabled destination of every organization.
// Loops run until Close.
func (s *Syncer) Start(ctx context.Context) error {
	cfgs, err := s.configs(ctx, "")
	if err != nil {
		return err
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	s.started = true
	s.mu.Unlock()
	for _, c := range cfgs {
		if c.Enabled() {
			s.startLoop(s.worker(c))
		}
	}
	return nil
}

// Close stops every loop and waits for them. A delivery in flight is
// abandoned; its events are sent again by the next run (at least once).
func (s *Syncer) Close() error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.cancel()
	s.wg.Wait()
	return nil
}

// storedConfig is a Config as kept in settings: a disabled one stays so
// that its history (cursor) is not lost.
type storedConfig struct {
	Config
	DisabledAt time.Time `json:"disabledAt,omitzero"`
}

// Enabled reports whether the destination is enabled.
func (c storedConfig) Enabled() bool { return c.DisabledAt.IsZero() }

// configs returns the stored configs of org ("" for all).
func (s *Syncer) configs(ctx context.Context, org string) ([]storedConfig, error) {
	prefix := settingPrefix
	if org != "" {
		prefix += org + "/"
	}
	var out []storedConfig
	err := s.opts.Store.ScanSettings(ctx, prefix, func(name string, value []byte) error {
		if !strings.HasSuffix(name, "/config") {
			return nil
		}
		var c storedConfig
		if err := jsonUnmarshal(value, &c); err != nil {
			s.log.Warn("sync: skipping an unreadable destination config", "setting", name, "err", err)
			return nil
		}
		if org != "" && c.Org != org {
			return nil
		}
		out = append(out, c)
		return nil
	})
	return out, err
}

// Enable opts org in to the destination cfg names, keeping secret (when
// not nil) in the keystore. It is recorded as audit.sync_enabled. Enabling
// again replaces the config and lifts a stop; the cursor is kept (delivery
// resumes where it was) unless the target changed (another URL, bucket or
// prefix), which then receives the whole log.
func (s *Syncer) Enable(ctx context.Context, cfg Config, secret []byte) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	cfg.EnabledAt = s.opts.Now().UTC()
	cfg.EnabledBy = s.opts.User
	cfg.HasSecret = secret != nil
	if secret != nil {
		if s.opts.Keystore == nil {
			return errors.New("no keystore to keep the destination's secret in")
		}
		if err := s.opts.Keystore.Set(ctx, SecretName(cfg.Org, cfg.Kind), secret); err != nil {
			return fmt.Errorf("failed to keep the %s secret in the keystore: %w", cfg.Kind, err)
		}
	}
	var prev storedConfig
	hadPrev, err := readJSON(ctx, s.opts.Store, configSetting(cfg.Org, cfg.Kind), &prev)
	if err != nil {
		return err
	}
	// What leaves the machine, and how it is kept there, is what an
	// auditor asks about: the record says it, and what it replaced.
	meta := map[string]any{"destination": describe(cfg), "includesStates": cfg.IncludeSensitive}
	if cfg.Format != "" {
		meta["format"] = cfg.Format
	}
	if cfg.ObjectLockMode != "" {
		meta["objectLock"] = fmt.Sprintf("%s %d days", cfg.ObjectLockMode, cfg.ObjectLockDays)
	}
	if hadPrev && prev.Enabled() {
		meta["replaces"] = describeSettings(prev.Config)
	}
	if err := s.record(ctx, cfg.Org, "audit.sync_enabled", meta); err != nil {
		return err
	}
	s.stopLoop(wkey{cfg.Org, cfg.Kind})
	if err := writeJSON(ctx, s.opts.Store, configSetting(cfg.Org, cfg.Kind), storedConfig{Config: cfg}); err != nil {
		return fmt.Errorf("failed to save the destination: %w", err)
	}
	w := s.worker(storedConfig{Config: cfg})
	w.mu.Lock()
	w.cfg, w.dest = cfg, nil
	if err := s.load(ctx, w); err != nil {
		w.mu.Unlock()
		return err
	}
	if hadPrev && prev.Target() != cfg.Target() {
		// Another receiver (a new bucket, tenant or SIEM) gets the whole
		// log, and has witnessed no checkpoint yet.
		w.p = progress{}
	}
	if w.p.State == StateStopped || w.p.State == StateDisabled || w.p.State == "" {
		w.p.State, w.p.Stopped, w.p.Alert, w.p.Failures, w.p.Audited = StateHealthy, "", false, 0, false
	}
	err = s.save(ctx, w)
	w.mu.Unlock()
	if err != nil {
		return err
	}
	s.mu.Lock()
	started := s.started && !s.closed
	s.mu.Unlock()
	if started {
		s.startLoop(w)
	}
	return nil
}

// Disable opts org out of the destination kind: its loop stops, its secret
// is erased from the keystore and it is recorded as audit.sync_disabled.
// Its cursor is kept, so enabling it again resumes.
func (s *Syncer) Disable(ctx context.Context, org string, kind Kind) error {
	var sc storedConfig
	ok, err := readJSON(ctx, s.opts.Store, configSetting(org, kind), &sc)
	if err != nil {
		return err
	}
	if !ok || !sc.Enabled() {
		return fmt.Errorf("%s for organization %q: %w", kind, org, ErrNotEnabled)
	}
	if err := s.record(ctx, org, "audit.sync_disabled", map[string]any{"destination": describe(sc.Config)}); err != nil {
		return err
	}
	s.stopLoop(wkey{org, kind})
	sc.DisabledAt = s.opts.Now().UTC()
	if err := writeJSON(ctx, s.opts.Store, configSetting(org, kind), sc); err != nil {
		return fmt.Errorf("failed to save the destination: %w", err)
	}
	if sc.HasSecret && s.opts.Keystore != nil {
		// The Keystore interface has no delete: an empty secret is none.
		if err := s.opts.Keystore.Set(ctx, SecretName(org, kind), []byte{}); err != nil {
			s.log.Warn("sync: failed to erase the destination's secret", "org", org, "to", kind, "err", err)
		}
	}
	w := s.worker(sc)
	w.mu.Lock()
	defer w.mu.Unlock()
	w.cfg = sc.Config
	if err := s.load(ctx, w); err != nil {
		return err
	}
	w.p.State = StateDisabled
	w.dest = nil
	return s.save(ctx, w)
}

// RunNow delivers what is pending for every enabled destination of org and
// returns their status. A destination stopped by a rejection is tried
// again (the user may have fixed the receiver); one stopped by an integrity
// alert is not. The error joins the failures of each destination.
func (s *Syncer) RunNow(ctx context.Context, org string) ([]Status, error) {
	st, _, err := s.RunNowUntil(ctx, org, time.Time{})
	return st, err
}

// RunNowUntil is RunNow that stops delivering, between two batches, once
// deadline (when not zero) has passed, and says whether events were left
// pending then: a command that holds the log for it (sync run-now from
// cron, without the app) lets other commands at the log before it goes on.
func (s *Syncer) RunNowUntil(ctx context.Context, org string, deadline time.Time) ([]Status, bool, error) {
	cfgs, err := s.configs(ctx, org)
	if err != nil {
		return nil, false, err
	}
	var errs []error
	n := 0
	pending := false
	for _, c := range cfgs {
		if !c.Enabled() {
			continue
		}
		n++
		w := s.worker(c)
		err := s.runNow(ctx, w, deadline)
		switch {
		case errors.Is(err, errYielded):
			pending = true
		case err != nil:
			errs = append(errs, fmt.Errorf("%s: %w", c.Kind, err))
		}
	}
	if n == 0 {
		return nil, false, fmt.Errorf("organization %q: %w", org, ErrNotEnabled)
	}
	st, err := s.Status(ctx, org)
	if err != nil {
		errs = append(errs, err)
	}
	return st, pending, errors.Join(errs...)
}

// errYielded: drain stopped at its deadline with events still pending.
var errYielded = errors.New("stopped at the deadline with events pending")

func (s *Syncer) runNow(ctx context.Context, w *worker, deadline time.Time) error {
	w.mu.Lock()
	if err := s.load(ctx, w); err != nil {
		w.mu.Unlock()
		return err
	}
	if w.p.State == StateStopped && w.p.Alert {
		w.mu.Unlock()
		return fmt.Errorf("stopped by an integrity alert: %s", w.p.Stopped)
	}
	err := s.drain(ctx, w, deadline)
	for err != nil && !errors.Is(err, errYielded) && ctx.Err() == nil {
		size := w.batchSize(s)
		// RunNow's caller reports the error (run-now prints it): the
		// log need not say it again.
		s.failed(ctx, w, err, slog.LevelDebug)
		// A 413 halved the batch: try the smaller one now. The halving
		// lives in this process, and the CLI's run-now is a process of
		// its own: waiting for a later run would start again at the
		// full size, and fail the same way every time.
		if w.batchSize(s) >= size || w.p.State != StateRetrying {
			break
		}
		err = s.drain(ctx, w, deadline)
	}
	if errors.Is(err, errYielded) {
		w.mu.Unlock()
		return err
	}
	state := w.p.State
	w.mu.Unlock()
	if err == nil && state == StateHealthy {
		s.mu.Lock()
		started := s.started && !s.closed
		s.mu.Unlock()
		if started {
			s.startLoop(w) // a loop that had stopped resumes
			// A loop waiting to retry (a backoff, a Retry-After of up
			// to a day) goes back to delivering new events at once.
			select {
			case w.retryNow <- struct{}{}:
			default:
			}
		}
	}
	return err
}

// Status returns the status of every destination org ("" for every
// organization) was ever enabled for, enabled ones first in Kinds order.
func (s *Syncer) Status(ctx context.Context, org string) ([]Status, error) {
	cfgs, err := s.configs(ctx, org)
	if err != nil {
		return nil, err
	}
	now := s.opts.Now()
	out := make([]Status, 0, len(cfgs))
	heads := map[string]uint64{}
	for _, c := range cfgs {
		head, ok := heads[c.Org]
		if !ok {
			h, _, err := s.opts.Store.Head(ctx, c.Org)
			if err != nil && !errors.Is(err, storage.ErrNotFound) {
				return nil, err
			}
			head, heads[c.Org] = h, h
		}
		var p progress
		s.mu.Lock()
		w := s.workers[wkey{c.Org, c.Kind}]
		s.mu.Unlock()
		if w != nil && w.hasSnap() {
			p = w.snapshot()
		} else if _, err := readJSON(ctx, s.opts.Store, progressSetting(c.Org, c.Kind), &p); err != nil {
			return nil, err
		}
		st := Status{
			Org: c.Org, To: c.Kind, Target: c.ShownTarget(), Enabled: c.Enabled(), State: p.State,
			Format: c.Format, Includes: "commitments", DeliveredSeq: p.Seq, HeadSeq: head,
			LastSuccess: timePtr(p.LastSuccess), LastError: p.LastError, LastErrorAt: timePtr(p.LastErrorAt),
			Failures: p.Failures, Stopped: p.Stopped, EnabledAt: c.EnabledAt, PrunedBeforeDelivery: p.Pruned,
		}
		if c.IncludeSensitive {
			st.Includes = "states"
		}
		if !c.Enabled() {
			st.State = StateDisabled
		} else if st.State == "" {
			st.State = StateHealthy
		}
		if head > p.Seq {
			st.LagEvents = head - p.Seq
			if next, err := s.opts.Store.ReadFrom(ctx, c.Org, p.Seq, 1, false); err == nil && len(next) == 1 {
				st.LagSeconds = max(0, now.Sub(next[0].RecordedAt).Seconds())
			}
		}
		out = append(out, st)
	}
	sortStatus(out)
	return out, nil
}

func sortStatus(st []Status) {
	rank := func(s Status) int {
		r := slices.Index(Kinds, s.To)
		if !s.Enabled {
			r += 10
		}
		return r
	}
	slices.SortStableFunc(st, func(a, b Status) int {
		if c := strings.Compare(a.Org, b.Org); c != 0 {
			return c
		}
		return rank(a) - rank(b)
	})
}

func (w *worker) batchSize(s *Syncer) int {
	if w.batch > 0 {
		return w.batch
	}
	return s.opts.BatchSize
}

func (w *worker) snapshot() progress {
	w.smu.Lock()
	defer w.smu.Unlock()
	return w.snap
}

func (w *worker) hasSnap() bool {
	w.smu.Lock()
	defer w.smu.Unlock()
	return w.loaded
}

// worker returns the worker of c, creating it.
func (s *Syncer) worker(c storedConfig) *worker {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := wkey{c.Org, c.Kind}
	w := s.workers[k]
	if w == nil {
		w = &worker{cfg: c.Config, retryNow: make(chan struct{}, 1)}
		s.workers[k] = w
	}
	return w
}

// load reads w's progress once; w.mu is held.
func (s *Syncer) load(ctx context.Context, w *worker) error {
	w.smu.Lock()
	loaded := w.loaded
	w.smu.Unlock()
	if loaded {
		return nil
	}
	if _, err := readJSON(ctx, s.opts.Store, progressSetting(w.cfg.Org, w.cfg.Kind), &w.p); err != nil {
		return err
	}
	w.smu.Lock()
	w.snap, w.loaded = w.p, true
	w.smu.Unlock()
	return nil
}

// save makes w's progress durable; w.mu is held.
func (s *Syncer) save(ctx context.Context, w *worker) error {
	w.smu.Lock()
	w.snap, w.loaded = w.p, true
	w.smu.Unlock()
	// A cancelled delivery still records what was acknowledged.
	if err := writeJSON(context.WithoutCancel(ctx), s.opts.Store, progressSetting(w.cfg.Org, w.cfg.Kind), w.p); err != nil {
		return err
	}
	w.dirty, w.savedAt = false, time.Now()
	return nil
}

func (s *Syncer) startLoop(w *worker) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || w.cancel != nil {
		return
	}
	ctx, cancel := context.WithCancel(s.base)
	w.cancel, w.done = cancel, make(chan struct{})
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer close(w.done)
		s.loop(ctx, w)
		s.mu.Lock()
		if w.done != nil && ctx.Err() == nil {
			w.cancel = nil // stopped by itself: RunNow or Enable may restart it
		}
		s.mu.Unlock()
		cancel()
	}()
}

func (s *Syncer) stopLoop(k wkey) {
	s.mu.Lock()
	w := s.workers[k]
	var done chan struct{}
	if w != nil && w.cancel != nil {
		w.cancel()
		w.cancel = nil
		done = w.done
	}
	s.mu.Unlock()
	if done != nil {
		<-done
	}
}

// loop delivers w's events until ctx ends or the destination stops.
func (s *Syncer) loop(ctx context.Context, w *worker) {
	org := w.cfg.Org
	var sub <-chan storage.StoredEvent
	for {
		if sub == nil {
			// Subscribe before reading so no append falls between the two.
			ch, err := s.opts.Store.Subscribe(ctx, storage.Filter{Org: org})
			if err == nil {
				sub = ch
			} else if ctx.Err() != nil {
				return
			}
		}
		w.mu.Lock()
		if err := s.load(ctx, w); err != nil {
			w.mu.Unlock()
			s.log.Error("sync: failed to read the destination's progress", "org", org, "to", w.cfg.Kind, "err", err)
			return
		}
		if w.p.State == StateStopped || w.p.State == StateDisabled {
			w.mu.Unlock()
			return
		}
		// A wake-up from a RunNow before this delivery is stale: it must
		// not cut short the wait after a failure of this one.
		select {
		case <-w.retryNow:
		default:
		}
		err := s.drain(ctx, w, time.Time{})
		if ctx.Err() != nil {
			w.mu.Unlock()
			return
		}
		var wait time.Duration
		if err != nil {
			wait = s.failed(ctx, w, err, slog.LevelWarn)
			if w.p.State == StateStopped {
				w.mu.Unlock()
				return
			}
		}
		w.mu.Unlock()
		if err != nil {
			select {
			case <-ctx.Done():
				return
			case <-s.opts.After(wait):
			case <-w.retryNow:
			}
			continue
		}
		select {
		case <-ctx.Done():
			return
		case _, ok := <-sub:
			if !ok {
				sub = nil // dropped or store closing: subscribe again, then read
				continue
			}
			for drained := false; !drained; { // one read serves every queued wake-up
				select {
				case _, ok := <-sub:
					if !ok {
						sub, drained = nil, true
					}
				default:
					drained = true
				}
			}
		case <-s.opts.After(s.opts.Poll):
		}
	}
}

// drain delivers batches until the destination has everything; w.mu is
// held.
func (s *Syncer) drain(ctx context.Context, w *worker, deadline time.Time) error {
	for {
		n, err := s.deliverOnce(ctx, w)
		if err == nil && n > 0 && !deadline.IsZero() && s.opts.Now().After(deadline) {
			// Stop here if more is pending: the log's head is past the
			// cursor (a batch's size says nothing: it skips what
			// retention pruned).
			head, _, herr := s.opts.Store.Head(ctx, w.cfg.Org)
			switch {
			case herr != nil:
				err = fmt.Errorf("failed to read the log's head: %w", herr)
			case head > w.p.Seq:
				err = errYielded
			default:
				n = 0
			}
		}
		if err != nil || n == 0 {
			if w.dirty {
				// A cursor that could not be saved is the error, also
				// when the drain stops to yield: the next slice would
				// deliver the same events again, for ever.
				if serr := s.save(ctx, w); serr != nil && (err == nil || errors.Is(err, errYielded)) {
					err = fmt.Errorf("failed to save the cursor: %w", serr)
				}
			}
			return err
		}
	}
}

// deliverOnce delivers the next batch and returns how many events it held.
func (s *Syncer) deliverOnce(ctx context.Context, w *worker) (int, error) {
	org := w.cfg.Org
	limit := s.opts.BatchSize
	if w.batch > 0 {
		limit = w.batch
	}
	events, err := s.opts.Store.ReadFrom(ctx, org, w.p.Seq, limit, w.cfg.IncludeSensitive)
	if err != nil {
		return 0, fmt.Errorf("failed to read the log: %w", err)
	}
	if len(events) == 0 {
		return 0, nil
	}
	if w.dest == nil {
		var secret []byte
		if w.cfg.HasSecret && s.opts.Keystore != nil {
			if secret, err = s.opts.Keystore.Get(ctx, SecretName(org, w.cfg.Kind)); err != nil {
				return 0, fmt.Errorf("failed to read the destination's secret: %w", err)
			}
		}
		if w.dest, err = s.opts.Open(ctx, w.cfg, secret); err != nil {
			return 0, fmt.Errorf("failed to set up the destination: %w", err)
		}
	}
	b := Batch{Org: org, Events: events}
	if in := s.opts.Integrity; in != nil {
		cp, err := in.LatestCheckpoint(ctx, org)
		switch {
		case errors.Is(err, storage.ErrNotFound):
		case err != nil:
			return 0, fmt.Errorf("failed to read the newest checkpoint: %w", err)
		case cp.Size > 0:
			b.Checkpoint = &cp
			if w.p.AckedSize > 0 && w.p.AckedSize <= cp.Size {
				b.PrevSize = w.p.AckedSize
				if w.p.AckedSize < cp.Size {
					if b.Proof, err = in.ConsistencyProof(ctx, org, w.p.AckedSize, cp.Size); err != nil {
						return 0, fmt.Errorf("failed to prove consistency from size %d: %w", w.p.AckedSize, err)
					}
				}
			}
		}
	}
	ack, err := w.dest.Deliver(ctx, b)
	if err != nil {
		return 0, err
	}
	prev := w.p.Seq
	// An acknowledgement beyond the batch is believed up to the local head:
	// the destination had those events from an earlier delivery.
	next := ack.Seq
	if next > b.Last() {
		head, _, err := s.opts.Store.Head(ctx, org)
		if err != nil {
			return 0, fmt.Errorf("failed to read the head of the log: %w", err)
		}
		next = min(next, max(head, b.Last()))
	}
	if len(ack.Checkpoint) > 0 && s.opts.Integrity != nil {
		size, err := s.witness(ctx, org, ack.Checkpoint, b.Checkpoint)
		if err != nil {
			return 0, err
		}
		w.p.AckedSize = size
	}
	if next <= prev {
		if next < prev {
			// The destination lost events it had acknowledged: send them again.
			s.log.Warn("sync: the destination acknowledged less than before; resending", "org", org, "to", w.cfg.Kind, "ack", next, "cursor", prev)
			w.p.Seq = next
			if err := s.save(ctx, w); err != nil {
				return 0, err
			}
		}
		return 0, fmt.Errorf("%w: it stored nothing of seq %d–%d (acknowledged seq %d)", errNoProgress, b.First(), b.Last(), ack.Seq)
	}
	// The seqs the cursor passes that the batch did not hold were pruned
	// by retention (ReadFrom skips tombstones): this destination never
	// gets them.
	if lo, hi := max(prev, w.p.CountedTo), min(next, b.Last()); hi > lo {
		missing := hi - lo
		for _, e := range events {
			if e.Seq > lo && e.Seq <= hi {
				missing--
			}
		}
		w.p.Pruned += missing
	}
	w.p.CountedTo = max(w.p.CountedTo, next)
	w.p.Seq = next
	w.p.LastSuccess = s.opts.Now().UTC()
	changed := w.p.Failures > 0 || w.p.State != StateHealthy
	if changed {
		failures, audited := w.p.Failures, w.p.Audited
		w.p.State, w.p.Failures, w.p.Stopped, w.p.Alert, w.p.Audited = StateHealthy, 0, "", false, false
		if audited {
			_ = s.record(ctx, org, "audit.sync_recovered", map[string]any{"destination": describe(w.cfg), "failures": failures})
		}
	}
	if !changed && time.Since(w.savedAt) < saveEvery {
		w.dirty = true
		w.smu.Lock()
		w.snap = w.p
		w.smu.Unlock()
		return len(events), nil
	}
	if err := s.save(ctx, w); err != nil {
		return 0, fmt.Errorf("failed to save the cursor: %w", err)
	}
	return len(events), nil
}

// InconsistencyError is an inconsistency between the local log and a
// checkpoint a destination witnessed: the local log was rewritten, rolled
// back or truncated. It matches ErrInconsistent.
type InconsistencyError struct {
	Size   uint64 // the size of the witnessed checkpoint
	Reason string
	// Note is the witnessed checkpoint, verbatim (a signed note of this
	// installation), when the destination returned one.
	Note []byte
}

func (e *InconsistencyError) Error() string { return ErrInconsistent.Error() + ": " + e.Reason }
func (e *InconsistencyError) Unwrap() error { return ErrInconsistent }

// witness checks a checkpoint the destination acknowledged against the
// local log and returns its size.
func (s *Syncer) witness(ctx context.Context, org string, note []byte, sent *Checkpoint) (uint64, error) {
	in := s.opts.Integrity
	acked, err := in.OpenCheckpoint(ctx, org, note)
	if err != nil {
		return 0, fmt.Errorf("%w: its checkpoint does not verify: %v", ErrProtocol, err)
	}
	local := sent
	if local == nil || local.Size < acked.Size {
		cp, err := in.LatestCheckpoint(ctx, org)
		if err != nil && !errors.Is(err, storage.ErrNotFound) {
			return 0, fmt.Errorf("failed to read the newest checkpoint: %w", err)
		}
		local = &cp
	}
	switch {
	case acked.Size > local.Size:
		return 0, &InconsistencyError{acked.Size, fmt.Sprintf("the destination holds a checkpoint of size %d signed by this installation, but the local log has only %d", acked.Size, local.Size), note}
	case acked.Size == local.Size:
		if acked.Root != local.Root {
			return 0, &InconsistencyError{acked.Size, fmt.Sprintf("the destination's checkpoint of size %d has another root than the local log", acked.Size), note}
		}
	case acked.Size > 0:
		proof, err := in.ConsistencyProof(ctx, org, acked.Size, local.Size)
		if err != nil {
			return 0, fmt.Errorf("failed to prove consistency from size %d: %w", acked.Size, err)
		}
		if err := tlog.VerifyConsistency(acked.Size, local.Size, proof, acked.Root, local.Root); err != nil {
			return 0, &InconsistencyError{acked.Size, fmt.Sprintf("the destination's checkpoint of size %d is not consistent with the local checkpoint of size %d: %v", acked.Size, local.Size, err), note}
		}
	}
	return acked.Size, nil
}

// auditFailuresAfter is how many failures in a row a retried destination
// has before its failure is recorded in the log.
const auditFailuresAfter = 3

// failed records a failed delivery in w's status and returns how long to
// wait before retrying; w.mu is held. Failures are recorded in the log once
// per change of state.
func (s *Syncer) failed(ctx context.Context, w *worker, err error, level slog.Level) time.Duration {
	org, now := w.cfg.Org, s.opts.Now().UTC()
	w.p.Failures++
	w.p.LastError, w.p.LastErrorAt = err.Error(), now
	prevState := w.p.State
	var we *InconsistencyError
	var se *StatusError
	switch {
	case errors.As(err, &we):
		w.p.State, w.p.Stopped, w.p.Alert = StateStopped, "integrity alert: "+we.Reason, true
	case errors.As(err, &se) && se.Code == http.StatusRequestEntityTooLarge && w.batchSize(s) > 1:
		// Too large for the receiver: retry with half as many events.
		w.batch = w.batchSize(s) / 2
		w.p.State = StateRetrying
	case errors.Is(err, ErrRejected) || errors.Is(err, ErrProtocol):
		w.p.State, w.p.Stopped = StateStopped, "rejected: "+err.Error()
	default:
		w.p.State = StateRetrying
	}
	// One event per change of state, and none for a destination that
	// flaps (a failure between successes): a retried failure is audited
	// from its auditFailuresAfter-th time in a row, a stop at once.
	if w.p.State == StateStopped && prevState != StateStopped ||
		w.p.State == StateRetrying && !w.p.Audited && w.p.Failures >= auditFailuresAfter {
		w.p.Audited = true
		_ = s.record(ctx, org, "audit.sync_failed", map[string]any{"destination": describe(w.cfg), "error": truncate(w.p.State+": "+err.Error(), 1000)})
	}
	if we != nil && s.opts.Alert != nil {
		// After the record: the alert refuses every later append to org.
		if aerr := s.opts.Alert(context.WithoutCancel(ctx), org, describe(w.cfg), we); aerr != nil {
			s.log.Error("sync: failed to raise the integrity alert", "org", org, "err", aerr)
		}
	}
	s.log.Log(ctx, level, "sync: delivery failed", "org", org, "to", w.cfg.Kind, "state", w.p.State, "failures", w.p.Failures, "err", err)
	if serr := s.save(ctx, w); serr != nil {
		s.log.Error("sync: failed to save the destination's status", "org", org, "to", w.cfg.Kind, "err", serr)
	}
	var retryAfter time.Duration
	if errors.As(err, &se) {
		retryAfter = se.RetryAfter
	}
	return s.opts.Backoff.Delay(w.p.Failures, retryAfter)
}

func (s *Syncer) record(ctx context.Context, org, actionType string, meta map[string]any) error {
	if s.opts.Record == nil {
		return nil
	}
	return s.opts.Record(context.WithoutCancel(ctx), org, actionType, meta)
}

// describe names a destination in audit events: its kind and target,
// without credentials or query strings.
func describe(c Config) string { return string(c.Kind) + " " + c.ShownTarget() }

// describeSettings is describe with what the destination is sent and how
// it keeps it: "webhook https://… (ocsf, with decrypted states)".
func describeSettings(c Config) string {
	var what []string
	if c.Format != "" {
		what = append(what, c.Format)
	}
	if c.IncludeSensitive {
		what = append(what, "with decrypted states")
	}
	if c.ObjectLockMode != "" {
		what = append(what, fmt.Sprintf("object lock %s %d days", c.ObjectLockMode, c.ObjectLockDays))
	}
	if len(what) == 0 {
		return describe(c)
	}
	return describe(c) + " (" + strings.Join(what, ", ") + ")"
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") + "…"
}
