package demo

import (
	"encoding/json"
	"strconv"
	"unicode/utf8"
)

// obj builds a JSON object by appending, in the order fields are added. It is
// faster than encoding a map and its output is byte-for-byte reproducible,
// which the golden tests rely on.
type obj struct{ b []byte }

func newObj() *obj { return &obj{b: append(make([]byte, 0, 256), '{')} }

func (o *obj) key(k string) {
	if len(o.b) > 1 {
		o.b = append(o.b, ',')
	}
	o.b = appendJSONString(o.b, k)
	o.b = append(o.b, ':')
}

func (o *obj) str(k, v string) *obj {
	o.key(k)
	o.b = appendJSONString(o.b, v)
	return o
}

func (o *obj) int(k string, v int64) *obj {
	o.key(k)
	o.b = strconv.AppendInt(o.b, v, 10)
	return o
}

// float is for states only: public metadata takes integers.
func (o *obj) float(k string, v float64, prec int) *obj {
	o.key(k)
	o.b = strconv.AppendFloat(o.b, v, 'f', prec, 64)
	return o
}

func (o *obj) bool(k string, v bool) *obj {
	o.key(k)
	o.b = strconv.AppendBool(o.b, v)
	return o
}

func (o *obj) null(k string) *obj {
	o.key(k)
	o.b = append(o.b, "null"...)
	return o
}

func (o *obj) raw(k string, v []byte) *obj {
	o.key(k)
	o.b = append(o.b, v...)
	return o
}

func (o *obj) strs(k string, vs []string) *obj {
	o.key(k)
	o.b = appendStrings(o.b, vs)
	return o
}

func (o *obj) bytes() []byte { return append(o.b, '}') }

func (o *obj) msg() json.RawMessage { return json.RawMessage(o.bytes()) }

func appendStrings(b []byte, vs []string) []byte {
	b = append(b, '[')
	for i, v := range vs {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, v)
	}
	return append(b, ']')
}

// rawArray joins already-encoded JSON values into an array.
func rawArray(items [][]byte) []byte {
	b := []byte{'['}
	for i, it := range items {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, it...)
	}
	return append(b, ']')
}

// appendJSONString quotes s as encoding/json would, without the HTML
// escaping (the generated text has no <, > or &).
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c == '\n':
				b = append(b, '\\', 'n')
			case c < 0x20:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		b = utf8.AppendRune(b, r)
		i += size
	}
	return append(b, '"')
}
