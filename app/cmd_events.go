package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/axiomops/axiom-audit/storage"
)

// ExitDataErr is the exit status of `append` when an input line is invalid
// (sysexits EX_DATAERR).
const ExitDataErr = 65

func (c *cli) appendCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "append [FILE|-]",
		Short: "Append events from JSON Lines (all or nothing)",
		Long: "Reads events as JSON Lines from FILE or standard input. Every line is validated\n" +
			"first; if any line is invalid nothing is written, each problem is printed to\n" +
			"stderr as 'line N: field: reason' and the exit status is 65. Otherwise the events\n" +
			"are appended durably and one receipt per line is printed as JSON. The events are\n" +
			"one atomic commit, which holds a few hundred typical events (about 1 MB): a larger\n" +
			"file is refused with nothing written; split it (e.g. split -l 200).",
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var in io.Reader = cmd.InOrStdin()
			if len(args) == 1 && args[0] != "-" {
				f, err := os.Open(args[0])
				if err != nil {
					return err
				}
				defer f.Close()
				in = f
			}
			cat, err := storage.LoadCatalogue()
			if err != nil {
				return err
			}
			events, lines, problems, err := readEventLines(in, cat)
			if err != nil {
				return err
			}
			if len(problems) > 0 {
				for _, p := range problems {
					fmt.Fprintln(cmd.ErrOrStderr(), p)
				}
				return &ExitError{Code: ExitDataErr, Err: fmt.Errorf("%d invalid line(s); nothing was written", countLines(problems))}
			}
			if len(events) == 0 {
				return nil
			}
			b, closeB, err := c.backend(cmd)
			if err != nil {
				return err
			}
			defer closeB()
			receipts, err := b.appendEvents(cmd.Context(), events)
			if i, ok := conflictIndex(err); ok && i < len(lines) {
				// The batch was refused whole: name the line, as for an
				// invalid one.
				fmt.Fprintln(cmd.ErrOrStderr(), lineProblem{lines[i], "id", conflictReason})
				return &ExitError{Code: ExitDataErr, Err: fmt.Errorf("%w; nothing was written", err)}
			}
			if err != nil {
				return err
			}
			enc := json.NewEncoder(cmd.OutOrStdout())
			for _, r := range receipts {
				if err := enc.Encode(receiptDTO(r)); err != nil {
					return err
				}
			}
			return nil
		},
	}
}

// lineProblem is one problem of one input line.
type lineProblem struct {
	line   int
	field  string
	reason string
}

func (p lineProblem) String() string {
	return fmt.Sprintf("line %d: %s: %s", p.line, p.field, p.reason)
}

func countLines(ps []lineProblem) int {
	n, last := 0, -1
	for _, p := range ps {
		if p.line != last {
			n, last = n+1, p.line
		}
	}
	return n
}

// readEventLines decodes and validates every line, collecting every
// problem rather than stopping at the first. lines are the events' line
// numbers.
func readEventLines(r io.Reader, cat *storage.Catalogue) (events []storage.Event, lines []int, problems []lineProblem, err error) {
	add := func(line int, err error) {
		var ve *storage.ValidationError
		if errors.As(err, &ve) {
			for _, fe := range ve.Errors {
				problems = append(problems, lineProblem{line, fe.Field, fe.Reason})
			}
			return
		}
		problems = append(problems, lineProblem{line, "event", err.Error()})
	}
	err = storage.DecodeJSONLines(r, func(line int, e storage.Event, err error) error {
		if err != nil {
			add(line, err)
			// Report what else is wrong with the line too, except for the
			// fields the decoder already named; a line that could not be
			// read as an event has nothing else to check.
			var ve *storage.ValidationError
			if errors.As(err, &ve) && !ve.Unreadable {
				seen := map[string]bool{}
				for _, fe := range ve.Errors {
					seen[fe.Field] = true
				}
				if verr := cat.Validate(&e); errors.As(verr, &ve) {
					for _, fe := range ve.Errors {
						if !seen[fe.Field] {
							problems = append(problems, lineProblem{line, fe.Field, fe.Reason})
						}
					}
				}
			}
			return nil
		}
		if err := cat.Validate(&e); err != nil {
			add(line, err)
			return nil
		}
		events, lines = append(events, e), append(lines, line)
		return nil
	})
	return events, lines, problems, err
}

// ReceiptDTO is what `append` prints per event.
type ReceiptDTO struct {
	ID             string `json:"id"`
	OrganizationID string `json:"organizationId"`
	Seq            uint64 `json:"seq"`
	RecordedAt     string `json:"recordedAt"`
}

func receiptDTO(r storage.Receipt) ReceiptDTO {
	return ReceiptDTO{ID: r.ID, OrganizationID: r.OrganizationID, Seq: r.Seq, RecordedAt: formatTime(r.RecordedAt)}
}

// queryFlags are the timeline filter flags shared by query, export and
// report.
type queryFlags struct {
	org, since, until, provider, user, status, risk, resource, text, order string
	categories, actions                                                    []string
}

func (q *queryFlags) register(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&q.org, "org", "", "organization `ID` (required)")
	f.StringVar(&q.since, "since", "", "from `TIME` (RFC 3339, or a duration back from now: 15m, 24h, 7d)")
	f.StringVar(&q.until, "until", "", "before `TIME` (RFC 3339 or a duration back from now)")
	f.StringArrayVar(&q.categories, "category", nil, "only this `CATEGORY` (repeatable)")
	f.StringArrayVar(&q.actions, "action", nil, "only this action `TYPE` (repeatable)")
	f.StringVar(&q.provider, "provider", "", "aws, azure, gcp or system")
	f.StringVar(&q.user, "user", "", "only events by this user `ID`")
	f.StringVar(&q.status, "status", "", "pending, applied, failed or rolled_back")
	f.StringVar(&q.risk, "risk", "", "low, medium or high")
	f.StringVar(&q.resource, "resource", "", "only events touching resource `ID` (a trailing * matches a prefix)")
	f.StringVar(&q.text, "text", "", "free text over the public fields")
	f.StringVar(&q.order, "order", "newest", "newest or oldest first")
}

func (q *queryFlags) dto(now time.Time) (QueryDTO, error) {
	if q.org == "" {
		return QueryDTO{}, &RequestError{Field: "--org", Reason: "is required"}
	}
	d := QueryDTO{Org: q.org, Categories: q.categories, ActionTypes: q.actions, Text: q.text, Order: q.order}
	var err error
	if d.Since, err = cliTime("--since", q.since, now); err != nil {
		return d, err
	}
	if d.Until, err = cliTime("--until", q.until, now); err != nil {
		return d, err
	}
	one := func(v string) []string {
		if v == "" {
			return nil
		}
		return []string{v}
	}
	d.Providers, d.UserIDs, d.Statuses, d.RiskLevels = one(q.provider), one(q.user), one(q.status), one(q.risk)
	if p, ok := strings.CutSuffix(q.resource, "*"); ok {
		d.ResourceIDPrefix = p
	} else {
		d.ResourceID = q.resource
	}
	return d, nil
}

// cliTime accepts RFC 3339 or a duration back from now ("90d", "24h").
func cliTime(flag, s string, now time.Time) (string, error) {
	if s == "" {
		return "", nil
	}
	if _, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return s, nil
	}
	if d, ok := parseAgo(s); ok {
		return formatTime(now.Add(-d)), nil
	}
	return "", &RequestError{Field: flag, Reason: fmt.Sprintf("%q is neither an RFC 3339 time (2026-09-30T12:00:00Z) nor a duration like 15m, 24h or 7d", s)}
}

func parseAgo(s string) (time.Duration, bool) {
	if n, ok := strings.CutSuffix(s, "d"); ok {
		days, err := strconv.Atoi(n)
		if err != nil || days <= 0 || days > 36500 {
			return 0, false
		}
		return time.Duration(days) * 24 * time.Hour, true
	}
	d, err := time.ParseDuration(s)
	return d, err == nil && d > 0
}

func (c *cli) queryCommand() *cobra.Command {
	var q queryFlags
	var limit int
	var format string
	cmd := &cobra.Command{
		Use:   "query --org ORG [filters]",
		Short: "Print events of one organization's timeline",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if format != "table" && format != "jsonl" {
				return &RequestError{Field: "--format", Reason: fmt.Sprintf("%q is not table or jsonl", format)}
			}
			if limit < 0 {
				return &RequestError{Field: "--limit", Reason: "must be 0 (everything) or more"}
			}
			d, err := q.dto(time.Now())
			if err != nil {
				return err
			}
			b, closeB, err := c.backend(cmd)
			if err != nil {
				return err
			}
			defer closeB()
			out := cmd.OutOrStdout()
			var tw *tabwriter.Writer
			var enc *json.Encoder
			if format == "table" {
				tw = tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
				defer tw.Flush()
			} else {
				enc = json.NewEncoder(out)
			}
			// The header follows the first page, so that a refused query
			// prints nothing on stdout.
			header := func() {
				if tw != nil {
					fmt.Fprintln(tw, "TIME\tSEQ\tACTION\tUSER\tPROVIDER\tSTATUS\tRISK\tRESOURCES")
					tw.Flush()
				}
			}
			n := 0
			err = eachEvent(cmd.Context(), b, d, limit, func(e EventDTO) error {
				if n++; n == 1 {
					header()
				}
				if enc != nil {
					return enc.Encode(e)
				}
				_, err := fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\n", e.Timestamp, e.Seq, e.ActionType, e.UserID,
					e.Provider, e.Status, e.RiskLevel, strings.Join(e.ResourceIDs, ","))
				return err
			})
			if err != nil {
				return flagError(err)
			}
			if n == 0 {
				// No events: say so when the organization has none at
				// all (a typo), as verify and checkpoint do.
				if _, err := b.latestCheckpoint(cmd.Context(), d.Org); errors.Is(err, storage.ErrNotFound) {
					return fmt.Errorf("no organization %q in this profile: %w", d.Org, storage.ErrNotFound)
				}
				header()
			}
			return nil
		},
	}
	q.register(cmd)
	cmd.Flags().IntVar(&limit, "limit", 100, "print at most `N` events (0: all)")
	cmd.Flags().StringVar(&format, "format", "table", "table or jsonl (full events, states decrypted)")
	return cmd
}

// eachEvent pages through the timeline, calling fn for at most limit events
// (0: all). Memory stays at one page.
func eachEvent(ctx context.Context, a eventBackend, q QueryDTO, limit int, fn func(EventDTO) error) error {
	n := 0
	for {
		q.Limit = storage.MaxLimit
		if limit > 0 && limit-n < q.Limit {
			q.Limit = limit - n
		}
		page, err := a.listEvents(ctx, q)
		if err != nil {
			return err
		}
		for _, e := range page.Events {
			if err := fn(e); err != nil {
				return err
			}
			n++
		}
		if page.NextCursor == "" || (limit > 0 && n >= limit) {
			return nil
		}
		q.Cursor = page.NextCursor
	}
}

func (c *cli) keysCommand() *cobra.Command {
	keys := &cobra.Command{Use: "keys", Short: "Manage the encryption keys of organizations"}
	var org string
	rotate := &cobra.Command{
		Use:   "rotate --org ORG",
		Short: "Start a new data key for ORG's states (old records keep their keys)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if org == "" {
				return &RequestError{Field: "--org", Reason: "is required"}
			}
			a, closeApp, err := c.open(cmd)
			if err != nil {
				return err
			}
			defer closeApp()
			id, err := a.rotateDataKey(cmd.Context(), org)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "organization %s now seals new states with data key %d\n", org, id)
			return nil
		},
	}
	rotate.Flags().StringVar(&org, "org", "", "organization `ID`")
	keys.AddCommand(rotate)
	return keys
}
