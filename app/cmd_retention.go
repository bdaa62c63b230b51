package app

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/axiomops/axiom-audit/storage"
)

func (c *cli) retentionCommand() *cobra.Command {
	ret := &cobra.Command{
		Use:   "retention",
		Short: "Show and change how long events are kept, and sweep expired ones",
		Long: "Operational events are kept 90 days and material ones indefinitely unless the\n" +
			"organization's policy says otherwise (1 day to 7 years, per class or category).\n" +
			"Expired events are pruned to tombstones that keep the log verifiable; the\n" +
			"desktop app and serve sweep hourly.",
	}

	var org string
	var asJSON bool
	show := &cobra.Command{
		Use:   "show --org ORG [--json]",
		Short: "Show the organization's retention policy, what expires soon and what was pruned",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if org == "" {
				return &RequestError{Field: "--org", Reason: "is required"}
			}
			b, closeB, err := c.backend(cmd)
			if err != nil {
				return err
			}
			defer closeB()
			dto, err := b.retentionShow(cmd.Context(), org)
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSONLine(cmd.OutOrStdout(), dto)
			}
			printRetention(cmd.OutOrStdout(), dto, c.profileFlags())
			return nil
		},
	}
	show.Flags().StringVar(&org, "org", "", "organization `ID`")
	show.Flags().BoolVar(&asJSON, "json", false, "print JSON")

	var req RetentionSetRequest
	set := &cobra.Command{
		Use:   "set --org ORG --class operational|material [--category C] --days N|--indefinite [--at-once]",
		Short: "Change a retention window (recorded as audit.settings_changed)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if req.Org == "" {
				return &RequestError{Field: "--org", Reason: "is required"}
			}
			if req.Class == "" {
				return &RequestError{Field: "--class", Reason: "is required: operational or material"}
			}
			daysSet := cmd.Flags().Changed("days")
			if daysSet == req.Indefinite {
				return &RequestError{Field: "--days", Reason: "give either --days N (1 to 2557, 7 years) or --indefinite"}
			}
			b, closeB, err := c.backend(cmd)
			if err != nil {
				return err
			}
			defer closeB()
			before, err := b.retentionShow(cmd.Context(), req.Org)
			if err != nil {
				return err
			}
			after, err := b.setRetention(cmd.Context(), req)
			if err != nil {
				return err
			}
			what := req.Class
			if req.Category != "" {
				what = "category " + req.Category + " (" + req.Class + ")"
			}
			newest := after.Version
			if n := len(after.Pending); n > 0 {
				newest = after.Pending[n-1].Version
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "retention of %s for %s: %s → %s (policy version %d)\n",
				req.Org, what, windowOf(before, req), windowOf(after, req), newest)
			switch n := len(after.Pending); {
			case n > 0 && after.Pending[n-1].Version == newest:
				p := after.Pending[n-1]
				fmt.Fprintf(w, "it keeps some events for less time than version %d in force, so it takes effect at %s", before.Version, p.EffectiveFrom)
				stricter := -1
				for _, q := range before.Pending {
					if q.EffectiveFrom == p.EffectiveFrom {
						stricter = int(q.Version)
					}
				}
				if stricter >= 0 {
					fmt.Fprintf(w, ", when the stricter version %d would have", stricter)
				} else {
					fmt.Fprint(w, ", a week after the change")
				}
				fmt.Fprintf(w, ": until then version %d applies", after.Version)
				if after.Version != before.Version {
					fmt.Fprintf(w, " (the change with the windows it shortens kept as they are, in force now)")
				}
				fmt.Fprintln(w, ", and `retention show` lists the events it will prune, to export first")
			default:
				why := "it shortens nothing, so it takes effect now"
				if req.AtOnce {
					// Only the app and serve sweep on their own: from the
					// command line alone, nothing would within the hour.
					why = fmt.Sprintf("it takes effect now (--at-once): the next sweep prunes what it makes overdue "+
						"(hourly while the desktop app or serve runs, or now with 'axiom-audit retention sweep --org %s --now')", req.Org)
				}
				var ids []string
				for _, p := range before.Pending {
					ids = append(ids, fmt.Sprint(p.Version))
				}
				if len(ids) > 0 {
					why += ", in place of pending version " + strings.Join(ids, ", ")
				}
				fmt.Fprintln(w, why)
			}
			audit := RetentionSetRequest{Class: string(storage.RetentionMaterial), Category: "audit"}
			if req.Category == "" && req.Class == audit.Class && !req.Indefinite {
				fmt.Fprintf(cmd.OutOrStdout(), "the log's own events (category audit) stay %s\n", windowOf(after, audit))
			}
			return nil
		},
	}
	sf := set.Flags()
	sf.StringVar(&req.Org, "org", "", "organization `ID`")
	sf.StringVar(&req.Class, "class", "", "retention class: operational or material")
	sf.StringVar(&req.Category, "category", "", "give this `CATEGORY` of the class its own window")
	sf.IntVar(&req.Days, "days", 0, "keep events `N` days (1 to 2557)")
	sf.BoolVar(&req.Indefinite, "indefinite", false, "keep events forever")
	sf.BoolVar(&req.AtOnce, "at-once", false, "apply a shorter window now, not a week after the change: the next sweep prunes what it makes overdue")

	var dryRun, now bool
	var sweepJSON bool
	sweep := &cobra.Command{
		Use:   "sweep --org ORG --dry-run|--now",
		Short: "Prune expired events now, or show what would be pruned",
		Long: "--dry-run prints what a sweep now would prune, per retention class with seq\n" +
			"ranges, and writes nothing. --now prunes them to tombstones, records\n" +
			"audit.retention_swept, and reclaims the disk space.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if org == "" {
				return &RequestError{Field: "--org", Reason: "is required"}
			}
			if dryRun == now {
				return &RequestError{Field: "--now", Reason: "give --now to prune what has expired, or --dry-run to see what a sweep would prune"}
			}
			b, closeB, err := c.backend(cmd)
			if err != nil {
				return err
			}
			defer closeB()
			// Sync skips tombstones: what a destination has not received
			// yet and the sweep prunes, it never will.
			if sts, err := b.syncStatus(cmd.Context(), org); err == nil {
				for _, s := range sts {
					if s.Enabled && s.LagEvents > 0 {
						will := "those this sweep prunes will never reach it"
						if dryRun {
							will = "those a sweep prunes would never reach it"
						}
						fmt.Fprintf(cmd.ErrOrStderr(), "axiom-audit: warning: sync to %s %s has not received %s yet (from seq %d): %s\n",
							s.To, s.Target, count(int64(s.LagEvents), "event"), s.DeliveredSeq+1, will)
					}
				}
			}
			res, err := b.sweepRetention(cmd.Context(), org, dryRun)
			if err != nil {
				return err
			}
			if sweepJSON {
				return writeJSONLine(cmd.OutOrStdout(), res)
			}
			printSweep(cmd.OutOrStdout(), res)
			if dryRun {
				// A dry run sweeps by the version in force now; a pending
				// version changes what later sweeps prune.
				if d, err := b.retentionShow(cmd.Context(), org); err == nil {
					for _, p := range d.Pending {
						fmt.Fprintf(cmd.OutOrStdout(), "Version %d of the policy, pending, takes effect at %s: sweeps from then on prune by its windows "+
							"('axiom-audit retention show --org %s' lists them).\n", p.Version, p.EffectiveFrom, org)
					}
				}
			}
			return nil
		},
	}
	sweep.Flags().StringVar(&org, "org", "", "organization `ID`")
	sweep.Flags().BoolVar(&dryRun, "dry-run", false, "show what would be pruned; write nothing")
	sweep.Flags().BoolVar(&now, "now", false, "prune now")
	sweep.Flags().BoolVar(&sweepJSON, "json", false, "print JSON")

	ret.AddCommand(show, set, sweep)
	return ret
}

// retentionBackend is where the retention commands act: the profile
// itself, or the desktop app (or serve) holding it, through its local API.
type retentionBackend interface {
	retentionShow(ctx context.Context, org string) (RetentionDTO, error)
	setRetention(ctx context.Context, req RetentionSetRequest) (RetentionDTO, error)
	sweepRetention(ctx context.Context, org string, dryRun bool) (storage.SweepResult, error)
}

func (r *RemoteClient) retentionShow(ctx context.Context, org string) (RetentionDTO, error) {
	var out RetentionDTO
	err := r.do(ctx, http.MethodGet, "/api/retention?"+url.Values{"org": {org}}.Encode(), nil, &out)
	return out, err
}

func (r *RemoteClient) setRetention(ctx context.Context, req RetentionSetRequest) (RetentionDTO, error) {
	body, err := json.Marshal(req)
	if err != nil {
		return RetentionDTO{}, err
	}
	var out RetentionDTO
	err = r.do(ctx, http.MethodPost, "/api/retention/policy", body, &out)
	return out, err
}

func (r *RemoteClient) sweepRetention(ctx context.Context, org string, dryRun bool) (storage.SweepResult, error) {
	var out storage.SweepResult
	q := url.Values{"org": {org}}
	if dryRun {
		q.Set("dryRun", "true")
	}
	err := r.do(ctx, http.MethodPost, "/api/retention/sweep?"+q.Encode(), nil, &out)
	return out, err
}

func writeJSONLine(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// windowOf is the window a change touched, as the policy dto shows it.
// windowOf is the window the newest version of d gives req's class or
// category.
func windowOf(d RetentionDTO, req RetentionSetRequest) string {
	rules := d.latestRules()
	for _, r := range rules {
		if r.Category == req.Category && (r.Category != "" || r.Class == req.Class) {
			return ruleWindow(r)
		}
	}
	for _, r := range rules {
		if r.Category == "" && r.Class == req.Class {
			return ruleWindow(r) + " (the class's)"
		}
	}
	return "?"
}

func printRules(w io.Writer, rules []RetentionRuleDTO) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CLASS\tCATEGORY\tKEPT")
	for _, r := range rules {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", r.Class, orDash(r.Category), ruleWindow(r))
	}
	tw.Flush()
	fmt.Fprintln(w)
}

func ruleWindow(r RetentionRuleDTO) string {
	return storage.RetentionWindow{Days: r.Days, Indefinite: r.Indefinite}.String()
}

// profileFlags are the global flags naming the profile the command used
// and where its keys are ("--profile P ", "--data-dir D ", "--keystore
// file "; "" for the default), to repeat in the commands it suggests.
func (c *cli) profileFlags() string {
	var b strings.Builder
	if c.g.Profile != "" && c.g.Profile != DefaultProfile {
		fmt.Fprintf(&b, "--profile %s ", shellQuote(c.g.Profile))
	}
	if c.g.DataDir != "" {
		fmt.Fprintf(&b, "--data-dir %s ", shellQuote(c.g.DataDir))
	}
	if c.g.Keystore == "file" {
		// Pasted without it, the command would look in the keychain.
		b.WriteString("--keystore file ")
	}
	return b.String()
}

// printRetention prints d; flags are the global flags that name the
// profile, for the commands it suggests.
func printRetention(w io.Writer, d RetentionDTO, flags string) {
	if d.Version == 0 {
		fmt.Fprintf(w, "Retention policy of %s: the default (version 0)\n\n", d.Org)
	} else {
		fmt.Fprintf(w, "Retention policy of %s: version %d, since %s", d.Org, d.Version, d.EffectiveFrom)
		if d.ChangedBy != "" {
			fmt.Fprintf(w, " by %s", d.ChangedBy)
		}
		fmt.Fprint(w, "\n\n")
	}
	printRules(w, d.Rules)
	for _, p := range d.Pending {
		fmt.Fprintf(w, "Version %d takes effect at %s (changed at %s", p.Version, p.EffectiveFrom, p.ChangedAt)
		if p.ChangedBy != "" {
			fmt.Fprintf(w, " by %s", p.ChangedBy)
		}
		fmt.Fprint(w, "; a change that shortens a window waits a week, or until a stricter pending change would have taken effect):\n\n")
		printRules(w, p.Rules)
	}
	if e := d.Expiring; e.Count > 0 {
		fmt.Fprintf(w, "Expiring within %d days: %s from %s to %s", ExpiringWarningDays, count(int64(e.Count), "event"),
			e.Oldest.Format(time.RFC3339), e.Newest.Format(time.RFC3339))
		fmt.Fprintln(w, "; to keep them, export them first (or, while the app has this profile open, from its Export dialog):")
		for _, g := range e.Groups {
			fmt.Fprintf(w, "  axiom-audit %sexport --org %s --category %s --until %s --format jsonl --out DIR   # %s\n",
				flags, d.Org, g.Category, g.Until.Format(time.RFC3339Nano), count(int64(g.Count), "event"))
		}
	} else {
		fmt.Fprintf(w, "Nothing expires within %d days.\n", ExpiringWarningDays)
	}
	if d.PrunedEvents == 0 {
		fmt.Fprintln(w, "Nothing was pruned.")
		return
	}
	fmt.Fprintf(w, "Pruned: %s in %s; the newest:\n", count(int64(d.PrunedEvents), "event"), count(int64(d.PrunedRuns), "run"))
	from := max(0, len(d.Pruned)-5)
	for _, r := range d.Pruned[from:] {
		fmt.Fprintf(w, "  %s\n", prunedRunText(r))
	}
}

func prunedRunText(r storage.PrunedRun) string {
	seqs := fmt.Sprintf("seq %d", r.FromSeq)
	if r.ToSeq != r.FromSeq {
		seqs = fmt.Sprintf("seqs %d–%d", r.FromSeq, r.ToSeq)
	}
	return fmt.Sprintf("%s (%s): pruned by policy %s at %s", seqs, count(int64(r.Count), "event"), r.Policy, r.PrunedAt.Format(time.RFC3339))
}

func printSweep(w io.Writer, r storage.SweepResult) {
	verb := "Pruned"
	if r.DryRun {
		verb = "Would prune"
	}
	fmt.Fprintf(w, "%s %s of %s (policy version %d, as of %s)", verb, count(int64(r.Pruned), "event"), r.Org, r.Policy, r.At.Format(time.RFC3339))
	if r.Resumed {
		fmt.Fprint(w, ", finishing an interrupted sweep")
	}
	fmt.Fprintln(w)
	for _, c := range r.Classes {
		parts := make([]string, len(c.Ranges))
		for i, s := range c.Ranges {
			if s.From == s.To {
				parts[i] = fmt.Sprint(s.From)
			} else {
				parts[i] = fmt.Sprintf("%d–%d", s.From, s.To)
			}
		}
		within := ""
		if !c.Exact {
			within = " within"
		}
		if len(parts) > 20 {
			parts = append(parts[:20], fmt.Sprintf("… (%d ranges; --json lists them)", len(c.Ranges)))
		}
		seqs := "seqs"
		if c.Pruned == 1 {
			seqs = "seq"
		}
		fmt.Fprintf(w, "  %s: %s,%s %s %s\n", c.Class, count(int64(c.Pruned), "event"), within, seqs, strings.Join(parts, ", "))
	}
	if r.Event != nil {
		fmt.Fprintf(w, "Recorded as audit.retention_swept, seq %d.\n", r.Event.Seq)
	}
	if r.Reclaimed > 0 {
		fmt.Fprintf(w, "Reclaimed %d bytes of disk.\n", r.Reclaimed)
	}
}
