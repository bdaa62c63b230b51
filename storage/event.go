package storage

import (
	"encoding/json"
	"time"
)

// Event is what a producer appends: the stable input schema of DESIGN.md §2.
//
// ID is a UUID (UUIDv7 generated when empty). Timestamp is when the action
// happened, in UTC; JSON input with an offset other than "Z" is rejected, not
// converted. BeforeState and AfterState are sensitive: they are sealed with
// the organization's data key and only their commitments are public.
type Event struct {
	ID             string          `json:"id,omitempty"`
	Timestamp      time.Time       `json:"timestamp"`
	OrganizationID string          `json:"organizationId"`
	UserID         string          `json:"userId"`
	Provider       string          `json:"provider"`
	ActionType     string          `json:"actionType"`
	ResourceIDs    []string        `json:"resourceIds"`
	BeforeState    json.RawMessage `json:"beforeState,omitempty"`
	AfterState     json.RawMessage `json:"afterState,omitempty"`
	Status         string          `json:"status"`
	RiskLevel      string          `json:"riskLevel"`
	Metadata       json.RawMessage `json:"metadata,omitempty"`
}

// Providers, statuses and risk levels accepted in events.
var (
	Providers  = []string{"aws", "azure", "gcp", "system"}
	Statuses   = []string{"pending", "applied", "failed", "rolled_back"}
	RiskLevels = []string{"low", "medium", "high"}
)

// Limits enforced on every event (documented in the README).
const (
	MaxEventBytes      = 1 << 20   // whole event, encoded
	MaxStateBytes      = 512 << 10 // each of beforeState, afterState
	MaxResourceIDs     = 1000
	MaxResourceIDBytes = 1 << 10
	MaxMetadataDepth   = 16
)

// Receipt acknowledges a durably recorded event.
type Receipt struct {
	ID             string    `json:"id"`
	OrganizationID string    `json:"organizationId"`
	Seq            uint64    `json:"seq"`
	RecordedAt     time.Time `json:"recordedAt"`
}
