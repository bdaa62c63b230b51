package export

import (
	"encoding/json"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
	"unsafe"
)

// CSVHeader is the header row of the csv format.
var CSVHeader = []string{"id", "seq", "timestamp", "recordedAt", "organizationId", "userId", "provider",
	"actionType", "category", "resourceIds", "status", "riskLevel", "metadata", "soc2", "iso27001",
	"beforeStateCommitment", "afterStateCommitment", "beforeState", "afterState", "prevHash", "leafHash", "retention"}

// csvEncoder writes RFC 4180 CSV (CRLF row ends, fields with , " CR LF or
// a leading space quoted, quotes doubled) in UTF-8 with a header row. Data
// is kept exactly: a CR or LF inside a quoted field is written as is
// (encoding/csv's writer would drop a CR and turn LF into CRLF). Lists and
// objects are JSON in one cell. A cell starting with = + - @ tab, CR or '
// gets a ' in front so that a spreadsheet shows it as text instead of
// running it as a formula; readers drop one leading ' (UnescapeCSVCell).
type csvEncoder struct {
	buf []byte // the row being written
	tmp []byte // a cell being built (a list, a time)
}

func (c *csvEncoder) Begin(w io.Writer) error {
	b := c.buf[:0]
	for i, h := range CSVHeader {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendCell(b, h)
	}
	c.buf = append(b, '\r', '\n')
	_, err := w.Write(c.buf)
	return err
}

// Encode appends each cell of r's row straight to the row buffer, so that
// no cell is built as a string of its own, then writes the row.
func (c *csvEncoder) Encode(w io.Writer, r *Record) error {
	b := c.buf[:0]
	next := func() { b = append(b, ',') }
	str := func(v string) { b = appendCell(b, v); next() }
	built := func(v []byte) { b = appendCell(b, unsafe.String(unsafe.SliceData(v), len(v))); next() }
	list := func(v []string, null bool) {
		if v == nil && null {
			built(append(c.tmp[:0], "null"...))
			return
		}
		c.tmp = appendStrings(c.tmp[:0], v)
		built(c.tmp)
	}
	ts := func(t time.Time) {
		c.tmp = t.UTC().AppendFormat(c.tmp[:0], time.RFC3339Nano)
		built(c.tmp)
	}
	str(r.ID)
	b = strconv.AppendUint(b, r.Seq, 10) // digits: never quoted or guarded
	next()
	ts(r.Timestamp)
	ts(r.RecordedAt)
	str(r.OrganizationID)
	str(r.UserID)
	str(r.Provider)
	str(r.ActionType)
	str(r.Category)
	list(r.ResourceIDs, false)
	str(r.Status)
	str(r.RiskLevel)
	if len(r.Metadata) == 0 {
		str("{}")
	} else {
		built(r.Metadata)
	}
	list(r.Controls.SOC2, true)
	list(r.Controls.ISO27001, true)
	str(r.BeforeStateCommitment)
	str(r.AfterStateCommitment)
	built(r.BeforeState)
	built(r.AfterState)
	str(r.PrevHash)
	str(r.LeafHash)
	b = appendCell(b, r.Retention)
	b = append(b, '\r', '\n')
	c.buf = b
	_, err := w.Write(b)
	return err
}

// appendCell appends v as one CSV cell: guarded against formula injection
// (EscapeCSVCell), then quoted when RFC 4180 (or a leading space, which
// some readers trim) requires it.
func appendCell(b []byte, v string) []byte {
	guard := formulaStart(v)
	// strings.IndexByte is vectorised; a cell is mostly JSON, and any of
	// the four bytes may be anywhere in it.
	quote := v == `\.` || strings.IndexByte(v, '"') >= 0 || strings.IndexByte(v, ',') >= 0 ||
		strings.IndexByte(v, '\n') >= 0 || strings.IndexByte(v, '\r') >= 0
	if !quote && !guard && v != "" {
		r, _ := utf8.DecodeRuneInString(v)
		quote = unicode.IsSpace(r)
	}
	if quote {
		b = append(b, '"')
	}
	if guard {
		b = append(b, '\'')
	}
	if !quote {
		return append(b, v...)
	}
	for {
		i := strings.IndexByte(v, '"')
		if i < 0 {
			break
		}
		b = append(b, v[:i+1]...)
		b = append(b, '"')
		v = v[i+1:]
	}
	b = append(b, v...)
	return append(b, '"')
}

// formulaStart reports whether a spreadsheet could take v for a formula
// (or v starts with the ' that marks a guarded cell).
func formulaStart(v string) bool {
	if v == "" {
		return false
	}
	switch v[0] {
	case '=', '+', '-', '@', '\t', '\r', '\'':
		return true
	}
	return false
}

func (c *csvEncoder) End(io.Writer) error { return nil }

// EscapeCSVCell protects a cell from formula injection: a cell starting
// with = + - @, tab, carriage return or ' is prefixed with '.
func EscapeCSVCell(v string) string {
	if formulaStart(v) {
		return "'" + v
	}
	return v
}

// UnescapeCSVCell undoes EscapeCSVCell.
func UnescapeCSVCell(v string) string {
	if len(v) > 1 && v[0] == '\'' {
		switch v[1] {
		case '=', '+', '-', '@', '\t', '\r', '\'':
			return v[1:]
		}
	}
	return v
}

// unguardCSVCell is UnescapeCSVCell for a verifier: it also refuses a cell
// the exporter cannot have written, a formula without its guard ('=cmd'
// stripped of its ') or a guard before what needs none, since a spreadsheet
// shows those otherwise than the record. A value that began with CRLF was
// guarded before its CR, which a CSV reader turns, with the LF, into LF.
func unguardCSVCell(c string) (string, bool) {
	switch {
	case c == "":
		return c, true
	case c[0] == '\'':
		if len(c) > 1 && (formulaStart(c[1:]) || c[1] == '\n') {
			return c[1:], true
		}
		return "", false
	case formulaStart(c):
		return "", false
	}
	return c, true
}

// csvEvent reads a row written by csvEncoder back into an EventJSON.
func csvEvent(row []string) (EventJSON, error) {
	var e EventJSON
	if len(row) != len(CSVHeader) {
		return e, errorf("row has %d cells, want %d", len(row), len(CSVHeader))
	}
	for i := range row {
		v, ok := unguardCSVCell(row[i])
		if !ok {
			return e, errorf("%s cell %.40q is not as the exporter writes it: a cell starting with = + - @ tab CR or ' has one ' before it, and no other cell has", CSVHeader[i], row[i])
		}
		row[i] = v
	}
	seq, err := strconv.ParseUint(row[1], 10, 64)
	if err != nil {
		return e, errorf("seq %.30q is not a number", row[1])
	}
	e = EventJSON{ID: row[0], Seq: seq, Timestamp: row[2], RecordedAt: row[3], OrganizationID: row[4], UserID: row[5],
		Provider: row[6], ActionType: row[7], Category: row[8], Status: row[10], RiskLevel: row[11],
		Metadata: json.RawMessage(row[12]), BeforeStateCommitment: row[15], AfterStateCommitment: row[16],
		PrevHash: row[19], LeafHash: row[20], Retention: row[21]}
	if row[17] != "" {
		e.BeforeState = json.RawMessage(row[17])
	}
	if row[18] != "" {
		e.AfterState = json.RawMessage(row[18])
	}
	for _, l := range []struct {
		cell string
		dst  *[]string
		name string
	}{{row[9], &e.ResourceIDs, "resourceIds"}, {row[13], &e.SOC2, "soc2"}, {row[14], &e.ISO27001, "iso27001"}} {
		if err := json.Unmarshal([]byte(l.cell), l.dst); err != nil {
			return e, errorf("%s is not a JSON array of strings", l.name)
		}
	}
	return e, nil
}
