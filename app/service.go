package app

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/axiomops/axiom-audit/storage"
)

// The use cases. Each exported method without a context is a Wails binding
// and runs on the App's background context; the REST API and the CLI call
// the context-taking twin so that a cancelled request stops its work.

// Organizations lists the organizations that have a log in this profile.
func (a *App) Organizations() ([]OrganizationDTO, error) { return a.organizations(a.bg()) }

func (a *App) organizations(ctx context.Context) ([]OrganizationDTO, error) {
	st, err := a.storeOrErr()
	if err != nil {
		return nil, err
	}
	orgs, err := st.Organizations(ctx)
	if err != nil {
		return nil, err
	}
	alerts := map[string]*IntegrityAlertDTO{}
	for _, al := range st.IntegrityAlerts(ctx) {
		alerts[al.Org] = alertDTO(al)
	}
	out := make([]OrganizationDTO, 0, len(orgs)+len(alerts))
	for _, o := range orgs {
		d := OrganizationDTO{ID: o.ID, Size: o.Size, Alert: alerts[o.ID]}
		if !o.LastRecordedAt.IsZero() {
			d.LastRecordedAt = formatTime(o.LastRecordedAt)
		}
		delete(alerts, o.ID)
		out = append(out, d)
	}
	// An alert of an organization without a log here: the log is missing
	// (a database restored from before it began), which the window and
	// the API must show, not hide.
	for id, al := range alerts {
		out = append(out, OrganizationDTO{ID: id, Alert: al})
	}
	slices.SortFunc(out, func(x, y OrganizationDTO) int { return strings.Compare(x.ID, y.ID) })
	return out, nil
}

func alertDTO(al storage.IntegrityAlert) *IntegrityAlertDTO {
	return &IntegrityAlertDTO{Kind: string(al.Kind), DetectedAt: formatTime(al.DetectedAt), Message: al.Message()}
}

// ListEvents returns one page of the timeline.
func (a *App) ListEvents(q QueryDTO) (EventPageDTO, error) { return a.listEvents(a.bg(), q) }

func (a *App) listEvents(ctx context.Context, q QueryDTO) (EventPageDTO, error) {
	st, err := a.storeOrErr()
	if err != nil {
		return EventPageDTO{}, err
	}
	f, err := a.filter(q)
	if err != nil {
		return EventPageDTO{}, err
	}
	page, err := st.List(ctx, f)
	if err != nil {
		return EventPageDTO{}, err
	}
	out := EventPageDTO{Events: make([]EventDTO, 0, len(page.Events)), NextCursor: page.NextCursor}
	for i := range page.Events {
		out.Events = append(out.Events, a.eventDTO(&page.Events[i]))
	}
	return out, nil
}

// GetEvent returns one event with its states when the keys allow.
func (a *App) GetEvent(org, id string) (EventDTO, error) { return a.getEvent(a.bg(), org, id) }

func (a *App) getEvent(ctx context.Context, org, id string) (EventDTO, error) {
	st, err := a.storeOrErr()
	if err != nil {
		return EventDTO{}, err
	}
	if org == "" {
		return EventDTO{}, &RequestError{Field: "org", Reason: "is required"}
	}
	e, err := st.Get(ctx, org, id)
	if err != nil {
		return EventDTO{}, err
	}
	return a.eventDTO(&e), nil
}

// Facets counts the events matching the query per category, provider,
// status, risk and user; a field the query filters is counted without the
// query's own conditions on it (storage.Store.FacetChoices), so the
// sidebar can offer its other values.
func (a *App) Facets(q QueryDTO) (FacetsDTO, error) { return a.facets(a.bg(), q) }

func (a *App) facets(ctx context.Context, q QueryDTO) (FacetsDTO, error) {
	st, err := a.storeOrErr()
	if err != nil {
		return nil, err
	}
	f, err := a.filter(q)
	if err != nil {
		return nil, err
	}
	counts, err := st.FacetChoices(ctx, f)
	if err != nil {
		return nil, err
	}
	return facetsDTO(counts), nil
}

// facetsDTO lists the values of each facet counted at least once, most
// events first.
func facetsDTO(counts map[string]map[string]int64) FacetsDTO {
	out := FacetsDTO{}
	for field, values := range counts {
		list := make([]FacetCountDTO, 0, len(values))
		for v, n := range values {
			if n > 0 {
				list = append(list, FacetCountDTO{Value: v, Count: n})
			}
		}
		sort.Slice(list, func(i, j int) bool {
			if list[i].Count != list[j].Count {
				return list[i].Count > list[j].Count
			}
			return list[i].Value < list[j].Value
		})
		out[field] = list
	}
	return out
}

// Histogram counts the events matching the query over its time range, in
// buckets that follow the clock of the query's time zone.
func (a *App) Histogram(q HistogramQueryDTO) (HistogramDTO, error) { return a.histogram(a.bg(), q) }

func (a *App) histogram(ctx context.Context, q HistogramQueryDTO) (HistogramDTO, error) {
	st, f, opts, err := a.histogramQuery(q)
	if err != nil {
		return HistogramDTO{}, err
	}
	h, err := st.Histogram(ctx, f, opts)
	if err != nil {
		return HistogramDTO{}, err
	}
	return histogramDTO(h), nil
}

// histogramQuery is the store, filter and histogram options q asks for.
func (a *App) histogramQuery(q HistogramQueryDTO) (*storage.Store, storage.Filter, storage.HistogramOptions, error) {
	st, err := a.storeOrErr()
	if err != nil {
		return nil, storage.Filter{}, storage.HistogramOptions{}, err
	}
	f, err := a.filter(q.QueryDTO)
	if err != nil {
		return nil, storage.Filter{}, storage.HistogramOptions{}, err
	}
	loc, err := timeZone(q.TimeZone)
	if err != nil {
		return nil, storage.Filter{}, storage.HistogramOptions{}, err
	}
	return st, f, storage.HistogramOptions{Location: loc}, nil
}

func histogramDTO(h storage.Histogram) HistogramDTO {
	out := HistogramDTO{BucketSeconds: int64(h.Step / time.Second), Buckets: make([]HistogramBucketDTO, 0, len(h.Buckets))}
	if out.BucketSeconds == 0 {
		out.BucketSeconds = 60 // no events, no range: no buckets
	}
	for _, b := range h.Buckets {
		out.Buckets = append(out.Buckets, HistogramBucketDTO{Start: formatTime(b.Start), End: formatTime(b.End), Count: b.Count,
			ByRisk: nonZero(b.ByRisk), ByStatus: nonZero(b.ByStatus)})
	}
	return out
}

// Overview is what the timeline shows beside its rows: the query's facets
// (as Facets counts them) and its histogram (as Histogram does), counted
// together on one snapshot of the log. A query the hourly counters do not
// answer takes one scan for both, half the work of asking for each.
func (a *App) Overview(q HistogramQueryDTO) (OverviewDTO, error) { return a.overview(a.bg(), q) }

func (a *App) overview(ctx context.Context, q HistogramQueryDTO) (OverviewDTO, error) {
	st, f, opts, err := a.histogramQuery(q)
	if err != nil {
		return OverviewDTO{}, err
	}
	counts, h, err := st.Overview(ctx, f, opts)
	if err != nil {
		return OverviewDTO{}, err
	}
	return OverviewDTO{Facets: facetsDTO(counts), Histogram: histogramDTO(h)}, nil
}

// timeZone is the location an IANA name names, UTC for none. The names come
// from the webview's Intl (time/tzdata, imported in tzdata.go, has them
// where the system has no zoneinfo, as on Windows).
func timeZone(name string) (*time.Location, error) {
	if name == "" {
		return time.UTC, nil
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, &RequestError{Field: "timeZone", Reason: fmt.Sprintf("%q is not a time zone this program knows: give an IANA name such as Europe/Berlin, or none for UTC", name)}
	}
	return loc, nil
}

// nonZero is m without the values every event of which retention pruned
// (their counts net to zero), and never nil.
func nonZero(m map[string]int64) map[string]int64 {
	out := make(map[string]int64, len(m))
	for k, n := range m {
		if n != 0 {
			out[k] = n
		}
	}
	return out
}

// AppendEvents records events all-or-nothing and returns their receipts
// once they are durable.
func (a *App) AppendEvents(events []storage.Event) ([]storage.Receipt, error) {
	return a.appendEvents(a.bg(), events)
}

func (a *App) appendEvents(ctx context.Context, events []storage.Event) ([]storage.Receipt, error) {
	st, err := a.storeOrErr()
	if err != nil {
		return nil, err
	}
	if err := producedEvents(events); err != nil {
		return nil, err
	}
	return st.Append(ctx, events)
}

// ownActionReason is why a producer may not append an event of category
// audit.
const ownActionReason = "audit.* events are the log's own record of itself (exports, sweeps, key rotations, " +
	"acknowledgements, break-glass): producers cannot append them"

// systemOrgReason is why a producer may not append to SystemOrg.
const systemOrgReason = SystemOrg + " is the organization of the profile's own events (app start and stop, copies for audit): " +
	"producers cannot append to it"

// producedEvents refuses, naming the first, an event of category audit or
// of SystemOrg: only the app and the store write those, and the log trusts
// them (the verification of retention trusts recorded sweeps).
func producedEvents(events []storage.Event) error {
	for i, e := range events {
		if fe := producerMayNot(e); fe != nil {
			return &storage.ValidationError{Index: i, Errors: []storage.FieldError{*fe}}
		}
	}
	return nil
}

// producerMayNot says why a producer may not append e, or nil.
func producerMayNot(e storage.Event) *storage.FieldError {
	switch {
	case strings.HasPrefix(e.ActionType, "audit."):
		return &storage.FieldError{Field: "actionType", Reason: ownActionReason}
	case e.OrganizationID == SystemOrg:
		return &storage.FieldError{Field: "organizationId", Reason: systemOrgReason}
	}
	return nil
}

// validateProduced validates e against the catalogue and as an event a
// producer may append. An event a producer may not append is refused first
// of all, and for an audit.* event what the catalogue asks of its
// metadata, which no producer can give it, is not listed.
func validateProduced(cat *storage.Catalogue, e *storage.Event) error {
	err := cat.Validate(e)
	refused := producerMayNot(*e)
	if refused == nil {
		return err
	}
	out := &storage.ValidationError{Errors: []storage.FieldError{*refused}}
	var ve *storage.ValidationError
	if errors.As(err, &ve) {
		out.Index = ve.Index
		for _, fe := range ve.Errors {
			if refused.Field == "actionType" && (fe.Field == "metadata" || strings.HasPrefix(fe.Field, "metadata.") || strings.HasPrefix(fe.Field, "metadata[")) {
				continue
			}
			if fe.Field != refused.Field {
				out.Errors = append(out.Errors, fe)
			}
		}
	}
	return out
}

// checkConflicts reports what appendEvents would refuse events for,
// writing nothing, however many they are: every conflicting event, or an
// error for anything else (invalid, an organization under an integrity
// alert).
func (a *App) checkConflicts(ctx context.Context, events []storage.Event) ([]storage.Conflict, error) {
	st, err := a.storeOrErr()
	if err != nil {
		return nil, err
	}
	if err := producedEvents(events); err != nil {
		return nil, err
	}
	return st.CheckConflicts(ctx, events)
}

// RotateDataKey starts a new data key for an organization's states, and a
// new key-encryption key that wraps it and re-wraps the earlier ones.
func (a *App) RotateDataKey(org string) (KeyRotationDTO, error) { return a.rotateDataKey(a.bg(), org) }

func (a *App) rotateDataKey(ctx context.Context, org string) (KeyRotationDTO, error) {
	st, err := a.storeOrErr()
	if err != nil {
		return KeyRotationDTO{}, err
	}
	if org == "" {
		return KeyRotationDTO{}, &RequestError{Field: "org", Reason: "is required"}
	}
	// A typo must not start a new organization.
	if err := a.requireOrg(ctx, org); err != nil {
		return KeyRotationDTO{}, err
	}
	// The store records audit.key_rotated in the commit of the new key.
	r, err := st.RotateDataKey(ctx, org, a.opts.User)
	if err != nil {
		return KeyRotationDTO{}, err
	}
	return KeyRotationDTO{Org: org, KeyID: r.KeyID, PreviousKeyID: r.PreviousKeyID,
		KeyEncryptionKey: r.KeyEncryptionKey, RewrappedKeys: r.Rewrapped}, nil
}

// AuditCopyDTO is a copy of the log made for an auditor.
type AuditCopyDTO struct {
	Dir           string `json:"dir"` // the copy: Dir/log, and its read key in Dir/read-key
	ReadKeyFile   string `json:"readKeyFile"`
	Organizations int    `json:"organizations"`
	Events        uint64 `json:"events"`
}

// auditCopyKeyFile is the file of a copy's read key, next to its log.
const auditCopyKeyFile = "read-key"

// CopyForAudit copies the log for an auditor into dir, a new folder (the
// window's "Copy for an auditor"): of the organizations orgs, or of
// every one when orgs is empty.
func (a *App) CopyForAudit(dir string, orgs []string) (AuditCopyDTO, error) {
	if len(orgs) == 0 {
		orgs = nil
	}
	res, err := a.copyForAudit(a.bg(), dir, orgs)
	return res, bindingError(err)
}

// copyForAudit writes a copy of the log for an auditor into dir (a new
// directory): dir/log (storage.Store.CopyForAudit) and its read key in
// dir/read-key (0600), and records it (audit.copied_for_audit, in
// SystemOrg). A copy the log cannot record is removed: it does not happen.
//
// orgs limits the copy to those organizations (nil: every one); the
// record names the organizations copied.
func (a *App) copyForAudit(ctx context.Context, dir string, orgs []string) (AuditCopyDTO, error) {
	st, err := a.storeOrErr()
	if err != nil {
		return AuditCopyDTO{}, err
	}
	if dir == "" || !filepath.IsAbs(dir) {
		return AuditCopyDTO{}, &RequestError{Field: "dir", Reason: "is required, as an absolute path: a new directory for the copy"}
	}
	if err := os.Mkdir(dir, 0o700); err != nil {
		if errors.Is(err, os.ErrExist) {
			return AuditCopyDTO{}, &RequestError{Field: "dir", Reason: dir + " exists: name a new directory (a copy is never written into another)"}
		}
		// A missing or read-only parent: exportErrorCode's folder codes.
		return AuditCopyDTO{}, fmt.Errorf("cannot make the copy's folder %s: %w", dir, err)
	}
	done := false
	defer func() {
		if !done {
			os.RemoveAll(dir)
		}
	}()
	sum, key, err := st.CopyForAuditOf(ctx, filepath.Join(dir, "log"), orgs)
	if err != nil {
		return AuditCopyDTO{}, err
	}
	out := AuditCopyDTO{Dir: dir, ReadKeyFile: filepath.Join(dir, auditCopyKeyFile), Organizations: sum.Orgs, Events: sum.Events}
	if err := writeNewFile(out.ReadKeyFile, storage.EncodeReadKey(key)); err != nil {
		return AuditCopyDTO{}, fmt.Errorf("failed to write the copy's read key: %w", err)
	}
	meta := map[string]any{"dir": dir, "organizations": sum.Orgs, "events": sum.Events}
	if orgs != nil {
		meta["orgIds"] = orgs
	}
	if err := a.recordSelf(ctx, SystemOrg, "audit.copied_for_audit", meta); err != nil {
		return AuditCopyDTO{}, fmt.Errorf("the copy was removed, because the log could not record it: %w", err)
	}
	done = true
	return out, nil
}

// writeNewFile writes a new file (0600) whole, synced, or removes it.
func writeNewFile(path string, b []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
	}
	return err
}

// DataKeyRotationInterval is how old an organization's data key may grow
// before the desktop app and serve rotate it (DESIGN.md §4: on a schedule
// or on demand); `keys rotate` rotates at once.
const DataKeyRotationInterval = 90 * 24 * time.Hour

// rotateDueKeys rotates the data key of each organization whose key is
// DataKeyRotationInterval old, recording each rotation as the system's.
// It returns how many it rotated; failures (an organization under an
// integrity alert) are logged and tried again next time.
func (a *App) rotateDueKeys(ctx context.Context, st *storage.Store) int {
	orgs, err := st.Organizations(ctx)
	if err != nil {
		a.log.Error("key rotation: failed to list organizations", "err", err)
		return 0
	}
	n := 0
	for _, o := range orgs {
		if ctx.Err() != nil {
			return n
		}
		made, err := st.DataKeyMadeAt(ctx, o.ID)
		if err != nil {
			a.log.Warn("key rotation: failed to find the age of the data key", "org", o.ID, "err", err)
			continue
		}
		if a.opts.Now().Sub(made) < DataKeyRotationInterval {
			continue
		}
		r, err := st.RotateDataKey(ctx, o.ID, "system")
		if err != nil {
			a.log.Warn("key rotation: failed to rotate the data key", "org", o.ID, "err", err)
			continue
		}
		a.log.Info("key rotation: rotated the data key on schedule", "org", o.ID, "keyId", r.KeyID,
			"keyEncryptionKey", r.KeyEncryptionKey, "rewrapped", r.Rewrapped)
		n++
	}
	return n
}

// RequestError is a bad request field outside the event schema (a query
// parameter, a flag).
type RequestError struct {
	Field  string
	Reason string
}

func (e *RequestError) Error() string { return e.Field + ": " + e.Reason }

// filter turns a QueryDTO into a storage filter, naming the bad field.
func (a *App) filter(q QueryDTO) (storage.Filter, error) {
	if q.Org == "" {
		return storage.Filter{}, &RequestError{Field: "org", Reason: "is required: every read is scoped to one organization"}
	}
	f := storage.Filter{
		Org:              q.Org,
		Categories:       q.Categories,
		ActionTypes:      q.ActionTypes,
		Providers:        q.Providers,
		UserIDs:          q.UserIDs,
		Statuses:         q.Statuses,
		RiskLevels:       q.RiskLevels,
		NotCategories:    q.NotCategories,
		NotActionTypes:   q.NotActionTypes,
		NotProviders:     q.NotProviders,
		NotUserIDs:       q.NotUserIDs,
		NotStatuses:      q.NotStatuses,
		NotRiskLevels:    q.NotRiskLevels,
		ResourceID:       q.ResourceID,
		ResourceIDPrefix: q.ResourceIDPrefix,
		Text:             q.Text,
		Limit:            q.Limit,
		Cursor:           q.Cursor,
	}
	var err error
	if f.Since, err = parseQueryTime("since", q.Since); err != nil {
		return f, err
	}
	if f.Until, err = parseQueryTime("until", q.Until); err != nil {
		return f, err
	}
	if !f.Since.IsZero() && !f.Until.IsZero() && !f.Until.After(f.Since) {
		return f, &RequestError{Field: "until", Reason: "must be after since"}
	}
	switch q.Order {
	case "", "newest":
		f.Order = storage.NewestFirst
	case "oldest":
		f.Order = storage.OldestFirst
	default:
		return f, &RequestError{Field: "order", Reason: fmt.Sprintf("%q is not newest or oldest", q.Order)}
	}
	if q.Limit < 0 || q.Limit > storage.MaxLimit {
		return f, &RequestError{Field: "limit", Reason: fmt.Sprintf("must be between 1 and %d", storage.MaxLimit)}
	}
	for _, check := range []struct {
		field   string
		values  []string
		allowed []string
	}{
		{"provider", q.Providers, storage.Providers},
		{"provider", q.NotProviders, storage.Providers},
		{"status", q.Statuses, storage.Statuses},
		{"status", q.NotStatuses, storage.Statuses},
		{"risk", q.RiskLevels, storage.RiskLevels},
		{"risk", q.NotRiskLevels, storage.RiskLevels},
	} {
		for _, v := range check.values {
			if !slices.Contains(check.allowed, v) {
				return f, &RequestError{Field: check.field, Reason: fmt.Sprintf("%q is not one of %s", v, strings.Join(check.allowed, ", "))}
			}
		}
	}
	// A typo in a category or an action type would read as "no such
	// events", which an audit must not mistake for a fact.
	if given := slices.Concat(q.Categories, q.NotCategories); len(given) > 0 {
		cats := a.categories()
		for _, v := range given {
			if !slices.Contains(cats, v) {
				return f, &RequestError{Field: "category", Reason: fmt.Sprintf("%q is not one of %s", v, strings.Join(cats, ", "))}
			}
		}
	}
	for _, v := range slices.Concat(q.ActionTypes, q.NotActionTypes) {
		if _, ok := a.catalogue.Lookup(v); !ok {
			return f, &RequestError{Field: "action", Reason: fmt.Sprintf("%q is not an action type of the catalogue (category.action, or custom.<name>)", v)}
		}
	}
	return f, nil
}

// categories are the catalogue's categories, custom included, sorted.
func (a *App) categories() []string {
	cats := []string{"custom"}
	for _, t := range a.catalogue.Types() {
		if !slices.Contains(cats, t.Category) {
			cats = append(cats, t.Category)
		}
	}
	slices.Sort(cats)
	return cats
}

// parseQueryTime accepts RFC 3339 times (the command line turns durations
// such as "24h" into one first: cliTime).
func parseQueryTime(field, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		if t.Year() < 1970 {
			// No event is older than 1970, so a bound before it is one at
			// it; kept as it is, the zero time (0001-01-01T00:00:00Z) would
			// read as no bound at all, and until it would select everything.
			return time.Unix(0, 0).UTC(), nil
		}
		return t.UTC(), nil
	}
	return time.Time{}, &RequestError{Field: field, Reason: fmt.Sprintf("%q is not an RFC 3339 time such as 2026-09-30T12:00:00Z", s)}
}

func (a *App) eventDTO(e *storage.StoredEvent) EventDTO {
	d := EventDTO{
		ID:                    e.ID,
		Seq:                   e.Seq,
		Timestamp:             formatTime(e.Timestamp),
		RecordedAt:            formatTime(e.RecordedAt),
		OrganizationID:        e.OrganizationID,
		UserID:                e.UserID,
		Provider:              e.Provider,
		ActionType:            e.ActionType,
		Category:              e.Category,
		ResourceIDs:           e.ResourceIDs,
		Status:                e.Status,
		RiskLevel:             e.RiskLevel,
		Metadata:              e.Metadata,
		BeforeState:           e.BeforeState,
		AfterState:            e.AfterState,
		BeforeStateCommitment: e.BeforeStateCommitment,
		AfterStateCommitment:  e.AfterStateCommitment,
		StatesSealed:          e.StatesSealed,
		PrevHash:              e.PrevHash,
		LeafHash:              e.LeafHash,
		SOC2:                  []string{},
		ISO27001:              []string{},
	}
	if d.ResourceIDs == nil {
		d.ResourceIDs = []string{}
	}
	if len(d.Metadata) == 0 {
		d.Metadata = []byte("{}")
	}
	if t, ok := a.catalogue.Lookup(e.ActionType); ok {
		d.Retention = string(t.Retention)
		d.SOC2 = t.SOC2
		d.ISO27001 = t.ISO27001
	}
	return d
}

func formatTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// ErrNoStore: the App was built without a store (it cannot happen in the
// shipped binary; it guards tests and half-wired tools).
var ErrNoStore = errors.New("no audit log is open")

func (a *App) storeOrErr() (*storage.Store, error) {
	if a.store == nil {
		return nil, ErrNoStore
	}
	return a.store, nil
}
