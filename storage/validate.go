package storage

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
	"unsafe"

	"github.com/gowebpki/jcs"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

// Validation rules beyond the limits in event.go. They are part of the
// event contract (README, "Event limits").
const (
	// MaxUserIDBytes bounds userId: a user, a service or "system".
	MaxUserIDBytes = 256
	// MaxOrganizationIDBytes bounds organizationId, which is a key prefix
	// and an S3 path segment.
	MaxOrganizationIDBytes = 128
	// MaxSafeInteger is the largest magnitude a number in metadata may
	// have: every integer up to 2^53 survives any JSON implementation
	// (including JavaScript's) and RFC 8785 canonicalisation unchanged.
	MaxSafeInteger = 1 << 53
	// MaxFutureSkew is how far ahead of the validator's clock a timestamp
	// may be: producers' clocks drift, but an event dated tomorrow or later
	// is a bug that would sort above everything that really happened.
	MaxFutureSkew = 24 * time.Hour
	// maxStateDepth bounds the nesting of beforeState and afterState so
	// that a hostile state cannot make the scanner recurse without end;
	// real cloud resource documents nest a dozen levels at most.
	maxStateDepth = 128
	// maxProblemsPerValue caps the problems reported inside one JSON value
	// so that a 512 KiB state full of bad strings yields a readable error.
	maxProblemsPerValue = 20
	// MaxInputBytes bounds one event as sent (a JSON Lines line, a
	// request's event): MaxEventBytes, which applies to the compact
	// encoding, plus room for the whitespace a pretty producer adds.
	MaxInputBytes = MaxEventBytes + 64<<10
)

// MinTimestamp is the earliest timestamp an event may carry: anything
// earlier is a zero or a unit mistake (seconds read as milliseconds).
var MinTimestamp = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// Validate checks e against the schema, the limits and the catalogue. It
// returns nil or a *ValidationError listing every problem.
//
// The rules, each reported as a [FieldError] naming the JSON path:
//   - id: empty (the store assigns a UUIDv7) or a UUID of any version in
//     canonical form: lowercase hex, hyphenated, 36 characters. Uppercase is
//     rejected rather than folded, because the id is hashed and used as the
//     idempotency key: two spellings must not name two events.
//   - timestamp: set, in UTC (zone offset 0), not before [MinTimestamp] and
//     not more than [MaxFutureSkew] ahead of the clock.
//   - organizationId: ^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$.
//   - userId: non-empty, at most [MaxUserIDBytes] bytes.
//   - provider, status, riskLevel: one of [Providers], [Statuses], [RiskLevels].
//   - actionType: in the catalogue, or custom.<name>.
//   - resourceIds: at most [MaxResourceIDs], each non-empty and at most
//     [MaxResourceIDBytes] bytes.
//   - beforeState, afterState: valid JSON, each at most [MaxStateBytes].
//   - metadata: absent (treated as {}) or a JSON object, nested at most
//     [MaxMetadataDepth] deep, numbers integers of magnitude at most
//     [MaxSafeInteger] (decimals go in strings), valid for the action
//     type's schema.
//   - every string, including keys and strings inside metadata and the
//     states: valid UTF-8 without NUL, and no duplicate keys in an object.
//   - the whole event: at most [MaxEventBytes] encoded as JSON.
//
// The size limits hold both as sent and for the canonical (RFC 8785) forms
// the store keeps, which write numbers out (1e20 as 21 digits).
func (c *Catalogue) Validate(e *Event) error {
	v := validator{}
	v.event(c, e)
	if len(v.errs) == 0 {
		return nil
	}
	return &ValidationError{Errors: v.errs}
}

type validator struct {
	errs []FieldError
}

func (v *validator) add(field, reason string) {
	v.errs = append(v.errs, FieldError{Field: field, Reason: reason})
}

func (v *validator) event(c *Catalogue, e *Event) {
	if e.ID != "" && v.text("id", e.ID) {
		if reason := checkUUID(e.ID); reason != "" {
			v.add("id", reason)
		}
	}

	v.timestamp(c, e.Timestamp)

	switch {
	case e.OrganizationID == "":
		v.add("organizationId", "is required")
	case !validOrganizationID(e.OrganizationID):
		v.add("organizationId", "must be 1 to 128 characters of A-Z, a-z, 0-9, '.', '_' or '-', starting with a letter or digit")
	}

	switch {
	case e.UserID == "":
		v.add("userId", "is required (a user, a service, or \"system\")")
	case len(e.UserID) > MaxUserIDBytes:
		v.add("userId", fmt.Sprintf("is %d bytes; the limit is %d", len(e.UserID), MaxUserIDBytes))
	default:
		v.text("userId", e.UserID)
	}

	v.enum("provider", e.Provider, Providers)
	v.enum("status", e.Status, Statuses)
	v.enum("riskLevel", e.RiskLevel, RiskLevels)

	var entry *catalogueEntry
	switch {
	case e.ActionType == "":
		v.add("actionType", "is required")
	case !v.text("actionType", e.ActionType):
	default:
		var ok bool
		entry, ok = c.lookup(e.ActionType)
		if !ok {
			if strings.HasPrefix(e.ActionType, CustomPrefix) {
				v.add("actionType", "custom action types must be custom.<name>, with <name> lowercase dot-separated segments matching [a-z][a-z0-9_]{0,63}")
			} else {
				v.add("actionType", fmt.Sprintf("%q is not in the action-type catalogue (use custom.<name> for your own types)", e.ActionType))
			}
		}
	}

	if len(e.ResourceIDs) > MaxResourceIDs {
		v.add("resourceIds", fmt.Sprintf("has %d entries; the limit is %d", len(e.ResourceIDs), MaxResourceIDs))
	} else {
		for i, id := range e.ResourceIDs {
			field := "resourceIds[" + strconv.Itoa(i) + "]"
			switch {
			case id == "":
				v.add(field, "must not be empty")
			case len(id) > MaxResourceIDBytes:
				v.add(field, fmt.Sprintf("is %d bytes; the limit is %d", len(id), MaxResourceIDBytes))
			default:
				v.text(field, id)
			}
		}
	}

	grow := v.state("beforeState", e.BeforeState)
	grow += v.state("afterState", e.AfterState)
	v.metadata(entry, e)

	if n := encodedSizeBound(e); n+grow > MaxEventBytes {
		// The bound is loose; only an exact encoding can say no, as sent
		// or, when a state's numbers are written out, as stored.
		if n, err := encodedSize(e); err == nil && n > MaxEventBytes {
			v.add("event", fmt.Sprintf("is %d bytes encoded; the limit is %d (1 MiB)", n, MaxEventBytes))
		} else if err == nil && grow > 0 && len(v.errs) == 0 {
			if n, err := canonicalSize(e); err == nil && n > MaxEventBytes {
				v.add("event", fmt.Sprintf("is %d bytes encoded with its states and metadata in canonical form (RFC 8785, as stored, with numbers written out); the limit is %d (1 MiB)", n, MaxEventBytes))
			}
		}
	}
}

// text reports a string that is not valid UTF-8 or holds NUL, and says
// whether it is clean.
func (v *validator) text(field, s string) bool {
	if !utf8.ValidString(s) {
		v.add(field, "must be valid UTF-8")
		return false
	}
	if strings.IndexByte(s, 0) >= 0 {
		v.add(field, "must not contain NUL (U+0000)")
		return false
	}
	return true
}

func (v *validator) enum(field, value string, allowed []string) {
	if value == "" {
		v.add(field, "is required (one of "+strings.Join(allowed, ", ")+")")
		return
	}
	if !slices.Contains(allowed, value) {
		v.add(field, fmt.Sprintf("%q is not one of %s", value, strings.Join(allowed, ", ")))
	}
}

func (v *validator) timestamp(c *Catalogue, t time.Time) {
	if t.IsZero() {
		v.add("timestamp", "is required")
		return
	}
	if _, off := t.Zone(); off != 0 {
		v.add("timestamp", "must be UTC (zone offset 0)")
		return
	}
	if t.Before(MinTimestamp) {
		v.add("timestamp", "must not be before 2000-01-01T00:00:00Z")
		return
	}
	now := time.Now
	if c.now != nil {
		now = c.now
	}
	if t.After(now().Add(MaxFutureSkew)) {
		v.add("timestamp", "must not be more than 24h in the future")
	}
}

// state checks a state, and its size as sent and as stored: the canonical
// form (RFC 8785) writes numbers out (1e20 as 21 digits), so a state within
// its limit as sent can exceed it as stored. It returns the bytes the
// canonical form may add.
func (v *validator) state(field string, raw json.RawMessage) (grow int) {
	if raw == nil {
		return 0
	}
	if len(raw) > MaxStateBytes {
		v.add(field, fmt.Sprintf("is %d bytes; the limit is %d (512 KiB)", len(raw), MaxStateBytes))
		return 0
	}
	s := jsonScanner{data: raw, maxDepth: maxStateDepth, exactNumbers: true}
	s.scanDocument(field)
	v.errs = append(v.errs, s.problems...)
	if len(s.problems) == 0 && len(raw)+s.grow > MaxStateBytes {
		if c, err := canonicalJSON(raw); err == nil && len(c) > MaxStateBytes {
			v.add(field, fmt.Sprintf("is %d bytes in canonical form (RFC 8785, as stored, with numbers written out); the limit is %d (512 KiB)", len(c), MaxStateBytes))
		}
	}
	return s.grow
}

// canonicalSize is the length of e's compact JSON encoding with its states
// and metadata in canonical form, as the store keeps them.
func canonicalSize(e *Event) (int, error) {
	c := *e
	for _, f := range [...]*json.RawMessage{&c.BeforeState, &c.AfterState, &c.Metadata} {
		if len(*f) == 0 {
			continue
		}
		b, err := canonicalJSON(*f)
		if err != nil {
			return 0, err
		}
		*f = b
	}
	return encodedSize(&c)
}

func (v *validator) metadata(entry *catalogueEntry, e *Event) {
	var doc any
	if e.Metadata == nil {
		doc = map[string]any{}
	} else {
		if len(e.Metadata) > MaxEventBytes {
			v.add("metadata", fmt.Sprintf("is %d bytes; the event limit is %d", len(e.Metadata), MaxEventBytes))
			return
		}
		s := jsonScanner{
			data:         e.Metadata,
			maxDepth:     MaxMetadataDepth,
			integersOnly: true,
			build:        entry != nil && entry.schema != nil,
			wantObject:   true,
		}
		doc = s.scanDocument("metadata")
		v.errs = append(v.errs, s.problems...)
		if s.fatal {
			return // no document to hold against the schema
		}
	}
	if entry == nil || entry.schema == nil {
		return
	}
	if err := entry.schema.Validate(doc); err != nil {
		var verr *jsonschema.ValidationError
		if errors.As(err, &verr) {
			start := len(v.errs)
			v.schemaErrors(verr)
			schemaErrs := v.errs[start:]
			// jsonschema walks objects in map order; sort for stable output.
			slices.SortStableFunc(schemaErrs, func(a, b FieldError) int {
				return strings.Compare(a.Field+"\x00"+a.Reason, b.Field+"\x00"+b.Reason)
			})
			// A field the scanner already reported (1.5 where an integer
			// belongs) needs no second verdict from the schema.
			v.errs = v.errs[:start]
			for _, fe := range schemaErrs {
				if !slices.ContainsFunc(v.errs, func(p FieldError) bool { return p.Field == fe.Field }) {
					v.errs = append(v.errs, fe)
				}
			}
		} else {
			v.add("metadata", "failed schema validation: "+err.Error())
		}
	}
	if fields := entry.requiredWhenStatus[e.Status]; len(fields) > 0 {
		obj, _ := doc.(map[string]any)
		for _, f := range fields {
			if _, ok := obj[f]; !ok {
				v.add("metadata."+f, "is required when status is "+e.Status)
			}
		}
	}
}

// schemaPrinter renders the library's messages for error kinds we do not
// phrase ourselves. It is stateless, so sharing it is safe.
var schemaPrinter = message.NewPrinter(language.English)

// schemaErrors turns the leaves of a jsonschema error tree into FieldErrors
// with JSON paths under "metadata".
func (v *validator) schemaErrors(e *jsonschema.ValidationError) {
	if len(e.Causes) > 0 {
		for _, c := range e.Causes {
			v.schemaErrors(c)
		}
		return
	}
	field := "metadata" + pointerPath(e.InstanceLocation)
	switch k := e.ErrorKind.(type) {
	case *kind.Required:
		for _, m := range k.Missing {
			v.add(field+pathKey(m), "is required")
		}
	case *kind.Type:
		v.add(field, fmt.Sprintf("must be of type %s, not %s", strings.Join(k.Want, " or "), k.Got))
	case *kind.Enum:
		want := make([]string, len(k.Want))
		for i, w := range k.Want {
			want[i] = fmt.Sprint(w)
		}
		v.add(field, "must be one of "+strings.Join(want, ", "))
	case *kind.Pattern:
		v.add(field, fmt.Sprintf("must match %s", k.Want))
	case *kind.Minimum:
		v.add(field, "must be at least "+ratString(k.Want))
	case *kind.Maximum:
		v.add(field, "must be at most "+ratString(k.Want))
	case *kind.MinLength:
		v.add(field, "must not be empty")
	case *kind.MinItems:
		if k.Want == 1 {
			v.add(field, "must not be empty")
		} else {
			v.add(field, fmt.Sprintf("must have at least %d items", k.Want))
		}
	default:
		v.add(field, e.ErrorKind.LocalizedString(schemaPrinter))
	}
}

func ratString(r *big.Rat) string {
	if r.IsInt() {
		return r.Num().String()
	}
	return r.FloatString(6)
}

// pointerPath renders instance-location tokens as ".key" and "[i]".
func pointerPath(tokens []string) string {
	var b strings.Builder
	for _, t := range tokens {
		if _, err := strconv.Atoi(t); err == nil && t != "" && (t == "0" || t[0] != '0') {
			// Array indices and numeric keys look alike in a JSON
			// Pointer; an index is by far the common case in metadata.
			b.WriteString("[" + t + "]")
			continue
		}
		b.WriteString(pathKey(t))
	}
	return b.String()
}

// pathKey renders an object key: ".key" for identifiers, ["key"] otherwise.
func pathKey(k string) string {
	if k != "" && isIdent(k) {
		return "." + k
	}
	return "[" + strconv.Quote(k) + "]"
}

func isIdent(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '_' || c == '$' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9' {
			continue
		}
		return false
	}
	return true
}

// checkUUID returns why s is not a canonical lowercase UUID, or "".
func checkUUID(s string) string {
	const reason = "must be a UUID in canonical form: 36 characters, lowercase hex, hyphenated 8-4-4-4-12"
	if len(s) != 36 {
		return reason
	}
	upper := false
	for i := 0; i < 36; i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return reason
			}
			continue
		}
		switch {
		case c >= '0' && c <= '9', c >= 'a' && c <= 'f':
		case c >= 'A' && c <= 'F':
			upper = true
		default:
			return reason
		}
	}
	if upper {
		return "must be a lowercase UUID (the id is hashed and is the idempotency key, so it has one spelling)"
	}
	if s == "00000000-0000-0000-0000-000000000000" {
		return "must not be the nil UUID"
	}
	return ""
}

func validOrganizationID(s string) bool {
	if len(s) == 0 || len(s) > MaxOrganizationIDBytes {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		if !alnum && (i == 0 || c != '.' && c != '_' && c != '-') {
			return false
		}
	}
	return true
}

// encodedSize is the length of e's compact JSON encoding, the one
// MaxEventBytes limits: json.Marshal's without its HTML escaping (which
// turns each <, > and & into six bytes and which no stored or canonical
// form uses).
func encodedSize(e *Event) (int, error) {
	var c byteCounter
	enc := json.NewEncoder(&c)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(e); err != nil {
		return 0, err
	}
	return c.n - 1, nil // Encode ends with a newline
}

type byteCounter struct{ n int }

func (c *byteCounter) Write(p []byte) (int, error) {
	c.n += len(p)
	return len(p), nil
}

// encodedSizeBound is an upper bound on encodedSize(e), computed without
// encoding, so that the common small event skips the encoding.
func encodedSizeBound(e *Event) int {
	n := 256 + 64 // keys, quotes, commas; a timestamp encodes in at most 37 bytes before year 10000
	for _, s := range [...]string{e.ID, e.OrganizationID, e.UserID, e.Provider, e.ActionType, e.Status, e.RiskLevel} {
		n += 6 * len(s) // worst case: every byte escaped as \u00XX
	}
	for _, id := range e.ResourceIDs {
		n += 3 + 6*len(id)
	}
	for _, raw := range [...]json.RawMessage{e.BeforeState, e.AfterState, e.Metadata} {
		// The encoder compacts raw JSON and escapes U+2028 and U+2029 (3
		// bytes to 6).
		n += len(raw) + 3*bytes.Count(raw, []byte{0xE2})
	}
	return n
}

// ParseEvent decodes one JSON event strictly (unknown fields, a timestamp
// with an offset other than Z, trailing data are errors) and returns a
// *ValidationError naming each problem.
//
// It also rejects what encoding/json would silently repair or lose: invalid
// UTF-8 (replaced by U+FFFD), duplicate keys (last one wins), keys that only
// match a field case-insensitively. It does not apply [Catalogue.Validate];
// callers do both. When the input is a JSON object but has problems, the
// returned Event holds what could be decoded, so a caller can validate it
// too and report everything wrong with the line at once.
func ParseEvent(data []byte) (Event, error) {
	var e Event
	if len(data) > MaxInputBytes {
		return e, &ValidationError{Unreadable: true, Errors: []FieldError{{Field: "event", Reason: fmt.Sprintf(
			"is %d bytes as sent; an event is at most %d bytes (1 MiB) encoded compactly, and at most %d as sent", len(data), MaxEventBytes, MaxInputBytes)}}}
	}
	s := jsonScanner{data: data, maxDepth: maxStateDepth + 1, wantObject: true, topKeys: true}
	s.scanDocument("")
	if s.fatal {
		return e, &ValidationError{Unreadable: true, Errors: s.problems}
	}
	problems := s.problems

	// The scanner already proved the input is one JSON object whose keys
	// are exactly the event's fields. When it found problems the decode is
	// best effort, so that callers can still report what else is wrong.
	var w wireEvent
	exact := len(problems) == 0
	if exact {
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.DisallowUnknownFields()
		err := dec.Decode(&w)
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &te) || (err == nil && slices.Contains(w.ResourceIDs, "")):
			// encoding/json reports only the first value of the wrong
			// type, and decodes a null item of resourceIds as "".
			exact = false
		case err != nil:
			problems = append(problems, FieldError{Field: "event", Reason: "could not be decoded: " + err.Error()})
		}
	}
	if !exact {
		// Decode each field by its exact name and name each of the wrong
		// type: a key that is no field (or one only in another case,
		// which encoding/json would take for it) is not taken for one,
		// and the line's other problems are named as on any line.
		w = wireEvent{}
		problems = append(problems, w.decodeFields(data)...)
	}
	if w.ID != nil && *w.ID == "" {
		// Absent (or null) asks for a generated id; an empty one is a
		// producer's bug, and generating one for it would make each retry
		// of the line a new event.
		problems = append(problems, FieldError{Field: "id", Reason: "must be a UUID, not empty (omit id to have one generated)"})
	}
	e = Event{
		OrganizationID: w.OrganizationID,
		UserID:         w.UserID,
		Provider:       w.Provider,
		ActionType:     w.ActionType,
		ResourceIDs:    w.ResourceIDs,
		BeforeState:    w.BeforeState,
		AfterState:     w.AfterState,
		Status:         w.Status,
		RiskLevel:      w.RiskLevel,
		Metadata:       w.Metadata,
	}
	if w.ID != nil {
		e.ID = *w.ID
	}
	if string(w.Metadata) == "null" {
		// Null metadata is none, as null resourceIds is none; states keep
		// null, a state as meaningful as any (before a creation).
		e.Metadata = nil
	}
	if w.Timestamp != nil {
		t, reason := parseTimestamp(w.Timestamp)
		if reason != "" {
			problems = append(problems, FieldError{Field: "timestamp", Reason: reason})
		}
		e.Timestamp = t
	}
	if len(problems) > 0 {
		return e, &ValidationError{Errors: problems}
	}
	return e, nil
}

// wireEvent is Event as it arrives: the timestamp stays raw so that its
// offset can be checked rather than converted.
type wireEvent struct {
	ID             *string         `json:"id"` // nil when absent or null
	Timestamp      json.RawMessage `json:"timestamp"`
	OrganizationID string          `json:"organizationId"`
	UserID         string          `json:"userId"`
	Provider       string          `json:"provider"`
	ActionType     string          `json:"actionType"`
	ResourceIDs    []string        `json:"resourceIds"`
	BeforeState    json.RawMessage `json:"beforeState"`
	AfterState     json.RawMessage `json:"afterState"`
	Status         string          `json:"status"`
	RiskLevel      string          `json:"riskLevel"`
	Metadata       json.RawMessage `json:"metadata"`
}

// decodeFields decodes each field of data, an object the scanner has
// checked, into w, and names every field whose value has the wrong JSON
// type (each item of resourceIds that is not a string), leaving it zero.
func (w *wireEvent) decodeFields(data []byte) []FieldError {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(data, &fields); err != nil {
		return []FieldError{{Field: "event", Reason: "could not be decoded: " + err.Error()}}
	}
	targets := []struct {
		name string
		to   any
	}{{"id", &w.ID}, {"timestamp", &w.Timestamp}, {"organizationId", &w.OrganizationID}, {"userId", &w.UserID},
		{"provider", &w.Provider}, {"actionType", &w.ActionType}, {"resourceIds", &w.ResourceIDs},
		{"beforeState", &w.BeforeState}, {"afterState", &w.AfterState}, {"status", &w.Status},
		{"riskLevel", &w.RiskLevel}, {"metadata", &w.Metadata}}
	var out []FieldError
	for _, t := range targets {
		raw, ok := fields[t.name]
		if !ok {
			continue
		}
		if t.name == "resourceIds" && raw[0] == '[' {
			if ids, fes, ok := resourceIDItems(raw); ok {
				w.ResourceIDs = ids
				out = append(out, fes...)
				continue
			}
		}
		if err := json.Unmarshal(raw, t.to); err != nil {
			reflect.ValueOf(t.to).Elem().SetZero()
			want := "a string"
			if t.name == "resourceIds" {
				want = "an array of strings"
			}
			out = append(out, FieldError{Field: t.name, Reason: "must be " + want + ", not " + jsonKind(raw)})
		}
	}
	return out
}

// resourceIDItems decodes the array raw of resourceIds: each string item,
// and "" in place of any other (which the validator then also finds
// empty, under the same field), and names each item that is not a string
// (at most maxProblemsPerValue). ok is false when raw is no array.
func resourceIDItems(raw json.RawMessage) (ids []string, fes []FieldError, ok bool) {
	var items []json.RawMessage
	if json.Unmarshal(raw, &items) != nil || items == nil {
		return nil, nil, false
	}
	ids = make([]string, len(items))
	for i, r := range items {
		if r[0] == '"' {
			if json.Unmarshal(r, &ids[i]) != nil {
				return nil, nil, false
			}
			continue
		}
		if len(fes) < maxProblemsPerValue {
			fes = append(fes, FieldError{Field: "resourceIds[" + strconv.Itoa(i) + "]", Reason: "must be a string, not " + jsonKind(r)})
		}
	}
	return ids, fes, true
}

// jsonKind names the JSON type of the value raw.
func jsonKind(raw json.RawMessage) string {
	switch raw[0] {
	case '"':
		return "string"
	case '{':
		return "object"
	case '[':
		return "array"
	case 't', 'f':
		return "bool"
	case 'n':
		return "null"
	}
	return "number"
}

// eventFields are the exact top-level keys of an event.
var eventFields = []string{"id", "timestamp", "organizationId", "userId", "provider", "actionType",
	"resourceIds", "beforeState", "afterState", "status", "riskLevel", "metadata"}

// parseTimestamp accepts RFC 3339 in UTC written with "Z" only: an offset,
// even +00:00, is refused rather than converted, so the stored text is what
// the producer meant.
func parseTimestamp(raw json.RawMessage) (time.Time, string) {
	const reason = "must be an RFC 3339 string in UTC ending in \"Z\" (e.g. 2026-01-02T15:04:05.123Z)"
	if string(raw) == "null" {
		return time.Time{}, ""
	}
	var s string
	if len(raw) < 2 || raw[0] != '"' || json.Unmarshal(raw, &s) != nil {
		return time.Time{}, reason
	}
	if !strings.HasSuffix(s, "Z") || len(s) < len("2006-01-02T15:04:05Z") || s[10] != 'T' || !validFraction(s[19:len(s)-1]) {
		return time.Time{}, reason + "; got " + strconv.Quote(s)
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	var pe *time.ParseError
	if errors.As(err, &pe) && pe.Message != "" {
		// Written right, but no such time: February 30th, hour 25.
		return time.Time{}, "is not a real date and time (" + strings.TrimPrefix(pe.Message, ": ") + "); got " + strconv.Quote(s)
	}
	if err != nil {
		return time.Time{}, reason + "; got " + strconv.Quote(s)
	}
	return t.UTC(), ""
}

// validFraction accepts what may stand between the seconds and the "Z":
// nothing, or "." and 1 to 9 digits. time.Parse also takes a comma and
// silently drops digits past the ninth; both would make the stored time
// differ from the producer's text.
func validFraction(f string) bool {
	if f == "" {
		return true
	}
	if f[0] != '.' || len(f) < 2 || len(f) > 10 {
		return false
	}
	for i := 1; i < len(f); i++ {
		if f[i] < '0' || f[i] > '9' {
			return false
		}
	}
	return true
}

// DecodeJSONLines reads events as JSON Lines and calls fn for each non-blank
// line with its 1-based number and either the event or a *ValidationError
// from [ParseEvent]. A line longer than [MaxInputBytes] is an
// error for that line (never truncated); reading continues with the next.
// fn returning an error stops the reading and DecodeJSONLines returns it;
// read errors are returned as they are. Events are not validated against
// the catalogue.
func DecodeJSONLines(r io.Reader, fn func(line int, e Event, err error) error) error {
	const maxLine = MaxInputBytes
	br := bufio.NewReaderSize(r, 64<<10)
	var buf []byte
	for line := 1; ; line++ {
		buf = buf[:0]
		tooLong := false
		var readErr error
		for {
			chunk, err := br.ReadSlice('\n')
			if !tooLong {
				if len(buf)+len(chunk) > maxLine+2 { // +2: the line ending
					tooLong = true
					buf = buf[:0]
				} else {
					buf = append(buf, chunk...)
				}
			}
			if err == bufio.ErrBufferFull {
				continue
			}
			readErr = err
			break
		}
		if readErr != nil && readErr != io.EOF {
			return fmt.Errorf("failed to read line %d: %w", line, readErr)
		}
		var ferr error
		switch {
		case tooLong:
			ferr = fn(line, Event{}, &ValidationError{Unreadable: true, Errors: []FieldError{{Field: "event", Reason: fmt.Sprintf(
				"line is longer than %d bytes; an event is at most %d bytes (1 MiB) encoded compactly", maxLine, MaxEventBytes)}}})
		default:
			text := bytes.TrimRight(buf, "\r\n")
			if line == 1 {
				// A byte order mark, which some Windows tools write
				// first, is not part of the first event (RFC 8259 §8.1
				// lets a parser ignore it).
				text = bytes.TrimPrefix(text, []byte("\ufeff"))
			}
			if len(bytes.TrimSpace(text)) == 0 {
				break
			}
			e, err := ParseEvent(text)
			ferr = fn(line, e, err)
		}
		if ferr != nil {
			return ferr
		}
		if readErr == io.EOF {
			return nil
		}
	}
}

// jsonScanner checks one JSON document for what the event contract forbids
// and encoding/json would let through or repair: invalid UTF-8, NUL, lone
// UTF-16 surrogates, duplicate keys, nesting beyond a limit, and (for
// metadata) numbers that are not safe integers. With build set it also
// returns the document as the values jsonschema validates (map[string]any,
// []any, string, json.Number, bool, nil), so metadata is read only once.
type jsonScanner struct {
	data         []byte
	pos          int
	maxDepth     int
	integersOnly bool
	exactNumbers bool // numbers must survive the canonical form unchanged (states)
	build        bool
	wantObject   bool
	topKeys      bool // the document is an event: its keys must be eventFields
	inKey        bool // scanning an object's key

	root     string
	path     []pathSeg
	problems []FieldError
	fatal    bool
	grow     int // bytes the canonical form adds by writing out numbers (exactNumbers)
	buf      []byte
	keySet   []string // reused for duplicate detection when not building
}

type pathSeg struct {
	key   string
	index int // -1: key
}

// errFatal stops the scan: the document is not JSON, or is too deep.
type errFatal struct{}

func (s *jsonScanner) fieldPath() string {
	var b strings.Builder
	b.WriteString(s.root)
	for i, p := range s.path {
		switch {
		case p.index >= 0:
			b.WriteString("[" + strconv.Itoa(p.index) + "]")
		case i == 0 && s.root == "":
			b.WriteString(p.key)
		default:
			b.WriteString(pathKey(p.key))
		}
	}
	if b.Len() == 0 {
		return "event"
	}
	return b.String()
}

func (s *jsonScanner) problem(reason string) {
	if len(s.problems) < maxProblemsPerValue {
		s.problems = append(s.problems, FieldError{Field: s.fieldPath(), Reason: reason})
	}
}

func (s *jsonScanner) fail(reason string) {
	s.problem(reason)
	s.fatal = true
	panic(errFatal{})
}

// scanDocument scans the whole input. Problems land in s.problems; the
// returned value is only meaningful when there are none.
func (s *jsonScanner) scanDocument(root string) (v any) {
	s.root = root
	defer func() {
		if r := recover(); r != nil {
			if _, ok := r.(errFatal); !ok {
				panic(r)
			}
			v = nil
		}
	}()
	s.skipSpace()
	if s.wantObject && (s.pos >= len(s.data) || s.data[s.pos] != '{') {
		s.fail("must be a JSON object")
	}
	v = s.value(0)
	s.skipSpace()
	if s.pos < len(s.data) {
		s.path = s.path[:0]
		s.fail(fmt.Sprintf("has data after the JSON value at byte %d", s.pos))
	}
	return v
}

func (s *jsonScanner) skipSpace() {
	for s.pos < len(s.data) {
		switch s.data[s.pos] {
		case ' ', '\t', '\n', '\r':
			s.pos++
		default:
			return
		}
	}
}

func (s *jsonScanner) syntax(what string) {
	if s.pos >= len(s.data) {
		s.fail("is not valid JSON: unexpected end of input")
	}
	s.fail(fmt.Sprintf("is not valid JSON: %s at byte %d", what, s.pos))
}

func (s *jsonScanner) value(depth int) any {
	s.skipSpace()
	if s.pos >= len(s.data) {
		s.syntax("")
	}
	switch c := s.data[s.pos]; {
	case c == '{':
		return s.object(depth + 1)
	case c == '[':
		return s.array(depth + 1)
	case c == '"':
		if !s.build {
			s.str(false)
			return nil
		}
		return s.str(true)
	case c == '-' || c >= '0' && c <= '9':
		return s.number()
	case c == 't':
		s.literal("true")
		return true
	case c == 'f':
		s.literal("false")
		return false
	case c == 'n':
		s.literal("null")
		return nil
	default:
		s.syntax(fmt.Sprintf("unexpected %q", c))
		return nil
	}
}

func (s *jsonScanner) literal(lit string) {
	if !bytes.HasPrefix(s.data[s.pos:], []byte(lit)) {
		s.syntax("invalid literal")
	}
	s.pos += len(lit)
}

func (s *jsonScanner) depthCheck(depth int) {
	if depth > s.maxDepth {
		limit := s.maxDepth
		if s.topKeys && len(s.path) > 0 {
			// An event's scan stops far past a field's own limit: name
			// that field's limit, not the event's.
			limit = maxStateDepth
			if s.path[0].key == "metadata" {
				limit = MaxMetadataDepth
			}
		}
		s.fail(fmt.Sprintf("nests deeper than %d levels", limit))
	}
}

func (s *jsonScanner) object(depth int) any {
	s.depthCheck(depth)
	s.pos++ // {
	var obj map[string]any
	if s.build {
		obj = map[string]any{}
	}
	keysStart := len(s.keySet)
	defer func() { s.keySet = s.keySet[:keysStart] }()
	var seen map[string]struct{} // duplicate detection for large objects
	s.skipSpace()
	if s.pos < len(s.data) && s.data[s.pos] == '}' {
		s.pos++
		if s.build {
			return obj
		}
		return nil
	}
	for {
		s.skipSpace()
		if s.pos >= len(s.data) || s.data[s.pos] != '"' {
			s.syntax("expected a string key")
		}
		s.inKey = true
		key := s.str(true)
		s.inKey = false
		dup := false
		switch {
		case s.build:
			_, dup = obj[key]
		case seen != nil:
			_, dup = seen[key]
			seen[key] = struct{}{}
		default:
			dup = slices.Contains(s.keySet[keysStart:], key)
			s.keySet = append(s.keySet, key)
			if len(s.keySet)-keysStart > smallObjectKeys {
				// A linear search per key is quadratic: switch to a set
				// before a hostile state with 80,000 keys makes it hurt.
				seen = make(map[string]struct{}, 2*smallObjectKeys)
				for _, k := range s.keySet[keysStart:] {
					seen[k] = struct{}{}
				}
			}
		}
		s.path = append(s.path, pathSeg{key: key, index: -1})
		if dup {
			s.problem("is a duplicate key")
		}
		if s.topKeys && depth == 1 && !slices.Contains(eventFields, key) {
			s.problem("is not a field of an event")
		}
		s.skipSpace()
		if s.pos >= len(s.data) || s.data[s.pos] != ':' {
			s.syntax("expected ':'")
		}
		s.pos++
		v := s.value(depth)
		if s.build {
			obj[key] = v
		}
		s.path = s.path[:len(s.path)-1]
		s.skipSpace()
		if s.pos >= len(s.data) {
			s.syntax("")
		}
		switch s.data[s.pos] {
		case ',':
			s.pos++
		case '}':
			s.pos++
			if s.build {
				return obj
			}
			return nil
		default:
			s.syntax("expected ',' or '}'")
		}
	}
}

func (s *jsonScanner) array(depth int) any {
	s.depthCheck(depth)
	s.pos++ // [
	var arr []any
	if s.build {
		arr = []any{}
	}
	s.skipSpace()
	if s.pos < len(s.data) && s.data[s.pos] == ']' {
		s.pos++
		if s.build {
			return arr
		}
		return nil
	}
	for i := 0; ; i++ {
		s.path = append(s.path, pathSeg{index: i})
		v := s.value(depth)
		s.path = s.path[:len(s.path)-1]
		if s.build {
			arr = append(arr, v)
		}
		s.skipSpace()
		if s.pos >= len(s.data) {
			s.syntax("")
		}
		switch s.data[s.pos] {
		case ',':
			s.pos++
		case ']':
			s.pos++
			if s.build {
				return arr
			}
			return nil
		default:
			s.syntax("expected ',' or ']'")
		}
	}
}

// smallObjectKeys is how many keys an object may have before duplicate
// detection (when not building) uses a map instead of a linear search.
const smallObjectKeys = 16

// str scans a string starting at its opening quote and checks it; with
// keep it also returns its value (keys always need it, values only when
// building), otherwise it allocates nothing.
func (s *jsonScanner) str(keep bool) string {
	s.pos++ // "
	start := s.pos
	// Fast path: plain ASCII without escapes.
	for s.pos < len(s.data) {
		c := s.data[s.pos]
		if c == '"' {
			s.pos++
			if !keep || s.pos-1 == start {
				return ""
			}
			// A view of the input: what the scan builds lives only as
			// long as the validation (messages copy what they quote).
			return unsafe.String(&s.data[start], s.pos-1-start)
		}
		if c == '\\' || c < 0x20 || c >= 0x80 {
			break
		}
		s.pos++
	}
	s.buf = append(s.buf[:0], s.data[start:s.pos]...)
	badUTF8, nul, surrogate := false, false, false
	for {
		if s.pos >= len(s.data) {
			s.syntax("")
		}
		c := s.data[s.pos]
		switch {
		case c == '"':
			s.pos++
			what := ""
			if s.inKey {
				// Reported on the object: the key is no path segment yet.
				what = "a key "
			}
			if badUTF8 {
				s.problem(what + "must be valid UTF-8")
			}
			if nul {
				s.problem(what + "must not contain NUL (U+0000)")
			}
			if surrogate {
				s.problem(what + "must not contain an unpaired UTF-16 surrogate escape")
			}
			if !keep {
				return ""
			}
			return string(s.buf)
		case c < 0x20:
			s.syntax("control character in string")
		case c == '\\':
			s.pos++
			if s.pos >= len(s.data) {
				s.syntax("")
			}
			esc := s.data[s.pos]
			s.pos++
			switch esc {
			case '"', '\\', '/':
				s.buf = append(s.buf, esc)
			case 'b':
				s.buf = append(s.buf, '\b')
			case 'f':
				s.buf = append(s.buf, '\f')
			case 'n':
				s.buf = append(s.buf, '\n')
			case 'r':
				s.buf = append(s.buf, '\r')
			case 't':
				s.buf = append(s.buf, '\t')
			case 'u':
				r := s.hex4()
				switch {
				case r == 0:
					nul = true
				case r >= 0xD800 && r < 0xDC00:
					if s.pos+1 < len(s.data) && s.data[s.pos] == '\\' && s.data[s.pos+1] == 'u' {
						save := s.pos
						s.pos += 2
						r2 := s.hex4()
						if r2 >= 0xDC00 && r2 < 0xE000 {
							r = 0x10000 + (r-0xD800)<<10 + (r2 - 0xDC00)
						} else {
							s.pos = save
							surrogate = true
						}
					} else {
						surrogate = true
					}
				case r >= 0xDC00 && r < 0xE000:
					surrogate = true
				}
				s.buf = utf8.AppendRune(s.buf, r)
			default:
				s.pos--
				s.syntax("invalid escape")
			}
		case c < 0x80:
			s.buf = append(s.buf, c)
			s.pos++
		default:
			r, size := utf8.DecodeRune(s.data[s.pos:])
			if r == utf8.RuneError && size == 1 {
				badUTF8 = true
			}
			s.buf = append(s.buf, s.data[s.pos:s.pos+size]...)
			s.pos += size
		}
	}
}

func (s *jsonScanner) hex4() rune {
	if s.pos+4 > len(s.data) {
		s.syntax("")
	}
	var r rune
	for _, c := range s.data[s.pos : s.pos+4] {
		r <<= 4
		switch {
		case c >= '0' && c <= '9':
			r |= rune(c - '0')
		case c >= 'a' && c <= 'f':
			r |= rune(c - 'a' + 10)
		case c >= 'A' && c <= 'F':
			r |= rune(c - 'A' + 10)
		default:
			s.syntax("invalid \\u escape")
		}
	}
	s.pos += 4
	return r
}

func (s *jsonScanner) number() any {
	start := s.pos
	if s.data[s.pos] == '-' {
		s.pos++
	}
	digits := s.pos
	switch {
	case s.pos < len(s.data) && s.data[s.pos] == '0':
		s.pos++
	case s.pos < len(s.data) && s.data[s.pos] >= '1' && s.data[s.pos] <= '9':
		for s.pos < len(s.data) && s.data[s.pos] >= '0' && s.data[s.pos] <= '9' {
			s.pos++
		}
	default:
		s.syntax("invalid number")
	}
	intEnd := s.pos
	integer := true
	if s.pos < len(s.data) && s.data[s.pos] == '.' {
		integer = false
		s.pos++
		if !s.digits() {
			s.syntax("invalid number")
		}
	}
	if s.pos < len(s.data) && (s.data[s.pos] == 'e' || s.data[s.pos] == 'E') {
		integer = false
		s.pos++
		if s.pos < len(s.data) && (s.data[s.pos] == '+' || s.data[s.pos] == '-') {
			s.pos++
		}
		if !s.digits() {
			s.syntax("invalid number")
		}
	}
	lit := s.data[start:s.pos]
	if s.integersOnly {
		if !integer {
			s.problem("must be an integer; use a string for decimals")
		} else if intEnd-digits > 16 {
			s.problem("must be an integer of magnitude at most 2^53 (9007199254740992); use a string for larger numbers")
		} else if n, _ := strconv.ParseUint(string(s.data[digits:intEnd]), 10, 64); n > MaxSafeInteger {
			s.problem("must be an integer of magnitude at most 2^53 (9007199254740992); use a string for larger numbers")
		}
	} else if s.exactNumbers {
		reason, stored := inexactNumber(lit)
		if reason != "" {
			s.problem(reason)
		} else if len(stored) > len(lit) {
			s.grow += len(stored) - len(lit)
		}
	}
	if s.build {
		return json.Number(lit)
	}
	return nil
}

// inexactNumber says why a JSON number would not survive the canonical
// form (RFC 8785), which holds numbers as IEEE 754 doubles, or "" when it
// would: the state a commitment covers would differ from the one sent
// (12345678901234567890 would be stored as 12345678901234567000). stored
// is the number's canonical form when it may be longer than lit (it has
// an exponent: 1e20 is stored as 21 digits), else "".
func inexactNumber(lit []byte) (reason, stored string) {
	digits := 0
	for _, c := range lit {
		switch {
		case c >= '0' && c <= '9':
			digits++
		case c == 'e' || c == 'E':
			digits = 99 // decide below
		}
	}
	if digits <= 15 {
		// At most 15 significant digits and no exponent: a double holds
		// them exactly, and the canonical form is no longer.
		return "", ""
	}
	f, err := strconv.ParseFloat(string(lit), 64)
	if err != nil {
		return "is beyond the range of a JSON number (an IEEE 754 double); send it as a string", ""
	}
	stored, err = jcs.NumberToJSON(f)
	if err != nil {
		return "is not a JSON number the canonical form can hold; send it as a string", ""
	}
	want, ok1 := new(big.Rat).SetString(string(lit))
	got, ok2 := new(big.Rat).SetString(stored)
	if !ok1 || !ok2 || want.Cmp(got) != 0 {
		return fmt.Sprintf("has more precision than a JSON number (an IEEE 754 double) keeps: it would be stored as %s; send it as a string", stored), ""
	}
	return "", stored
}

func (s *jsonScanner) digits() bool {
	start := s.pos
	for s.pos < len(s.data) && s.data[s.pos] >= '0' && s.data[s.pos] <= '9' {
		s.pos++
	}
	return s.pos > start
}
