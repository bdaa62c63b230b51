package storage

import "encoding/json"

// RetentionClass says how long an event is kept (DESIGN.md §6).
type RetentionClass string

const (
	RetentionOperational RetentionClass = "operational" // 90 days by default
	RetentionMaterial    RetentionClass = "material"    // indefinite by default
)

// OCSFClass is the OCSF event class an action type maps to.
type OCSFClass struct {
	ClassUID    int    `json:"classUid"`
	ClassName   string `json:"className"`
	CategoryUID int    `json:"categoryUid"`
	ActivityID  int    `json:"activityId"`
}

// ActionType is one entry of the catalogue.
type ActionType struct {
	Name           string          `json:"name"` // "<category>.<action>"
	Category       string          `json:"category"`
	Retention      RetentionClass  `json:"retention"`
	Description    string          `json:"description"`
	SOC2           []string        `json:"soc2"`
	ISO27001       []string        `json:"iso27001"`
	OCSF           OCSFClass       `json:"ocsf"`
	MetadataSchema json.RawMessage `json:"metadataSchema"`
}

// Catalogue is the action-type catalogue: the one place that says which
// action types exist and what each requires.
// STUB: replaced by the catalogue work in progress; signatures are fixed.
type Catalogue struct{}

// LoadCatalogue returns the built-in catalogue.
func LoadCatalogue() (*Catalogue, error) { return &Catalogue{}, nil }

// Lookup returns the entry for an action type; "custom.<name>" types resolve
// to a synthetic operational entry with free-form metadata.
func (c *Catalogue) Lookup(actionType string) (ActionType, bool) { return ActionType{}, false }

// Types lists every catalogued action type, sorted by name.
func (c *Catalogue) Types() []ActionType { return nil }

// Validate checks e against the schema, the limits and the catalogue. It
// returns nil or a *ValidationError listing every problem.
func (c *Catalogue) Validate(e *Event) error { return nil }

// ParseEvent decodes one JSON event strictly (unknown fields, a timestamp
// with an offset other than Z, trailing data are errors) and returns a
// *ValidationError naming each problem.
func ParseEvent(data []byte) (Event, error) {
	var e Event
	err := json.Unmarshal(data, &e)
	return e, err
}
