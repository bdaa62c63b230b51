package storage

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	badger "github.com/dgraph-io/badger/v4"
)

// Badger memory-maps its value log, tables and memtable logs. Every page the
// store writes or reads through those mappings stays in the process's
// resident set until the kernel needs the memory, so on a machine with free
// memory the RSS of a process that appended 1M events (2 GB of value log)
// grows to gigabytes of file pages it will rarely read again. The store
// keeps them within Options.MappedResident: when more of its files' pages
// are resident, it asks the kernel to reclaim the clean pages of the files
// Badger no longer writes (older value log files and tables), which the
// kernel reads back from disk if they are needed again (mapped_linux.go;
// elsewhere the operating system's own policy applies).

// A long scan (an export, a verify) reads the value log at hundreds of MB/s,
// far faster than the loop's tick, so it reports what it reads through
// readMapped and the budget is enforced every mappedChunk bytes as it goes:
// the resident set of a scan over any number of events stays within the
// budget plus one chunk.
const mappedChunk = 8 << 20

// mappedTick is how often the loop checks the resident pages: appends
// write the value log and compactions write tables through the mappings at
// tens of MB/s, and each tick's check costs one read of /proc/self/status.
const mappedTick = 50 * time.Millisecond

// mappedState is what readMapped and the loop share.
type mappedState struct {
	read atomic.Int64  // bytes read through the mappings since the last release
	wake chan struct{} // readMapped's request for a release now (capacity 1)
	gc   vlogDeletes
}

// readMapped notes n bytes read through Badger's mappings and, past every
// mappedChunk of them, wakes the loop to release resident pages beyond the
// budget. The scan goes on meanwhile: the release runs on another core.
func (s *Store) readMapped(n int) {
	if s.mapped.wake == nil || s.mapped.read.Add(int64(n)) < mappedChunk {
		return
	}
	s.mapped.read.Store(0)
	select {
	case s.mapped.wake <- struct{}{}:
	default: // a release is already due
	}
}

// mappedLoop keeps the resident pages of the store's files within budget
// until ctx ends.
func (s *Store) mappedLoop(ctx context.Context) {
	t := time.NewTicker(mappedTick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-s.mapped.wake:
		}
		if err := releaseMapped(s.dir, s.opts.MappedResident, s.pinFiles); err != nil {
			s.log.Debug("could not release mapped pages", "err", err)
		}
	}
}

// pinned is what a pin holds until unpin: every value log.
type pinned struct {
	unpin func()
}

// pinFiles keeps Badger from deleting (and so unmapping) any value log
// until unpin is called, or returns nil when it cannot promise that: while
// a value-log GC runs or a file it rewrote may not be deleted yet. One open
// iterator is the pin: Badger defers the deletion of a rewritten value log
// until no iterator is open (a deletion that started before the pin would
// still be running, which the GC state rules out).
//
// Tables are not pinned. Knowing which ones an iterator holds takes
// DB.Tables, which reads every table's index, decrypting it when Badger's
// index cache does not hold it (a million events have some 700 tables,
// more index than the cache holds): a release that listed them put more
// pages in the resident set than it reclaimed (queries right after opening
// a store of 1M events peaked at 338-459 MB RSS, and at 180-207 MB once
// the listing was gone). Tables are paged out instead (releaseMapped).
func (s *Store) pinFiles() (p *pinned) {
	if s.db.IsClosed() {
		return nil
	}
	// Badger panics on a database closed since (the store stops this
	// loop before it closes Badger; a test may close Badger underneath):
	// then nothing is pinned, and what was opened is closed.
	var unpin func()
	defer func() {
		if r := recover(); r != nil {
			s.log.Debug("could not pin the store's files", "panic", r)
			if unpin != nil {
				func() {
					defer func() { _ = recover() }()
					unpin()
				}()
			}
			p = nil
		}
	}()
	txn := s.db.NewTransaction(false)
	unpin = txn.Discard
	it := txn.NewIterator(badger.IteratorOptions{})
	unpin = func() {
		it.Close()
		txn.Discard()
	}
	if !s.mapped.gc.settled(s.dir) {
		unpin()
		return nil
	}
	return &pinned{unpin: unpin}
}

// runValueLogGC runs one Badger value-log GC, noting it for pinFiles.
func (s *Store) runValueLogGC(discardRatio float64) error {
	s.mapped.gc.start(s.dir)
	err := s.db.RunValueLogGC(discardRatio)
	s.mapped.gc.done(err)
	return err
}

// vlogDeletes is what the store knows of the value logs Badger's GC may be
// deleting: the GCs running, the files they rewrote whose deletion has not
// been seen yet, and the value logs there were when they started. Value
// logs are deleted only by GC, so once as many of those files are gone as
// were rewritten, every rewritten file has been deleted (removing the file
// is the last step of a deletion, after the unmapping).
type vlogDeletes struct {
	mu       sync.Mutex
	running  int
	rewrites int
	files    map[string]bool
}

func (d *vlogDeletes) start(dir string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.running++
	if d.files == nil {
		d.files = map[string]bool{}
	}
	// A file a failed listing leaves out is never counted as gone.
	names, _ := valueLogNames(dir)
	for _, name := range names {
		d.files[name] = true
	}
}

// done ends a GC that returned err: nil when it rewrote a file, ErrNoRewrite
// or ErrRejected when it rewrote none; after any other error it may have,
// and the deletion of one more file is waited for.
func (d *vlogDeletes) done(err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.running--
	if err == nil || !(errors.Is(err, badger.ErrNoRewrite) || errors.Is(err, badger.ErrRejected)) {
		d.rewrites++
	}
}

// settled reports whether no GC runs and every file a GC rewrote is gone.
func (d *vlogDeletes) settled(dir string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.running > 0 {
		return false
	}
	if d.rewrites > 0 {
		names, err := valueLogNames(dir)
		if err != nil {
			return false // a file not listed is not known to be gone
		}
		present := map[string]bool{}
		for _, name := range names {
			present[name] = true
		}
		gone := 0
		for name := range d.files {
			if !present[name] {
				gone++
			}
		}
		if gone < d.rewrites {
			return false
		}
	}
	d.rewrites, d.files = 0, nil
	return true
}

// valueLogNames lists dir's value logs.
func valueLogNames(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	var names []string
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ".vlog") {
			names = append(names, filepath.Join(dir, e.Name()))
		}
	}
	return names, err
}
