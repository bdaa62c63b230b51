package export

import (
	"encoding/json"
	"io"
	"strconv"
)

// hecEncoder writes Splunk HTTP Event Collector envelopes, one per line
// (HEC accepts them concatenated in one POST to /services/collector/event):
//
//	{"time":<epoch seconds.millis>,"host":...,"source":"axiom-audit","sourcetype":"axiom:audit","event":{...},"fields":{...}}
//
// event is the jsonl event; fields are indexed fields for searching by
// organization, action and control.
type hecEncoder struct{ p Product }

// HECEnvelope is one Splunk HEC event.
type HECEnvelope struct {
	Time       json.Number    `json:"time"`
	Host       string         `json:"host"`
	Source     string         `json:"source"`
	SourceType string         `json:"sourcetype"`
	Event      EventJSON      `json:"event"`
	Fields     map[string]any `json:"fields"`
}

func (*hecEncoder) Begin(io.Writer) error { return nil }
func (*hecEncoder) End(io.Writer) error   { return nil }

func (h *hecEncoder) Encode(w io.Writer, r *Record) error {
	ms := r.Timestamp.UnixMilli()
	sec, frac := ms/1000, ms%1000
	if frac < 0 {
		sec, frac = sec-1, frac+1000
	}
	t := strconv.FormatInt(sec, 10) + "." + strconv.FormatInt(1000+frac, 10)[1:]
	env := HECEnvelope{
		Time: json.Number(t), Host: h.p.Host, Source: "axiom-audit", SourceType: "axiom:audit",
		Event: r.eventJSON(),
		Fields: map[string]any{"organizationId": r.OrganizationID, "actionType": r.ActionType,
			"category": r.Category, "soc2": r.Controls.SOC2, "iso27001": r.Controls.ISO27001},
	}
	return writeJSONLine(w, &env)
}
