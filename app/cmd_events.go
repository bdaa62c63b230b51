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
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
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
			"from that line. A FILE is read three times (to validate, to check, to append) and\n" +
			"never held in memory whole; it must not change meanwhile: a commit that reads\n" +
			"differently from the first time is not written. Standard input, or a FILE that is a\n" +
			"pipe, is held in memory.",
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			src := bytesSource(nil)
			if len(args) == 1 && args[0] != "-" {
				f, err := os.Open(args[0])
				if err != nil {
					return err
				}
				fi, err := f.Stat()
				if err == nil && fi.Mode().IsRegular() {
					f.Close()
					src = fileSource(args[0])
				} else {
					// A pipe (<(…), /dev/stdin, a FIFO) cannot be read twice.
					in, err := io.ReadAll(f)
					f.Close()
					if err != nil {
						return fmt.Errorf("failed to read %s: %w", args[0], err)
					}
					src = bytesSource(in)
				}
			} else {
				if f, ok := cmd.InOrStdin().(*os.File); ok && isTerminal(f) {
					// `append` alone at a prompt would otherwise seem to hang.
					fmt.Fprintln(cmd.ErrOrStderr(), "axiom-audit: reading events as JSON Lines from the terminal; end with Ctrl-D, or give a FILE")
				}
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
			// Every line is validated before the log is opened: an
			// invalid input needs no keychain, and creates no profile.
			plan, err := planInput(src, cat)
			if err != nil {
				return err
			}
			if err := plan.refuse(cmd); err != nil {
				return err
			}
			if plan.events == 0 {
				// Not an error (a producer with nothing to say), but not
				// silence either: a wrong file or an empty pipe shows.
				fmt.Fprintln(cmd.ErrOrStderr(), "axiom-audit: the input holds no events (only blank lines, or nothing); nothing was written")
				return nil
			}
			b, closeB, err := c.backend(cmd)
			if err != nil {
				return err
			}
			defer closeB()
			return appendPlanned(cmd, b, src, plan)
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
// its own estimate of an event's entries, and of at most chunkBody bytes
// of events (a request through the desktop app's API is at most
// MaxRequestBody), and halves a commit the store still finds too large.
const (
	chunkEvents = 256
	chunkBytes  = 384 << 10
	chunkWrites = 4000
	chunkBody   = 8 << 20
)

// estimate is an event's share of a commit, in bytes and writes, as the
// store counts them (roughly: its index entries), and its size as sent.
func estimate(e storage.Event) (size, writes, body int) {
	size, writes = 600+len(e.ID)+len(e.UserID), 10
	for _, r := range e.ResourceIDs {
		size += len(r) + 80
		writes++
	}
	return size, writes, size + len(e.Metadata) + len(e.BeforeState) + len(e.AfterState)
}

// chunk is a commit's worth of events, with their lines.
type chunk struct {
	events             []storage.Event
	lines              []int
	size, writes, body int
}

// fits says whether e can join c.
func (c *chunk) fits(e storage.Event) bool {
	size, writes, body := estimate(e)
	return len(c.events) == 0 || len(c.events) < chunkEvents && c.size+size <= chunkBytes &&
		c.writes+writes <= chunkWrites && c.body+body <= chunkBody
}

func (c *chunk) add(e storage.Event, line int) {
	size, writes, body := estimate(e)
	c.events, c.lines = append(c.events, e), append(c.lines, line)
	c.size, c.writes, c.body = c.size+size, c.writes+writes, c.body+body
}

func (c *chunk) reset() { *c = chunk{events: c.events[:0], lines: c.lines[:0]} }

// digest identifies the events of c, so that a later pass over an input
// can tell that it reads what the first one validated.
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

// inputPlan is what the first pass over an input learns: every problem,
// and the commits its events will go in (their sizes and digests).
type inputPlan struct {
	problems []lineProblem
	chunks   []plannedChunk
	repeats  []repeat
	events   int
}

type plannedChunk struct {
	n      int
	digest [32]byte
}

// planInput reads src once: it validates every line, splits the events
// into commits, and finds the ids that repeat across commits.
func planInput(src source, cat *storage.Catalogue) (inputPlan, error) {
	var p inputPlan
	var cur chunk
	seen := map[[16]byte]int{} // a hash of org and id -> the first event's index
	flush := func() {
		if len(cur.events) > 0 {
			p.chunks = append(p.chunks, plannedChunk{len(cur.events), cur.digest()})
			cur.reset()
		}
	}
	r, err := src()
	if err != nil {
		return p, err
	}
	defer r.Close()
	err = storage.DecodeJSONLines(r, func(line int, e storage.Event, err error) error {
		if ps := lineProblems(cat, line, &e, err); len(ps) > 0 {
			p.problems = append(p.problems, ps...)
			return nil
		}
		if !cur.fits(e) {
			flush()
		}
		if e.ID != "" {
			sum := sha256.Sum256([]byte(e.OrganizationID + "\x00" + e.ID))
			k := [16]byte(sum[:16])
			if first, ok := seen[k]; !ok {
				seen[k] = p.events
			} else if first < p.events-len(cur.events) {
				p.repeats = append(p.repeats, repeat{first, p.events, line})
			}
		}
		cur.add(e, line)
		p.events++
		return nil
	})
	flush()
	return p, err
}

// refuse prints the plan's problems, in line order, and returns the exit
// error; nil when there are none.
func (p *inputPlan) refuse(cmd *cobra.Command) error {
	if len(p.problems) == 0 {
		return nil
	}
	slices.SortStableFunc(p.problems, func(a, b lineProblem) int { return a.line - b.line })
	for _, pr := range p.problems {
		fmt.Fprintln(cmd.ErrOrStderr(), pr)
	}
	what := "invalid line"
	if !slices.ContainsFunc(p.problems, func(pr lineProblem) bool { return !pr.isConflict() }) {
		// Valid events whose ids clash: not invalid, and the fix differs.
		what = "conflicting line"
	}
	return &ExitError{Code: ExitDataErr, Err: fmt.Errorf("%s; nothing was written", count(int64(countLines(p.problems)), what))}
}

// appendInput validates, checks and appends the events of src (tests;
// the command validates before it opens the log).
func appendInput(cmd *cobra.Command, cat *storage.Catalogue, b eventBackend, src source) error {
	plan, err := planInput(src, cat)
	if err != nil {
		return err
	}
	if err := plan.refuse(cmd); err != nil || plan.events == 0 {
		return err
	}
	return appendPlanned(cmd, b, src, plan)
}

// errChanged stops a pass over an input that no longer reads as the first
// pass read it.
var errChanged = errors.New("the input changed after it was validated")

// eachChunk reads src again and calls fn with each planned commit's
// events (first: the index of its first event in the input), after
// checking that they are those the plan was made of.
func eachChunk(src source, plan inputPlan, fn func(first int, c *chunk) error) error {
	r, err := src()
	if err != nil {
		return err
	}
	defer r.Close()
	var cur chunk
	k, i := 0, 0
	err = storage.DecodeJSONLines(r, func(line int, e storage.Event, err error) error {
		if err != nil || k == len(plan.chunks) {
			return errChanged
		}
		cur.add(e, line)
		i++
		if len(cur.events) < plan.chunks[k].n {
			return nil
		}
		if cur.digest() != plan.chunks[k].digest {
			return errChanged
		}
		if err := fn(i-len(cur.events), &cur); err != nil {
			return err
		}
		k++
		cur.reset()
		return nil
	})
	if err == nil && k < len(plan.chunks) {
		err = errChanged
	}
	return err
}

// appendPlanned checks the planned commits against the log (every id
// recorded, or repeated across commits, with other content), and if all
// pass appends them in order, printing a receipt per line.
func appendPlanned(cmd *cobra.Command, b eventBackend, src source, plan inputPlan) error {
	ctx := cmd.Context()
	problems, err := checkPlanned(ctx, b, src, plan)
	if errors.Is(err, errChanged) {
		return fmt.Errorf("%w; nothing was written", err)
	}
	if err != nil {
		return err
	}
	if len(problems) > 0 {
		p := inputPlan{problems: problems}
		return p.refuse(cmd)
	}

	// Ctrl-C or SIGTERM stops the append between two commits (the one
	// under way finishes) and says where it stopped, rather than end the
	// process with no word of what is recorded.
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(stop)
	enc := json.NewEncoder(cmd.OutOrStdout())
	recorded := 0 // the last line recorded
	// notAppended says what is recorded and what not; line is the first
	// line not appended, when it is known (else 0).
	notAppended := func(line int, err error) error {
		var u *unanswered
		if errors.As(err, &u) {
			return u.explain(recorded, err)
		}
		switch {
		case recorded == 0:
			return fmt.Errorf("nothing was written: %w", err)
		case line == 0:
			return fmt.Errorf("the events up to line %d are recorded (their receipts are above), those after it are not: %w", recorded, err)
		}
		return fmt.Errorf("the events up to line %d are recorded (their receipts are above), those from line %d on are not: %w",
			recorded, line, err)
	}
	err = eachChunk(src, plan, func(_ int, c *chunk) error {
		select {
		case sig := <-stop:
			return notAppended(c.lines[0], fmt.Errorf("interrupted (%v): append the input again from line %d", sig, c.lines[0]))
		default:
		}
		done := 0
		err := appendHalving(ctx, b, c.events, func(from int, rs []storage.Receipt) error {
			done = from + len(rs)
			recorded = c.lines[done-1]
			for _, r := range rs {
				if err := enc.Encode(receiptDTO(r)); err != nil {
					return fmt.Errorf("the events up to line %d are recorded, but their receipts could not be printed: %w", recorded, err)
				}
			}
			return nil
		})
		if err == nil || done == len(c.events) {
			return err
		}
		if i, ok := conflictIndex(err); ok && done+i < len(c.lines) {
			// A conflict created since the check: its commit (from the
			// part that failed, done events in) is refused whole.
			line := c.lines[done+i]
			fmt.Fprintln(cmd.ErrOrStderr(), lineProblem{line, "id", conflictReason})
			if recorded == 0 {
				return &ExitError{Code: ExitDataErr, Err: fmt.Errorf("1 conflicting line; nothing was written: %w", storage.ErrConflict)}
			}
			return &ExitError{Code: ExitDataErr, Err: fmt.Errorf("the events up to line %d are recorded (their receipts are above), those from line %d on are not: line %d conflicts, recorded meanwhile by another producer: %w",
				recorded, c.lines[done], line, storage.ErrConflict)}
		}
		var u *unanswered
		if errors.As(err, &u) {
			u.first, u.last = c.lines[u.from], c.lines[u.from+u.n-1]
		}
		return notAppended(c.lines[done], err)
	})
	if errors.Is(err, errChanged) {
		return notAppended(0, err)
	}
	return err
}

// checkPlanned checks the planned commits against the log and returns a
// problem for each line that conflicts, named as one check of the whole
// input would name it (Store.CheckConflicts): a line whose id is recorded
// with other content, or whose id an earlier line has with other content,
// where an earlier line that conflicts itself does not count (a repeat of
// it is held against the log).
//
// Each commit is checked in one request, or in parts if it is too large
// for one. A part, or a commit, does not know the lines of its ids in
// other parts or commits, so the lines of an id that appears in more than
// one are judged again, together, once every commit is checked.
func checkPlanned(ctx context.Context, b eventBackend, src source, plan inputPlan) ([]lineProblem, error) {
	var problems []lineProblem
	report := func(line, earlierLine int) {
		reason := conflictReason
		if earlierLine > 0 {
			reason = repeatReason(earlierLine)
		}
		problems = append(problems, lineProblem{line, "id", reason})
	}
	acrossCommits := map[int]bool{} // the events of ids that appear in more than one commit
	for _, r := range plan.repeats {
		acrossCommits[r.first], acrossCommits[r.later] = true, true
	}
	spread := map[string][]occurrence{} // their lines, and those of ids that appear in more than one part, by id
	var spreadOrder []string
	err := eachChunk(src, plan, func(first int, c *chunk) error {
		parts, conflicts, err := checkParts(ctx, b, c.events)
		if err != nil {
			return err
		}
		keys := make([]string, len(c.events))
		partOfKey := map[string]int{}
		isSpread := map[string]bool{}
		firstInPart := make([]bool, len(c.events)) // the first of its id in its part
		for j, e := range c.events {
			if e.ID == "" {
				continue
			}
			k := e.OrganizationID + "\x00" + e.ID
			keys[j] = k
			if acrossCommits[first+j] || spread[k] != nil {
				isSpread[k] = true
			}
			p := parts.of(j)
			if q, ok := partOfKey[k]; !ok || q != p {
				firstInPart[j] = true
				if ok {
					isSpread[k] = true
				}
			}
			partOfKey[k] = p
		}
		for j := range c.events {
			k := keys[j]
			if !isSpread[k] {
				// All its lines are in this part: the part's answer is
				// the whole input's.
				if earlier, ok := conflicts[j]; ok {
					el := 0
					if earlier >= 0 {
						el = c.lines[earlier]
					}
					report(c.lines[j], el)
				}
				continue
			}
			o := occurrence{line: c.lines[j], ev: c.events[j]}
			if firstInPart[j] {
				// Its part held it against the log alone.
				earlier, ok := conflicts[j]
				o.logChecked, o.logConflict = true, ok && earlier < 0
			}
			if spread[k] == nil {
				spreadOrder = append(spreadOrder, k)
			}
			spread[k] = append(spread[k], o)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if err := checkSpread(ctx, b, spread, spreadOrder, report); err != nil {
		return nil, err
	}
	return problems, nil
}

// occurrence is a line of an id that appears in more than one part or
// commit of an input.
type occurrence struct {
	line                    int
	ev                      storage.Event
	logChecked, logConflict bool // held against the log: whether it conflicts
}

// checkSpread judges the lines of each id of spread (ids, in order) as
// one check of the whole input would: those before the first that does not
// conflict with the log are each held against the log; the later ones
// against that first. The ids are judged together, in a few requests
// whatever their number (an input that is a batch twice repeats every id).
func checkSpread(ctx context.Context, b eventBackend, spread map[string][]occurrence, ids []string, report func(line, earlierLine int)) error {
	// Each id's first line that does not conflict with the log: the lines
	// whose commit's check did not hold them against the log are checked
	// in rounds, one line of each id a round, all in one request.
	first := map[string]int{}
	next := map[string]int{}
	for pending := ids; len(pending) > 0; {
		var ask []string
		for _, k := range pending {
			occ, n := spread[k], next[k]
			for n < len(occ) && occ[n].logChecked && occ[n].logConflict {
				report(occ[n].line, 0)
				n++
			}
			next[k] = n
			switch {
			case n == len(occ): // every line conflicts with the log
			case occ[n].logChecked:
				first[k] = n
			default:
				ask = append(ask, k)
			}
		}
		if len(ask) == 0 {
			break
		}
		evs := make([]storage.Event, len(ask))
		for i, k := range ask {
			evs[i] = spread[k][next[k]].ev
		}
		// One line of each id: each is held against the log alone.
		conflicts := map[int]bool{}
		err := inHalves(evs, func(from int, part []storage.Event) error {
			cs, err := b.checkConflicts(ctx, part)
			for _, c := range cs {
				conflicts[from+c.Index] = true
			}
			return err
		})
		if err != nil {
			return err
		}
		for i, k := range ask {
			o := &spread[k][next[k]]
			o.logChecked, o.logConflict = true, conflicts[i]
		}
		pending = ask
	}
	// The later lines of each id against its first, every id's in one
	// request: ids are independent in a check.
	var groups [][]occurrence
	for _, k := range ids {
		if n, ok := first[k]; ok && n < len(spread[k])-1 {
			groups = append(groups, spread[k][n:])
		}
	}
	return checkGroups(ctx, b, groups, report)
}

// checkGroups checks groups of lines of one id each, the first of each not
// conflicting with the log, and reports each later line that does not
// have its group's first's content. A request too large is split between
// groups, and a group too large for one into pairs with its first (a pair
// always fits: an event is at most 1 MiB, a request 32 MiB).
func checkGroups(ctx context.Context, b eventBackend, groups [][]occurrence, report func(line, earlierLine int)) error {
	if len(groups) == 0 {
		return nil
	}
	var evs []storage.Event
	var lines []int // the line of each event of evs
	var head []int  // the index in evs of each event's group's first
	for _, g := range groups {
		h := len(evs)
		for _, o := range g {
			evs = append(evs, o.ev)
			lines = append(lines, o.line)
			head = append(head, h)
		}
	}
	cs, err := b.checkConflicts(ctx, evs)
	if errors.Is(err, storage.ErrBatchTooLarge) {
		if len(groups) > 1 {
			h := len(groups) / 2
			if err := checkGroups(ctx, b, groups[:h], report); err != nil {
				return err
			}
			return checkGroups(ctx, b, groups[h:], report)
		}
		g := groups[0]
		if len(g) == 2 {
			return err
		}
		for _, o := range g[1:] {
			if err := checkGroups(ctx, b, [][]occurrence{{g[0], o}}, report); err != nil {
				return err
			}
		}
		return nil
	}
	if err != nil {
		return err
	}
	for _, c := range cs {
		switch {
		case c.Index == head[c.Index]:
			// A group's first, recorded with other content since it was
			// checked: appending will say so.
		case c.Earlier >= 0:
			report(lines[c.Index], lines[c.Earlier])
		default:
			report(lines[c.Index], 0)
		}
	}
	return nil
}

// partStarts are the first indexes of the parts a commit was checked in,
// in order.
type partStarts []int

// of is the part of the event at index i.
func (ps partStarts) of(i int) int {
	p, ok := slices.BinarySearch(ps, i)
	if !ok {
		p--
	}
	return p
}

// checkParts checks events as one commit would be, or in parts if they
// are too many for one request. It returns the parts' first indexes and
// each conflicting event's index with that of the earlier event of its
// part that it repeats with other content, or -1 when its id is recorded
// in the log with other content.
func checkParts(ctx context.Context, b eventBackend, events []storage.Event) (partStarts, map[int]int, error) {
	var parts partStarts
	conflicts := map[int]int{}
	err := inHalves(events, func(from int, evs []storage.Event) error {
		cs, err := b.checkConflicts(ctx, evs)
		if err != nil {
			return err
		}
		parts = append(parts, from)
		for _, c := range cs {
			earlier := c.Earlier
			if earlier >= 0 {
				earlier += from
			}
			conflicts[from+c.Index] = earlier
		}
		return nil
	})
	return parts, conflicts, err
}

// appendHalving appends events in one commit, or, if the store finds them
// too many for one, in halves, calling done with each commit's first index
// and receipts.
func appendHalving(ctx context.Context, b eventBackend, events []storage.Event, done func(from int, rs []storage.Receipt) error) error {
	return inHalves(events, func(from int, evs []storage.Event) error {
		rs, err := b.appendEvents(ctx, evs)
		if errors.Is(err, ErrNoAnswer) {
			return &unanswered{from: from, n: len(evs), err: err}
		}
		if err != nil {
			return err
		}
		return done(from, rs)
	})
}

// unanswered is a commit of events[from:from+n] that was sent to the
// desktop app (or serve) and not answered: it may or may not be recorded.
type unanswered struct {
	from, n     int
	first, last int // its input lines, once known
	err         error
}

func (u *unanswered) Error() string { return u.err.Error() }
func (u *unanswered) Unwrap() error { return u.err }

// explain says what is recorded, what may be and what is not, and how to
// go on without duplicating events.
func (u *unanswered) explain(recorded int, err error) error {
	before := "no event before them is recorded"
	if recorded > 0 {
		before = fmt.Sprintf("the events up to line %d are recorded (their receipts are above)", recorded)
	}
	return fmt.Errorf("lines %d to %d were sent as one commit and not answered, so they may or may not be recorded; %s, "+
		"and those after line %d are not. Appending again is safe for lines with an id (a recorded one answers its receipt); "+
		"look for the others (query) before appending them again: %w", u.first, u.last, before, u.last, err)
}

// inHalves calls do with events, and again with each half of any part it
// answers ErrBatchTooLarge for (a request refused as too large wrote
// nothing), in order; from is the part's index in events.
func inHalves(events []storage.Event, do func(from int, evs []storage.Event) error) error {
	var run func(from int, evs []storage.Event) error
	run = func(from int, evs []storage.Event) error {
		err := do(from, evs)
		if errors.Is(err, storage.ErrBatchTooLarge) && len(evs) > 1 {
			h := len(evs) / 2
			if err := run(from, evs[:h]); err != nil {
				return err
			}
			return run(from+h, evs[h:])
		}
		return err
	}
	return run(0, events)
}

// lineProblem is one problem of one input line.
type lineProblem struct {
	line   int
	field  string
	reason string
}

// isConflict reports whether p is an id recorded, or repeated in the
// input, with different content.
func (p lineProblem) isConflict() bool {
	return p.field == "id" && (p.reason == conflictReason || strings.HasPrefix(p.reason, "repeats the id of line "))
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
			if verr := validateProduced(cat, e); errors.As(verr, &ve) {
				for _, fe := range ve.Errors {
					if !seen[fe.Field] {
						problems = append(problems, lineProblem{line, fe.Field, fe.Reason})
					}
				}
			}
		}
		return problems
	}
	if err := validateProduced(cat, e); err != nil {
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

// CheckDTO is the answer of POST /api/operations/events/check: every
// event would be appended.
type CheckDTO struct {
	Checked int `json:"checked"`
}

func receiptDTO(r storage.Receipt) ReceiptDTO {
	return ReceiptDTO{ID: r.ID, OrganizationID: r.OrganizationID, Seq: r.Seq, RecordedAt: formatTime(r.RecordedAt)}
}

// queryFlags are the timeline filter flags shared by query, export and
// report.
type queryFlags struct {
	org, since, until, resource, text, order               string
	categories, actions, providers, users, statuses, risks []string
}

func (q *queryFlags) register(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&q.org, "org", "", "organization `ID` (required)")
	f.StringVar(&q.since, "since", "", "from `TIME` (RFC 3339, or a duration back from now: 15m, 24h, 7d)")
	f.StringVar(&q.until, "until", "", "before `TIME` (RFC 3339 or a duration back from now)")
	f.StringArrayVar(&q.categories, "category", nil, "only this `CATEGORY` (repeatable)")
	f.StringArrayVar(&q.actions, "action", nil, "only this action `TYPE` (repeatable)")
	f.StringArrayVar(&q.providers, "provider", nil, "aws, azure, gcp or system (repeatable: any of them)")
	f.StringArrayVar(&q.users, "user", nil, "only events by this user `ID` (repeatable)")
	f.StringArrayVar(&q.statuses, "status", nil, "pending, applied, failed or rolled_back (repeatable)")
	f.StringArrayVar(&q.risks, "risk", nil, "low, medium or high (repeatable)")
	f.StringVar(&q.resource, "resource", "", "only events touching resource `ID` (a trailing * matches a prefix)")
	f.StringVar(&q.text, "text", "", "free text: every word, and every \"quoted phrase\" whole, is a case-insensitive substring of some public field or metadata value")
	f.StringVar(&q.order, "order", "newest", "newest or oldest first")
}

func (q *queryFlags) dto(now time.Time) (QueryDTO, error) {
	if q.org == "" {
		return QueryDTO{}, &RequestError{Field: "--org", Reason: "is required"}
	}
	d := QueryDTO{Org: q.org, Categories: q.categories, ActionTypes: q.actions, Providers: q.providers, UserIDs: q.users,
		Statuses: q.statuses, RiskLevels: q.risks, Text: q.text, Order: q.order}
	var err error
	for _, l := range []struct {
		flag string
		vs   []string
	}{{"--category", q.categories}, {"--action", q.actions}, {"--provider", q.providers}, {"--user", q.users},
		{"--status", q.statuses}, {"--risk", q.risks}} {
		if slices.Contains(l.vs, "") {
			return d, &RequestError{Field: l.flag, Reason: "is empty: leave it out for no filter, or give a value"}
		}
	}
	if d.Since, err = cliTime("--since", q.since, now); err != nil {
		return d, err
	}
	if d.Until, err = cliTime("--until", q.until, now); err != nil {
		return d, err
	}
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
	return "", &RequestError{Field: flag, Reason: fmt.Sprintf("%q is neither an RFC 3339 time (2026-09-30T12:00:00Z) nor a duration like 15m, 24h or 7d (at most 36500d)", s)}
}

func parseAgo(s string) (time.Duration, bool) {
	// Digits first: no sign (a duration back from now is positive).
	if s == "" || s[0] < '0' || s[0] > '9' {
		return 0, false
	}
	if n, ok := strings.CutSuffix(s, "d"); ok {
		days, err := strconv.Atoi(n)
		if err != nil || days <= 0 || days > maxAgoDays {
			return 0, false
		}
		return time.Duration(days) * 24 * time.Hour, true
	}
	d, err := time.ParseDuration(s)
	return d, err == nil && d > 0 && d <= maxAgoDays*24*time.Hour
}

// maxAgoDays bounds a duration in any unit: a century.
const maxAgoDays = 36500

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
			// The table's columns are sized by the header and the first
			// page, and only widen after it, so memory stays at one page.
			// TIME is as wide as a timestamp can be, SEQ as the
			// organization's newest seq and ID as a UUID, so that those
			// never widen (seqs grow from page to page, oldest first). The
			// ID is what prove and the app's search take.
			var table *columns
			var enc *json.Encoder
			if format == "table" {
				seqWidth := 0
				if orgs, err := b.organizations(cmd.Context()); err == nil {
					for _, o := range orgs {
						if o.ID == d.Org {
							seqWidth = len(strconv.FormatUint(o.Size, 10))
						}
					}
				}
				table = newColumns(out, storage.MaxLimit+1, len("2006-01-02T15:04:05.000000000Z"), seqWidth, len("01900000-0000-7000-8000-000000000000"))
			} else {
				enc = json.NewEncoder(out)
			}
			// The header comes with the first page, so that a refused
			// query prints nothing on stdout.
			header := func() error {
				if table != nil {
					return table.row("TIME", "SEQ", "ID", "ACTION", "USER", "PROVIDER", "STATUS", "RISK", "RESOURCES")
				}
				return nil
			}
			n, sealed := 0, 0
			more, err := eachEvent(cmd.Context(), b, d, limit, func(e EventDTO) error {
				if e.StatesSealed {
					sealed++
				}
				if n++; n == 1 {
					if err := header(); err != nil {
						return err
					}
				}
				if enc != nil {
					return enc.Encode(e)
				}
				return table.row(e.Timestamp, strconv.FormatUint(e.Seq, 10), e.ID, e.ActionType, e.UserID,
					e.Provider, e.Status, e.RiskLevel, strings.Join(e.ResourceIDs, ","))
			})
			if err == nil && table != nil {
				err = table.flush()
			}
			if err != nil {
				return flagError(err)
			}
			if sealed > 0 && enc != nil {
				// Null states would otherwise read as events without any.
				fmt.Fprintf(cmd.ErrOrStderr(), "axiom-audit: warning: the states of %s could not be decrypted (statesSealed): "+
					"their keys are not at hand; when a key-encryption key is missing from the keychain, "+
					"'axiom-audit verify --org %s' names it\n", count(int64(sealed), "printed event"), d.Org)
			}
			if more {
				// On stderr, so that stdout stays the events alone.
				first := "the first " + count(int64(limit), "matching event")
				if limit == 1 {
					first = "the first matching event"
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "axiom-audit: printed %s; more match "+
					"(--limit N prints N, --limit 0 all)\n", first)
			}
			if n == 0 {
				// No events: say so when the organization has none at
				// all (a typo), as verify and checkpoint do.
				// Or has lost them: its integrity alert says so (exit 1).
				if _, err := b.latestCheckpoint(cmd.Context(), d.Org); errors.Is(err, storage.ErrNotFound) {
					return notFound("no organization %q in this profile", d.Org)
				} else if errors.Is(err, storage.ErrIntegrityAlert) {
					return problemExit(err)
				}
				// On stderr, so that stdout stays the events alone.
				fmt.Fprintf(cmd.ErrOrStderr(), "axiom-audit: no events of %s match\n", d.Org)
				if err := header(); err != nil || table == nil {
					return err
				}
				return table.flush()
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
// (0: all), and reports whether more matched. Memory stays at one page.
func eachEvent(ctx context.Context, a eventBackend, q QueryDTO, limit int, fn func(EventDTO) error) (more bool, err error) {
	n := 0
	for {
		q.Limit = storage.MaxLimit
		if limit > 0 && limit-n+1 < q.Limit {
			q.Limit = limit - n + 1 // one more, to tell whether the limit cut
		}
		page, err := a.listEvents(ctx, q)
		if err != nil {
			return false, err
		}
		for _, e := range page.Events {
			if limit > 0 && n == limit {
				return true, nil
			}
			if err := fn(e); err != nil {
				return false, err
			}
			n++
		}
		if page.NextCursor == "" {
			return false, nil
		}
		q.Cursor = page.NextCursor
	}
}

func (c *cli) keysCommand() *cobra.Command {
	keys := &cobra.Command{Use: "keys", Short: "Manage the encryption keys of organizations"}
	var org string
	rotate := &cobra.Command{
		Use:   "rotate --org ORG",
		Short: "Start a new data key for ORG's states and a new key-encryption key that re-wraps the old ones (records are not rewritten)",
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
			rot, err := b.rotateDataKey(cmd.Context(), org)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "organization %s now seals new states with data key %d\n", org, rot.KeyID)
			fmt.Fprintf(cmd.OutOrStdout(), "a new key-encryption key, %q in the profile's keystore, wraps it and re-wraps %s; "+
				"old records keep their keys and are not rewritten\n", rot.KeyEncryptionKey, count(int64(rot.RewrappedKeys), "earlier data key"))
			return nil
		},
	}
	rotate.Flags().StringVar(&org, "org", "", "organization `ID`")
	keys.AddCommand(rotate)
	return keys
}
