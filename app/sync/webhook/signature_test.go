package webhook

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestVerify(t *testing.T) {
	secret := []byte("whsec")
	body := []byte(`{"a":1}` + "\n")
	now := time.Unix(1_800_000_000, 0)
	good := Sign(secret, now, body)
	for _, tc := range []struct {
		name   string
		header string
		body   []byte
		at     time.Time
		want   error
	}{
		{"valid", good, body, now, nil},
		{"valid within window", good, body, now.Add(4 * time.Minute), nil},
		{"replayed late", good, body, now.Add(6 * time.Minute), ErrStale},
		{"from the future", good, body, now.Add(-6 * time.Minute), ErrStale},
		{"body changed", good, []byte(`{"a":2}` + "\n"), now, ErrBadSignature},
		{"other secret", Sign([]byte("x"), now, body), body, now, ErrBadSignature},
		{"timestamp changed", strings.Replace(good, "t=1800000000", "t=1800000001", 1), body, now, ErrBadSignature},
		{"rotation: second v1 matches", "t=1800000000,v1=" + strings.Repeat("0", 64) + "," + good[strings.Index(good, "v1="):], body, now, nil},
		{"empty", "", body, now, ErrNoSignature},
		{"no v1", "t=1800000000", body, now, ErrNoSignature},
		{"short v1", "t=1800000000,v1=abcd", body, now, ErrNoSignature},
		{"negative t", "t=-1,v1=" + strings.Repeat("0", 64), body, now, ErrNoSignature},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := Verify(secret, tc.header, tc.body, tc.at, 0)
			if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
				t.Fatalf("Verify = %v, want %v", err, tc.want)
			}
		})
	}
}

func FuzzParseSignature(f *testing.F) {
	f.Add("t=1800000000,v1=" + strings.Repeat("ab", 32))
	f.Add("t=1,v1=" + strings.Repeat("00", 32) + ",v0=zz")
	f.Add("v1=,t=")
	f.Add("t=1,t=2")
	f.Add(",,,=")
	f.Fuzz(func(t *testing.T, h string) {
		s, err := ParseSignature(h)
		if err != nil {
			return
		}
		if s.Timestamp < 0 || len(s.V1) == 0 {
			t.Fatalf("accepted %q as %+v", h, s)
		}
		for _, v := range s.V1 {
			if len(v) != 32 {
				t.Fatalf("v1 of %d bytes from %q", len(v), h)
			}
		}
		// A header we produce for its timestamp parses back to it.
		body := []byte(h)
		sig, err := ParseSignature(Sign([]byte("k"), time.Unix(s.Timestamp, 0), body))
		if err != nil || sig.Timestamp != s.Timestamp {
			t.Fatalf("round trip of t=%d: %+v, %v", s.Timestamp, sig, err)
		}
		if err := Verify([]byte("k"), Sign([]byte("k"), time.Unix(s.Timestamp, 0), body), body, time.Unix(s.Timestamp, 0), 0); err != nil {
			t.Fatalf("own signature does not verify: %v", err)
		}
	})
}
