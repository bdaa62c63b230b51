package storage

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// madvPageout is MADV_PAGEOUT (Linux 5.4): reclaim these pages now. Unlike
// MADV_DONTNEED it never discards data (a dirty page is written back or
// left alone, a page of another mapping that reused the range is at worst
// paged out), so a mapping Badger replaced since /proc/self/maps was read
// cannot be harmed. It also drops the pages from the page cache, so the
// next read of them goes to the disk.
const madvPageout = 21

// The older value logs, which Badger only reads and where nearly all of a
// store's bytes are, are released with MADV_DONTNEED instead:
// it only unmaps the pages from this process (they are MAP_SHARED, so
// nothing is lost; the page cache keeps them for the next read, such as a
// compaction's, and the kernel evicts them when it needs the memory), and
// costs a fraction of a page-out. It would zero memory that reused a range
// unmapped since /proc/self/maps was read, so it is used only where that
// cannot happen (safeToDrop).

// mappedTail is how much of a mapping Badger appends to (the newest value
// log and memtable log) is kept below its highest resident page, so the
// next write does not read its page back from disk. Of the other files,
// which Badger only reads, every resident page is reclaimed.
const mappedTail = 1 << 20

// mapping is one line of /proc/self/maps for a file of the store.
type mapping struct {
	start, end uint64
	offset     uint64 // into the file
	path       string
}

// releaseMapped reclaims the resident pages of dir's memory-mapped files,
// except the tails of those Badger appends to, when the process's resident
// file pages exceed budget bytes. pin, when not nil, keeps Badger from
// deleting (unmapping) the value logs until the unpin it returns is called, or returns nil when it cannot (Store.pinFiles);
// only while pinned are files dropped with MADV_DONTNEED.
func releaseMapped(dir string, budget int64, pin func() *pinned) error {
	if rssFileBytes() <= budget {
		return nil
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	var p *pinned
	if pin != nil {
		if p = pin(); p != nil {
			defer p.unpin()
		}
	}
	raw, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		return err
	}
	var maps []mapping
	newest := map[string]string{} // extension → the highest-numbered file's path
	for _, line := range bytes.Split(raw, []byte{'\n'}) {
		// start-end perms offset dev inode path
		f := strings.Fields(string(line))
		if len(f) < 6 || filepath.Dir(f[5]) != dir {
			continue
		}
		span := strings.SplitN(f[0], "-", 2)
		start, err1 := strconv.ParseUint(span[0], 16, 64)
		end, err2 := strconv.ParseUint(span[1], 16, 64)
		off, err3 := strconv.ParseUint(f[2], 16, 64)
		if err1 != nil || err2 != nil || err3 != nil || end <= start {
			continue
		}
		maps = append(maps, mapping{start, end, off, f[5]})
		if ext := filepath.Ext(f[5]); ext == ".vlog" || ext == ".mem" {
			if cur, ok := newest[ext]; !ok || fileNumber(f[5]) > fileNumber(cur) {
				newest[ext] = f[5]
			}
		}
	}
	page := uintptr(os.Getpagesize())
	vec := pagemapBufs.Get().(*[]byte)
	defer pagemapBufs.Put(vec)
	pagemap, err := os.Open("/proc/self/pagemap")
	if err != nil {
		return err
	}
	defer pagemap.Close()
	// Adjacent mappings of the store's files (mmap places consecutive
	// mappings next to each other) are reclaimed with one call: each
	// madvise has a fixed cost, and there is a mapping per table, hundreds
	// of them.
	var run mapping
	var runAdvice uintptr
	flush := func() error {
		if run.end > run.start {
			if _, _, e := syscall.Syscall(syscall.SYS_MADVISE, uintptr(run.start), uintptr(run.end-run.start), runAdvice); e != 0 && e != syscall.ENOMEM {
				// ENOMEM: part of the range was unmapped since the read of maps.
				return fmt.Errorf("madvise(%d) of %s: %w", runAdvice, run.path, e)
			}
		}
		run = mapping{}
		return nil
	}
	for _, m := range maps {
		if newest[filepath.Ext(m.path)] != m.path {
			// Reclaimed whole: madvise skips the pages that are not
			// resident cheaply, where finding the resident ones first
			// would list every page of every file.
			advice := uintptr(madvPageout)
			if safeToDrop(m, newest[".vlog"], page, p) {
				advice = syscall.MADV_DONTNEED
			}
			if run.end != m.start || runAdvice != advice {
				if err := flush(); err != nil {
					return err
				}
				run, runAdvice = m, advice
			}
			run.end = m.end
			continue
		}
		// Of a file Badger appends to, the tail below the highest page
		// this process has mapped (Badger's write position) is kept.
		if err := flush(); err != nil {
			return err
		}
		hi, err := highestPresent(pagemap, m, page, vec)
		if err != nil {
			continue // unmapped since the read of maps
		}
		if keep := max(hi, mappedTail) - mappedTail; keep > 0 {
			run, runAdvice = mapping{m.start, m.start + uint64(keep), 0, m.path}, madvPageout
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if err := flush(); err != nil {
		return err
	}
	return nil
}

// safeToDrop reports whether m can be released with MADV_DONTNEED, while
// p is held: whether it is still the file's mapping when madvise runs. That
// is so of a value log other than the newest one seen (newestVlog): with
// the value logs pinned, Badger unmaps or moves a value log's mapping only
// when it stops writing it, truncating it to its length (and remapping
// it), and it does that to the newest file before it creates the next one.
// It must be mapped from its start at exactly its length on disk (rounded
// up to a page): a line of maps read while a file was remapped shows the
// old, longer range, and is paged out instead.
//
// Tables are always paged out: a pin does not hold them (pinFiles), and
// Badger unmaps a table when a compaction has replaced it and the last
// read of it ends.
func safeToDrop(m mapping, newestVlog string, page uintptr, p *pinned) bool {
	if p == nil || m.offset != 0 || filepath.Ext(m.path) != ".vlog" || m.path == newestVlog {
		return false
	}
	fi, err := os.Stat(m.path)
	if err != nil {
		return false
	}
	size := fi.Size()
	return size > 0 && (uint64(size)+uint64(page)-1)&^(uint64(page)-1) == m.end-m.start
}

// pagemapBufs keeps highestPresent's buffer between releases: for the
// newest value log, mapped at twice its size, it is megabytes.
var pagemapBufs = sync.Pool{New: func() any { return new([]byte) }}

// highestPresent is the end of m's highest page present in this process's
// page tables, from /proc/self/pagemap (bit 63 of each page's entry, which
// needs no privilege). mincore would not do: it reports the page cache,
// which holds pages of the file this process never touched (readahead,
// preallocation), far past where Badger writes.
func highestPresent(pagemap *os.File, m mapping, page uintptr, buf *[]byte) (uintptr, error) {
	n := int((uintptr(m.end-m.start) + page - 1) / page)
	if cap(*buf) < 8*n {
		*buf = make([]byte, 8*n)
	}
	b := (*buf)[:8*n]
	if _, err := pagemap.ReadAt(b, int64(uintptr(m.start)/page)*8); err != nil {
		return 0, err
	}
	for i := n - 1; i >= 0; i-- {
		if binary.LittleEndian.Uint64(b[8*i:])&(1<<63) != 0 {
			return uintptr(i+1) * page, nil
		}
	}
	return 0, nil
}

// fileNumber is the number Badger names a value log, memtable log or table
// file by ("000042.vlog" is 42, "000007.sst" is table 7); -1 when it has
// none.
func fileNumber(path string) int64 {
	base := filepath.Base(path)
	n, err := strconv.ParseInt(strings.TrimSuffix(base, filepath.Ext(base)), 10, 64)
	if err != nil {
		return -1
	}
	return n
}

// rssFileBytes is the process's resident file-backed memory (RssFile).
func rssFileBytes() int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "RssFile:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}
