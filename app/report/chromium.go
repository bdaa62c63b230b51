package report

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

// ErrNoChromium: no Chromium or Chrome binary was found, so the report is
// HTML only.
var ErrNoChromium = errors.New("chromium is not installed")

// chromiumNames are looked up on PATH, in order, when no path is given.
var chromiumNames = []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome"}

// FindChromium returns the path of a Chromium binary: path itself when it is
// set, else /usr/bin/chromium or the first of the usual names on PATH.
func FindChromium(path string) (string, error) {
	if path != "" {
		if _, err := os.Stat(path); err != nil {
			return "", fmt.Errorf("%s: %w", path, ErrNoChromium)
		}
		return path, nil
	}
	if _, err := os.Stat("/usr/bin/chromium"); err == nil {
		return "/usr/bin/chromium", nil
	}
	for _, name := range chromiumNames {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", ErrNoChromium
}

// headless runs Chromium headless on a local file with extra arguments, in a
// throwaway profile, with no network beyond the file.
func headless(ctx context.Context, chromium, htmlPath string, args ...string) error {
	abs, err := filepath.Abs(htmlPath)
	if err != nil {
		return err
	}
	profile, err := os.MkdirTemp("", "axiom-audit-chromium-*")
	if err != nil {
		return err
	}
	defer os.RemoveAll(profile)
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	all := append([]string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
		"--disable-component-update", "--no-first-run", "--no-default-browser-check", "--disable-dev-shm-usage",
		"--hide-scrollbars", "--user-data-dir=" + profile}, args...)
	all = append(all, (&url.URL{Scheme: "file", Path: abs}).String())
	cmd := exec.CommandContext(ctx, chromium, all...)
	cmd.Env = append(os.Environ(), "HOME="+profile)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		tail := out.Bytes()
		if len(tail) > 800 {
			tail = tail[len(tail)-800:]
		}
		return fmt.Errorf("chromium failed: %w: %s", err, tail)
	}
	return nil
}

// PrintPDF renders an HTML file to PDF with Chromium's print-to-PDF, without
// Chromium's own header and footer (the report's CSS numbers the pages).
func PrintPDF(ctx context.Context, chromium, htmlPath, pdfPath string) error {
	abs, err := filepath.Abs(pdfPath)
	if err != nil {
		return err
	}
	if err := headless(ctx, chromium, htmlPath, "--no-pdf-header-footer", "--print-to-pdf="+abs); err != nil {
		return err
	}
	st, err := os.Stat(abs)
	if err != nil || st.Size() == 0 {
		return fmt.Errorf("chromium wrote no PDF at %s", abs)
	}
	return nil
}

// Screenshot renders an HTML file to a PNG of the given window size.
func Screenshot(ctx context.Context, chromium, htmlPath, pngPath string, width, height int) error {
	abs, err := filepath.Abs(pngPath)
	if err != nil {
		return err
	}
	return headless(ctx, chromium, htmlPath, fmt.Sprintf("--window-size=%d,%d", width, height), "--screenshot="+abs)
}
