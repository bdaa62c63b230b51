package azure_test

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/axiomops/axiom-audit/app/sync/azure"
)

// FuzzParseCredentials: the keychain's Azure credentials never panic the
// parser; what it accepts is exactly one of a shared key (a valid account
// name and a base64 key) or a SAS token (with sv and sig, no leading ?),
// and reads back the same when written as JSON, or in the text form that
// can hold it; a refusal never repeats a secret.
func FuzzParseCredentials(f *testing.F) {
	for _, s := range []string{`{"accountName":"acct1","accountKey":"a2V5"}`, "acct1:a2V5\n", devAccount + ":" + devKey,
		`{"sasToken":"?sv=2024-11-04&sig=abc%3D"}`, "?sv=2024-11-04&ss=b&srt=o&sp=cw&se=2027-01-01T00:00:00Z&sig=abc%3D", "sv=1&sig=2",
		"sp=cw&sv=1&sig=2", "sv=1", "acct1", "acct1:", ":a2V5", "Acct1:a2V5", "acct1:not base64", "", " { ", `{"accountName":"acct1"}`,
		`{"AccountName":"acct1","ACCOUNTKEY":"a2V5"}`, `{"accountName":"acct1","accountKey":"a2V5"} x`, `{"accountName":"acct1","accountKey":"a2V5","sasToken":"sv=1&sig=2"}`,
		"https://a.blob.core.windows.net/c?sv=1&sig=2", "sv=1&sig=%zz", "?", "sv=1&sig=2#x", "\ufeffacct1:a2V5", `{"sasToken":"{=1&sv=1&sig=2"}`, `{"sasToken":"sv=1&sig=2&u=a://b"}`} {
		f.Add([]byte(s), "1234567890")
	}
	f.Fuzz(func(t *testing.T, b []byte, secret string) {
		c, err := azure.ParseCredentials(b)
		if err != nil {
			if c != nil {
				t.Fatalf("%q: refused (%v) but returned %+v", b, err, c)
			}
		} else {
			if c == nil {
				t.Fatalf("%q: accepted nothing", b)
			}
			if c.SASToken != "" {
				if c.AccountName != "" || c.AccountKey != "" || strings.HasPrefix(c.SASToken, "?") || !strings.Contains(c.SASToken, "sig=") {
					t.Fatalf("%q: accepted as a SAS token %+v", b, c)
				}
			} else {
				if c.AccountName == "" || c.AccountKey == "" {
					t.Fatalf("%q: accepted without a shared key or a SAS token: %+v", b, c)
				}
				if _, err := base64.StdEncoding.DecodeString(c.AccountKey); err != nil {
					t.Fatalf("%q: accepted a key that is not base64: %+v", b, c)
				}
			}
			if utf8.ValidString(c.AccountName) && utf8.ValidString(c.AccountKey) && utf8.ValidString(c.SASToken) {
				j, _ := json.Marshal(c)
				back, err := azure.ParseCredentials(j)
				if err != nil || *back != *c {
					t.Fatalf("%q read as %+v, written as %s, reads back as %+v, %v", b, c, j, back, err)
				}
			}
			text := c.SASToken
			if text == "" {
				text = c.AccountName + ":" + c.AccountKey
			}
			back, err := azure.ParseCredentials([]byte(text))
			if err != nil || *back != *c {
				t.Fatalf("%q read as %+v, written as %q, reads back as %+v, %v", b, c, text, back, err)
			}
		}

		// A secret of digits, in every place a malformed entry can hold
		// it, does not appear in the error.
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
			`{"accountName":"acct1","accountKey":` + digits + `}`,
			`{"accountName":"acct1","accountKey":"` + digits + `!"}`,
			`{"accountName":` + digits + `,"accountKey":"` + digits + `"}`,
			`{"accountName":"acct1","accountKey":"` + digits + `"`,
			`{"accountName":"acct1","accountKey":"` + digits + `"}` + digits,
			`{"accountName":"acct1","accountKey":[` + digits + `]}`,
			`{"accountName":"acct1","accountKey":"` + digits + "\x01\"}",
			`{"sasToken":"sv=1&sig=` + digits + ` "}`,
			`{"sasToken":"sig=` + digits + `"}`,
			`{"sasToken":"sv=1&sig=` + digits + `","accountKey":"` + digits + `"}`,
			"sv=1&sig=" + digits + "%zz", "sig=" + digits, "sv=1&sig=" + digits + "#x",
			"https://a.blob.core.windows.net/c?sv=1&sig=" + digits,
			"acct1:" + digits + "!", digits, ":" + digits, digits + ":",
		} {
			if _, err := azure.ParseCredentials([]byte(in)); err == nil {
				t.Fatalf("%q: accepted", in)
			} else if strings.Contains(err.Error(), digits) {
				t.Fatalf("%q: the error repeats the secret: %v", in, err)
			}
		}
	})
}
