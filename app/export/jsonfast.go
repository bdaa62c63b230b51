package export

import (
	"bytes"
	"encoding/json"
	"strconv"
	"unicode/utf8"

	"github.com/axiomops/axiom-audit/storage"
)

// appendJSONString appends s as encoding/json does without HTML escaping:
// ", \ and control characters escaped (\n, \r, \t short), U+2028 and
// U+2029 escaped, invalid UTF-8 replaced by U+FFFD.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigit[c>>4], hexDigit[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigit[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

const hexDigit = "0123456789abcdef"

func appendStrings(b []byte, list []string) []byte {
	b = append(b, '[')
	for i, s := range list {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, s)
	}
	return append(b, ']')
}

// appendRaw appends a JSON value compacted, as encoding/json writes a
// json.RawMessage.
func appendRaw(b []byte, raw json.RawMessage) ([]byte, error) {
	if storage.IsPlainCanonicalJSON(raw) {
		// Valid and already compact, as the store's canonical metadata
		// is: what json.Compact would write is raw itself.
		return append(b, raw...), nil
	}
	// Compacted straight after b, in b's spare capacity when it has room,
	// instead of into a buffer of its own that is then copied; on error
	// json.Compact leaves the buffer as it was.
	buf := bytes.NewBuffer(b)
	if err := json.Compact(buf, raw); err != nil {
		return b, err
	}
	return buf.Bytes(), nil
}

// appendEventJSON appends e exactly as encoding/json marshals EventJSON
// (without HTML escaping), without reflection: the jsonl, json and csv
// formats write it once per event.
func appendEventJSON(b []byte, e *EventJSON) ([]byte, error) {
	var err error
	str := func(name, v string) {
		b = append(b, `,"`...)
		b = append(b, name...)
		b = append(b, `":`...)
		b = appendJSONString(b, v)
	}
	b = append(b, `{"id":`...)
	b = appendJSONString(b, e.ID)
	b = append(b, `,"seq":`...)
	b = strconv.AppendUint(b, e.Seq, 10)
	str("timestamp", e.Timestamp)
	str("recordedAt", e.RecordedAt)
	str("organizationId", e.OrganizationID)
	str("userId", e.UserID)
	str("provider", e.Provider)
	str("actionType", e.ActionType)
	str("category", e.Category)
	b = append(b, `,"resourceIds":`...)
	if e.ResourceIDs == nil {
		b = append(b, "null"...)
	} else {
		b = appendStrings(b, e.ResourceIDs)
	}
	str("status", e.Status)
	str("riskLevel", e.RiskLevel)
	b = append(b, `,"metadata":`...)
	if len(e.Metadata) == 0 {
		b = append(b, "null"...)
	} else if b, err = appendRaw(b, e.Metadata); err != nil {
		return b, err
	}
	if e.BeforeStateCommitment != "" {
		str("beforeStateCommitment", e.BeforeStateCommitment)
	}
	if e.AfterStateCommitment != "" {
		str("afterStateCommitment", e.AfterStateCommitment)
	}
	for _, s := range []struct {
		name string
		v    json.RawMessage
	}{{"beforeState", e.BeforeState}, {"afterState", e.AfterState}} {
		if len(s.v) > 0 {
			b = append(b, `,"`...)
			b = append(b, s.name...)
			b = append(b, `":`...)
			if b, err = appendRaw(b, s.v); err != nil {
				return b, err
			}
		}
	}
	str("prevHash", e.PrevHash)
	str("leafHash", e.LeafHash)
	if e.Retention != "" {
		str("retention", e.Retention)
	}
	b = append(b, `,"soc2":`...)
	b = appendStringsOrNull(b, e.SOC2)
	b = append(b, `,"iso27001":`...)
	b = appendStringsOrNull(b, e.ISO27001)
	return append(b, '}'), nil
}

func appendStringsOrNull(b []byte, l []string) []byte {
	if l == nil {
		return append(b, "null"...)
	}
	return appendStrings(b, l)
}
