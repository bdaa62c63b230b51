package export_test

// Benchmarks of export and verify-export over a real store (`make bench`):
//
//	go test -run '^$' -bench . -benchtime 1x ./app/export/
//
// The store of 1,000,000 events (AXIOM_EXPORT_BENCH_N overrides the number)
// is built once under os.TempDir() with a file keystore, and reused by later
// runs; bundles go to a test temporary folder (AXIOM_EXPORT_BENCH_OUT, e.g.
// /dev/shm, picks another place). Each export is compared in the same run
// with two floors: x-read is its events/s over the store's own ScanRecords
// of the same events doing nothing with them (the read every export needs;
// the storage benchmarks compare that scan with raw Badger), and x-baseline
// over a plain loop encoding the same events with encoding/json to
// io.Discard. events/s is wall clock, events/cpu-s uses the process's CPU
// time (every goroutine of the pipeline: reader, events encoder, proofs
// writer), and the log line gives the load average to read them with. The
// benchmark runs under storage.SuggestedMemoryLimit, as the app does. Peak
// RSS is read from VmHWM after resetting it (/proc/self/clear_refs), so it
// is the export's own peak; it includes the pages of Badger's mapped files
// read meanwhile, which the store pages out beyond its budget once a
// second, so peak-anon-MB (RssAnon sampled every 50 ms: heap and stacks)
// is what shows memory does not grow with the number of events.

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/axiomops/axiom-audit/app/export"
	"github.com/axiomops/axiom-audit/storage"
	"github.com/axiomops/axiom-audit/storage/keystore"
	"github.com/axiomops/axiom-audit/storage/tlog"
)

func benchN() int {
	if n, err := strconv.Atoi(os.Getenv("AXIOM_EXPORT_BENCH_N")); err == nil && n > 0 {
		return n
	}
	return 1_000_000
}

var benchActions = []string{"scan.started", "scan.failed", "connection.role_assumed", "apply.mutation",
	"workflow.run_started", "workflow.drift_detection", "user.signed_in", "user.settings_changed",
	"releaseops.deployed", "releaseops.assessed"}

var benchState = json.RawMessage(`{"instanceType":"m5.large","tags":{"team":"platform","env":"prod"},"blob":"` +
	strings.Repeat("abcdefghij", 93) + `"}`)

// benchEvent is the i-th event: about 600 bytes of public fields and a
// 1 KiB state (withheld by the export).
func benchEvent(i int, ts time.Time) storage.Event {
	return storage.Event{
		ID:             fmt.Sprintf("01900000-0000-7000-8000-%012x", i),
		Timestamp:      ts,
		OrganizationID: "acme",
		UserID:         fmt.Sprintf("user-%03d@example.com", (i*7)%100),
		Provider:       storage.Providers[i%3],
		ActionType:     benchActions[i%len(benchActions)],
		ResourceIDs: []string{
			fmt.Sprintf("arn:aws:ec2:eu-west-1:123456789012:instance/i-%017x", i%5000),
			fmt.Sprintf("arn:aws:s3:::bucket-%05d", i%997),
		},
		AfterState: benchState,
		Status:     storage.Statuses[i%3],
		RiskLevel:  storage.RiskLevels[i%3],
		Metadata: json.RawMessage(fmt.Sprintf(`{"region":"eu-west-1","account":"123456789012","requestId":"req-%08d",`+
			`"source":"axiom-agent/1.4.2","sessionId":"sess-%06d","durationMs":%d,"note":"routine change applied by the scheduled workflow"}`,
			i, i%100000, i%5000)),
	}
}

type benchStore struct {
	dir        string
	n          int
	start, end time.Time
}

func openBenchStore(b *testing.B, dir string) *storage.Store {
	return openBenchStoreWith(b, dir, storage.Options{GCInterval: -1})
}

func openBenchStoreWith(b *testing.B, dir string, opts storage.Options) *storage.Store {
	b.Helper()
	ks, err := keystore.NewFile(filepath.Join(dir, "keystore.json"), nil)
	if err != nil {
		b.Fatal(err)
	}
	st, err := storage.Open(context.Background(), filepath.Join(dir, "db"), ks, opts)
	if err != nil {
		b.Fatal(err)
	}
	return st
}

// buildBenchStore returns the cached store of n events, building it once.
func buildBenchStore(b *testing.B, n int) benchStore {
	b.Helper()
	dir := filepath.Join(os.TempDir(), fmt.Sprintf("axiom-audit-export-bench-v%d-tiles%d-%d", storage.FormatVersion, storage.TreeStride, n))
	meta := filepath.Join(dir, "bench-complete")
	end := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	start := end.Add(-91 * 24 * time.Hour)
	if _, err := os.Stat(meta); err == nil {
		return benchStore{dir: dir, n: n, start: start, end: end}
	}
	os.RemoveAll(dir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		b.Fatal(err)
	}
	// One checkpoint at the end instead of one per 1000 events: the
	// build is a bulk load, not the workload.
	st := openBenchStoreWith(b, dir, storage.Options{GCInterval: -1, CheckpointEvery: 1 << 30,
		CheckpointInterval: 24 * time.Hour, HeartbeatInterval: 48 * time.Hour})
	step := end.Sub(start) / time.Duration(n)
	t0 := time.Now()
	const batch, producers = 250, 2
	var wg sync.WaitGroup
	for p := range producers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			evs := make([]storage.Event, 0, batch)
			for g := p * batch; g < n; g += producers * batch {
				evs = evs[:0]
				for i := g; i < min(g+batch, n); i++ {
					evs = append(evs, benchEvent(i, start.Add(time.Duration(i)*step)))
				}
				if _, err := st.Append(context.Background(), evs); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	// Checkpoint now, so that closing does not race the checkpoint timer.
	if _, err := st.Checkpoint(context.Background(), "acme"); err != nil {
		b.Fatal(err)
	}
	if err := st.Close(); err != nil {
		b.Fatal(err)
	}
	b.Logf("built %d events in %s", n, time.Since(t0).Round(time.Second))
	os.WriteFile(meta, nil, 0o600)
	return benchStore{dir: dir, n: n, start: start, end: end}
}

// source adapts the store to export.Source (as the app's adapter does).
type source struct{ st *storage.Store }

func (s source) List(ctx context.Context, f storage.Filter) (storage.Page, error) {
	return s.st.List(ctx, f)
}
func (s source) Checkpoint(ctx context.Context, org string) (export.SignedCheckpoint, error) {
	sc, err := s.st.Checkpoint(ctx, org)
	return export.SignedCheckpoint{Checkpoint: sc.Checkpoint, Note: sc.Note}, err
}
func (s source) ScanRecords(ctx context.Context, f storage.Filter, maxSeq uint64, decryptStates bool, fn func(*storage.StoredEvent) error) error {
	return s.st.ScanRecords(ctx, f, maxSeq, decryptStates, fn)
}

func (s source) TreeNodes(org string) tlog.NodeReader { return s.st.TreeNodes(org) }

func (s source) PublicKey(ctx context.Context) (string, error) { return s.st.PublicKey(ctx) }
func (s source) SignManifest(ctx context.Context, org, sum string) ([]byte, error) {
	return s.st.SignManifest(ctx, org, sum)
}
func (s source) InclusionProof(ctx context.Context, org, id string, size uint64) (export.Proof, error) {
	p, err := s.st.InclusionProof(ctx, org, id, size)
	return export.Proof{LeafIndex: p.LeafIndex, TreeSize: p.TreeSize, LeafHash: p.LeafHash, Hashes: p.Hashes}, err
}
func (s source) RevealStates(ctx context.Context, org, id string) (storage.RevealedState, error) {
	return s.st.RevealStates(ctx, org, id)
}

// anonPeak samples RssAnon (the heap and stacks, without the file pages
// Badger maps) every 50 ms until stop is called, and returns the peak in MB.
func anonPeak() (stop func() float64) {
	done := make(chan struct{})
	peak := memMB("RssAnon")
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				peak = max(peak, memMB("RssAnon"))
			}
		}
	}()
	return func() float64 {
		close(done)
		wg.Wait()
		return max(peak, memMB("RssAnon"))
	}
}

// resetPeakRSS makes VmHWM start again from the current RSS.
func resetPeakRSS() { os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) }

// memMB reads a memory figure (VmRSS, VmHWM) of this process in MB.
func memMB(field string) float64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return -1
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), field+":"); ok {
			kb, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")))
			return float64(kb) / 1024
		}
	}
	return -1
}

// loadAvg is the 1-minute load average, to read the figures with.
func loadAvg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return "?"
	}
	return f[0]
}

// baseline encodes the same n events with encoding/json to io.Discard:
// the speed of the encoding alone, with no store, proofs or files.
func baseline(n int, start, end time.Time) time.Duration {
	step := end.Sub(start) / time.Duration(n)
	enc := json.NewEncoder(io.Discard)
	t0 := time.Now()
	for i := range n {
		e := benchEvent(i, start.Add(time.Duration(i)*step))
		e.AfterState = nil
		enc.Encode(&e)
	}
	return time.Since(t0)
}

// readRate is how fast the store alone hands out the events an export
// reads (ScanRecords, decoding each record, doing nothing with it): the
// floor under any export, as the storage benchmarks compare that scan with
// raw Badger.
func readRate(b *testing.B, st *storage.Store) float64 {
	t0 := time.Now()
	n := 0
	err := st.ScanRecords(context.Background(), storage.Filter{Org: "acme", Order: storage.OldestFirst}, 1<<62, false,
		func(*storage.StoredEvent) error { n++; return nil })
	if err != nil {
		b.Fatal(err)
	}
	el := time.Since(t0)
	b.Logf("store read: ScanRecords of %d events: %s (%.0f events/s)", n, el.Round(time.Millisecond), float64(n)/el.Seconds())
	return float64(n) / el.Seconds()
}

// BenchmarkExport exports every event of the store to a bundle in csv and
// jsonl, then verifies the jsonl bundle. Reported: events/s (wall clock)
// and events/cpu-s, x-read (the export's events/s over the store's own
// ScanRecords rate, measured in the same run: 1.0 would be an export as
// fast as reading), x-baseline (over encoding/json alone), and peak RSS.
func BenchmarkExport(b *testing.B) {
	// As the app runs (main.go): under the store's suggested Go memory limit
	// and collector target.
	defer storage.UseSuggestedRuntime()()
	bs := buildBenchStore(b, benchN())
	st := openBenchStore(b, bs.dir)
	defer st.Close()
	c0 := cpuTime()
	base := baseline(bs.n, bs.start, bs.end)
	baseRate := float64(bs.n) / (cpuTime() - c0).Seconds() // CPU-bound: compare on CPU time
	b.Logf("baseline: encoding/json of %d events to io.Discard: %s (%.0f events/s)", bs.n, base.Round(time.Millisecond), baseRate)
	read := readRate(b, st)
	// What the process holds before any export: the store's own memory
	// (Badger's memtables and caches), against which peak-anon-MB is read.
	runtime.GC()
	b.Logf("before exporting: RssAnon %.0f MB, VmRSS %.0f MB", memMB("RssAnon"), memMB("VmRSS"))
	// Bundles live until the end, so that verify can read the jsonl one.
	root := b.TempDir()
	if d := os.Getenv("AXIOM_EXPORT_BENCH_OUT"); d != "" {
		var err error
		if root, err = os.MkdirTemp(d, "bench"); err != nil {
			b.Fatal(err)
		}
		defer os.RemoveAll(root)
	}
	var verifyDir string
	for _, f := range []export.Format{export.CSV, export.JSONLines} {
		b.Run(string(f), func(b *testing.B) {
			var rate, cpuRate float64
			resetPeakRSS()
			stopAnon := anonPeak()
			for range b.N {
				out, err := os.MkdirTemp(root, string(f))
				if err != nil {
					b.Fatal(err)
				}
				t0, c0 := time.Now(), cpuTime()
				res, err := export.Write(context.Background(), source{st}, export.Options{Org: "acme", Format: f, OutDir: out,
					Filter: storage.Filter{Order: storage.OldestFirst}, ToolVersion: "bench"})
				if err != nil {
					b.Fatal(err)
				}
				el, cpu := time.Since(t0), cpuTime()-c0
				if res.Count != int64(bs.n) {
					b.Fatalf("exported %d of %d events", res.Count, bs.n)
				}
				rate = float64(res.Count) / el.Seconds()
				cpuRate = float64(res.Count) / cpu.Seconds()
				if f == export.JSONLines {
					verifyDir = res.Dir
				} else {
					os.RemoveAll(res.Dir)
				}
				b.Logf("%s: %d events, %d MB, in %s (CPU %s, load %s)", f, res.Count, res.Bytes>>20, el.Round(time.Millisecond), cpu.Round(time.Millisecond), loadAvg())
			}
			b.ReportMetric(rate, "events/s")
			b.ReportMetric(cpuRate, "events/cpu-s")
			b.ReportMetric(rate/read, "x-read")
			b.ReportMetric(rate/baseRate, "x-baseline")
			b.ReportMetric(memMB("VmHWM"), "peak-MB")
			b.ReportMetric(stopAnon(), "peak-anon-MB")
			b.ReportMetric(0, "ns/op")
		})
	}
	b.Run("verify", func(b *testing.B) {
		if verifyDir == "" {
			b.Skip("no jsonl bundle to verify")
		}
		var rate, cpuRate float64
		resetPeakRSS()
		stopAnon := anonPeak()
		for range b.N {
			t0, c0 := time.Now(), cpuTime()
			rep, err := export.Verify(context.Background(), verifyDir, export.VerifyOptions{})
			if err != nil || !rep.OK {
				b.Fatalf("verify: %v %v", err, rep.Problems)
			}
			rate = float64(rep.Events) / time.Since(t0).Seconds()
			cpuRate = float64(rep.Events) / (cpuTime() - c0).Seconds()
			b.Logf("verify: %d events in %s (load %s)", rep.Events, time.Since(t0).Round(time.Millisecond), loadAvg())
		}
		b.ReportMetric(rate, "events/s")
		b.ReportMetric(cpuRate, "events/cpu-s")
		b.ReportMetric(memMB("VmHWM"), "peak-MB")
		b.ReportMetric(stopAnon(), "peak-anon-MB")
		b.ReportMetric(0, "ns/op")
	})
}
