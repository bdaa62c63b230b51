package app

import "encoding/json"

// The DTOs below are the one contract the desktop bindings, the REST API
// (JSON bodies) and the frontend share. Times are RFC 3339 strings in UTC
// (nanosecond precision where the store has it).

// EventDTO is one recorded event as the UI and API show it.
type EventDTO struct {
	ID             string          `json:"id"`
	Seq            uint64          `json:"seq"`
	Timestamp      string          `json:"timestamp"`
	RecordedAt     string          `json:"recordedAt"`
	OrganizationID string          `json:"organizationId"`
	UserID         string          `json:"userId"`
	Provider       string          `json:"provider"`
	ActionType     string          `json:"actionType"`
	Category       string          `json:"category"`
	ResourceIDs    []string        `json:"resourceIds"`
	Status         string          `json:"status"`
	RiskLevel      string          `json:"riskLevel"`
	Metadata       json.RawMessage `json:"metadata"`
	// States are present only when the keys are available and the caller
	// may see them; their commitments are always present when a state was
	// recorded.
	BeforeState           json.RawMessage `json:"beforeState,omitempty"`
	AfterState            json.RawMessage `json:"afterState,omitempty"`
	BeforeStateCommitment string          `json:"beforeStateCommitment,omitempty"`
	AfterStateCommitment  string          `json:"afterStateCommitment,omitempty"`
	// StatesSealed: the event's states could not be decrypted here (their
	// data key, or the key-encryption key that wraps it, is not at hand).
	StatesSealed bool   `json:"statesSealed,omitempty"`
	PrevHash     string `json:"prevHash"`
	LeafHash     string `json:"leafHash"`
	// From the catalogue, for display and exports.
	Retention string   `json:"retention"`
	SOC2      []string `json:"soc2"`
	ISO27001  []string `json:"iso27001"`
}

// QueryDTO is a timeline filter. Every list field is OR within the field and
// AND across fields; the Not* fields exclude.
type QueryDTO struct {
	Org              string   `json:"org"`
	Since            string   `json:"since,omitempty"` // RFC 3339, inclusive
	Until            string   `json:"until,omitempty"` // RFC 3339, exclusive
	Categories       []string `json:"categories,omitempty"`
	ActionTypes      []string `json:"actionTypes,omitempty"`
	Providers        []string `json:"providers,omitempty"`
	UserIDs          []string `json:"userIds,omitempty"`
	Statuses         []string `json:"statuses,omitempty"`
	RiskLevels       []string `json:"riskLevels,omitempty"`
	ResourceID       string   `json:"resourceId,omitempty"`       // exact
	ResourceIDPrefix string   `json:"resourceIdPrefix,omitempty"` // "resource:arn:aws:s3*"
	NotCategories    []string `json:"notCategories,omitempty"`
	NotActionTypes   []string `json:"notActionTypes,omitempty"`
	NotProviders     []string `json:"notProviders,omitempty"`
	NotUserIDs       []string `json:"notUserIds,omitempty"`
	NotStatuses      []string `json:"notStatuses,omitempty"`
	NotRiskLevels    []string `json:"notRiskLevels,omitempty"`
	Text             string   `json:"text,omitempty"`  // free text over the public fields (storage.Filter.Text)
	Order            string   `json:"order,omitempty"` // "newest" (default) | "oldest"
	Limit            int      `json:"limit,omitempty"` // default 100, max 1000
	Cursor           string   `json:"cursor,omitempty"`
}

// EventPageDTO is one page of a timeline query.
type EventPageDTO struct {
	Events     []EventDTO `json:"events"`
	NextCursor string     `json:"nextCursor,omitempty"` // empty: no more pages
}

// FacetCountDTO is one value of a facet and how many events have it.
type FacetCountDTO struct {
	Value string `json:"value"`
	Count int64  `json:"count"`
}

// FacetsDTO holds counts per value for category, provider, status,
// riskLevel and userId, each sorted by count descending.
type FacetsDTO map[string][]FacetCountDTO

// HistogramQueryDTO is a timeline filter and the time zone whose clock
// its histogram's buckets follow.
type HistogramQueryDTO struct {
	QueryDTO
	// TimeZone is an IANA name ("Asia/Kolkata"); empty is UTC. A bucket of
	// a day starts at midnight there, one of an hour on a whole hour.
	TimeZone string `json:"timeZone,omitempty"`
}

// HistogramBucketDTO counts events in [start, end).
type HistogramBucketDTO struct {
	Start    string           `json:"start"`
	End      string           `json:"end"`
	Count    int64            `json:"count"`
	ByRisk   map[string]int64 `json:"byRisk"`
	ByStatus map[string]int64 `json:"byStatus"`
}

// HistogramDTO is the event count over the query's time range.
type HistogramDTO struct {
	// BucketSeconds is the buckets' length on the time zone's clock: a
	// day's bucket is an hour shorter or longer across a daylight-saving
	// change there (its end says so).
	BucketSeconds int64                `json:"bucketSeconds"`
	Buckets       []HistogramBucketDTO `json:"buckets"`
}

// OverviewDTO is what the timeline shows beside a query's rows: its facets
// and its histogram, counted on one snapshot of the log.
type OverviewDTO struct {
	Facets    FacetsDTO    `json:"facets"`
	Histogram HistogramDTO `json:"histogram"`
}

// OrganizationDTO is one organization's log.
type OrganizationDTO struct {
	ID             string `json:"id"`
	Size           uint64 `json:"size"`
	LastRecordedAt string `json:"lastRecordedAt,omitempty"`
	// Alert is the organization's active integrity alert. An organization
	// whose log is missing from the database but anchored in the keychain
	// is listed with size 0 and its alert.
	Alert *IntegrityAlertDTO `json:"alert,omitempty"`
}

// CheckpointDTO is the newest signed checkpoint of an organization.
type CheckpointDTO struct {
	Origin    string `json:"origin"`
	Size      uint64 `json:"size"`
	Root      string `json:"root"` // base64
	Time      string `json:"time"`
	Note      string `json:"note"` // the signed note, byte-exact
	PublicKey string `json:"publicKey"`
	// Alert is the organization's active integrity alert, when it has one:
	// its appends are refused until it is acknowledged.
	Alert *IntegrityAlertDTO `json:"alert,omitempty"`
}

// IntegrityAlertDTO is an active integrity alert (a rollback, truncation or
// an inconsistency found by a witness).
type IntegrityAlertDTO struct {
	Kind       string `json:"kind"`
	DetectedAt string `json:"detectedAt"`
	Message    string `json:"message"` // what happened and what to do
}

// InclusionProofDTO proves an event is in the tree of a checkpoint.
type InclusionProofDTO struct {
	LeafIndex uint64   `json:"leafIndex"`
	TreeSize  uint64   `json:"treeSize"`
	LeafHash  string   `json:"leafHash"` // base64
	Hashes    []string `json:"hashes"`   // base64
	Verified  bool     `json:"verified"` // checked against the checkpoint's root
}

// VerifyProblemDTO is one problem verification found.
type VerifyProblemDTO struct {
	Org    string `json:"org"`
	Seq    uint64 `json:"seq,omitempty"`
	ID     string `json:"id,omitempty"`
	Kind   string `json:"kind"`
	Detail string `json:"detail"`
	// Checkpoint is the checkpoint's number for checkpoint problems.
	Checkpoint uint64 `json:"checkpoint,omitempty"`
}

// VerifyResultDTO summarises a verification run.
type VerifyResultDTO struct {
	Org         string `json:"org"` // empty: every organization
	Events      uint64 `json:"events"`
	Checkpoints uint64 `json:"checkpoints"`
	States      uint64 `json:"states"` // decrypted and checked against their commitments (0 when keyless)
	// Problems lists the first 1,000 problems; ProblemCount counts all of
	// them and Truncated says the list is shorter.
	Problems     []VerifyProblemDTO `json:"problems"`
	ProblemCount uint64             `json:"problemCount"`
	Truncated    bool               `json:"truncated,omitempty"`
	// Pruned counts the events retention pruned under a policy in force
	// (not problems); PrunedRanges lists them as runs.
	Pruned       uint64           `json:"pruned"`
	PrunedRanges []PrunedRangeDTO `json:"prunedRanges,omitempty"`
	Clean        bool             `json:"clean"`
	StartedAt    string           `json:"startedAt"`
	FinishedAt   string           `json:"finishedAt"`
	Keyless      bool             `json:"keyless"`
}

// ErrorDTO is the body of every error response; Code is stable.
type ErrorDTO struct {
	Code    string       `json:"code"`
	Message string       `json:"message"`
	Fields  []FieldError `json:"fields,omitempty"`
}

// FieldError names one invalid field of a request. A problem of one event
// of a JSON array names its position (Index, from 0, 0 included); one of a
// JSON Lines body names its line (Line, from 1), and a conflict there both.
type FieldError struct {
	Index  *int   `json:"index,omitempty"`
	Line   int    `json:"line,omitempty"`
	Field  string `json:"field"`
	Reason string `json:"reason"`
}

// at is the batch position i, for FieldError.Index.
func at(i int) *int { return &i }
