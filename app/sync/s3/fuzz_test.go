package s3_test

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/axiomops/axiom-audit/app/sync/s3"
)

// FuzzParseCredentials: the keychain's S3 keys never panic the parser; what
// it accepts has an access key id and a secret, and reads back the same
// when written in either form it takes (JSON, or ID:SECRET when that form
// can hold the keys); a refusal never repeats a secret.
func FuzzParseCredentials(f *testing.F) {
	for _, s := range []string{`{"accessKeyId":"AKID","secretAccessKey":"s"}`, `{"accessKeyId":"AKID","secretAccessKey":"s","sessionToken":"t"}`,
		"AKID:secret\n", "AKID:sec:ret", ":secret", "AKID:", "AKID", "", " { ", `{"accessKeyId":"AKID"}`, `{"AccessKeyID":"a","SECRETACCESSKEY":"b"}`,
		`{"accessKeyId":"a","secretAccessKey":"b"} x`, `{"accessKeyId":1,"secretAccessKey":"b"}`, "\ufeffAKID:secret", `{"accessKeyId":"a\u0000","secretAccessKey":"\ud800"}`} {
		f.Add([]byte(s), "1234567890")
	}
	f.Fuzz(func(t *testing.T, b []byte, secret string) {
		c, err := s3.ParseCredentials(b)
		if err != nil {
			if c != nil {
				t.Fatalf("%q: refused (%v) but returned %+v", b, err, c)
			}
		} else {
			if c == nil || c.AccessKeyID == "" || c.SecretAccessKey == "" {
				t.Fatalf("%q: accepted without an access key id and a secret: %+v", b, c)
			}
			if utf8.ValidString(c.AccessKeyID) && utf8.ValidString(c.SecretAccessKey) && utf8.ValidString(c.SessionToken) {
				j, _ := json.Marshal(c)
				back, err := s3.ParseCredentials(j)
				if err != nil || *back != *c {
					t.Fatalf("%q read as %+v, written as %s, reads back as %+v, %v", b, c, j, back, err)
				}
			}
			if c.SessionToken == "" && !strings.Contains(c.AccessKeyID, ":") && !strings.HasPrefix(c.AccessKeyID, "{") &&
				strings.TrimLeftFunc(c.AccessKeyID, unicode.IsSpace) == c.AccessKeyID &&
				strings.TrimRightFunc(c.SecretAccessKey, unicode.IsSpace) == c.SecretAccessKey {
				pair := c.AccessKeyID + ":" + c.SecretAccessKey
				back, err := s3.ParseCredentials([]byte(pair))
				if err != nil || *back != *c {
					t.Fatalf("%q read as %+v, written as %q, reads back as %+v, %v", b, c, pair, back, err)
				}
			}
		}

		// A secret of digits, in every place a malformed entry can hold
		// it, does not appear in the error (encoding/json's messages name
		// types and at most one character of the input).
		digits := strings.Map(func(r rune) rune {
			if r >= '0' && r <= '9' {
				return r
			}
			return -1
		}, secret)
		if len(digits) < 6 {
			return
		}
		for _, in := range []string{
			`{"accessKeyId":"AKID","secretAccessKey":` + digits + `}`,
			`{"accessKeyId":` + digits + `,"secretAccessKey":"` + digits + `"}`,
			`{"accessKeyId":"AKID","secretAccessKey":"` + digits + `"`,
			`{"accessKeyId":"AKID","secretAccessKey":"` + digits + `"}` + digits,
			`{"accessKeyId":"AKID","secretAccessKey":[` + digits + `]}`,
			`{"accessKeyId":"AKID","secretAccessKey":"` + digits + "\x01\"}",
			`{"accessKeyId":"AKID","sessionToken":"` + digits + `"}`,
			`{"accessKeyId":"AKID","secretAccessKey":"` + digits + `",}`,
			digits, ":" + digits, digits + ":",
		} {
			if _, err := s3.ParseCredentials([]byte(in)); err == nil {
				t.Fatalf("%q: accepted", in)
			} else if strings.Contains(err.Error(), digits) {
				t.Fatalf("%q: the error repeats the secret: %v", in, err)
			}
		}
	})
}
