// Package webhook delivers an organization's events to a SIEM over HTTPS:
// one POST per batch in a chosen export format, gzip-compressed, signed
// with HMAC-SHA256 over the timestamp and the raw body (see [Sign] and
// [Verify]).
//
// # Request
//
//	POST <url>
//	Content-Type: <the format's media type>
//	Content-Encoding: gzip
//	X-Axiom-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>." + raw body)>
//	X-Axiom-Org: <organization id>
//	X-Axiom-Seq: <first seq>-<last seq>
//	Idempotency-Key: <org>/<first seq>-<last seq>
//
// Any 2xx acknowledges the whole batch. 408, 429 and 5xx are retried with
// backoff (Retry-After honoured); any other 4xx stops the destination.
// Delivery is at least once: a receiver removes duplicates by the events'
// (organization, seq, id).
package webhook

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	axsync "github.com/axiomops/axiom-audit/app/sync"
	"github.com/axiomops/axiom-audit/storage"
)

// Encoder writes a batch of events in one export format.
type Encoder interface {
	Encode(w io.Writer, events []storage.StoredEvent) error
	ContentType() string
}

// JSONLines is the jsonl format: the sync wire format of
// axsync.WriteJSONLines.
type JSONLines struct{ WithStates bool }

// Encode writes one line per event.
func (j JSONLines) Encode(w io.Writer, events []storage.StoredEvent) error {
	return axsync.WriteJSONLines(w, events, j.WithStates)
}

// ContentType is application/x-ndjson.
func (JSONLines) ContentType() string { return axsync.ContentTypeJSONLines }

// Client posts batches to one webhook URL.
type Client struct {
	URL    string
	Secret []byte
	// Encoder is the body's format; nil means JSONLines without states.
	Encoder Encoder
	// Uncompressed sends the body as is instead of gzip.
	Uncompressed bool
	// Authorization, when set, is sent as the Authorization header (a
	// Splunk HEC endpoint wants "Splunk <token>").
	Authorization string
	// HTTPClient defaults to one with a 30-second timeout.
	HTTPClient *http.Client
	Now        func() time.Time
}

// NewClient returns a Client posting to url.
func NewClient(url string, secret []byte, enc Encoder) *Client {
	return &Client{URL: url, Secret: secret, Encoder: enc}
}

// Deliver posts b and acknowledges all of it on any 2xx.
func (c *Client) Deliver(ctx context.Context, b axsync.Batch) (axsync.Ack, error) {
	now := time.Now
	if c.Now != nil {
		now = c.Now
	}
	enc := c.Encoder
	if enc == nil {
		enc = JSONLines{}
	}
	var body bytes.Buffer
	var err error
	if c.Uncompressed {
		err = enc.Encode(&body, b.Events)
	} else {
		zw, _ := gzip.NewWriterLevel(&body, gzip.BestSpeed)
		if err = enc.Encode(zw, b.Events); err == nil {
			err = zw.Close()
		}
	}
	if err != nil {
		return axsync.Ack{}, fmt.Errorf("failed to encode the batch: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.URL, bytes.NewReader(body.Bytes()))
	if err != nil {
		return axsync.Ack{}, fmt.Errorf("%w: %v", axsync.ErrRejected, err)
	}
	seqs := strconv.FormatUint(b.First(), 10) + "-" + strconv.FormatUint(b.Last(), 10)
	req.Header.Set("Content-Type", enc.ContentType())
	if !c.Uncompressed {
		req.Header.Set("Content-Encoding", "gzip")
	}
	req.Header.Set("User-Agent", "axiom-audit-sync/1")
	if c.Authorization != "" {
		req.Header.Set("Authorization", c.Authorization)
	}
	req.Header.Set(SignatureHeader, Sign(c.Secret, now(), body.Bytes()))
	req.Header.Set("X-Axiom-Org", b.Org)
	req.Header.Set("X-Axiom-Seq", seqs)
	req.Header.Set("Idempotency-Key", b.Org+"/"+seqs)
	resp, err := axsync.Post(c.HTTPClient, 30*time.Second, req)
	if err != nil {
		return axsync.Ack{}, fmt.Errorf("failed to post the batch: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return axsync.Ack{}, axsync.ResponseError(resp, now())
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	return axsync.Ack{Seq: b.Last()}, nil
}
