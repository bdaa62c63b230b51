package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strconv"
	gosync "sync"
	"time"

	"github.com/axiomops/axiom-audit/app/export"
	axsync "github.com/axiomops/axiom-audit/app/sync"
	"github.com/axiomops/axiom-audit/app/sync/azure"
	"github.com/axiomops/axiom-audit/app/sync/s3"
	"github.com/axiomops/axiom-audit/app/sync/tenant"
	"github.com/axiomops/axiom-audit/app/sync/webhook"
	"github.com/axiomops/axiom-audit/storage"
	"github.com/axiomops/axiom-audit/storage/tlog"
)

// syncHolder is the App's Syncer, made on first use (the zero value is
// ready) and closed by App.Close.
type syncHolder struct {
	mu     gosync.Mutex
	syncer *axsync.Syncer
}

// syncer returns the App's Syncer.
func (a *App) syncer() (*axsync.Syncer, error) {
	st, err := a.storeOrErr()
	if err != nil {
		return nil, err
	}
	h := &a.syncs
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.syncer == nil {
		h.syncer = axsync.New(axsync.Options{
			Store:     st,
			Keystore:  a.opts.Keystore,
			Open:      a.openDestination,
			Integrity: storeIntegrity{st},
			Record:    a.recordSelf,
			Alert:     a.syncAlert,
			User:      a.opts.User,
			Logger:    a.log.With("component", "sync"),
			Now:       a.opts.Now,
		})
	}
	return h.syncer, nil
}

// startSync runs the delivery loops of the enabled destinations until the
// App closes: the desktop app calls it on startup (desktop.go).
func (a *App) startSync() {
	s, err := a.syncer()
	if err != nil {
		return
	}
	if err := s.Start(a.base); err != nil {
		a.log.Error("sync: failed to start", "err", err)
	}
}

// closeSync stops the delivery loops (App.Close).
func (a *App) closeSync() {
	h := &a.syncs
	h.mu.Lock()
	s := h.syncer
	h.mu.Unlock()
	if s != nil {
		_ = s.Close()
	}
}

// SyncConfig is what the user chooses when enabling a destination.
type SyncConfig = axsync.Config

// SyncStatus is one destination's status.
type SyncStatus = axsync.Status

// SyncEnable opts org in to a destination and keeps secret (the webhook
// secret, the tenant token or S3 keys; empty: none) in the keychain.
func (a *App) SyncEnable(cfg SyncConfig, secret string) error {
	var b []byte
	if secret != "" {
		b = []byte(secret)
	}
	return a.syncEnable(a.bg(), cfg, b)
}

func (a *App) syncEnable(ctx context.Context, cfg SyncConfig, secret []byte) error {
	if cfg.Kind == axsync.KindWebhook && len(secret) == 0 {
		return &RequestError{Field: "secret", Reason: "the webhook needs a signing secret"}
	}
	if cfg.Kind == axsync.KindTenant && len(secret) == 0 {
		return &RequestError{Field: "token", Reason: "the tenant needs a token"}
	}
	if cfg.Kind == axsync.KindS3 && secret != nil {
		if _, err := s3.ParseCredentials(secret); err != nil {
			return &RequestError{Field: "credentials", Reason: err.Error()}
		}
	}
	if cfg.Kind == axsync.KindAzure {
		// Azure AD sign-in would need azidentity and MSAL in the binary:
		// a shared key or a SAS token is the credential.
		if len(secret) == 0 {
			return &RequestError{Field: "credentials", Reason: "azure needs a shared key or a SAS token (--credentials-file); Azure AD sign-in is not supported"}
		}
		creds, err := azure.ParseCredentials(secret)
		if err != nil {
			return &RequestError{Field: "credentials", Reason: err.Error()}
		}
		if exp := creds.SASExpiry(); !exp.IsZero() && !exp.After(a.opts.Now()) {
			return &RequestError{Field: "credentials", Reason: "the SAS token expired at " + exp.UTC().Format(time.RFC3339) + ": make a new one"}
		}
	}
	if err := cfg.Validate(); err != nil {
		return &RequestError{Field: "destination", Reason: err.Error()}
	}
	s, err := a.syncer()
	if err != nil {
		return err
	}
	return s.Enable(ctx, cfg, secret)
}

// SyncDisable opts org out of the destination kind.
func (a *App) SyncDisable(org, kind string) error { return a.syncDisable(a.bg(), org, kind) }

func (a *App) syncDisable(ctx context.Context, org, kind string) error {
	k, err := axsync.ParseKind(kind)
	if err != nil {
		return &RequestError{Field: "to", Reason: err.Error()}
	}
	s, err := a.syncer()
	if err != nil {
		return err
	}
	return s.Disable(ctx, org, k)
}

// SyncStatusDTO is one organization's sync, as the UI's sync panel and
// the REST API show it: its destinations, none when sync is off.
type SyncStatusDTO struct {
	Org          string               `json:"org"`
	Destinations []SyncDestinationDTO `json:"destinations"`
	// Error says what failed in a run-now, destination by destination
	// (each one's status has the details); empty otherwise.
	Error string `json:"error,omitempty"`
}

// SyncDestinationDTO is one destination's status. Times are RFC 3339 in
// UTC; lastSuccess is null when nothing was delivered yet.
type SyncDestinationDTO struct {
	Kind string `json:"kind"` // tenant, s3, azure or webhook
	// Target is where it delivers, without credentials or query string.
	Target  string `json:"target"`
	Enabled bool   `json:"enabled"`
	// State is healthy, retrying, stopped (needs the user: Stopped says
	// why) or disabled.
	State string `json:"state"`
	// Format of a webhook's body (jsonl, ocsf, ecs, splunk-hec).
	Format string `json:"format,omitempty"`
	// Includes is "commitments" (the default) or "states".
	Includes     string  `json:"includes"`
	DeliveredSeq uint64  `json:"deliveredSeq"`
	HeadSeq      uint64  `json:"headSeq"`
	LagEvents    uint64  `json:"lagEvents"`
	LagSeconds   float64 `json:"lagSeconds"`
	LastSuccess  *string `json:"lastSuccess"`
	LastError    string  `json:"lastError"`
	LastErrorAt  *string `json:"lastErrorAt"`
	// Failures in a row since the last success.
	Failures  int    `json:"failures"`
	Stopped   string `json:"stopped,omitempty"`
	EnabledAt string `json:"enabledAt"`
	// PrunedBeforeDelivery is how many events retention pruned before
	// the destination received them: holes in its copy.
	PrunedBeforeDelivery uint64 `json:"prunedBeforeDelivery"`
}

func syncStatusDTO(org string, sts []SyncStatus) SyncStatusDTO {
	out := SyncStatusDTO{Org: org, Destinations: make([]SyncDestinationDTO, 0, len(sts))}
	for _, s := range sts {
		d := SyncDestinationDTO{
			Kind: string(s.To), Target: safeTarget(s), Enabled: s.Enabled, State: s.State, Format: s.Format,
			Includes: s.Includes, DeliveredSeq: s.DeliveredSeq, HeadSeq: s.HeadSeq, LagEvents: s.LagEvents,
			LagSeconds: s.LagSeconds, LastError: s.LastError, Failures: s.Failures, Stopped: s.Stopped,
			EnabledAt: formatTime(s.EnabledAt), PrunedBeforeDelivery: s.PrunedBeforeDelivery,
		}
		if s.LastSuccess != nil {
			t := formatTime(*s.LastSuccess)
			d.LastSuccess = &t
		}
		if s.LastErrorAt != nil {
			t := formatTime(*s.LastErrorAt)
			d.LastErrorAt = &t
		}
		out.Destinations = append(out.Destinations, d)
	}
	return out
}

// safeTarget is a destination's URL without user info, query or fragment,
// where a receiver's credentials sometimes hide.
func safeTarget(s SyncStatus) string {
	if s.To == axsync.KindS3 {
		return s.Target
	}
	u, err := url.Parse(s.Target)
	if err != nil {
		return ""
	}
	u.User, u.RawQuery, u.Fragment = nil, "", ""
	return u.String()
}

// SyncRunNow delivers what is pending for org's destinations and returns
// their status; what failed is in the result's error and each
// destination's status, not in the returned error, which means nothing was
// tried (no destination is enabled, or the log cannot be read).
func (a *App) SyncRunNow(org string) (SyncStatusDTO, error) {
	if org == "" {
		return SyncStatusDTO{}, &RequestError{Field: "org", Reason: "is required"}
	}
	return a.syncRunNowDTO(a.bg(), org)
}

func (a *App) syncRunNowDTO(ctx context.Context, org string) (SyncStatusDTO, error) {
	sts, err := a.syncRunNow(ctx, org)
	if sts == nil && err != nil {
		return SyncStatusDTO{}, err
	}
	dto := syncStatusDTO(org, sts)
	if err != nil {
		dto.Error = err.Error()
	}
	return dto, nil
}

func (a *App) syncRunNow(ctx context.Context, org string) ([]SyncStatus, error) {
	s, err := a.syncer()
	if err != nil {
		return nil, err
	}
	return s.RunNow(ctx, org)
}

// syncRunNowUntil is syncRunNow that stops between two batches once
// deadline has passed, and says whether events were left pending.
func (a *App) syncRunNowUntil(ctx context.Context, org string, deadline time.Time) ([]SyncStatus, bool, error) {
	s, err := a.syncer()
	if err != nil {
		return nil, false, err
	}
	return s.RunNowUntil(ctx, org, deadline)
}

// SyncStatus returns the status of org's destinations for the UI's sync
// panel: state, lag in events and seconds, last success, last error. No
// destination means sync is off for org.
func (a *App) SyncStatus(org string) (SyncStatusDTO, error) {
	if org == "" {
		return SyncStatusDTO{}, &RequestError{Field: "org", Reason: "is required"}
	}
	sts, err := a.syncStatus(a.bg(), org)
	if err != nil {
		return SyncStatusDTO{}, err
	}
	return syncStatusDTO(org, sts), nil
}

func (a *App) syncStatus(ctx context.Context, org string) ([]SyncStatus, error) {
	s, err := a.syncer()
	if err != nil {
		return nil, err
	}
	return s.Status(ctx, org)
}

// openDestination builds the Destination of cfg.
func (a *App) openDestination(ctx context.Context, cfg axsync.Config, secret []byte) (axsync.Destination, error) {
	switch cfg.Kind {
	case axsync.KindTenant:
		if len(secret) == 0 {
			return nil, errors.New("the tenant token is missing from the keychain: enable the tenant again with --token-file")
		}
		return tenant.NewClient(cfg.URL, secret), nil
	case axsync.KindWebhook:
		if len(secret) == 0 {
			return nil, errors.New("the webhook secret is missing from the keychain: enable the webhook again with --secret-file")
		}
		enc, err := a.webhookEncoder(cfg)
		if err != nil {
			return nil, err
		}
		c := webhook.NewClient(cfg.URL, secret, enc)
		if cfg.Format == "splunk-hec" {
			// Splunk's HTTP Event Collector authenticates with its token in
			// this header; the same secret signs the body.
			c.Authorization = "Splunk " + string(secret)
		}
		return c, nil
	case axsync.KindS3:
		c := s3.Config{Bucket: cfg.Bucket, Prefix: cfg.Prefix, Endpoint: cfg.Endpoint, Region: cfg.Region,
			ObjectLockMode: cfg.ObjectLockMode, ObjectLockDays: cfg.ObjectLockDays, Now: a.opts.Now}
		if len(secret) > 0 {
			creds, err := s3.ParseCredentials(secret)
			if err != nil {
				return nil, err
			}
			c.Credentials = creds
		}
		return s3.NewClient(ctx, c)
	case axsync.KindAzure:
		if len(secret) == 0 {
			return nil, errors.New("the azure credentials are missing from the keychain: enable azure again with --credentials-file")
		}
		creds, err := azure.ParseCredentials(secret)
		if err != nil {
			return nil, err
		}
		return azure.NewClient(azure.Config{AccountURL: cfg.AccountURL, Container: cfg.Container, Prefix: cfg.Prefix, Credentials: creds, Now: a.opts.Now})
	}
	return nil, fmt.Errorf("unknown destination %q", cfg.Kind)
}

// webhookEncoder returns the body format of a webhook. jsonl is the sync
// wire format (each line carries the exact public record, so a SIEM can
// check leaf hashes); ocsf, ecs and splunk-hec are the export encoders.
func (a *App) webhookEncoder(cfg axsync.Config) (webhook.Encoder, error) {
	if cfg.Format == "jsonl" {
		return webhook.JSONLines{WithStates: cfg.IncludeSensitive}, nil
	}
	f, err := export.ParseFormat(cfg.Format)
	if err != nil {
		return nil, err
	}
	ct := "application/x-ndjson"
	if f == export.SplunkHEC {
		ct = "application/json"
	}
	host, _ := os.Hostname()
	return &exportEncoder{format: f, product: export.Product{Version: a.opts.Version, Host: host}, cat: a.catalogue, contentType: ct, withStates: cfg.IncludeSensitive}, nil
}

// exportEncoder writes a batch with one of the export encoders.
type exportEncoder struct {
	format      export.Format
	product     export.Product
	cat         *storage.Catalogue
	contentType string
	withStates  bool
}

func (x *exportEncoder) ContentType() string { return x.contentType }

func (x *exportEncoder) Encode(w io.Writer, events []storage.StoredEvent) error {
	enc, err := export.NewEncoder(x.format, x.product)
	if err != nil {
		return err
	}
	if err := enc.Begin(w); err != nil {
		return err
	}
	for i := range events {
		e := events[i]
		if !x.withStates {
			e.BeforeState, e.AfterState = nil, nil
		}
		r := export.Record{StoredEvent: &e}
		if at, ok := x.cat.Lookup(e.ActionType); ok {
			r.Controls = export.Controls{SOC2: at.SOC2, ISO27001: at.ISO27001}
			r.OCSF, r.Retention, r.Description = at.OCSF, string(at.Retention), at.Description
		} else {
			r.OCSF = storage.OCSFClass{ClassUID: 6003, ClassName: "API Activity", CategoryUID: 6, ActivityID: 99}
		}
		if r.Controls.SOC2 == nil {
			r.Controls.SOC2 = []string{}
		}
		if r.Controls.ISO27001 == nil {
			r.Controls.ISO27001 = []string{}
		}
		if err := enc.Encode(w, &r); err != nil {
			return err
		}
	}
	return enc.End(w)
}

// syncAlert raises the integrity alert of org (DESIGN.md §5) when a
// destination witnessed a checkpoint inconsistent with the local log: the
// local log was rewritten, rolled back or truncated, or the tenant lies.
// The alert is persisted by the store and, like one the store raises
// itself, refuses appends to org until `axiom-audit recover --acknowledge`,
// whose event keeps the evidence given here. The Syncer records
// audit.sync_failed before calling it, so the log holds the failure too.
func (a *App) syncAlert(ctx context.Context, org, destination string, e *axsync.InconsistencyError) error {
	st, err := a.storeOrErr()
	if err != nil {
		return err
	}
	evidence := map[string]string{
		"source":        "sync witness",
		"destination":   destination,
		"witnessedSize": strconv.FormatUint(e.Size, 10),
	}
	if len(e.Note) > 0 {
		evidence["witnessedCheckpoint"] = string(e.Note)
	}
	return st.RaiseIntegrityAlert(ctx, org, "sync witness: "+e.Reason, evidence)
}

// storeIntegrity is the integrity layer of the store as the Syncer needs
// it.
type storeIntegrity struct{ st *storage.Store }

func (s storeIntegrity) LatestCheckpoint(ctx context.Context, org string) (axsync.Checkpoint, error) {
	sc, err := s.st.LatestCheckpoint(ctx, org)
	if err != nil {
		return axsync.Checkpoint{}, err
	}
	return axsync.Checkpoint{Size: sc.Checkpoint.Size, Root: sc.Checkpoint.Root, Note: sc.Note}, nil
}

func (s storeIntegrity) ConsistencyProof(ctx context.Context, org string, size1, size2 uint64) ([][]byte, error) {
	return s.st.ConsistencyProof(ctx, org, size1, size2)
}

func (s storeIntegrity) OpenCheckpoint(ctx context.Context, org string, note []byte) (axsync.Checkpoint, error) {
	vkey, err := s.st.PublicKey(ctx)
	if err != nil {
		return axsync.Checkpoint{}, err
	}
	inst, err := s.st.InstallationID(ctx)
	if err != nil {
		return axsync.Checkpoint{}, err
	}
	cp, err := tlog.OpenCheckpoint(note, vkey, tlog.Origin(inst, org))
	if err != nil {
		return axsync.Checkpoint{}, err
	}
	return axsync.Checkpoint{Size: cp.Size, Root: cp.Root, Note: note}, nil
}
