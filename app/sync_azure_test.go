package app

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	axsync "github.com/axiomops/axiom-audit/app/sync"
	"github.com/axiomops/axiom-audit/app/sync/azure"
)

// Azurite's published development key: not a secret, but a shape the
// parser accepts.
const testAzureKey = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="

// sync enable --to azure refuses, before anything is recorded, what could
// never deliver, naming the flag and the reason, and never repeating the
// credentials.
func TestCLI_SyncAzureFlags(t *testing.T) {
	a, st, ks := syncTestApp(t)
	appendN(t, a, "acme", 2)
	key := writeFile(t, "key", "devstoreaccount1:"+testAzureKey+"\n")
	url := "https://acct1.blob.core.windows.net"
	for _, c := range []struct {
		name string
		args []string
		flag string // the flag the error names
		want string // part of the reason
	}{
		{"no account URL", []string{"--container", "audit", "--credentials-file", key}, "--account-url", "is required for azure"},
		{"no container", []string{"--account-url", url, "--credentials-file", key}, "--container", "is required for azure"},
		{"no credentials", []string{"--account-url", url, "--container", "audit"}, "--credentials-file", "Azure AD sign-in is not supported"},
		{"a bucket", []string{"--account-url", url, "--container", "audit", "--credentials-file", key, "--bucket", "b"}, "--bucket", "does not apply to --to azure"},
		{"an endpoint", []string{"--account-url", url, "--container", "audit", "--credentials-file", key, "--endpoint", url}, "--endpoint", "does not apply to --to azure"},
		{"object lock", []string{"--account-url", url, "--container", "audit", "--credentials-file", key, "--object-lock-mode", "COMPLIANCE"}, "--object-lock-mode", "does not apply"},
		{"a URL", []string{"--account-url", url, "--container", "audit", "--credentials-file", key, "--url", url}, "--url", "does not apply"},
		{"plain http", []string{"--account-url", "http://acct1.blob.core.windows.net", "--container", "audit", "--credentials-file", key}, "--account-url", "is plain http: use https"},
		{"not a URL", []string{"--account-url", "acct1.blob.core.windows.net", "--container", "audit", "--credentials-file", key}, "--account-url", "is not an absolute URL"},
		{"a SAS in the URL", []string{"--account-url", url + "/?sv=2024-11-04&sig=SECRETSIG", "--container", "audit", "--credentials-file", key}, "--account-url", "in the credentials file"},
		{"a container name", []string{"--account-url", url, "--container", "Audit_Logs", "--credentials-file", key}, "--container", "lowercase letters"},
		{"a missing file", []string{"--account-url", url, "--container", "audit", "--credentials-file", "/nonexistent/key"}, "--credentials-file", "no such file"},
		{"an empty file", []string{"--account-url", url, "--container", "audit", "--credentials-file", writeFile(t, "empty", "\n")}, "--credentials-file", "the file is empty"},
		{"a key not base64", []string{"--account-url", url, "--container", "audit", "--credentials-file", writeFile(t, "bad", "acct1:SECRETKEY!")}, "--credentials-file", "not base64"},
		{"S3 keys", []string{"--account-url", url, "--container", "audit", "--credentials-file", writeFile(t, "s3", `{"accessKeyId":"AKID","secretAccessKey":"SECRETKEY"}`)}, "--credentials-file", "need an account name and an account key, or a SAS token"},
		{"a SAS URL", []string{"--account-url", url, "--container", "audit", "--credentials-file", writeFile(t, "sasurl", url+"/audit?sv=2024-11-04&sig=SECRETSIG")}, "--credentials-file", "look like a URL"},
		{"an expired SAS", []string{"--account-url", url, "--container", "audit", "--credentials-file", writeFile(t, "old", "sv=2024-11-04&se=2020-01-01T00:00:00Z&sp=cw&sig=SECRETSIG")}, "credentials", "expired at 2020-01-01T00:00:00Z"},
	} {
		t.Run(c.name, func(t *testing.T) {
			args := append([]string{"sync", "enable", "--org", "acme", "--to", "azure"}, c.args...)
			_, stderr, code := runCLI(t, a, "", args...)
			if code != 2 || !strings.Contains(stderr, c.flag) || !strings.Contains(stderr, c.want) {
				t.Fatalf("exit %d, stderr %q; want exit 2 naming %s and %q", code, stderr, c.flag, c.want)
			}
			if strings.Contains(stderr, "SECRET") || strings.Contains(stderr, testAzureKey) {
				t.Fatalf("the error repeats a credential: %s", stderr)
			}
		})
	}
	if got := actionTypes(t, st, "acme"); len(got) != 0 {
		t.Fatalf("a refused enable was recorded: %v", got)
	}
	if _, err := ks.Get(context.Background(), axsync.SecretName("acme", axsync.KindAzure)); err == nil {
		t.Fatal("a refused enable kept a secret")
	}
}

// sync enable --to azure keeps the credentials in the keychain, not in the
// configuration; status shows the container's URL; the destination built
// from them is the Azure client, and a server that is down leaves it
// retrying; disable erases the secret.
func TestCLI_SyncAzureEnable(t *testing.T) {
	a, st, ks := syncTestApp(t)
	ctx := context.Background()
	appendN(t, a, "acme", 3)
	for _, creds := range []string{
		"devstoreaccount1:" + testAzureKey + "\n",
		`{"accountName":"devstoreaccount1","accountKey":"` + testAzureKey + `"}`,
		"?sv=2024-11-04&ss=b&srt=o&sp=cw&se=2999-01-01T00:00:00Z&sig=c2lnbmF0dXJl",
	} {
		out, stderr, code := runCLI(t, a, "", "sync", "enable", "--org", "acme", "--to", "azure",
			"--account-url", "http://127.0.0.1:1/devstoreaccount1", "--container", "audit", "--prefix", "axiom/",
			"--credentials-file", writeFile(t, "creds", creds))
		if code != 0 || !strings.Contains(out, "azure http://127.0.0.1:1/devstoreaccount1/audit/axiom/") {
			t.Fatalf("enable: exit %d, %s %s", code, out, stderr)
		}
		got, err := ks.Get(ctx, axsync.SecretName("acme", axsync.KindAzure))
		if err != nil || string(got) != strings.TrimRight(creds, "\n") {
			t.Fatalf("the keychain holds %q, %v", got, err)
		}
		d, err := a.openDestination(ctx, axsync.Config{Org: "acme", Kind: axsync.KindAzure, AccountURL: "http://127.0.0.1:1/devstoreaccount1", Container: "audit"}, got)
		if _, ok := d.(*azure.Client); err != nil || !ok {
			t.Fatalf("openDestination: %T, %v", d, err)
		}
	}
	// The configuration in the database holds no credential.
	var settings strings.Builder
	if err := st.ScanSettings(ctx, "", func(name string, v []byte) error { settings.Write(v); return nil }); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(settings.String(), `"container":"audit"`) {
		t.Fatalf("no azure configuration among the settings: %s", settings.String())
	}
	if strings.Contains(settings.String(), testAzureKey) || strings.Contains(settings.String(), "c2lnbmF0dXJl") {
		t.Fatal("the configuration holds the credentials")
	}

	out, _, code := runCLI(t, a, "", "sync", "run-now", "--org", "acme", "--json")
	if code != 1 {
		t.Fatalf("run-now against a closed port: exit %d, %s", code, out)
	}
	var sts []SyncStatus
	if err := json.Unmarshal([]byte(out), &sts); err != nil || len(sts) != 1 {
		t.Fatalf("run-now --json: %v %s", err, out)
	}
	if s := sts[0]; s.To != axsync.KindAzure || s.State != axsync.StateRetrying || s.Target != "http://127.0.0.1:1/devstoreaccount1/audit/axiom/" ||
		strings.Contains(s.LastError, "sig=") {
		t.Fatalf("status %+v", s)
	}
	if out, stderr, code := runCLI(t, a, "", "sync", "disable", "--org", "acme", "--to", "azure"); code != 0 {
		t.Fatalf("disable: exit %d, %s %s", code, out, stderr)
	}
	// The Keystore has no delete: an empty secret is none.
	if got, err := ks.Get(ctx, axsync.SecretName("acme", axsync.KindAzure)); err == nil && len(got) > 0 {
		t.Fatal("disable left the credentials in the keychain")
	}
}

// The REST API enables azure for the local CLI credential with the
// credentials as its secret, and refuses it without one.
func TestREST_SyncEnableAzure(t *testing.T) {
	f := newSyncAPIFixture(t)
	rf := f.rest
	cfg := SyncConfig{Org: "acme", Kind: axsync.KindAzure, AccountURL: "https://acct1.blob.core.windows.net", Container: "audit"}
	body := func(secret []byte) *strings.Reader {
		b, _ := json.Marshal(syncEnableRequest{Config: cfg, Secret: secret})
		return strings.NewReader(string(b))
	}
	resp, b := rf.do("POST", "/api/sync/enable", rf.tokens["readAcme"], body([]byte("acct1:"+testAzureKey)))
	if resp.StatusCode != 403 {
		t.Fatalf("enable with a read token: %d %s", resp.StatusCode, b)
	}
	resp, b = rf.do("POST", "/api/sync/enable", rf.tokens["local"], body(nil))
	if resp.StatusCode != 400 || errorCode(t, b) != CodeInvalidRequest || !strings.Contains(string(b), "shared key or a SAS token") {
		t.Fatalf("azure without credentials: %d %s", resp.StatusCode, b)
	}
	resp, b = rf.do("POST", "/api/sync/enable", rf.tokens["local"], body([]byte("acct1:not base64")))
	if resp.StatusCode != 400 || !strings.Contains(string(b), "not base64") {
		t.Fatalf("azure with a malformed key: %d %s", resp.StatusCode, b)
	}
	resp, b = rf.do("POST", "/api/sync/enable", rf.tokens["local"], body([]byte("acct1:"+testAzureKey)))
	if resp.StatusCode != 200 || !strings.Contains(string(b), `"kind":"azure"`) || !strings.Contains(string(b), `"target":"https://acct1.blob.core.windows.net/audit/"`) {
		t.Fatalf("enable azure with the local credential: %d %s", resp.StatusCode, b)
	}
	if strings.Contains(string(b), testAzureKey) {
		t.Fatal("the answer repeats the key")
	}
	if got, err := f.app.opts.Keystore.Get(context.Background(), axsync.SecretName("acme", axsync.KindAzure)); err != nil || string(got) != "acct1:"+testAzureKey {
		t.Fatalf("the keychain holds %q, %v", got, err)
	}
	resp, b = rf.do("POST", "/api/sync/disable?org=acme&to=azure", rf.tokens["local"], nil)
	if resp.StatusCode != 200 || !strings.Contains(string(b), `"state":"disabled"`) {
		t.Fatalf("disable: %d %s", resp.StatusCode, b)
	}
}

// Without a keychain secret (a keychain reset), the destination says how
// to fix it instead of trying without credentials.
func TestOpenDestination_AzureWithoutSecret(t *testing.T) {
	a, _, _ := syncTestApp(t)
	_, err := a.openDestination(context.Background(), axsync.Config{Org: "acme", Kind: axsync.KindAzure, AccountURL: "https://acct1.blob.core.windows.net", Container: "audit"}, nil)
	if err == nil || !strings.Contains(err.Error(), "--credentials-file") {
		t.Fatalf("err = %v", err)
	}
}
