package azure_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	gosync "sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/sas"

	axsync "github.com/axiomops/axiom-audit/app/sync"
	"github.com/axiomops/axiom-audit/app/sync/azure"
	"github.com/axiomops/axiom-audit/app/sync/synctest"
)

var containers struct {
	mu gosync.Mutex
	n  int
}

// newContainer creates a container of its own for the test on Azurite
// and returns a client of it with the development account's key.
func newContainer(t testing.TB) *container.Client {
	t.Helper()
	base := accountURL(t)
	containers.mu.Lock()
	containers.n++
	name := fmt.Sprintf("audit-%d-%d", time.Now().UnixNano()%1e9, containers.n)
	containers.mu.Unlock()
	cred, err := container.NewSharedKeyCredential(devAccount, devKey)
	if err != nil {
		t.Fatal(err)
	}
	// Without compression, so that what is read back is what was stored:
	// Go's transport would ask for gzip and decode a gzip blob on its own.
	opts := &container.ClientOptions{}
	opts.Transport = &http.Client{Transport: &http.Transport{DisableCompression: true}}
	cc, err := container.NewClientWithSharedKeyCredential(base+"/"+name, cred, opts)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cc.Create(context.Background(), nil); err != nil {
		t.Fatalf("create container %s: %v", name, err)
	}
	return cc
}

func containerName(cc *container.Client) string {
	u, _ := url.Parse(cc.URL())
	return u.Path[strings.LastIndex(u.Path, "/")+1:]
}

func sharedKey() *azure.Credentials {
	return &azure.Credentials{AccountName: devAccount, AccountKey: devKey}
}

func newClient(t testing.TB, cc *container.Client, prefix string, creds *azure.Credentials) *azure.Client {
	t.Helper()
	c, err := azure.NewClient(azure.Config{AccountURL: accountURL(t), Container: containerName(cc), Prefix: prefix, Credentials: creds})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// names lists the container's blob names under prefix, in the service's
// (lexical) order.
func names(t testing.TB, cc *container.Client, prefix string) []string {
	t.Helper()
	var out []string
	p := cc.NewListBlobsFlatPager(&container.ListBlobsFlatOptions{Prefix: &prefix})
	for p.More() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range page.Segment.BlobItems {
			out = append(out, *b.Name)
		}
	}
	return out
}

// download returns a blob's bytes as stored (not decoded) and its
// properties.
func download(t testing.TB, cc *container.Client, name string) ([]byte, blob.DownloadStreamResponse) {
	t.Helper()
	resp, err := cc.NewBlobClient(name).DownloadStream(context.Background(), nil)
	if err != nil {
		t.Fatalf("download %s: %v", name, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b, resp
}

// stored reads back every batch blob of org under prefix.
func stored(t testing.TB, cc *container.Client, prefix, org string) []axsync.Line {
	t.Helper()
	var out []axsync.Line
	for _, name := range names(t, cc, prefix+"org="+org+"/") {
		if !strings.HasSuffix(name, ".jsonl.gz") {
			continue
		}
		raw, _ := download(t, cc, name)
		lines, err := axsync.ReadJSONLines(bytes.NewReader(raw))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		out = append(out, lines...)
	}
	return out
}

func TestClient_Conformance(t *testing.T) {
	synctest.Run(t, func(t *testing.T) synctest.Harness {
		cc := newContainer(t)
		c := newClient(t, cc, "axiom/", sharedKey())
		return synctest.Harness{
			Destination: c,
			Stored:      func(t testing.TB, org string) []axsync.Line { return stored(t, cc, "axiom/", org) },
		}
	})
}

// The batches and the checkpoint are where the README says, with the
// content type and encoding of gzip JSON Lines, and read back as the
// events delivered.
func TestClient_Layout(t *testing.T) {
	cc := newContainer(t)
	c := newClient(t, cc, "p", sharedKey())
	st := synctest.NewStore(t)
	synctest.Append(t, st, "acme", 5)
	ctx := context.Background()
	evs := synctest.Read(t, st, "acme", 0, 5)
	cp := &axsync.Checkpoint{Size: 3, Note: []byte("axiom-audit/x/acme\n3\nAAAA\n\n— sig\n")}
	if ack, err := c.Deliver(ctx, axsync.Batch{Org: "acme", Events: evs[:3], Checkpoint: cp}); err != nil || ack.Seq != 3 {
		t.Fatalf("Deliver: ack %d, %v", ack.Seq, err)
	}
	cp2 := &axsync.Checkpoint{Size: 5, Note: []byte("axiom-audit/x/acme\n5\nBBBB\n\n— sig\n")}
	if ack, err := c.Deliver(ctx, axsync.Batch{Org: "acme", Events: evs[3:], Checkpoint: cp2}); err != nil || ack.Seq != 5 {
		t.Fatalf("Deliver: ack %d, %v", ack.Seq, err)
	}
	day := evs[0].RecordedAt.UTC().Format("2006-01-02")
	want := []string{
		"p/org=acme/checkpoint",
		"p/org=acme/date=" + day + "/00000000000000000001-00000000000000000003.jsonl.gz",
		"p/org=acme/date=" + day + "/00000000000000000004-00000000000000000005.jsonl.gz",
	}
	if got := names(t, cc, ""); !slices.Equal(got, want) {
		t.Fatalf("blobs %q, want %q", got, want)
	}
	if c.BlobName("acme", evs[0].RecordedAt, 1, 3) != want[1] || c.CheckpointName("acme") != want[0] {
		t.Errorf("BlobName/CheckpointName disagree with the blobs written")
	}
	raw, props := download(t, cc, want[1])
	if ct, ce := deref(props.ContentType), deref(props.ContentEncoding); ct != "application/x-ndjson" || ce != "gzip" {
		t.Errorf("batch blob: Content-Type %q, Content-Encoding %q", ct, ce)
	}
	if len(props.ContentMD5) == 0 {
		t.Errorf("batch blob stored without Content-MD5")
	}
	if !bytes.HasPrefix(raw, []byte{0x1f, 0x8b}) {
		t.Errorf("batch blob is not gzip: % x", raw[:min(len(raw), 8)])
	}
	lines, err := axsync.ReadJSONLines(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	if len(lines) != 3 || lines[0].Seq != 1 || lines[2].Seq != 3 || !bytes.Equal(lines[1].Record, evs[1].Public) {
		t.Fatalf("batch blob holds %+v", lines)
	}
	note, props := download(t, cc, want[0])
	if string(note) != string(cp2.Note) {
		t.Fatalf("checkpoint blob %q, want the newest checkpoint", note)
	}
	if ct := deref(props.ContentType); ct != "text/plain; charset=utf-8" {
		t.Errorf("checkpoint Content-Type %q", ct)
	}
	synctest.CheckComplete(t, st, "acme", stored(t, cc, "p/", "acme"), 5)
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// A batch delivered again after a crash (before the cursor was saved)
// writes the blob of the same name again: no second copy.
func TestClient_RedeliveryAfterCrash(t *testing.T) {
	cc := newContainer(t)
	st := synctest.NewStore(t)
	synctest.Append(t, st, "acme", 10)
	evs := synctest.Read(t, st, "acme", 0, 10)
	ctx := context.Background()
	c := newClient(t, cc, "", sharedKey())
	if _, err := c.Deliver(ctx, axsync.Batch{Org: "acme", Events: evs}); err != nil {
		t.Fatal(err)
	}
	before := names(t, cc, "")
	first, _ := download(t, cc, before[0])
	// The process restarts: a new client, the same batch.
	c = newClient(t, cc, "", sharedKey())
	if ack, err := c.Deliver(ctx, axsync.Batch{Org: "acme", Events: evs}); err != nil || ack.Seq != 10 {
		t.Fatalf("redelivery: ack %d, %v", ack.Seq, err)
	}
	after := names(t, cc, "")
	if len(before) != 1 || !slices.Equal(before, after) {
		t.Fatalf("blobs before %q, after the redelivery %q: want one, the same", before, after)
	}
	second, _ := download(t, cc, after[0])
	if !bytes.Equal(first, second) {
		t.Errorf("the blob written again differs from the first")
	}
	synctest.CheckComplete(t, st, "acme", stored(t, cc, "", "acme"), 10)
}

// A batch whose events were recorded on two UTC days is written as the
// first day's blob, acknowledged up to that day's last event; the rest
// goes in the next day's blob.
func TestClient_BatchNeverSpansTwoDays(t *testing.T) {
	cc := newContainer(t)
	c := newClient(t, cc, "", sharedKey())
	st := synctest.NewStore(t)
	synctest.Append(t, st, "acme", 6)
	evs := synctest.Read(t, st, "acme", 0, 6)
	day1 := time.Date(2026, 11, 29, 23, 59, 59, 0, time.UTC)
	for i := range evs {
		evs[i].RecordedAt = day1
		if i >= 4 {
			evs[i].RecordedAt = day1.Add(2 * time.Second)
		}
	}
	ctx := context.Background()
	ack, err := c.Deliver(ctx, axsync.Batch{Org: "acme", Events: evs})
	if err != nil || ack.Seq != 4 {
		t.Fatalf("Deliver across midnight: ack %d, %v; want 4 (the first day's last)", ack.Seq, err)
	}
	if ack, err := c.Deliver(ctx, axsync.Batch{Org: "acme", Events: evs[4:]}); err != nil || ack.Seq != 6 {
		t.Fatalf("Deliver of the next day: ack %d, %v", ack.Seq, err)
	}
	want := []string{
		"org=acme/date=2026-11-29/00000000000000000001-00000000000000000004.jsonl.gz",
		"org=acme/date=2026-11-30/00000000000000000005-00000000000000000006.jsonl.gz",
	}
	if got := names(t, cc, ""); !slices.Equal(got, want) {
		t.Fatalf("blobs %q, want %q", got, want)
	}
}

// accountSAS signs an account SAS for blobs with the development key.
func accountSAS(t testing.TB, perms sas.AccountPermissions, expiry time.Time) string {
	t.Helper()
	cred, err := container.NewSharedKeyCredential(devAccount, devKey)
	if err != nil {
		t.Fatal(err)
	}
	q, err := sas.AccountSignatureValues{
		Protocol:      sas.ProtocolHTTPSandHTTP,
		ExpiryTime:    expiry,
		Permissions:   perms.String(),
		ResourceTypes: (&sas.AccountResourceTypes{Object: true}).String(),
	}.SignWithSharedKey(cred)
	if err != nil {
		t.Fatal(err)
	}
	return q.Encode()
}

// A SAS token, in any form ParseCredentials takes, authenticates the
// uploads; the error of one that may not write is a rejection.
func TestClient_SAS(t *testing.T) {
	ctx := context.Background()
	token := accountSAS(t, sas.AccountPermissions{Create: true, Write: true}, time.Now().Add(time.Hour))
	for _, form := range []string{"?" + token, token, `{"sasToken":"?` + token + `"}`} {
		cc := newContainer(t)
		creds, err := azure.ParseCredentials([]byte(form + "\n"))
		if err != nil {
			t.Fatalf("ParseCredentials: %v", err)
		}
		if exp := creds.SASExpiry(); exp.IsZero() || time.Until(exp) > time.Hour+time.Minute {
			t.Errorf("SASExpiry = %v", exp)
		}
		c := newClient(t, cc, "sas/", creds)
		st := synctest.NewStore(t)
		synctest.Append(t, st, "acme", 4)
		if ack, err := c.Deliver(ctx, axsync.Batch{Org: "acme", Events: synctest.Read(t, st, "acme", 0, 4), Checkpoint: &axsync.Checkpoint{Size: 4, Note: []byte("n\n")}}); err != nil || ack.Seq != 4 {
			t.Fatalf("Deliver with a SAS: ack %d, %v", ack.Seq, err)
		}
		synctest.CheckComplete(t, st, "acme", stored(t, cc, "sas/", "acme"), 4)
	}

	cc := newContainer(t)
	readOnly := accountSAS(t, sas.AccountPermissions{Read: true, List: true}, time.Now().Add(time.Hour))
	c := newClient(t, cc, "", &azure.Credentials{SASToken: readOnly})
	st := synctest.NewStore(t)
	synctest.Append(t, st, "acme", 1)
	_, err := c.Deliver(ctx, axsync.Batch{Org: "acme", Events: synctest.Read(t, st, "acme", 0, 1)})
	checkRejected(t, err, 403)
	if strings.Contains(err.Error(), "sig=") || strings.Contains(err.Error(), readOnly) {
		t.Errorf("the error repeats the SAS token: %v", err)
	}
}

// checkRejected fails t unless err is the service's answer code, which
// stops the destination.
func checkRejected(t testing.TB, err error, code int) *axsync.StatusError {
	t.Helper()
	var se *axsync.StatusError
	if !errors.As(err, &se) || se.Code != code {
		t.Fatalf("err = %v, want an HTTP %d StatusError", err, code)
	}
	if !se.Permanent() || !errors.Is(err, axsync.ErrRejected) {
		t.Fatalf("%v: not a rejection, the Syncer would retry it forever", err)
	}
	return se
}

// A wrong key is refused with 403, which stops the destination (retrying
// cannot help) and says what to do.
func TestClient_WrongKeyStops(t *testing.T) {
	cc := newContainer(t)
	wrong := strings.Repeat("A", 86) + "=="
	c := newClient(t, cc, "", &azure.Credentials{AccountName: devAccount, AccountKey: wrong})
	st := synctest.NewStore(t)
	synctest.Append(t, st, "acme", 1)
	_, err := c.Deliver(context.Background(), axsync.Batch{Org: "acme", Events: synctest.Read(t, st, "acme", 0, 1)})
	se := checkRejected(t, err, 403)
	// Azure answers AuthenticationFailed, Azurite AuthorizationFailure.
	if !strings.Contains(se.Message, "Failed") && !strings.Contains(se.Message, "Failure") || !strings.Contains(se.Message, "--credentials-file") {
		t.Errorf("message %q: want the service's code and what to do", se.Message)
	}
	if got := names(t, cc, ""); len(got) != 0 {
		t.Errorf("blobs written with a wrong key: %q", got)
	}
}

// A container that does not exist is a 404 that stops the destination and
// names the container.
func TestClient_MissingContainerStops(t *testing.T) {
	base := accountURL(t)
	c, err := azure.NewClient(azure.Config{AccountURL: base, Container: "no-such-container", Credentials: sharedKey()})
	if err != nil {
		t.Fatal(err)
	}
	st := synctest.NewStore(t)
	synctest.Append(t, st, "acme", 1)
	_, err = c.Deliver(context.Background(), axsync.Batch{Org: "acme", Events: synctest.Read(t, st, "acme", 0, 1)})
	se := checkRejected(t, err, 404)
	if !strings.Contains(se.Message, "ContainerNotFound") || !strings.Contains(se.Message, `container "no-such-container" does not exist`) {
		t.Errorf("message %q: want the container named and what to do", se.Message)
	}
}

// A server that does not answer is a transport error, which the Syncer
// retries, and which does not repeat the SAS token of the request's URL.
func TestClient_ServerDownRetries(t *testing.T) {
	token := accountSAS(t, sas.AccountPermissions{Create: true, Write: true}, time.Now().Add(time.Hour))
	for _, creds := range []*azure.Credentials{sharedKey(), {SASToken: token}} {
		c, err := azure.NewClient(azure.Config{AccountURL: closedPort(t), Container: "audit", Credentials: creds})
		if err != nil {
			t.Fatal(err)
		}
		st := synctest.NewStore(t)
		synctest.Append(t, st, "acme", 1)
		_, err = c.Deliver(context.Background(), axsync.Batch{Org: "acme", Events: synctest.Read(t, st, "acme", 0, 1)})
		if err == nil {
			t.Fatal("Deliver to a closed port succeeded")
		}
		var se *axsync.StatusError
		if errors.As(err, &se) || errors.Is(err, axsync.ErrRejected) {
			t.Fatalf("%v: a rejection, want a retryable error", err)
		}
		if strings.Contains(err.Error(), "sig=") || strings.Contains(err.Error(), "sv=") {
			t.Errorf("the error repeats the SAS token: %v", err)
		}
		if !strings.Contains(err.Error(), "connection refused") {
			t.Errorf("err = %v, want the cause", err)
		}
	}
}

// The Syncer, with the Azure client as its destination, stops on the
// service's rejection and records why; it retries a server that is down.
func TestClient_SyncerStatus(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		name      string
		dest      func(t *testing.T) axsync.Destination
		wantState string
	}{
		{"wrong key", func(t *testing.T) axsync.Destination {
			return newClient(t, newContainer(t), "", &azure.Credentials{AccountName: devAccount, AccountKey: "AAAA"})
		}, axsync.StateStopped},
		{"server down", func(t *testing.T) axsync.Destination {
			d, err := azure.NewClient(azure.Config{AccountURL: closedPort(t), Container: "audit", Credentials: sharedKey()})
			if err != nil {
				t.Fatal(err)
			}
			return d
		}, axsync.StateRetrying},
	} {
		t.Run(c.name, func(t *testing.T) {
			d := c.dest(t)
			st := synctest.NewStore(t)
			synctest.Append(t, st, "acme", 3)
			s := axsync.New(axsync.Options{
				Store: st, Keystore: nil,
				Open: func(context.Context, axsync.Config, []byte) (axsync.Destination, error) { return d, nil },
			})
			defer s.Close()
			cfg := axsync.Config{Org: "acme", Kind: axsync.KindAzure, AccountURL: "http://127.0.0.1:1/" + devAccount, Container: "audit"}
			if err := s.Enable(ctx, cfg, nil); err != nil {
				t.Fatal(err)
			}
			sts, err := s.RunNow(ctx, "acme")
			if err == nil {
				t.Fatal("RunNow succeeded")
			}
			if len(sts) != 1 || sts[0].State != c.wantState || sts[0].DeliveredSeq != 0 || sts[0].LagEvents != 3 {
				t.Fatalf("status %+v, want %s with nothing delivered", sts, c.wantState)
			}
		})
	}
}

func TestNewClient_Refuses(t *testing.T) {
	for _, c := range []struct {
		cfg  azure.Config
		want string
	}{
		{azure.Config{AccountURL: "https://a.blob.core.windows.net", Container: "audit"}, "needs credentials"},
		{azure.Config{AccountURL: "https://a.blob.core.windows.net", Container: "Audit", Credentials: sharedKey()}, "lowercase"},
		{azure.Config{AccountURL: "https://a.blob.core.windows.net/?sv=1&sig=SECRET", Container: "audit", Credentials: sharedKey()}, "not a bare URL"},
		{azure.Config{AccountURL: "a.blob.core.windows.net", Container: "audit", Credentials: sharedKey()}, "not a bare URL"},
	} {
		_, err := azure.NewClient(c.cfg)
		if err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "SECRET") {
			t.Errorf("%+v: %v, want an error with %q", c.cfg, err, c.want)
		}
	}
}

func TestParseCredentials(t *testing.T) {
	for _, c := range []struct {
		in   string
		want azure.Credentials // zero: refused
	}{
		{`{"accountName":"acct1","accountKey":"a2V5"}`, azure.Credentials{AccountName: "acct1", AccountKey: "a2V5"}},
		{"acct1:a2V5\n", azure.Credentials{AccountName: "acct1", AccountKey: "a2V5"}},
		{devAccount + ":" + devKey, azure.Credentials{AccountName: devAccount, AccountKey: devKey}},
		{`{"sasToken":"sv=2024-11-04&sig=abc%3D"}`, azure.Credentials{SASToken: "sv=2024-11-04&sig=abc%3D"}},
		{`{"sasToken":"?sv=2024-11-04&sig=abc"}`, azure.Credentials{SASToken: "sv=2024-11-04&sig=abc"}},
		{"?sv=2024-11-04&ss=b&srt=o&sp=cw&se=2027-01-01T00:00:00Z&sig=abc%3D\n", azure.Credentials{SASToken: "sv=2024-11-04&ss=b&srt=o&sp=cw&se=2027-01-01T00:00:00Z&sig=abc%3D"}},
		{"sv=2024-11-04&sig=abc", azure.Credentials{SASToken: "sv=2024-11-04&sig=abc"}},
		// The portal's container SAS starts with sp=.
		{"sp=cw&st=2026-11-01T00:00:00Z&se=2027-11-01T00:00:00Z&spr=https&sv=2024-11-04&sr=c&sig=abc", azure.Credentials{SASToken: "sp=cw&st=2026-11-01T00:00:00Z&se=2027-11-01T00:00:00Z&spr=https&sv=2024-11-04&sr=c&sig=abc"}},
		{"acct1", azure.Credentials{}},
		{"acct1:", azure.Credentials{}},
		{":a2V5", azure.Credentials{}},
		{"Acct1:a2V5", azure.Credentials{}},
		{"acct1:not base64!", azure.Credentials{}},
		{`{"accountName":"acct1"}`, azure.Credentials{}},
		{`{"accountName":"acct1","accountKey":"a2V5","sasToken":"sv=1&sig=2"}`, azure.Credentials{}},
		{`{"sasToken":"sp=r"}`, azure.Credentials{}},
		{"sv=2024-11-04", azure.Credentials{}},
		{"sv=2024-11-04&sig=a b", azure.Credentials{}},
		{"https://acct1.blob.core.windows.net/audit?sv=2024-11-04&sig=abc", azure.Credentials{}},
		{"", azure.Credentials{}},
	} {
		got, err := azure.ParseCredentials([]byte(c.in))
		switch {
		case c.want == (azure.Credentials{}) && err == nil:
			t.Errorf("%q: accepted as %+v", c.in, got)
		case c.want != (azure.Credentials{}) && (err != nil || *got != c.want):
			t.Errorf("%q: %+v, %v; want %+v", c.in, got, err, c.want)
		}
	}
}
