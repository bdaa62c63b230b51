package sync

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/axiomops/axiom-audit/storage"
)

// Config is one organization's opt-in to one destination. It holds no
// secret: the webhook secret, the tenant token, S3 keys and the Azure
// shared key or SAS token are in the keystore under SecretName.
type Config struct {
	Org  string `json:"org"`
	Kind Kind   `json:"kind"`
	// URL of the tenant or the webhook.
	URL string `json:"url,omitempty"`
	// Format of the webhook body: jsonl, ocsf, ecs or splunk-hec.
	Format string `json:"format,omitempty"`
	// IncludeSensitive sends decrypted beforeState/afterState; off by
	// default (commitments only).
	IncludeSensitive bool `json:"includeSensitive,omitempty"`
	// S3.
	Bucket string `json:"bucket,omitempty"`
	// Prefix of the S3 keys or Azure blob names.
	Prefix   string `json:"prefix,omitempty"`
	Endpoint string `json:"endpoint,omitempty"`
	Region   string `json:"region,omitempty"`
	// ObjectLockMode (GOVERNANCE or COMPLIANCE) and ObjectLockDays set
	// Object Lock retention on every object written; empty: none.
	ObjectLockMode string `json:"objectLockMode,omitempty"`
	ObjectLockDays int    `json:"objectLockDays,omitempty"`
	// Azure Blob Storage: the account's blob endpoint
	// (https://ACCOUNT.blob.core.windows.net, or an emulator's
	// http://127.0.0.1:10000/devstoreaccount1) and the container.
	AccountURL string `json:"accountUrl,omitempty"`
	Container  string `json:"container,omitempty"`
	// HasSecret says whether a secret was stored in the keystore.
	HasSecret bool      `json:"hasSecret,omitempty"`
	EnabledAt time.Time `json:"enabledAt"`
	EnabledBy string    `json:"enabledBy,omitempty"`
}

// Target describes where the destination delivers, for status lines.
func (c Config) Target() string {
	if c.Kind == KindS3 {
		t := "s3://" + c.Bucket + "/" + strings.TrimPrefix(c.Prefix, "/")
		if c.Endpoint != "" {
			t += " at " + c.Endpoint
		}
		return t
	}
	if c.Kind == KindAzure {
		return strings.TrimRight(c.AccountURL, "/") + "/" + c.Container + "/" + strings.TrimPrefix(c.Prefix, "/")
	}
	return c.URL
}

// ShownTarget is Target without what may be a credential in a URL (user
// info, query, fragment): what status lines, messages and audit events
// show.
func (c Config) ShownTarget() string {
	if c.Kind == KindS3 {
		return c.Target()
	}
	u, err := url.Parse(c.Target())
	if err != nil {
		return ""
	}
	u.User, u.RawQuery, u.Fragment = nil, "", ""
	return u.String()
}

// checkURL checks the URL of a webhook or the tenant: https, with a host;
// plain http only to this machine (localhost, 127.0.0.0/8, ::1), so that
// the log never crosses a network in clear text.
func checkURL(what, raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.Hostname() == "" || u.Opaque != "" {
		return fmt.Errorf("%s URL %q is not an absolute URL such as https://siem.example.com/ingest", what, raw)
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		h := u.Hostname()
		if ip := net.ParseIP(h); h == "localhost" || (ip != nil && ip.IsLoopback()) {
			return nil
		}
		return fmt.Errorf("%s URL %q is plain http: use https (plain http is accepted only to this machine, such as http://127.0.0.1:8080)", what, raw)
	default:
		return fmt.Errorf("%s URL %q: the scheme must be https, not %q", what, raw, u.Scheme)
	}
}

// Validate checks that c names what its kind needs.
func (c Config) Validate() error {
	if c.Org == "" {
		return errors.New("an organization is required")
	}
	switch c.Kind {
	case KindTenant:
		if c.URL == "" {
			return errors.New("the tenant needs a URL")
		}
		if err := checkURL("the tenant's", c.URL); err != nil {
			return err
		}
	case KindWebhook:
		if c.URL == "" {
			return errors.New("the webhook needs a URL")
		}
		if err := checkURL("the webhook's", c.URL); err != nil {
			return err
		}
		switch c.Format {
		case "jsonl", "ocsf", "ecs", "splunk-hec":
		default:
			return fmt.Errorf("webhook format %q: must be jsonl, ocsf, ecs or splunk-hec", c.Format)
		}
	case KindS3:
		if c.Bucket == "" {
			return errors.New("s3 needs a bucket")
		}
		switch c.ObjectLockMode {
		case "", "GOVERNANCE", "COMPLIANCE":
		default:
			return fmt.Errorf("object lock mode %q: must be GOVERNANCE or COMPLIANCE", c.ObjectLockMode)
		}
		if c.ObjectLockMode != "" && c.ObjectLockDays <= 0 {
			return errors.New("object lock needs a retention of at least one day")
		}
		if c.ObjectLockMode == "" && c.ObjectLockDays != 0 {
			return errors.New("object lock days need an object lock mode (GOVERNANCE or COMPLIANCE): without one no object would be locked")
		}
		if c.Endpoint != "" {
			// The same rule as the other destinations: what is put in the
			// bucket crosses a network only under TLS.
			if err := checkURL("the s3 endpoint's", c.Endpoint); err != nil {
				return err
			}
		}
	case KindAzure:
		if c.AccountURL == "" {
			return errors.New("azure needs the account URL, such as https://ACCOUNT.blob.core.windows.net")
		}
		if err := checkURL("the azure account's", c.AccountURL); err != nil {
			return err
		}
		// The configuration is kept in the database, not the keychain: a
		// SAS token pasted into the URL would be stored and shown there.
		if u, _ := url.Parse(c.AccountURL); u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || u.User != nil {
			return fmt.Errorf("the azure account's URL %q has a query string or user info: give the bare account URL, and a SAS token or shared key in the credentials file (kept in the keychain)", ShownURL(c.AccountURL))
		}
		if err := CheckContainerName(c.Container); err != nil {
			return err
		}
	default:
		_, err := ParseKind(string(c.Kind))
		return err
	}
	return nil
}

// CheckContainerName checks an Azure Blob container name: 3 to 63
// lowercase letters, digits and single hyphens, starting and ending with a
// letter or digit (the service refuses any other with a 400 that reads
// less clearly).
func CheckContainerName(name string) error {
	if name == "" {
		return errors.New("azure needs a container")
	}
	ok := len(name) >= 3 && len(name) <= 63 && name[0] != '-' && name[len(name)-1] != '-' && !strings.Contains(name, "--")
	for i := 0; ok && i < len(name); i++ {
		c := name[i]
		ok = c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-'
	}
	if !ok {
		return fmt.Errorf("azure container %q: must be 3 to 63 lowercase letters, digits and single hyphens, starting and ending with a letter or digit", name)
	}
	return nil
}

// ShownURL is raw without user info, query and fragment, where
// credentials sometimes hide; raw itself when it is not a URL (it then
// holds none of them).
func ShownURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(not a URL)"
	}
	u.User, u.RawQuery, u.ForceQuery, u.Fragment = nil, "", false, ""
	return u.String()
}

// State names of a destination.
const (
	StateHealthy  = "healthy"  // delivering or caught up
	StateRetrying = "retrying" // failing, retried with backoff
	StateStopped  = "stopped"  // rejected or integrity alert: needs the user
	StateDisabled = "disabled"
)

// progress is what survives restarts about one destination: the cursor and
// the status, kept in one setting so one durable write records both.
type progress struct {
	// Seq is the highest seq the destination acknowledged: the cursor.
	Seq uint64 `json:"seq"`
	// AckedSize/AckedRoot: the checkpoint the destination acknowledged
	// last, the base of the next consistency proof.
	AckedSize   uint64    `json:"ackedSize,omitempty"`
	State       string    `json:"state"`
	LastSuccess time.Time `json:"lastSuccess,omitzero"`
	LastError   string    `json:"lastError,omitempty"`
	LastErrorAt time.Time `json:"lastErrorAt,omitzero"`
	Failures    int       `json:"failures,omitempty"`
	// Stopped is why the destination stopped (state stopped).
	Stopped string `json:"stopped,omitempty"`
	// Alert marks a stop by integrity alert, which run-now does not lift.
	Alert bool `json:"alert,omitempty"`
	// Audited says the current failure was recorded as audit.sync_failed,
	// so the recovery is recorded too.
	Audited bool `json:"audited,omitempty"`
	// Pruned counts the events retention pruned before this destination
	// received them (the seqs the cursor passed that were tombstones, which
	// sync skips); CountedTo is the highest seq counted, so that events
	// resent after the cursor moved back are not counted twice.
	Pruned    uint64 `json:"prunedBeforeDelivery,omitempty"`
	CountedTo uint64 `json:"countedTo,omitempty"`
}

const settingPrefix = "sync/"

func configSetting(org string, k Kind) string {
	return settingPrefix + org + "/" + string(k) + "/config"
}
func progressSetting(org string, k Kind) string {
	return settingPrefix + org + "/" + string(k) + "/progress"
}

// SecretName is the keystore name of a destination's secret.
func SecretName(org string, k Kind) string { return "sync/" + org + "/" + string(k) }

func readJSON(ctx context.Context, st *storage.Store, name string, v any) (bool, error) {
	b, err := st.ReadSetting(ctx, name)
	if errors.Is(err, storage.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return false, fmt.Errorf("setting %s is not valid: %w", name, err)
	}
	return true, nil
}

func writeJSON(ctx context.Context, st *storage.Store, name string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return st.WriteSetting(ctx, name, b)
}

// Status is one destination's state, as `sync status` and the UI show it.
type Status struct {
	Org      string `json:"org"`
	To       Kind   `json:"to"`
	Target   string `json:"target"`
	Enabled  bool   `json:"enabled"`
	State    string `json:"state"`
	Format   string `json:"format,omitempty"`
	Includes string `json:"includes"` // "commitments" or "states"
	// DeliveredSeq is the cursor; HeadSeq the newest seq of the log.
	DeliveredSeq uint64 `json:"deliveredSeq"`
	HeadSeq      uint64 `json:"headSeq"`
	LagEvents    uint64 `json:"lagEvents"`
	// LagSeconds is how long the oldest undelivered event has waited.
	LagSeconds  float64    `json:"lagSeconds"`
	LastSuccess *time.Time `json:"lastSuccess"`
	LastError   string     `json:"lastError"`
	LastErrorAt *time.Time `json:"lastErrorAt,omitempty"`
	Failures    int        `json:"failures,omitempty"`
	Stopped     string     `json:"stopped,omitempty"`
	EnabledAt   time.Time  `json:"enabledAt"`
	// PrunedBeforeDelivery is how many events retention pruned before
	// this destination received them: holes in its copy.
	PrunedBeforeDelivery uint64 `json:"prunedBeforeDelivery,omitempty"`
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}
