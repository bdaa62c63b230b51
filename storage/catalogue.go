package storage

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

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

// catalogueJSON is the catalogue as data: every action type, its category's
// retention class, its controls, its OCSF class and its metadata schema. It is
// the only place that says what an action type requires.
//
//go:embed catalogue.json
var catalogueJSON []byte

// CustomPrefix starts the action types producers define themselves
// ("custom.<name>"). They are operational and their metadata is free-form
// (still a JSON object under the integer, depth and UTF-8 rules).
const CustomPrefix = "custom."

// customNamePattern is what may follow "custom.": lowercase segments
// separated by dots, each starting with a letter.
var customNamePattern = regexp.MustCompile(`^[a-z][a-z0-9_]{0,63}(\.[a-z][a-z0-9_]{0,63})*$`)

// maxCustomNameBytes bounds the whole custom name so that an action type
// stays a short index key.
const maxCustomNameBytes = 128

// schemaBase is the (never fetched) base URL the metadata schemas are
// registered under, so that "$ref": "defs.json#/$defs/money" resolves to the
// shared definitions in catalogue.json.
const schemaBase = "https://schemas.axiom-audit.invalid/metadata/"

// Catalogue is the action-type catalogue: the one place that says which
// action types exist and what each requires. It is immutable after
// [LoadCatalogue] and safe for concurrent use.
type Catalogue struct {
	types  map[string]*catalogueEntry
	sorted []string
	custom catalogueEntry // template for "custom.<name>"
	now    func() time.Time
}

// catalogueEntry is an action type with what validation needs compiled.
type catalogueEntry struct {
	ActionType
	schema *jsonschema.Schema // nil: free-form metadata
	// requiredWhenStatus lists metadata fields an event of this type must
	// carry when its status is the key: JSON Schema cannot see status,
	// which lives outside metadata.
	requiredWhenStatus map[string][]string
}

// catalogueFile is the shape of catalogue.json.
type catalogueFile struct {
	Version     int    `json:"version"`
	Description string `json:"description"`
	Categories  map[string]struct {
		Retention RetentionClass `json:"retention"`
	} `json:"categories"`
	Custom struct {
		Description string    `json:"description"`
		SOC2        []string  `json:"soc2"`
		ISO27001    []string  `json:"iso27001"`
		OCSF        OCSFClass `json:"ocsf"`
	} `json:"custom"`
	OCSFClasses map[string]struct {
		Name       string `json:"name"`
		Activities []int  `json:"activities"`
	} `json:"ocsfClasses"`
	Defs  json.RawMessage `json:"$defs"`
	Types []struct {
		Name               string              `json:"name"`
		Description        string              `json:"description"`
		SOC2               []string            `json:"soc2"`
		ISO27001           []string            `json:"iso27001"`
		OCSF               OCSFClass           `json:"ocsf"`
		MetadataSchema     json.RawMessage     `json:"metadataSchema"`
		RequiredWhenStatus map[string][]string `json:"requiredWhenStatus"`
	} `json:"types"`
}

// LoadCatalogue returns the built-in catalogue.
func LoadCatalogue() (*Catalogue, error) { return parseCatalogue(catalogueJSON) }

// parseCatalogue builds a catalogue from its JSON form, checking the data's
// own invariants so that a bad edit to catalogue.json fails at load, not at
// the first event of that type.
func parseCatalogue(data []byte) (*Catalogue, error) {
	var f catalogueFile
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("failed to decode the action-type catalogue: %w", err)
	}
	if f.Version != 1 {
		return nil, fmt.Errorf("action-type catalogue version %d is not supported", f.Version)
	}

	compiler := jsonschema.NewCompiler()
	compiler.DefaultDraft(jsonschema.Draft2020)
	defs, err := jsonschema.UnmarshalJSON(bytes.NewReader(fmt.Appendf(nil, `{"$defs":%s}`, orEmptyObject(f.Defs))))
	if err != nil {
		return nil, fmt.Errorf("failed to decode the catalogue's shared schema definitions: %w", err)
	}
	if err := compiler.AddResource(schemaBase+"defs.json", defs); err != nil {
		return nil, fmt.Errorf("failed to add the catalogue's shared schema definitions: %w", err)
	}

	ocsf := func(name string, o OCSFClass) (OCSFClass, error) {
		cls, ok := f.OCSFClasses[strconv.Itoa(o.ClassUID)]
		if !ok {
			return o, fmt.Errorf("action type %s: OCSF class %d is not in ocsfClasses", name, o.ClassUID)
		}
		if !slices.Contains(cls.Activities, o.ActivityID) {
			return o, fmt.Errorf("action type %s: activity %d is not valid for OCSF class %d (%s)", name, o.ActivityID, o.ClassUID, cls.Name)
		}
		o.ClassName = cls.Name
		o.CategoryUID = o.ClassUID / 1000
		return o, nil
	}

	c := &Catalogue{types: make(map[string]*catalogueEntry, len(f.Types)), now: time.Now}
	for _, t := range f.Types {
		category, action, ok := strings.Cut(t.Name, ".")
		if !ok || action == "" || category == "custom" {
			return nil, fmt.Errorf("action type %q is not <category>.<action>", t.Name)
		}
		cat, ok := f.Categories[category]
		if !ok {
			return nil, fmt.Errorf("action type %s: category %q has no retention class", t.Name, category)
		}
		if _, dup := c.types[t.Name]; dup {
			return nil, fmt.Errorf("action type %s is listed twice", t.Name)
		}
		if len(t.SOC2) == 0 || len(t.ISO27001) == 0 {
			return nil, fmt.Errorf("action type %s maps to no SOC 2 or no ISO 27001 control", t.Name)
		}
		o, err := ocsf(t.Name, t.OCSF)
		if err != nil {
			return nil, err
		}
		schemaRaw := t.MetadataSchema
		if len(schemaRaw) == 0 {
			schemaRaw = json.RawMessage(`{"type":"object"}`)
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(schemaRaw))
		if err != nil {
			return nil, fmt.Errorf("action type %s: failed to decode its metadata schema: %w", t.Name, err)
		}
		url := schemaBase + t.Name + ".json"
		if err := compiler.AddResource(url, doc); err != nil {
			return nil, fmt.Errorf("action type %s: failed to add its metadata schema: %w", t.Name, err)
		}
		sch, err := compiler.Compile(url)
		if err != nil {
			return nil, fmt.Errorf("action type %s: failed to compile its metadata schema: %w", t.Name, err)
		}
		for status := range t.RequiredWhenStatus {
			if !slices.Contains(Statuses, status) {
				return nil, fmt.Errorf("action type %s: requiredWhenStatus names unknown status %q", t.Name, status)
			}
		}
		c.types[t.Name] = &catalogueEntry{
			ActionType: ActionType{
				Name:           t.Name,
				Category:       category,
				Retention:      cat.Retention,
				Description:    t.Description,
				SOC2:           t.SOC2,
				ISO27001:       t.ISO27001,
				OCSF:           o,
				MetadataSchema: schemaRaw,
			},
			schema:             sch,
			requiredWhenStatus: t.RequiredWhenStatus,
		}
		c.sorted = append(c.sorted, t.Name)
	}
	sort.Strings(c.sorted)

	customCat, ok := f.Categories["custom"]
	if !ok {
		return nil, fmt.Errorf("the catalogue has no retention class for category custom")
	}
	o, err := ocsf("custom.*", f.Custom.OCSF)
	if err != nil {
		return nil, err
	}
	c.custom = catalogueEntry{ActionType: ActionType{
		Category:       "custom",
		Retention:      customCat.Retention,
		Description:    f.Custom.Description,
		SOC2:           f.Custom.SOC2,
		ISO27001:       f.Custom.ISO27001,
		OCSF:           o,
		MetadataSchema: json.RawMessage(`{"type":"object"}`),
	}}
	return c, nil
}

func orEmptyObject(raw json.RawMessage) []byte {
	if len(raw) == 0 {
		return []byte("{}")
	}
	return raw
}

// WithClock returns a copy of c whose Validate uses now for the
// "not in the future" rule, so tests need not depend on the wall clock.
func (c *Catalogue) WithClock(now func() time.Time) *Catalogue {
	cp := *c
	cp.now = now
	return &cp
}

// Lookup returns the entry for an action type; "custom.<name>" types resolve
// to a synthetic operational entry with free-form metadata.
func (c *Catalogue) Lookup(actionType string) (ActionType, bool) {
	e, ok := c.lookup(actionType)
	if !ok {
		return ActionType{}, false
	}
	return cloneActionType(e.ActionType), true
}

// lookup is Lookup without the defensive copy, for the validation hot path.
func (c *Catalogue) lookup(actionType string) (*catalogueEntry, bool) {
	if e, ok := c.types[actionType]; ok {
		return e, true
	}
	if name, ok := strings.CutPrefix(actionType, CustomPrefix); ok && validCustomName(name) {
		e := c.custom
		e.Name = actionType
		return &e, true
	}
	return nil, false
}

func validCustomName(name string) bool {
	return len(name) <= maxCustomNameBytes && customNamePattern.MatchString(name)
}

// Types lists every catalogued action type, sorted by name. The synthetic
// custom types are not listed.
func (c *Catalogue) Types() []ActionType {
	out := make([]ActionType, len(c.sorted))
	for i, name := range c.sorted {
		out[i] = cloneActionType(c.types[name].ActionType)
	}
	return out
}

// cloneActionType copies the slices so that callers cannot change the
// catalogue through what they were given.
func cloneActionType(a ActionType) ActionType {
	a.SOC2 = slices.Clone(a.SOC2)
	a.ISO27001 = slices.Clone(a.ISO27001)
	a.MetadataSchema = slices.Clone(a.MetadataSchema)
	return a
}
