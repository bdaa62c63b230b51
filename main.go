// Command axiom-audit is the Axiom Audit desktop app and command line.
//
// main only wires: paths → keystore → storage → app → run.
package main

import (
	"context"
	"embed"
	"fmt"
	"log/slog"
	"os"

	"github.com/axiomops/axiom-audit/app"
)

//go:embed all:frontend/dist
var assets embed.FS

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	root := app.NewRootCommand(app.CLIConfig{
		Version: version,
		Assets:  assets,
		Open:    open,
		Stdout:  os.Stdout,
		Stderr:  os.Stderr,
	})
	err := root.ExecuteContext(context.Background())
	if err != nil {
		fmt.Fprintln(os.Stderr, "axiom-audit:", err)
	}
	os.Exit(app.ExitCode(err))
}

// open wires one profile: where its files live, then the application.
func open(_ context.Context, g app.Globals) (*app.App, func() error, error) {
	paths, err := app.ResolvePaths(g.Profile, g.DataDir)
	if err != nil {
		return nil, nil, err
	}
	if err := os.MkdirAll(paths.DataDir, 0o700); err != nil {
		return nil, nil, fmt.Errorf("failed to create the data directory: %w", err)
	}
	level := slog.LevelWarn
	if g.Verbose {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	a := app.New(app.Options{Version: version, Paths: paths, Logger: logger, Stdout: os.Stdout})
	return a, func() error { return nil }, nil
}
