package webhook_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	gosync "sync"
	"sync/atomic"
	"testing"
	"time"

	axsync "github.com/axiomops/axiom-audit/app/sync"
	"github.com/axiomops/axiom-audit/app/sync/synctest"
	"github.com/axiomops/axiom-audit/app/sync/webhook"
	"github.com/axiomops/axiom-audit/storage/keystore"
)

// receiver is a SIEM endpoint that verifies signatures as the README
// tells receivers to, and keeps the lines it accepted.
type receiver struct {
	secret []byte
	mu     gosync.Mutex
	lines  []axsync.Line
	posts  int
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	raw, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if err := webhook.Verify(rc.secret, r.Header.Get(webhook.SignatureHeader), raw, time.Now(), 0); err != nil {
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	var body io.Reader = bytes.NewReader(raw)
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		body = zr
	}
	lines, err := axsync.ReadJSONLines(body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	rc.mu.Lock()
	rc.lines = append(rc.lines, lines...)
	rc.posts++
	rc.mu.Unlock()
	w.WriteHeader(http.StatusAccepted)
}

func (rc *receiver) stored(_ testing.TB, org string) []axsync.Line {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	var out []axsync.Line
	for _, l := range rc.lines {
		if l.Org == org {
			out = append(out, l)
		}
	}
	return out
}

func TestClient_Conformance(t *testing.T) {
	synctest.Run(t, func(t *testing.T) synctest.Harness {
		rc := &receiver{secret: []byte("s3cret")}
		srv := httptest.NewServer(rc)
		t.Cleanup(srv.Close)
		return synctest.Harness{Destination: webhook.NewClient(srv.URL, rc.secret, nil), Stored: rc.stored}
	})
}

func TestClient_WrongSecretIsRejected(t *testing.T) {
	rc := &receiver{secret: []byte("right")}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	st := synctest.NewStore(t)
	synctest.Append(t, st, "acme", 2)
	_, err := webhook.NewClient(srv.URL, []byte("wrong"), nil).Deliver(t.Context(), axsync.Batch{Org: "acme", Events: synctest.Read(t, st, "acme", 0, 2)})
	var se *axsync.StatusError
	if !asStatus(err, &se) || se.Code != http.StatusUnauthorized || !se.Permanent() {
		t.Fatalf("err = %v, want a permanent 401", err)
	}
}

func asStatus(err error, se **axsync.StatusError) bool { return errors.As(err, se) }

// TestSyncer_WebhookFaults: the SIEM stores some batches but the
// connection dies before its 200, or answers 503: every event arrives, in
// order, and the duplicates are exactly the batches resent.
func TestSyncer_WebhookFaults(t *testing.T) {
	rc := &receiver{secret: []byte("k")}
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch n.Add(1) % 4 {
		case 1:
			rc.ServeHTTP(httptest.NewRecorder(), r) // stored …
			conn, _, _ := http.NewResponseController(w).Hijack()
			conn.Close() // … but the acknowledgement is lost
		case 2:
			w.Header().Set("Retry-After", "0")
			http.Error(w, "busy", http.StatusServiceUnavailable)
		default:
			rc.ServeHTTP(w, r)
		}
	}))
	defer srv.Close()
	st := synctest.NewStore(t)
	synctest.Append(t, st, "acme", 1000)
	s := axsync.New(axsync.Options{Store: st, Keystore: keystore.NewMemory(), BatchSize: 100,
		Backoff: axsync.Backoff{Min: time.Millisecond, Max: 2 * time.Millisecond},
		Open: func(_ context.Context, c axsync.Config, secret []byte) (axsync.Destination, error) {
			return webhook.NewClient(c.URL, secret, nil), nil
		}})
	defer s.Close()
	if err := s.Enable(context.Background(), axsync.Config{Org: "acme", Kind: axsync.KindWebhook, URL: srv.URL, Format: "jsonl"}, []byte("k")); err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	synctest.WaitFor(t, 10*time.Second, func() bool { return len(synctest.Dedup(t, rc.stored(t, "acme"))) >= 1000 },
		func() string { return fmt.Sprintf("%d events arrived", len(synctest.Dedup(t, rc.stored(t, "acme")))) })
	lines := rc.stored(t, "acme")
	synctest.CheckComplete(t, st, "acme", lines, 1000)
	if dups := len(lines) - 1000; dups%100 != 0 || dups == 0 {
		t.Fatalf("%d duplicates: want whole resent batches", dups)
	}
}

// A redirect is not followed: a POST answered 301 or 302 would become a GET
// of the new location, whose 200 counted the batch as delivered although
// no event arrived. Every redirect is an error that names where it points,
// without its query; all but 307 stop the destination.
func TestClient_RedirectIsNotDelivery(t *testing.T) {
	rc := &receiver{secret: []byte("k")}
	mux := http.NewServeMux()
	mux.HandleFunc("/moved", func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet {
			return // 200, as a login page or an https site would answer
		}
		rc.ServeHTTP(w, r)
	})
	for _, code := range []int{http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther, http.StatusTemporaryRedirect, http.StatusPermanentRedirect} {
		mux.HandleFunc(fmt.Sprintf("/siem-%d", code), func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "/moved?token=SECRET", code)
		})
	}
	srv := httptest.NewServer(mux)
	defer srv.Close()
	st := synctest.NewStore(t)
	synctest.Append(t, st, "acme", 2)
	for _, code := range []int{http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther, http.StatusTemporaryRedirect, http.StatusPermanentRedirect} {
		// The client's own HTTP client is used, but not to follow.
		c := webhook.NewClient(fmt.Sprintf("%s/siem-%d", srv.URL, code), rc.secret, nil)
		c.HTTPClient = &http.Client{Timeout: 5 * time.Second}
		ack, err := c.Deliver(t.Context(), axsync.Batch{Org: "acme", Events: synctest.Read(t, st, "acme", 0, 2)})
		// 307 is temporary by definition (S3 answers it while a bucket's
		// name spreads): retried, the others stop the destination.
		permanent := code != http.StatusTemporaryRedirect
		var se *axsync.StatusError
		if !asStatus(err, &se) || se.Code != code || se.Permanent() != permanent || errors.Is(err, axsync.ErrRejected) != permanent ||
			!strings.Contains(err.Error(), "redirect to "+srv.URL+"/moved,") || strings.Contains(err.Error(), "SECRET") {
			t.Errorf("%d: ack %+v, err %v; want an error naming the redirect, permanent: %v", code, ack, err, permanent)
		}
	}
	if n := len(rc.stored(t, "acme")); n != 0 {
		t.Errorf("the redirect target received %d events", n)
	}
}
