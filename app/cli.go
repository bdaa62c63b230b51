package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/axiomops/axiom-audit/storage"
)

// Globals are the flags every command accepts.
type Globals struct {
	Profile  string
	DataDir  string
	Keystore string // "keychain" (default) or "file"
	Verbose  bool
	// MustExist: the command reads a log, and must not create a profile
	// (a mistyped --data-dir would verify clean, as an empty log).
	MustExist bool
}

// Opener turns the global flags into an open App and a function that closes
// it. main.go provides it: paths → keystore → storage.Open → app.New.
type Opener func(ctx context.Context, g Globals) (*App, func() error, error)

// CLIConfig is what the command line needs from main.
type CLIConfig struct {
	Version string
	Assets  fs.FS // the embedded frontend (frontend/dist inside)
	Open    Opener
	// Remote reaches the desktop app's API when it holds the profile.
	Remote func(ctx context.Context, g Globals) (*RemoteClient, error)
	// LockWait is how long a command waits for another axiom-audit
	// command that holds the log (and serves no API, as the desktop app
	// and serve do) to finish with it; 0: it does not wait.
	LockWait time.Duration
	// SyncSlice is how long sync run-now, holding the log itself,
	// delivers before it lets other commands at the log (default 10 s).
	SyncSlice time.Duration
	Stdout    io.Writer
	Stderr    io.Writer
}

// ExitError carries a process exit status chosen by a command.
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("exit status %d", e.Code)
	}
	return e.Err.Error()
}

func (e *ExitError) Unwrap() error { return e.Err }

// ExitCode maps an error returned by the root command to a process exit
// status: 0 for nil, the chosen code of an *ExitError, 2 for anything else
// (usage and other errors).
func ExitCode(err error) int {
	if err == nil {
		return 0
	}
	var ee *ExitError
	if errors.As(err, &ee) {
		return ee.Code
	}
	return 2
}

// cli holds what the subcommands share.
type cli struct {
	cfg CLIConfig
	g   Globals
	// held, while a command nameOrganizations wraps runs, keeps the
	// profile the command opens open until the wrapper is done with it.
	held *heldBackend
	// dialed is the desktop app's API once reached, so that a command
	// reads the keychain's credential for it once.
	dialed *RemoteClient
}

// dial reaches the API of the desktop app (or serve) holding the profile.
func (c *cli) dial(ctx context.Context) (*RemoteClient, error) {
	if c.dialed != nil {
		return c.dialed, nil
	}
	r, err := c.cfg.Remote(ctx, c.g)
	if err == nil {
		c.dialed = r
	}
	return r, err
}

// heldBackend is the profile a wrapped command opened: directly (an *App)
// or through the desktop app's API.
type heldBackend struct {
	b     profileBackend
	close func() error
}

func noClose() error { return nil }

// profileMustExist are the commands that read a profile's log (or act on
// its events) and so must not create one.
var profileMustExist = map[string]bool{"query": true, "verify": true, "checkpoint": true, "prove": true,
	"keys rotate": true, "export": true, "report": true, "copy-for-audit": true, "recover": true,
	"sync enable": true, "sync status": true, "sync run-now": true,
	"retention show": true, "retention set": true, "retention sweep": true}

// globals is the global flags, as the opener of cmd's profile needs them.
func (c *cli) globals(cmd *cobra.Command) Globals {
	g := c.g
	g.MustExist = profileMustExist[strings.TrimPrefix(cmd.CommandPath(), cmd.Root().Name()+" ")]
	return g
}

// open opens the profile named by the global flags.
func (c *cli) open(cmd *cobra.Command) (*App, func() error, error) {
	h := c.held
	if h == nil {
		return c.openWaiting(cmd)
	}
	if a, ok := h.b.(*App); ok {
		return a, noClose, nil
	}
	a, closeApp, err := c.openWaiting(cmd)
	if err != nil {
		return nil, nil, err
	}
	h.b, h.close = a, closeApp
	return a, noClose, nil
}

// openWaiting opens the profile, waiting up to LockWait while another
// axiom-audit command holds it: a producer's append must not fail because
// an export, a report or a sync run-now (from cron, say) has the log open
// for a while. The desktop app and serve hold it for good, and serve an
// API to go through instead: for them it does not wait.
func (c *cli) openWaiting(cmd *cobra.Command) (*App, func() error, error) {
	ctx, g := cmd.Context(), c.globals(cmd)
	a, closeApp, err := c.cfg.Open(ctx, g)
	if !errors.Is(err, storage.ErrLocked) || c.cfg.LockWait <= 0 {
		return a, closeApp, err
	}
	if c.cfg.Remote != nil {
		if _, rerr := c.dial(ctx); rerr == nil {
			return nil, nil, err
		}
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "axiom-audit: another axiom-audit command has the audit log open; waiting up to %s for it to finish…\n", c.cfg.LockWait)
	deadline := time.Now().Add(c.cfg.LockWait)
	for time.Now().Before(deadline) {
		select {
		case <-ctx.Done():
			return nil, nil, err
		case <-time.After(200 * time.Millisecond):
		}
		a, closeApp, err = c.cfg.Open(ctx, g)
		if !errors.Is(err, storage.ErrLocked) {
			return a, closeApp, err
		}
	}
	return nil, nil, explained(storage.ErrLocked, "%v, and it did not finish within %s", err, c.cfg.LockWait)
}

// profileBackend is what the commands act on: the profile itself, or the
// desktop app (or serve) holding it, through its local API.
type profileBackend interface {
	eventBackend
	retentionBackend
	syncBackend
	revokeToken(ctx context.Context, id string) (TokenDTO, error)
	rotateDataKey(ctx context.Context, org string) (KeyRotationDTO, error)
	copyForAudit(ctx context.Context, dir string, orgs []string) (AuditCopyDTO, error)
	organizations(ctx context.Context) ([]OrganizationDTO, error)
}

// backend opens the profile for a command: directly, or through the
// desktop app's API when the app holds the profile.
func (c *cli) backend(cmd *cobra.Command) (profileBackend, func() error, error) {
	a, closeApp, err := c.open(cmd)
	if err == nil {
		c.verbosef(cmd, "opened the audit log directly")
		return a, closeApp, nil
	}
	if !errors.Is(err, storage.ErrLocked) || c.cfg.Remote == nil {
		return nil, nil, err
	}
	r, rerr := c.dial(cmd.Context())
	if rerr != nil {
		c.verbosef(cmd, "no local API to go through: %v", rerr)
		if c.cfg.LockWait > 0 {
			return nil, nil, err // open waited for it already, and says so
		}
		return nil, nil, explained(storage.ErrLocked, "%v, and it serves no local API to go through: wait for it to finish, or close it, and retry", err)
	}
	c.verbosef(cmd, "the desktop app (or serve) holds this profile: going through its API at %s", r.Addr())
	if c.held != nil {
		c.held.b = r
	}
	return r, noClose, nil
}

func (c *cli) verbosef(cmd *cobra.Command, format string, args ...any) {
	if c.g.Verbose {
		fmt.Fprintf(cmd.ErrOrStderr(), "axiom-audit: "+format+"\n", args...)
	}
}

// NewRootCommand returns the axiom-audit command. Without a subcommand it
// opens the desktop window on the chosen profile.
func NewRootCommand(cfg CLIConfig) *cobra.Command {
	c := &cli{cfg: cfg}
	g := &c.g
	root := &cobra.Command{
		Use:   "axiom-audit",
		Short: "Axiom Audit — an immutable, encrypted, verifiable local audit log",
		Long: "Axiom Audit keeps the Axiom agent's audit log on this machine: append-only,\n" +
			"encrypted, verifiable without our keys, exportable for auditors.\n\n" +
			"Run without a command to open the desktop window.",
		Version:       cfg.Version,
		SilenceUsage:  true,
		SilenceErrors: true,
		Args:          cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			// Before the profile is opened: nothing is created for a
			// window that cannot be shown.
			if err := checkDisplay(runtime.GOOS, os.Getenv); err != nil {
				return err
			}
			a, closeApp, err := c.open(cmd)
			if err != nil {
				return err
			}
			runErr := RunDesktop(cmd.Context(), a, cfg.Assets)
			if err := closeApp(); err != nil && runErr == nil {
				runErr = err
			}
			return runErr
		},
	}
	root.SetOut(cfg.Stdout)
	root.SetErr(cfg.Stderr)
	root.SetVersionTemplate("axiom-audit {{.Version}}\n")

	pf := root.PersistentFlags()
	pf.StringVar(&g.Profile, "profile", DefaultProfile, "profile `NAME`: a separate log with its own keys")
	pf.StringVar(&g.DataDir, "data-dir", "", "keep the profile's data in `DIR` instead of the XDG data home")
	pf.StringVar(&g.Keystore, "keystore", "keychain", "where keys live: keychain (the OS keychain) or file (opt-in, less safe)")
	pf.BoolVarP(&g.Verbose, "verbose", "v", false, "log what happens to stderr")
	root.PersistentPreRunE = func(*cobra.Command, []string) error {
		switch g.Keystore {
		case "keychain", "file":
			return nil
		default:
			return fmt.Errorf("--keystore %q: must be keychain or file", g.Keystore)
		}
	}
	root.AddCommand(c.appendCommand(), c.queryCommand(), c.keysCommand(), c.serveCommand(), c.tokenCommand(), c.demoCommand(), c.syncCommand(), c.exportCommand(), c.verifyExportCommand(), c.reportCommand(),
		c.verifyCommand(), c.copyForAuditCommand(), c.checkpointCommand(), c.proveCommand(), c.recoverCommand(), c.retentionCommand())
	c.nameOrganizations(root)
	oneValueFlags(root)
	return root
}

// oneValueFlags makes every command's own flag that takes one value refuse
// a second: with the last one silently winning, `query --provider aws
// --provider gcp` printed gcp's events alone, and `keys rotate --org a
// --org b` rotated b. Repeatable flags, such as --category, are slices and
// stay as they are; so do switches, and the global flags (--profile,
// --data-dir, --keystore), which a shell alias may set and a command line
// then override.
func oneValueFlags(cmd *cobra.Command) {
	wrap := func(f *pflag.Flag) {
		switch f.Value.Type() {
		case "string", "int", "int64", "uint", "uint32", "uint64", "duration", "float64":
			if _, ok := f.Value.(*onceValue); !ok {
				f.Value = &onceValue{Value: f.Value}
			}
		}
	}
	if cmd.HasParent() {
		cmd.LocalNonPersistentFlags().VisitAll(wrap)
	}
	for _, sub := range cmd.Commands() {
		oneValueFlags(sub)
	}
}

// onceValue is a flag value that may be set once per command line.
type onceValue struct {
	pflag.Value
	first *string
}

func (o *onceValue) Set(s string) error {
	if o.first != nil {
		return fmt.Errorf("given twice (%q, then %q): it takes one value", *o.first, s)
	}
	o.first = &s
	return o.Value.Set(s)
}

// orgMustExist are the commands whose --org names an organization with
// events; retention and token may name one that has none yet, and sync
// enable checks it itself (orgHasEvents), since it records the opt-in in
// the organization's log.
var orgMustExist = map[string]bool{"query": true, "verify": true, "checkpoint": true, "prove": true,
	"keys rotate": true, "export": true, "report": true}

// nameOrganizations makes the commands of orgMustExist say which
// organizations the profile has when the one asked for is not among them:
// a typo, or the wrong profile, should not leave the user guessing. The
// profile the command opened stays open for that (held), instead of being
// opened a second time. It is the command line's own help, for the local
// user; the REST API never lists organizations a caller may not read.
func (c *cli) nameOrganizations(cmd *cobra.Command) {
	for _, sub := range cmd.Commands() {
		c.nameOrganizations(sub)
	}
	run := cmd.RunE
	name := strings.TrimPrefix(cmd.CommandPath(), cmd.Root().Name()+" ")
	if run == nil || !orgMustExist[name] || cmd.Flags().Lookup("org") == nil {
		return
	}
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		h := &heldBackend{}
		c.held = h
		defer func() {
			c.held = nil
			if h.close != nil {
				h.close()
			}
		}()
		err := run(cmd, args)
		org := cmd.Flags().Lookup("org").Value.String()
		if org == "" || !errors.Is(err, storage.ErrNotFound) || h.b == nil {
			return err
		}
		orgs, lerr := h.b.organizations(cmd.Context())
		if lerr != nil {
			return err
		}
		if ids, found := otherOrgs(orgs, org); !found {
			return unknownOrgError(org, ids)
		}
		// The organization is there (or anchored, its log missing: its
		// alert says so): something else was not found.
		return err
	}
}

// otherOrgs is whether org is among orgs, and the ids of those there are
// when it is not.
func otherOrgs(orgs []OrganizationDTO, org string) (ids []string, found bool) {
	ids = make([]string, 0, len(orgs))
	for _, o := range orgs {
		if o.ID == org {
			return nil, true
		}
		ids = append(ids, o.ID)
	}
	return ids, false
}

// orgHasEvents is nil when org has events in b's profile, else
// unknownOrgError naming the ones it has.
func orgHasEvents(ctx context.Context, b profileBackend, org string) error {
	orgs, err := b.organizations(ctx)
	if err != nil {
		return err
	}
	if ids, found := otherOrgs(orgs, org); !found {
		return unknownOrgError(org, ids)
	}
	return nil
}

// unknownOrgError says that org is not in the profile and names the ones
// that are (the first maxNamed of them).
func unknownOrgError(org string, ids []string) error { return unknownOrgIn("this profile", org, ids) }

// unknownOrgIn is unknownOrgError of a log that is not the profile's (an
// auditor's copy).
func unknownOrgIn(where, org string, ids []string) error {
	const maxNamed = 20
	switch {
	case len(ids) == 0 && where == "this profile":
		return notFound("no organization %q: this profile has no events yet (append some, or choose another --profile or --data-dir)", org)
	case len(ids) == 0:
		return notFound("no organization %q: %s has no events", org, where)
	case len(ids) > maxNamed:
		return notFound("no organization %q in %s; it has %s and %d more",
			org, where, strings.Join(ids[:maxNamed], ", "), len(ids)-maxNamed)
	default:
		return notFound("no organization %q in %s; it has %s", org, where, strings.Join(ids, ", "))
	}
}

// interruptible is cmd's context, cancelled as well by Ctrl-C (SIGINT) or
// SIGTERM: a command that writes a folder (export, report, copy-for-audit)
// then removes what it wrote, rather than being killed half way and
// leaving a partial folder, with revealed states in it, behind.
func interruptible(cmd *cobra.Command) (context.Context, context.CancelFunc) {
	return signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
}

// interruptedBy says whether err ended a command run under ctx (from
// interruptible) because a signal arrived.
func interruptedBy(cmd *cobra.Command, ctx context.Context, err error) bool {
	return err != nil && ctx.Err() != nil && cmd.Context().Err() == nil
}
