package storage

// Benchmarks of the store against raw Badger doing the same work in the
// same run (`make bench`):
//
//	go test -run '^$' -bench . -benchtime 1x -timeout 30m ./storage/
//
// BenchmarkQuery1M builds a 1,000,000-event store once under os.TempDir(),
// keyed by FormatVersion and the tree layout, and reuses it on later runs. BenchmarkAppendRSS
// appends 1,000,000 events (AXIOM_BENCH_EVENTS overrides) to a new store
// and reports the peak resident memory while it does.
//
// Every benchmark runs under the Go memory limit and collector target the
// app sets (SuggestedMemoryLimit, SuggestedGCPercent), the store's and raw
// Badger's side alike; BenchmarkVerify1M under those of the `verify`
// command (UseScanRuntime).

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	badger "github.com/dgraph-io/badger/v4"
)

const (
	benchUsers = 100 // so one user is a 1%-selective filter
)

var benchActions = []string{"scan.started", "scan.failed", "connection.role_assumed", "apply.mutation",
	"workflow.run_started", "workflow.drift_detection", "user.signed_in", "user.settings_changed",
	"releaseops.deployed", "releaseops.assessed"}

var benchState = func() json.RawMessage {
	return json.RawMessage(`{"instanceType":"m5.large","tags":{"team":"platform","env":"prod"},"blob":"` +
		strings.Repeat("abcdefghij", 93) + `"}`)
}()

func benchID(i int) string { return fmt.Sprintf("01900000-0000-7000-8000-%012x", i) }

// benchEvent is the i-th event of the workload: about 600 bytes of public
// fields and a 1 KiB state.
func benchEvent(org string, i int, ts time.Time) Event {
	return Event{
		ID:             benchID(i),
		Timestamp:      ts,
		OrganizationID: org,
		UserID:         fmt.Sprintf("user-%03d@example.com", (i*7)%benchUsers),
		Provider:       Providers[i%3],
		ActionType:     benchActions[i%len(benchActions)],
		ResourceIDs: []string{
			fmt.Sprintf("arn:aws:ec2:eu-west-1:123456789012:instance/i-%017x", i%5000),
			fmt.Sprintf("arn:aws:s3:::bucket-%05d", i%997),
		},
		AfterState: benchState,
		Status:     Statuses[i%3],
		RiskLevel:  RiskLevels[i%3],
		Metadata: json.RawMessage(fmt.Sprintf(`{"region":"eu-west-1","account":"123456789012","requestId":"req-%08d",`+
			`"source":"axiom-agent/1.4.2","sessionId":"sess-%06d","durationMs":%d,"rtoSeconds":60,"note":"routine change applied by the scheduled workflow"}`,
			i, i%100000, i%5000)),
	}
}

// benchMemoryLimit applies the app's Go memory limit and collector target
// until b ends.
func benchMemoryLimit(b *testing.B) {
	b.Cleanup(UseSuggestedRuntime())
}

func benchOpen(b *testing.B, dir string) *Store {
	b.Helper()
	// The keystore of a cached benchmark database is kept next to it, so
	// it can be reopened (benchmarks only: production keys never touch disk).
	ks := newStoreKeystore()
	keys := dir + ".keys.json"
	if raw, err := os.ReadFile(keys); err == nil {
		if err := json.Unmarshal(raw, &ks.secrets); err != nil {
			b.Fatal(err)
		}
	}
	s, err := Open(context.Background(), dir, ks, Options{GCInterval: -1})
	if err != nil {
		b.Fatal(err)
	}
	raw, _ := json.Marshal(ks.secrets)
	if err := os.WriteFile(keys, raw, 0o600); err != nil {
		b.Fatal(err)
	}
	return s
}

// rawOpen opens Badger with the store's own options (badgerOptions) and
// encryption, so that the comparison measures the store's work, not
// different settings.
func rawOpen(b testing.TB, dir string) *badger.DB {
	b.Helper()
	key := make([]byte, 32)
	rand.Read(key)
	if err := os.WriteFile(dir+".key", key, 0o600); err != nil {
		b.Fatal(err)
	}
	return rawReopen(b, dir)
}

// rawReopen opens the database rawOpen created in dir again.
func rawReopen(b testing.TB, dir string) *badger.DB {
	b.Helper()
	key, err := os.ReadFile(dir + ".key")
	if err != nil {
		b.Fatal(err)
	}
	o, _ := Options{}.withDefaults()
	db, err := badger.Open(badgerOptions(dir, o, key).WithLogger(nil))
	if err != nil {
		b.Fatal(err)
	}
	return db
}

// eachFile calls fn with each of dir's files, open for reading.
func eachFile(b testing.TB, dir string, fn func(*os.File) error) {
	b.Helper()
	paths, err := filepath.Glob(filepath.Join(dir, "*"))
	if err != nil {
		b.Fatal(err)
	}
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			b.Fatal(err)
		}
		err = fn(f)
		f.Close()
		if err != nil {
			b.Fatal(err)
		}
	}
}

// loadCache reads each of dir's files once, so that it is in the page
// cache.
func loadCache(b testing.TB, dir string) {
	b.Helper()
	eachFile(b, dir, func(f *os.File) error {
		_, err := io.Copy(io.Discard, f)
		return err
	})
}

// recordSize is the size of one stored record value of the workload.
func recordSize(b *testing.B) int {
	s := benchOpen(b, b.TempDir())
	defer s.Close()
	e := benchEvent("acme", 1, time.Now().Add(-time.Hour))
	if _, err := s.Append(context.Background(), []Event{e}); err != nil {
		b.Fatal(err)
	}
	n := 0
	s.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(recordKey("acme", 1))
		if err == nil {
			n = int(item.ValueSize())
		}
		return err
	})
	return n
}

// storeEntries is every key and value a store holds after n events of the
// workload were appended to it in batches of 16: what the store writes to
// Badger for them (records, id and index entries, counters, tree tiles,
// heads, checkpoints), in key order. It is a lower bound: the store writes
// an hour's counters and the heads again in every group, and only the last
// versions remain.
func storeEntries(b *testing.B, n int) []kv {
	s := benchOpen(b, b.TempDir())
	defer s.Close()
	ts0 := time.Now().Add(-48 * time.Hour)
	for i := 0; i < n; i += 16 {
		evs := make([]Event, 16)
		for j := range evs {
			evs[j] = benchEvent("acme", i+j, ts0.Add(time.Duration(i+j)*time.Millisecond))
		}
		if _, err := s.Append(context.Background(), evs); err != nil {
			b.Fatal(err)
		}
	}
	var kvs []kv
	err := s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{PrefetchValues: true})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			v, err := it.Item().ValueCopy(nil)
			if err != nil {
				return err
			}
			kvs = append(kvs, kv{it.Item().KeyCopy(nil), v})
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	return kvs
}

// commitSynced commits kvs to db in groups transactions of equal size,
// each synced by Badger before its commit returns (SyncWrites, as the
// store's options have it).
func commitSynced(b *testing.B, db *badger.DB, kvs []kv, groups int) {
	per := (len(kvs) + groups - 1) / groups
	for g := 0; g < len(kvs); g += per {
		txn := db.NewTransaction(true)
		for _, e := range kvs[g:min(g+per, len(kvs))] {
			if err := txn.Set(e.k, e.v); err != nil {
				b.Fatal(err)
			}
		}
		if err := txn.Commit(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDurableAppend compares (a) the store with 16 producers appending
// batches of 16 events (so groups of up to 256), everything on, with (b) raw
// Badger committing 256-event transactions of values the size of the
// store's records, each synced, as the store's groups are (both with the
// store's Badger options, SyncWrites included).
//
// A third side, (c), is raw Badger committing the very keys and values the
// store writes for the same events (one record, its id and index entries,
// and the group's counters, tiles and heads: about seven Badger entries per
// event against (b)'s one), in as many transactions as (b), each synced.
// It does none of the store's own work (validation, canonical
// JSON, hashing, sealing, reading the id index for retries, and rewriting
// counters and heads in every group, of which (c) writes only the last
// versions), so entries/raw is the cost of the entries alone and
// store/entries that of the rest.
//
// One op is 16384 events each side; successive ops run the sides in each
// of their six orders in turn, so that none always follows the same one
// (and its compactions). Each side has the process to itself, as the app's
// one store has: only its own database is open (each reopened for its turn
// and closed after it, untimed) and only its own input is in memory, and
// it starts after a collection. Three databases open at once under the
// app's memory limit made the collector run for all three, and each side's
// garbage collected in the others' time: the store appended at half the
// rate it does alone, raw Badger too.
func BenchmarkDurableAppend(b *testing.B) {
	benchMemoryLimit(b)
	const producers, batch, perOp = 16, 16, 16384
	storeDir, rawDir, entriesDir := b.TempDir(), b.TempDir(), b.TempDir()
	rawOpen(b, rawDir).Close() // each with its own key, kept next to it
	rawOpen(b, entriesDir).Close()
	value := make([]byte, recordSize(b))
	rand.Read(value)
	entries := flatten(storeEntries(b, perOp))
	ts0 := time.Now().Add(-24 * time.Hour)
	var storeTime, rawTime, entriesTime, storeCPU, rawCPU, entriesCPU time.Duration
	timed := func(wall, cpu *time.Duration, f func()) {
		runtime.GC()
		start, c := time.Now(), processCPU()
		f()
		*wall += time.Since(start)
		*cpu += processCPU() - c
	}
	b.ResetTimer()
	for op := 0; op < b.N; op++ {
		next := op * perOp
		store := func() {
			evs := make([]Event, perOp)
			for i := range evs {
				evs[i] = benchEvent("acme", next+i, ts0.Add(time.Duration(next+i)*time.Millisecond))
			}
			s := benchOpen(b, storeDir)
			defer s.Close()
			timed(&storeTime, &storeCPU, func() {
				var wg sync.WaitGroup
				for p := 0; p < producers; p++ {
					wg.Add(1)
					go func(p int) {
						defer wg.Done()
						for j := p * batch; j < perOp; j += producers * batch {
							if _, err := s.Append(context.Background(), evs[j:j+batch]); err != nil {
								b.Error(err)
								return
							}
						}
					}(p)
				}
				wg.Wait()
			})
		}
		raw := func() {
			kvs := make([]kv, perOp)
			for i := range kvs {
				kvs[i] = kv{[]byte(fmt.Sprintf("k%015d", next+i)), value}
			}
			db := rawReopen(b, rawDir)
			defer db.Close()
			timed(&rawTime, &rawCPU, func() { commitSynced(b, db, kvs, perOp/256) })
		}
		storeWrites := func() {
			// Each op's keys are new: a prefix of the op number before
			// the store's key.
			kvs := entries.prefixed(fmt.Sprintf("%08d/", op))
			db := rawReopen(b, entriesDir)
			defer db.Close()
			timed(&entriesTime, &entriesCPU, func() { commitSynced(b, db, kvs, perOp/256) })
		}
		orders := [][3]int{{0, 1, 2}, {1, 2, 0}, {2, 0, 1}, {0, 2, 1}, {2, 1, 0}, {1, 0, 2}}
		sides := []func(){store, raw, storeWrites}
		for _, i := range orders[op%len(orders)] {
			sides[i]()
		}
	}
	b.StopTimer()
	n := float64(b.N * perOp)
	storeRate, rawRate, entriesRate := n/storeTime.Seconds(), n/rawTime.Seconds(), n/entriesTime.Seconds()
	b.ReportMetric(storeRate, "store-events/s")
	b.ReportMetric(rawRate, "raw-events/s")
	b.ReportMetric(storeRate/rawRate, "ratio")
	b.ReportMetric(entriesRate, "entries-events/s")
	b.ReportMetric(entriesRate/rawRate, "entries/raw")
	b.ReportMetric(storeRate/entriesRate, "store/entries")
	b.ReportMetric(float64(entries.len())/perOp, "entries/event")
	// CPU per event (both cores, background compaction included): the
	// ratio that holds when neighbours share the machine.
	b.ReportMetric(float64(storeCPU.Microseconds())/n, "store-cpu-us/event")
	b.ReportMetric(float64(rawCPU.Microseconds())/n, "raw-cpu-us/event")
	b.ReportMetric(float64(entriesCPU.Microseconds())/n, "entries-cpu-us/event")
	b.ReportMetric(float64(len(value)), "record-bytes")
}

// flatKVs holds keys and values in one buffer, which the collector need
// not scan, instead of a slice header each.
type flatKVs struct {
	buf  []byte
	offs []int // key i is buf[offs[2i]:offs[2i+1]], its value up to offs[2i+2]
}

func flatten(kvs []kv) flatKVs {
	f := flatKVs{offs: []int{0}}
	for _, e := range kvs {
		f.buf = append(f.buf, e.k...)
		f.offs = append(f.offs, len(f.buf))
		f.buf = append(f.buf, e.v...)
		f.offs = append(f.offs, len(f.buf))
	}
	return f
}

func (f flatKVs) len() int { return (len(f.offs) - 1) / 2 }

// prefixed returns the entries with prefix before each key.
func (f flatKVs) prefixed(prefix string) []kv {
	kvs := make([]kv, f.len())
	for i := range kvs {
		k := f.buf[f.offs[2*i]:f.offs[2*i+1]]
		kvs[i] = kv{append([]byte(prefix), k...), f.buf[f.offs[2*i+1]:f.offs[2*i+2]]}
	}
	return kvs
}

// BenchmarkSingleAppendLatency compares the p50 of one durable one-event
// Append with one durable one-value Badger transaction.
func BenchmarkSingleAppendLatency(b *testing.B) {
	benchMemoryLimit(b)
	s := benchOpen(b, b.TempDir())
	defer s.Close()
	db := rawOpen(b, b.TempDir())
	defer db.Close()
	value := make([]byte, recordSize(b))
	rand.Read(value)
	ts0 := time.Now().Add(-24 * time.Hour)
	const perOp = 200
	var st, rt []time.Duration
	b.ResetTimer()
	for op := 0; op < b.N; op++ {
		for i := 0; i < perOp; i++ {
			k := op*perOp + i
			e := benchEvent("acme", k, ts0.Add(time.Duration(k)*time.Millisecond))
			start := time.Now()
			if _, err := s.Append(context.Background(), []Event{e}); err != nil {
				b.Fatal(err)
			}
			st = append(st, time.Since(start))
			start = time.Now()
			err := db.Update(func(txn *badger.Txn) error { return txn.Set([]byte(fmt.Sprintf("k%015d", k)), value) })
			if err != nil {
				b.Fatal(err)
			}
			rt = append(rt, time.Since(start))
		}
	}
	b.StopTimer()
	sp, rp := p50(st), p50(rt)
	b.ReportMetric(float64(sp.Microseconds())/1000, "store-p50-ms")
	b.ReportMetric(float64(rp.Microseconds())/1000, "raw-p50-ms")
	b.ReportMetric(float64(sp)/float64(rp), "ratio")
}

func p50(d []time.Duration) time.Duration {
	d = slices.Clone(d)
	slices.Sort(d)
	return d[len(d)/2]
}

// bench1M describes the cached million-event database.
type bench1M struct {
	dir        string
	n          int
	start, end time.Time
}

func buildBench1M(b *testing.B, n int) bench1M {
	b.Helper()
	dir := filepath.Join(os.TempDir(), fmt.Sprintf("axiom-audit-bench-v%d-tiles%d-%d", FormatVersion, TreeStride, n))
	if bm, ok := cachedBench1M(dir, n); ok {
		// A database marked complete that lacks events (written by a
		// build that did not check) is built again.
		s := benchOpen(b, dir)
		orgs, err := s.Organizations(context.Background())
		s.Close()
		if err == nil && len(orgs) == 1 && orgs[0].Size == uint64(n) {
			return bm
		}
		b.Logf("the cached database in %s is incomplete (%+v, %v): building it again", dir, orgs, err)
	}
	// Built in a directory of its own and renamed into place, so that a
	// benchmark in another process never opens a half-built database, and
	// marked complete only when it holds all n events.
	tmp, err := os.MkdirTemp(os.TempDir(), filepath.Base(dir)+".building-")
	if err != nil {
		b.Fatal(err)
	}
	defer os.RemoveAll(tmp)
	defer os.Remove(tmp + ".keys.json")
	end := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
	start := end.Add(-91 * 24 * time.Hour)
	step := end.Sub(start) / time.Duration(n)
	s := benchOpen(b, tmp)
	t0 := time.Now()
	peak := appendWorkload(b, s, n, start, step)
	orgs, err := s.Organizations(context.Background())
	if cerr := s.Close(); err == nil {
		err = cerr
	}
	if err != nil || len(orgs) != 1 || orgs[0].Size != uint64(n) || b.Failed() {
		b.Fatalf("building the %d-event database failed (organizations %+v, %v)", n, orgs, err)
	}
	el := time.Since(t0)
	b.Logf("built %d events in %s (%.0f events/s), peak RSS %d MB (RssAnon %d MB, RssFile %d MB)", n, el.Round(time.Second),
		float64(n)/el.Seconds(), peak.rss, peak.anon, peak.file)
	meta := fmt.Sprintf("%d %d", start.UnixNano(), end.UnixNano())
	if err := os.WriteFile(filepath.Join(tmp, "bench-complete"), []byte(meta), 0o600); err != nil {
		b.Fatal(err)
	}
	os.RemoveAll(dir)
	if err := os.Rename(tmp, dir); err != nil {
		// Another process renamed its build into place first.
		if bm, ok := cachedBench1M(dir, n); ok {
			return bm
		}
		b.Fatal(err)
	}
	if err := os.Rename(tmp+".keys.json", dir+".keys.json"); err != nil {
		b.Fatal(err)
	}
	return bench1M{dir: dir, n: n, start: start, end: end}
}

// cachedBench1M returns the database built earlier in dir, if it is marked
// complete.
func cachedBench1M(dir string, n int) (bench1M, bool) {
	raw, err := os.ReadFile(filepath.Join(dir, "bench-complete"))
	if err != nil {
		return bench1M{}, false
	}
	f := strings.Fields(string(raw))
	if len(f) != 2 {
		return bench1M{}, false
	}
	s, _ := strconv.ParseInt(f[0], 10, 64)
	e, _ := strconv.ParseInt(f[1], 10, 64)
	return bench1M{dir: dir, n: n, start: time.Unix(0, s).UTC(), end: time.Unix(0, e).UTC()}, true
}

// rssPeak is the highest resident memory seen, in MB: in total and each
// part at its own peak.
type rssPeak struct{ rss, anon, file int }

// appendWorkload appends events 0..n-1 of the workload, timestamps from
// start by step, with 8 producers of 256-event batches, and returns the
// peak resident memory sampled every 50 ms meanwhile.
func appendWorkload(b *testing.B, s *Store, n int, start time.Time, step time.Duration) rssPeak {
	const batch, producers = 256, 8
	var peak rssPeak
	stop, sampled := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(sampled)
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for {
			peak.rss = max(peak.rss, rssMB("VmRSS"))
			peak.anon = max(peak.anon, rssMB("RssAnon"))
			peak.file = max(peak.file, rssMB("RssFile"))
			select {
			case <-stop:
				return
			case <-t.C:
			}
		}
	}()
	var wg sync.WaitGroup
	for p := 0; p < producers; p++ {
		wg.Add(1)
		go func(p int) {
			defer wg.Done()
			evs := make([]Event, 0, batch)
			for g := p * batch; g < n; g += producers * batch {
				evs = evs[:0]
				for i := g; i < min(g+batch, n); i++ {
					evs = append(evs, benchEvent("acme", i, start.Add(time.Duration(i)*step)))
				}
				if _, err := s.Append(context.Background(), evs); err != nil {
					b.Error(err)
					return
				}
			}
		}(p)
	}
	wg.Wait()
	close(stop)
	<-sampled
	return peak
}

// BenchmarkAppendRSS appends the 1M-event workload to a new store and
// reports the peak resident memory meanwhile (target: under 300 MB).
func BenchmarkAppendRSS(b *testing.B) {
	benchMemoryLimit(b)
	n := 1_000_000
	if v := os.Getenv("AXIOM_BENCH_EVENTS"); v != "" {
		n, _ = strconv.Atoi(v)
	}
	for op := 0; op < b.N; op++ {
		s := benchOpen(b, b.TempDir())
		end := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
		start := end.Add(-91 * 24 * time.Hour)
		t0 := time.Now()
		peak := appendWorkload(b, s, n, start, end.Sub(start)/time.Duration(n))
		el := time.Since(t0)
		if err := s.Close(); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(n)/el.Seconds(), "events/s")
		b.ReportMetric(float64(peak.rss), "peak-RSS-MB")
		b.ReportMetric(float64(peak.anon), "peak-RssAnon-MB")
		b.ReportMetric(float64(peak.file), "peak-RssFile-MB")
	}
}

// rssMB reads a memory figure (VmRSS, VmHWM) of this process in MB.
func rssMB(field string) int {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return -1
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), field+":"); ok {
			kb, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")))
			return kb / 1024
		}
	}
	return -1
}

// median runs fn k times and returns the median duration.
func median(b *testing.B, k int, fn func(i int) error) time.Duration {
	d := make([]time.Duration, k)
	for i := range d {
		start := time.Now()
		if err := fn(i); err != nil {
			b.Fatal(err)
		}
		d[i] = time.Since(start)
	}
	return p50(d)
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// BenchmarkQuery1M measures queries over 1,000,000 events against raw
// Badger doing the equivalent raw reads on the same database.
func BenchmarkQuery1M(b *testing.B) {
	n := 1_000_000
	if v := os.Getenv("AXIOM_BENCH_EVENTS"); v != "" {
		n, _ = strconv.Atoi(v)
	}
	benchMemoryLimit(b)
	bm := buildBench1M(b, n)
	// Reads of a database not in the page cache wait on the disk: not
	// behind the writeback of what BenchmarkAppendRSS wrote just before.
	settleDisk()
	ctx := context.Background()
	const k = 21
	// Cold: Gets right after opening a store none of whose files is in
	// the page cache, as after a reboot: each reads table indexes, index
	// blocks and the record from the disk.
	dropCache(b, bm.dir)
	cold := benchOpen(b, bm.dir)
	getCold := median(b, k, func(i int) error {
		_, err := cold.Get(ctx, "acme", benchID((i*104729+17)%bm.n))
		return err
	})
	if err := cold.Close(); err != nil {
		b.Fatal(err)
	}
	// The rest, and the targets, with the store's files in the page
	// cache, as for a store in use: what was cached when the benchmark
	// started (what earlier runs left) is not measured.
	loadCache(b, bm.dir)
	// The peak is the queries' own, not that of building the database in
	// this process (which BenchmarkAppendRSS measures).
	runtime.GC()
	debug.FreeOSMemory()
	resetPeakRSS()
	s := benchOpen(b, bm.dir)
	defer s.Close()
	// The text sketches, as the desktop app and serve build them in the
	// background once appends pause (KeepTextSketches; once for the cached
	// database), then the queries' own peak.
	if _, err := s.buildSketches(ctx, func() bool { return true }); err != nil {
		b.Fatal(err)
	}
	runtime.GC()
	debug.FreeOSMemory()
	resetPeakRSS()
	b.ResetTimer()
	for op := 0; op < b.N; op++ {
		newest := median(b, k, func(int) error {
			p, err := s.List(ctx, Filter{Org: "acme", Limit: 100})
			if err == nil && len(p.Events) != 100 {
				err = fmt.Errorf("newest page has %d events", len(p.Events))
			}
			return err
		})
		selective := median(b, k, func(i int) error {
			p, err := s.List(ctx, Filter{Org: "acme", Limit: 100, UserIDs: []string{fmt.Sprintf("user-%03d@example.com", (i*13)%benchUsers)}})
			if err == nil && len(p.Events) != 100 {
				err = fmt.Errorf("selective page has %d events", len(p.Events))
			}
			return err
		})
		f90 := Filter{Org: "acme", Since: bm.end.Add(-90 * 24 * time.Hour), Until: bm.end}
		aggregates := median(b, k, func(int) error {
			if _, err := s.Facets(ctx, f90); err != nil {
				return err
			}
			_, err := s.Histogram(ctx, f90, HistogramOptions{Buckets: 90})
			return err
		})
		// The same with a filter no index or counter answers (a third of
		// the events): the timeline is scanned, in parts side by side.
		fAWS := f90
		fAWS.Providers = []string{"aws"}
		filtered := median(b, 7, func(int) error {
			if _, err := s.Facets(ctx, fAWS); err != nil {
				return err
			}
			_, err := s.Histogram(ctx, fAWS, HistogramOptions{Buckets: 90})
			return err
		})
		// What the timeline asks beside its rows: the facets as choices
		// (provider counted without provider:aws, from the counters) and
		// the histogram, counted in one scan.
		overview := median(b, 7, func(int) error {
			_, _, err := s.Overview(ctx, fAWS, HistogramOptions{Buckets: 90})
			return err
		})
		// A free-text search for a term one event of the million has (a
		// request id): the text sketches leave few blocks' records to read.
		textRare := median(b, 5, func(i int) error {
			p, err := s.List(ctx, Filter{Org: "acme", Text: fmt.Sprintf("REQ-%08d", (i*7919+13)%bm.n), Limit: 100})
			if err == nil && len(p.Events) != 1 {
				err = fmt.Errorf("a search for one request id found %d events", len(p.Events))
			}
			return err
		})
		get := median(b, 201, func(i int) error {
			_, err := s.Get(ctx, "acme", benchID((i*7919)%bm.n))
			return err
		})
		// The store's memory, before raw Badger's reads below map
		// the same files (they do not tell the store what they read).
		runtime.GC()
		peak, rss, anon, file := rssMB("VmHWM"), rssMB("VmRSS"), rssMB("RssAnon"), rssMB("RssFile")

		// Raw Badger equivalents on the same database: read 100 timeline
		// keys and their 100 records; a single Get of one record.
		rawPage := median(b, k, func(int) error {
			return s.db.View(func(txn *badger.Txn) error {
				it := txn.NewIterator(badger.IteratorOptions{Prefix: orgPrefix(tagTime, "acme"), Reverse: true})
				defer it.Close()
				it.Seek(append(orgPrefix(tagTime, "acme"), 0xff))
				for j := 0; j < 100 && it.Valid(); j++ {
					key := it.Item().Key()
					seq := uint64(0)
					for _, c := range key[len(key)-8:] {
						seq = seq<<8 | uint64(c)
					}
					item, err := txn.Get(recordKey("acme", seq))
					if err != nil {
						return err
					}
					if _, err := item.ValueCopy(nil); err != nil {
						return err
					}
					it.Next()
				}
				return nil
			})
		})
		rawGet := median(b, 201, func(i int) error {
			return s.db.View(func(txn *badger.Txn) error {
				item, err := txn.Get(recordKey("acme", uint64((i*7919)%bm.n)+1))
				if err != nil {
					return err
				}
				_, err = item.ValueCopy(nil)
				return err
			})
		})
		b.ReportMetric(ms(newest), "newest100-ms")
		b.ReportMetric(ms(selective), "selective1pct-ms")
		b.ReportMetric(ms(aggregates), "facets+hist90d-ms")
		b.ReportMetric(ms(filtered), "facets+hist90d-aws-ms")
		b.ReportMetric(ms(overview), "overview90d-aws-ms")
		b.ReportMetric(ms(textRare), "text-rare-ms")
		b.ReportMetric(ms(get), "get-ms")
		b.ReportMetric(ms(getCold), "get-cold-ms")
		b.ReportMetric(ms(rawPage), "raw-page100-ms")
		b.ReportMetric(ms(rawGet), "raw-get-ms")
		b.ReportMetric(float64(newest)/float64(rawPage), "newest/raw")
		b.ReportMetric(float64(selective)/float64(rawPage), "selective/raw")
		b.ReportMetric(float64(get)/float64(rawGet), "get/raw")
		b.ReportMetric(float64(peak), "peak-RSS-MB")
		b.ReportMetric(float64(rss), "RSS-MB")
		// Badger maps its value log and tables: RssFile is page cache
		// the kernel can drop; RssAnon is the process's own memory.
		b.ReportMetric(float64(anon), "RssAnon-MB")
		b.ReportMetric(float64(file), "RssFile-MB")
	}
	b.StopTimer()
}

// BenchmarkAppendFloor measures what the entries the requirements
// force on any store built on Badger cost, before any of the store's own
// work: (b) raw Badger as in BenchmarkDurableAppend, one value per event;
// (r) the store's own records and id-index entries for the same events
// (a record per event, and an id → seq entry per event, which idempotent
// retries and Get by id need); (t) those and the timeline index (one
// entry per event in timestamp order, which the newest page needs). Each
// side commits 256-event transactions, each synced, as (b) does.
//
// recid/raw is thus the ceiling of store/raw in BenchmarkDurableAppend for
// any layout that keeps an id index in Badger, however its other indexes
// are built.
func BenchmarkAppendFloor(b *testing.B) {
	benchMemoryLimit(b)
	const perOp = 16384
	rawDir, recDir, tlDir := b.TempDir(), b.TempDir(), b.TempDir()
	for _, d := range []string{rawDir, recDir, tlDir} {
		rawOpen(b, d).Close()
	}
	value := make([]byte, recordSize(b))
	rand.Read(value)
	all := storeEntries(b, perOp)
	only := func(tags ...byte) flatKVs {
		var kvs []kv
		for _, e := range all {
			if slices.Contains(tags, e.k[0]) {
				kvs = append(kvs, e)
			}
		}
		return flatten(kvs)
	}
	recID, withTimeline := only(tagRecord, tagID), only(tagRecord, tagID, tagTime)
	if recID.len() != 2*perOp || withTimeline.len() != 3*perOp {
		b.Fatalf("%d record and id entries, %d with the timeline, for %d events", recID.len(), withTimeline.len(), perOp)
	}
	var times [3]time.Duration
	side := func(i int, dir string, kvs func(op int) []kv) func(op int) {
		return func(op int) {
			in := kvs(op)
			db := rawReopen(b, dir)
			defer db.Close()
			runtime.GC()
			start := time.Now()
			commitSynced(b, db, in, perOp/256)
			times[i] += time.Since(start)
		}
	}
	sides := []func(int){
		side(0, rawDir, func(op int) []kv {
			kvs := make([]kv, perOp)
			for i := range kvs {
				kvs[i] = kv{[]byte(fmt.Sprintf("k%015d", op*perOp+i)), value}
			}
			return kvs
		}),
		side(1, recDir, func(op int) []kv { return recID.prefixed(fmt.Sprintf("%08d/", op)) }),
		side(2, tlDir, func(op int) []kv { return withTimeline.prefixed(fmt.Sprintf("%08d/", op)) }),
	}
	orders := [][3]int{{0, 1, 2}, {1, 2, 0}, {2, 0, 1}, {0, 2, 1}, {2, 1, 0}, {1, 0, 2}}
	b.ResetTimer()
	for op := 0; op < b.N; op++ {
		for _, i := range orders[op%len(orders)] {
			sides[i](op)
		}
	}
	b.StopTimer()
	n := float64(b.N * perOp)
	raw := n / times[0].Seconds()
	b.ReportMetric(raw, "raw-events/s")
	b.ReportMetric(n/times[1].Seconds(), "recid-events/s")
	b.ReportMetric(n/times[1].Seconds()/raw, "recid/raw")
	b.ReportMetric(n/times[2].Seconds(), "timeline-events/s")
	b.ReportMetric(n/times[2].Seconds()/raw, "timeline/raw")
}
