package webhook_test

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	gosync "sync"
	"testing"
	"time"

	axsync "github.com/axiomops/axiom-audit/app/sync"
	"github.com/axiomops/axiom-audit/app/sync/synctest"
	"github.com/axiomops/axiom-audit/app/sync/webhook"
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
