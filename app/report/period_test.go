package report

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestParsePeriod(t *testing.T) {
	d := func(s string) time.Time {
		t.Helper()
		v, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	for _, tc := range []struct {
		in           string
		since, until string
		slug         string
	}{
		{"2026-Q3", "2026-07-01T00:00:00Z", "2026-10-01T00:00:00Z", "2026-Q3"},
		{"2026-Q4", "2026-10-01T00:00:00Z", "2027-01-01T00:00:00Z", "2026-Q4"},
		{"2026-Q1", "2026-01-01T00:00:00Z", "2026-04-01T00:00:00Z", "2026-Q1"},
		{"2026-09", "2026-09-01T00:00:00Z", "2026-10-01T00:00:00Z", "2026-09"},
		{"2026-12", "2026-12-01T00:00:00Z", "2027-01-01T00:00:00Z", "2026-12"},
		{"2026-07-01..2026-09-30", "2026-07-01T00:00:00Z", "2026-10-01T00:00:00Z", "2026-07-01_2026-09-30"},
		{"2026-09-30..2026-09-30", "2026-09-30T00:00:00Z", "2026-10-01T00:00:00Z", "2026-09-30_2026-09-30"},
		{"2026-07-01T08:00:00Z..2026-07-02T08:00:00Z", "2026-07-01T08:00:00Z", "2026-07-02T08:00:00Z", "2026-07-01T080000Z_2026-07-02T080000Z"},
		{"2026-07-01T10:00:00+02:00..2026-07-03", "2026-07-01T08:00:00Z", "2026-07-04T00:00:00Z", "2026-07-01T1000000200_2026-07-03"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			p, err := ParsePeriod(tc.in)
			if err != nil {
				t.Fatalf("ParsePeriod: %v", err)
			}
			if !p.Since.Equal(d(tc.since)) || !p.Until.Equal(d(tc.until)) || p.Label != tc.in {
				t.Errorf("got [%s, %s) %q, want [%s, %s)", p.Since, p.Until, p.Label, tc.since, tc.until)
			}
			if p.Since.Location() != time.UTC || p.Until.Location() != time.UTC {
				t.Errorf("times are not UTC: %v %v", p.Since.Location(), p.Until.Location())
			}
			if got := p.Slug(); got != tc.slug {
				t.Errorf("Slug = %q, want %q", got, tc.slug)
			}
		})
	}
}

func TestParsePeriod_Errors(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", "is empty"},
		{"2026-Q5", "not a quarter, a month or a range"},
		{"2026-Q0", "not a quarter, a month or a range"},
		{"2026-13", "month 13"},
		{"2026-00", "month 00"},
		{"Q3 2026", "not a quarter, a month or a range"},
		{"2026", "not a quarter, a month or a range"},
		{"2026-9", "not a quarter, a month or a range"},
		{"2026-07-01..", "end that is missing"},
		{"..2026-07-01", "start that is missing"},
		{"2026-02-30..2026-03-01", "not a valid date"},
		{"2026-09-30..2026-07-01", "ends before it starts"},
		{"2026-07-01T00:00:00Z..2026-07-01T00:00:00Z", "ends before it starts"},
		{"yesterday..today", "neither a date"},
		{"2026-07-01 00:00..2026-07-02", "neither a date"},
		{"0000-01-01..1000-01-01", "longer than 100 years"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			_, err := ParsePeriod(tc.in)
			if err == nil {
				t.Fatal("ParsePeriod accepted it")
			}
			if !errors.Is(err, ErrPeriod) {
				t.Errorf("error %v does not wrap ErrPeriod", err)
			}
			if !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "2026-Q3, 2026-09") {
				t.Errorf("error %q should say %q and list the accepted forms", err, tc.want)
			}
		})
	}
}

// FuzzParsePeriod: any input either fails with ErrPeriod or gives a
// non-empty UTC range whose label is the input.
func FuzzParsePeriod(f *testing.F) {
	for _, s := range []string{"2026-Q3", "2026-09", "2026-07-01..2026-09-30", "2026-07-01T08:00:00Z..2026-07-02T08:00:00+02:00", "..", "2026-Q", "9999-12"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParsePeriod(s)
		if err != nil {
			if !errors.Is(err, ErrPeriod) {
				t.Fatalf("%q: error %v does not wrap ErrPeriod", s, err)
			}
			return
		}
		if !p.Until.After(p.Since) || p.Since.Location() != time.UTC || p.Until.Location() != time.UTC {
			t.Fatalf("%q: [%s, %s)", s, p.Since, p.Until)
		}
		if p.Label != strings.TrimSpace(s) || p.Days() < 1 {
			t.Fatalf("%q: label %q, %d days", s, p.Label, p.Days())
		}
	})
}
