package sync_test

import (
	"strings"
	"testing"

	axsync "github.com/axiomops/axiom-audit/app/sync"
)

// Config.Validate refuses, at enable time, a destination that could never
// work or would lose something unseen: a URL that is not absolute https
// (plain http only to this machine), Object Lock days without a mode (no
// object would be locked), an S3 endpoint that is malformed or plain
// http to another machine.
func TestConfig_Validate(t *testing.T) {
	hook := func(u string) axsync.Config {
		return axsync.Config{Org: "acme", Kind: axsync.KindWebhook, URL: u, Format: "jsonl"}
	}
	tenant := func(u string) axsync.Config { return axsync.Config{Org: "acme", Kind: axsync.KindTenant, URL: u} }
	s3 := func(mode string, days int, endpoint string) axsync.Config {
		return axsync.Config{Org: "acme", Kind: axsync.KindS3, Bucket: "b", ObjectLockMode: mode, ObjectLockDays: days, Endpoint: endpoint}
	}
	az := func(account, container string) axsync.Config {
		return axsync.Config{Org: "acme", Kind: axsync.KindAzure, AccountURL: account, Container: container}
	}
	for _, c := range []struct {
		cfg  axsync.Config
		want string // "" valid, else part of the error
	}{
		{hook("https://siem.example.com/hook"), ""},
		{hook("https://user:pw@siem.example.com:8088/hook?token=x"), ""},
		{hook("http://127.0.0.1:8080/hook"), ""},
		{hook("http://localhost/hook"), ""},
		{hook("http://[::1]:9/hook"), ""},
		{tenant("https://tenant.axiom.example"), ""},
		{hook("not a url"), "is not an absolute URL"},
		{hook("https:///nohost"), "is not an absolute URL"},
		{hook("siem.example.com/hook"), "is not an absolute URL"},
		{hook("ftp://x/y"), `the scheme must be https, not "ftp"`},
		{hook("http://203.0.113.5/x"), "is plain http: use https"},
		{hook("http://siem.internal:8088/x"), "is plain http: use https"},
		{tenant("not a url"), "the tenant's URL"},
		{tenant("http://tenant.axiom.example"), "is plain http"},
		{s3("COMPLIANCE", 2555, ""), ""},
		{s3("", 0, "http://127.0.0.1:9000"), ""},
		{s3("", 0, "https://s3.eu.example.com"), ""},
		{s3("", 2555, ""), "need an object lock mode"},
		{s3("COMPLIANCE", 0, ""), "at least one day"},
		{s3("", 0, "http://localhost:9000"), ""},
		{s3("", 0, "s3.example.com"), "the s3 endpoint's URL \"s3.example.com\" is not an absolute URL"},
		{s3("", 0, "https://"), "is not an absolute URL"},
		{s3("", 0, "http://minio.internal:9000"), "the s3 endpoint's URL \"http://minio.internal:9000\" is plain http: use https"},
		{s3("", 0, "ftp://s3.example.com"), `the scheme must be https, not "ftp"`},
		{az("https://acct1.blob.core.windows.net", "audit"), ""},
		{az("https://acct1.blob.core.windows.net/", "audit-2026"), ""},
		{az("http://127.0.0.1:10000/devstoreaccount1", "audit"), ""},
		{az("http://localhost:10000/devstoreaccount1", "a1b"), ""},
		{az("", "audit"), "azure needs the account URL"},
		{az("acct1.blob.core.windows.net", "audit"), `the azure account's URL "acct1.blob.core.windows.net" is not an absolute URL`},
		{az("http://acct1.blob.core.windows.net", "audit"), "is plain http: use https"},
		{az("https://acct1.blob.core.windows.net/?sv=2024-11-04&sig=SECRET", "audit"), "has a query string or user info"},
		{az("https://acct1.blob.core.windows.net/?", "audit"), "has a query string"},
		{az("https://u:SECRET@acct1.blob.core.windows.net", "audit"), "has a query string or user info"},
		{az("https://acct1.blob.core.windows.net", ""), "azure needs a container"},
		{az("https://acct1.blob.core.windows.net", "Audit"), "must be 3 to 63 lowercase letters"},
		{az("https://acct1.blob.core.windows.net", "ab"), "must be 3 to 63"},
		{az("https://acct1.blob.core.windows.net", "a--b"), "single hyphens"},
		{az("https://acct1.blob.core.windows.net", "-ab"), "starting and ending"},
		{az("https://acct1.blob.core.windows.net", strings.Repeat("a", 64)), "3 to 63"},
	} {
		err := c.cfg.Validate()
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%+v: %v; want valid", c.cfg, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%+v: %v; want an error with %q", c.cfg, err, c.want)
		case err != nil && strings.Contains(err.Error(), "SECRET"):
			t.Errorf("%+v: the error repeats a credential: %v", c.cfg, err)
		}
	}
}

// What status, messages and audit events show of a URL leaves out what may
// be a credential.
func TestConfig_ShownTarget(t *testing.T) {
	c := axsync.Config{Kind: axsync.KindWebhook, URL: "https://user:hunter2@siem.example.com:8444/q?token=SECRET#x"}
	if got := c.ShownTarget(); got != "https://siem.example.com:8444/q" {
		t.Errorf("ShownTarget = %q", got)
	}
	s := axsync.Config{Kind: axsync.KindS3, Bucket: "b", Prefix: "p/", Endpoint: "https://s3.example.com"}
	if got := s.ShownTarget(); got != s.Target() {
		t.Errorf("S3 ShownTarget = %q, want %q", got, s.Target())
	}
	a := axsync.Config{Kind: axsync.KindAzure, AccountURL: "https://acct1.blob.core.windows.net/", Container: "audit", Prefix: "axiom/"}
	if got := a.ShownTarget(); got != "https://acct1.blob.core.windows.net/audit/axiom/" || a.Target() != got {
		t.Errorf("Azure ShownTarget = %q, Target = %q", got, a.Target())
	}
}
