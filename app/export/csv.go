package export

import (
	"encoding/json"
	"io"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
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
	row []string
	buf []byte
}

func (c *csvEncoder) writeRow(w io.Writer, row []string) error {
	b := c.buf[:0]
	for i, f := range row {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendCSVField(b, f)
	}
	b = append(b, '\r', '\n')
	c.buf = b
	_, err := w.Write(b)
	return err
}

// appendCSVField quotes a field when RFC 4180 (or a leading space, which
// some readers trim) requires it.
func appendCSVField(b []byte, f string) []byte {
	// strings.IndexByte is vectorised; a cell is mostly JSON, and any of
	// the four bytes may be anywhere in it.
	quote := f == `\.` || strings.IndexByte(f, '"') >= 0 || strings.IndexByte(f, ',') >= 0 ||
		strings.IndexByte(f, '\n') >= 0 || strings.IndexByte(f, '\r') >= 0
	if !quote && f != "" {
		r, _ := utf8.DecodeRuneInString(f)
		quote = unicode.IsSpace(r)
	}
	if !quote {
		return append(b, f...)
	}
	b = append(b, '"')
	for {
		i := strings.IndexByte(f, '"')
		if i < 0 {
			break
		}
		b = append(b, f[:i+1]...)
		b = append(b, '"')
		f = f[i+1:]
	}
	b = append(b, f...)
	return append(b, '"')
}

func (c *csvEncoder) Begin(w io.Writer) error { return c.writeRow(w, CSVHeader) }

func (c *csvEncoder) Encode(w io.Writer, r *Record) error {
	e := r.eventJSON()
	list := func(v []string) string {
		if v == nil {
			return "null"
		}
		return string(appendStrings(nil, v))
	}
	raw := func(v json.RawMessage) string { return string(v) }
	c.row = append(c.row[:0], e.ID, strconv.FormatUint(e.Seq, 10), e.Timestamp, e.RecordedAt, e.OrganizationID,
		e.UserID, e.Provider, e.ActionType, e.Category, list(e.ResourceIDs), e.Status, e.RiskLevel, raw(e.Metadata),
		list(e.SOC2), list(e.ISO27001), e.BeforeStateCommitment, e.AfterStateCommitment, raw(e.BeforeState),
		raw(e.AfterState), e.PrevHash, e.LeafHash, e.Retention)
	for i, v := range c.row {
		c.row[i] = EscapeCSVCell(v)
	}
	return c.writeRow(w, c.row)
}

func (c *csvEncoder) End(io.Writer) error { return nil }

// EscapeCSVCell protects a cell from formula injection: a cell starting
// with = + - @, tab, carriage return or ' is prefixed with '.
func EscapeCSVCell(v string) string {
	if v != "" {
		switch v[0] {
		case '=', '+', '-', '@', '\t', '\r', '\'':
			return "'" + v
		}
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

// csvEvent reads a row written by csvEncoder back into an EventJSON.
func csvEvent(row []string) (EventJSON, error) {
	var e EventJSON
	if len(row) != len(CSVHeader) {
		return e, errorf("row has %d cells, want %d", len(row), len(CSVHeader))
	}
	for i := range row {
		row[i] = UnescapeCSVCell(row[i])
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
