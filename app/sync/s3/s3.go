// Package s3 delivers an organization's events to S3-compatible object
// storage (AWS S3, MinIO, Cloudflare R2, GCS interoperability) with the AWS
// SDK for Go v2.
//
// # Layout
//
//	<prefix>org=<id>/date=YYYY-MM-DD/<firstSeq>-<lastSeq>.jsonl.gz   a batch, gzip JSON Lines
//	<prefix>org=<id>/checkpoint                                       the newest signed checkpoint note
//
// Seqs are zero-padded to 20 digits so that a listing is in seq order;
// the date is the UTC day the events were recorded, and a batch never
// spans two days (the client acknowledges up to the day's last event and
// the rest goes in the next object). A batch written again after a crash
// has the same key when its bounds are the same; otherwise its events
// appear in two objects, and readers remove duplicates by (org, seq, id).
//
// With Object Lock (WORM), every object is written with the configured
// retention mode and a retain-until date of now + the configured days.
package s3

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go/logging"

	axsync "github.com/axiomops/axiom-audit/app/sync"
)

// Config is where and how the Client writes.
type Config struct {
	Bucket   string
	Prefix   string
	Endpoint string // empty: AWS
	Region   string // empty: from the standard chain, else us-east-1
	// ObjectLockMode is GOVERNANCE or COMPLIANCE; empty: no retention.
	ObjectLockMode string
	ObjectLockDays int
	// Credentials from the keychain; nil: the standard AWS chain
	// (environment, shared config, SSO, instance role).
	Credentials *Credentials
	// Now is the clock of retention dates.
	Now func() time.Time
}

// Credentials are static S3 keys, kept in the keychain as JSON.
type Credentials struct {
	AccessKeyID     string `json:"accessKeyId"`
	SecretAccessKey string `json:"secretAccessKey"`
	SessionToken    string `json:"sessionToken,omitempty"`
}

// ParseCredentials reads keys as JSON ({"accessKeyId":…,"secretAccessKey":…})
// or as "ACCESS_KEY_ID:SECRET_ACCESS_KEY".
func ParseCredentials(b []byte) (*Credentials, error) {
	s := strings.TrimSpace(string(b))
	var c Credentials
	if strings.HasPrefix(s, "{") {
		if err := json.Unmarshal([]byte(s), &c); err != nil {
			return nil, fmt.Errorf("S3 credentials are not valid JSON: %w", err)
		}
	} else if id, secret, ok := strings.Cut(s, ":"); ok {
		c = Credentials{AccessKeyID: id, SecretAccessKey: secret}
	}
	if c.AccessKeyID == "" || c.SecretAccessKey == "" {
		return nil, errors.New(`S3 credentials need an access key id and a secret access key ({"accessKeyId":…,"secretAccessKey":…} or ID:SECRET)`)
	}
	return &c, nil
}

// Client writes batches as objects.
type Client struct {
	cfg Config
	api *s3.Client
}

// NewClient returns a Client for cfg, loading the standard AWS
// configuration for what cfg leaves unset.
func NewClient(ctx context.Context, cfg Config) (*Client, error) {
	var opts []func(*config.LoadOptions) error
	if cfg.Region != "" {
		opts = append(opts, config.WithRegion(cfg.Region))
	}
	if c := cfg.Credentials; c != nil {
		opts = append(opts, config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(c.AccessKeyID, c.SecretAccessKey, c.SessionToken)))
	}
	// The Syncer retries with its own backoff and status.
	opts = append(opts, config.WithRetryMaxAttempts(1))
	// The SDK's own log lines ("falling back to IMDSv1" on a laptop with no
	// instance metadata) went to standard error beside the command's
	// output; what fails reaches the status as the request's error.
	opts = append(opts, config.WithLogger(logging.Nop{}))
	awsCfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("failed to load the AWS configuration: %w", err)
	}
	if awsCfg.Region == "" {
		awsCfg.Region = "us-east-1"
	}
	api := s3.NewFromConfig(awsCfg, func(o *s3.Options) {
		if cfg.Endpoint != "" {
			o.BaseEndpoint = aws.String(cfg.Endpoint)
			o.UsePathStyle = true // MinIO and most S3-compatible servers
		}
		// Checksums only when the operation requires them: several
		// S3-compatible servers reject the newer default trailers.
		o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
		o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
	})
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Prefix != "" && !strings.HasSuffix(cfg.Prefix, "/") {
		cfg.Prefix += "/"
	}
	cfg.Prefix = strings.TrimPrefix(cfg.Prefix, "/")
	return &Client{cfg: cfg, api: api}, nil
}

// API returns the underlying SDK client (for tests and listing).
func (c *Client) API() *s3.Client { return c.api }

// ObjectKey returns the key of the object of org's seqs first–last
// recorded on day.
func (c *Client) ObjectKey(org string, day time.Time, first, last uint64) string {
	return axsync.ObjectName(c.cfg.Prefix, org, day, first, last)
}

// CheckpointKey returns the key of org's checkpoint object.
func (c *Client) CheckpointKey(org string) string {
	return axsync.CheckpointObjectName(c.cfg.Prefix, org)
}

// Deliver writes the events of b recorded on the day of its first event
// as one object, then the checkpoint object, and acknowledges that day's
// last seq.
func (c *Client) Deliver(ctx context.Context, b axsync.Batch) (axsync.Ack, error) {
	key, body, last, err := axsync.DayObject(c.cfg.Prefix, b)
	if err != nil {
		return axsync.Ack{}, err
	}
	if err := c.put(ctx, key, body, axsync.ContentTypeJSONLines, "gzip"); err != nil {
		return axsync.Ack{}, err
	}
	if b.Checkpoint != nil {
		if err := c.put(ctx, c.CheckpointKey(b.Org), b.Checkpoint.Note, "text/plain; charset=utf-8", ""); err != nil {
			return axsync.Ack{}, err
		}
	}
	return axsync.Ack{Seq: last}, nil
}

func (c *Client) put(ctx context.Context, key string, body []byte, contentType, encoding string) error {
	in := &s3.PutObjectInput{
		Bucket:        aws.String(c.cfg.Bucket),
		Key:           aws.String(key),
		Body:          bytes.NewReader(body),
		ContentLength: aws.Int64(int64(len(body))),
		ContentType:   aws.String(contentType),
	}
	if encoding != "" {
		in.ContentEncoding = aws.String(encoding)
	}
	if c.cfg.ObjectLockMode != "" {
		in.ObjectLockMode = types.ObjectLockMode(c.cfg.ObjectLockMode)
		in.ObjectLockRetainUntilDate = aws.Time(c.cfg.Now().UTC().AddDate(0, 0, c.cfg.ObjectLockDays))
	}
	if _, err := c.api.PutObject(ctx, in); err != nil {
		return classify(key, err)
	}
	return nil
}

// classify turns an SDK error into a *axsync.StatusError when S3 answered,
// so that the Syncer retries 5xx/429 and stops on other 4xx.
func classify(key string, err error) error {
	var re *awshttp.ResponseError
	if errors.As(err, &re) && re.HTTPStatusCode() > 0 {
		return fmt.Errorf("failed to write %s: %w", key, &axsync.StatusError{Code: re.HTTPStatusCode(), Message: re.Err.Error()})
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return fmt.Errorf("failed to write %s: %w", key, err)
	}
	return fmt.Errorf("failed to write %s: %w", key, err)
}
