package s3_test

import (
	"context"
	"io"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	axsync "github.com/axiomops/axiom-audit/app/sync"
	"github.com/axiomops/axiom-audit/app/sync/s3"
	"github.com/axiomops/axiom-audit/app/sync/synctest"
)

// newServer starts an in-process S3 server on loopback with bucket.
func newServer(t *testing.T, bucket string) *httptest.Server {
	t.Helper()
	be := s3mem.New()
	if err := be.CreateBucket(bucket); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(gofakes3.New(be).Server())
	t.Cleanup(srv.Close)
	return srv
}

func newClient(t *testing.T, endpoint, bucket, prefix string) *s3.Client {
	t.Helper()
	c, err := s3.NewClient(context.Background(), s3.Config{
		Bucket: bucket, Prefix: prefix, Endpoint: endpoint, Region: "us-east-1",
		Credentials: &s3.Credentials{AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: "secret"},
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// stored reads back every object of org under prefix.
func stored(t testing.TB, c *s3.Client, bucket, prefix, org string) []axsync.Line {
	t.Helper()
	ctx := context.Background()
	var out []axsync.Line
	p := awss3.NewListObjectsV2Paginator(c.API(), &awss3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(prefix + "org=" + org + "/")})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range page.Contents {
			if !strings.HasSuffix(*o.Key, ".jsonl.gz") {
				continue
			}
			obj, err := c.API().GetObject(ctx, &awss3.GetObjectInput{Bucket: aws.String(bucket), Key: o.Key})
			if err != nil {
				t.Fatal(err)
			}
			raw, _ := io.ReadAll(obj.Body)
			obj.Body.Close()
			lines, err := axsync.ReadJSONLines(strings.NewReader(string(raw)))
			if err != nil {
				t.Fatalf("%s: %v", *o.Key, err)
			}
			out = append(out, lines...)
		}
	}
	return out
}

func TestClient_Conformance(t *testing.T) {
	synctest.Run(t, func(t *testing.T) synctest.Harness {
		srv := newServer(t, "audit")
		c := newClient(t, srv.URL, "audit", "axiom/")
		return synctest.Harness{
			Destination: c,
			Stored:      func(t testing.TB, org string) []axsync.Line { return stored(t, c, "audit", "axiom/", org) },
		}
	})
}

func TestClient_Layout(t *testing.T) {
	srv := newServer(t, "audit")
	c := newClient(t, srv.URL, "audit", "p")
	st := synctest.NewStore(t)
	synctest.Append(t, st, "acme", 3)
	evs := synctest.Read(t, st, "acme", 0, 3)
	cp := &axsync.Checkpoint{Size: 3, Note: []byte("axiom-audit/x/acme\n3\nAAAA\n\n— sig\n")}
	if _, err := c.Deliver(context.Background(), axsync.Batch{Org: "acme", Events: evs, Checkpoint: cp}); err != nil {
		t.Fatal(err)
	}
	day := evs[0].RecordedAt.UTC().Format("2006-01-02")
	want := "p/org=acme/date=" + day + "/00000000000000000001-00000000000000000003.jsonl.gz"
	if _, err := c.API().HeadObject(context.Background(), &awss3.HeadObjectInput{Bucket: aws.String("audit"), Key: aws.String(want)}); err != nil {
		t.Fatalf("object %s: %v", want, err)
	}
	obj, err := c.API().GetObject(context.Background(), &awss3.GetObjectInput{Bucket: aws.String("audit"), Key: aws.String("p/org=acme/checkpoint")})
	if err != nil {
		t.Fatal(err)
	}
	note, _ := io.ReadAll(obj.Body)
	if string(note) != string(cp.Note) {
		t.Fatalf("checkpoint object %q", note)
	}
}

func TestClient_MissingBucketStops(t *testing.T) {
	srv := newServer(t, "audit")
	c := newClient(t, srv.URL, "nope", "")
	st := synctest.NewStore(t)
	synctest.Append(t, st, "acme", 1)
	_, err := c.Deliver(context.Background(), axsync.Batch{Org: "acme", Events: synctest.Read(t, st, "acme", 0, 1)})
	if err == nil || !strings.Contains(err.Error(), "404") {
		t.Fatalf("err = %v, want a 404", err)
	}
}
