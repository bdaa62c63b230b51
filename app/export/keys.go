package export

import (
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
}

// keyRules are, for each format, the struct objects by their path of keys
// from the line's root ("" is the root).
var keyRules = map[Format]map[string]structObject{
	JSONLines: {"": {eventFields, true}},
	JSON:      {"": {eventFields, true}},
	SplunkHEC: {"": {[]string{"event"}, false}, "/event": {eventFields, true}},
	ECS: {"": {[]string{"event", "axiom"}, false}, "/event": {[]string{"id", "sequence"}, false},
		"/axiom": {eventFields, true}},
	OCSF: {"": {[]string{"metadata", "entity", "entity_result", "unmapped"}, false},
		"/metadata": {[]string{"uid", "sequence"}, false}, "/entity": {[]string{"data"}, false},
		"/entity_result": {[]string{"data"}, false}, "/unmapped": {[]string{"axiom"}, false},
		"/unmapped/axiom": {eventFields, true}},
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
			k.ws()
			if k.i >= len(k.b) {
				k.fail()
				return
			}
			if k.b[k.i] == ']' {
				k.i++
				return
			}
			if k.b[k.i] != ',' {
				k.fail()
				return
			}
			k.i++
		}
	case '"':
		k.str()
	default:
		for k.i < len(k.b) && !strings.ContainsRune(",]} \t\r\n", rune(k.b[k.i])) {
			k.i++
		}
	}
}

func (k *keyScanner) object(path string, tracked bool) {
	k.i++
	rule, isStruct := k.rules[path]
	isStruct = isStruct && tracked
	var keys []string
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
			if prev == key {
				k.err = fmt.Errorf("key %q appears twice in one object (at %q)", key, path+"/")
				return
			}
		}
		keys = append(keys, key)
		if isStruct {
			known := false
			for _, name := range rule.bound {
				if name == key {
					known = true
				} else if strings.EqualFold(name, key) {
					k.err = fmt.Errorf("key %q at %q differs only in case from %q", key, path+"/", name)
					return
				}
			}
			if rule.strict && !known {
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
		k.value(path+"/"+key, isStruct)
		k.ws()
		if k.i >= len(k.b) {
			k.fail()
			return
		}
		if k.b[k.i] == '}' {
			k.i++
			return
		}
		if k.b[k.i] != ',' {
			k.fail()
			return
		}
		k.i++
	}
}

// str reads a string at k.i and returns it unescaped.
func (k *keyScanner) str() (string, bool) {
	if k.i >= len(k.b) || k.b[k.i] != '"' {
		k.fail()
		return "", false
	}
	start, escaped := k.i, false
	for k.i++; k.i < len(k.b); k.i++ {
		switch k.b[k.i] {
		case '\\':
			escaped = true
			k.i++
		case '"':
			k.i++
			raw := k.b[start:k.i]
			if !escaped {
				return string(raw[1 : len(raw)-1]), true
			}
			var s string
			if json.Unmarshal(raw, &s) != nil {
				k.fail()
				return "", false
			}
			return s, true
		}
	}
	k.fail()
	return "", false
}

// fail stops the scan of input that is not JSON, reporting nothing.
func (k *keyScanner) fail() {
	k.i = len(k.b)
	if k.err == nil {
		k.err = errNotJSON
	}
}

var errNotJSON = fmt.Errorf("not JSON")
