package app

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/axiomops/axiom-audit/app/demo"
	"github.com/axiomops/axiom-audit/storage"
)

// DemoProfile is the profile `demo` writes unless --profile or --data-dir
// names another.
const DemoProfile = "demo"

// demoMarker is the setting that marks a profile as holding demo data only.
const demoMarker = "demo/profile"

// ErrNotADemoProfile: demo refuses a profile that holds real events.
var ErrNotADemoProfile = errors.New("this profile holds events that are not demo events: demo writes only to an empty or demo profile")

// DemoResult says what generateDemo did.
type DemoResult struct {
	Events  int
	Orgs    int
	Skipped bool // the profile already held a demo log and ifEmpty was set
}

// generateDemo fills the profile with realistic demo stories. It refuses a
// profile that holds any non-demo event, so it can never touch a real log.
func (a *App) generateDemo(ctx context.Context, opts demo.Options, ifEmpty bool, progress func(done int)) (DemoResult, error) {
	st, err := a.storeOrErr()
	if err != nil {
		return DemoResult{}, err
	}
	orgs, err := st.Organizations(ctx)
	if err != nil {
		return DemoResult{}, err
	}
	_, markerErr := st.ReadSetting(ctx, demoMarker)
	isDemo := markerErr == nil
	if markerErr != nil && !errors.Is(markerErr, storage.ErrNotFound) {
		return DemoResult{}, markerErr
	}
	var existing uint64
	for _, o := range orgs {
		if o.ID != SystemOrg { // the app's own start/stop events are not user data
			existing += o.Size
		}
	}
	if existing > 0 && !isDemo {
		return DemoResult{}, ErrNotADemoProfile
	}
	if existing > 0 && ifEmpty {
		return DemoResult{Skipped: true}, nil
	}
	if err := st.WriteSetting(ctx, demoMarker, []byte("true")); err != nil {
		return DemoResult{}, err
	}
	const batch = 250
	buf := make([]storage.Event, 0, batch)
	n := 0
	flush := func() error {
		if len(buf) == 0 {
			return nil
		}
		if _, err := st.Append(ctx, buf); err != nil {
			return err
		}
		n += len(buf)
		buf = buf[:0]
		if progress != nil {
			progress(n)
		}
		return nil
	}
	seen := map[string]bool{}
	err = demo.Generate(opts, func(e storage.Event) error {
		seen[e.OrganizationID] = true
		buf = append(buf, e)
		if len(buf) == batch {
			return flush()
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	if err != nil {
		return DemoResult{Events: n, Orgs: len(seen)}, fmt.Errorf("demo stopped after %d events: %w", n, err)
	}
	return DemoResult{Events: n, Orgs: len(seen)}, nil
}

func (c *cli) demoCommand() *cobra.Command {
	var opts demo.Options
	var ifEmpty bool
	cmd := &cobra.Command{
		Use:   "demo [--events N] [--orgs K]",
		Short: "Write realistic demo stories into the demo profile",
		Long: "Writes causally ordered demo stories (provider connections, scans, findings,\n" +
			"recommendations, plans, multi-party approvals, applies with before/after state,\n" +
			"failures and rollbacks, user and workflow events) spread over the last 90 days,\n" +
			"into the 'demo' profile unless --profile or --data-dir names another. It refuses\n" +
			"any profile that holds events that are not demo events.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if opts.Events <= 0 {
				return &RequestError{Field: "--events", Reason: "must be positive"}
			}
			if opts.Orgs <= 0 {
				return &RequestError{Field: "--orgs", Reason: "must be positive"}
			}
			if !cmd.Flags().Changed("profile") && c.g.DataDir == "" {
				c.g.Profile = DemoProfile
			}
			a, closeApp, err := c.open(cmd)
			if errors.Is(err, storage.ErrLocked) {
				// demo writes the profile itself, not through the app's API.
				return explained(err, "%v: demo writes a profile nothing else holds: "+
					"close the desktop app or stop serve (or let the command that holds it finish), and retry", err)
			}
			if err != nil {
				return err
			}
			defer closeApp()
			start := time.Now()
			opts.End = start.UTC()
			res, err := a.generateDemo(cmd.Context(), opts, ifEmpty, nil)
			if err != nil {
				return err
			}
			if !res.Skipped {
				// The app and serve build the text sketches in the
				// background; a log only commands have opened has none, and
				// a free-text query would read every record.
				st, err := a.storeOrErr()
				if err != nil {
					return err
				}
				if _, err := st.BuildSketches(cmd.Context()); err != nil {
					return fmt.Errorf("wrote the demo events, but failed to build their text sketches (free-text searches read every record until the app or serve builds them): %w", err)
				}
			}
			if res.Skipped {
				fmt.Fprintf(cmd.OutOrStdout(), "profile %q already holds a demo log; left as it is\n", a.opts.Paths.Profile)
				return nil
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %s for %s into profile %q (%s) in %s\n",
				count(int64(res.Events), "demo event"), count(int64(res.Orgs), "organization"), a.opts.Paths.Profile, a.opts.Paths.DataDir, time.Since(start).Round(time.Millisecond))
			return nil
		},
	}
	cmd.Flags().IntVar(&opts.Events, "events", 20000, "how many events to write")
	cmd.Flags().IntVar(&opts.Orgs, "orgs", demo.DefaultOrgs, "how many organizations")
	cmd.Flags().Int64Var(&opts.Seed, "seed", 1, "random seed (the same seed writes the same stories)")
	cmd.Flags().BoolVar(&ifEmpty, "if-empty", false, "do nothing if the profile already holds a demo log")
	return cmd
}
