package app

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"time"

	axsync "github.com/axiomops/axiom-audit/app/sync"
)

// syncBackend is what the sync commands need: the App itself, or the
// desktop app's (or serve's) API when that process holds the profile, so
// that `axiom-audit sync ...` works while the app is open.
type syncBackend interface {
	syncEnable(ctx context.Context, cfg SyncConfig, secret []byte) error
	syncDisable(ctx context.Context, org, kind string) error
	syncRunNow(ctx context.Context, org string) ([]SyncStatus, error)
	syncStatus(ctx context.Context, org string) ([]SyncStatus, error)
}

// syncEnableRequest is the body of POST /api/sync/enable, which only the
// desktop app's local credential may call (the CLI on the same machine).
type syncEnableRequest struct {
	Config SyncConfig `json:"config"`
	// Secret is the webhook secret, tenant token, S3 keys or Azure
	// credentials (base64 in JSON); empty: none.
	Secret []byte `json:"secret,omitempty"`
}

func (r *RemoteClient) syncEnable(ctx context.Context, cfg SyncConfig, secret []byte) error {
	body, err := json.Marshal(syncEnableRequest{Config: cfg, Secret: secret})
	if err != nil {
		return err
	}
	var out SyncStatusDTO
	return r.do(ctx, http.MethodPost, "/api/sync/enable", body, &out)
}

func (r *RemoteClient) syncDisable(ctx context.Context, org, kind string) error {
	var out SyncStatusDTO
	return r.do(ctx, http.MethodPost, "/api/sync/disable?"+url.Values{"org": {org}, "to": {kind}}.Encode(), nil, &out)
}

func (r *RemoteClient) syncRunNow(ctx context.Context, org string) ([]SyncStatus, error) {
	var out SyncStatusDTO
	if err := r.do(ctx, http.MethodPost, "/api/sync/run-now?"+url.Values{"org": {org}}.Encode(), nil, &out); err != nil {
		return nil, err
	}
	sts := syncStatusFromDTO(out)
	if out.Error != "" {
		return sts, errors.New(out.Error)
	}
	return sts, nil
}

func (r *RemoteClient) syncStatus(ctx context.Context, org string) ([]SyncStatus, error) {
	var out SyncStatusDTO
	if err := r.do(ctx, http.MethodGet, "/api/sync/status?"+url.Values{"org": {org}}.Encode(), nil, &out); err != nil {
		return nil, err
	}
	return syncStatusFromDTO(out), nil
}

// syncStatusFromDTO is the inverse of syncStatusDTO, for printing what the
// desktop app answered as the local path prints it.
func syncStatusFromDTO(dto SyncStatusDTO) []SyncStatus {
	parse := func(s *string) *time.Time {
		if s == nil {
			return nil
		}
		t, err := time.Parse(time.RFC3339Nano, *s)
		if err != nil {
			return nil
		}
		return &t
	}
	out := make([]SyncStatus, 0, len(dto.Destinations))
	for _, d := range dto.Destinations {
		enabledAt, _ := time.Parse(time.RFC3339Nano, d.EnabledAt)
		out = append(out, SyncStatus{
			Org: dto.Org, To: axsync.Kind(d.Kind), Target: d.Target, Enabled: d.Enabled, State: d.State, Format: d.Format,
			Includes: d.Includes, DeliveredSeq: d.DeliveredSeq, HeadSeq: d.HeadSeq, LagEvents: d.LagEvents,
			LagSeconds: d.LagSeconds, LastSuccess: parse(d.LastSuccess), LastError: d.LastError, LastErrorAt: parse(d.LastErrorAt),
			Failures: d.Failures, Stopped: d.Stopped, EnabledAt: enabledAt,
		})
	}
	return out
}
