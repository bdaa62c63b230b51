package export

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
)

// Go's encoding/json matches object keys to struct fields without regard
// to case and keeps the last of duplicate keys, while jq, Python, browsers
// and SIEMs see the first, or both. A doctored events line could then show
// those readers one value and the verifier another. checkKeys refuses what
// makes that possible: a key twice in one object, anywhere in the line,
// and, in the objects the verifier decodes into structs, a key that
// differs only in case from a field name, or, in an event object, any key
// that is not one of its fields.

// eventFields are EventJSON's keys.
var eventFields = func() []string {
	var out []string
	t := reflect.TypeOf(EventJSON{})
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		out = append(out, name)
	}
	return out
}()

// structObject is an object the verifier decodes into a struct: the keys
// it binds, and whether every key must be one of them.
type structObject struct {
	bound  []string
	strict bool
	folded map[string]string // ASCII-lowercased bound key → bound key
}

func init() {
	for _, rules := range keyRules {
		for path, r := range rules {
			r.folded = map[string]string{}
			for _, name := range r.bound {
				r.folded[strings.ToLower(name)] = name
			}
			rules[path] = r
		}
	}
}

// bind returns the bound key key matches regardless of case, if any.
func (r *structObject) bind(key []byte) (string, bool) {
	var buf [40]byte
	if len(key) <= len(buf) {
		ascii := true
		for i, c := range key {
			if c >= 0x80 {
				ascii = false
				break
			}
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			buf[i] = c
		}
		if ascii {
			name, ok := r.folded[string(buf[:len(key)])]
			return name, ok
		}
	}
	// Unicode folds too (the Kelvin sign folds to k, ſ to s), as Go's
	// decoder does.
	for _, name := range r.bound {
		if strings.EqualFold(name, string(key)) {
			return name, true
		}
	}
	return "", false
}

// keyRules are, for each format, the struct objects by their path of keys
// from the line's root ("" is the root).
var keyRules = map[Format]map[string]structObject{
	JSONLines: {"": {bound: eventFields, strict: true}},
	JSON:      {"": {bound: eventFields, strict: true}},
	SplunkHEC: {"": {bound: []string{"event"}}, "/event": {bound: eventFields, strict: true}},
	ECS: {"": {bound: []string{"event", "axiom"}}, "/event": {bound: []string{"id", "sequence"}},
		"/axiom": {bound: eventFields, strict: true}},
	OCSF: {"": {bound: []string{"metadata", "entity", "entity_result", "unmapped"}},
		"/metadata": {bound: []string{"uid", "sequence"}}, "/entity": {bound: []string{"data"}},
		"/entity_result": {bound: []string{"data"}}, "/unmapped": {bound: []string{"axiom"}},
		"/unmapped/axiom": {bound: eventFields, strict: true}},
}

// checkKeys checks the keys of one events-file entry of format f. It
// reports nothing for input that is not JSON: decoding reports that.
func checkKeys(f Format, b []byte) error {
	k := keyScanner{b: b, rules: keyRules[f]}
	k.value("", true)
	if k.err == errNotJSON {
		return nil
	}
	return k.err
}

type keyScanner struct {
	b     []byte
	i     int
	rules map[string]structObject
	err   error
}

func (k *keyScanner) ws() {
	for k.i < len(k.b) && (k.b[k.i] == ' ' || k.b[k.i] == '\t' || k.b[k.i] == '\n' || k.b[k.i] == '\r') {
		k.i++
	}
}

// value skips one value; tracked says path is a path of struct objects
// (user content, such as metadata and states, is not).
func (k *keyScanner) value(path string, tracked bool) {
	k.ws()
	if k.err != nil || k.i >= len(k.b) {
		k.fail()
		return
	}
	switch k.b[k.i] {
	case '{':
		k.object(path, tracked)
	case '[':
		k.i++
		k.ws()
		if k.i < len(k.b) && k.b[k.i] == ']' {
			k.i++
			return
		}
		for k.err == nil {
			k.value("", false)
			if k.next(']') {
				return
			}
		}
	case '"':
		k.str()
	default:
	scalar:
		for ; k.i < len(k.b); k.i++ {
			switch k.b[k.i] {
			case ',', ']', '}', ' ', '\t', '\r', '\n':
				break scalar
			}
		}
	}
}

func (k *keyScanner) object(path string, tracked bool) {
	k.i++
	rule, isStruct := k.rules[path]
	isStruct = isStruct && tracked
	var buf [32][]byte
	keys := buf[:0]
	k.ws()
	if k.i < len(k.b) && k.b[k.i] == '}' {
		k.i++
		return
	}
	for k.err == nil {
		k.ws()
		key, ok := k.str()
		if !ok {
			return
		}
		for _, prev := range keys {
			if string(prev) == string(key) {
				k.err = fmt.Errorf("key %q appears twice in one object (at %q)", key, path+"/")
				return
			}
		}
		keys = append(keys, key)
		if isStruct {
			name, bound := rule.bind(key)
			switch {
			case bound && name != string(key):
				k.err = fmt.Errorf("key %q at %q differs only in case from %q", key, path+"/", name)
				return
			case !bound && rule.strict:
				k.err = fmt.Errorf("key %q at %q is not a field of an event", key, path+"/")
				return
			}
		}
		k.ws()
		if k.i >= len(k.b) || k.b[k.i] != ':' {
			k.fail()
			return
		}
		k.i++
		k.ws()
		if isStruct && k.i < len(k.b) && k.b[k.i] == '{' {
			child := path + "/" + string(key)
			_, tracked := k.rules[child]
			k.value(child, tracked)
		} else {
			k.value("", false)
		}
		if k.next('}') {
			return
		}
	}
}

// next reads the comma after a member or element, or the close that ends
// them, and reports whether it was the close (or the input is not JSON).
func (k *keyScanner) next(close byte) bool {
	k.ws()
	switch {
	case k.i < len(k.b) && k.b[k.i] == close:
		k.i++
		return true
	case k.i < len(k.b) && k.b[k.i] == ',':
		k.i++
		return false
	}
	k.fail()
	return true
}

// str reads a string at k.i and returns it unescaped (a view of the input
// when it has no escapes).
func (k *keyScanner) str() ([]byte, bool) {
	if k.i >= len(k.b) || k.b[k.i] != '"' {
		k.fail()
		return nil, false
	}
	start, escaped := k.i, false
	k.i++
	for {
		// Jump to the next quote; a backslash before it is walked.
		j := bytes.IndexByte(k.b[k.i:], '"')
		if j < 0 {
			k.fail()
			return nil, false
		}
		if bs := bytes.IndexByte(k.b[k.i:k.i+j], '\\'); bs >= 0 {
			escaped = true
			k.i += bs + 2 // the backslash and the byte it escapes
			continue
		}
		k.i += j + 1
		break
	}
	raw := k.b[start:k.i]
	if !escaped {
		return raw[1 : len(raw)-1], true
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		k.fail()
		return nil, false
	}
	return []byte(s), true
}

// fail stops the scan of input that is not JSON, reporting nothing.
func (k *keyScanner) fail() {
	k.i = len(k.b)
	if k.err == nil {
		k.err = errNotJSON
	}
}

var errNotJSON = fmt.Errorf("not JSON")
