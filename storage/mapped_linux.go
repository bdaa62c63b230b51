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

// mappedTail is how much of each mapping is kept below its highest resident
// page: where Badger appends to the newest value log and memtable log, so
// the next write does not read its page back from disk.
const mappedTail = 1 << 20

// releaseMapped reclaims the resident pages of dir's memory-mapped files,
// except each mapping's tail, when the process's resident file pages exceed
// budget bytes.
func releaseMapped(dir string, budget int64) error {
	if rssFileBytes() <= budget {
		return nil
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	maps, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		return err
	}
	page := uintptr(os.Getpagesize())
	var vec []byte
	for _, line := range bytes.Split(maps, []byte{'\n'}) {
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
		n := int((uintptr(end) - uintptr(start) + page - 1) / page)
		if cap(vec) < n {
			vec = make([]byte, n)
		}
		vec = vec[:n]
		if _, _, e := syscall.Syscall(syscall.SYS_MINCORE, uintptr(start), uintptr(end-start), uintptr(unsafe.Pointer(&vec[0]))); e != 0 {
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
		if hi < 0 || resident <= mappedTail {
			continue
		}
		if _, _, e := syscall.Syscall(syscall.SYS_MADVISE, uintptr(start), resident-mappedTail, madvPageout); e != 0 {
			return fmt.Errorf("madvise(MADV_PAGEOUT) of %s: %w", f[5], e)
		}
	}
	return nil
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
