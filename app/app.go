package app

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"
)

// Name is the product name shown to users.
const Name = "Axiom Audit"

// Options configure an App. The zero value is usable: defaults are filled in
// by New.
type Options struct {
	Version string
	Paths   Paths
	Logger  *slog.Logger
	Now     func() time.Time
	// Stdout receives the one machine-readable line the desktop app prints
	// when its first screen has rendered ("axiom-audit: ready"), which the
	// desktop smoke test waits for.
	Stdout io.Writer
}

// App is the application service. Its exported methods are the Wails
// bindings of the desktop app; the REST API and the CLI call the same
// methods.
type App struct {
	opts Options
	log  *slog.Logger

	mu        sync.Mutex
	ctx       context.Context // the Wails context, set by startup
	readyOnce bool
}

// New returns an App.
func New(opts Options) *App {
	if opts.Version == "" {
		opts.Version = "dev"
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Stdout == nil {
		opts.Stdout = io.Discard
	}
	return &App{opts: opts, log: opts.Logger}
}

// Info describes the running application and the profile it has open.
type Info struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	Profile string `json:"profile"`
	DataDir string `json:"dataDir"`
}

// Info returns what the window header shows.
func (a *App) Info() Info {
	return Info{
		Name:    Name,
		Version: a.opts.Version,
		Profile: a.opts.Paths.Profile,
		DataDir: a.opts.Paths.DataDir,
	}
}

// Ready is called by the frontend once its first screen has rendered. The
// first call prints "axiom-audit: ready" so that scripts and the desktop
// smoke test know the UI is up.
func (a *App) Ready() {
	a.mu.Lock()
	first := !a.readyOnce
	a.readyOnce = true
	a.mu.Unlock()
	if first {
		a.log.Info("ui ready")
		fmt.Fprintln(a.opts.Stdout, "axiom-audit: ready")
	}
}

// startup is the Wails OnStartup hook: it keeps the runtime context.
func (a *App) startup(ctx context.Context) {
	a.mu.Lock()
	a.ctx = ctx
	a.mu.Unlock()
	a.log.Info("desktop started", "profile", a.opts.Paths.Profile, "dataDir", a.opts.Paths.DataDir)
}

// shutdown is the Wails OnShutdown hook.
func (a *App) shutdown(context.Context) {
	a.log.Info("desktop stopped")
}
