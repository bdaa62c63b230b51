package report

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/axiomops/axiom-audit/storage"
)

// Options say what to report on and where the figures come from.
type Options struct {
	Org    string
	Period Period
	// Catalogue maps action types to categories, retention classes and
	// controls; nil loads the built-in one.
	Catalogue *storage.Catalogue
	// Integrity verifies the log; nil reports integrity as unavailable.
	Integrity IntegritySource
	// Retention says what retention did; nil means DefaultRetention.
	Retention RetentionSource
	// Now is the clock of "generated at"; nil means time.Now.
	Now func() time.Time
	// User and Version say who generated the report with which build.
	User    string
	Version string
	// PageSize is how many events each List call returns (default
	// storage.MaxLimit).
	PageSize int
	// CopiesOrg is the organization whose log records the copies made for
	// auditors (audit.copied_for_audit, the app's own organization); the
	// copies of the period that held Org are listed among its exports.
	// Empty: none are.
	CopiesOrg string
}

func (o *Options) defaults() error {
	if o.Org == "" {
		return errors.New("report: the organization is required")
	}
	if o.Period.Since.IsZero() || !o.Period.Until.After(o.Period.Since) {
		return fmt.Errorf("report: period %q is empty: %w", o.Period.Label, ErrPeriod)
	}
	if o.Catalogue == nil {
		c, err := storage.LoadCatalogue()
		if err != nil {
			return fmt.Errorf("failed to load the action-type catalogue: %w", err)
		}
		o.Catalogue = c
	}
	if o.Retention == nil {
		o.Retention = DefaultRetention{}
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Version == "" {
		o.Version = "dev"
	}
	if o.PageSize <= 0 || o.PageSize > storage.MaxLimit {
		o.PageSize = storage.MaxLimit
	}
	return nil
}

// Build computes a report by paging once through the organization's events
// of the period, oldest first. Memory grows with the number of categories,
// controls, weeks, actors, plans and failed applies of the period, and with
// the capped lists, never with the number of events.
func Build(ctx context.Context, src EventSource, opts Options) (*Report, error) {
	if err := opts.defaults(); err != nil {
		return nil, err
	}
	b := newBuilder(opts)
	f := storage.Filter{Org: opts.Org, Since: opts.Period.Since, Until: opts.Period.Until,
		Order: storage.OldestFirst, Limit: opts.PageSize}
	if err := eachEvent(ctx, src, f, b.add); err != nil {
		return nil, fmt.Errorf("failed to read the events of %s: %w", opts.Org, err)
	}
	if err := addCopies(ctx, src, opts, b.r); err != nil {
		return nil, err
	}
	r := b.finish()
	r.Integrity = integrityOf(ctx, opts)
	ret, err := opts.Retention.Retention(ctx, opts.Org, opts.Period)
	if err != nil {
		return nil, fmt.Errorf("failed to read the retention status: %w", err)
	}
	if ret.Pruned == nil {
		ret.Pruned = []PrunedRange{}
	}
	r.Retention = ret
	return r, nil
}

// eachEvent pages through the events f selects, calling fn with each.
func eachEvent(ctx context.Context, src EventSource, f storage.Filter, fn func(*storage.StoredEvent)) error {
	for {
		page, err := src.List(ctx, f)
		if err != nil {
			return err
		}
		for i := range page.Events {
			fn(&page.Events[i])
		}
		if page.NextCursor == "" {
			return nil
		}
		f.Cursor = page.NextCursor
	}
}

// addCopies lists, among r's exports, the copies for auditors made in the
// period that held opts.Org: those recorded in opts.CopiesOrg's log with
// opts.Org among their orgIds, or with none (a copy of every
// organization). They took its log out too, so an auditor of the
// organization sees them.
func addCopies(ctx context.Context, src EventSource, opts Options, r *Report) error {
	if opts.CopiesOrg == "" || opts.CopiesOrg == opts.Org {
		return nil
	}
	f := storage.Filter{Org: opts.CopiesOrg, ActionTypes: []string{"audit.copied_for_audit"}, Since: opts.Period.Since,
		Until: opts.Period.Until, Order: storage.OldestFirst, Limit: opts.PageSize}
	added := false
	err := eachEvent(ctx, src, f, func(e *storage.StoredEvent) {
		var m struct {
			OrgIDs []string `json:"orgIds"`
			Dir    string   `json:"dir"`
		}
		if json.Unmarshal(e.Metadata, &m) != nil || m.OrgIDs != nil && !slices.Contains(m.OrgIDs, opts.Org) {
			return
		}
		r.Exports.Count++
		if len(r.Exports.Items) >= MaxListed {
			r.Exports.Truncated++
			return
		}
		what := "every organization"
		if m.OrgIDs != nil {
			what = strings.Join(m.OrgIDs, ", ")
		}
		r.Exports.Items = append(r.Exports.Items, ExportItem{EventID: e.ID, At: ts(e.Timestamp), Who: e.UserID, Kind: "auditor copy",
			Filter: "copy of " + what + " into " + m.Dir})
		added = true
	})
	if errors.Is(err, storage.ErrNotFound) {
		return nil // no copy was ever recorded
	}
	if err != nil {
		return fmt.Errorf("failed to read the copies made for auditors: %w", err)
	}
	if added {
		at := func(x ExportItem) time.Time { t, _ := time.Parse(time.RFC3339Nano, x.At); return t }
		slices.SortStableFunc(r.Exports.Items, func(a, b ExportItem) int { return at(a).Compare(at(b)) })
	}
	return nil
}

// integrityOf reads the checkpoint and runs a verification; a failure of
// either is reported in the report rather than failing it, since a report
// that says "could not verify" is itself evidence.
func integrityOf(ctx context.Context, opts Options) Integrity {
	if opts.Integrity == nil {
		return Integrity{Status: "unavailable", Note: "this build cannot read checkpoints or verify the log"}
	}
	var in Integrity
	var notes []string
	cp, err := opts.Integrity.LatestCheckpoint(ctx, opts.Org)
	switch {
	case err == nil:
		in.Checkpoint = &cp
	case errors.Is(err, storage.ErrNotFound):
		notes = append(notes, "the log has no signed checkpoint yet")
	default:
		notes = append(notes, "the newest checkpoint could not be read: "+err.Error())
	}
	v, err := opts.Integrity.Verify(ctx, opts.Org)
	switch {
	case err == nil:
		in.Verification = &v
		if v.Result == "ok" {
			in.Status = "verified"
		} else {
			in.Status = "problems"
		}
	case errors.Is(err, ErrNotSupported):
		notes = append(notes, "this build cannot verify the log; the checkpoint is shown as stored")
	default:
		notes = append(notes, "verification could not run: "+err.Error())
	}
	if in.Status == "" {
		in.Status = "unavailable"
		if in.Checkpoint != nil {
			in.Status = "checkpoint-only"
		}
	}
	in.Note = strings.Join(notes, "; ")
	return in
}

// meta holds the metadata fields the report reads, across action types.
type meta struct {
	PlanID             string          `json:"planId"`
	PlanVersion        int             `json:"planVersion"`
	RequestedBy        string          `json:"requestedBy"`
	Approver           string          `json:"approver"`
	RequiredApprovals  int             `json:"requiredApprovals"`
	Note               string          `json:"note"`
	RTOSeconds         *int64          `json:"rtoSeconds"`
	ErrorCode          string          `json:"errorCode"`
	HealthCheck        string          `json:"healthCheck"`
	ApplyEventID       string          `json:"applyEventId"`
	Path               string          `json:"path"`
	VerificationResult string          `json:"verificationResult"`
	DriftedResources   int64           `json:"driftedResources"`
	AccountID          string          `json:"accountId"`
	Environment        string          `json:"environment"`
	ReleaseID          string          `json:"releaseId"`
	Reason             string          `json:"reason"`
	TriggerReason      string          `json:"triggerReason"`
	Kind               string          `json:"kind"`
	Format             string          `json:"format"`
	Filter             json.RawMessage `json:"filter"`
	Files              []struct {
		Name string `json:"name"`
	} `json:"files"`
	Bytes        int64  `json:"bytes"`
	SHA256       string `json:"sha256"`
	RevealStates bool   `json:"revealStates"`
	Count        *int64 `json:"count"`
}

type counted struct {
	count    int64
	byStatus map[string]int64
	types    map[string]bool
	examples []string
}

func (c *counted) add(e *storage.StoredEvent) {
	c.count++
	if c.byStatus != nil {
		c.byStatus[e.Status]++
	}
	if c.types != nil {
		c.types[e.ActionType] = true
	}
	if len(c.examples) < MaxExamples {
		c.examples = append(c.examples, e.ID)
	}
}

type planAgg struct {
	chain       PlanChain
	version     int
	approvedBy  map[string]bool // distinct approvers of the newest version
	lastVerdict string
}

type builder struct {
	o          Options
	r          *Report
	categories map[string]*counted
	soc2, iso  map[string]*counted
	weeks      []WeekRow
	weekStart  time.Time
	actors     map[string]bool
	highTypes  map[string]int64
	plans      map[string]*planAgg
	planOrder  []*planAgg
	incidents  map[string]int // apply event id → index in r.Incidents.Items
	rtoSum     int64
	rtoN       int64
	first      time.Time
	last       time.Time
}

func newBuilder(o Options) *builder {
	p := o.Period
	r := &Report{
		Schema:       SchemaVersion,
		Organization: o.Org,
		Period:       PeriodJSON{Label: p.Label, Since: ts(p.Since), Until: ts(p.Until), Days: p.Days()},
		Generated:    Generated{At: ts(o.Now()), By: o.User, Product: "Axiom Audit", Version: o.Version},
	}
	r.Connections = Connections{Connected: []EventRef{}, Disconnected: []EventRef{}, ExternalIDRotations: []EventRef{}}
	r.Changes = Changes{Outcomes: map[string]int{}, Chains: []PlanChain{}}
	r.Incidents.Items = []Incident{}
	r.HighRisk = HighRisk{Items: []EventRef{}, ByActionType: []NamedCount{}}
	r.Drift.Items = []EventRef{}
	r.Exports.Items = []ExportItem{}
	r.Evidence.Files = []EvidenceFile{}
	b := &builder{o: o, r: r, categories: map[string]*counted{}, soc2: map[string]*counted{}, iso: map[string]*counted{},
		actors: map[string]bool{}, highTypes: map[string]int64{}, plans: map[string]*planAgg{}, incidents: map[string]int{}}
	// Weeks start on Monday, in UTC.
	start := p.Since.UTC().Truncate(24 * time.Hour)
	start = start.AddDate(0, 0, -((int(start.Weekday()) + 6) % 7))
	b.weekStart = start
	for w := start; w.Before(p.Until); w = w.AddDate(0, 0, 7) {
		b.weeks = append(b.weeks, WeekRow{Start: ts(w), ByCategory: map[string]int64{}})
	}
	return b
}

func ts(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

func (b *builder) ref(e *storage.StoredEvent, detail string) EventRef {
	res := e.ResourceIDs
	if res == nil {
		res = []string{}
	}
	return EventRef{ID: e.ID, Seq: e.Seq, At: ts(e.Timestamp), ActionType: e.ActionType, UserID: e.UserID,
		Provider: e.Provider, Resources: res, Status: e.Status, RiskLevel: e.RiskLevel, Detail: detail}
}

func (b *builder) add(e *storage.StoredEvent) {
	r := b.r
	r.Summary.Events++
	if b.first.IsZero() {
		b.first = e.Timestamp
	}
	b.last = e.Timestamp
	b.actors[e.UserID] = true

	cat := e.Category
	c := b.categories[cat]
	if c == nil {
		c = &counted{byStatus: map[string]int64{}}
		b.categories[cat] = c
	}
	c.add(e)
	t, known := b.o.Catalogue.Lookup(e.ActionType)
	if known && t.Retention == storage.RetentionMaterial {
		r.Summary.MaterialEvents++
	} else {
		r.Summary.OperationalEvents++
	}
	if known {
		for _, ctl := range t.SOC2 {
			b.control(b.soc2, ctl).add(e)
		}
		for _, ctl := range t.ISO27001 {
			b.control(b.iso, ctl).add(e)
		}
	}
	if w := int(e.Timestamp.Sub(b.weekStart) / (7 * 24 * time.Hour)); w >= 0 && w < len(b.weeks) {
		b.weeks[w].Total++
		b.weeks[w].ByCategory[cat]++
	}
	switch e.RiskLevel {
	case "low":
		r.Risk.Low++
	case "medium":
		r.Risk.Medium++
	case "high":
		r.Risk.High++
		r.HighRisk.Count++
		b.highTypes[e.ActionType]++
		if len(r.HighRisk.Items) < MaxListed {
			r.HighRisk.Items = append(r.HighRisk.Items, b.ref(e, detail(e)))
		} else {
			r.HighRisk.Truncated++
		}
	}

	var m meta
	if len(e.Metadata) > 0 {
		_ = json.Unmarshal(e.Metadata, &m) // validated on append; a field of another type stays zero
	}
	cn := &r.Connections
	switch e.ActionType {
	case "connection.provider_connected":
		cn.Connected = appendCapped(cn.Connected, b.ref(e, detail(e)))
	case "connection.provider_disconnected":
		cn.Disconnected = appendCapped(cn.Disconnected, b.ref(e, detail(e)))
	case "connection.external_id_rotated":
		cn.ExternalIDRotations = appendCapped(cn.ExternalIDRotations, b.ref(e, detail(e)))
	case "connection.role_assumed":
		cn.RoleAssumptions++
	case "connection.role_assumption_failed":
		cn.RoleAssumptionFailures++
	case "user.connection_managed":
		cn.Managed++
	case "plan.generated":
		p := b.plan(e, m.PlanID)
		p.chain.Versions++
		if p.chain.GeneratedAt == "" {
			p.chain.GeneratedAt, p.chain.GeneratedEventID = ts(e.Timestamp), e.ID
		}
		if m.RequestedBy != "" {
			p.chain.RequestedBy = m.RequestedBy
		}
		p.chain.Resources = max(p.chain.Resources, len(e.ResourceIDs))
		if m.PlanVersion > p.version {
			p.version, p.approvedBy, p.lastVerdict = m.PlanVersion, map[string]bool{}, ""
		}
	case "approval.approved", "approval.rejected":
		p := b.plan(e, m.PlanID)
		decision := "approved"
		if e.ActionType == "approval.rejected" {
			decision = "rejected"
			r.Changes.Rejections++
		} else {
			r.Changes.Approvals++
		}
		approver := cmp.Or(m.Approver, e.UserID)
		if m.PlanVersion > p.version {
			p.version, p.approvedBy = m.PlanVersion, map[string]bool{}
		}
		if m.PlanVersion == p.version || m.PlanVersion == 0 {
			if decision == "approved" {
				p.approvedBy[approver] = true
			}
			p.lastVerdict = decision
		}
		if m.RequiredApprovals > 0 {
			p.chain.RequiredApprovals = m.RequiredApprovals
		}
		if len(p.chain.Approvals) < 20 {
			p.chain.Approvals = append(p.chain.Approvals, Approval{Approver: approver, Decision: decision, At: ts(e.Timestamp),
				PlanVersion: m.PlanVersion, EventID: e.ID, Note: m.Note})
		}
	case "terraform_export.downloaded":
		r.Changes.TerraformExports++
		if m.PlanID != "" {
			b.plan(e, m.PlanID).chain.TerraformExported = true
		}
	case "terraform_export.applied_externally":
		r.Changes.ApplyOutcomes.External++
		if m.PlanID != "" {
			b.plan(e, m.PlanID).chain.Applies.External++
		}
	case "apply.mutation":
		r.Summary.Applies++
		var pa *ApplyOutcomes
		if m.PlanID != "" {
			pa = &b.plan(e, m.PlanID).chain.Applies
		}
		for _, a := range []*ApplyOutcomes{&r.Changes.ApplyOutcomes, pa} {
			if a != nil {
				countApply(a, e.Status)
			}
		}
		if e.Status == "failed" || e.Status == "rolled_back" {
			in := Incident{EventID: e.ID, At: ts(e.Timestamp), PlanID: m.PlanID, Resource: first(e.ResourceIDs), Provider: e.Provider,
				Status: e.Status, ErrorCode: m.ErrorCode, HealthCheck: m.HealthCheck}
			if m.RTOSeconds != nil {
				in.RTOSeconds = new(*m.RTOSeconds)
			}
			b.incidents[e.ID] = len(r.Incidents.Items)
			r.Incidents.Items = append(r.Incidents.Items, in)
			if e.Status == "failed" {
				r.Summary.FailedApplies++
			} else {
				r.Summary.RolledBackApplies++
			}
		}
	case "rollback.triggered", "rollback.executed", "rollback.verified":
		if e.ActionType == "rollback.executed" {
			r.Summary.Rollbacks++
			if m.PlanID != "" {
				b.plan(e, m.PlanID).chain.Rollbacks++
			}
		}
		i, ok := b.incidents[m.ApplyEventID]
		if !ok {
			break
		}
		in := &r.Incidents.Items[i]
		switch e.ActionType {
		case "rollback.executed":
			in.RollbackPath, in.RollbackAt = m.Path, ts(e.Timestamp)
			if in.RTOSeconds == nil && m.RTOSeconds != nil {
				in.RTOSeconds = new(*m.RTOSeconds)
			}
		case "rollback.verified":
			in.Verification = m.VerificationResult
		}
	case "workflow.drift_detection":
		r.Drift.Cycles++
		if m.DriftedResources > 0 {
			r.Drift.CyclesWithDrift++
			r.Drift.DriftedResources += m.DriftedResources
			b.driftItem(e)
		}
	case "releaseops.drift_detected":
		r.Drift.ReleaseDrifts++
		r.Drift.DriftedResources += m.DriftedResources
		b.driftItem(e)
	case "audit.exported":
		r.Exports.Count++
		if m.RevealStates {
			r.Exports.Revealing++ // all of them, listed or not
		}
		if len(r.Exports.Items) >= MaxListed {
			r.Exports.Truncated++
			break
		}
		x := ExportItem{EventID: e.ID, At: ts(e.Timestamp), Who: e.UserID, Kind: cmp.Or(m.Kind, "export"), Format: m.Format,
			Files: len(m.Files), Bytes: m.Bytes, SHA256: m.SHA256, Events: m.Count, RevealedStates: m.RevealStates}
		if len(m.Filter) > 0 && string(m.Filter) != "{}" {
			x.Filter = string(m.Filter)
		}
		r.Exports.Items = append(r.Exports.Items, x)
	}
}

func countApply(a *ApplyOutcomes, status string) {
	switch status {
	case "applied":
		a.Applied++
	case "failed":
		a.Failed++
	case "rolled_back":
		a.RolledBack++
	default:
		a.Pending++
	}
}

func appendCapped(list []EventRef, r EventRef) []EventRef {
	if len(list) >= MaxListed {
		return list
	}
	return append(list, r)
}

func first(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}

func (b *builder) driftItem(e *storage.StoredEvent) {
	if len(b.r.Drift.Items) >= MaxListed {
		b.r.Drift.Truncated++
		return
	}
	b.r.Drift.Items = append(b.r.Drift.Items, b.ref(e, detail(e)))
}

func (b *builder) control(m map[string]*counted, id string) *counted {
	c := m[id]
	if c == nil {
		c = &counted{types: map[string]bool{}}
		m[id] = c
	}
	return c
}

// plan returns the chain of a plan id, started by whichever of its events
// the period shows first (a plan generated before the period still links
// its approvals and applies).
func (b *builder) plan(e *storage.StoredEvent, id string) *planAgg {
	if id == "" {
		id = "(no planId)"
	}
	p := b.plans[id]
	if p == nil {
		p = &planAgg{chain: PlanChain{PlanID: id, Provider: e.Provider, Risk: e.RiskLevel, Approvals: []Approval{}}, approvedBy: map[string]bool{}}
		b.plans[id] = p
		b.planOrder = append(b.planOrder, p)
	}
	if riskRank[e.RiskLevel] > riskRank[p.chain.Risk] {
		p.chain.Risk = e.RiskLevel
	}
	p.chain.LastAt = ts(e.Timestamp)
	return p
}

var riskRank = map[string]int{"low": 0, "medium": 1, "high": 2}

// outcome says where a plan's chain ended.
func (p *planAgg) outcome() string {
	a := p.chain.Applies
	required := max(p.chain.RequiredApprovals, 1)
	switch {
	case a.RolledBack > 0:
		return "rolled_back"
	case a.Failed > 0:
		return "failed"
	case a.Applied > 0:
		return "applied"
	case a.External > 0:
		return "applied_externally"
	case p.lastVerdict == "rejected":
		return "rejected"
	case len(p.approvedBy) >= required:
		return "approved"
	}
	return "pending_approval"
}

func (b *builder) finish() *Report {
	r := b.r
	r.Summary.Actors = len(b.actors)
	r.Summary.HighRiskEvents = r.Risk.High
	r.Summary.Exports = r.Exports.Count
	r.Summary.DriftDetections = r.Drift.CyclesWithDrift + r.Drift.ReleaseDrifts
	if !b.first.IsZero() {
		r.Summary.FirstEvent, r.Summary.LastEvent = ts(b.first), ts(b.last)
	}

	r.Categories = []CategoryRow{}
	for _, name := range slices.Sorted(maps.Keys(b.categories)) {
		c := b.categories[name]
		ret := retentionOfCategory(b.o.Catalogue, name)
		r.Categories = append(r.Categories, CategoryRow{Category: name, Retention: ret, Count: c.count, ByStatus: c.byStatus, ExampleIDs: c.examples})
	}
	sort.SliceStable(r.Categories, func(i, j int) bool { return r.Categories[i].Count > r.Categories[j].Count })
	r.Controls = Controls{SOC2: controlRows(b.soc2), ISO27001: controlRows(b.iso)}
	r.Weekly = b.weeks
	if r.Weekly == nil {
		r.Weekly = []WeekRow{}
	}

	r.Summary.Plans = len(b.planOrder)
	r.Changes.Plans = len(b.planOrder)
	for _, p := range b.planOrder {
		p.chain.Outcome = p.outcome()
		p.chain.MultiParty = len(p.approvedBy) >= 2
		p.chain.Approved = len(p.approvedBy)
		r.Changes.Outcomes[p.chain.Outcome]++
		if p.chain.MultiParty {
			r.Changes.MultiParty++
		}
		if p.lastVerdict == "rejected" || slices.ContainsFunc(p.chain.Approvals, func(a Approval) bool { return a.Decision == "rejected" }) {
			r.Changes.Rejected++
		}
		if len(r.Changes.Chains) < MaxListed {
			r.Changes.Chains = append(r.Changes.Chains, p.chain)
		}
	}
	r.Changes.PlansListed = len(r.Changes.Chains)

	in := &r.Incidents
	in.Count = len(in.Items)
	for _, it := range in.Items {
		if it.RTOSeconds != nil {
			b.rtoSum += *it.RTOSeconds
			b.rtoN++
			in.MaxRTO = max(in.MaxRTO, *it.RTOSeconds)
		}
	}
	if b.rtoN > 0 {
		in.MeanRTO = b.rtoSum / b.rtoN
	}
	if len(in.Items) > MaxListed {
		in.Truncated = len(in.Items) - MaxListed
		in.Items = in.Items[:MaxListed]
	}

	for name, n := range b.highTypes {
		r.HighRisk.ByActionType = append(r.HighRisk.ByActionType, NamedCount{Name: name, Count: n})
	}
	sortCounts(r.HighRisk.ByActionType)
	return r
}

func retentionOfCategory(c *storage.Catalogue, category string) string {
	for _, t := range c.Types() {
		if t.Category == category {
			return string(t.Retention)
		}
	}
	if t, ok := c.Lookup(storage.CustomPrefix + "x"); ok && category == "custom" {
		return string(t.Retention)
	}
	return string(storage.RetentionOperational)
}

func sortCounts(l []NamedCount) {
	sort.Slice(l, func(i, j int) bool {
		if l[i].Count != l[j].Count {
			return l[i].Count > l[j].Count
		}
		return l[i].Name < l[j].Name
	})
}

// controlRows lists controls in their natural order (CC6.2 before CC6.10).
func controlRows(m map[string]*counted) []ControlRow {
	out := make([]ControlRow, 0, len(m))
	for id, c := range m {
		out = append(out, ControlRow{Control: id, Title: controlTitles[id], Count: c.count,
			ActionTypes: slices.Sorted(maps.Keys(c.types)), ExampleIDs: c.examples})
	}
	sort.Slice(out, func(i, j int) bool { return controlLess(out[i].Control, out[j].Control) })
	return out
}

func controlLess(a, b string) bool {
	split := func(s string) (string, []int) {
		i := strings.IndexAny(s, "0123456789")
		if i < 0 {
			return s, nil
		}
		var nums []int
		for _, p := range strings.Split(s[i:], ".") {
			n, _ := strconv.Atoi(p)
			nums = append(nums, n)
		}
		return s[:i], nums
	}
	pa, na := split(a)
	pb, nb := split(b)
	// SOC 2: the common criteria first, then availability and
	// confidentiality.
	rank := func(p string) string {
		if p == "CC" {
			return "0"
		}
		return p
	}
	if pa != pb {
		return rank(pa) < rank(pb)
	}
	return slices.Compare(na, nb) < 0
}

// detail is a short description of an event from its metadata, for lists.
func detail(e *storage.StoredEvent) string {
	if len(e.Metadata) == 0 {
		return ""
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(e.Metadata, &m) != nil {
		return ""
	}
	keys := []string{"accountId", "environment", "releaseId", "planId", "requiredApprovals", "previousRequiredApprovals",
		"driftedResources", "errorCode", "reason", "triggerReason", "change", "path", "rtoSeconds", "scope", "grantee"}
	var parts []string
	for _, k := range keys {
		v, ok := m[k]
		if !ok {
			continue
		}
		var s string
		if json.Unmarshal(v, &s) != nil {
			s = string(v)
		}
		parts = append(parts, k+": "+s)
		if len(parts) == 3 {
			break
		}
	}
	return strings.Join(parts, " · ")
}
