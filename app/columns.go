package app

import (
	"io"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/rivo/uniseg"
)

// columns writes rows of cells aligned in columns, two spaces apart, as
// text/tabwriter does, for output too long to hold: the first hold rows are
// kept to size the columns, and every later row is written at once, padded
// to the widths so far. A later cell wider than its column widens it from
// that row on, so columns never move left; minimum widths (a column whose
// widest value is known beforehand) keep that from happening at all.
//
// Cells are written as they read, except for control and format
// characters, which are escaped (\n, \x1b, \u202e): a value that holds a
// newline or a terminal escape must not draw a row of its own, nor move
// the cursor over what was written.
type columns struct {
	w      io.Writer
	hold   int
	rows   [][]string
	widths []int
	held   bool // the first rows were written
}

// newColumns holds hold rows before it writes any; min are the columns'
// minimum widths, from the first.
func newColumns(w io.Writer, hold int, min ...int) *columns {
	return &columns{w: w, hold: hold, widths: min}
}

// row adds a row.
func (c *columns) row(cells ...string) error {
	cells = slices.Clone(cells)
	for i, cell := range cells {
		cell = printable(cell)
		cells[i] = cell
		n := displayWidth(cell)
		if i == len(c.widths) {
			c.widths = append(c.widths, n)
		} else if n > c.widths[i] {
			c.widths[i] = n
		}
	}
	if c.held {
		return c.write(cells)
	}
	c.rows = append(c.rows, cells)
	if len(c.rows) >= c.hold {
		return c.flush()
	}
	return nil
}

// flush writes the rows held so far; later rows are written as they come.
func (c *columns) flush() error {
	c.held = true
	rows := c.rows
	c.rows = nil
	for _, r := range rows {
		if err := c.write(r); err != nil {
			return err
		}
	}
	return nil
}

func (c *columns) write(cells []string) error {
	var b strings.Builder
	for i, cell := range cells {
		b.WriteString(cell)
		if i < len(cells)-1 {
			b.WriteString(strings.Repeat(" ", c.widths[i]-displayWidth(cell)+2))
		}
	}
	b.WriteByte('\n')
	_, err := io.WriteString(c.w, b.String())
	return err
}

// displayWidth is the number of terminal columns s takes, as a terminal
// draws it: by grapheme cluster (UAX #29), two columns for an East Asian
// wide or fullwidth character or an emoji (with its modifiers and
// variation selectors), none for a combining mark (rivo/uniseg's
// StringWidth). Control and format characters are escaped before, by
// printable.
func displayWidth(s string) int { return uniseg.StringWidth(s) }

// printable is cell with its control characters (C0, DEL, C1), format
// characters (such as the bidirectional overrides), the line and
// paragraph separators (U+2028, U+2029, which break a line in some
// terminals and pagers) and invalid UTF-8 escaped as Go writes them in a
// quoted string; the rest as it is.
func printable(cell string) string {
	escape := func(r rune) bool {
		return r == utf8.RuneError || unicode.IsControl(r) || unicode.In(r, unicode.Cf, unicode.Zl, unicode.Zp)
	}
	if !strings.ContainsFunc(cell, escape) {
		return cell
	}
	var b strings.Builder
	for i, r := range cell {
		switch {
		case r == utf8.RuneError:
			if _, n := utf8.DecodeRuneInString(cell[i:]); n == 1 {
				b.WriteString(`\x` + strconv.FormatUint(uint64(cell[i]), 16))
				continue
			}
			b.WriteRune(r)
		case escape(r):
			q := strconv.QuoteRuneToASCII(r)
			b.WriteString(q[1 : len(q)-1])
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}
