package storage

import (
	"context"
	"math/bits"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/axiomops/axiom-audit/storage/tlog"
)

// BenchmarkIntegrityAppendRatio: durable group-committed appends with the
// integrity layer on, against the same workload with it off.
func BenchmarkIntegrityAppendRatio(b *testing.B) {
	const perOp, batch = 4096, 256
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
	var on, off time.Duration
	for i := 0; i < b.N; i++ {
		off += run(true)
		on += run(false)
	}
	b.ReportMetric(float64(b.N*perOp)/on.Seconds(), "on-events/s")
	b.ReportMetric(float64(b.N*perOp)/off.Seconds(), "off-events/s")
	b.ReportMetric(off.Seconds()/on.Seconds(), "ratio")
}

// BenchmarkVerify1M verifies the cached benchmark database (bench_test.go),
// keyless and with decryption, and proves inclusion of events in it.
func BenchmarkVerify1M(b *testing.B) {
	n := 1_000_000
	if v := os.Getenv("AXIOM_BENCH_EVENTS"); v != "" {
		n, _ = strconv.Atoi(v)
	}
	bm := buildBench1M(b, n)
	s := benchOpen(b, bm.dir)
	defer s.Close()
	ctx := context.Background()
	for i := 0; i < b.N; i++ {
		for _, keyless := range []bool{true, false} {
			start := time.Now()
			sum, err := s.Verify(ctx, VerifyOptions{Org: "acme", Keyless: keyless}, func(p Problem) error {
				b.Errorf("problem: %v", p)
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}
			rate := float64(sum.Events) / time.Since(start).Seconds()
			if keyless {
				b.ReportMetric(rate, "verify-keyless-events/s")
			} else {
				b.ReportMetric(rate, "verify-decrypt-events/s")
			}
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
