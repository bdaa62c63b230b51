package export

import (
	"bytes"
	"encoding/json"
	"strconv"
	"unicode/utf8"
	"unsafe"

	"github.com/axiomops/axiom-audit/storage"
)

// The verifier reads two kinds of flat JSON objects per event: the public
// record and the exported event. These scanners read the plain form export
// writes (strings without escapes, unsigned integers, lists of such
// strings, objects kept raw) without reflection. For anything else they
// report false and the caller uses encoding/json, so both give the same
// result (FuzzFastDecoders).

// flatScan calls fn for each member of a JSON object; a value is a string
// (unescaped, kind 's'), an unsigned integer ('n'), a list of strings
// ('l'), an object ('o', raw, validated) or null ('z'). The strings and
// objects share b's bytes: b must not change while they are in use.
func flatScan(b []byte, fn func(key string, kind byte, s string, n uint64, l []string, raw []byte) bool) bool {
	i := 0
	// str reads a string, as a view of b.
	str := func() (string, bool) {
		if i >= len(b) || b[i] != '"' {
			return "", false
		}
		j := bytes.IndexByte(b[i+1:], '"')
		if j < 0 {
			return "", false
		}
		s := b[i+1 : i+1+j]
		ascii := true
		for _, c := range s {
			if c < 0x20 || c == '\\' {
				return "", false
			}
			if c >= 0x80 {
				ascii = false
			}
		}
		if !ascii && !utf8.Valid(s) {
			return "", false
		}
		i += j + 2
		return unsafe.String(unsafe.SliceData(s), len(s)), true
	}
	if len(b) < 2 || b[0] != '{' {
		return false
	}
	i = 1
	for first := true; ; first = false {
		if i < len(b) && b[i] == '}' {
			i++
			break
		}
		if !first {
			if i >= len(b) || b[i] != ',' {
				return false
			}
			i++
		}
		key, ok := str()
		if !ok || i >= len(b) || b[i] != ':' {
			return false
		}
		i++
		if i >= len(b) {
			return false
		}
		switch c := b[i]; {
		case c == '"':
			s, ok := str()
			if !ok || !fn(key, 's', s, 0, nil, nil) {
				return false
			}
		case c >= '0' && c <= '9':
			j := i
			for j < len(b) && b[j] >= '0' && b[j] <= '9' {
				j++
			}
			if j < len(b) && (b[j] == '.' || b[j] == 'e' || b[j] == 'E') || (c == '0' && j-i > 1) {
				return false
			}
			n, err := strconv.ParseUint(string(b[i:j]), 10, 64)
			i = j
			if err != nil || !fn(key, 'n', "", n, nil, nil) {
				return false
			}
		case c == '[':
			i++
			l := []string{}
			for k := 0; ; k++ {
				if i < len(b) && b[i] == ']' {
					i++
					break
				}
				if k > 0 {
					if i >= len(b) || b[i] != ',' {
						return false
					}
					i++
				}
				s, ok := str()
				if !ok {
					return false
				}
				l = append(l, s)
			}
			if !fn(key, 'l', "", 0, l, nil) {
				return false
			}
		case c == '{':
			depth, j := 0, i
			for ; j < len(b); j++ {
				switch b[j] {
				case '"':
					for j++; j < len(b) && b[j] != '"'; j++ {
						if b[j] == '\\' {
							j++
						}
					}
				case '{', '[':
					depth++
				case '}', ']':
					depth--
				}
				if depth == 0 {
					break
				}
			}
			// The plain canonical JSON the store keeps is known valid
			// without the slower general check.
			if j >= len(b) || !(storage.IsPlainCanonicalJSON(b[i:j+1]) || json.Valid(b[i:j+1])) {
				return false
			}
			raw := b[i : j+1]
			i = j + 1
			if !fn(key, 'o', "", 0, nil, raw) {
				return false
			}
		case bytes.HasPrefix(b[i:], []byte("null")):
			i += 4
			if !fn(key, 'z', "", 0, nil, nil) {
				return false
			}
		default:
			return false
		}
	}
	return i == len(b)
}

// parsePublicRecord decodes a public record as json.Unmarshal would. The
// record's strings and metadata share b, which must not change afterwards.
func parsePublicRecord(b []byte, p *publicRecord) error {
	*p = publicRecord{}
	ok := flatScan(b, func(key string, kind byte, s string, n uint64, l []string, raw []byte) bool {
		var dst *string
		switch key {
		case "actionType":
			dst = &p.ActionType
		case "afterStateCommitment":
			dst = &p.AfterStateCommitment
		case "beforeStateCommitment":
			dst = &p.BeforeStateCommitment
		case "category":
			dst = &p.Category
		case "id":
			dst = &p.ID
		case "organizationId":
			dst = &p.OrganizationID
		case "prevHash":
			dst = &p.PrevHash
		case "provider":
			dst = &p.Provider
		case "recordedAt":
			dst = &p.RecordedAt
		case "riskLevel":
			dst = &p.RiskLevel
		case "status":
			dst = &p.Status
		case "timestamp":
			dst = &p.Timestamp
		case "userId":
			dst = &p.UserID
		case "seq":
			p.Seq = n
			return kind == 'n'
		case "formatVersion":
			return kind == 'n'
		case "resourceIds":
			p.ResourceIDs = l
			return kind == 'l'
		case "metadata":
			p.Metadata = raw
			return kind == 'o'
		default:
			return false
		}
		*dst = s
		return kind == 's'
	})
	if ok {
		return nil
	}
	*p = publicRecord{}
	return json.Unmarshal(b, p)
}

// parseEventJSON decodes an exported event as json.Unmarshal would. e
// shares b's bytes: b must not change while e is in use.
func parseEventJSON(b []byte, e *EventJSON) error {
	*e = EventJSON{}
	ok := flatScan(b, func(key string, kind byte, s string, n uint64, l []string, raw []byte) bool {
		var dst *string
		switch key {
		case "id":
			dst = &e.ID
		case "timestamp":
			dst = &e.Timestamp
		case "recordedAt":
			dst = &e.RecordedAt
		case "organizationId":
			dst = &e.OrganizationID
		case "userId":
			dst = &e.UserID
		case "provider":
			dst = &e.Provider
		case "actionType":
			dst = &e.ActionType
		case "category":
			dst = &e.Category
		case "status":
			dst = &e.Status
		case "riskLevel":
			dst = &e.RiskLevel
		case "beforeStateCommitment":
			dst = &e.BeforeStateCommitment
		case "afterStateCommitment":
			dst = &e.AfterStateCommitment
		case "prevHash":
			dst = &e.PrevHash
		case "leafHash":
			dst = &e.LeafHash
		case "retention":
			dst = &e.Retention
		case "seq":
			e.Seq = n
			return kind == 'n'
		case "resourceIds":
			e.ResourceIDs = l
			return kind == 'l'
		case "soc2":
			e.SOC2 = l
			return kind == 'l'
		case "iso27001":
			e.ISO27001 = l
			return kind == 'l'
		case "metadata":
			e.Metadata = raw[:len(raw):len(raw)]
			return kind == 'o'
		case "beforeState":
			e.BeforeState = raw[:len(raw):len(raw)]
			return kind == 'o'
		case "afterState":
			e.AfterState = raw[:len(raw):len(raw)]
			return kind == 'o'
		default:
			return false
		}
		*dst = s
		return kind == 's'
	})
	if ok {
		return nil
	}
	*e = EventJSON{}
	return json.Unmarshal(b, e)
}
