package sync

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"strconv"

	"github.com/axiomops/axiom-audit/storage"
)

// ContentTypeJSONLines is the media type of WriteJSONLines.
const ContentTypeJSONLines = "application/x-ndjson"

// WriteJSONLines writes one line per event, the sync wire format shared by
// the tenant, S3 and the webhook's jsonl format:
//
//	{"org":"…","seq":N,"id":"…","leafHash":"…","record":<public record>[,"beforeState":…][,"afterState":…]}
//
// org, seq and id are the idempotency key. record is the public record
// exactly as hashed (RFC 8785 JCS), so that a receiver recomputes the leaf
// hash SHA-256(0x00 || record) from its bytes (or from re-canonicalising
// it: JCS has one form). States appear only when the destination was
// enabled with sensitive states and the data key is present; otherwise the
// record's commitments stand for them.
func WriteJSONLines(w io.Writer, events []storage.StoredEvent, withStates bool) error {
	var line []byte
	for i := range events {
		e := &events[i]
		line = line[:0]
		line = append(line, `{"org":`...)
		line = strconv.AppendQuote(line, e.OrganizationID) // org ids are [A-Za-z0-9._-]
		line = append(line, `,"seq":`...)
		line = strconv.AppendUint(line, e.Seq, 10)
		line = append(line, `,"id":`...)
		line = appendJSONString(line, e.ID)
		line = append(line, `,"leafHash":"`...)
		line = append(line, e.LeafHash...)
		line = append(line, `","record":`...)
		line = append(line, e.Public...)
		if withStates {
			if len(e.BeforeState) > 0 {
				line = append(line, `,"beforeState":`...)
				line = append(line, e.BeforeState...)
			}
			if len(e.AfterState) > 0 {
				line = append(line, `,"afterState":`...)
				line = append(line, e.AfterState...)
			}
		}
		line = append(line, "}\n"...)
		if _, err := w.Write(line); err != nil {
			return err
		}
	}
	return nil
}

func appendJSONString(dst []byte, s string) []byte {
	b, _ := json.Marshal(s)
	return append(dst, b...)
}

// Line is one decoded line of WriteJSONLines, for receivers and tests.
type Line struct {
	Org         string          `json:"org"`
	Seq         uint64          `json:"seq"`
	ID          string          `json:"id"`
	LeafHash    string          `json:"leafHash"`
	Record      json.RawMessage `json:"record"`
	BeforeState json.RawMessage `json:"beforeState,omitempty"`
	AfterState  json.RawMessage `json:"afterState,omitempty"`
}

// Key is the idempotency key of a line: organization, seq and id.
func (l Line) Key() string { return l.Org + "/" + strconv.FormatUint(l.Seq, 10) + "/" + l.ID }

// ReadJSONLines decodes the lines of r (gzip-compressed or not).
func ReadJSONLines(r io.Reader) ([]Line, error) {
	br := bufioReader(r)
	if magic, err := br.Peek(2); err == nil && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, err
		}
		defer zr.Close()
		r = zr
	} else {
		r = br
	}
	dec := json.NewDecoder(r)
	var out []Line
	for {
		var l Line
		if err := dec.Decode(&l); err == io.EOF {
			return out, nil
		} else if err != nil {
			return out, err
		}
		out = append(out, l)
	}
}

// GzipJSONLines returns the batch as gzip-compressed JSON Lines.
func GzipJSONLines(events []storage.StoredEvent, withStates bool) ([]byte, error) {
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	if err := WriteJSONLines(zw, events, withStates); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
