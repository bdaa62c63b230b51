//go:build unix

package app

import (
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// A FILE that is a pipe (<(…), /dev/stdin, a FIFO) is read once, into
// memory.
func TestCLI_AppendFromAPipe(t *testing.T) {
	a := TestApp(t)
	input, _ := largeInput(t, "org-a", 0, 300)
	fifo := filepath.Join(t.TempDir(), "events")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("no FIFOs here: %v", err)
	}
	go func() {
		f, err := os.OpenFile(fifo, os.O_WRONLY, 0)
		if err != nil {
			return
		}
		io.WriteString(f, input)
		f.Close()
	}()
	stdout, stderr, code := runCLI(t, a, "", "append", fifo)
	if code != 0 || len(receiptsOf(t, stdout)) != 300 || orgSize(t, a, "org-a") != 300 {
		t.Fatalf("exit %d, %d receipts, %d recorded; stderr %q", code, len(receiptsOf(t, stdout)), orgSize(t, a, "org-a"), stderr)
	}
}
