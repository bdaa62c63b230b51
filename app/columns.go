package app

import (
	"io"
	"strings"
	"unicode/utf8"
)

// columns writes rows of cells aligned in columns, two spaces apart, as
// text/tabwriter does, for output too long to hold: the first hold rows are
// kept to size the columns, and every later row is written at once, padded
// to the widths so far. A later cell wider than its column widens it from
// that row on, so columns never move left; minimum widths (a column whose
// widest value is known beforehand) keep that from happening at all. Cells
// hold no newline.
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
	for i, cell := range cells {
		n := utf8.RuneCountInString(cell)
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
			b.WriteString(strings.Repeat(" ", c.widths[i]-utf8.RuneCountInString(cell)+2))
		}
	}
	b.WriteByte('\n')
	_, err := io.WriteString(c.w, b.String())
	return err
}
