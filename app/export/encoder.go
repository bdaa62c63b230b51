package export

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/axiomops/axiom-audit/storage/tlog"
)

// Encoder writes events in one format. It is streaming: Begin once, Encode
// per event, End once, each writing to w as it goes; it holds no event after
// Encode returns. Encoders are not safe for concurrent use.
type Encoder interface {
	Begin(w io.Writer) error
	Encode(w io.Writer, r *Record) error
	End(w io.Writer) error
}

// Format names an events file format.
type Format string

// The formats of an export.
const (
	CSV       Format = "csv"        // RFC 4180, one row per event
	JSONLines Format = "jsonl"      // one event per line
	JSON      Format = "json"       // one array
	OCSF      Format = "ocsf"       // OCSF 1.x events, one per line
	CEF       Format = "cef"        // ArcSight CEF:0 lines
	SplunkHEC Format = "splunk-hec" // HEC event envelopes, concatenated
	ECS       Format = "ecs"        // Elastic Common Schema NDJSON
)

// Formats lists every format, in the order the CLI shows them.
var Formats = []Format{CSV, JSONLines, JSON, OCSF, CEF, SplunkHEC, ECS}

// ParseFormat checks a format name.
func ParseFormat(s string) (Format, error) {
	f := Format(s)
	if !slices.Contains(Formats, f) {
		return "", fmt.Errorf("format %s: %w", UnknownFormat(s), ErrUsage)
	}
	return f, nil
}

// UnknownFormat says that s is not a format: `"xml" is not one of csv, …`.
func UnknownFormat(s string) string {
	names := make([]string, len(Formats))
	for i, f := range Formats {
		names[i] = string(f)
	}
	return fmt.Sprintf("%q is not one of %s", s, strings.Join(names, ", "))
}

// Ext is the file name extension of the events file.
func (f Format) Ext() string {
	switch f {
	case OCSF:
		return "ocsf.jsonl"
	case SplunkHEC:
		return "hec.json"
	case ECS:
		return "ecs.ndjson"
	case CEF:
		return "cef"
	}
	return string(f)
}

// EventsFile is the name of the events file of a format in a bundle.
func (f Format) EventsFile() string { return "events." + f.Ext() }

// Product describes the exporting tool in the SIEM formats.
type Product struct {
	Version string // tool version ("dev" when empty)
	Host    string // the exporting host, for Splunk HEC's host field
}

// NewEncoder returns the encoder of a format.
func NewEncoder(f Format, p Product) (Encoder, error) {
	if p.Version == "" {
		p.Version = "dev"
	}
	switch f {
	case CSV:
		return &csvEncoder{}, nil
	case JSONLines:
		return &jsonlEncoder{}, nil
	case JSON:
		return &jsonArrayEncoder{}, nil
	case OCSF:
		return &ocsfEncoder{p: p}, nil
	case CEF:
		return &cefEncoder{p: p}, nil
	case SplunkHEC:
		return &hecEncoder{p: p}, nil
	case ECS:
		return &ecsEncoder{p: p}, nil
	}
	_, err := ParseFormat(string(f))
	return nil, err
}

// writeJSONLine encodes v as one line of JSON. encoding/json escapes the
// U+2028 and U+2029 separators, so a line never contains a line break.
func writeJSONLine(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

type jsonlEncoder struct{ buf []byte }

func (*jsonlEncoder) Begin(io.Writer) error { return nil }
func (j *jsonlEncoder) Encode(w io.Writer, r *Record) error {
	e := r.eventJSON()
	b, err := appendEventJSON(j.buf[:0], &e)
	if err != nil {
		return err
	}
	j.buf = append(b, '\n')
	_, err = w.Write(j.buf)
	return err
}
func (*jsonlEncoder) End(io.Writer) error { return nil }

// jsonArrayEncoder streams one JSON array, one element per line.
type jsonArrayEncoder struct {
	n   int
	buf []byte
}

func (*jsonArrayEncoder) Begin(w io.Writer) error {
	_, err := io.WriteString(w, "[\n")
	return err
}

func (j *jsonArrayEncoder) Encode(w io.Writer, r *Record) error {
	if j.n > 0 {
		if _, err := io.WriteString(w, ",\n"); err != nil {
			return err
		}
	}
	j.n++
	e := r.eventJSON()
	b, err := appendEventJSON(j.buf[:0], &e)
	if err != nil {
		return err
	}
	j.buf = b
	_, err = w.Write(b)
	return err
}

func (j *jsonArrayEncoder) End(w io.Writer) error {
	s := "\n]\n"
	if j.n == 0 {
		s = "]\n"
	}
	_, err := io.WriteString(w, s)
	return err
}

// marshal is json.Marshal without HTML escaping.
func marshal(v any) ([]byte, error) {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return []byte(strings.TrimSuffix(b.String(), "\n")), nil
}

// canonical returns JCS of a JSON text; empty means the empty object.
func canonical(raw []byte) ([]byte, error) {
	if len(raw) == 0 {
		return []byte("{}"), nil
	}
	return tlog.Canonicalize(raw)
}
