package sync_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	gosync "sync"
	"testing"
	"time"

	axsync "github.com/axiomops/axiom-audit/app/sync"
	"github.com/axiomops/axiom-audit/app/sync/synctest"
	"github.com/axiomops/axiom-audit/app/sync/webhook"
	"github.com/axiomops/axiom-audit/storage"
	"github.com/axiomops/axiom-audit/storage/keystore"
)

// sink is a local receiver that reads and acknowledges every body.
func sink() *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusOK)
	}))
}

func webhookSyncer(b testing.TB, st *storage.Store, url string, batch int) *axsync.Syncer {
	s := axsync.New(axsync.Options{Store: st, Keystore: keystore.NewMemory(), BatchSize: batch,
		Open: func(_ context.Context, c axsync.Config, secret []byte) (axsync.Destination, error) {
			return webhook.NewClient(c.URL, secret, nil), nil
		}})
	if err := s.Enable(context.Background(), axsync.Config{Org: "acme", Kind: axsync.KindWebhook, URL: url, Format: "jsonl"}, []byte("secret")); err != nil {
		b.Fatal(err)
	}
	return s
}

// BenchmarkSync_Throughput delivers a backlog of b.N events to a local
// webhook receiver (gzip JSON Lines, signed, 1000 events per batch), then
// POSTs the same bodies with a plain loop: the ratio is what the Syncer
// costs over the wire alone (reading the log, encoding, cursor fsyncs).
func BenchmarkSync_Throughput(b *testing.B) {
	srv := sink()
	defer srv.Close()
	st := synctest.NewStore(b)
	synctest.Append(b, st, "acme", b.N)
	s := webhookSyncer(b, st, srv.URL, 1000)
	defer s.Close()
	ctx := context.Background()

	b.ResetTimer()
	start := time.Now()
	if _, err := s.RunNow(ctx, "acme"); err != nil {
		b.Fatal(err)
	}
	syncDur := time.Since(start)
	b.StopTimer()

	// The raw baseline: the same bytes, already encoded and signed.
	var bodies [][]byte
	for after := uint64(0); after < uint64(b.N); after += 1000 {
		evs := synctest.Read(b, st, "acme", after, 1000)
		body, err := axsync.GzipJSONLines(evs, false)
		if err != nil {
			b.Fatal(err)
		}
		bodies = append(bodies, body)
	}
	client := &http.Client{Timeout: 30 * time.Second}
	start = time.Now()
	for _, body := range bodies {
		req, _ := http.NewRequest(http.MethodPost, srv.URL, bytes.NewReader(body))
		req.Header.Set("Content-Encoding", "gzip")
		req.Header.Set(webhook.SignatureHeader, "t=0,v1=00")
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	rawDur := time.Since(start)
	syncRate := float64(b.N) / syncDur.Seconds()
	rawRate := float64(b.N) / rawDur.Seconds()
	b.ReportMetric(syncRate, "events/s")
	b.ReportMetric(rawRate, "raw-events/s")
	b.ReportMetric(syncRate/rawRate, "ratio-to-raw")
}

// BenchmarkSync_Latency appends b.N events one at a time (each a durable
// append) while the Syncer runs, and measures append → receiver for each:
// p50 and p99 in seconds. Store.Subscribe wakes the delivery loop.
func BenchmarkSync_Latency(b *testing.B) {
	var mu gosync.Mutex
	arrived := map[uint64]time.Time{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		lines, err := axsync.ReadJSONLines(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		now := time.Now()
		mu.Lock()
		for _, l := range lines {
			arrived[l.Seq] = now
		}
		mu.Unlock()
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()
	st := synctest.NewStore(b)
	s := webhookSyncer(b, st, srv.URL, 1000)
	defer s.Close()
	ctx := context.Background()
	if _, err := s.RunNow(ctx, "acme"); err != nil { // the sync_enabled-free start
		b.Fatal(err)
	}
	if err := s.Start(ctx); err != nil {
		b.Fatal(err)
	}
	appended := make(map[uint64]time.Time, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		rs, err := st.Append(ctx, []storage.Event{synctest.Event("acme", i, time.Now())})
		if err != nil {
			b.Fatal(err)
		}
		appended[rs[0].Seq] = time.Now()
		time.Sleep(time.Millisecond) // a busy agent, not a bulk load
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		mu.Lock()
		n := len(arrived)
		mu.Unlock()
		if n >= b.N {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("%d of %d events arrived", n, b.N)
		}
		time.Sleep(time.Millisecond)
	}
	b.StopTimer()
	lat := make([]float64, 0, b.N)
	mu.Lock()
	for seq, at := range appended {
		lat = append(lat, max(0, arrived[seq].Sub(at).Seconds()))
	}
	mu.Unlock()
	slices.Sort(lat)
	b.ReportMetric(lat[len(lat)/2], "p50-s")
	b.ReportMetric(lat[min(len(lat)-1, len(lat)*99/100)], "p99-s")
	b.ReportMetric(0, "ns/op")
}
