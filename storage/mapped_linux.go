package storage

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"unsafe"
)

// madvPageout is MADV_PAGEOUT (Linux 5.4): reclaim these pages now. Unlike
// MADV_DONTNEED it never discards data (a dirty page is written back or
// left alone, a page of another mapping that reused the range is at worst
// paged out), so a mapping Badger replaced since /proc/self/maps was read
// cannot be harmed.
const madvPageout = 21

// mappedTail is how much of a mapping Badger appends to (the newest value
// log and memtable log) is kept below its highest resident page, so the
// next write does not read its page back from disk. Of the other files,
// which Badger only reads, every resident page is reclaimed.
const mappedTail = 1 << 20

// mapping is one line of /proc/self/maps for a file of the store.
type mapping struct {
	start, end uint64
	path       string
}

// releaseMapped reclaims the resident pages of dir's memory-mapped files,
// except the tails of those Badger appends to, when the process's resident
// file pages exceed budget bytes.
func releaseMapped(dir string, budget int64) error {
	if rssFileBytes() <= budget {
		return nil
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return err
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
		if err1 != nil || err2 != nil || end <= start {
			continue
		}
		maps = append(maps, mapping{start, end, f[5]})
		if ext := filepath.Ext(f[5]); ext == ".vlog" || ext == ".mem" {
			if cur, ok := newest[ext]; !ok || fileNumber(f[5]) > fileNumber(cur) {
				newest[ext] = f[5]
			}
		}
	}
	page := uintptr(os.Getpagesize())
	var vec []byte
	for _, m := range maps {
		n := int((uintptr(m.end) - uintptr(m.start) + page - 1) / page)
		if cap(vec) < n {
			vec = make([]byte, n)
		}
		vec = vec[:n]
		if _, _, e := syscall.Syscall(syscall.SYS_MINCORE, uintptr(m.start), uintptr(m.end-m.start), uintptr(unsafe.Pointer(&vec[0]))); e != 0 {
			continue // unmapped since the read of maps
		}
		hi := -1
		for i := n - 1; i >= 0; i-- {
			if vec[i]&1 != 0 {
				hi = i
				break
			}
		}
		resident := uintptr(hi+1) * page
		if newest[filepath.Ext(m.path)] == m.path {
			resident = max(resident, mappedTail) - mappedTail
		}
		if resident == 0 {
			continue
		}
		if _, _, e := syscall.Syscall(syscall.SYS_MADVISE, uintptr(m.start), resident, madvPageout); e != 0 {
			return fmt.Errorf("madvise(MADV_PAGEOUT) of %s: %w", m.path, e)
		}
	}
	return nil
}

// fileNumber is the number Badger names a value log or memtable log file
// by ("000042.vlog" is 42); -1 when it has none.
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
