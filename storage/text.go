package storage

import (
	"encoding/json"
	"strings"
	"unicode"
	"unicode/utf8"
)

// TextTerms splits a free-text search (Filter.Text) into what each event
// must contain: its words, separated by white space, and each phrase in
// double quotes whole ("access denied"). A quote that is not closed runs
// to the end; empty phrases are dropped. There are no escapes: a double
// quote inside a word (say"hi) is part of it.
func TextTerms(s string) []string {
	var terms []string
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case unicode.IsSpace(r):
			i += size
		case r == '"':
			end := strings.IndexByte(s[i+1:], '"')
			phrase := s[i+1:]
			if end >= 0 {
				phrase = s[i+1 : i+1+end]
				i += end + 2
			} else {
				i = len(s)
			}
			if strings.TrimSpace(phrase) != "" {
				terms = append(terms, phrase)
			}
		default:
			j := strings.IndexFunc(s[i:], unicode.IsSpace)
			if j < 0 {
				j = len(s) - i
			}
			terms = append(terms, s[i:i+j])
			i += j
		}
	}
	return terms
}

// containsLower reports whether strings.ToLower(v) contains term, which
// is in lower case already, without the copy ToLower makes when v and
// term are ASCII: a free-text search tests every field of every event it
// reads.
func containsLower(v, term string) bool {
	if !isASCII(v) || !isASCII(term) {
		return strings.Contains(strings.ToLower(v), term)
	}
	if len(term) == 0 {
		return true
	}
	for i := 0; i+len(term) <= len(v); i++ {
		j := 0
		for ; j < len(term); j++ {
			c := v[i+j]
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			if c != term[j] {
				break
			}
		}
		if j == len(term) {
			return true
		}
	}
	return false
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// anyJSONValue reports whether fn holds for one of the scalar values of
// the JSON document doc: each string as it reads once unescaped, each
// number as written, and true and false. Object keys and the punctuation
// between values are not values: a free-text search for "path" or `":"`
// must not find every event whose metadata has a path.
//
// doc is the metadata of a stored record, which the store keeps in
// canonical form (RFC 8785); anything else that is not valid JSON gives
// false, never a panic.
func anyJSONValue(doc []byte, fn func(string) bool) bool {
	// inObject[d] tells whether the container at depth d is an object, and
	// key whether the next string is one of its keys.
	var inObject []bool
	key := false
	for i := 0; i < len(doc); {
		switch c := doc[i]; c {
		case ' ', '\t', '\n', '\r':
			i++
		case '{', '[':
			inObject = append(inObject, c == '{')
			key = c == '{'
			i++
		case '}', ']':
			if len(inObject) == 0 {
				return false
			}
			inObject = inObject[:len(inObject)-1]
			key = false
			i++
		case ',':
			key = len(inObject) > 0 && inObject[len(inObject)-1]
			i++
		case ':':
			key = false
			i++
		case '"':
			end, escaped := stringEnd(doc, i)
			if end < 0 {
				return false
			}
			if !key {
				var v string
				if escaped {
					if json.Unmarshal(doc[i:end], &v) != nil {
						return false
					}
				} else {
					v = string(doc[i+1 : end-1])
				}
				if fn(v) {
					return true
				}
			}
			i = end
		default:
			j := i
			for j < len(doc) && !strings.ContainsRune(" \t\n\r,:]}[{\"", rune(doc[j])) {
				j++
			}
			if tok := string(doc[i:j]); tok != "null" && !key && fn(tok) {
				return true
			}
			if j == i {
				return false
			}
			i = j
		}
	}
	return false
}

// stringEnd returns the index just past the JSON string that starts at
// doc[i] (a quote), and whether it holds an escape; -1 when it does not
// end.
func stringEnd(doc []byte, i int) (end int, escaped bool) {
	for j := i + 1; j < len(doc); j++ {
		switch doc[j] {
		case '\\':
			escaped = true
			j++
		case '"':
			return j + 1, escaped
		}
	}
	return -1, escaped
}
