package storage

import (
	"context"
	"math/bits"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	badger "github.com/dgraph-io/badger/v4"

	"github.com/axiomops/axiom-audit/storage/tlog"
)

// BenchmarkIntegrityAppendRatio: durable group-committed appends with the
// integrity layer on, against the same workload with it off, each run on a
// new store, in the order off-on-on-off so that neither always runs while
// the kernel writes back the other's files.
func BenchmarkIntegrityAppendRatio(b *testing.B) {
	benchMemoryLimit(b)
	const perOp, batch = 8192, 256
	run := func(disable bool) time.Duration {
		s, err := Open(context.Background(), b.TempDir(), newStoreKeystore(), Options{GCInterval: -1, disableIntegrity: disable})
		if err != nil {
			b.Fatal(err)
		}
		defer s.Close()
		ts0 := time.Now().Add(-24 * time.Hour)
		start := time.Now()
		for i := 0; i < perOp; i += batch {
			evs := make([]Event, batch)
			for j := range evs {
				evs[j] = benchEvent("acme", i+j, ts0.Add(time.Duration(i+j)*time.Millisecond))
			}
			if _, err := s.Append(context.Background(), evs); err != nil {
				b.Fatal(err)
			}
		}
		return time.Since(start)
	}
	// Each op runs three rounds of off-on-on-off, so that neither side
	// always goes first, and reports the median of the six adjacent
	// pairs' ratios: one stall of this VM (seconds long, on either side)
	// moves a ratio of totals by a third, the median not.
	const rounds = 3
	var on, off time.Duration
	var ratios []float64
	for i := 0; i < b.N; i++ {
		for range rounds {
			off1 := run(true)
			on1 := run(false)
			on2 := run(false)
			off2 := run(true)
			ratios = append(ratios, off1.Seconds()/on1.Seconds(), off2.Seconds()/on2.Seconds())
			on += on1 + on2
			off += off1 + off2
		}
	}
	slices.Sort(ratios)
	n := float64(2 * rounds * b.N * perOp)
	b.ReportMetric(n/on.Seconds(), "on-events/s")
	b.ReportMetric(n/off.Seconds(), "off-events/s")
	b.ReportMetric((ratios[(len(ratios)-1)/2]+ratios[len(ratios)/2])/2, "ratio")
	b.ReportMetric(off.Seconds()/on.Seconds(), "ratio-of-totals")
}

// BenchmarkVerify1M verifies the cached benchmark database (bench_test.go),
// keyless and with decryption, and proves inclusion of events in it.
func BenchmarkVerify1M(b *testing.B) {
	// The collector settings `axiom-audit verify` runs under.
	b.Cleanup(UseScanRuntime())
	n := 1_000_000
	if v := os.Getenv("AXIOM_BENCH_EVENTS"); v != "" {
		n, _ = strconv.Atoi(v)
	}
	bm := buildBench1M(b, n)
	// As in BenchmarkQuery1M: with the store's files in the page cache,
	// for the store and raw Badger alike.
	settleDisk()
	loadCache(b, bm.dir)
	s := benchOpen(b, bm.dir)
	defer s.Close()
	ctx := context.Background()
	for i := 0; i < b.N; i++ {
		// Raw Badger reading the same records in the same run: the floor
		// that verification is measured against (keyless / raw).
		raw := rawRecordScan(b, s, "acme")
		b.ReportMetric(raw.rate, "raw-badger-events/s")
		b.ReportMetric(raw.cpuUS, "raw-badger-cpu-us/event")
		for _, keyless := range []bool{true, false} {
			resetPeakRSS()
			start, cpu0 := time.Now(), processCPU()
			sum, err := s.Verify(ctx, VerifyOptions{Org: "acme", Keyless: keyless}, func(p Problem) error {
				b.Errorf("problem: %v", p)
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}
			rate := float64(sum.Events) / time.Since(start).Seconds()
			// CPU per event (process user+system time) does not depend on
			// what else a shared machine is running; 2 cores give at most
			// 2 s of CPU per second.
			cpuUS := float64((processCPU() - cpu0).Microseconds()) / float64(sum.Events)
			name := "decrypt"
			if keyless {
				name = "keyless"
			}
			b.ReportMetric(rate, "verify-"+name+"-events/s")
			b.ReportMetric(rate/raw.rate, name+"/raw")
			b.ReportMetric(cpuUS, name+"-cpu-us/event")
			b.Logf("%s: %d events in %s (%.0f events/s, %.2f× raw Badger), %.1f µs CPU per event (%.2f× raw Badger's), peak RSS while verifying %d MB (RssAnon after %d MB, RssFile %d MB: Badger's mapped files)",
				name, sum.Events, time.Since(start).Round(time.Millisecond), rate, rate/raw.rate, cpuUS, cpuUS/raw.cpuUS, rssMB("VmHWM"), rssMB("RssAnon"), rssMB("RssFile"))
		}
		cp, err := s.Checkpoint(ctx, "acme")
		if err != nil {
			b.Fatal(err)
		}
		d := median(b, 201, func(j int) error {
			p, err := s.InclusionProof(ctx, "acme", benchID((j*7919)%bm.n), cp.Checkpoint.Size)
			if err != nil {
				return err
			}
			if len(p.Hashes) > bits.Len64(cp.Checkpoint.Size-1) {
				b.Errorf("proof of %d hashes", len(p.Hashes))
			}
			return tlog.VerifyInclusion(p.LeafHash, p.LeafIndex, p.TreeSize, p.Hashes, cp.Checkpoint.Root)
		})
		b.ReportMetric(ms(d), "inclusion-proof-ms")
		b.ReportMetric(float64(bits.Len64(cp.Checkpoint.Size-1)*32), "max-proof-bytes")
	}
}

// rawScan is how fast raw Badger read the records: per second, and CPU
// microseconds per record.
type rawScan struct{ rate, cpuUS float64 }

// rawRecordScan reads every record value of org with raw Badger in key
// order, as fast as Badger allows (the better of value prefetch on and off).
func rawRecordScan(b *testing.B, s *Store, org string) rawScan {
	var best rawScan
	for _, prefetch := range []bool{false, true} {
		start, cpu0 := time.Now(), processCPU()
		n := 0
		var buf []byte
		err := s.db.View(func(txn *badger.Txn) error {
			it := txn.NewIterator(badger.IteratorOptions{Prefix: orgPrefix(tagRecord, org), PrefetchValues: prefetch, PrefetchSize: 256})
			defer it.Close()
			for it.Rewind(); it.Valid(); it.Next() {
				var err error
				if buf, err = it.Item().ValueCopy(buf[:0]); err != nil {
					return err
				}
				n++
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
		r := rawScan{rate: float64(n) / time.Since(start).Seconds(), cpuUS: float64((processCPU() - cpu0).Microseconds()) / float64(n)}
		b.Logf("raw Badger, value prefetch %v: %d records in %s (%.0f records/s), %.1f µs CPU per record",
			prefetch, n, time.Since(start).Round(time.Millisecond), r.rate, r.cpuUS)
		if r.rate > best.rate {
			best = r
		}
	}
	return best
}

// resetPeakRSS restarts the process's peak RSS (VmHWM) from its current RSS
// (Linux; elsewhere a no-op), so a phase's peak is not the build's.
func resetPeakRSS() { _ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) }
