package export

import (
	"encoding/json"
	"io"
	"strconv"
	"strings"
)

// cefEncoder writes ArcSight CEF:0 lines:
//
//	CEF:0|Axiom|Axiom Audit|<version>|<actionType>|<description>|<severity>|<extensions>
//
// Header fields escape \ and | (EscapeCEFHeader); extension values escape
// \, = and line breaks (EscapeCEFValue). Extensions: rt (epoch ms), end
// (recordedAt, epoch ms), suser, act, outcome, externalId, cat, cn1 (seq),
// cs1..cs6 with their labels (organization, SOC 2 controls, ISO 27001
// controls, resources, metadata, provider), and flexString1/2 (the revealed
// states, when the export reveals them).
type cefEncoder struct {
	p   Product
	buf []byte
}

func (*cefEncoder) Begin(io.Writer) error { return nil }
func (*cefEncoder) End(io.Writer) error   { return nil }

// CEFSeverity maps a risk level to CEF's 0-10 scale (low 3, medium 6, high 8).
func CEFSeverity(risk string) int {
	switch risk {
	case "low":
		return 3
	case "medium":
		return 6
	case "high":
		return 8
	}
	return 0
}

// outcome maps a status to CEF/ECS outcomes.
func outcome(status string) string {
	switch status {
	case "applied":
		return "success"
	case "failed":
		return "failure"
	}
	return "unknown"
}

func (c *cefEncoder) Encode(w io.Writer, r *Record) error {
	b := c.buf[:0]
	b = append(b, "CEF:0|Axiom|Axiom Audit|"...)
	b = append(b, EscapeCEFHeader(c.p.Version)...)
	b = append(b, '|')
	b = append(b, EscapeCEFHeader(r.ActionType)...)
	b = append(b, '|')
	name := eventTitle(r)
	b = append(b, EscapeCEFHeader(name)...)
	b = append(b, '|')
	b = strconv.AppendInt(b, int64(CEFSeverity(r.RiskLevel)), 10)
	b = append(b, '|')
	first := true
	ext := func(key, value string) {
		if !first {
			b = append(b, ' ')
		}
		first = false
		b = append(b, key...)
		b = append(b, '=')
		b = append(b, EscapeCEFValue(value)...)
	}
	jsonText := func(v any) string {
		out, _ := marshal(v)
		return string(out)
	}
	ext("rt", strconv.FormatInt(r.Timestamp.UnixMilli(), 10))
	ext("end", strconv.FormatInt(r.RecordedAt.UnixMilli(), 10))
	ext("suser", r.UserID)
	ext("act", r.ActionType)
	ext("outcome", outcome(r.Status))
	ext("externalId", r.ID)
	ext("cat", r.Category)
	ext("cn1Label", "seq")
	ext("cn1", strconv.FormatUint(r.Seq, 10))
	ext("cs1Label", "organizationId")
	ext("cs1", r.OrganizationID)
	ext("cs2Label", "soc2Controls")
	ext("cs2", strings.Join(r.Controls.SOC2, ","))
	ext("cs3Label", "iso27001Controls")
	ext("cs3", strings.Join(r.Controls.ISO27001, ","))
	ext("cs4Label", "resourceIds")
	ext("cs4", jsonText(orEmpty(r.ResourceIDs)))
	meta := r.Metadata
	if len(meta) == 0 {
		meta = json.RawMessage("{}")
	}
	ext("cs5Label", "metadata")
	ext("cs5", string(meta))
	ext("cs6Label", "provider")
	ext("cs6", r.Provider)
	if len(r.BeforeState) > 0 {
		ext("flexString1Label", "beforeState")
		ext("flexString1", string(r.BeforeState))
	}
	if len(r.AfterState) > 0 {
		ext("flexString2Label", "afterState")
		ext("flexString2", string(r.AfterState))
	}
	b = append(b, '\n')
	c.buf = b
	_, err := w.Write(b)
	return err
}

// EscapeCEFHeader escapes a CEF header field: \ as \\ and | as \|. Line
// breaks, which a header cannot carry, become spaces.
func EscapeCEFHeader(s string) string {
	if !strings.ContainsAny(s, "\\|\r\n") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\', '|':
			b.WriteByte('\\')
			b.WriteByte(c)
		case '\r', '\n':
			b.WriteByte(' ')
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// EscapeCEFValue escapes a CEF extension value: \ as \\, = as \=, LF as \n
// and CR as \r, so a value never ends a line or starts a key.
func EscapeCEFValue(s string) string {
	if !strings.ContainsAny(s, "\\=\r\n") {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\', '=':
			b.WriteByte('\\')
			b.WriteByte(c)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// UnescapeCEFValue undoes EscapeCEFValue.
func UnescapeCEFValue(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' || i+1 == len(s) {
			b.WriteByte(c)
			continue
		}
		i++
		switch s[i] {
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		default:
			b.WriteByte(s[i])
		}
	}
	return b.String()
}

// cefExtensions parses the extension part of a CEF line into key → value:
// a key is the [A-Za-z0-9_.\[\]]+ run before an unescaped '=', and its value
// runs up to the space before the next key.
func cefExtensions(ext string) map[string]string {
	out, _ := cefExtensionsDup(ext)
	return out
}

// cefExtensionsDup is cefExtensions, and the first key that appears twice
// ("" when none does): readers disagree on which of the two counts.
func cefExtensionsDup(ext string) (map[string]string, string) {
	out := map[string]string{}
	dup := ""
	type kv struct{ kStart, kEnd int }
	var keys []kv
	for i := 0; i < len(ext); i++ {
		switch ext[i] {
		case '\\':
			i++
		case '=':
			j := i
			for j > 0 && isCEFKeyByte(ext[j-1]) {
				j--
			}
			if j < i && (j == 0 || ext[j-1] == ' ') {
				keys = append(keys, kv{j, i})
			}
		}
	}
	for n, k := range keys {
		end := len(ext)
		if n+1 < len(keys) {
			end = keys[n+1].kStart - 1
		}
		if end < k.kEnd+1 {
			end = k.kEnd + 1
		}
		key := ext[k.kStart:k.kEnd]
		if _, seen := out[key]; seen && dup == "" {
			dup = key
		}
		out[key] = UnescapeCEFValue(ext[k.kEnd+1 : end])
	}
	return out, dup
}

func isCEFKeyByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '[' || c == ']'
}

// cefHeaderFields splits a CEF line into its seven header fields and the
// extension text, honouring \| and \\.
func cefHeaderFields(line string) ([]string, string, bool) {
	var fields []string
	var cur strings.Builder
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case c == '\\' && i+1 < len(line) && (line[i+1] == '\\' || line[i+1] == '|'):
			cur.WriteByte(line[i+1])
			i++
		case c == '|':
			fields = append(fields, cur.String())
			cur.Reset()
			if len(fields) == 7 {
				return fields, line[i+1:], true
			}
		default:
			cur.WriteByte(c)
		}
	}
	return nil, "", false
}
