package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// SignatureHeader is the header that carries the signature of a delivery.
const SignatureHeader = "X-Axiom-Signature"

// DefaultTolerance is the replay window receivers should use: a delivery
// whose timestamp is further than this from the receiver's clock is
// refused.
const DefaultTolerance = 5 * time.Minute

// Errors of Verify.
var (
	ErrNoSignature  = errors.New("the request has no valid signature header")
	ErrBadSignature = errors.New("the signature does not match the body")
	ErrStale        = errors.New("the signature's timestamp is outside the replay window")
)

// Sign returns the X-Axiom-Signature value of body sent at t:
//
//	t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>." + body)>
//
// body is the raw body as sent on the wire (compressed when the request
// has Content-Encoding: gzip).
func Sign(secret []byte, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + ",v1=" + hex.EncodeToString(mac(secret, ts, body))
}

func mac(secret []byte, ts string, body []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(ts))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}

// Signature is a parsed X-Axiom-Signature header.
type Signature struct {
	Timestamp int64
	// V1 are the v1 signatures (more than one while a secret rotates).
	V1 [][]byte
}

// ParseSignature parses an X-Axiom-Signature header value. Unknown keys are
// ignored so that later schemes can be added next to v1.
func ParseSignature(h string) (Signature, error) {
	var s Signature
	if len(h) > 4096 {
		return s, fmt.Errorf("%w: header longer than 4096 bytes", ErrNoSignature)
	}
	haveT := false
	for part := range strings.SplitSeq(h, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return Signature{}, fmt.Errorf("%w: %q is not key=value", ErrNoSignature, part)
		}
		switch k {
		case "t":
			if haveT {
				return Signature{}, fmt.Errorf("%w: two timestamps", ErrNoSignature)
			}
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 0 || v[0] == '+' {
				return Signature{}, fmt.Errorf("%w: timestamp %q is not unix seconds", ErrNoSignature, v)
			}
			s.Timestamp, haveT = n, true
		case "v1":
			b, err := hex.DecodeString(v)
			if err != nil || len(b) != sha256.Size {
				return Signature{}, fmt.Errorf("%w: v1 is not 64 hex digits", ErrNoSignature)
			}
			s.V1 = append(s.V1, b)
		}
	}
	if !haveT || len(s.V1) == 0 {
		return Signature{}, fmt.Errorf("%w: it needs t= and v1=", ErrNoSignature)
	}
	return s, nil
}

// Verify is the receiver's check of a delivery: header is the
// X-Axiom-Signature value, body the raw request body as received (before
// any gzip decoding), now the receiver's clock and tolerance the replay
// window (DefaultTolerance when 0). It returns nil only when one v1
// signature is HMAC-SHA256(secret, "<t>." + body), compared in constant
// time, and t is within tolerance of now. Receivers should also drop
// events whose key (org, seq, id) they already stored: a retried delivery
// is signed anew.
func Verify(secret []byte, header string, body []byte, now time.Time, tolerance time.Duration) error {
	if tolerance <= 0 {
		tolerance = DefaultTolerance
	}
	sig, err := ParseSignature(header)
	if err != nil {
		return err
	}
	if d := now.Sub(time.Unix(sig.Timestamp, 0)); d > tolerance || d < -tolerance {
		return fmt.Errorf("%w: signed at %s, %s from now", ErrStale, time.Unix(sig.Timestamp, 0).UTC().Format(time.RFC3339), d.Round(time.Second))
	}
	want := mac(secret, strconv.FormatInt(sig.Timestamp, 10), body)
	for _, v := range sig.V1 {
		if hmac.Equal(v, want) {
			return nil
		}
	}
	return ErrBadSignature
}
