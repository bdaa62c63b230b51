package storage

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	badger "github.com/dgraph-io/badger/v4"

	"github.com/axiomops/axiom-audit/storage/tlog"
)

// AlertKind says what an integrity alert detected.
type AlertKind string

const (
	// AlertRollback: the database's tree is smaller than the anchored
	// checkpoint: an older copy was restored, or the log was truncated.
	AlertRollback AlertKind = "rollback"
	// AlertInconsistent: the database's tree does not extend the anchored
	// checkpoint (a different root at the anchor's size), or the log's own
	// structures disagree.
	AlertInconsistent AlertKind = "inconsistent"
	// AlertMissing: the keychain has an anchor for an organization the
	// database has no log for.
	AlertMissing AlertKind = "missing_org"
	// AlertExternal: something outside the store, such as a remote witness
	// of the checkpoints, disagrees with the log (RaiseIntegrityAlert).
	AlertExternal AlertKind = "external"
	// AlertDamaged: the organization's head, compact range or newest
	// checkpoint does not decode, so its log cannot be loaded. The store
	// opens all the same, so that verify can say what is wrong; appends
	// are refused, and an acknowledgement cannot help: restore the
	// database.
	AlertDamaged AlertKind = "damaged"
)

var knownAlertKinds = map[AlertKind]bool{AlertRollback: true, AlertInconsistent: true, AlertMissing: true, AlertExternal: true, AlertDamaged: true}

// IntegrityAlert is an organization whose log failed the anchor check on
// open (or whose next checkpoint would not extend the previous one). While
// it is active, appends to the organization fail with ErrIntegrityAlert and
// no checkpoint moves its anchor. It persists across restarts until
// acknowledged with AcknowledgeIntegrityAlert.
type IntegrityAlert struct {
	Org        string    `json:"org"`
	Kind       AlertKind `json:"kind"`
	DetectedAt time.Time `json:"detectedAt"`
	AnchorSize uint64    `json:"anchorSize"`
	AnchorRoot tlog.Hash `json:"anchorRoot"`
	DBSize     uint64    `json:"dbSize"`
	DBRoot     tlog.Hash `json:"dbRoot"`
	Detail     string    `json:"detail"`
	// AnchorIn is where the anchor is kept, when not in the keychain
	// ("key file": a --keystore file profile).
	AnchorIn string `json:"anchorIn,omitempty"`
	// Evidence is what the raiser of an external alert gave as evidence
	// (say, the witness's checkpoint); it goes into the acknowledgement.
	Evidence map[string]string `json:"evidence,omitempty"`
}

// Message explains the alert and what to do about it.
func (a IntegrityAlert) Message() string {
	what, done := a.evidence()
	if done {
		return what
	}
	return what + "; appends are refused: run `axiom-audit recover --acknowledge` to accept this database, or restore the right one"
}

// Finding says what the alert found, without what to do about it (for
// recover, which is doing it).
func (a IntegrityAlert) Finding() string {
	what, _ := a.evidence()
	return what
}

// evidence is what the alert found, and whether that already says what
// to do (a damaged log is restored, not acknowledged).
func (a IntegrityAlert) evidence() (what string, done bool) {
	switch a.Kind {
	case AlertRollback:
		what = fmt.Sprintf("the audit log of organization %q was rolled back or truncated: %s is a checkpoint of %d events, the database has only %d",
			a.Org, anchorName(a.AnchorIn), a.AnchorSize, a.DBSize)
	case AlertMissing:
		what = fmt.Sprintf("the audit log of organization %q is missing from the database, but %s is a checkpoint of %d events", a.Org, anchorName(a.AnchorIn), a.AnchorSize)
	case AlertExternal:
		what = fmt.Sprintf("the audit log of organization %q was reported inconsistent from outside the store", a.Org)
	case AlertDamaged:
		return fmt.Sprintf("the audit log of organization %q is damaged and cannot be loaded (%s); appends are refused: "+
			"run `axiom-audit verify` to see what is wrong, and restore the database from a backup", a.Org, a.Detail), true
	default:
		what = fmt.Sprintf("the audit log of organization %q is inconsistent with %s (anchor: %d events, root %s; database: %d events, root %s)",
			a.Org, anchorName(a.AnchorIn), a.AnchorSize, a.AnchorRoot, a.DBSize, a.DBRoot)
	}
	if a.Detail != "" {
		what += " (" + a.Detail + ")"
	}
	return what, false
}

// anchorName is "the keychain anchor", or the anchor in place (the
// keystore's Place).
func anchorName(place string) string {
	if place == "" || place == "keychain" {
		return "the keychain anchor"
	}
	return "the " + place + "'s anchor"
}

// IntegrityAlertError is returned by appends to an organization with an
// active alert. It matches ErrIntegrityAlert.
type IntegrityAlertError struct{ Alert IntegrityAlert }

func (e *IntegrityAlertError) Error() string        { return e.Alert.Message() }
func (e *IntegrityAlertError) Is(target error) bool { return target == ErrIntegrityAlert }

// tagAlert holds persisted alerts: 0x23 || org || 0x00 → JSON IntegrityAlert,
// or an empty value once acknowledged.
func alertKey(org string) []byte { return orgPrefix(tagAlert, org) }

// bypassAlert marks the context of the acknowledgement's own append.
type bypassAlert struct{}

// alertGate refuses events of organizations with an active alert.
func (s *Store) alertGate(ctx context.Context, events []Event) error {
	in := s.integ
	if in == nil || in.disabled || ctx.Value(bypassAlert{}) != nil {
		return nil
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	if len(in.alerts) == 0 {
		return nil
	}
	for _, e := range events {
		if a, ok := in.alerts[e.OrganizationID]; ok {
			return &IntegrityAlertError{Alert: a}
		}
	}
	return nil
}

// orgAlertGate refuses a change to org's log that the log must record (a
// key rotation, a retention sweep) while org has an active alert.
func (s *Store) orgAlertGate(ctx context.Context, org string) error {
	return s.alertGate(ctx, []Event{{OrganizationID: org}})
}

// raiseAlert records an alert (the first one of an organization wins) in
// memory and in the log. It reports whether it persisted the alert (true
// as well when org already had one); the alert stays in memory either way.
func (s *Store) raiseAlert(a IntegrityAlert) error {
	in := s.integ
	a.DetectedAt = s.opts.Now().UTC()
	if p := placeOf(in.ks); p != "keychain" {
		a.AnchorIn = p
	}
	in.mu.Lock()
	if _, ok := in.alerts[a.Org]; ok {
		in.mu.Unlock()
		return nil
	}
	in.alerts[a.Org] = a
	in.mu.Unlock()
	s.log.Error("integrity alert", "org", a.Org, "kind", a.Kind, "msg", a.Message())
	b, _ := json.Marshal(a)
	err := s.update(func(txn *badger.Txn) error { return txn.Set(alertKey(a.Org), b) })
	if err != nil {
		// The alert stays in memory; the anchor check raises it again on
		// the next open.
		s.log.Error("failed to persist the integrity alert", "org", a.Org, "err", err)
		return fmt.Errorf("failed to persist the integrity alert of organization %q: %w", a.Org, err)
	}
	return nil
}

// raiseDamaged raises a damaged alert on org from the writer, which must
// not wait for the alert's own commit: appends to org are refused from
// then on, and open raises it again if it could not be persisted.
func (s *Store) raiseDamaged(org string, err error) {
	if s.integ == nil || s.integ.disabled {
		return
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.raiseAlert(IntegrityAlert{Org: org, Kind: AlertDamaged, Detail: err.Error()})
	}()
}

// RaiseIntegrityAlert raises an integrity alert on org from outside the
// store: the sync layer calls it when a remote witness disagrees with org's
// checkpoints. Like an alert the store raises itself (a rollback), it is
// persisted in the log, appends to org fail with ErrIntegrityAlert and no
// checkpoint moves org's anchor until AcknowledgeIntegrityAlert, whose
// event records reason and evidence. If org already has an alert, that one
// stays and this call changes nothing. An error means the alert could not
// be persisted; it is still active until the store is closed.
func (s *Store) RaiseIntegrityAlert(ctx context.Context, org, reason string, evidence map[string]string) error {
	if err := s.integrityReady(ctx); err != nil {
		return err
	}
	if !validOrg(org) {
		return fmt.Errorf("organization id %q is not valid: %w", org, ErrNotFound)
	}
	if reason == "" {
		return fmt.Errorf("an integrity alert needs a reason: %w", ErrInvalidEvent)
	}
	s.closeMu.RLock()
	defer s.closeMu.RUnlock()
	if s.closed {
		return ErrClosed
	}
	a := IntegrityAlert{Org: org, Kind: AlertExternal, Detail: reason, Evidence: maps.Clone(evidence)}
	s.integ.mu.Lock()
	if o := s.integ.orgs[org]; o != nil {
		a.AnchorSize, a.AnchorRoot = o.last.Checkpoint.Size, o.last.Checkpoint.Root
		a.DBSize = o.durable
	}
	s.integ.mu.Unlock()
	return s.raiseAlert(a)
}

func (s *Store) loadAlerts() error {
	return s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte{tagAlert}})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			if isCleared(it.Item()) {
				continue // acknowledged
			}
			// The organization is the key's; what the value says is
			// checked against it, so that a changed alert can neither
			// release its organization nor block another.
			k := it.Item().Key()
			org, ok := keyOrg(k)
			if !ok {
				s.log.Error("ignored a stored integrity alert whose key names no organization", "key", fmt.Sprintf("%q", k))
				continue
			}
			var a IntegrityAlert
			err := it.Item().Value(func(v []byte) error { return json.Unmarshal(v, &a) })
			switch {
			case err != nil:
				err = fmt.Errorf("its stored integrity alert does not decode: %v", err)
			case a.Org != org:
				err = fmt.Errorf("its stored integrity alert names organization %q", a.Org)
			case !knownAlertKinds[a.Kind]:
				err = fmt.Errorf("its stored integrity alert is of unknown kind %q", a.Kind)
			}
			if err != nil {
				// Kept in memory only: the stored value is evidence.
				a = IntegrityAlert{Org: org, Kind: AlertDamaged, DetectedAt: s.opts.Now().UTC(), Detail: err.Error()}
				s.log.Error("integrity alert", "org", org, "kind", a.Kind, "msg", a.Message())
			}
			s.integ.alerts[org] = a
		}
		return nil
	})
}

// checkAnchors compares each organization's tree with its keychain anchor.
func (s *Store) checkAnchors(ctx context.Context, orgs []string) error {
	in := s.integ
	anchor := anchorName(placeOf(in.ks))
	all := slices.Clone(orgs)
	for _, o := range in.anchors {
		if !slices.Contains(all, o) {
			all = append(all, o)
		}
	}
	for _, org := range all {
		raw, err := in.ks.Get(ctx, KeyAnchor(org))
		if errors.Is(err, ErrKeyNotFound) {
			continue
		}
		if err != nil {
			return fmt.Errorf("failed to read the anchor of organization %q from the keystore: %w", org, err)
		}
		cp, err := tlog.OpenCheckpoint(raw, in.vkey, tlog.Origin(in.instID, org))
		if err != nil {
			s.raiseAlert(IntegrityAlert{Org: org, Kind: AlertInconsistent,
				Detail: anchor + " does not verify with this log's key: " + err.Error()})
			continue
		}
		t := in.trees[org]
		a := IntegrityAlert{Org: org, AnchorSize: cp.Size, AnchorRoot: cp.Root}
		if t == nil || t.Size() == 0 {
			a.Kind, a.DBRoot = AlertMissing, tlog.EmptyRoot()
			s.raiseAlert(a)
			continue
		}
		a.DBSize, a.DBRoot = t.Size(), t.Root()
		if t.Size() < cp.Size {
			a.Kind = AlertRollback
			s.raiseAlert(a)
			continue
		}
		var root tlog.Hash
		err = s.db.View(func(txn *badger.Txn) error {
			root, err = tlog.RootAt(ctx, s.nodes(txn, org), cp.Size)
			return err
		})
		if err != nil && !treeDamage(err) {
			// Cancelled, or the read failed: no evidence either way.
			return fmt.Errorf("failed to compare organization %q's tree with its anchor: %w", org, err)
		}
		if err != nil || root != cp.Root {
			a.Kind = AlertInconsistent
			if err != nil {
				a.Detail = err.Error()
			} else {
				a.Detail = fmt.Sprintf("the database's root at the anchor's size %d is %s", cp.Size, root)
			}
			s.raiseAlert(a)
			continue
		}
		// The anchor mirrors a checkpoint the log stored first, so the
		// newest stored one is never older; the next checkpoint would
		// overwrite the evidence.
		if o := in.orgs[org]; o != nil && o.last.Checkpoint.Size < cp.Size {
			a.Kind = AlertInconsistent
			a.Detail = fmt.Sprintf("the newest checkpoint the database stores is of %d events, %s of %d: later checkpoints were deleted or replaced",
				o.last.Checkpoint.Size, anchor, cp.Size)
			s.raiseAlert(a)
			continue
		}
		// Of the same size too: deleted heartbeats, or a database restored
		// from a copy made before them, leave the size and root.
		var stored bool
		if err := s.db.View(func(txn *badger.Txn) error { stored = storedNote(txn, org, raw, cp.Size); return nil }); err != nil {
			return fmt.Errorf("failed to look for organization %q's anchor among its checkpoints: %w", org, err)
		}
		if !stored {
			a.Kind = AlertInconsistent
			a.Detail = anchorNotStored(anchor, cp)
			s.raiseAlert(a)
		}
	}
	return nil
}

// anchorNotStored says that the anchor cp (named anchor) is not among the
// stored checkpoints.
func anchorNotStored(anchor string, cp tlog.Checkpoint) string {
	signed := ""
	if !cp.Time.IsZero() {
		signed = ", signed at " + cp.Time.Format(time.RFC3339)
	}
	return fmt.Sprintf("%s, a checkpoint of %d events%s, is not among the checkpoints the database stores: "+
		"later checkpoints were deleted, or the database was restored from a copy made before them", anchor, cp.Size, signed)
}

// IntegrityAlerts lists the active integrity alerts, by organization.
func (s *Store) IntegrityAlerts(ctx context.Context) []IntegrityAlert {
	in := s.integ
	if in == nil || ctx.Err() != nil {
		return nil
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	out := make([]IntegrityAlert, 0, len(in.alerts))
	for _, a := range in.alerts {
		out = append(out, a)
	}
	slices.SortFunc(out, func(a, b IntegrityAlert) int {
		if a.Org < b.Org {
			return -1
		}
		if a.Org > b.Org {
			return 1
		}
		return 0
	})
	return out
}

// AcknowledgeIntegrityAlert accepts org's database as it is: it records an
// audit.integrity_alert_acknowledged event with the evidence (kind, anchor
// and database sizes and roots) in its metadata, clears the alert, and
// re-anchors org on a new checkpoint of the current tree. acknowledgedBy is
// the userId of the event; reason goes into its metadata.
func (s *Store) AcknowledgeIntegrityAlert(ctx context.Context, org, acknowledgedBy, reason string) (Receipt, error) {
	if err := s.integrityReady(ctx); err != nil {
		return Receipt{}, err
	}
	in := s.integ
	in.mu.Lock()
	a, ok := in.alerts[org]
	in.mu.Unlock()
	if ok && a.Kind == AlertDamaged {
		return Receipt{}, fmt.Errorf("%s; a damaged log cannot be acknowledged: %w", a.Message(), ErrIntegrityAlert)
	}
	if !ok {
		return Receipt{}, fmt.Errorf("organization %q has no integrity alert to acknowledge: %w", org, ErrNotFound)
	}
	if acknowledgedBy == "" || reason == "" {
		return Receipt{}, fmt.Errorf("acknowledging an integrity alert needs who acknowledges it and why: %w", ErrInvalidEvent)
	}
	evidence := map[string]any{
		"alertId":        fmt.Sprintf("%s/%s/%d", a.Org, a.Kind, a.DetectedAt.UnixNano()),
		"note":           reason,
		"kind":           string(a.Kind),
		"detail":         a.Detail,
		"detectedAt":     a.DetectedAt.Format(time.RFC3339Nano),
		"anchorSize":     a.AnchorSize,
		"anchorRoot":     a.AnchorRoot.String(),
		"dbSize":         a.DBSize,
		"dbRoot":         a.DBRoot.String(),
		"acknowledgedBy": acknowledgedBy,
	}
	if len(a.Evidence) > 0 {
		evidence["evidence"] = a.Evidence
	}
	meta, _ := json.Marshal(evidence)
	ev := Event{Timestamp: s.opts.Now().UTC(), OrganizationID: org, UserID: acknowledgedBy, Provider: "system",
		ActionType: "audit.integrity_alert_acknowledged", ResourceIDs: []string{}, Status: "applied",
		RiskLevel: "high", Metadata: meta}
	rs, err := s.Append(context.WithValue(ctx, bypassAlert{}, true), []Event{ev})
	if err != nil {
		return Receipt{}, fmt.Errorf("failed to record the acknowledgement of the integrity alert of organization %q: %w", org, err)
	}
	// Cleared, not deleted (see cleared in settings.go).
	err = s.update(func(txn *badger.Txn) error { return txn.Set(alertKey(org), cleared) })
	if err != nil {
		return rs[0], fmt.Errorf("failed to clear the integrity alert of organization %q: %w", org, err)
	}
	if _, err := s.checkpoint(ctx, org, true); err != nil {
		return rs[0], fmt.Errorf("the integrity alert of organization %q is acknowledged, but re-anchoring failed: %w", org, err)
	}
	in.mu.Lock()
	delete(in.alerts, org)
	in.mu.Unlock()
	s.log.Warn("integrity alert acknowledged", "org", org, "by", acknowledgedBy, "kind", a.Kind)
	return rs[0], nil
}
