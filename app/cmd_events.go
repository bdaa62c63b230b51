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
		Short: "Append events from JSON Lines (nothing if any line is invalid)",
		Long: "Reads events as JSON Lines from FILE or standard input. Every line is validated\n" +
			"first; if any line is invalid nothing is written, each problem is printed to\n" +
			"stderr as 'line N: field: reason' and the exit status is 65. An id already recorded\n" +
			"with different content is refused the same way. Otherwise the events are appended\n" +
			"durably and one receipt per line is printed as JSON, in the order of the lines.\n" +
			"\n" +
			"Up to a few hundred typical events are one atomic commit. A larger input is checked\n" +
			"whole (every line, and every id against the log) and then appended in commits of\n" +
			"that size, in order, each receipt printed once its commit is durable. Should a commit\n" +
			"fail on the way (a full disk, an integrity alert raised meanwhile), the lines before\n" +
			"it are recorded, their receipts printed, and the error names the first line that is\n" +
			"not: append the input again from that line.",
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
			return appendLines(cmd, b, events, lines)
		},
	}
}

// A commit holds about 1 MB of index entries and 11,000 writes (with the
// default memtables); appendLines plans commits of at most a third of
// that by its own estimate of an event's entries, and halves a commit the
// store still finds too large.
const (
	chunkEvents = 256
	chunkBytes  = 384 << 10
	chunkWrites = 4000
)

// appendChunks splits events into commits, in order, except that an event
// whose id an earlier event has joins that one's commit, so that a repeated
// id is checked against its first occurrence before anything is written.
func appendChunks(events []storage.Event) [][]int {
	var chunks [][]int
	chunkOf := map[string]int{} // org + id -> chunk
	var n, size, writes int
	for i, e := range events {
		key := e.OrganizationID + "\x00" + e.ID
		if e.ID != "" {
			if c, ok := chunkOf[key]; ok {
				chunks[c] = append(chunks[c], i)
				continue
			}
		}
		es, ew := 600+len(e.ID)+len(e.UserID), 10
		for _, r := range e.ResourceIDs {
			es += len(r) + 80
			ew++
		}
		if len(chunks) == 0 || n+1 > chunkEvents || size+es > chunkBytes || writes+ew > chunkWrites {
			chunks = append(chunks, nil)
			n, size, writes = 0, 0, 0
		}
		c := len(chunks) - 1
		chunks[c] = append(chunks[c], i)
		n, size, writes = n+1, size+es, writes+ew
		if e.ID != "" {
			chunkOf[key] = c
		}
	}
	return chunks
}

// appendLines appends events (read from lines) and prints a receipt per
// line: in one commit if they are few, else checked whole first and then
// appended in commits (appendChunks).
func appendLines(cmd *cobra.Command, b eventBackend, events []storage.Event, lines []int) error {
	ctx := cmd.Context()
	enc := json.NewEncoder(cmd.OutOrStdout())
	conflict := func(err error, idx []int) error {
		if i, ok := conflictIndex(err); ok && i < len(idx) {
			// Refused whole: name the line, as for an invalid one.
			// (The error's own index is of the commit, not of the input.)
			fmt.Fprintln(cmd.ErrOrStderr(), lineProblem{lines[idx[i]], "id", conflictReason})
			return &ExitError{Code: ExitDataErr, Err: fmt.Errorf("1 conflicting line; nothing was written: %w", storage.ErrConflict)}
		}
		return err
	}
	pick := func(idx []int) []storage.Event {
		evs := make([]storage.Event, len(idx))
		for j, i := range idx {
			evs[j] = events[i]
		}
		return evs
	}
	chunks := appendChunks(events)
	if len(chunks) == 1 {
		rs, err := b.appendEvents(ctx, events)
		if err == nil {
			for _, r := range rs {
				if err := enc.Encode(receiptDTO(r)); err != nil {
					return err
				}
			}
			return nil
		}
		if !errors.Is(err, storage.ErrBatchTooLarge) {
			return conflict(err, chunks[0])
		}
		// More than the estimate: checked, then appended in halves.
	}
	for _, idx := range chunks {
		if err := b.checkEvents(ctx, pick(idx)); err != nil {
			return conflict(err, idx)
		}
	}
	receipts := make([]*storage.Receipt, len(events))
	printed := 0
	for k, idx := range chunks {
		var printErr error
		err := appendHalving(ctx, b, pick(idx), func(from int, rs []storage.Receipt) error {
			for j := range rs {
				receipts[idx[from+j]] = &rs[j]
			}
			for printed < len(receipts) && receipts[printed] != nil {
				if printErr = enc.Encode(receiptDTO(*receipts[printed])); printErr != nil {
					return printErr
				}
				printed++
			}
			return nil
		})
		if err == nil {
			continue
		}
		if printErr != nil {
			// Standard output is gone: stop appending what no one sees.
			return fmt.Errorf("failed to print a receipt, so stopped appending (up to line %d the events are recorded): %w",
				lines[lastReceipt(receipts)], err)
		}
		if k == 0 && printed == 0 {
			return conflict(err, idx)
		}
		return fmt.Errorf("the events of lines %d–%d are recorded (their receipts are above), those from line %d on are not: %w",
			lines[0], lines[printed-1], lines[printed], err)
	}
	return nil
}

// appendHalving appends events in one commit, or, if the store finds them
// too many for one, in halves (nothing of a refused commit is written),
// calling done with each commit's first index and receipts.
func appendHalving(ctx context.Context, b eventBackend, events []storage.Event, done func(from int, rs []storage.Receipt) error) error {
	var run func(from int, evs []storage.Event) error
	run = func(from int, evs []storage.Event) error {
		rs, err := b.appendEvents(ctx, evs)
		if errors.Is(err, storage.ErrBatchTooLarge) && len(evs) > 1 {
			h := len(evs) / 2
			if err := run(from, evs[:h]); err != nil {
				return err
			}
			return run(from+h, evs[h:])
		}
		if err != nil {
			return err
		}
		return done(from, rs)
	}
	return run(0, events)
}

// lastReceipt is the index of the last event with a receipt.
func lastReceipt(rs []*storage.Receipt) int {
	for i := len(rs) - 1; i > 0; i-- {
		if rs[i] != nil {
			return i
		}
	}
	return 0
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

// CheckDTO is the answer of an append with dryRun=true: every event would
// be appended.
type CheckDTO struct {
	Checked int `json:"checked"`
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
