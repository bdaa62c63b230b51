package export

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/axiomops/axiom-audit/storage"
)

// Controls are the compliance controls an event is evidence for, from the
// action-type catalogue.
type Controls struct {
	SOC2     []string `json:"soc2"`
	ISO27001 []string `json:"iso27001"`
}

// Record is one exported event as the encoders see it: the stored event
// (its states present only when the export reveals them), its catalogue
// entry and its controls.
type Record struct {
	*storage.StoredEvent
	Controls  Controls
	OCSF      storage.OCSFClass
	Retention string
	// Description is the catalogue's one-line description of the action type.
	Description string
}

// Revealed reports whether the record carries a plaintext state.
func (r *Record) Revealed() bool { return len(r.BeforeState) > 0 || len(r.AfterState) > 0 }

// catalogueInfo turns stored events into Records, remembering each action
// type's catalogue entry.
type catalogueInfo struct {
	cat   *storage.Catalogue
	cache map[string]storage.ActionType
}

func newCatalogueInfo(cat *storage.Catalogue) *catalogueInfo {
	return &catalogueInfo{cat: cat, cache: map[string]storage.ActionType{}}
}

// record fills r from e. Unknown action types (a catalogue older than the
// log) keep empty controls and the OCSF "API Activity: Other" class.
func (c *catalogueInfo) record(r *Record, e *storage.StoredEvent) {
	at, ok := c.cache[e.ActionType]
	if !ok {
		at, ok = c.cat.Lookup(e.ActionType)
		if !ok {
			at = storage.ActionType{Name: e.ActionType, OCSF: storage.OCSFClass{ClassUID: 6003, ClassName: "API Activity", CategoryUID: 6, ActivityID: 99}}
		}
		if at.SOC2 == nil {
			at.SOC2 = []string{}
		}
		if at.ISO27001 == nil {
			at.ISO27001 = []string{}
		}
		c.cache[e.ActionType] = at
	}
	*r = Record{StoredEvent: e, Controls: Controls{SOC2: at.SOC2, ISO27001: at.ISO27001}, OCSF: at.OCSF,
		Retention: string(at.Retention), Description: at.Description}
}

// EventJSON is an event in the jsonl and json formats, the event inside a
// Splunk HEC envelope, and what verify-export reads back. Times are RFC 3339
// in UTC with nanoseconds; states appear only when the export reveals them,
// their commitments always when a state was recorded.
type EventJSON struct {
	ID                    string          `json:"id"`
	Seq                   uint64          `json:"seq"`
	Timestamp             string          `json:"timestamp"`
	RecordedAt            string          `json:"recordedAt"`
	OrganizationID        string          `json:"organizationId"`
	UserID                string          `json:"userId"`
	Provider              string          `json:"provider"`
	ActionType            string          `json:"actionType"`
	Category              string          `json:"category"`
	ResourceIDs           []string        `json:"resourceIds"`
	Status                string          `json:"status"`
	RiskLevel             string          `json:"riskLevel"`
	Metadata              json.RawMessage `json:"metadata"`
	BeforeStateCommitment string          `json:"beforeStateCommitment,omitempty"`
	AfterStateCommitment  string          `json:"afterStateCommitment,omitempty"`
	BeforeState           json.RawMessage `json:"beforeState,omitempty"`
	AfterState            json.RawMessage `json:"afterState,omitempty"`
	PrevHash              string          `json:"prevHash"`
	LeafHash              string          `json:"leafHash"`
	Retention             string          `json:"retention,omitempty"`
	SOC2                  []string        `json:"soc2"`
	ISO27001              []string        `json:"iso27001"`
}

func formatTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

func (r *Record) eventJSON() EventJSON {
	e := EventJSON{
		ID: r.ID, Seq: r.Seq, Timestamp: formatTime(r.Timestamp), RecordedAt: formatTime(r.RecordedAt),
		OrganizationID: r.OrganizationID, UserID: r.UserID, Provider: r.Provider, ActionType: r.ActionType,
		Category: r.Category, ResourceIDs: r.ResourceIDs, Status: r.Status, RiskLevel: r.RiskLevel,
		Metadata: r.Metadata, BeforeStateCommitment: r.BeforeStateCommitment, AfterStateCommitment: r.AfterStateCommitment,
		BeforeState: r.BeforeState, AfterState: r.AfterState, PrevHash: r.PrevHash, LeafHash: r.LeafHash,
		Retention: r.Retention, SOC2: r.Controls.SOC2, ISO27001: r.Controls.ISO27001,
	}
	if e.ResourceIDs == nil {
		e.ResourceIDs = []string{}
	}
	if len(e.Metadata) == 0 {
		e.Metadata = json.RawMessage("{}")
	}
	return e
}

// publicRecord is the public record as hashed into the log (the fields
// verify-export compares with an exported event).
type publicRecord struct {
	ActionType            string          `json:"actionType"`
	AfterStateCommitment  string          `json:"afterStateCommitment"`
	BeforeStateCommitment string          `json:"beforeStateCommitment"`
	Category              string          `json:"category"`
	ID                    string          `json:"id"`
	Metadata              json.RawMessage `json:"metadata"`
	OrganizationID        string          `json:"organizationId"`
	PrevHash              string          `json:"prevHash"`
	Provider              string          `json:"provider"`
	RecordedAt            string          `json:"recordedAt"`
	ResourceIDs           []string        `json:"resourceIds"`
	RiskLevel             string          `json:"riskLevel"`
	Seq                   uint64          `json:"seq"`
	Status                string          `json:"status"`
	Timestamp             string          `json:"timestamp"`
	UserID                string          `json:"userId"`
}

// compareEvent names the fields of an exported event that differ from the
// public record it claims to be.
func compareEvent(e *EventJSON, p *publicRecord) []string {
	var bad []string
	ne := func(field string, a, b string) {
		if a != b {
			bad = append(bad, fmt.Sprintf("%s %.80q differs from the log's %.80q", field, a, b))
		}
	}
	ne("id", e.ID, p.ID)
	if e.Seq != p.Seq {
		bad = append(bad, fmt.Sprintf("seq %d differs from the log's %d", e.Seq, p.Seq))
	}
	sameTime := func(field, a, b string) {
		ta, err1 := time.Parse(time.RFC3339Nano, a)
		tb, err2 := time.Parse(time.RFC3339Nano, b)
		if err1 != nil || err2 != nil || !ta.Equal(tb) {
			bad = append(bad, fmt.Sprintf("%s %.40q differs from the log's %.40q", field, a, b))
		}
	}
	sameTime("timestamp", e.Timestamp, p.Timestamp)
	sameTime("recordedAt", e.RecordedAt, p.RecordedAt)
	ne("organizationId", e.OrganizationID, p.OrganizationID)
	ne("userId", e.UserID, p.UserID)
	ne("provider", e.Provider, p.Provider)
	ne("actionType", e.ActionType, p.ActionType)
	ne("category", e.Category, p.Category)
	ne("status", e.Status, p.Status)
	ne("riskLevel", e.RiskLevel, p.RiskLevel)
	ne("beforeStateCommitment", e.BeforeStateCommitment, p.BeforeStateCommitment)
	ne("afterStateCommitment", e.AfterStateCommitment, p.AfterStateCommitment)
	ne("prevHash", e.PrevHash, p.PrevHash)
	if !slices.Equal(orEmpty(e.ResourceIDs), orEmpty(p.ResourceIDs)) {
		bad = append(bad, "resourceIds differ from the log's")
	}
	if !sameJSON(e.Metadata, p.Metadata) {
		bad = append(bad, "metadata differs from the log's")
	}
	return bad
}

func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// sameJSON compares two JSON texts by their canonical forms; an absent
// value equals the empty object (metadata).
func sameJSON(a, b json.RawMessage) bool {
	if len(a) > 0 && string(a) == string(b) {
		return true // the usual case: both written canonically
	}
	ca, err1 := canonical(a)
	cb, err2 := canonical(b)
	return err1 == nil && err2 == nil && string(ca) == string(cb) && numbersCanonical(a)
}

// numbersCanonical reports whether every number of a is written as RFC
// 8785 writes it. Canonical JSON goes through doubles, so 9007199254740993
// and 9007199254740992 have one canonical form; the log keeps no number a
// double cannot hold, and writes each in its canonical form, so another
// spelling in an events file is a change a reader would see.
func numbersCanonical(a []byte) bool {
	d := json.NewDecoder(bytes.NewReader(a))
	d.UseNumber()
	for {
		t, err := d.Token()
		if err != nil {
			return err == io.EOF
		}
		if n, ok := t.(json.Number); ok {
			c, err := canonical([]byte(n))
			if err != nil || string(c) != string(n) {
				return false
			}
		}
	}
}
