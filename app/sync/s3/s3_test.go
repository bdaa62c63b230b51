package s3_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	gosync "sync"
	"testing"
	"time"

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

func TestClient_ObjectLockRetention(t *testing.T) {
	be := s3mem.New()
	if err := be.CreateBucket("worm"); err != nil {
		t.Fatal(err)
	}
	fake := gofakes3.New(be).Server()
	var mu gosync.Mutex
	var modes, until []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut {
			mu.Lock()
			modes = append(modes, r.Header.Get("X-Amz-Object-Lock-Mode"))
			until = append(until, r.Header.Get("X-Amz-Object-Lock-Retain-Until-Date"))
			mu.Unlock()
		}
		fake.ServeHTTP(w, r)
	}))
	defer srv.Close()
	now := time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)
	c, err := s3.NewClient(context.Background(), s3.Config{
		Bucket: "worm", Endpoint: srv.URL, Region: "us-east-1", ObjectLockMode: "COMPLIANCE", ObjectLockDays: 30,
		Credentials: &s3.Credentials{AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: "secret"},
		Now:         func() time.Time { return now },
	})
	if err != nil {
		t.Fatal(err)
	}
	st := synctest.NewStore(t)
	synctest.Append(t, st, "acme", 2)
	cp := &axsync.Checkpoint{Size: 2, Note: []byte("note\n")}
	if _, err := c.Deliver(context.Background(), axsync.Batch{Org: "acme", Events: synctest.Read(t, st, "acme", 0, 2), Checkpoint: cp}); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(modes) != 2 {
		t.Fatalf("%d PUTs, want the batch and the checkpoint", len(modes))
	}
	for i := range modes {
		if modes[i] != "COMPLIANCE" || !strings.HasPrefix(until[i], "2026-12-27T00:00:00") {
			t.Errorf("PUT %d: mode %q until %q", i, modes[i], until[i])
		}
	}
}

func TestParseCredentials(t *testing.T) {
	for in, ok := range map[string]bool{
		`{"accessKeyId":"AKID","secretAccessKey":"s"}`: true,
		"AKID:secret\n":          true,
		"AKID":                   false,
		`{"accessKeyId":"AKID"}`: false,
		"":                       false,
	} {
		c, err := s3.ParseCredentials([]byte(in))
		if (err == nil) != ok || ok && (c.AccessKeyID != "AKID") {
			t.Errorf("%q: %+v, %v", in, c, err)
		}
	}
}
