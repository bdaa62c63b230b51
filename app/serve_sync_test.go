package app

import (
	"bytes"
	"context"
	"net/http/httptest"
	"strings"
	gosync "sync"
	"testing"
	"time"

	axsync "github.com/axiomops/axiom-audit/app/sync"
	"github.com/axiomops/axiom-audit/app/sync/synctest"
)

// lockedBuffer is a bytes.Buffer safe to read while a command writes it.
type lockedBuffer struct {
	mu gosync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// `serve` runs the sync loops as the desktop app does, and stops them when
// it shuts down.
func TestServe_RunsTheSyncLoopsUntilShutdown(t *testing.T) {
	a, _, _ := syncTestApp(t)
	ctx := context.Background()
	rx := &siem{secret: []byte("s3cret")}
	srv := httptest.NewServer(rx)
	defer srv.Close()
	if err := a.syncEnable(ctx, SyncConfig{Org: "acme", Kind: axsync.KindWebhook, URL: srv.URL, Format: "jsonl"}, []byte("s3cret")); err != nil {
		t.Fatal(err)
	}
	var out, errb lockedBuffer
	root := NewRootCommand(CLIConfig{
		Version: "test",
		Open:    func(context.Context, Globals) (*App, func() error, error) { return a, func() error { return nil }, nil },
		Stdout:  &out,
		Stderr:  &errb,
	})
	root.SetArgs([]string{"serve", "--addr", "127.0.0.1:0"})
	sctx, stop := context.WithCancel(ctx)
	defer stop()
	done := make(chan error, 1)
	go func() { done <- root.ExecuteContext(sctx) }()
	waitFor(t, 5*time.Second, "serve to announce its URL", func() bool { return strings.Contains(out.String(), "/login?token=") })

	appendN(t, a, "acme", 7)
	waitFor(t, 5*time.Second, "the webhook to receive the events", func() bool { return countSeqLines(rx.lines()) >= 7 })

	stop()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve: %v (stderr %s)", err, errb.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not return after its context ended")
	}
	got := len(rx.lines())
	appendN(t, a, "acme", 3)
	// An absence has no condition to wait for: give a live loop (it
	// delivers in milliseconds here) half a second to show itself.
	time.Sleep(500 * time.Millisecond)
	if n := len(rx.lines()); n != got {
		t.Fatalf("a sync loop still delivers after serve returned: %d lines, then %d", got, n)
	}
}

// waitFor is synctest.WaitFor with a fixed description.
func waitFor(t *testing.T, d time.Duration, what string, ok func() bool) {
	t.Helper()
	synctest.WaitFor(t, d, ok, func() string { return "waiting for " + what })
}

// countSeqLines counts JSON Lines that carry an event (a seq).
func countSeqLines(lines []string) int {
	n := 0
	for _, l := range lines {
		if strings.Contains(l, `"seq":`) {
			n++
		}
	}
	return n
}
