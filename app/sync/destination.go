package sync

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/axiomops/axiom-audit/storage"
	"github.com/axiomops/axiom-audit/storage/tlog"
)

// Kind names a type of destination.
type Kind string

// The destinations.
const (
	KindTenant  Kind = "tenant"
	KindS3      Kind = "s3"
	KindAzure   Kind = "azure"
	KindWebhook Kind = "webhook"
)

// Kinds lists every kind, in the order status shows them.
var Kinds = []Kind{KindTenant, KindS3, KindAzure, KindWebhook}

// ParseKind returns the Kind named s.
func ParseKind(s string) (Kind, error) {
	for _, k := range Kinds {
		if string(k) == s {
			return k, nil
		}
	}
	return "", fmt.Errorf("destination %q: must be tenant, s3, azure or webhook", s)
}

// Batch is a run of one organization's events, consecutive in seq, with
// the newest signed checkpoint of that organization's log when there is
// one.
type Batch struct {
	Org    string
	Events []storage.StoredEvent // seq ascending, no gaps, at least one
	// Checkpoint is the newest signed checkpoint (nil when the integrity
	// layer has none yet).
	Checkpoint *Checkpoint
	// PrevSize is the size of the checkpoint the destination acknowledged
	// last (0: none) and Proof the RFC 6962 consistency proof from it to
	// Checkpoint; empty when PrevSize is 0 or equals Checkpoint.Size.
	PrevSize uint64
	Proof    [][]byte
}

// First is the seq of the batch's first event.
func (b Batch) First() uint64 { return b.Events[0].Seq }

// Last is the seq of the batch's last event.
func (b Batch) Last() uint64 { return b.Events[len(b.Events)-1].Seq }

// Checkpoint is a signed checkpoint of one organization's log.
type Checkpoint struct {
	Size uint64
	Root tlog.Hash
	// Note is the C2SP signed note, verbatim.
	Note []byte
}

// Ack is a destination's acknowledgement of a batch.
type Ack struct {
	// Seq is the highest seq the destination has stored, all lower seqs
	// included. It may be below the batch (the destination lost data: the
	// Syncer resends from there) or above it (it had them already).
	Seq uint64
	// Checkpoint is the signed note the destination holds as a witness,
	// nil when it keeps none (only the tenant does).
	Checkpoint []byte
}

// Destination is where an organization's events go. Deliver MUST be
// idempotent per event (organization, seq, id): the Syncer resends after
// any doubt. It MUST NOT return an Ack for events it has not durably
// stored. Errors that are an HTTP answer SHOULD be a *StatusError so that
// the Syncer can tell a retry from a rejection.
type Destination interface {
	Deliver(ctx context.Context, b Batch) (Ack, error)
}

// Errors.
var (
	// ErrRejected: the destination refused the batch for good (a 4xx other
	// than 408 and 429); retrying the same batch cannot succeed.
	ErrRejected = errors.New("the destination rejected the batch")
	// ErrInconsistent: a checkpoint the destination holds is not
	// consistent with the local log.
	ErrInconsistent = errors.New("the destination's checkpoint is not consistent with the local log")
	// ErrProtocol: the destination's answer could not be understood.
	ErrProtocol = errors.New("the destination's answer is not valid")
	// ErrNotEnabled: the destination is not enabled for the organization.
	ErrNotEnabled = errors.New("sync is not enabled for this destination")
	// ErrClosed: the Syncer was closed.
	ErrClosed = errors.New("syncer closed")
)

// StatusError is an HTTP answer other than success.
type StatusError struct {
	Code int
	// RetryAfter is the wait the destination asked for (Retry-After), 0
	// when it named none.
	RetryAfter time.Duration
	// Message is the start of the answer's body, for the status line.
	Message string
}

func (e *StatusError) Error() string {
	msg := fmt.Sprintf("HTTP %d %s", e.Code, http.StatusText(e.Code))
	if e.Message != "" {
		msg += ": " + e.Message
	}
	return msg
}

// Permanent reports whether retrying cannot help: a redirect (which sync
// does not follow) other than 307 Temporary Redirect (S3 answers it while
// a new bucket's name spreads), or a 4xx other than 408 Request Timeout
// and 429 Too Many Requests.
func (e *StatusError) Permanent() bool {
	switch e.Code {
	case http.StatusTemporaryRedirect, http.StatusRequestTimeout, http.StatusTooManyRequests:
		return false
	}
	return e.Code >= 300 && e.Code < 500
}

// Post sends req with hc (nil: a client with timeout) without following
// redirects. A client that follows them turns a POST answered 301 or 302
// into a GET of the new location, whose 200 would count the batch as
// delivered when it never arrived; a redirect is instead the destination's
// answer, an error (ResponseError) that names where it points.
func Post(hc *http.Client, timeout time.Duration, req *http.Request) (*http.Response, error) {
	c := http.Client{Timeout: timeout}
	if hc != nil {
		c = *hc
	}
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return c.Do(req)
}

// Is makes a permanent StatusError match ErrRejected.
func (e *StatusError) Is(target error) bool { return target == ErrRejected && e.Permanent() }

// ParseRetryAfter reads a Retry-After header: delay seconds or an HTTP
// date, relative to now, at most a day. It returns 0 when v is empty or
// invalid.
func ParseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if strings.Trim(v, "0123456789") == "" {
		// delay-seconds is 1*DIGIT: no sign. Digits too many for an int64
		// are a wait longer than the cap, not none.
		const ceiling = int64(24 * time.Hour / time.Second)
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			n = ceiling
		}
		return time.Duration(min(n, ceiling)) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return min(d, 24*time.Hour)
		}
	}
	return 0
}

// ResponseError turns a non-2xx HTTP response into a *StatusError,
// reading at most 512 bytes of its body for the message.
func ResponseError(resp *http.Response, now time.Time) *StatusError {
	var buf [512]byte
	n, _ := readFull(resp.Body, buf[:])
	msg := strings.TrimSpace(strings.ToValidUTF8(string(buf[:n]), "?"))
	if resp.StatusCode >= 300 && resp.StatusCode < 400 {
		msg = "a redirect, which sync does not follow: set the destination's URL to the address it should post to"
		if loc, err := resp.Location(); err == nil {
			// Without what may be a credential (user, query).
			loc.User, loc.RawQuery, loc.Fragment = nil, "", ""
			msg = "a redirect to " + loc.String() + ", which sync does not follow: set the destination's URL to the address it should post to"
		}
	}
	return &StatusError{
		Code:       resp.StatusCode,
		RetryAfter: ParseRetryAfter(resp.Header.Get("Retry-After"), now),
		Message:    msg,
	}
}
