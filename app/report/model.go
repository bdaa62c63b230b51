package report

// The report's JSON form (report.json). Its schema is stable: fields are
// only added, never renamed or removed, and SchemaVersion changes when a
// field's meaning would. Times are RFC 3339 in UTC; lists that could grow
// with the log are capped at MaxListed entries, with the full count beside
// them.

// SchemaVersion names the shape of report.json.
const SchemaVersion = "axiom-audit/report/v1"

// MaxListed caps every list of individual events or plans in a report; the
// counts beside each list are always complete.
const MaxListed = 200

// MaxExamples is how many example event ids each category and control shows.
const MaxExamples = 3

// Report is everything a compliance report says, as figures.
type Report struct {
	Schema       string        `json:"schema"`
	Organization string        `json:"organization"`
	Period       PeriodJSON    `json:"period"`
	Generated    Generated     `json:"generated"`
	Summary      Summary       `json:"summary"`
	Integrity    Integrity     `json:"integrity"`
	Categories   []CategoryRow `json:"categories"`
	Controls     Controls      `json:"controls"`
	Weekly       []WeekRow     `json:"weekly"`
	Risk         RiskCounts    `json:"risk"`
	Connections  Connections   `json:"connections"`
	Changes      Changes       `json:"changes"`
	Incidents    Incidents     `json:"incidents"`
	HighRisk     HighRisk      `json:"highRisk"`
	Drift        Drift         `json:"drift"`
	Retention    Retention     `json:"retention"`
	Exports      Exports       `json:"exports"`
	Evidence     EvidenceInfo  `json:"evidence"`
	Rendering    Rendering     `json:"rendering"`
}

// PeriodJSON is the period covered: [since, until).
type PeriodJSON struct {
	Label string `json:"label"`
	Since string `json:"since"`
	Until string `json:"until"` // exclusive
	Days  int    `json:"days"`
}

// Generated says who made the report, when and with what.
type Generated struct {
	At      string `json:"at"`
	By      string `json:"by"`
	Product string `json:"product"`
	Version string `json:"version"`
}

// Summary holds the cover's headline figures.
type Summary struct {
	Events            int64  `json:"events"`
	MaterialEvents    int64  `json:"materialEvents"`
	OperationalEvents int64  `json:"operationalEvents"`
	Actors            int    `json:"actors"`
	HighRiskEvents    int64  `json:"highRiskEvents"`
	Plans             int    `json:"plans"`
	Applies           int64  `json:"applies"`
	FailedApplies     int64  `json:"failedApplies"`
	RolledBackApplies int64  `json:"rolledBackApplies"`
	Rollbacks         int64  `json:"rollbacks"`
	DriftDetections   int64  `json:"driftDetections"`
	Exports           int64  `json:"exports"`
	FirstEvent        string `json:"firstEvent,omitempty"`
	LastEvent         string `json:"lastEvent,omitempty"`
}

// Integrity is the state of the organization's log when the report was
// made. Status is "verified" (a verification ran clean), "problems" (it
// found some), "checkpoint-only" (a signed checkpoint exists but this build
// cannot verify) or "unavailable".
type Integrity struct {
	Status       string        `json:"status"`
	Checkpoint   *Checkpoint   `json:"checkpoint,omitempty"`
	Verification *Verification `json:"verification,omitempty"`
	Note         string        `json:"note,omitempty"`
}

// Checkpoint is the newest signed checkpoint of the organization's log.
type Checkpoint struct {
	Origin string `json:"origin"`
	Size   uint64 `json:"size"`
	Root   string `json:"root"` // base64, as in the signed note
	Time   string `json:"time"`
}

// Verification is the result of verifying the organization's log.
type Verification struct {
	Result     string   `json:"result"` // "ok", "tampered" or "incomplete" (as audit.verified)
	Records    uint64   `json:"records"`
	Pruned     uint64   `json:"pruned"`
	Problems   int      `json:"problems"`
	Details    []string `json:"details,omitempty"` // the first problems, one sentence each
	Keyless    bool     `json:"keyless"`
	StartedAt  string   `json:"startedAt"`
	FinishedAt string   `json:"finishedAt"`
}

// CategoryRow counts one category's events.
type CategoryRow struct {
	Category   string           `json:"category"`
	Retention  string           `json:"retention"`
	Count      int64            `json:"count"`
	ByStatus   map[string]int64 `json:"byStatus"`
	ExampleIDs []string         `json:"exampleIds"`
}

// Controls maps events to the controls they evidence.
type Controls struct {
	SOC2     []ControlRow `json:"soc2"`
	ISO27001 []ControlRow `json:"iso27001"`
}

// ControlRow counts the events that evidence one control.
type ControlRow struct {
	Control     string   `json:"control"`
	Title       string   `json:"title"`
	Count       int64    `json:"count"`
	ActionTypes []string `json:"actionTypes"`
	ExampleIDs  []string `json:"exampleIds"`
}

// WeekRow counts the events of one week (Monday 00:00 UTC) per category;
// the first and last weeks may be cut by the period.
type WeekRow struct {
	Start      string           `json:"start"`
	Total      int64            `json:"total"`
	ByCategory map[string]int64 `json:"byCategory"`
}

// RiskCounts counts events per risk level.
type RiskCounts struct {
	Low    int64 `json:"low"`
	Medium int64 `json:"medium"`
	High   int64 `json:"high"`
}

// EventRef is one event as a report lists it.
type EventRef struct {
	ID         string   `json:"id"`
	Seq        uint64   `json:"seq"`
	At         string   `json:"at"`
	ActionType string   `json:"actionType"`
	UserID     string   `json:"userId"`
	Provider   string   `json:"provider"`
	Resources  []string `json:"resources"`
	Status     string   `json:"status"`
	RiskLevel  string   `json:"riskLevel"`
	Detail     string   `json:"detail,omitempty"`
}

// Connections lists the cloud connections made and removed.
type Connections struct {
	Connected              []EventRef `json:"connected"`
	Disconnected           []EventRef `json:"disconnected"`
	ExternalIDRotations    []EventRef `json:"externalIdRotations"`
	Managed                int64      `json:"managed"` // user.connection_managed
	RoleAssumptions        int64      `json:"roleAssumptions"`
	RoleAssumptionFailures int64      `json:"roleAssumptionFailures"`
}

// Changes are the plans of the period and what became of them: plan →
// approvals → (Terraform export) → applies → rollbacks, linked by planId.
type Changes struct {
	Plans            int            `json:"plans"`
	PlansListed      int            `json:"plansListed"`
	MultiParty       int            `json:"multiPartyApproved"`
	Rejected         int            `json:"rejected"`
	Approvals        int64          `json:"approvals"`
	Rejections       int64          `json:"rejections"`
	Outcomes         map[string]int `json:"outcomes"`
	ApplyOutcomes    ApplyOutcomes  `json:"applyOutcomes"`
	TerraformExports int64          `json:"terraformExports"`
	Chains           []PlanChain    `json:"chains"`
}

// ApplyOutcomes counts apply.mutation events by status.
type ApplyOutcomes struct {
	Applied    int64 `json:"applied"`
	Failed     int64 `json:"failed"`
	RolledBack int64 `json:"rolledBack"`
	Pending    int64 `json:"pending"`
	External   int64 `json:"appliedExternally"`
}

// PlanChain is one plan and everything linked to it.
type PlanChain struct {
	PlanID            string        `json:"planId"`
	GeneratedAt       string        `json:"generatedAt,omitempty"` // empty: generated before the period
	GeneratedEventID  string        `json:"generatedEventId,omitempty"`
	RequestedBy       string        `json:"requestedBy,omitempty"`
	Provider          string        `json:"provider"`
	Risk              string        `json:"risk"`
	Versions          int           `json:"versions"`
	Resources         int           `json:"resources"`
	RequiredApprovals int           `json:"requiredApprovals"`
	Approved          int           `json:"approved"` // distinct approvers of the newest version
	Approvals         []Approval    `json:"approvals"`
	MultiParty        bool          `json:"multiParty"`
	TerraformExported bool          `json:"terraformExported"`
	Applies           ApplyOutcomes `json:"applies"`
	Rollbacks         int           `json:"rollbacks"`
	Outcome           string        `json:"outcome"`
	LastAt            string        `json:"lastAt"`
}

// Approval is one decision on a plan.
type Approval struct {
	Approver    string `json:"approver"`
	Decision    string `json:"decision"` // approved | rejected
	At          string `json:"at"`
	PlanVersion int    `json:"planVersion"`
	EventID     string `json:"eventId"`
	Note        string `json:"note,omitempty"`
}

// Incidents are the failed and rolled-back applies with their recovery.
type Incidents struct {
	Count     int        `json:"count"`
	MeanRTO   int64      `json:"meanRtoSeconds"`
	MaxRTO    int64      `json:"maxRtoSeconds"`
	Items     []Incident `json:"items"`
	Truncated int        `json:"truncated,omitempty"`
}

// Incident is one failed or rolled-back apply.
type Incident struct {
	EventID      string `json:"eventId"`
	At           string `json:"at"`
	PlanID       string `json:"planId,omitempty"`
	Resource     string `json:"resource"`
	Provider     string `json:"provider"`
	Status       string `json:"status"` // failed | rolled_back
	ErrorCode    string `json:"errorCode,omitempty"`
	HealthCheck  string `json:"healthCheck,omitempty"`
	RTOSeconds   *int64 `json:"rtoSeconds"` // of the apply, else of its rollback; null when neither says
	RollbackPath string `json:"rollbackPath,omitempty"`
	RollbackAt   string `json:"rollbackAt,omitempty"`
	Verification string `json:"verification,omitempty"` // rollback.verified result
}

// HighRisk lists the high-risk actions of the period.
type HighRisk struct {
	Count        int64        `json:"count"`
	ByActionType []NamedCount `json:"byActionType"`
	Items        []EventRef   `json:"items"`
	Truncated    int64        `json:"truncated,omitempty"`
}

// NamedCount is a count with its name.
type NamedCount struct {
	Name  string `json:"name"`
	Count int64  `json:"count"`
}

// Drift is what drift detection found.
type Drift struct {
	Cycles           int64      `json:"cycles"`           // workflow.drift_detection runs
	CyclesWithDrift  int64      `json:"cyclesWithDrift"`  // … that found drifted resources
	DriftedResources int64      `json:"driftedResources"` // summed over runs
	ReleaseDrifts    int64      `json:"releaseDrifts"`    // releaseops.drift_detected
	Items            []EventRef `json:"items"`
	Truncated        int64      `json:"truncated,omitempty"`
}

// Retention is the retention policy in force and what it pruned.
type Retention struct {
	Policy  string           `json:"policy"`
	Classes []RetentionClass `json:"classes"`
	// Pruned lists the newest MaxListed runs of pruned records, in seq
	// order; PrunedRuns and PrunedRecords count them all.
	Pruned        []PrunedRange `json:"pruned"`
	PrunedRuns    int           `json:"prunedRuns"`
	PrunedRecords uint64        `json:"prunedRecords"`
	Note          string        `json:"note,omitempty"`
}

// RetentionClass is how long one class of events is kept.
type RetentionClass struct {
	Class      string `json:"class"`
	Category   string `json:"category,omitempty"`
	Days       int    `json:"days"` // 0: indefinite
	Indefinite bool   `json:"indefinite"`
}

// PrunedRange is a run of records whose bodies retention removed (their
// tombstones keep the log verifiable).
type PrunedRange struct {
	FromSeq  uint64 `json:"fromSeq"`
	ToSeq    uint64 `json:"toSeq"`
	Count    uint64 `json:"count"`
	Class    string `json:"class"`
	Policy   string `json:"policy"`
	PrunedAt string `json:"prunedAt"`
}

// Exports are the exports of the log made in the period (audit.exported).
type Exports struct {
	Count int64 `json:"count"`
	// Revealing counts the exports that held decrypted states
	// (--include-sensitive), listed or not.
	Revealing int64        `json:"revealingStates"`
	Items     []ExportItem `json:"items"`
	Truncated int64        `json:"truncated,omitempty"`
}

// ExportItem is one export: who, what, when.
type ExportItem struct {
	EventID string `json:"eventId"`
	At      string `json:"at"`
	Who     string `json:"who"`
	Kind    string `json:"kind"` // "export" or "report"
	Format  string `json:"format,omitempty"`
	Filter  string `json:"filter,omitempty"` // the filter as compact JSON
	Files   int    `json:"files"`
	Bytes   int64  `json:"bytes"`
	SHA256  string `json:"sha256,omitempty"`
	// Events is how many events the export held (absent in records
	// written before exports counted them).
	Events *int64 `json:"events,omitempty"`
	// RevealedStates: the export held the decrypted before/after
	// states, in plain text.
	RevealedStates bool `json:"revealedStates"`
}

// EvidenceInfo describes the evidence bundle of the period's material
// events in the report folder.
type EvidenceInfo struct {
	Folder   string         `json:"folder,omitempty"`
	Producer string         `json:"producer,omitempty"`
	Events   int64          `json:"events"`
	Files    []EvidenceFile `json:"files"`
	Note     string         `json:"note,omitempty"`
}

// EvidenceFile is one file of the evidence bundle.
type EvidenceFile struct {
	Name   string `json:"name"`
	Bytes  int64  `json:"bytes"`
	SHA256 string `json:"sha256"`
}

// Rendering says which forms of the report were produced.
type Rendering struct {
	HTML bool   `json:"html"`
	PDF  bool   `json:"pdf"`
	Note string `json:"note,omitempty"`
}
