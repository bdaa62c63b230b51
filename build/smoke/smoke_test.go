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

// TestDesktopSmoke writes a demo profile with the binary's own `demo`
// command, opens it in the desktop window once in the light and once in the
// dark system theme, and requires each screenshot to show the timeline with
// rows in that theme. An empty profile must not pass the same check, so the
// check is known to be able to fail.
func TestDesktopSmoke(t *testing.T) {
	bin := os.Getenv("AXIOM_SMOKE_BINARY")
	if bin == "" {
		t.Fatal("AXIOM_SMOKE_BINARY is not set: run this test through 'make smoke' or 'make test'")
	}
	artifacts := os.Getenv("AXIOM_ARTIFACTS")
	if artifacts == "" {
		artifacts = filepath.Join("..", "artifacts")
	}
	shotDir := filepath.Join(artifacts, "smoke")
	if err := os.MkdirAll(shotDir, 0o755); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	display := startXvfb(t, ctx)

	// The demo profile `make demo` opens: 20,000 events (a second to write)
	// put rows in the window's default range, the last 24 hours; a few
	// thousand spread over 90 days may leave that day empty.
	demoDir := filepath.Join(t.TempDir(), "demo")
	out, err := exec.CommandContext(ctx, bin, "--data-dir", demoDir, "demo", "--events", "20000").CombinedOutput()
	if err != nil {
		t.Fatalf("axiom-audit demo: %v\n%s", err, out)
	}
	t.Logf("demo: %s", strings.TrimSpace(string(out)))

	// The app follows the system theme until the user picks one, and
	// WebKitGTK reports the GTK theme's variant as prefers-color-scheme.
	for _, tc := range []struct{ theme, gtkTheme string }{
		{"light", "Adwaita"},
		{"dark", "Adwaita:dark"},
	} {
		t.Run(tc.theme, func(t *testing.T) {
			shot := filepath.Join(shotDir, "desktop-"+tc.theme+".png")
			list := runDesktop(t, ctx, bin, demoDir, display, []string{"GTK_THEME=" + tc.gtkTheme}, shot, func(l listArea) bool { return l.rows() })
			t.Logf("%s: %s", shot, list)
			if !list.rows() {
				t.Fatalf("the timeline shows no rows (see %s): %s", shot, list)
			}
			if dark := list.luminance < 0.35; dark != (tc.theme == "dark") {
				t.Fatalf("the timeline is not %s: its background has luminance %.2f (see %s)", tc.theme, list.luminance, shot)
			}
		})
	}

	t.Run("empty profile", func(t *testing.T) {
		shot := filepath.Join(shotDir, "desktop-empty.png")
		emptyDir := filepath.Join(t.TempDir(), "empty")
		// Settled once the window shows more than a spinner on a blank page.
		list := runDesktop(t, ctx, bin, emptyDir, display, nil, shot, func(l listArea) bool { return l.colours > 200 })
		t.Logf("%s: %s", shot, list)
		if list.rows() {
			t.Fatalf("an empty profile passes for a timeline with rows (see %s): %s", shot, list)
		}
	})
}

// runDesktop starts the desktop app on dataDir, waits for "axiom-audit:
// ready", takes screenshots until settled says the window is drawn (or 15 s
// pass), then stops the app with SIGTERM and requires a clean exit.
func runDesktop(t *testing.T, ctx context.Context, bin, dataDir, display string, env []string, shot string, settled func(listArea) bool) listArea {
	t.Helper()
	cmd := exec.CommandContext(ctx, bin, "--data-dir", dataDir)
	// LANG=C is what a CI machine has; the webview then reports the
	// language "C", which Intl rejects. The frontend must still render.
	cmd.Env = append(append(os.Environ(), "DISPLAY="+display, "LANG=C", "LC_ALL="), env...)
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
	defer func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			<-exited
		}
	}()

	select {
	case <-ready:
	case err := <-exited:
		t.Fatalf("the app exited before it was ready: %v\nstderr:\n%s", err, stderr.String())
	case <-time.After(60 * time.Second):
		t.Fatalf("the app did not report ready within 60s\nstderr:\n%s", stderr.String())
	}

	// The frontend reports ready after its first render; the compositor may
	// need a moment more. Wait until the window is drawn and has not changed
	// for a second (fonts, the histogram), or 20 s.
	var list listArea
	var prev string
	var same int
	deadline := time.Now().Add(20 * time.Second)
	for {
		img, err := screenshot(ctx, display, shot)
		if err != nil {
			t.Fatalf("screenshot: %v", err)
		}
		list = measureList(img)
		if s := list.String(); s == prev {
			same++
		} else {
			prev, same = s, 0
		}
		if (settled(list) && same >= 4) || time.Now().After(deadline) {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("the app did not exit cleanly on SIGTERM: %v\nstderr:\n%s", err, stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("the app did not exit within 10s of SIGTERM")
	}
	return list
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

// screenshot saves the whole screen as a PNG and decodes it.
func screenshot(ctx context.Context, display, path string) (image.Image, error) {
	out, err := exec.CommandContext(ctx, "import", "-display", display, "-window", "root", path).CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("import: %v: %s", err, out)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		return nil, fmt.Errorf("decode %s: %w", path, err)
	}
	return img, nil
}
