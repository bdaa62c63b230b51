package app

import (
	"context"
	"errors"
	"fmt"
	"io/fs"

	"github.com/wailsapp/wails/v2"
	"github.com/wailsapp/wails/v2/pkg/options"
	"github.com/wailsapp/wails/v2/pkg/options/assetserver"
	"github.com/wailsapp/wails/v2/pkg/options/linux"
	"github.com/wailsapp/wails/v2/pkg/runtime"
)

// checkDisplay refuses to open the window on a Linux or BSD system without
// a display server to show it on (over SSH, on a server), where GTK would
// otherwise panic. Windows and macOS always have one.
func checkDisplay(goos string, getenv func(string) string) error {
	switch goos {
	case "windows", "darwin":
		return nil
	}
	if getenv("DISPLAY") != "" || getenv("WAYLAND_DISPLAY") != "" {
		return nil
	}
	return errors.New("there is no display to open the window on (neither DISPLAY nor WAYLAND_DISPLAY is set): " +
		"run axiom-audit in a desktop session, use 'axiom-audit serve' to open the timeline in a browser, " +
		"or run a command (axiom-audit --help lists them)")
}

// RunDesktop opens the desktop window and blocks until it is closed, the
// context is cancelled, or the process receives SIGINT or SIGTERM; each of
// these runs the shutdown hooks and returns nil.
func RunDesktop(ctx context.Context, a *App, assets fs.FS) error {
	dist, err := fs.Sub(assets, "frontend/dist")
	if err != nil {
		return fmt.Errorf("failed to find the built frontend: %w", err)
	}
	if _, err := fs.Stat(dist, "index.html"); err != nil {
		return fmt.Errorf("the built frontend is missing (run 'make build'): %w", err)
	}

	return wails.Run(&options.App{
		Title:     Name + " — " + a.opts.Paths.Profile,
		Width:     1280,
		Height:    800,
		MinWidth:  800, // the timeline and header fit (frontend/e2e/layout.spec.ts)
		MinHeight: 480,
		AssetServer: &assetserver.Options{
			Assets: dist,
		},
		BackgroundColour: &options.RGBA{R: 20, G: 23, B: 28, A: 255},
		OnStartup: func(wctx context.Context) {
			a.startup(wctx)
			a.startSync()
			a.startRetention(RetentionInterval)
			a.startTextSketches()
			stopAPI, err := a.startLocalAPI(ctx)
			if err != nil {
				a.log.Error("the local API is not available; CLI commands cannot reach this profile while the app runs", "err", err)
			} else {
				a.stopAPI = stopAPI
			}
			// SIGINT and SIGTERM: Wails quits on them itself (its
			// signal handler ends the GTK main loop, and OnShutdown
			// then closes the store). A quit of our own on the same
			// signal raced it: two gtk_main_quit calls from two
			// goroutines, the second reading the main loop the first
			// had freed, crashed the app with SIGSEGV now and then.
			// Only a cancelled ctx is ours to act on.
			go func() {
				<-ctx.Done()
				runtime.Quit(wctx)
			}()
		},
		OnShutdown: func(wctx context.Context) {
			if a.stopAPI != nil {
				a.stopAPI()
			}
			a.shutdown(wctx)
		},
		Bind: []any{a},
		Linux: &linux.Options{
			ProgramName:      "axiom-audit",
			WebviewGpuPolicy: linux.WebviewGpuPolicyNever,
		},
	})
}
