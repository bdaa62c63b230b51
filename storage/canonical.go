package storage

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"

	"github.com/gowebpki/jcs"
)

// canonicalJSON returns the RFC 8785 (JCS) form of one JSON value. It gives
// the same bytes as github.com/gowebpki/jcs.Transform (a fuzz test checks
// that) several times faster, because appending canonicalises every state
// and metadata object and, with two cores, that work bounds throughput.
func canonicalJSON(in []byte) ([]byte, error) {
	p := canonPool.Get().(*jsonCanon)
	p.in, p.i = in, 0
	defer func() {
		p.in = nil
		canonPool.Put(p)
	}()
	p.ws()
	out, err := p.value(make([]byte, 0, len(in)), 0)
	if err != nil {
		return nil, err
	}
	p.ws()
	if p.i != len(p.in) {
		return nil, p.fail("trailing data")
	}
	return out, nil
}

// jsonCanon is a canonicalizer's state. The buffers of object members are
// reused across objects and calls (canonPool), so canonicalizing allocates
// little beyond its result.
type jsonCanon struct {
	in []byte
	i  int
	// free value buffers and member lists, for object
	bufs    [][]byte
	members [][]member
}

var canonPool = sync.Pool{New: func() any { return new(jsonCanon) }}

func (p *jsonCanon) buf() []byte { return pop(&p.bufs)[:0] }

func (p *jsonCanon) memberList() []member { return pop(&p.members)[:0] }

// pop takes the last slice off a stack of free ones (nil when empty).
func pop[T any](stack *[][]T) []T {
	n := len(*stack)
	if n == 0 {
		return nil
	}
	s := (*stack)[n-1]
	*stack = (*stack)[:n-1]
	return s
}

// release gives an object's member list and value buffers back.
func (p *jsonCanon) release(ms []member) {
	for i := range ms {
		if cap(ms[i].value) <= 64<<10 {
			p.bufs = append(p.bufs, ms[i].value)
		}
		ms[i] = member{}
	}
	p.members = append(p.members, ms[:0])
}

const maxJSONDepth = 512

var errJSON = errors.New("invalid JSON")

func (p *jsonCanon) fail(what string) error {
	return fmt.Errorf("%s at offset %d: %w", what, p.i, errJSON)
}

func (p *jsonCanon) ws() {
	for p.i < len(p.in) {
		switch p.in[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *jsonCanon) value(out []byte, depth int) ([]byte, error) {
	if depth > maxJSONDepth {
		return nil, p.fail("nesting too deep")
	}
	if p.i >= len(p.in) {
		return nil, p.fail("unexpected end")
	}
	switch c := p.in[p.i]; {
	case c == '{':
		return p.object(out, depth)
	case c == '[':
		p.i++
		out = append(out, '[')
		p.ws()
		if p.i < len(p.in) && p.in[p.i] == ']' {
			p.i++
			return append(out, ']'), nil
		}
		for {
			var err error
			p.ws()
			if out, err = p.value(out, depth+1); err != nil {
				return nil, err
			}
			p.ws()
			if p.i >= len(p.in) {
				return nil, p.fail("unterminated array")
			}
			if p.in[p.i] == ']' {
				p.i++
				return append(out, ']'), nil
			}
			if p.in[p.i] != ',' {
				return nil, p.fail("expected , or ]")
			}
			p.i++
			out = append(out, ',')
		}
	case c == '"':
		s, err := p.str()
		if err != nil {
			return nil, err
		}
		return appendJSONString(out, s), nil
	case c == 't':
		return p.lit(out, "true")
	case c == 'f':
		return p.lit(out, "false")
	case c == 'n':
		return p.lit(out, "null")
	case c == '-' || c >= '0' && c <= '9':
		return p.number(out)
	default:
		return nil, p.fail("unexpected character")
	}
}

func (p *jsonCanon) lit(out []byte, l string) ([]byte, error) {
	if len(p.in)-p.i < len(l) || string(p.in[p.i:p.i+len(l)]) != l {
		return nil, p.fail("invalid literal")
	}
	p.i += len(l)
	return append(out, l...), nil
}

type member struct {
	key   string
	value []byte
}

func (p *jsonCanon) object(out []byte, depth int) ([]byte, error) {
	p.i++ // {
	ms := p.memberList()
	defer func() { p.release(ms) }()
	p.ws()
	if p.i < len(p.in) && p.in[p.i] == '}' {
		p.i++
		return append(out, '{', '}'), nil
	}
	for {
		p.ws()
		if p.i >= len(p.in) || p.in[p.i] != '"' {
			return nil, p.fail("expected a member name")
		}
		k, err := p.str()
		if err != nil {
			return nil, err
		}
		p.ws()
		if p.i >= len(p.in) || p.in[p.i] != ':' {
			return nil, p.fail("expected :")
		}
		p.i++
		p.ws()
		v, err := p.value(p.buf(), depth+1)
		if err != nil {
			return nil, err
		}
		ms = append(ms, member{k, v})
		p.ws()
		if p.i >= len(p.in) {
			return nil, p.fail("unterminated object")
		}
		if p.in[p.i] == '}' {
			p.i++
			break
		}
		if p.in[p.i] != ',' {
			return nil, p.fail("expected , or }")
		}
		p.i++
	}
	slices.SortFunc(ms, func(a, b member) int { return compareUTF16(a.key, b.key) })
	out = append(out, '{')
	for i, m := range ms {
		if i > 0 {
			if ms[i-1].key == m.key {
				return nil, fmt.Errorf("duplicate member %q: %w", m.key, errJSON)
			}
			out = append(out, ',')
		}
		out = appendJSONString(out, m.key)
		out = append(out, ':')
		out = append(out, m.value...)
	}
	return append(out, '}'), nil
}

// compareUTF16 orders strings by their UTF-16 code units, as RFC 8785 sorts
// member names.
func compareUTF16(a, b string) int {
	for a != "" && b != "" {
		ra, na := utf8.DecodeRuneInString(a)
		rb, nb := utf8.DecodeRuneInString(b)
		if ra != rb {
			ua, ub := firstUnit(ra), firstUnit(rb)
			if ua != ub {
				return int(ua) - int(ub)
			}
			_, la := utf16.EncodeRune(ra)
			_, lb := utf16.EncodeRune(rb)
			return int(la) - int(lb)
		}
		a, b = a[na:], b[nb:]
	}
	return len(a) - len(b)
}

func firstUnit(r rune) uint16 {
	if r >= 0x10000 {
		hi, _ := utf16.EncodeRune(r)
		return uint16(hi)
	}
	return uint16(r)
}

// str parses a JSON string at p.i and returns its value.
func (p *jsonCanon) str() (string, error) {
	p.i++ // "
	start := p.i
	for p.i < len(p.in) {
		c := p.in[p.i]
		if c == '"' {
			s := p.in[start:p.i]
			p.i++
			if !utf8.Valid(s) {
				return "", p.fail("invalid UTF-8 in a string")
			}
			// A view of the input, which outlives every use of it
			// (sorting and copying into the result).
			return unsafe.String(unsafe.SliceData(s), len(s)), nil
		}
		if c == '\\' || c < 0x20 {
			break
		}
		p.i++
	}
	// Slow path: escapes.
	buf := append([]byte(nil), p.in[start:p.i]...)
	for p.i < len(p.in) {
		c := p.in[p.i]
		switch {
		case c == '"':
			p.i++
			if !utf8.Valid(buf) {
				return "", p.fail("invalid UTF-8 in a string")
			}
			return string(buf), nil
		case c < 0x20:
			return "", p.fail("control character in a string")
		case c != '\\':
			buf = append(buf, c)
			p.i++
			continue
		}
		p.i++
		if p.i >= len(p.in) {
			break
		}
		e := p.in[p.i]
		p.i++
		switch e {
		case '"', '\\', '/':
			buf = append(buf, e)
		case 'b':
			buf = append(buf, '\b')
		case 'f':
			buf = append(buf, '\f')
		case 'n':
			buf = append(buf, '\n')
		case 'r':
			buf = append(buf, '\r')
		case 't':
			buf = append(buf, '\t')
		case 'u':
			r, ok := p.hex4()
			if !ok {
				return "", p.fail("invalid \\u escape")
			}
			if utf16.IsSurrogate(r) {
				if r >= 0xdc00 || len(p.in)-p.i < 6 || p.in[p.i] != '\\' || p.in[p.i+1] != 'u' {
					return "", p.fail("lone surrogate")
				}
				p.i += 2
				r2, ok := p.hex4()
				if !ok || r2 < 0xdc00 || r2 > 0xdfff {
					return "", p.fail("lone surrogate")
				}
				r = utf16.DecodeRune(r, r2)
			}
			buf = utf8.AppendRune(buf, r)
		default:
			return "", p.fail("invalid escape")
		}
	}
	return "", p.fail("unterminated string")
}

func (p *jsonCanon) hex4() (rune, bool) {
	if len(p.in)-p.i < 4 {
		return 0, false
	}
	var r rune
	for _, c := range p.in[p.i : p.i+4] {
		r <<= 4
		switch {
		case c >= '0' && c <= '9':
			r |= rune(c - '0')
		case c >= 'a' && c <= 'f':
			r |= rune(c - 'a' + 10)
		case c >= 'A' && c <= 'F':
			r |= rune(c - 'A' + 10)
		default:
			return 0, false
		}
	}
	p.i += 4
	return r, true
}

// number canonicalises a JSON number the way ECMAScript prints a double.
func (p *jsonCanon) number(out []byte) ([]byte, error) {
	start := p.i
	if p.in[p.i] == '-' {
		p.i++
	}
	digits := func() int {
		n := 0
		for p.i < len(p.in) && p.in[p.i] >= '0' && p.in[p.i] <= '9' {
			p.i++
			n++
		}
		return n
	}
	intStart := p.i
	n := digits()
	if n == 0 || n > 1 && p.in[intStart] == '0' {
		return nil, p.fail("invalid number")
	}
	integer := true
	if p.i < len(p.in) && p.in[p.i] == '.' {
		p.i++
		integer = false
		if digits() == 0 {
			return nil, p.fail("invalid number")
		}
	}
	if p.i < len(p.in) && (p.in[p.i] == 'e' || p.in[p.i] == 'E') {
		p.i++
		integer = false
		if p.i < len(p.in) && (p.in[p.i] == '+' || p.in[p.i] == '-') {
			p.i++
		}
		if digits() == 0 {
			return nil, p.fail("invalid number")
		}
	}
	lit := p.in[start:p.i]
	// Integers of up to 15 digits are exact doubles and print as written.
	if integer && n <= 15 {
		if string(lit) == "-0" {
			return append(out, '0'), nil
		}
		return append(out, lit...), nil
	}
	f, err := strconv.ParseFloat(string(lit), 64)
	if err != nil {
		return nil, p.fail("number out of range")
	}
	s, err := jcs.NumberToJSON(f)
	if err != nil {
		return nil, p.fail("number not representable")
	}
	return append(out, s...), nil
}
