package demo

import (
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/axiomops/axiom-audit/storage"
)

// story places the events of one causal chain in time. Its cursor only
// moves forward, so the events of a story are in causal order.
type story struct {
	g     *orgGen
	at    int64 // Unix milliseconds
	scale float64
}

// longestStory is about how long the longest chain (scan, disposition,
// approvals, apply, rollback) takes; stories starting closer than this to
// the end are compressed so that they still end by then.
const longestStory = 14 * 24 * time.Hour

// startStory generates the events of one story starting at a time and
// returns the time of its last event.
func (g *orgGen) startStory(at int64) (last int64) {
	s := &story{g: g, at: at, scale: 1}
	defer func() { last = s.at }()
	if left := g.endMs - at; left < longestStory.Milliseconds() {
		s.scale = float64(left) / float64(longestStory.Milliseconds())
	}
	g.stories++
	if !g.onboarded {
		g.onboarding(s)
		return
	}
	r := g.rng.Float64()
	if !g.p.workingHours(at) {
		// Out of hours the machines work and people mostly do not.
		switch {
		case r < 0.5:
			g.workflow(s)
		case r < 0.85:
			g.scan(s, true)
		case r < 0.9:
			g.connectionCheck(s)
		default:
			g.session(s)
		}
		return
	}
	switch {
	case r < 0.34:
		g.scan(s, r < 0.12)
	case r < 0.56:
		g.session(s)
	case r < 0.78:
		g.workflow(s)
	case r < 0.9:
		g.releaseOps(s)
	default:
		g.connectionCheck(s)
	}
	return
}

// wait moves the cursor on by d (compressed near the end of the span).
func (s *story) wait(d time.Duration) {
	s.at += int64(float64(d.Milliseconds()) * s.scale)
	if s.at > s.g.endMs {
		s.at = s.g.endMs
	}
}

// waitBetween waits a uniformly random time in [lo, hi).
func (s *story) waitBetween(lo, hi time.Duration) {
	s.wait(lo + time.Duration(s.g.rng.Int64N(int64(hi-lo)+1)))
}

// waitForPeople waits, then on to the next working hour of the
// organization: people approve and apply during the day.
func (s *story) waitForPeople(lo, hi time.Duration) {
	s.waitBetween(lo, hi)
	if s.scale < 1 {
		return
	}
	moved := false
	for i := 0; i < 24*4 && !s.g.p.workingHours(s.at); i++ {
		s.wait(time.Hour)
		moved = true
	}
	if moved {
		// Not everyone starts on the hour.
		s.wait(time.Duration(s.g.rng.Int64N(90)) * time.Minute)
	}
}

func (s *story) timestamp() string {
	return time.UnixMilli(s.at).UTC().Format("2006-01-02T15:04:05.000Z")
}

// add records an event at the cursor and returns its id.
func (s *story) add(e storage.Event) string {
	g := s.g
	e.OrganizationID = g.p.id
	e.Timestamp = time.UnixMilli(s.at).UTC()
	e.ID = g.uuid(s.at)
	if e.ResourceIDs == nil {
		e.ResourceIDs = []string{}
	}
	g.seq++
	g.created++
	g.pending.push(pending{at: s.at, seq: g.seq, ev: e})
	return e.ID
}

func (g *orgGen) person() string { return g.pick(g.p.people) }
func (g *orgGen) admin() string  { return g.p.people[g.rng.IntN(g.p.admins)] }

func (g *orgGen) account() (int, *cloudAccount) {
	i := g.rng.IntN(len(g.p.clouds))
	return i, &g.p.clouds[i]
}

func (g *orgGen) connectionMeta(i int) *obj {
	c := &g.p.clouds[i]
	return newObj().str("accountId", c.account).str("roleArn", c.role).int("externalIdVersion", g.externalIDVersion[i])
}

// onboarding connects every cloud account of the organization.
func (g *orgGen) onboarding(s *story) {
	admin := g.p.people[0]
	s.waitForPeople(0, 2*time.Hour)
	s.add(storage.Event{UserID: admin, Provider: "system", ActionType: "user.signed_in", Status: "applied", RiskLevel: "low",
		Metadata: newObj().str("method", "sso").str("identityProvider", "okta").msg()})
	for i := range g.p.clouds {
		c := &g.p.clouds[i]
		s.waitBetween(2*time.Minute, 15*time.Minute)
		res := []string{c.accountResource()}
		s.add(storage.Event{UserID: admin, Provider: c.provider, ActionType: "user.connection_managed", ResourceIDs: res, Status: "applied", RiskLevel: "medium",
			Metadata: newObj().str("change", "added "+c.provider+" account "+c.account+" ("+c.env+")").msg()})
		s.waitBetween(20*time.Second, 3*time.Minute)
		s.add(storage.Event{UserID: admin, Provider: c.provider, ActionType: "connection.provider_connected", ResourceIDs: res, Status: "applied", RiskLevel: "medium",
			Metadata: g.connectionMeta(i).str("environment", c.env).strs("regions", c.regions).msg()})
		s.waitBetween(5*time.Second, 40*time.Second)
		s.add(storage.Event{UserID: svcAgent, Provider: c.provider, ActionType: "connection.role_assumed", ResourceIDs: []string{c.role}, Status: "applied", RiskLevel: "low",
			Metadata: g.connectionMeta(i).int("sessionDurationSeconds", 3600).msg()})
	}
	s.waitBetween(10*time.Minute, time.Hour)
	s.add(storage.Event{UserID: admin, Provider: "system", ActionType: "user.approval_policy_edited", Status: "applied", RiskLevel: "high",
		Metadata: newObj().int("requiredApprovals", int64(g.requiredApprovals)).str("scope", "all plans").msg()})
	s.waitBetween(5*time.Minute, 40*time.Minute)
	s.add(storage.Event{UserID: admin, Provider: "system", ActionType: "user.signed_out", Status: "applied", RiskLevel: "low"})
}

var assumeErrors = [][2]string{
	{"AccessDenied", "User: arn:aws:sts::axiom:assumed-role/axiom-agent is not authorized to perform: sts:AssumeRole"},
	{"ExpiredToken", "The security token included in the request is expired"},
	{"InvalidClientTokenId", "The external id does not match the trust policy"},
	{"Throttling", "Rate exceeded"},
}

// assumeRole records the agent assuming the account's role, sometimes
// after a failure, and says whether it got in.
func (g *orgGen) assumeRole(s *story, i int) bool {
	c := &g.p.clouds[i]
	if g.rng.Float64() < 0.04 {
		e := assumeErrors[g.rng.IntN(len(assumeErrors))]
		s.add(storage.Event{UserID: svcAgent, Provider: c.provider, ActionType: "connection.role_assumption_failed", ResourceIDs: []string{c.role}, Status: "failed", RiskLevel: "medium",
			Metadata: g.connectionMeta(i).str("errorCode", e[0]).str("errorMessage", e[1]).msg()})
		if g.rng.Float64() < 0.3 {
			return false
		}
		s.waitBetween(30*time.Second, 5*time.Minute)
	}
	s.add(storage.Event{UserID: svcAgent, Provider: c.provider, ActionType: "connection.role_assumed", ResourceIDs: []string{c.role}, Status: "applied", RiskLevel: "low",
		Metadata: g.connectionMeta(i).int("sessionDurationSeconds", 3600).msg()})
	s.waitBetween(time.Second, 20*time.Second)
	return true
}

// connectionCheck is connection upkeep: an external id rotation by an
// admin, or the agent refreshing its session.
func (g *orgGen) connectionCheck(s *story) {
	i, c := g.account()
	if g.rng.Float64() < 0.04 {
		admin := g.admin()
		g.externalIDVersion[i]++
		s.add(storage.Event{UserID: admin, Provider: c.provider, ActionType: "connection.external_id_rotated", ResourceIDs: []string{c.accountResource(), c.role}, Status: "applied", RiskLevel: "medium",
			Metadata: g.connectionMeta(i).int("previousExternalIdVersion", g.externalIDVersion[i]-1).msg()})
		s.waitBetween(10*time.Second, 2*time.Minute)
	}
	g.assumeRole(s, i)
}

// scan is a scan of one account and region, its findings and
// recommendations, and, when people accept them, the remediation.
func (g *orgGen) scan(s *story, scheduled bool) {
	i, c := g.account()
	if !g.assumeRole(s, i) {
		return
	}
	region := g.pick(c.regions)
	scanID := g.hexID("scan-", 12)
	actor := svcAgent
	trigger := "schedule"
	if !scheduled {
		actor, trigger = g.person(), "manual"
	}
	account := []string{c.accountResource()}
	base := func() *obj { return newObj().str("region", region).str("account", c.account).str("scanId", scanID) }
	s.add(storage.Event{UserID: actor, Provider: c.provider, ActionType: "scan.started", ResourceIDs: account, Status: "pending", RiskLevel: "low",
		Metadata: base().str("trigger", trigger).msg()})

	outcome := g.rng.Float64()
	duration := time.Duration(20_000+g.rng.Int64N(400_000)) * time.Millisecond
	s.wait(duration)
	ms := duration.Milliseconds()
	switch {
	case outcome < 0.05:
		s.add(storage.Event{UserID: svcAgent, Provider: c.provider, ActionType: "scan.failed", ResourceIDs: account, Status: "failed", RiskLevel: "low",
			Metadata: base().int("durationMs", ms).str("errorCode", g.pick([]string{"Throttling", "RequestLimitExceeded", "ServiceUnavailable"})).
				str("errorMessage", "the provider API kept throttling after 5 retries").msg()})
		return
	case outcome < 0.14:
		skip := g.pick(scanTypes(c.provider))
		counts, _ := g.resourceCounts(c.provider, skip)
		s.add(storage.Event{UserID: svcAgent, Provider: c.provider, ActionType: "scan.partial", ResourceIDs: account, Status: "applied", RiskLevel: "low",
			Metadata: base().int("durationMs", ms).raw("resourceCounts", counts).strs("skipped", []string{skip}).msg()})
	default:
		counts, _ := g.resourceCounts(c.provider, "")
		s.add(storage.Event{UserID: svcAgent, Provider: c.provider, ActionType: "scan.completed", ResourceIDs: account, Status: "applied", RiskLevel: "low",
			Metadata: base().int("durationMs", ms).raw("resourceCounts", counts).msg()})
	}

	// Findings, most scans have a few.
	n := 0
	for n < 5 && g.rng.Float64() < 0.55 {
		n++
	}
	type rec struct {
		ch    change
		recID string
	}
	var recs []rec
	var seen []string
	for k := 0; k < n; k++ {
		s.waitBetween(200*time.Millisecond, 3*time.Second)
		ch := g.pickChange(c, region)
		if slices.Contains(seen, ch.id) {
			continue // one finding per resource and scan
		}
		seen = append(seen, ch.id)
		findingID := g.hexID("fnd-", 12)
		s.add(storage.Event{UserID: svcAgent, Provider: c.provider, ActionType: "finding.created", ResourceIDs: []string{ch.id}, Status: "applied", RiskLevel: severityRisk(ch.severity),
			Metadata: newObj().str("findingCategory", ch.category).str("severity", ch.severity).int("confidence", ch.confidence).
				str("findingId", findingID).str("resourceType", ch.resourceType).str("scanId", scanID).str("region", region).msg()})
		if g.rng.Float64() < 0.8 {
			s.waitBetween(time.Second, 30*time.Second)
			recID := g.hexID("rec-", 12)
			s.add(storage.Event{UserID: svcAgent, Provider: c.provider, ActionType: "recommendation.created", ResourceIDs: []string{ch.id}, Status: "pending", RiskLevel: ch.risk,
				Metadata: newObj().str("rationale", ch.rationale).raw("monthlyImpact", money(ch.impactCents)).str("recommendationId", recID).
					str("findingId", findingID).str("title", ch.title).msg()})
			recs = append(recs, rec{ch, recID})
		}
	}
	if len(recs) == 0 {
		return
	}

	// People decide, hours or days later.
	s.waitForPeople(time.Hour, 3*24*time.Hour)
	reviewer := g.person()
	var accepted []change
	var recIDs []string
	for _, r := range recs {
		d := g.rng.Float64()
		disposition, why := "accepted", "agreed; schedule the change through a plan"
		switch {
		case d < 0.2:
			disposition, why = "deferred", "revisit after the quarter-end freeze"
		case d < 0.4:
			disposition, why = "dismissed", "accepted risk: documented exception for this resource"
		case d < 0.5:
			disposition, why = "superseded", "covered by a broader recommendation from a later scan"
		}
		s.add(storage.Event{UserID: reviewer, Provider: c.provider, ActionType: "recommendation.dispositioned", ResourceIDs: []string{r.ch.id}, Status: "applied", RiskLevel: r.ch.risk,
			Metadata: newObj().str("disposition", disposition).str("rationale", why).raw("monthlyImpact", money(r.ch.impactCents)).str("recommendationId", r.recID).msg()})
		if disposition == "accepted" {
			accepted = append(accepted, r.ch)
			recIDs = append(recIDs, r.recID)
		}
		s.waitBetween(20*time.Second, 4*time.Minute)
	}
	if len(accepted) > 0 && g.rng.Float64() < 0.75 {
		g.remediate(s, c, reviewer, accepted, recIDs)
	}
}

var riskOrder = map[string]int{"low": 0, "medium": 1, "high": 2}

// remediate is a plan for accepted changes, its approvals, an optional
// Terraform export, and the mutations with their rollbacks.
func (g *orgGen) remediate(s *story, c *cloudAccount, requester string, changes []change, recIDs []string) {
	planID := g.hexID("plan-", 12)
	risk := "low"
	var impact int64
	resources := make([]string, len(changes))
	items := make([]string, len(changes))
	for k, ch := range changes {
		if riskOrder[ch.risk] > riskOrder[risk] {
			risk = ch.risk
		}
		impact += ch.impactCents
		resources[k] = ch.id
		items[k] = planID + "/item-" + strconv.Itoa(k+1)
	}
	phaseNames := []string{"snapshot", "apply", "verify"}
	if len(changes) > 2 {
		phaseNames = []string{"snapshot", "apply-canary", "apply-remaining", "verify"}
	}
	phases := make([][]byte, len(phaseNames))
	for k, name := range phaseNames {
		actions := int64(len(changes))
		switch name {
		case "apply-canary":
			actions = 1
		case "apply-remaining":
			actions = int64(len(changes) - 1)
		}
		phases[k] = newObj().str("name", name).int("actions", actions).bytes()
	}
	rollbackStrategy := "automatic: " + changes[0].rollback
	if len(changes) > 1 {
		rollbackStrategy = "automatic per resource from pre-apply snapshots, in reverse order"
	}
	sevCount := 0
	for _, ch := range changes {
		if ch.risk != "low" || ch.category != "cost-optimization" {
			sevCount++
		}
	}
	riskReduction := "closes " + strconv.Itoa(sevCount) + " of " + strconv.Itoa(len(changes)) + " findings"
	if sevCount == 0 {
		riskReduction = "cost only; no exposure changes"
	}

	required := g.requiredApprovals
	for version := int64(1); version <= 2; version++ {
		s.waitBetween(30*time.Second, 10*time.Minute)
		blast := newObj().int("resources", int64(len(changes))).int("accounts", 1).str("level", risk).bytes()
		expected := newObj().raw("monthlyImpact", money(impact)).str("riskReduction", riskReduction)
		s.add(storage.Event{UserID: svcAgent, Provider: c.provider, ActionType: "plan.generated", ResourceIDs: resources, Status: "pending", RiskLevel: risk,
			Metadata: newObj().raw("phases", rawArray(phases)).raw("blastRadius", blast).str("rollbackStrategy", rollbackStrategy).
				raw("expectedImpact", expected.bytes()).int("planVersion", version).str("planId", planID).
				strs("recommendationIds", recIDs).strs("items", items).str("requestedBy", requester).msg()})

		// Multi-party approval, people other than the requester.
		var chain [][]byte
		approvers := g.approvers(requester, required)
		if len(approvers) < required {
			return // nobody left to approve: the plan stays pending
		}
		rejected := false
		for k, approver := range approvers {
			s.waitForPeople(10*time.Minute, 20*time.Hour)
			decision, action := "approved", "approval.approved"
			note := g.pick([]string{"LGTM", "Reviewed the blast radius; fine to proceed.", "Approved for the next maintenance window.", "Checked the rollback plan.", ""})
			if version == 1 && k == len(approvers)-1 && g.rng.Float64() < 0.15 {
				decision, action = "rejected", "approval.rejected"
				note = g.pick([]string{"Not during the freeze; split the canary into its own phase.", "Needs a change ticket reference.", "Blast radius too large for one window."})
				rejected = true
			}
			step := newObj().str("approver", approver).str("decision", decision).str("at", s.timestamp())
			if note != "" {
				step.str("note", note)
			}
			chain = append(chain, step.bytes())
			meta := newObj().str("approver", approver).strs("items", items).str("planId", planID).int("planVersion", version).
				int("requiredApprovals", int64(required)).int("approvalsSoFar", int64(len(chain))).raw("approvalChain", rawArray(chain))
			if note != "" {
				meta.str("note", note)
			}
			s.add(storage.Event{UserID: approver, Provider: c.provider, ActionType: action, ResourceIDs: resources, Status: "applied", RiskLevel: risk, Metadata: meta.msg()})
			if rejected {
				break
			}
		}
		if !rejected {
			break
		}
		if version == 2 || g.rng.Float64() < 0.3 {
			return // abandoned after the rejection
		}
		s.waitForPeople(2*time.Hour, 2*24*time.Hour)
	}

	// Terraform export, for teams that apply through their own pipeline.
	if g.rng.Float64() < 0.3 {
		s.waitForPeople(5*time.Minute, 6*time.Hour)
		who := g.person()
		sha := g.hexID("", 64)
		exported := phaseNames[1 : len(phaseNames)-1]
		s.add(storage.Event{UserID: who, Provider: c.provider, ActionType: "terraform_export.downloaded", ResourceIDs: resources, Status: "applied", RiskLevel: risk,
			Metadata: newObj().strs("phases", exported).int("bytes", 2048+g.rng.Int64N(30000)*int64(len(changes))).str("sha256", sha).str("planId", planID).str("format", "terraform-hcl").msg()})
		if g.rng.Float64() < 0.45 {
			s.waitForPeople(30*time.Minute, 2*24*time.Hour)
			s.add(storage.Event{UserID: who, Provider: c.provider, ActionType: "terraform_export.applied_externally", ResourceIDs: resources, Status: "applied", RiskLevel: risk,
				Metadata: newObj().strs("phases", exported).str("sha256", sha).str("planId", planID).str("confirmedBy", who).msg()})
			s.waitBetween(time.Hour, 8*time.Hour)
			g.verificationJob(s, c, planID, resources, "passed")
			return
		}
	}

	// Axiom applies, resource by resource, stopping at the first failure.
	s.waitForPeople(10*time.Minute, 12*time.Hour)
	for k, ch := range changes {
		phase := phaseNames[1]
		if len(phaseNames) == 4 && k > 0 {
			phase = phaseNames[2]
		}
		snapshot := g.hexID("snapshot-", 16)
		o := g.rng.Float64()
		meta := newObj().str("planId", planID).str("phase", phase).str("item", items[k]).str("action", ch.action).str("snapshot", snapshot)
		ev := storage.Event{UserID: svcAgent, Provider: c.provider, ActionType: "apply.mutation", ResourceIDs: []string{ch.id},
			BeforeState: json.RawMessage(ch.before), RiskLevel: ch.risk}
		switch {
		case o < 0.06: // the provider refused; nothing changed
			ev.Status = "failed"
			ev.AfterState = json.RawMessage(ch.before)
			ev.Metadata = meta.str("errorCode", g.pick([]string{"UnauthorizedOperation", "DependencyViolation", "ConflictingOperation"})).msg()
		case o < 0.11: // applied, broke a health check, restored
			ev.Status = "rolled_back"
			ev.AfterState = json.RawMessage(ch.before)
			ev.Metadata = meta.int("rtoSeconds", 30+g.rng.Int64N(900)).str("healthCheck", "5xx rate above 2% for 3 minutes").msg()
		default:
			ev.Status = "applied"
			ev.AfterState = json.RawMessage(ch.after)
			ev.Metadata = meta.msg()
		}
		s.waitBetween(5*time.Second, 3*time.Minute)
		applyID := s.add(ev)
		if ev.Status != "applied" {
			g.rollback(s, c, planID, ch, ev.Status, applyID, snapshot)
			return
		}
	}
	s.waitBetween(5*time.Minute, 2*time.Hour)
	g.verificationJob(s, c, planID, resources, "passed")
}

// approvers picks n distinct approvers other than the requester.
func (g *orgGen) approvers(requester string, n int) []string {
	pool := make([]string, 0, len(g.p.approvers))
	for _, a := range g.p.approvers {
		if a != requester {
			pool = append(pool, a)
		}
	}
	n = min(n, len(pool))
	for i := 0; i < n; i++ {
		j := i + g.rng.IntN(len(pool)-i)
		pool[i], pool[j] = pool[j], pool[i]
	}
	return pool[:n]
}

// rollback undoes a failed or rolled-back mutation and verifies it.
func (g *orgGen) rollback(s *story, c *cloudAccount, planID string, ch change, status, applyID, snapshot string) {
	reason := "apply failed: the provider rejected the change"
	if status == "rolled_back" {
		reason = "post-apply health check failed"
	}
	res := []string{ch.id}
	s.waitBetween(2*time.Second, 40*time.Second)
	s.add(storage.Event{UserID: svcAgent, Provider: c.provider, ActionType: "rollback.triggered", ResourceIDs: res, Status: "pending", RiskLevel: "high",
		Metadata: newObj().str("triggerReason", reason).str("snapshot", snapshot).str("planId", planID).str("applyEventId", applyID).msg()})
	path := "automatic"
	if g.rng.Float64() < 0.2 {
		path = "manual"
		s.waitForPeople(10*time.Minute, 3*time.Hour)
	} else {
		s.waitBetween(20*time.Second, 10*time.Minute)
	}
	// A refused apply changed nothing: the rollback starts from the state
	// the resource kept (restoring the snapshot), not from one it never
	// reached. A health check's rollback undoes the applied change.
	from := ch.after
	if status == "failed" {
		from = ch.before
	}
	s.add(storage.Event{UserID: svcAgent, Provider: c.provider, ActionType: "rollback.executed", ResourceIDs: res, Status: "rolled_back", RiskLevel: "high",
		BeforeState: json.RawMessage(from), AfterState: json.RawMessage(ch.before),
		Metadata: newObj().str("snapshot", snapshot).str("path", path).str("triggerReason", reason).int("rtoSeconds", 30+g.rng.Int64N(1200)).
			str("planId", planID).str("applyEventId", applyID).str("rollbackPath", ch.rollback).msg()})
	s.waitBetween(30*time.Second, 5*time.Minute)
	result := "passed"
	if g.rng.Float64() < 0.08 {
		result = "partial"
	}
	s.add(storage.Event{UserID: svcAgent, Provider: c.provider, ActionType: "rollback.verified", ResourceIDs: res, Status: "applied", RiskLevel: "medium",
		Metadata: newObj().str("verificationResult", result).str("snapshot", snapshot).str("planId", planID).str("applyEventId", applyID).msg()})
}

func (g *orgGen) verificationJob(s *story, c *cloudAccount, planID string, resources []string, result string) {
	s.add(storage.Event{UserID: system, Provider: c.provider, ActionType: "workflow.verification_job", ResourceIDs: resources, Status: "applied", RiskLevel: "low",
		Metadata: newObj().str("workflowId", "wf-post-apply-verification").str("runId", g.hexID("run-", 12)).int("durationMs", 5000+g.rng.Int64N(120000)).
			str("result", result).str("planId", planID).msg()})
}

var settingsChoices = [][]string{
	{"notifications.email.digest"}, {"notifications.slack.channel"}, {"display.timezone"},
	{"retention.operationalDays"}, {"export.siem.webhook"}, {"scan.schedule.cron", "scan.regions"},
}

// session is a person signing in, doing some administration, signing out.
func (g *orgGen) session(s *story) {
	who := g.person()
	isAdmin := false
	for _, a := range g.p.people[:g.p.admins] {
		isAdmin = isAdmin || a == who
	}
	s.add(storage.Event{UserID: who, Provider: "system", ActionType: "user.signed_in", Status: "applied", RiskLevel: "low",
		Metadata: newObj().str("method", g.pick([]string{"sso", "sso", "sso", "password+totp"})).str("identityProvider", g.pick([]string{"okta", "azure-ad", "google"})).msg()})
	r := g.rng.Float64()
	switch {
	case r < 0.25:
		s.waitBetween(time.Minute, 30*time.Minute)
		s.add(storage.Event{UserID: who, Provider: "system", ActionType: "user.settings_changed", Status: "applied", RiskLevel: "low",
			Metadata: newObj().strs("settings", settingsChoices[g.rng.IntN(len(settingsChoices))]).msg()})
	case r < 0.33 && isAdmin:
		s.waitBetween(time.Minute, 30*time.Minute)
		prev := g.requiredApprovals
		g.requiredApprovals = 1 + (prev % 3) // 1 → 2 → 3 → 1
		if g.requiredApprovals > len(g.p.approvers)-1 {
			g.requiredApprovals = 1
		}
		s.add(storage.Event{UserID: who, Provider: "system", ActionType: "user.approval_policy_edited", Status: "applied", RiskLevel: "high",
			Metadata: newObj().int("requiredApprovals", int64(g.requiredApprovals)).int("previousRequiredApprovals", int64(prev)).str("scope", "all plans").msg()})
	case r < 0.4 && isAdmin:
		_, c := g.account()
		s.waitBetween(time.Minute, 30*time.Minute)
		s.add(storage.Event{UserID: who, Provider: c.provider, ActionType: "user.connection_managed", ResourceIDs: []string{c.accountResource()}, Status: "applied", RiskLevel: "medium",
			Metadata: newObj().str("change", "updated scan regions of "+c.account+" to "+strings.Join(c.regions, ", ")).msg()})
	}
	s.waitBetween(10*time.Minute, 5*time.Hour)
	s.add(storage.Event{UserID: who, Provider: "system", ActionType: "user.signed_out", Status: "applied", RiskLevel: "low",
		Metadata: newObj().str("reason", g.pick([]string{"user", "user", "idle-timeout"})).msg()})
}

// workflow is a recurring run of a scheduled job.
func (g *orgGen) workflow(s *story) {
	_, c := g.account()
	kind := g.rng.IntN(3)
	workflowID := []string{"wf-drift-detection-6h", "wf-compliance-sweep-daily", "wf-verification-nightly"}[kind]
	runID := g.hexID("run-", 12)
	res := []string{c.accountResource()}
	s.add(storage.Event{UserID: system, Provider: c.provider, ActionType: "workflow.run_started", ResourceIDs: res, Status: "pending", RiskLevel: "low",
		Metadata: newObj().str("workflowId", workflowID).str("runId", runID).str("trigger", "schedule").msg()})
	d := time.Duration(10_000+g.rng.Int64N(600_000)) * time.Millisecond
	s.wait(d)
	base := newObj().str("workflowId", workflowID).str("runId", runID).int("durationMs", d.Milliseconds())
	switch kind {
	case 0:
		drifted := int64(0)
		for drifted < 6 && g.rng.Float64() < 0.3 {
			drifted++
		}
		risk := "low"
		if drifted > 2 {
			risk = "medium"
		}
		s.add(storage.Event{UserID: system, Provider: c.provider, ActionType: "workflow.drift_detection", ResourceIDs: res, Status: "applied", RiskLevel: risk,
			Metadata: base.int("driftedResources", drifted).str("baseline", "last-applied-plan").msg()})
	case 1:
		s.add(storage.Event{UserID: system, Provider: c.provider, ActionType: "workflow.compliance_sweep", ResourceIDs: res, Status: "applied", RiskLevel: "low",
			Metadata: base.int("findings", g.rng.Int64N(12)).str("framework", g.pick([]string{"SOC 2", "ISO 27001", "CIS AWS 3.0"})).int("controlsEvaluated", 40+g.rng.Int64N(120)).msg()})
	default:
		result := "passed"
		if g.rng.Float64() < 0.05 {
			result = "failed"
		}
		s.add(storage.Event{UserID: system, Provider: c.provider, ActionType: "workflow.verification_job", ResourceIDs: res, Status: "applied", RiskLevel: "low",
			Metadata: base.str("result", result).msg()})
	}
	s.waitBetween(time.Second, 10*time.Second)
	status, outcome := "applied", "succeeded"
	if g.rng.Float64() < 0.03 {
		status, outcome = "failed", "failed"
	}
	s.add(storage.Event{UserID: system, Provider: c.provider, ActionType: "workflow.run_completed", ResourceIDs: res, Status: status, RiskLevel: "low",
		Metadata: newObj().str("workflowId", workflowID).str("runId", runID).int("durationMs", d.Milliseconds()+1000).str("outcome", outcome).msg()})
}

// releaseOps is a release assessed, approved and deployed, or blocked; a
// deployed release sometimes drifts or is rolled back.
func (g *orgGen) releaseOps(s *story) {
	env := g.pick(g.p.environments)
	var c *cloudAccount
	for k := range g.p.clouds {
		if c == nil || g.p.clouds[k].env == env {
			c = &g.p.clouds[k]
		}
	}
	g.release[2]++
	if g.rng.Float64() < 0.15 {
		g.release[1]++
		g.release[2] = 0
	}
	version := "v" + strconv.Itoa(g.release[0]) + "." + strconv.Itoa(g.release[1]) + "." + strconv.Itoa(g.release[2])
	releaseID := "rel-" + g.p.product + "-" + version
	res := []string{"release:" + g.p.product + "/" + version}
	base := func() *obj { return newObj().str("releaseId", releaseID).str("environment", env) }
	score := 55 + g.rng.Int64N(45)
	s.add(storage.Event{UserID: svcAgent, Provider: c.provider, ActionType: "releaseops.assessed", ResourceIDs: res, Status: "applied", RiskLevel: "low",
		Metadata: base().int("score", score).str("version", version).msg()})
	s.waitBetween(time.Minute, 30*time.Minute)
	if score < 65 {
		s.add(storage.Event{UserID: svcAgent, Provider: c.provider, ActionType: "releaseops.blocked", ResourceIDs: res, Status: "failed", RiskLevel: "medium",
			Metadata: base().str("reason", g.pick([]string{"readiness score below 65", "open critical finding on a production resource", "change freeze"})).int("score", score).msg()})
		return
	}
	score = min(100, score+g.rng.Int64N(10))
	s.add(storage.Event{UserID: svcAgent, Provider: c.provider, ActionType: "releaseops.readiness_updated", ResourceIDs: res, Status: "applied", RiskLevel: "low",
		Metadata: base().int("score", score).msg()})
	s.waitForPeople(15*time.Minute, 8*time.Hour)
	approver := g.pick(g.p.approvers)
	risk := "medium"
	if env == "production" {
		risk = "high"
	}
	s.add(storage.Event{UserID: approver, Provider: c.provider, ActionType: "releaseops.approved", ResourceIDs: res, Status: "applied", RiskLevel: risk,
		Metadata: base().str("approver", approver).msg()})
	s.waitBetween(5*time.Minute, 2*time.Hour)
	s.add(storage.Event{UserID: svcCI, Provider: c.provider, ActionType: "releaseops.deployed", ResourceIDs: res, Status: "applied", RiskLevel: risk,
		Metadata: base().str("version", version).msg()})
	switch r := g.rng.Float64(); {
	case r < 0.06:
		s.waitBetween(5*time.Minute, time.Hour)
		s.add(storage.Event{UserID: svcCI, Provider: c.provider, ActionType: "releaseops.rolled_back", ResourceIDs: res, Status: "rolled_back", RiskLevel: "high",
			Metadata: base().int("rtoSeconds", 60+g.rng.Int64N(1500)).str("reason", "error budget burn after deploy").msg()})
	case r < 0.16:
		s.waitBetween(6*time.Hour, 4*24*time.Hour)
		s.add(storage.Event{UserID: system, Provider: c.provider, ActionType: "releaseops.drift_detected", ResourceIDs: res, Status: "applied", RiskLevel: "medium",
			Metadata: base().int("driftedResources", 1+g.rng.Int64N(5)).msg()})
	}
}
