package sync_test

import (
	"math/big"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	axsync "github.com/axiomops/axiom-audit/app/sync"
)

// FuzzParseKind: ParseKind takes exactly the names of Kinds, returns the
// kind named, quotes what it refuses, and agrees with Config.Validate,
// which must refuse a kind ParseKind refuses and accept the others.
func FuzzParseKind(f *testing.F) {
	for _, s := range []string{"tenant", "s3", "azure", "webhook", "", "S3", "tenant ", "webhooks", "\x00", "s3\n", "ü"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		k, err := axsync.ParseKind(s)
		known := slices.Contains(axsync.Kinds, axsync.Kind(s))
		if (err == nil) != known {
			t.Fatalf("ParseKind(%q) = %q, %v; a kind of Kinds: %v", s, k, err, known)
		}
		if err != nil {
			if k != "" || !strings.Contains(err.Error(), strconv.Quote(s)) {
				t.Fatalf("ParseKind(%q) = %q, %v: the error must quote the input and no kind be returned", s, k, err)
			}
		} else if string(k) != s {
			t.Fatalf("ParseKind(%q) = %q", s, k)
		}
		c := axsync.Config{Org: "acme", Kind: axsync.Kind(s), URL: "https://example.com/hook", Format: "jsonl", Bucket: "b",
			AccountURL: "https://acct1.blob.core.windows.net", Container: "audit"}
		if verr := c.Validate(); (verr == nil) != known {
			t.Fatalf("Config.Validate with kind %q: %v; ParseKind: %v", s, verr, err)
		}
	})
}

// retryAfterCeiling is the longest wait ParseRetryAfter gives.
const retryAfterCeiling = 24 * time.Hour

// refRetryAfter reads Retry-After as RFC 9110 §10.2.3 defines it:
// delay-seconds (1*DIGIT, however many) or an HTTP-date, with the wait
// capped at a day; anything else, or a date not after now, is no wait.
func refRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v != "" && strings.Trim(v, "0123456789") == "" {
		n, _ := new(big.Int).SetString(v, 10)
		if n.Cmp(big.NewInt(int64(retryAfterCeiling/time.Second))) > 0 {
			return retryAfterCeiling
		}
		return time.Duration(n.Int64()) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return min(max(t.Sub(now), 0), retryAfterCeiling)
	}
	return 0
}

// FuzzParseRetryAfter: the wait a destination asks for is never negative,
// never more than a day, and is what RFC 9110 says the header means: a
// delay in seconds too large to represent is the longest wait, not none.
func FuzzParseRetryAfter(f *testing.F) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	for _, s := range []string{"", "0", "120", " 120 ", "86400", "86401", "-1", "+5", "1.5", "0x10", "1e3", "٣",
		"9223372036854775807", "9223372036854775808", "99999999999999999999", "00000000000000000000000120",
		"Fri, 27 Nov 2026 12:02:00 GMT", "Fri, 27 Nov 2026 11:00:00 GMT", "Sun, 06 Nov 1994 08:49:37 GMT",
		"Sunday, 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 1994", "Fri, 27 Nov 9999 12:00:00 GMT", "Fri, 27 Nov 2026 12:02:00 UTC"} {
		f.Add(s, int64(0))
	}
	f.Fuzz(func(t *testing.T, v string, offset int64) {
		at := now.Add(time.Duration(offset))
		d := axsync.ParseRetryAfter(v, at)
		if d < 0 || d > retryAfterCeiling {
			t.Fatalf("ParseRetryAfter(%q) = %v: out of [0, %v]", v, d, retryAfterCeiling)
		}
		if want := refRetryAfter(v, at); d != want {
			t.Fatalf("ParseRetryAfter(%q, %v) = %v, want %v", v, at, d, want)
		}
	})
}
