package tenant_test

import (
	"net/http/httptest"
	"testing"

	axsync "github.com/axiomops/axiom-audit/app/sync"
	"github.com/axiomops/axiom-audit/app/sync/synctest"
	"github.com/axiomops/axiom-audit/app/sync/tenant"
)

func TestClient_Conformance(t *testing.T) {
	synctest.Run(t, func(t *testing.T) synctest.Harness {
		ts := tenant.NewServer("tok")
		srv := httptest.NewServer(ts)
		t.Cleanup(srv.Close)
		return synctest.Harness{
			Destination: tenant.NewClient(srv.URL, []byte("tok")),
			Stored:      func(_ testing.TB, org string) []axsync.Line { return ts.Lines(org) },
		}
	})
}
