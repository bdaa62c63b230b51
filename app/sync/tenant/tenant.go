// Package tenant delivers an organization's events to the Axiom cloud
// tenant and uses the tenant as a witness of the log's checkpoints. The
// protocol is specified in openapi.json next to this file; [Server] is an
// in-memory reference implementation used by the tests.
//
// # Request
//
//	POST <url>/v1/orgs/<org>/batches
//	Authorization: Bearer <token>
//	Content-Type: application/x-ndjson
//	Content-Encoding: gzip
//	Idempotency-Key: <org>/<first seq>-<last seq>
//	X-Axiom-Checkpoint: <base64 of the newest signed checkpoint note>      (when there is one)
//	X-Axiom-Consistency-From: <size of the checkpoint the tenant acknowledged last>
//	X-Axiom-Consistency-Proof: <base64 hash>,<base64 hash>,…               (from that size to the new one)
//
// The body is gzip JSON Lines, one event per line (see
// axsync.WriteJSONLines); each event's idempotency key is (org, seq, id).
//
// # Acknowledgement
//
//	200 {"org":"…","highestSeq":N,"checkpoint":"<signed note>"}
//
// highestSeq is the highest seq the tenant has stored with every lower
// one: the client resends from highestSeq+1, so an acknowledgement below
// the batch means the tenant lost data and gets it again. checkpoint is the
// newest checkpoint the tenant verified and holds; the client checks it
// against the local log (the tenant is a witness).
package tenant

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	axsync "github.com/axiomops/axiom-audit/app/sync"
)

// Client delivers batches to one tenant.
type Client struct {
	// URL is the tenant's base URL (https://tenant.example.com).
	URL   string
	Token []byte
	// HTTPClient defaults to one with a 60-second timeout.
	HTTPClient *http.Client
	Now        func() time.Time
}

// NewClient returns a Client for the tenant at baseURL.
func NewClient(baseURL string, token []byte) *Client {
	return &Client{URL: baseURL, Token: token}
}

// AckResponse is the tenant's acknowledgement.
type AckResponse struct {
	Org        string `json:"org"`
	HighestSeq uint64 `json:"highestSeq"`
	Checkpoint string `json:"checkpoint,omitempty"`
}

// ErrorResponse is the body of the tenant's error answers.
type ErrorResponse struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// maxAckBytes bounds what DecodeAck reads.
const maxAckBytes = 64 << 10

// DecodeAck decodes and checks an acknowledgement of org's batch.
func DecodeAck(r io.Reader, org string) (axsync.Ack, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxAckBytes+1))
	if err != nil {
		return axsync.Ack{}, fmt.Errorf("failed to read the acknowledgement: %w", err)
	}
	if len(b) > maxAckBytes {
		return axsync.Ack{}, fmt.Errorf("%w: acknowledgement over %d bytes", axsync.ErrProtocol, maxAckBytes)
	}
	var a AckResponse
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&a); err != nil {
		return axsync.Ack{}, fmt.Errorf("%w: acknowledgement: %v", axsync.ErrProtocol, err)
	}
	if dec.More() {
		return axsync.Ack{}, fmt.Errorf("%w: acknowledgement: trailing data", axsync.ErrProtocol)
	}
	if a.Org != org {
		return axsync.Ack{}, fmt.Errorf("%w: acknowledgement names organization %q, not %q", axsync.ErrProtocol, a.Org, org)
	}
	ack := axsync.Ack{Seq: a.HighestSeq}
	if a.Checkpoint != "" {
		ack.Checkpoint = []byte(a.Checkpoint)
	}
	return ack, nil
}

// Deliver sends b with the newest checkpoint and the consistency proof
// from the checkpoint the tenant acknowledged last.
func (c *Client) Deliver(ctx context.Context, b axsync.Batch) (axsync.Ack, error) {
	now := time.Now
	if c.Now != nil {
		now = c.Now
	}
	body, err := axsync.GzipJSONLines(b.Events, true)
	if err != nil {
		return axsync.Ack{}, fmt.Errorf("failed to encode the batch: %w", err)
	}
	u := strings.TrimRight(c.URL, "/") + "/v1/orgs/" + url.PathEscape(b.Org) + "/batches"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return axsync.Ack{}, fmt.Errorf("%w: %v", axsync.ErrRejected, err)
	}
	seqs := strconv.FormatUint(b.First(), 10) + "-" + strconv.FormatUint(b.Last(), 10)
	h := req.Header
	h.Set("Authorization", "Bearer "+string(c.Token))
	h.Set("Content-Type", axsync.ContentTypeJSONLines)
	h.Set("Content-Encoding", "gzip")
	h.Set("Accept", "application/json")
	h.Set("User-Agent", "axiom-audit-sync/1")
	h.Set("Idempotency-Key", b.Org+"/"+seqs)
	if cp := b.Checkpoint; cp != nil {
		h.Set("X-Axiom-Checkpoint", base64.StdEncoding.EncodeToString(cp.Note))
		h.Set("X-Axiom-Consistency-From", strconv.FormatUint(b.PrevSize, 10))
		if len(b.Proof) > 0 {
			parts := make([]string, len(b.Proof))
			for i, p := range b.Proof {
				parts[i] = base64.StdEncoding.EncodeToString(p)
			}
			h.Set("X-Axiom-Consistency-Proof", strings.Join(parts, ","))
		}
	}
	resp, err := axsync.Post(c.HTTPClient, 60*time.Second, req)
	if err != nil {
		return axsync.Ack{}, fmt.Errorf("failed to post the batch: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusConflict {
		// The tenant found the proof inconsistent with what it witnessed.
		se := axsync.ResponseError(resp, now())
		var er ErrorResponse
		if json.Unmarshal([]byte(se.Message), &er) == nil && er.Code == "inconsistent" {
			return axsync.Ack{}, &axsync.InconsistencyError{Size: b.PrevSize, Reason: "the tenant refused the checkpoint: " + er.Message}
		}
		return axsync.Ack{}, se
	}
	if resp.StatusCode != http.StatusOK {
		return axsync.Ack{}, axsync.ResponseError(resp, now())
	}
	return DecodeAck(resp.Body, b.Org)
}
