package report

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// ErrPeriod: a period that is not 2026-Q3, 2026-09 or FROM..TO.
var ErrPeriod = errors.New("invalid period")

// Period is the half-open time range [Since, Until) a report covers, in UTC,
// and the label it was given ("2026-Q3", "2026-09", "2026-07-01..2026-09-30").
type Period struct {
	Label string
	Since time.Time
	Until time.Time
}

var (
	quarterPattern = regexp.MustCompile(`^([0-9]{4})-Q([1-4])$`)
	monthPattern   = regexp.MustCompile(`^([0-9]{4})-([0-9]{2})$`)
	datePattern    = regexp.MustCompile(`^[0-9]{4}-[0-9]{2}-[0-9]{2}$`)
)

// maxYears bounds a range: longer ones are typos, and durations overflow
// at about 292 years.
const maxYears = 100

// ParsePeriod reads a quarter ("2026-Q3"), a month ("2026-09") or a range
// "FROM..TO" whose ends are dates (TO inclusive: the whole day) or RFC 3339
// times (TO exclusive). Times are UTC. The error wraps ErrPeriod and says
// which forms are accepted.
func ParsePeriod(s string) (Period, error) {
	bad := func(reason string) (Period, error) {
		return Period{}, fmt.Errorf("%w: %q %s (use 2026-Q3, 2026-09, or FROM..TO with dates such as 2026-07-01..2026-09-30 or RFC 3339 times)", ErrPeriod, s, reason)
	}

	s = strings.TrimSpace(s)
	if s == "" {
		return bad("is empty")
	}
	if m := quarterPattern.FindStringSubmatch(s); m != nil {
		y, _ := strconv.Atoi(m[1])
		q, _ := strconv.Atoi(m[2])
		since := time.Date(y, time.Month(3*(q-1)+1), 1, 0, 0, 0, 0, time.UTC)
		return Period{Label: s, Since: since, Until: since.AddDate(0, 3, 0)}, nil
	}
	if m := monthPattern.FindStringSubmatch(s); m != nil {
		y, _ := strconv.Atoi(m[1])
		mo, _ := strconv.Atoi(m[2])
		if mo < 1 || mo > 12 {
			return bad(fmt.Sprintf("has month %02d, which is not 01 to 12", mo))
		}
		since := time.Date(y, time.Month(mo), 1, 0, 0, 0, 0, time.UTC)
		return Period{Label: s, Since: since, Until: since.AddDate(0, 1, 0)}, nil
	}
	from, to, ok := strings.Cut(s, "..")
	if !ok {
		return bad("is not a quarter, a month or a range")
	}
	since, err := periodEnd(from, false)
	if err != nil {
		return bad(fmt.Sprintf("has a start that %v", err))
	}
	until, err := periodEnd(to, true)
	if err != nil {
		return bad(fmt.Sprintf("has an end that %v", err))
	}
	if !until.After(since) {
		return bad("ends before it starts")
	}
	if until.After(since.AddDate(maxYears, 0, 0)) {
		return bad(fmt.Sprintf("is longer than %d years", maxYears))
	}

	return Period{Label: s, Since: since, Until: until}, nil
}

// periodEnd parses one end of a range. A date as the end of a range means
// the whole of that day, so its exclusive bound is the next midnight.
func periodEnd(s string, end bool) (time.Time, error) {
	if s == "" {
		return time.Time{}, errors.New("is missing")
	}
	if datePattern.MatchString(s) {
		d, err := time.Parse("2006-01-02", s)
		if err != nil {
			return time.Time{}, fmt.Errorf("is not a valid date (%q)", s)
		}
		if end {
			d = d.AddDate(0, 0, 1)
		}
		return d, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("is neither a date (2026-07-01) nor an RFC 3339 time (2026-07-01T00:00:00Z): %q", s)
	}
	return t.UTC(), nil
}

// Slug is the label made safe for a folder name.
func (p Period) Slug() string {
	r := strings.NewReplacer(":", "", "..", "_", "/", "-", " ", "", "+", "")
	return r.Replace(p.Label)
}

// Days is how many whole or partial days the period spans.
func (p Period) Days() int {
	return int((p.Until.Sub(p.Since) + 24*time.Hour - 1) / (24 * time.Hour))
}
