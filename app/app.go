package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os/user"
	"sync"
	"time"

	"github.com/axiomops/axiom-audit/storage"
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
	// Store is the open audit log; Catalogue its action types (nil loads
	// the built-in one).
	Store     *storage.Store
	Catalogue *storage.Catalogue
	// Keystore holds the profile's secrets; the desktop app keeps its local
	// API credential there.
	Keystore storage.Keystore
	// User is who acts through this process (the OS user by default); it is
	// the userId of the events the log records about itself.
	User string
	// Stdout receives the one machine-readable line the desktop app prints
	// when its first screen has rendered ("axiom-audit: ready"), which the
	// desktop smoke test waits for.
	Stdout io.Writer
}

// App is the application service. Its exported methods are the Wails
// bindings of the desktop app; the REST API and the CLI call the same
// methods.
type App struct {
	opts      Options
	log       *slog.Logger
	store     *storage.Store
	catalogue *storage.Catalogue
	// base is the context of background work; cancelled by Close.
	base   context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	live    liveFeed
	stopAPI func()
	syncs   syncHolder // opt-in sync loops (sync.go)

	mu        sync.Mutex
	ctx       context.Context // the Wails context, set by startup
	readyOnce bool
	// verifyProgress fans verification progress out to REST streams.
	verifyProgress progressHub
	// exports are the Export dialog's running and recent jobs.
	exports exportJobs
	// reports are the reports the window is writing, by id, to cancel.
	reports runningReports
}

// New returns an App.
func New(opts Options) (*App, error) {
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
	if opts.User == "" {
		opts.User = osUser()
	}
	cat := opts.Catalogue
	if cat == nil {
		var err error
		if cat, err = storage.LoadCatalogue(); err != nil {
			return nil, fmt.Errorf("failed to load the action-type catalogue: %w", err)
		}
	}
	base, cancel := context.WithCancel(context.Background())
	return &App{opts: opts, log: opts.Logger, store: opts.Store, catalogue: cat, base: base, cancel: cancel}, nil
}

// Close stops the App's background work. It does not close the store,
// which belongs to whoever opened it.
func (a *App) Close() error {
	a.cancel()
	a.closeSync()
	a.wg.Wait()
	return nil
}

// bg is the context of binding calls, which Wails gives no context.
func (a *App) bg() context.Context { return a.base }

func osUser() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	return "unknown"
}

// SystemOrg is the organization that holds the events about the profile
// itself rather than one organization's log: app start and stop.
const SystemOrg = "axiom-audit"

// recordSelf records an event of the log about itself (DESIGN.md §7) and
// returns once it is durable: an action the log cannot audit is reported as
// failed to its caller.
func (a *App) recordSelf(ctx context.Context, org, actionType string, metadata map[string]any) error {
	if a.store == nil {
		return ErrNoStore
	}
	user := a.opts.User
	if act, ok := ctx.Value(actorKey{}).(actor); ok {
		// Done for an API token: the event names it, not the local user.
		user = "token:" + act.tokenID
		metadata = maps.Clone(metadata)
		if metadata == nil {
			metadata = map[string]any{}
		}
		metadata["viaToken"] = act.tokenID
		if act.breakGlass {
			metadata["breakGlass"] = true
		}
	}
	meta, err := json.Marshal(metadata)
	if err != nil {
		return fmt.Errorf("failed to encode the metadata of %s: %w", actionType, err)
	}
	_, err = a.store.Append(ctx, []storage.Event{{
		Timestamp:      a.opts.Now().UTC(),
		OrganizationID: org,
		UserID:         user,
		Provider:       "system",
		ActionType:     actionType,
		ResourceIDs:    []string{},
		Status:         statusOf(actionType),
		RiskLevel:      riskOf(actionType),
		Metadata:       meta,
	}})
	if err != nil {
		// A log under an integrity alert refuses every append: the alert
		// was logged when raised, and is not logged again for each event.
		level := slog.LevelError
		if errors.Is(err, storage.ErrIntegrityAlert) {
			level = slog.LevelDebug
		}
		a.log.Log(ctx, level, "failed to record the log's own event", "actionType", actionType, "org", org, "err", err)
		return fmt.Errorf("failed to record %s: %w", actionType, err)
	}
	return nil
}

// actorKey carries, in a request's context, the API token a request was
// made with, so that what the log records of it names the token.
type actorKey struct{}

type actor struct {
	tokenID    string
	breakGlass bool
}

// withActorOf gives ctx the actor that from carries, if any: a job that
// outlives its request (an export) records its end as the request's.
func withActorOf(ctx, from context.Context) context.Context {
	if act, ok := from.Value(actorKey{}).(actor); ok {
		return context.WithValue(ctx, actorKey{}, act)
	}
	return ctx
}

// recordSelfAsync records an event of the log about itself without making
// the caller wait (app start and stop run on the UI's lifecycle hooks).
func (a *App) recordSelfAsync(org, actionType string, metadata map[string]any) {
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		_ = a.recordSelf(context.WithoutCancel(a.base), org, actionType, metadata)
	}()
}

func riskOf(actionType string) string {
	switch actionType {
	case "audit.break_glass_granted", "audit.break_glass_used", "audit.integrity_alert_acknowledged", "audit.copied_for_audit":
		return "high"
	case "audit.token_created", "audit.key_rotated", "audit.exported", "audit.sync_failed", "audit.settings_changed":
		return "medium"
	}
	return "low"
}

// statusOf is the status of the app's own event of actionType: a failure
// it records (sync could not deliver) is a failed action, which the
// timeline marks and its "next failed" key finds, not an applied one.
func statusOf(actionType string) string {
	if actionType == "audit.sync_failed" {
		return "failed"
	}
	return "applied"
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
	a.recordSelfAsync(SystemOrg, "audit.app_started", map[string]any{"version": a.opts.Version})
}

// shutdown is the Wails OnShutdown hook.
func (a *App) shutdown(ctx context.Context) {
	a.log.Info("desktop stopped")
	// Stopping is recorded before the store closes, so wait for it.
	_ = a.recordSelf(context.WithoutCancel(ctx), SystemOrg, "audit.app_stopped", map[string]any{"version": a.opts.Version})
}
