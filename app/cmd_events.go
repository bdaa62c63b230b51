package app

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
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
			"with different content, or repeated in the input with different content, is\n" +
			"refused the same way. Otherwise the events are appended durably and one receipt\n" +
			"per line is printed as JSON, in the order of the lines.\n" +
			"\n" +
			"Up to a few hundred typical events are one atomic commit. A larger input is checked\n" +
			"whole first, then appended in commits of that size, in order, each receipt printed\n" +
			"once its commit is durable. Should a commit fail on the way (a full disk, an\n" +
			"integrity alert raised meanwhile), the lines before it are recorded, their receipts\n" +
			"printed, and the error names the first line that is not: append the input again\n" +
			"from that line. A FILE is read twice and never held in memory whole (it must not\n" +
			"change meanwhile: a commit that reads differently the second time is not\n" +
			"written); standard input is held in memory.",
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var src source
			if len(args) == 1 && args[0] != "-" {
				f, err := os.Open(args[0])
				if err != nil {
					return err
				}
				f.Close()
				src = fileSource(args[0])
			} else {
				in, err := io.ReadAll(cmd.InOrStdin())
				if err != nil {
					return fmt.Errorf("failed to read standard input: %w", err)
				}
				src = bytesSource(in)
			}
			cat, err := storage.LoadCatalogue()
			if err != nil {
				return err
			}
			// The log is opened first, so that the first pass can check
			// each commit's worth of events against it as it goes.
			b, closeB, err := c.backend(cmd)
			if err != nil {
				return err
			}
			defer closeB()
			return appendInput(cmd, cat, b, src)
		},
	}
}

// source reads an input from its start each time it is called.
type source func() (io.ReadCloser, error)

func fileSource(path string) source {
	return func() (io.ReadCloser, error) { return os.Open(path) }
}

func bytesSource(b []byte) source {
	return func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
}

// A commit holds about 1 MB of index entries and 11,000 writes (with the
// default memtables); append plans commits of at most a third of that by
// its own estimate of an event's entries, and halves a commit the store
// still finds too large.
const (
	chunkEvents = 256
	chunkBytes  = 384 << 10
	chunkWrites = 4000
)

// estimate is an event's share of a commit, in bytes and writes, as the
// store counts them (roughly: its index entries).
func estimate(e storage.Event) (size, writes int) {
	size, writes = 600+len(e.ID)+len(e.UserID), 10
	for _, r := range e.ResourceIDs {
		size += len(r) + 80
		writes++
	}
	return size, writes
}

// chunk is a commit's worth of events, with their lines.
type chunk struct {
	events       []storage.Event
	lines        []int
	size, writes int
}

// fits says whether e can join c.
func (c *chunk) fits(e storage.Event) bool {
	size, writes := estimate(e)
	return len(c.events) == 0 ||
		len(c.events) < chunkEvents && c.size+size <= chunkBytes && c.writes+writes <= chunkWrites
}

func (c *chunk) add(e storage.Event, line int) {
	size, writes := estimate(e)
	c.events, c.lines = append(c.events, e), append(c.lines, line)
	c.size, c.writes = c.size+size, c.writes+writes
}

func (c *chunk) reset() { *c = chunk{events: c.events[:0], lines: c.lines[:0]} }

// digest identifies the events of c, so that the second pass over an input
// can tell that it reads what the first one checked.
func (c *chunk) digest() [32]byte {
	h := sha256.New()
	for _, e := range c.events {
		b, _ := json.Marshal(e)
		h.Write(b)
		h.Write([]byte{'\n'})
	}
	return [32]byte(h.Sum(nil))
}

// repeat is an event whose id an event of an earlier commit has.
type repeat struct{ first, later, line int } // event indexes, and the later one's line

// scanEvents calls fn with each valid event of src, its index among them
// and its line, skipping the lines that are not.
func scanEvents(src source, cat *storage.Catalogue, fn func(i, line int, e storage.Event) error) error {
	r, err := src()
	if err != nil {
		return err
	}
	defer r.Close()
	i := 0
	return storage.DecodeJSONLines(r, func(line int, e storage.Event, err error) error {
		if err != nil || cat.Validate(&e) != nil {
			return nil
		}
		i++
		return fn(i-1, line, e)
	})
}

// appendInput appends the events of src and prints a receipt per line. The
// first pass validates every line, checks each commit's worth of events
// against the log (and ids repeated across commits against each other) and
// keeps a digest of each; if anything is wrong nothing is written. The
// second pass reads src again and appends the commits, each only if it
// reads as it did in the first.
func appendInput(cmd *cobra.Command, cat *storage.Catalogue, b eventBackend, src source) error {
	ctx := cmd.Context()
	var problems []lineProblem
	var plans []struct {
		n      int
		digest [32]byte
	}
	var cur chunk
	seen := map[[16]byte]int{} // a hash of org and id -> the first event's index
	var repeats []repeat
	n := 0
	flush := func() error {
		if len(cur.events) == 0 {
			return nil
		}
		if len(problems) == 0 {
			if err := b.checkEvents(ctx, cur.events); err != nil {
				i, ok := conflictIndex(err)
				if !ok || i >= len(cur.lines) {
					return err
				}
				problems = append(problems, lineProblem{cur.lines[i], "id", conflictReason})
			}
		}
		plans = append(plans, struct {
			n      int
			digest [32]byte
		}{len(cur.events), cur.digest()})
		cur.reset()
		return nil
	}
	r, err := src()
	if err != nil {
		return err
	}
	err = storage.DecodeJSONLines(r, func(line int, e storage.Event, err error) error {
		if ps := lineProblems(cat, line, &e, err); len(ps) > 0 {
			problems = append(problems, ps...)
			return nil
		}
		if !cur.fits(e) {
			if err := flush(); err != nil {
				return err
			}
		}
		if e.ID != "" {
			sum := sha256.Sum256([]byte(e.OrganizationID + "\x00" + e.ID))
			k := [16]byte(sum[:16])
			if first, ok := seen[k]; !ok {
				seen[k] = n
			} else if first < n-len(cur.events) {
				repeats = append(repeats, repeat{first, n, line})
			}
		}
		cur.add(e, line)
		n++
		return nil
	})
	r.Close()
	if err == nil {
		err = flush()
	}
	if err != nil {
		return err
	}
	if len(repeats) > 0 && len(problems) == 0 {
		ps, err := checkRepeats(ctx, b, src, cat, repeats)
		if err != nil {
			return err
		}
		problems = append(problems, ps...)
	}
	if len(problems) > 0 {
		slices.SortStableFunc(problems, func(a, b lineProblem) int { return a.line - b.line })
		for _, p := range problems {
			fmt.Fprintln(cmd.ErrOrStderr(), p)
		}
		return &ExitError{Code: ExitDataErr, Err: fmt.Errorf("%d invalid line(s); nothing was written", countLines(problems))}
	}

	// The second pass.
	enc := json.NewEncoder(cmd.OutOrStdout())
	k, recorded := 0, 0 // commits done; the last line recorded
	stop := errors.New("stop")
	var failed error
	cur.reset()
	err = scanEvents(src, cat, func(i, line int, e storage.Event) error {
		if k == len(plans) {
			failed = fmt.Errorf("the input grew after it was checked: the events up to line %d are recorded, those from line %d on "+
				"were not checked and are not appended", recorded, line)
			return stop
		}
		cur.add(e, line)
		if len(cur.events) < plans[k].n {
			return nil
		}
		if cur.digest() != plans[k].digest {
			failed = fmt.Errorf("the input changed after it was checked: the events up to line %d are recorded, those from line %d on are not",
				recorded, cur.lines[0])
			return stop
		}
		done := 0
		err := appendHalving(ctx, b, cur.events, func(from int, rs []storage.Receipt) error {
			for _, r := range rs {
				if err := enc.Encode(receiptDTO(r)); err != nil {
					return err
				}
			}
			done = from + len(rs)
			recorded = cur.lines[done-1]
			return nil
		})
		if err != nil {
			if k == 0 && done == 0 {
				if i, ok := conflictIndex(err); ok && i < len(cur.lines) {
					// A conflict created since the check: refused whole.
					fmt.Fprintln(cmd.ErrOrStderr(), lineProblem{cur.lines[i], "id", conflictReason})
					failed = &ExitError{Code: ExitDataErr, Err: fmt.Errorf("1 conflicting line; nothing was written: %w", storage.ErrConflict)}
				} else {
					failed = fmt.Errorf("nothing was written: %w", err)
				}
				return stop
			}
			failed = fmt.Errorf("the events up to line %d are recorded (their receipts are above), those from line %d on are not: %w",
				recorded, cur.lines[done], err)
			return stop
		}
		k++
		cur.reset()
		return nil
	})
	if failed != nil {
		return failed
	}
	if err != nil {
		return err
	}
	if k < len(plans) {
		return fmt.Errorf("the input shrank after it was checked: the events up to line %d are recorded, the rest are not", recorded)
	}
	return nil
}

// checkRepeats checks each event whose id an event of an earlier commit
// has against that one (the first pass held neither).
func checkRepeats(ctx context.Context, b eventBackend, src source, cat *storage.Catalogue, repeats []repeat) ([]lineProblem, error) {
	want := map[int]*storage.Event{}
	for _, r := range repeats {
		want[r.first], want[r.later] = nil, nil
	}
	err := scanEvents(src, cat, func(i, _ int, e storage.Event) error {
		if _, ok := want[i]; ok {
			want[i] = &e
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	var problems []lineProblem
	for _, r := range repeats {
		first, later := want[r.first], want[r.later]
		if first == nil || later == nil {
			return nil, errors.New("the input changed while it was checked")
		}
		err := b.checkEvents(ctx, []storage.Event{*first, *later})
		if i, ok := conflictIndex(err); ok && i == 1 {
			problems = append(problems, lineProblem{r.line, "id", conflictReason})
		} else if err != nil {
			return nil, err
		}
	}
	return problems, nil
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
	err = storage.DecodeJSONLines(r, func(line int, e storage.Event, err error) error {
		if ps := lineProblems(cat, line, &e, err); len(ps) > 0 {
			problems = append(problems, ps...)
			return nil
		}
		events, lines = append(events, e), append(lines, line)
		return nil
	})
	return events, lines, problems, err
}

// lineProblems is every problem of one line: err, what DecodeJSONLines
// found, and what the catalogue's validation finds in e besides.
func lineProblems(cat *storage.Catalogue, line int, e *storage.Event, err error) (problems []lineProblem) {
	add := func(err error) {
		var ve *storage.ValidationError
		if errors.As(err, &ve) {
			for _, fe := range ve.Errors {
				problems = append(problems, lineProblem{line, fe.Field, fe.Reason})
			}
			return
		}
		problems = append(problems, lineProblem{line, "event", err.Error()})
	}
	if err != nil {
		add(err)
		// Report what else is wrong with the line too, except for the
		// fields the decoder already named; a line that could not be
		// read as an event has nothing else to check.
		var ve *storage.ValidationError
		if errors.As(err, &ve) && !ve.Unreadable {
			seen := map[string]bool{}
			for _, fe := range ve.Errors {
				seen[fe.Field] = true
			}
			if verr := cat.Validate(e); errors.As(verr, &ve) {
				for _, fe := range ve.Errors {
					if !seen[fe.Field] {
						problems = append(problems, lineProblem{line, fe.Field, fe.Reason})
					}
				}
			}
		}
		return problems
	}
	if err := cat.Validate(e); err != nil {
		add(err)
	}
	return problems
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
