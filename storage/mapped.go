package storage

import (
	"context"
	"sync/atomic"
	"time"
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
const mappedTick = 250 * time.Millisecond

// mappedState is what readMapped and the loop share.
type mappedState struct {
	read atomic.Int64  // bytes read through the mappings since the last release
	wake chan struct{} // readMapped's request for a release now (capacity 1)
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
		if err := releaseMapped(s.dir, s.opts.MappedResident); err != nil {
			s.log.Debug("could not release mapped pages", "err", err)
		}
	}
}
