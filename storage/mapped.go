package storage

import (
	"context"
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

// mappedLoop keeps the resident pages of the store's files within budget
// until ctx ends.
func (s *Store) mappedLoop(ctx context.Context, budget int64) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := releaseMapped(s.dir, budget); err != nil {
				s.log.Debug("could not release mapped pages", "err", err)
			}
		}
	}
}
