package storage

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

	badger "github.com/dgraph-io/badger/v4"
)

// residentMapped is how many bytes of dir's files are resident in this
// process's mappings (the Rss of their entries in /proc/self/smaps; mincore
// would count the page cache, whoever maps it).
func residentMapped(t *testing.T, dir string) int64 {
	t.Helper()
	var total int64
	for _, rss := range residentByFile(t, dir) {
		total += rss
	}
	return total
}

// bigStateStore opens a store in dir with opts (closed when t ends) and
// appends 3,000 events with stateKiB-KiB states, batch at a time.
func bigStateStore(t *testing.T, dir string, opts Options, stateKiB, batch int) *Store {
	t.Helper()
	s, err := Open(context.Background(), dir, newStoreKeystore(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	state := json.RawMessage(`{"blob":"` + strings.Repeat("0123456789abcdef", 64*stateKiB) + `"}`)
	for g := 0; g < 3000; g += batch {
		evs := make([]Event, batch)
		for i := range evs {
			evs[i] = testEvent("acme", g+i)
			evs[i].BeforeState, evs[i].AfterState = nil, state
		}
		if _, err := s.Append(context.Background(), evs); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

// A scan of the whole log keeps the resident pages of the store's files
// near the budget while it reads, not only at the loop's next tick: the
// scan reads the 96 MB value log in far less than the tick's second.
func TestMapped_ScanStaysWithinBudget(t *testing.T) {
	const budget = 8 << 20
	dir := t.TempDir()
	clk := &storeClock{t: baseTime.Add(200 * 24 * time.Hour)}
	// 3,000 events with 32 KiB states: 96 MB of value log.
	s := bigStateStore(t, dir, Options{Now: clk.Now, GCInterval: -1, MappedResident: budget}, 32, 100)
	if err := releaseMapped(dir, budget, s.pinFiles); err != nil {
		t.Fatal(err)
	}
	var n int
	var peak int64
	err := s.ScanRecords(context.Background(), Filter{Org: "acme", Order: OldestFirst}, 1<<62, false, func(*StoredEvent) error {
		if n++; n%50 == 0 {
			peak = max(peak, residentMapped(t, dir))
		}
		return nil
	})
	if err != nil || n != 3000 {
		t.Fatalf("ScanRecords: %d events, %v", n, err)
	}
	// The budget, the chunk a release waits for and one more in flight
	// while the release runs, and the tails kept where Badger appends.
	if bound := int64(budget + 3*mappedChunk + 2*mappedTail); peak > bound {
		t.Errorf("resident pages of the store's files peaked at %d MB during the scan; want at most %d MB", peak>>20, bound>>20)
	}
	t.Logf("peak resident during the scan: %.1f MB", float64(peak)/(1<<20))
}

// residentByFile is the Rss of each of dir's mapped files, by base name.
func residentByFile(t *testing.T, dir string) map[string]int64 {
	t.Helper()
	dir, _ = filepath.Abs(dir)
	raw, err := os.ReadFile("/proc/self/smaps")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int64{}
	cur := ""
	for _, line := range strings.Split(string(raw), "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) >= 5 && strings.Contains(f[0], "-") && !strings.HasSuffix(f[0], ":"):
			cur = ""
			if len(f) >= 6 && filepath.Dir(f[5]) == dir {
				cur = filepath.Base(f[5])
			}
		case cur != "" && len(f) == 3 && f[0] == "Rss:":
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			out[cur] += kb << 10
		}
	}
	return out
}

// A release drops every resident page of the files Badger only reads (the
// tables and older value logs, many of them at adjacent addresses, which
// one call covers), and keeps the tail of the newest value log and
// memtable log, which the next append writes. With the value logs pinned
// the older value logs are dropped (MADV_DONTNEED) and stay in the page
// cache, so the next scan reads them from memory; without a pin, or while
// a value-log GC runs (when the store cannot pin them), they are paged
// out and leave the page cache too. Tables, which no pin holds, are always
// paged out.
func TestMapped_Release(t *testing.T) {
	for _, tc := range []struct {
		name     string
		pin, gc  bool
		wantKept bool // older value logs still in the page cache
	}{
		{"pinned", true, false, true},
		{"unpinned", false, false, false},
		{"during a GC", true, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			s := olderValueLogs(t, dir)
			var pin func() *pinned
			if tc.pin {
				pin = s.pinFiles
			}
			if tc.gc {
				s.mapped.gc.start(dir)
				defer s.mapped.gc.done(badger.ErrNoRewrite)
			}
			before := residentByFile(t, dir)
			if err := releaseMapped(dir, 0, pin); err != nil {
				t.Fatal(err)
			}
			after := residentByFile(t, dir)
			newest := newestByExt(before)
			var olderVlogs, tables int
			for name, rss := range before {
				switch {
				case name == newest[".vlog"] || name == newest[".mem"]:
					if rss > 0 && after[name] == 0 {
						t.Errorf("%s, which Badger appends to, lost all %d resident bytes; its tail should stay", name, rss)
					}
					if after[name] > mappedTail+int64(os.Getpagesize()) {
						t.Errorf("%s keeps %d resident bytes; want at most its %d-byte tail", name, after[name], mappedTail)
					}
				case rss > 0:
					if after[name] != 0 {
						t.Errorf("%s keeps %d of its %d resident bytes after the release", name, after[name], rss)
					}
					switch filepath.Ext(name) {
					case ".vlog":
						olderVlogs++
					case ".sst":
						tables++
					default:
						continue
					}
					c := cachedFraction(t, filepath.Join(dir, name))
					if filepath.Ext(name) == ".sst" {
						if c > 0.1 {
							t.Errorf("%s: %.0f%% of its pages are cached after the release; want the table paged out", name, 100*c)
						}
						continue
					}
					if tc.wantKept && c < 0.9 {
						t.Errorf("%s: %.0f%% of its pages are cached after the release; want them kept", name, 100*c)
					}
					if !tc.wantKept && c > 0.1 {
						t.Errorf("%s: %.0f%% of its pages are cached after the release; want them paged out", name, 100*c)
					}
				}
			}
			if olderVlogs == 0 || tables == 0 {
				t.Fatalf("no older value log or no table was resident before the release (%v): the test does not exercise it", before)
			}
			t.Logf("released %d older value logs and %d tables", olderVlogs, tables)
		})
	}
}

// olderValueLogs opens a store in dir with 48 MB of events over several
// value logs and reads them all back, so that the tables and the older
// value logs are resident.
func olderValueLogs(t *testing.T, dir string) *Store {
	t.Helper()
	// 3,000 events with 16 KiB states.
	s := bigStateStore(t, dir, Options{GCInterval: -1, MappedResident: -1, MemTableSize: 1 << 20, valueLogFileSize: 16 << 20}, 16, 30)
	if err := s.ScanRecords(context.Background(), Filter{Org: "acme", Order: OldestFirst}, 1<<62, false, func(*StoredEvent) error { return nil }); err != nil {
		t.Fatal(err)
	}
	return s
}

// newestByExt is the highest-numbered of names by extension.
func newestByExt(names map[string]int64) map[string]string {
	newest := map[string]string{}
	for name := range names {
		ext := filepath.Ext(name)
		if cur, ok := newest[ext]; !ok || fileNumber(name) > fileNumber(cur) {
			newest[ext] = name
		}
	}
	return newest
}

// cachedFraction is the fraction of path's pages in the page cache
// (mincore of a mapping of its own, which faults nothing in).
func cachedFraction(t *testing.T, path string) float64 {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || fi.Size() == 0 {
		t.Fatalf("stat %s: %v (size %d)", path, err, fi.Size())
	}
	data, err := syscall.Mmap(int(f.Fd()), 0, int(fi.Size()), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Munmap(data)
	page := os.Getpagesize()
	vec := make([]byte, (len(data)+page-1)/page)
	if _, _, e := syscall.Syscall(syscall.SYS_MINCORE, uintptr(unsafe.Pointer(&data[0])), uintptr(len(data)), uintptr(unsafe.Pointer(&vec[0]))); e != 0 {
		t.Fatal(e)
	}
	n := 0
	for _, v := range vec {
		n += int(v & 1)
	}
	return float64(n) / float64(len(vec))
}

// Which mappings are dropped rather than paged out: only older value logs,
// mapped whole at their length on disk, while pinned.
func TestSafeToDrop(t *testing.T) {
	dir := t.TempDir()
	page := uintptr(os.Getpagesize())
	file := func(name string, size int) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, make([]byte, size), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	old := file("000001.vlog", 10000)
	aligned := file("000002.vlog", 3*int(page))
	newest := file("000003.vlog", 8*int(page))
	table := file("000004.sst", 10000)
	empty := file("000005.vlog", 0)
	mem := file("00007.mem", 10000)
	p := &pinned{}
	pages := func(n uint64) uint64 { return n * uint64(page) }
	for _, tc := range []struct {
		name string
		m    mapping
		p    *pinned
		want bool
	}{
		{"older value log, mapped at its length", mapping{start: pages(10), end: pages(13), path: old}, p, true},
		{"older value log, page-aligned length", mapping{start: pages(10), end: pages(13), path: aligned}, p, true},
		{"older value log, not pinned", mapping{start: pages(10), end: pages(13), path: old}, nil, false},
		{"mapped longer than the file (being truncated)", mapping{start: pages(10), end: pages(18), path: old}, p, false},
		{"mapped shorter than the file", mapping{start: pages(10), end: pages(12), path: old}, p, false},
		{"mapped from an offset", mapping{start: pages(10), end: pages(13), offset: pages(1), path: old}, p, false},
		{"the newest value log", mapping{start: pages(10), end: pages(18), path: newest}, p, false},
		{"a table, mapped at its length", mapping{start: pages(10), end: pages(13), path: table}, p, false},
		{"a table, not pinned", mapping{start: pages(10), end: pages(13), path: table}, nil, false},
		{"a memtable log", mapping{start: pages(10), end: pages(13), path: mem}, p, false},
		{"an empty value log", mapping{start: pages(10), end: pages(11), path: empty}, p, false},
		{"a value log deleted since", mapping{start: pages(10), end: pages(13), path: filepath.Join(dir, "000009.vlog")}, p, false},
	} {
		if got := safeToDrop(tc.m, newest, page, tc.p); got != tc.want {
			t.Errorf("%s: safeToDrop = %v, want %v", tc.name, got, tc.want)
		}
	}
}
