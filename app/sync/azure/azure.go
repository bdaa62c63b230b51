// Package azure delivers an organization's events to Azure Blob Storage
// (or an emulator such as Azurite) with the Azure SDK for Go.
//
// # Layout
//
// The same as the s3 destination's, as block blobs in one container:
//
//	<prefix>org=<id>/date=YYYY-MM-DD/<firstSeq>-<lastSeq>.jsonl.gz   a batch, gzip JSON Lines
//	<prefix>org=<id>/checkpoint                                       the newest signed checkpoint note
//
// Seqs are zero-padded to 20 digits so that a listing is in seq order;
// the date is the UTC day the events were recorded, and a batch never
// spans two days (the client acknowledges up to the day's last event and
// the rest goes in the next blob). A batch written again after a crash has
// the same name when its bounds are the same; otherwise its events appear
// in two blobs, and readers remove duplicates by (org, seq, id). Every
// upload carries its Content-MD5, which the service checks before it
// stores the blob.
//
// # Credentials
//
// A shared key (the account's name and key) or a SAS token (account or
// container SAS allowing create and write on blobs), read by
// [ParseCredentials] and kept in the keychain. Azure AD (Entra ID)
// sign-in is not supported: it would bring the azidentity module and its
// MSAL dependencies for a desktop app that already keeps a secret per
// destination.
//
// # Immutability
//
// The client does nothing per blob. A container with a time-based
// retention policy with version-level immutability (blob versioning on)
// keeps every version of every blob for the retention period, the
// checkpoint's former versions included. A container-level policy without
// versioning refuses the checkpoint's rewrite after the first batch
// (409 BlobImmutableDueToPolicy), which stops the destination.
package azure

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/streaming"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/bloberror"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blockblob"

	axsync "github.com/axiomops/axiom-audit/app/sync"
)

// tryTimeout bounds one request: the Syncer retries a timeout with its
// own backoff, and a connection that hangs would otherwise hold the
// destination's loop for good.
const tryTimeout = 2 * time.Minute

// Config is where and how the Client writes.
type Config struct {
	// AccountURL is the account's blob endpoint,
	// https://ACCOUNT.blob.core.windows.net, or an emulator's
	// http://127.0.0.1:10000/devstoreaccount1.
	AccountURL string
	Container  string
	Prefix     string
	// Credentials from the keychain; required.
	Credentials *Credentials
	// Transport sends the requests; nil: the SDK's default.
	Transport policy.Transporter
	// Now is the clock Retry-After dates are read against.
	Now func() time.Time
}

// Credentials are a shared key or a SAS token, kept in the keychain as
// JSON. Exactly one of the two is set.
type Credentials struct {
	AccountName string `json:"accountName,omitempty"`
	AccountKey  string `json:"accountKey,omitempty"`
	// SASToken is the query string of a shared access signature, without
	// its leading "?".
	SASToken string `json:"sasToken,omitempty"`
}

const credentialsForms = `{"accountName":…,"accountKey":…}, NAME:KEY, {"sasToken":"sv=…"} or the SAS token itself`

// ParseCredentials reads a shared key as JSON
// ({"accountName":…,"accountKey":…}) or as "ACCOUNT_NAME:ACCOUNT_KEY", or
// a SAS token as JSON ({"sasToken":"sv=…"}) or as the token itself (the
// query string of a SAS URL, with or without its "?": it must have sv and
// sig). The account name is Azure's: 3 to 24 lowercase letters and digits;
// the key is base64, as the portal shows it. An error never repeats the
// secret.
func ParseCredentials(b []byte) (*Credentials, error) {
	s := strings.TrimSpace(string(b))
	var c Credentials
	switch {
	case strings.HasPrefix(s, "{"):
		if err := json.Unmarshal([]byte(s), &c); err != nil {
			return nil, fmt.Errorf("Azure credentials are not valid JSON (%s): %w", credentialsForms, err)
		}
		c.SASToken = strings.TrimPrefix(c.SASToken, "?")
	case strings.Contains(s, "://"):
		return nil, errors.New("Azure credentials look like a URL: put only the SAS token (what follows the ? of a SAS URL) in the file, and the account URL in --account-url")
	case isSAS(strings.TrimPrefix(s, "?")):
		c.SASToken = strings.TrimPrefix(s, "?")
	default:
		name, key, ok := strings.Cut(s, ":")
		if !ok {
			return nil, errors.New("Azure credentials need a shared key or a SAS token (" + credentialsForms + ")")
		}
		c = Credentials{AccountName: name, AccountKey: key}
	}
	switch {
	case c.SASToken != "" && (c.AccountName != "" || c.AccountKey != ""):
		return nil, errors.New("Azure credentials hold both a SAS token and a shared key: keep one")
	case c.SASToken != "":
		if !isSAS(c.SASToken) {
			return nil, errors.New("the Azure SAS token is not a SAS token: it must be the query string of a SAS URL, with sv= and sig=, without spaces")
		}
	case c.AccountName == "" || c.AccountKey == "":
		return nil, errors.New("Azure credentials need an account name and an account key, or a SAS token (" + credentialsForms + ")")
	case !validAccountName(c.AccountName):
		return nil, errors.New("the Azure account name must be 3 to 24 lowercase letters and digits")
	default:
		if _, err := base64.StdEncoding.DecodeString(c.AccountKey); err != nil {
			return nil, errors.New("the Azure account key is not base64: copy key1 or key2 from the storage account's Access keys")
		}
	}
	return &c, nil
}

// isSAS says whether s reads as a SAS token: a query string, without
// spaces or a fragment, with a service version and a signature (and
// nothing the text form would read as JSON or a URL).
func isSAS(s string) bool {
	if s == "" || strings.ContainsAny(s, " \t\r\n#?") || !strings.Contains(s, "=") || strings.HasPrefix(s, "{") || strings.Contains(s, "://") {
		return false
	}
	q, err := url.ParseQuery(s)
	return err == nil && q.Get("sv") != "" && q.Get("sig") != ""
}

func validAccountName(s string) bool {
	if len(s) < 3 || len(s) > 24 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// SASExpiry is when the SAS token expires (its se), zero for a shared key
// or a token whose expiry cannot be read.
func (c *Credentials) SASExpiry() time.Time {
	if c.SASToken == "" {
		return time.Time{}
	}
	q, err := url.ParseQuery(c.SASToken)
	if err != nil {
		return time.Time{}
	}
	for _, layout := range []string{time.RFC3339, "2006-01-02T15:04Z", time.DateOnly} {
		if t, err := time.Parse(layout, q.Get("se")); err == nil {
			return t
		}
	}
	return time.Time{}
}

// Client writes batches as block blobs.
type Client struct {
	cfg  Config
	base *url.URL // the container's URL
	key  *blob.SharedKeyCredential
	opts *blockblob.ClientOptions
}

// NewClient returns a Client for cfg. It does no I/O: a wrong key or a
// missing container shows in the first Deliver.
func NewClient(cfg Config) (*Client, error) {
	if cfg.Credentials == nil {
		return nil, errors.New("azure needs credentials: a shared key or a SAS token")
	}
	if err := axsync.CheckContainerName(cfg.Container); err != nil {
		return nil, err
	}
	u, err := url.Parse(strings.TrimRight(cfg.AccountURL, "/"))
	if err != nil || u.Host == "" || u.RawQuery != "" || u.User != nil {
		return nil, fmt.Errorf("the azure account URL %q is not a bare URL such as https://ACCOUNT.blob.core.windows.net", axsync.ShownURL(cfg.AccountURL))
	}
	u = u.JoinPath(cfg.Container)
	c := &Client{cfg: cfg, base: u}
	if k := cfg.Credentials; k.SASToken == "" {
		if c.key, err = blob.NewSharedKeyCredential(k.AccountName, k.AccountKey); err != nil {
			return nil, errors.New("the Azure account key is not base64")
		}
	}
	c.opts = &blockblob.ClientOptions{}
	// The Syncer retries with its own backoff and status.
	c.opts.Retry = policy.RetryOptions{MaxRetries: -1, TryTimeout: tryTimeout}
	if cfg.Transport != nil {
		c.opts.Transport = cfg.Transport
	}
	if c.cfg.Now == nil {
		c.cfg.Now = time.Now
	}
	if c.cfg.Prefix != "" && !strings.HasSuffix(c.cfg.Prefix, "/") {
		c.cfg.Prefix += "/"
	}
	c.cfg.Prefix = strings.TrimPrefix(c.cfg.Prefix, "/")
	return c, nil
}

// BlobName returns the name of the blob of org's seqs first–last recorded
// on day.
func (c *Client) BlobName(org string, day time.Time, first, last uint64) string {
	return axsync.ObjectName(c.cfg.Prefix, org, day, first, last)
}

// CheckpointName returns the name of org's checkpoint blob.
func (c *Client) CheckpointName(org string) string {
	return axsync.CheckpointObjectName(c.cfg.Prefix, org)
}

// Deliver writes the events of b recorded on the day of its first event
// as one blob, then the checkpoint blob, and acknowledges that day's last
// seq.
func (c *Client) Deliver(ctx context.Context, b axsync.Batch) (axsync.Ack, error) {
	name, body, last, err := axsync.DayObject(c.cfg.Prefix, b)
	if err != nil {
		return axsync.Ack{}, err
	}
	if err := c.put(ctx, name, body, axsync.ContentTypeJSONLines, "gzip"); err != nil {
		return axsync.Ack{}, err
	}
	if b.Checkpoint != nil {
		if err := c.put(ctx, c.CheckpointName(b.Org), b.Checkpoint.Note, "text/plain; charset=utf-8", ""); err != nil {
			return axsync.Ack{}, err
		}
	}
	return axsync.Ack{Seq: last}, nil
}

// blobURL is the URL of the blob name, each segment escaped.
func (c *Client) blobURL(name string) string {
	return c.base.JoinPath(strings.Split(name, "/")...).String()
}

func (c *Client) put(ctx context.Context, name string, body []byte, contentType, encoding string) error {
	var bb *blockblob.Client
	var err error
	if c.key != nil {
		bb, err = blockblob.NewClientWithSharedKeyCredential(c.blobURL(name), c.key, c.opts)
	} else {
		bb, err = blockblob.NewClientWithNoCredential(c.blobURL(name)+"?"+c.cfg.Credentials.SASToken, c.opts)
	}
	if err != nil {
		return fmt.Errorf("failed to write %s: %w", name, err)
	}
	sum := md5.Sum(body)
	headers := &blob.HTTPHeaders{BlobContentType: &contentType}
	if encoding != "" {
		headers.BlobContentEncoding = &encoding
	}
	_, err = bb.Upload(ctx, streaming.NopCloser(bytes.NewReader(body)), &blockblob.UploadOptions{
		HTTPHeaders:             headers,
		TransactionalValidation: blob.TransferValidationTypeMD5(sum[:]),
	})
	if err != nil {
		return c.classify(name, err)
	}
	return nil
}

// classify turns an SDK error into a *axsync.StatusError when the service
// answered, so that the Syncer retries 5xx/429 and stops on other 4xx. The
// message is the service's error code and what to do about it, never the
// answer's body or the request's URL: a SAS token's signature is a
// credential, and the status and the log keep the message.
func (c *Client) classify(name string, err error) error {
	var re *azcore.ResponseError
	if errors.As(err, &re) && re.StatusCode > 0 {
		se := &axsync.StatusError{Code: re.StatusCode, Message: re.ErrorCode}
		if re.RawResponse != nil {
			se.RetryAfter = axsync.ParseRetryAfter(re.RawResponse.Header.Get("Retry-After"), c.cfg.Now())
		}
		if hint := c.hint(re); hint != "" {
			se.Message = strings.TrimPrefix(se.Message+": "+hint, ": ")
		}
		return fmt.Errorf("failed to write %s: %w", name, se)
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		// A transport error names the URL, SAS token included.
		return fmt.Errorf("failed to write %s: %s %s: %w", name, ue.Op, axsync.ShownURL(ue.URL), ue.Err)
	}
	return fmt.Errorf("failed to write %s: %w", name, err)
}

// hint says what to do about an error the service answered.
func (c *Client) hint(re *azcore.ResponseError) string {
	switch {
	case bloberror.HasCode(re, bloberror.ContainerNotFound):
		return fmt.Sprintf("container %q does not exist in this account: create it (sync does not create containers)", c.cfg.Container)
	case bloberror.HasCode(re, bloberror.AuthenticationFailed):
		return "the account refused the shared key or SAS token (a wrong key or account name, an expired SAS, or a clock off by more than 15 minutes): enable again with another --credentials-file"
	case bloberror.HasCode(re, bloberror.AuthorizationPermissionMismatch, bloberror.AuthorizationResourceTypeMismatch, bloberror.AuthorizationServiceMismatch):
		return "the SAS token may not write blobs here: it needs the blob service, the object resource type (account SAS) and create and write permissions; enable again with another --credentials-file"
	case re.StatusCode == 403:
		// AuthorizationFailure and others: the emulator answers a wrong
		// key so, Azure a firewall rule or a SAS it does not accept.
		return "the account refused the request (a wrong key or account name, a SAS token that may not create and write blobs, or the account's firewall): enable again with another --credentials-file"
	case bloberror.HasCode(re, bloberror.BlobImmutableDueToPolicy):
		return "the container's immutability policy refuses rewriting a blob (the checkpoint is rewritten after every batch): use version-level immutability, with blob versioning on"
	case re.StatusCode == 404:
		return "no such container or account at " + axsync.ShownURL(c.cfg.AccountURL)
	}
	return ""
}
