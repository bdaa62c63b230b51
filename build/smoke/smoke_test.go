//go:build smoke

// Package smoke holds the desktop smoke test: the real binary, a real window
// under Xvfb, a real (throwaway) keychain. `make test` runs it as
//
//	build/scripts/with-keychain.sh go test -tags smoke ./build/smoke/
//
// with AXIOM_SMOKE_BINARY set to the binary `make build` produced.
package smoke

import (
	"bufio"
	"context"
	"fmt"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestDesktopSmoke(t *testing.T) {
	bin := os.Getenv("AXIOM_SMOKE_BINARY")
	if bin == "" {
		t.Fatal("AXIOM_SMOKE_BINARY is not set: run this test through 'make test'")
	}
	artifacts := os.Getenv("AXIOM_ARTIFACTS")
	if artifacts == "" {
		artifacts = filepath.Join("..", "artifacts")
	}
	shotDir := filepath.Join(artifacts, "smoke")
	if err := os.MkdirAll(shotDir, 0o755); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	display := startXvfb(t, ctx)
	dataDir := filepath.Join(t.TempDir(), "data")

	cmd := exec.CommandContext(ctx, bin, "--data-dir", dataDir)
	// LANG=C is what a CI machine has; the webview then reports the
	// language "C", which Intl rejects. The frontend must still render.
	cmd.Env = append(os.Environ(), "DISPLAY="+display, "LANG=C", "LC_ALL=")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("failed to start %s: %v", bin, err)
	}
	exited := make(chan error, 1)
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			t.Logf("app: %s", sc.Text())
			if sc.Text() == "axiom-audit: ready" {
				close(ready)
			}
		}
		exited <- cmd.Wait()
	}()

	select {
	case <-ready:
	case err := <-exited:
		t.Fatalf("the app exited before it was ready: %v\nstderr:\n%s", err, stderr.String())
	case <-time.After(60 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatalf("the app did not report ready within 60s\nstderr:\n%s", stderr.String())
	}

	// The frontend reports ready after its first render; the compositor may
	// need a moment more, so poll until the screen shows more than one colour.
	shot := filepath.Join(shotDir, "desktop.png")
	var colours int
	deadline := time.Now().Add(15 * time.Second)
	for {
		colours, err = screenshot(ctx, display, shot)
		if err != nil {
			t.Fatalf("screenshot: %v", err)
		}
		if colours > 16 || time.Now().After(deadline) {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	t.Logf("screenshot %s: %d distinct colours", shot, colours)
	if colours <= 16 {
		t.Fatalf("the window did not render: the screenshot has only %d colours (see %s)", colours, shot)
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("the app did not exit cleanly on SIGTERM: %v\nstderr:\n%s", err, stderr.String())
		}
	case <-time.After(5 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatalf("the app did not exit within 5s of SIGTERM")
	}
}

// startXvfb starts a virtual X server on a free display and returns its name.
func startXvfb(t *testing.T, ctx context.Context) string {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	x := exec.CommandContext(ctx, "Xvfb", "-displayfd", "3", "-screen", "0", "1280x800x24", "-nolisten", "tcp")
	x.ExtraFiles = []*os.File{w}
	if err := x.Start(); err != nil {
		t.Fatalf("failed to start Xvfb (is it installed? make test installs it): %v", err)
	}
	w.Close()
	t.Cleanup(func() {
		_ = x.Process.Signal(syscall.SIGTERM)
		_ = x.Wait()
	})
	line, err := bufio.NewReader(r).ReadString('\n')
	r.Close()
	if err != nil {
		t.Fatalf("Xvfb did not report its display: %v", err)
	}
	return ":" + strings.TrimSpace(line)
}

// screenshot saves the whole screen as a PNG and counts its distinct colours.
func screenshot(ctx context.Context, display, path string) (int, error) {
	out, err := exec.CommandContext(ctx, "import", "-display", display, "-window", "root", path).CombinedOutput()
	if err != nil {
		return 0, fmt.Errorf("import: %v: %s", err, out)
	}
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		return 0, fmt.Errorf("decode %s: %w", path, err)
	}
	return countColours(img), nil
}

func countColours(img image.Image) int {
	seen := map[uint32]struct{}{}
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y += 2 {
		for x := b.Min.X; x < b.Max.X; x += 2 {
			r, g, bl, _ := img.At(x, y).RGBA()
			seen[(r>>8)<<16|(g>>8)<<8|bl>>8] = struct{}{}
		}
	}
	return len(seen)
}

