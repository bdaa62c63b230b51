// Command axiom-audit is the Axiom Audit desktop app and command line.
//
// main only wires: paths → keystore → storage → app → run.
package main

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/axiomops/axiom-audit/app"
	"github.com/axiomops/axiom-audit/storage"
	"github.com/axiomops/axiom-audit/storage/keystore"
)

//go:embed all:frontend/dist
var assets embed.FS

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	// The store's memory budget, unless the user set GOMEMLIMIT or GOGC.
	storage.UseSuggestedRuntime()
	root := app.NewRootCommand(app.CLIConfig{
		Version: version,
		Assets:  assets,
		Open:    open,
		Remote:  remote,
		// A producer's append waits out an export or a sync run-now.
		LockWait: time.Minute,
		Stdout:   os.Stdout,
		Stderr:   os.Stderr,
	})
	err := root.ExecuteContext(context.Background())
	if err != nil {
		if msg := app.Explain(err); msg != "" {
			fmt.Fprintln(os.Stderr, "axiom-audit:", msg)
		}
	}
	os.Exit(app.ExitCode(err))
}

// open wires one profile: where its files live, its keystore, its store and
// the application over them.
func open(ctx context.Context, g app.Globals) (*app.App, func() error, error) {
	paths, err := app.ResolvePaths(g.Profile, g.DataDir)
	if err != nil {
		return nil, nil, err
	}
	if g.DataDir != "" {
		if err := app.CheckNotAuditCopy(paths.DataDir); err != nil {
			return nil, nil, err
		}
	}
	level := slog.LevelWarn
	if g.Verbose {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	// A command that reads a log refuses a profile that has none rather
	// than create it (a mistyped --data-dir or --profile). A log directory
	// that is gone while the profile's master key is still in its keystore
	// is a lost log, though: the store reports that as an alert, which
	// verify shows and recover acknowledges.
	missing := g.MustExist && !storage.Exists(paths.LogDir())
	noLog := fmt.Errorf("there is no audit log in %s (profile %q): check --data-dir and --profile; nothing was created", paths.DataDir, paths.Profile)
	var ks storage.Keystore
	if missing {
		ks, err = existingKeystore(paths, g, logger)
		if err == nil && ks == nil {
			return nil, nil, noLog
		}
		if err == nil {
			_, gerr := ks.Get(ctx, storage.KeyMaster)
			switch {
			case errors.Is(gerr, storage.ErrKeyNotFound):
				return nil, nil, noLog
			case gerr != nil:
				// Typo or lost log: the keystore cannot tell, so
				// nothing is created either way.
				return nil, nil, fmt.Errorf("there is no audit log in %s (profile %q), and whether the profile had one could not be read "+
					"from its keystore: %w; check --data-dir and --profile, or make the keystore readable and retry; nothing was created",
					paths.DataDir, paths.Profile, gerr)
			}
		}
	} else {
		ks, err = openKeystore(paths, g, logger)
	}
	if err != nil {
		return nil, nil, err
	}

	dbDir := paths.LogDir()
	made := newDirs(dbDir)
	if err := os.MkdirAll(dbDir, 0o700); err != nil {
		return nil, nil, fmt.Errorf("failed to create the data directory: %w", err)
	}
	logger.Debug("opening the store", "dir", dbDir, "keystore", g.Keystore)
	st, err := storage.Open(ctx, dbDir, ks, storage.Options{Logger: logger})
	if errors.Is(err, storage.ErrKeyNotFound) || errors.Is(err, storage.ErrKeychainUnavailable) {
		err = otherKeystoreHint(paths, g, err)
	}
	if err != nil {
		// A first start that failed (no keychain, say) leaves no empty
		// profile behind, which a later read would take for a log.
		for _, d := range made {
			os.Remove(d) // only if still empty
		}
		return nil, nil, err
	}
	a, err := app.New(app.Options{Version: version, Paths: paths, Logger: logger, Store: st, Keystore: ks, Stdout: os.Stdout})
	if err != nil {
		return nil, nil, errors.Join(err, st.Close())
	}
	return a, func() error { return errors.Join(a.Close(), st.Close()) }, nil
}

// newDirs lists the directories MkdirAll(dir) would create, deepest first.
func newDirs(dir string) []string {
	var out []string
	for d := filepath.Clean(dir); ; d = filepath.Dir(d) {
		if _, err := os.Stat(d); err == nil || !errors.Is(err, os.ErrNotExist) {
			return out
		}
		out = append(out, d)
		if filepath.Dir(d) == d {
			return out
		}
	}
}

// remote reaches the desktop app that holds the profile, through its API.
func remote(ctx context.Context, g app.Globals) (*app.RemoteClient, error) {
	paths, err := app.ResolvePaths(g.Profile, g.DataDir)
	if err != nil {
		return nil, err
	}
	ks, err := openKeystore(paths, g, slog.New(slog.DiscardHandler))
	if err != nil {
		return nil, err
	}
	return app.DialDesktop(ctx, paths, ks)
}

// openKeystore returns the OS keychain, or the file keystore when the user
// opted in with --keystore file.
func openKeystore(paths app.Paths, g app.Globals, logger *slog.Logger) (storage.Keystore, error) {
	switch g.Keystore {
	case "file":
		if err := os.MkdirAll(paths.ConfigDir, 0o700); err != nil {
			return nil, fmt.Errorf("failed to create the config directory: %w", err)
		}
		return keystore.NewFile(fileKeystorePath(paths), logger)
	default:
		ns, err := paths.KeychainNamespace()
		if err != nil {
			return nil, err
		}
		return keystore.NewKeychain(ns), nil
	}
}

// existingKeystore is openKeystore for a profile that may not exist: it
// creates nothing, and is nil when the profile has no keystore yet.
func existingKeystore(paths app.Paths, g app.Globals, logger *slog.Logger) (storage.Keystore, error) {
	if g.Keystore == "file" {
		if _, err := os.Stat(fileKeystorePath(paths)); errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
		return openKeystore(paths, g, logger)
	}
	ns, ok, err := paths.ExistingKeychainNamespace()
	if !ok || err != nil {
		return nil, err
	}
	return keystore.NewKeychain(ns), nil
}

// otherKeystoreHint adds to err, a log whose keys the chosen keystore does
// not hold or cannot be read, that they may be in the other one: a
// profile's keys stay in the keystore it was created with.
func otherKeystoreHint(paths app.Paths, g app.Globals, err error) error {
	// The hint comes first: the store's own advice for a missing master
	// key ends with moving the log aside, which is the last thing to do
	// when the keys are only in the other keystore.
	if g.Keystore == "file" && errors.Is(err, storage.ErrKeyNotFound) {
		return fmt.Errorf("the key file has no keys for this profile. If it was created without --keystore file, its keys are in the OS keychain: "+
			"run the command without --keystore file (unlock the keychain first if it is locked). In detail: %w", err)
	}
	if _, serr := os.Stat(fileKeystorePath(paths)); serr == nil && g.Keystore != "file" {
		return fmt.Errorf("this profile has a key file, %s: it was created with --keystore file, so run the command with --keystore file. In detail: %w",
			fileKeystorePath(paths), err)
	}
	return err
}

// fileKeystorePath is where --keystore file keeps the profile's keys.
func fileKeystorePath(paths app.Paths) string { return filepath.Join(paths.ConfigDir, "keys.json") }
