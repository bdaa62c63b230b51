package app

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/axiomops/axiom-audit/storage"
)

// Retention (DESIGN.md §6): the policy, its changes (audited as
// audit.settings_changed, which no producer may append and which is kept
// indefinitely, DESIGN.md §7), sweeps (audited by the store as
// audit.retention_swept) and the background sweeper of the desktop app and
// serve.

// RetentionRuleDTO is one window of a policy.
type RetentionRuleDTO struct {
	Class      string `json:"class"`
	Category   string `json:"category,omitempty"`
	Days       int    `json:"days,omitempty"`
	Indefinite bool   `json:"indefinite"`
	Name       string `json:"name"`
}

// RetentionDTO is what `retention show` and GET /api/retention answer:
// the version in force (Version, EffectiveFrom, ChangedBy, Rules) and the
// versions that will take effect later (Pending: a shortened window takes
// effect a week after the change).
type RetentionDTO struct {
	Org           string                    `json:"org"`
	Version       uint32                    `json:"version"`
	EffectiveFrom string                    `json:"effectiveFrom,omitempty"`
	ChangedBy     string                    `json:"changedBy,omitempty"`
	Rules         []RetentionRuleDTO        `json:"rules"`
	Pending       []RetentionPendingDTO     `json:"pending"`
	History       []storage.RetentionPolicy `json:"history"`
	// Expiring is what the policy prunes within the next 7 days.
	Expiring storage.Expiring `json:"expiring"`
	// Pruned lists the newest runs of tombstones (consecutive seqs, one
	// rule, one sweep); PrunedRuns and PrunedEvents count them all.
	Pruned       []storage.PrunedRun `json:"pruned"`
	PrunedRuns   int                 `json:"prunedRuns"`
	PrunedEvents uint64              `json:"prunedEvents"`
}

// RetentionPendingDTO is a version of the policy that takes effect later.
type RetentionPendingDTO struct {
	Version       uint32             `json:"version"`
	ChangedAt     string             `json:"changedAt"`
	EffectiveFrom string             `json:"effectiveFrom"`
	ChangedBy     string             `json:"changedBy,omitempty"`
	Rules         []RetentionRuleDTO `json:"rules"`
}

// latestRules are the rules of the newest version: the pending one that
// takes effect last, else the one in force.
func (d RetentionDTO) latestRules() []RetentionRuleDTO {
	if n := len(d.Pending); n > 0 {
		return d.Pending[n-1].Rules
	}
	return d.Rules
}

// RetentionSetRequest changes one window of an organization's policy.
type RetentionSetRequest struct {
	Org        string `json:"org"`
	Class      string `json:"class"`
	Category   string `json:"category,omitempty"`
	Days       int    `json:"days,omitempty"`
	Indefinite bool   `json:"indefinite,omitempty"`
	// AtOnce applies a shortened window now instead of a week after the
	// change (recorded in audit.settings_changed).
	AtOnce bool `json:"atOnce,omitempty"`
}

// ExpiringWarningDays is how far ahead the UI warns about expiring events.
const ExpiringWarningDays = 7

func rulesOf(p storage.RetentionPolicy) []RetentionRuleDTO {
	rule := func(class storage.RetentionClass, cat string) RetentionRuleDTO {
		w := p.Window(class, cat)
		return RetentionRuleDTO{Class: string(class), Category: cat, Days: w.Days, Indefinite: w.Indefinite, Name: p.RuleName(class, cat)}
	}
	out := []RetentionRuleDTO{rule(storage.RetentionOperational, ""), rule(storage.RetentionMaterial, "")}
	cats := make([]string, 0, len(p.Categories))
	for c := range p.Categories {
		cats = append(cats, c)
	}
	slices.Sort(cats)
	for _, c := range cats {
		w := p.Categories[c]
		out = append(out, RetentionRuleDTO{Category: c, Days: w.Days, Indefinite: w.Indefinite})
	}
	return out
}

// RetentionPolicy is the binding of the retention settings view.
func (a *App) RetentionPolicy(org string) (RetentionDTO, error) { return a.retentionShow(a.bg(), org) }

func (a *App) retentionShow(ctx context.Context, org string) (RetentionDTO, error) {
	st, err := a.storeOrErr()
	if err != nil {
		return RetentionDTO{}, err
	}
	if org == "" {
		return RetentionDTO{}, &RequestError{Field: "org", Reason: "is required"}
	}
	h, err := st.RetentionHistory(ctx, org) // an id that is not valid is said so
	if err != nil {
		return RetentionDTO{}, err
	}
	if err := orgHasEvents(ctx, a, org); err != nil {
		return RetentionDTO{}, err
	}
	now := a.opts.Now()
	cur := storage.InForce(h, now)
	dto := RetentionDTO{Org: org, Version: cur.Version, ChangedBy: cur.ChangedBy, Rules: a.rules(cur), History: h,
		Pending: []RetentionPendingDTO{}}
	if !cur.EffectiveFrom.IsZero() {
		dto.EffectiveFrom = cur.EffectiveFrom.UTC().Format(time.RFC3339)
	}
	for _, p := range storage.PendingRetention(h, now) {
		changed := p.ChangedAt
		if changed.IsZero() {
			changed = p.EffectiveFrom
		}
		dto.Pending = append(dto.Pending, RetentionPendingDTO{Version: p.Version, ChangedAt: changed.UTC().Format(time.RFC3339),
			EffectiveFrom: p.EffectiveFrom.UTC().Format(time.RFC3339), ChangedBy: p.ChangedBy, Rules: a.rules(p)})
	}
	if dto.Expiring, err = st.ExpiringEvents(ctx, org, ExpiringWarningDays*24*time.Hour); err != nil {
		return RetentionDTO{}, err
	}
	runs, err := st.PrunedRuns(ctx, org, time.Time{}, time.Time{}, 0)
	if err != nil {
		return RetentionDTO{}, err
	}
	dto.Pruned, dto.PrunedRuns, dto.PrunedEvents = runs.Runs, runs.Total, runs.Events
	return dto, nil
}

// rules lists the policy's windows: the two classes, then each category
// with its own window (with the class the catalogue gives it).
func (a *App) rules(p storage.RetentionPolicy) []RetentionRuleDTO {
	out := rulesOf(p)
	classOf := map[string]storage.RetentionClass{}
	for _, t := range a.catalogue.Types() {
		classOf[t.Category] = t.Retention
	}
	classOf["custom"] = storage.RetentionOperational
	for i := 2; i < len(out); i++ {
		if c, ok := classOf[out[i].Category]; ok {
			out[i].Class = string(c)
			out[i].Name = p.RuleName(c, out[i].Category)
		}
	}
	return out
}

// SetRetention is the binding of the retention settings view.
func (a *App) SetRetention(req RetentionSetRequest) (RetentionDTO, error) {
	return a.setRetention(a.bg(), req)
}

// setRetention changes the policy and records the change as
// audit.settings_changed with the versions before and after. The store
// validates before it writes, so what can fail after the change is only
// recording it, which is reported.
func (a *App) setRetention(ctx context.Context, req RetentionSetRequest) (RetentionDTO, error) {
	st, err := a.storeOrErr()
	if err != nil {
		return RetentionDTO{}, err
	}
	// A mistyped organization would become one, with this change as its
	// first event, in a log nothing removes.
	if err := a.knownOrg(ctx, req.Org); err != nil {
		return RetentionDTO{}, err
	}
	before, after, err := st.SetRetention(ctx, req.Org, storage.RetentionChange{
		Class: storage.RetentionClass(req.Class), Category: req.Category,
		Window:    storage.RetentionWindow{Days: req.Days, Indefinite: req.Indefinite},
		ChangedBy: a.opts.User,
		AtOnce:    req.AtOnce,
	})
	if err != nil {
		return RetentionDTO{}, err
	}
	setting := "retention." + req.Class
	if req.Category != "" {
		setting = "retention.category." + req.Category
	}
	meta := map[string]any{
		"settings": []string{setting},
		"before":   policyMeta(before),
		"after":    policyMeta(after),
	}
	if req.AtOnce {
		meta["atOnce"] = true
	}
	// A change that shortens a window while it lengthens another, or while
	// other changes are pending, also made an interim version in force now.
	if after.Version > before.Version+1 {
		if h, err := st.RetentionHistory(ctx, req.Org); err == nil {
			for _, p := range h {
				if p.Version > before.Version && p.Version < after.Version {
					meta["interim"] = policyMeta(p)
				}
			}
		}
	}
	if err := a.recordSelf(ctx, req.Org, "audit.settings_changed", meta); err != nil {
		return RetentionDTO{}, fmt.Errorf("the retention policy of %q changed to version %d, but recording the change failed: %w", req.Org, after.Version, err)
	}
	return a.retentionShow(ctx, req.Org)
}

// knownOrg is nil when org has events in this profile, else an error
// saying that its id is not valid, or naming the organizations the
// profile has (unknownOrgError).
func (a *App) knownOrg(ctx context.Context, org string) error {
	if org == "" {
		return &RequestError{Field: "org", Reason: "is required"}
	}
	if _, err := a.store.RetentionHistory(ctx, org); err != nil {
		return err // an id that is not valid, said so
	}
	return orgHasEvents(ctx, a, org)
}

// policyMeta is a policy as audit metadata (no floats, times as text).
func policyMeta(p storage.RetentionPolicy) map[string]any {
	win := func(w storage.RetentionWindow) map[string]any {
		if w.Indefinite {
			return map[string]any{"indefinite": true}
		}
		return map[string]any{"days": w.Days}
	}
	m := map[string]any{"version": p.Version, "operational": win(p.Operational), "material": win(p.Material)}
	if len(p.Categories) > 0 {
		cats := map[string]any{}
		for c, w := range p.Categories {
			cats[c] = win(w)
		}
		m["categories"] = cats
	}
	if !p.EffectiveFrom.IsZero() {
		m["effectiveFrom"] = p.EffectiveFrom.UTC().Format(time.RFC3339Nano)
	}
	if !p.ChangedAt.IsZero() && !p.ChangedAt.Equal(p.EffectiveFrom) {
		m["changedAt"] = p.ChangedAt.UTC().Format(time.RFC3339Nano)
	}
	return m
}

// SweepRetention is the binding of the "sweep now" action.
func (a *App) SweepRetention(org string, dryRun bool) (storage.SweepResult, error) {
	return a.sweepRetention(a.bg(), org, dryRun)
}

// sweepRetention runs a sweep of org now (or a dry run). An explicit sweep
// is recorded even when it prunes nothing.
func (a *App) sweepRetention(ctx context.Context, org string, dryRun bool) (storage.SweepResult, error) {
	st, err := a.storeOrErr()
	if err != nil {
		return storage.SweepResult{}, err
	}
	if err := a.knownOrg(ctx, org); err != nil {
		return storage.SweepResult{}, err
	}
	return st.SweepRetention(ctx, org, storage.SweepOptions{DryRun: dryRun, Actor: a.opts.User, Record: !dryRun})
}

// ExpiringEvents is the binding of the expiry warning: what retention
// prunes of org within days days, per category, so the UI can offer an
// archive export of exactly those first.
func (a *App) ExpiringEvents(org string, days int) (storage.Expiring, error) {
	return a.expiringEvents(a.bg(), org, days)
}

func (a *App) expiringEvents(ctx context.Context, org string, days int) (storage.Expiring, error) {
	if days < 0 || days > storage.MaxRetentionDays {
		return storage.Expiring{}, &RequestError{Field: "days", Reason: fmt.Sprintf("must be 0 to %d", storage.MaxRetentionDays)}
	}
	st, err := a.storeOrErr()
	if err != nil {
		return storage.Expiring{}, err
	}
	return st.ExpiringEvents(ctx, org, time.Duration(days)*24*time.Hour)
}

// TextSketchInterval is how often the desktop app and serve build the text
// sketches of complete blocks of events, once appends pause, so that a
// search for a rare term reads few records (storage.Store.KeepTextSketches).
// One-shot commands do not: they would build them at their own expense.
const TextSketchInterval = 5 * time.Second

func (a *App) startTextSketches() {
	if a.store != nil {
		a.store.KeepTextSketches(TextSketchInterval)
	}
}

// RetentionInterval is how often the desktop app and serve sweep.
const RetentionInterval = time.Hour

// startRetention sweeps every organization now and then every interval,
// in the background, until the App closes (desktop.go, serve.go), and
// rotates the data keys that are due (rotateDueKeys). A sweep
// that prunes nothing is not recorded; one that fails is logged and tried
// again next time (an interrupted sweep resumes).
func (a *App) startRetention(interval time.Duration) {
	st := a.store
	if st == nil || interval <= 0 {
		return
	}
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		// The first sweep waits a little, so that start-up is not slowed.
		t := time.NewTimer(min(interval, time.Minute))
		defer t.Stop()
		var lastReclaim time.Time
		for {
			select {
			case <-a.base.Done():
				return
			case <-t.C:
			}
			// Data keys due for rotation are rotated on the same round.
			a.rotateDueKeys(a.base, st)
			if a.sweepAll(a.base, st) > 0 && time.Since(lastReclaim) >= 24*time.Hour {
				// Compacting to reclaim the value log is heavy on a large
				// log: once a day is enough (Badger's own GC runs too).
				lastReclaim = time.Now()
				if n, err := st.ReclaimSpace(a.base); err != nil {
					a.log.Warn("retention: reclaiming disk space failed", "err", err)
				} else {
					a.log.Info("retention: reclaimed disk space", "bytes", n)
				}
			}
			t.Reset(interval)
		}
	}()
}

// sweepAll sweeps each organization once and returns how many events it
// pruned.
func (a *App) sweepAll(ctx context.Context, st *storage.Store) uint64 {
	orgs, err := st.Organizations(ctx)
	if err != nil {
		a.log.Error("retention: failed to list organizations", "err", err)
		return 0
	}
	var pruned uint64
	for _, o := range orgs {
		if ctx.Err() != nil {
			return pruned
		}
		res, err := st.SweepRetention(ctx, o.ID, storage.SweepOptions{NoReclaim: true})
		if err != nil {
			a.log.Error("retention: sweep failed", "org", o.ID, "err", err)
			continue
		}
		if res.Pruned > 0 {
			a.log.Info("retention: swept", "org", o.ID, "pruned", res.Pruned)
		}
		pruned += res.Pruned
	}
	return pruned
}

// PrunedRangeDTO is a run of consecutive seqs one sweep pruned by one rule,
// as verification reports it (not a problem).
type PrunedRangeDTO struct {
	Org      string `json:"org"`
	FromSeq  uint64 `json:"fromSeq"`
	ToSeq    uint64 `json:"toSeq"`
	Count    uint64 `json:"count"`
	Policy   string `json:"policy"`
	PrunedAt string `json:"prunedAt"`
}

func prunedRangeDTOs(rs []storage.PrunedRange) []PrunedRangeDTO {
	var out []PrunedRangeDTO
	for _, r := range rs {
		out = append(out, PrunedRangeDTO{Org: r.Org, FromSeq: r.FromSeq, ToSeq: r.ToSeq, Count: r.Count, Policy: r.Policy,
			PrunedAt: r.PrunedAt.UTC().Format(time.RFC3339)})
	}
	return out
}

// text is the range as verify prints it: "org ORG seqs A–B: pruned by
// policy NAME at TIME".
func (r PrunedRangeDTO) text() string {
	seqs := fmt.Sprintf("seq %d", r.FromSeq)
	if r.ToSeq != r.FromSeq {
		seqs = fmt.Sprintf("seqs %d–%d", r.FromSeq, r.ToSeq)
	}
	return fmt.Sprintf("org %s %s: pruned by policy %s at %s", r.Org, seqs, r.Policy, r.PrunedAt)
}
