package storage

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	badger "github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/options"
)

// Options tune a Store. The zero value is a sensible default for a desktop
// with a log of millions of events.
type Options struct {
	// Logger receives Badger's and the store's log lines; nil discards them.
	Logger *slog.Logger
	// Now is the clock recordedAt comes from; nil means time.Now.
	Now func() time.Time
	// Catalogue validates events; nil loads the built-in catalogue.
	Catalogue *Catalogue
	// RetentionGrace is how long after a policy change a shortened window
	// takes effect (SetRetention): 0 means DefaultRetentionGrace, a
	// negative value at once (tests).
	RetentionGrace time.Duration

	// MemTableSize is Badger's memtable size (default 8 MiB). It bounds
	// both memory and the size of one group commit (15% of it: about
	// 1 MB of index entries, a few hundred events in one Append).
	MemTableSize int64
	// NumMemtables (default 2).
	NumMemtables int
	// BlockCacheSize and IndexCacheSize (default 16 MiB each).
	BlockCacheSize, IndexCacheSize int64
	// ValueThreshold: values at least this large go to the value log
	// (default 1 KiB, so records live there and the LSM holds only indexes).
	ValueThreshold int64
	// MaxGroupEvents caps the events of one group commit (default 2048);
	// one caller's batch is never split, so a larger batch commits alone.
	MaxGroupEvents int
	// GCInterval is how often value-log GC runs (default 10 minutes;
	// negative disables it).
	GCInterval time.Duration
	// MappedResident bounds the resident pages of the store's
	// memory-mapped files (default 32 MiB; negative leaves them to the
	// kernel). See mapped.go.
	MappedResident int64
	// SubscriberBuffer is each subscription's channel capacity (default 1024).
	SubscriberBuffer int

	// CheckpointEvery: an organization gets a signed checkpoint at least
	// every this many events (default 1000).
	CheckpointEvery int
	// CheckpointInterval: and at most this long after a change (default 60s).
	CheckpointInterval time.Duration
	// HeartbeatInterval: and at least this often even with no events, as a
	// re-signed checkpoint of the same tree (default 24h).
	HeartbeatInterval time.Duration

	// disableIntegrity turns the Merkle tree and checkpoints off; only the
	// benchmark that measures their cost sets it.
	disableIntegrity bool
	// treeStride is the tree layout of a new database (TreeStride
	// when 0); tests set 1 to write the first layout.
	treeStride uint
	// valueLogFileSize overrides the value log files' 64 MiB, for tests
	// that need several files without writing gigabytes.
	valueLogFileSize int64
}

func (o Options) withDefaults() (Options, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.RetentionGrace == 0 {
		o.RetentionGrace = DefaultRetentionGrace
	}
	if o.Catalogue == nil {
		c, err := LoadCatalogue()
		if err != nil {
			return o, fmt.Errorf("failed to load the action-type catalogue: %w", err)
		}
		o.Catalogue = c
	}
	if o.MemTableSize == 0 {
		o.MemTableSize = 8 << 20
	}
	if o.NumMemtables == 0 {
		o.NumMemtables = 2
	}
	if o.BlockCacheSize == 0 {
		o.BlockCacheSize = 16 << 20
	}
	if o.IndexCacheSize == 0 {
		o.IndexCacheSize = 16 << 20
	}
	if o.ValueThreshold == 0 {
		o.ValueThreshold = 1 << 10
	}
	if o.MaxGroupEvents == 0 {
		o.MaxGroupEvents = 2048
	}
	if o.GCInterval == 0 {
		o.GCInterval = 10 * time.Minute
	}
	if o.MappedResident == 0 {
		o.MappedResident = 32 << 20
	}
	if o.SubscriberBuffer == 0 {
		o.SubscriberBuffer = 1024
	}
	if o.CheckpointEvery <= 0 {
		o.CheckpointEvery = 1000
	}
	if o.CheckpointInterval <= 0 {
		o.CheckpointInterval = 60 * time.Second
	}
	if o.HeartbeatInterval <= 0 {
		o.HeartbeatInterval = 24 * time.Hour
	}
	return o, nil
}

// SuggestedMemoryLimit is the Go memory limit (runtime/debug.SetMemoryLimit)
// the app runs the store under, and the benchmarks with it. With the
// default Options the store's heap is mostly Badger's: two 8 MiB memtables,
// the block and index caches (16 MiB each) and compaction buffers; past the
// limit the collector runs more often instead of letting the heap double.
// The limit is soft: a compaction of a large log holds its table builders'
// buffers live (tens of MiB while 1M events are appended), and those it
// cannot collect.
//
// Appending to a large log is where the limit binds: from a few hundred
// thousand events on, Badger's compactions keep ~130 MB live and the
// collector ran about 30 times a second. Appending 1M events
// (BenchmarkAppendRSS) ran at 8,353 events/s with a peak RSS of 233 MB
// under 192 MiB, at 9,965 events/s and 265 MB under 224 MiB, and at
// 10,231 events/s and 313 MB (over the 300 MB budget) under 256 MiB.
const SuggestedMemoryLimit = 224 << 20

// SuggestedScanMemoryLimit is the memory limit of a process that scans
// the whole log once (UseScanRuntime): its collector target lets the heap
// grow to the limit, and 192 MiB kept keyless verify of 1M events at a
// peak RSS of 240-246 MB.
const SuggestedScanMemoryLimit = 192 << 20

// SuggestedGCPercent is the collector's target (runtime/debug.SetGCPercent)
// the app runs the store under, and the benchmarks with it: the heap grows
// to 1.5 times what is live between collections instead of Go's default 2
// times. An export of 1M events holds about 55 MB live (most of it Badger's
// caches and memtables); at 100 its resident heap peaked at 118 MB, at 50
// at 85 MB, for under 2% more of its CPU in the collector.
const SuggestedGCPercent = 50

// UseSuggestedRuntime applies SuggestedMemoryLimit and SuggestedGCPercent,
// each unless the user chose their own with GOMEMLIMIT or GOGC, and returns
// a function that restores the settings found. The app calls it at start,
// the benchmarks for their duration.
func UseSuggestedRuntime() (restore func()) {
	return useRuntime(SuggestedMemoryLimit, SuggestedGCPercent)
}

func useRuntime(limit int64, gcPercent int) (restore func()) {
	var undo []func()
	if os.Getenv("GOMEMLIMIT") == "" {
		old := debug.SetMemoryLimit(limit)
		undo = append(undo, func() { debug.SetMemoryLimit(old) })
	}
	if os.Getenv("GOGC") == "" {
		old := debug.SetGCPercent(gcPercent)
		undo = append(undo, func() { debug.SetGCPercent(old) })
	}
	return func() {
		for _, u := range undo {
			u()
		}
	}
}

// SuggestedScanGCPercent is the collector's target for a process that
// runs one scan of the whole log and exits (the `verify` command), under
// SuggestedScanMemoryLimit. Nearly all a scan allocates is garbage
// at once: Badger allocates a buffer for every value it decrypts, about
// 2 KB per record, some 500 MB a second. At SuggestedGCPercent the
// collector then runs a dozen times a second over the store's live
// caches; at 200 the memory limit mostly decides when it runs. Keyless
// verify of 1M events took 8.7–9.6 µs of CPU per event at 50 and 7.5–8.2
// at 200, at a peak RSS of 181–230 MB against 240–246 MB
// (BenchmarkVerify1M). An export gained less (5–13%) for 80 MB more, so it
// keeps SuggestedGCPercent, as does the desktop app, which runs for days.
const SuggestedScanGCPercent = 200

// UseScanRuntime applies SuggestedScanMemoryLimit and SuggestedScanGCPercent,
// each unless the user chose their own with GOMEMLIMIT or GOGC, and returns
// a function that restores the settings found. A command that scans the
// whole log once calls it for its duration.
func UseScanRuntime() (restore func()) {
	return useRuntime(SuggestedScanMemoryLimit, SuggestedScanGCPercent)
}

// Store is one profile's audit log. It is safe for concurrent use. Its
// methods only add events and read them: there is no way to change or remove
// a recorded event through this API.
type Store struct {
	db    *badger.DB
	opts  Options
	log   *slog.Logger
	keys  *keyring
	rotMu sync.Mutex // serializes data key rotations (RotateDataKey)
	dedup []byte
	dir   string
	// lockFile is Badger's lock file in dir as it was when the store
	// opened it (nil where there is none): present and the same file
	// while the database's files are where the store opened them.
	lockFile os.FileInfo
	// diskFree reports the free space of dir's file system (a test's
	// stand-in, or the real one).
	diskFree func(dir string) (uint64, error)
	disk     diskCheck
	// stride is the database's tree layout: 1, every tree node on its
	// own, or TreeStride, tiles (integrity.go, tiles.go).
	stride uint

	reqs   chan *appendRequest
	cancel context.CancelFunc
	wg     sync.WaitGroup

	closeMu sync.RWMutex // held for reading while a request is handed to the writer, or appended directly
	closed  bool

	subs subscribers

	// Text sketches (sketch.go): whether the loop runs, when the last
	// Append came, the blocks whose sketch a search could not read, and
	// those with a record the loop could not.
	sketching        atomic.Bool
	lastAppend       atomic.Int64
	sketchMu         sync.Mutex
	sketchRedo       map[string][]uint64
	sketchUnreadable map[string][]uint64

	// integ is the Merkle tree, checkpoint and anchor state (integrity.go).
	integ *integrity

	// Writer-owned state.
	heads    map[string]head
	counters map[string]uint64            // user counters, by key
	packs    map[string]map[string]uint64 // hourly packs, by key (format.go)
	// failed is set when a commit or sync failed: the store refuses
	// appends until reopened.
	failed atomic.Pointer[error]
	// The append pipeline (append.go). wmu guards wv and what the writer
	// reads and changes (heads, counters, packs, integ.trees and rows)
	// while it builds a group.
	wmu sync.Mutex
	// flattenAlone is how long ReclaimSpace lets its compaction run
	// alongside appends before it holds them (wmu) so that it can end.
	flattenAlone time.Duration
	wv           *writerView
	writerWaits  atomic.Int32 // the writer goroutine waits for wmu
	bgCtx        context.Context
	commitc      chan *inflight
	syncc        chan *inflight
	settled      chan *inflight
	syncing      atomic.Int32 // groups handed to the syncer and not yet answered
	// Groups built by the writer goroutine, of them handed to the
	// committer, and built by lone Appends (tests).
	writerGroups, pipelinedGroups, directGroups atomic.Int64
	commits                                     atomic.Int64 // Badger transactions of appends

	// beforeCommit is a test hook run before each group commit.
	beforeCommit func() error
	// afterVerifySnapshot is a test hook run by Verify once its snapshot
	// is taken.
	afterVerifySnapshot func()

	// ret is the retention policy and sweep machinery (retention.go).
	ret retentionState

	// mapped bounds the resident pages of Badger's files (mapped.go).
	mapped mappedState
}

// Open opens (or creates) the store in dir with keys from ks.
//
// On first start, when dir holds no database, Open creates the master key in
// ks. When dir already holds a database and ks has no master key, Open fails
// with an error matching ErrKeyNotFound rather than creating a new key, which
// would make the existing log unreadable. A master key that does not open the
// database gives ErrWrongKey.
func Open(ctx context.Context, dir string, ks Keystore, opts Options) (*Store, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	master, err := ks.Get(ctx, KeyMaster)
	unlock := func() {}
	defer func() { unlock() }()
	if errors.Is(err, ErrKeyNotFound) && !hasData(dir) {
		// Two processes starting a new profile at once (the app and a
		// producer's first append) must not each create a master key: the
		// second Set would replace the key the first one's database is
		// encrypted with, and the log would be lost. The first to take
		// the lock creates the key and holds the lock until its database
		// exists (Badger's own lock then keeps the other out); the other
		// then finds the key.
		if unlock, err = lockInit(dir); err != nil {
			return nil, err
		}
		master, err = ks.Get(ctx, KeyMaster)
	} else if errors.Is(err, ErrKeyNotFound) {
		// The log exists: made, maybe, by a process that stored its key
		// after the read above. Read again before calling the key lost.
		master, err = ks.Get(ctx, KeyMaster)
	}
	switch {
	case errors.Is(err, ErrKeyNotFound):
		if hasData(dir) {
			return nil, fmt.Errorf("the master key %q is missing from the keystore, but %s already holds an audit log: "+
				"restore the key from the keychain backup of this profile, or move the directory aside to start a new log: %w",
				KeyMaster, dir, err)
		}
		master = make([]byte, 32)
		rand.Read(master)
		if err := ks.Set(ctx, KeyMaster, master); err != nil {
			return nil, fmt.Errorf("failed to store the new master key in the keystore: %w", err)
		}
		opts.Logger.Info("created a new master key", "dir", dir)
	case err != nil:
		return nil, fmt.Errorf("failed to read the master key from the keystore: %w", err)
	}
	if len(master) != 32 {
		return nil, fmt.Errorf("the master key in the keystore has %d bytes, want 32: %w", len(master), ErrWrongKey)
	}
	dk, err := deriveKeys(master)
	if err != nil {
		return nil, err
	}
	existing := hasData(dir)
	bo := badgerOptions(dir, opts, dk.badger)
	db, err := badger.Open(bo)
	unlock()
	unlock = func() {}
	if err != nil {
		if errors.Is(err, badger.ErrEncryptionKeyMismatch) || strings.Contains(err.Error(), badger.ErrEncryptionKeyMismatch.Error()) {
			return nil, fmt.Errorf("the master key in the keystore does not open the audit log in %s "+
				"(it belongs to another profile or was replaced): restore the original key: %w", dir, ErrWrongKey)
		}
		if strings.Contains(err.Error(), "Cannot acquire directory lock") {
			return nil, &LockedError{Dir: dir}
		}
		return nil, fmt.Errorf("failed to open the audit log in %s: %w", dir, err)
	}
	stride, err := checkFormat(db, opts.treeStride)
	if err != nil {
		db.Close()
		return nil, err
	}
	bg, cancel := context.WithCancel(context.Background())
	s := &Store{
		db:       db,
		opts:     opts,
		log:      opts.Logger,
		keys:     newKeyring(db, dk.kek, ks, opts.Now),
		dedup:    dk.dedup,
		stride:   stride,
		dir:      dir,
		lockFile: lockFileInfo(dir),
		diskFree: diskFree,
		reqs:     make(chan *appendRequest, 256),
		cancel:   cancel,
		bgCtx:    bg,
		heads:    map[string]head{},
		counters: map[string]uint64{},
		packs:    map[string]map[string]uint64{},
	}
	if err := s.openIntegrity(ctx, ks, existing); err != nil {
		cancel()
		db.Close()
		return nil, err
	}
	s.wv = &writerView{s: s, pending: map[string]pendingID{}}
	s.flattenAlone = time.Minute
	s.commitc = make(chan *inflight, 2)
	s.syncc = make(chan *inflight, 4)
	s.settled = make(chan *inflight, 8)
	s.wg.Add(3)
	go func() { defer s.wg.Done(); s.writer(bg) }()
	go func() { defer s.wg.Done(); s.committer() }()
	go func() { defer s.wg.Done(); s.syncer() }()
	if opts.GCInterval > 0 {
		s.wg.Add(1)
		go func() { defer s.wg.Done(); s.gcLoop(bg) }()
	}
	if opts.MappedResident > 0 {
		s.mapped.wake = make(chan struct{}, 1)
		s.wg.Add(1)
		go func() { defer s.wg.Done(); s.mappedLoop(bg) }()
	}
	if !opts.disableIntegrity {
		s.wg.Add(1)
		go func() { defer s.wg.Done(); s.checkpointLoop(bg) }()
	}
	return s, nil
}

// badgerOptions is how the store opens Badger (the benchmarks open raw
// Badger the same way).
func badgerOptions(dir string, opts Options, key []byte) badger.Options {
	o := badger.DefaultOptions(dir).
		WithLogger(badgerLogger{opts.Logger}).
		// Encryption at rest; Badger then needs an index cache.
		WithEncryptionKey(key).
		WithIndexCacheSize(opts.IndexCacheSize).
		WithBlockCacheSize(opts.BlockCacheSize).
		// Small memtables (Badger's default is 64 MiB, five of them):
		// each is a Go-heap arena, and one group commit may use 15% of one.
		WithMemTableSize(opts.MemTableSize).
		WithNumMemtables(opts.NumMemtables).
		// Records (about 2 KB) go to the value log, so the LSM tree that
		// compactions rewrite holds only keys, index entries and pointers.
		WithValueThreshold(opts.ValueThreshold).
		// Two compactors keep level 0 from stalling writes on two cores;
		// each compaction holds up to a dozen table builders, the heap's
		// peaks (see the table sizes below).
		WithNumCompactors(2).
		WithNumLevelZeroTables(3).
		WithNumLevelZeroTablesStall(8).
		// Badger reads the newest value log whole, through its mapping,
		// every time it opens the database: 64 MiB files (its default is
		// 1 GiB) keep that to ~60 ms and 64 MB of resident pages, where
		// 256 MiB ones took ~180 ms and put up to 200 MB in the RSS of
		// every command that opens the store.
		WithValueLogFileSize(64 << 20).
		// Every commit returns synced: Badger syncs the value log and the
		// memtable's log before it answers, and syncs a value log or a
		// memtable's log it moves on from. DB.Sync after a commit would
		// miss the latter, so that a group whose commit (or a concurrent
		// writer's) rotated either file was answered before all its bytes
		// were on disk.
		WithSyncWrites(true).
		// One writer: there are no conflicting transactions to detect.
		WithDetectConflicts(false).
		// A damaged table block is an error where it is read (verify
		// reports it), not a panic in an iterator or a value that reads as
		// another key or id: each block's CRC-32C is checked as it is read
		// from disk, once, before the block cache keeps it.
		WithChecksumVerificationMode(options.OnBlockRead).
		WithMetricsEnabled(false).
		WithNumGoroutines(2)
	// A table builder holds its whole table in memory, and a compaction
	// runs up to a dozen of them at once: 1 MiB tables on every level
	// (Badger's default doubles them per level, to 8 MiB and more at 1M
	// events) keep a compaction's builders to tens of MB instead of
	// hundreds, and no compression spares each block a second, compressed
	// copy. Appending 1M events peaked at 654 MB RSS with Badger's table
	// defaults and 16 MiB memtables, and at 263 MB with these
	// (BenchmarkAppendRSS), appending a third faster.
	if opts.valueLogFileSize > 0 {
		o.ValueLogFileSize = opts.valueLogFileSize
	}
	o.TableSizeMultiplier = 1
	o.BaseTableSize = 1 << 20
	o.Compression = options.None
	return o
}

// badgerLockFile is the file Badger creates in its directory, and keeps,
// while it has the database open.
const badgerLockFile = "LOCK"

func lockFileInfo(dir string) os.FileInfo {
	fi, err := os.Stat(filepath.Join(dir, badgerLockFile))
	if err != nil {
		return nil
	}
	return fi
}

// stillThere fails once the database's files are no longer where the
// store opened them: the directory removed, renamed or replaced, or
// emptied. Badger keeps writing to the files it has open, which are then
// unlinked, so that appends would be answered as durable and lost when
// the store closes. One stat per commit, after its sync and before its
// callers are answered, and one per other write (update).
func (s *Store) stillThere() error {
	if s.lockFile == nil {
		return nil
	}
	fi, err := os.Stat(filepath.Join(s.dir, badgerLockFile))
	if err == nil && os.SameFile(fi, s.lockFile) {
		return nil
	}
	err = fmt.Errorf("the audit log's files in %s were removed or replaced while it was open: it refuses appends, "+
		"and events answered since the removal may be lost; restore the directory from a backup, or restart to open what is there now: %w", s.dir, ErrRemoved)
	s.setFailed(err)
	return err
}

// update is db.Update for the store's writes other than appends (alerts,
// settings, retention, the tree's repairs): refused, as appends are, once
// the database's files are gone (stillThere) or the disk has no room for
// a write (roomFor; these are small, a retention batch at most a few MB).
func (s *Store) update(fn func(txn *badger.Txn) error) error {
	if err := s.stillThere(); err != nil {
		return err
	}
	if err := s.roomFor(1 << 20); err != nil {
		return err
	}
	return s.db.Update(fn)
}

// diskCheck is the last answer of diskFree, and what was appended since.
type diskCheck struct {
	mu          sync.Mutex
	at          time.Time
	free, spent uint64
}

// diskCheckEvery is how long an answer of diskFree is used for.
const diskCheckEvery = 100 * time.Millisecond

// diskMargin is the free space a commit leaves at least: room for Badger's
// own files (its manifest, a compaction's tables).
const diskMargin = 16 << 20

// roomFor fails, writing nothing, when the disk holding the log lacks
// room for an append of size bytes (as a commit counts them; the margin
// covers the other appends of its group, at most 15% of a memtable).
// Badger writes its value log and its memtable's log through memory
// mappings of files made sparse: a write to a page the full disk cannot
// back is not an error but a SIGBUS that ends the process. Each byte goes
// to both logs at most, so twice size and a margin must be free; an error
// of the check itself is not a refusal (the commit then meets what the
// disk says).
func (s *Store) roomFor(size int64) error {
	need := uint64(2*size) + diskMargin
	d := &s.disk
	d.mu.Lock()
	defer d.mu.Unlock()
	// The last answer, less what was appended since, while it is recent
	// and far from the limit: a single append need not wait for a
	// statfs, and the margin covers what others write meanwhile.
	if time.Since(d.at) < diskCheckEvery && d.free > d.spent+need+diskMargin {
		d.spent += uint64(2 * size)
		return nil
	}
	free, err := s.diskFree(s.dir)
	if err != nil {
		return nil
	}
	d.at, d.free, d.spent = time.Now(), free, uint64(2*size)
	if free >= need {
		return nil
	}
	return fmt.Errorf("the disk holding the audit log (%s) has %s free, and a commit of %s needs %s: nothing was written; "+
		"free some space and append again: %w", s.dir, mib(free), mib(uint64(size)), mib(need), ErrDiskFull)
}

func mib(n uint64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

// Exists reports whether dir holds an audit log (a Badger database), so
// that a command that only reads one need not create it.
func Exists(dir string) bool { return hasData(dir) }

// hasData reports whether dir already holds a Badger database.
// initLockName is the file in a store's directory that Open locks while it
// creates a master key and the database (Badger's LOCK is Badger's own).
const initLockName = "INIT.lock"

// lockInit creates dir if need be and takes the lock on its initLockName,
// waiting for another process that holds it; unlock releases it.
func lockInit(dir string) (unlock func(), err error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("failed to create the audit log's directory: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(dir, initLockName), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("failed to create the audit log's first-start lock: %w", err)
	}
	if err := lockFile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("failed to lock %s: %w", f.Name(), err)
	}
	return func() { f.Close() }, nil
}

func hasData(dir string) bool {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return false
	}
	for _, e := range ents {
		n := e.Name()
		if n == "MANIFEST" || n == "KEYREGISTRY" || strings.HasSuffix(n, ".sst") || strings.HasSuffix(n, ".vlog") {
			return true
		}
	}
	return false
}

// checkFormat records the layout version in a new database and refuses one
// written in a layout this code does not know. It returns the database's
// tree stride: layout 1 (every tree node stored on its own) is stride 1,
// layout 2 (tree tiles) stride 4. An earlier program, which reads only
// layout 1, refuses a layout-2 database rather than writing nodes where
// the tiles are.
func checkFormat(db *badger.DB, newStride uint) (uint, error) {
	if newStride == 0 {
		newStride = TreeStride
	}
	key := metaKey(metaFormat)
	var layout uint32
	err := db.Update(func(txn *badger.Txn) error {
		item, err := txn.Get(key)
		if errors.Is(err, badger.ErrKeyNotFound) {
			layout = layoutNodes
			if newStride == TreeStride {
				layout = layoutTiles
			}
			return txn.Set(key, binary.BigEndian.AppendUint32(nil, layout|formatCheckpointTime))
		}
		if err != nil {
			return fmt.Errorf("failed to read the format version: %w", err)
		}
		var timed bool
		err = item.Value(func(v []byte) error {
			layout, timed, err = decodeFormat(v)
			return err
		})
		if err != nil || timed {
			return err
		}
		// This program signs checkpoints with their time: from now on
		// programs that cannot read them refuse the log.
		return txn.Set(key, binary.BigEndian.AppendUint32(nil, layout|formatCheckpointTime))
	})
	return strideOf(layout), err
}

// decodeFormat decodes the stored format version: a tree layout, and
// whether checkpoints may carry their time (formatCheckpointTime).
func decodeFormat(v []byte) (layout uint32, timed bool, err error) {
	var f uint32
	if len(v) == 4 {
		f = binary.BigEndian.Uint32(v)
	}
	layout, timed = f&^formatCheckpointTime, f&formatCheckpointTime != 0
	if len(v) != 4 || layout != layoutNodes && layout != layoutTiles {
		return 0, false, fmt.Errorf("the audit log has format %x, this program reads formats %08x and %08x, and %08x and %08x (with timed checkpoints): "+
			"a newer program wrote it, or the value is damaged: %w",
			v, layoutNodes, layoutTiles, layoutNodes|formatCheckpointTime, layoutTiles|formatCheckpointTime, errCorrupt)
	}
	return layout, timed, nil
}

// strideOf is the tree stride of a layout.
func strideOf(layout uint32) uint {
	if layout == layoutTiles {
		return TreeStride
	}
	return 1
}

// Close stops the writer and background work and closes the database.
// Appends queued before Close are committed; later ones get ErrClosed.
func (s *Store) Close() error {
	s.closeMu.Lock()
	if s.closed {
		s.closeMu.Unlock()
		return nil
	}
	s.closed = true
	close(s.reqs)
	s.closeMu.Unlock()
	// The writer commits what is queued with a context this does not end.
	s.cancel()
	s.wg.Wait()
	if err := s.stillThere(); err != nil {
		// Badger's close would flush its memtable into a directory that
		// is gone, retrying for ever: leave its files and goroutines to
		// the process's exit instead, and write no final checkpoint.
		s.subs.closeAll()
		return fmt.Errorf("failed to close the audit log: %w", err)
	}
	s.finalCheckpoints()
	s.subs.closeAll()
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("failed to close the audit log: %w", err)
	}
	return nil
}

// gcLoop runs Badger's value-log GC until ctx ends. The log is append-only,
// so GC rarely finds garbage; it reclaims space after compactions of
// overwritten heads and counters.
func (s *Store) gcLoop(ctx context.Context) {
	t := time.NewTicker(s.opts.GCInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			for ctx.Err() == nil && s.runValueLogGC(0.5) == nil {
			}
		}
	}
}

// KeyRotation is what RotateDataKey did.
type KeyRotation struct {
	KeyID         uint32 // the new data key, which seals new states
	PreviousKeyID uint32 // the key it succeeds
	// KeyEncryptionKey is the keystore name (KeyKEK) of the new
	// key-encryption key, which wraps the new data key and, again, the
	// Rewrapped earlier ones.
	KeyEncryptionKey string
	Rewrapped        int
}

// RotateDataKey starts a new data key for org and a new key-encryption key
// (KEK) that wraps it and re-wraps the organization's earlier data keys
// (keys.go). Later appends seal with the new data key; earlier records keep
// their own keys, which stay, and are not rewritten. The new KEK is stored
// in the keystore first; the keys are stored in the commit of the event
// that records the rotation (audit.key_rotated, by actor): a crash leaves
// both or neither.
// While org has an integrity alert it fails with ErrIntegrityAlert, as
// appends do, since the rotation could not be recorded.
func (s *Store) RotateDataKey(ctx context.Context, org, actor string) (KeyRotation, error) {
	if !validOrg(org) {
		return KeyRotation{}, fmt.Errorf("organization id %q is not valid: %w", org, ErrInvalidEvent)
	}
	s.closeMu.RLock()
	closed := s.closed
	s.closeMu.RUnlock()
	if closed {
		return KeyRotation{}, ErrClosed
	}
	if err := s.orgAlertGate(ctx, org); err != nil {
		return KeyRotation{}, err
	}
	s.rotMu.Lock()
	defer s.rotMu.Unlock()
	// The new KEK's name must be one no keystore entry has: an entry
	// there may wrap keys committed by a rotation answered as failed, or
	// those of another copy of this log.
	gen, err := s.keys.generation(ctx, org)
	if err == nil {
		gen, err = s.keys.freeGeneration(ctx, org, gen+1)
	}
	if err != nil {
		return KeyRotation{}, fmt.Errorf("failed to rotate the data key of organization %q (nothing changed): %w", org, err)
	}
	rot, err := s.keys.rotate(ctx, org, gen)
	if err != nil {
		return KeyRotation{}, fmt.Errorf("failed to rotate the data key of organization %q: %w", org, err)
	}
	meta, _ := json.Marshal(map[string]string{
		"keyId":            strconv.FormatUint(uint64(rot.key.id), 10),
		"previousKeyId":    strconv.FormatUint(uint64(rot.previous), 10),
		"keyEncryptionKey": KeyKEK(org, rot.gen),
		"rewrappedKeys":    strconv.Itoa(rot.rewrapped),
	})
	now := s.opts.Now().UTC()
	ev := Event{Timestamp: now, OrganizationID: org, UserID: actor, Provider: "system",
		ActionType: "audit.key_rotated", ResourceIDs: []string{}, Status: "applied", RiskLevel: "medium", Metadata: meta}
	made := keyMadeEntry(org, now)
	extra := append(slices.Clip(rot.entries), made)
	req := &appendRequest{events: make([]prepared, 1), done: make(chan appendResult, 1),
		extra: extra, onCommit: func() { s.keys.install(rot) }}
	if err := s.prepare(&ev, 0, &req.events[0]); err != nil {
		return KeyRotation{}, fmt.Errorf("failed to record the rotation of organization %q's data key: %w", org, err)
	}
	req.size, req.count = req.events[0].size, int64(req.events[0].entries)
	for _, e := range extra {
		req.size += int64(len(e.k) + len(e.v) + 24)
		req.count++
	}
	if !s.fitsOneTxn(req.size, req.count) {
		return KeyRotation{}, fmt.Errorf("failed to rotate the data key of organization %q: its %d data keys do not fit one commit: %w",
			org, rot.rewrapped+1, ErrBatchTooLarge)
	}
	if err := ctx.Err(); err != nil {
		return KeyRotation{}, err
	}
	// The new KEK is in the keystore before any key wrapped with it is
	// committed. Should the commit fail, it stays there unused: the next
	// rotation takes the next free generation (freeGeneration), since a
	// commit answered as failed may have been written.
	if err := s.keys.ks.Set(ctx, KeyKEK(org, rot.gen), rot.kekRaw); err != nil {
		return KeyRotation{}, fmt.Errorf("failed to store the new key-encryption key of organization %q in the %s (nothing changed): %w",
			org, placeOf(s.keys.ks), err)
	}
	// Once handed to the writer the rotation commits or fails, whatever
	// the caller's context: it is waited for, so that rotMu is held until
	// the key is installed, and the answer is true.
	if _, err := s.submit(context.WithoutCancel(ctx), req); err != nil {
		return KeyRotation{}, fmt.Errorf("failed to rotate the data key of organization %q (nothing changed): %w", org, err)
	}
	s.log.Info("rotated data key", "org", org, "keyID", rot.key.id, "kek", KeyKEK(org, rot.gen), "rewrapped", rot.rewrapped)
	return KeyRotation{KeyID: rot.key.id, PreviousKeyID: rot.previous, KeyEncryptionKey: KeyKEK(org, rot.gen), Rewrapped: rot.rewrapped}, nil
}

// DataKeyMadeAt is when org's current data key was made. The store
// records it with each key; for a key made before it did, it is when the
// key's rotation (or, for the first key, the first event) was recorded,
// and the zero time when retention pruned that record.
func (s *Store) DataKeyMadeAt(ctx context.Context, org string) (time.Time, error) {
	var made time.Time
	err := s.view(ctx, func(txn *badger.Txn) error {
		item, err := txn.Get(keyMadeKey(org))
		if errors.Is(err, badger.ErrKeyNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		return item.Value(func(v []byte) error {
			if len(v) != 8 {
				return fmt.Errorf("the data key time of organization %q has %d bytes: %w", org, len(v), errCorrupt)
			}
			made = time.Unix(0, int64(binary.BigEndian.Uint64(v))).UTC()
			return nil
		})
	})
	if err != nil || !made.IsZero() {
		return made, err
	}
	page, err := s.List(ctx, Filter{Org: org, ActionTypes: []string{"audit.key_rotated"}, Limit: 1})
	if err != nil {
		return time.Time{}, err
	}
	if len(page.Events) > 0 {
		return page.Events[0].RecordedAt, nil
	}
	first, err := s.ReadFrom(ctx, org, 0, 1, false)
	if err != nil || len(first) == 0 || first[0].Seq != 1 {
		return time.Time{}, err
	}
	return first[0].RecordedAt, nil
}

// OrgInfo describes one organization's log.
type OrgInfo struct {
	ID             string    `json:"id"`
	Size           uint64    `json:"size"` // number of events (the newest seq)
	LastRecordedAt time.Time `json:"lastRecordedAt"`
}

// Organizations lists the organizations that have events, sorted by id.
func (s *Store) Organizations(ctx context.Context) ([]OrgInfo, error) {
	var out []OrgInfo
	err := s.view(ctx, func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte{tagHead}, PrefetchValues: false})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			if err := ctx.Err(); err != nil {
				return err
			}
			org, ok := keyOrg(it.Item().Key())
			if !ok {
				continue // not the head of an organization
			}
			var h head
			err := it.Item().Value(func(v []byte) error {
				var err error
				h, err = decodeHead(v)
				return err
			})
			if err != nil {
				return fmt.Errorf("organization %q: %w", org, err)
			}
			out = append(out, OrgInfo{ID: org, Size: h.seq, LastRecordedAt: time.Unix(0, h.lastRecordedAt).UTC()})
		}
		return nil
	})
	return out, err
}

// view runs fn in a read transaction unless the store is closed.
func (s *Store) view(ctx context.Context, fn func(txn *badger.Txn) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.closeMu.RLock()
	defer s.closeMu.RUnlock()
	if s.closed {
		return ErrClosed
	}
	return s.db.View(fn)
}

// badgerLogger sends Badger's log lines to slog; its chatty info lines go
// to debug.
type badgerLogger struct{ l *slog.Logger }

func (b badgerLogger) Errorf(f string, a ...any) {
	b.l.Error(strings.TrimSpace(fmt.Sprintf(f, a...)), "component", "badger")
}
func (b badgerLogger) Warningf(f string, a ...any) {
	msg := strings.TrimSpace(fmt.Sprintf(f, a...))
	if isCacheTuningNote(f) {
		b.l.Debug(msg, "component", "badger")
		return
	}
	b.l.Warn(msg, "component", "badger")
}

// isCacheTuningNote reports whether a Badger warning is its cache monitor's
// minute-by-minute note that the block or index cache churns ("… might be
// too small", then the cache's life-expectancy histogram). The store keeps
// its caches small on purpose, so that memory does not grow with the log:
// under a long scan they churn, which is nothing a user can act on, and
// serve's or the app's log would repeat it every minute.
func isCacheTuningNote(format string) bool {
	return strings.Contains(format, "might be too small") || strings.HasPrefix(format, "Cache life expectancy")
}
func (b badgerLogger) Infof(f string, a ...any) {
	b.l.Debug(strings.TrimSpace(fmt.Sprintf(f, a...)), "component", "badger")
}
func (b badgerLogger) Debugf(f string, a ...any) {
	b.l.Debug(strings.TrimSpace(fmt.Sprintf(f, a...)), "component", "badger")
}
