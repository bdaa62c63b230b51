package report

import (
	"context"
	"testing"
	"time"

	"github.com/axiomops/axiom-audit/storage"
	"github.com/axiomops/axiom-audit/storage/keystore"
)

// A report of a period still running names a version that is pending
// (not in force yet, maybe never) as the policy.
func TestRetentionGrace_ReportPendingAsPolicy(t *testing.T) {
	ctx := context.Background()
	st, err := storage.Open(ctx, t.TempDir(), keystore.NewMemory(), storage.Options{GCInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Now().UTC()
	if _, err := st.Append(ctx, []storage.Event{{Timestamp: now.Add(-time.Hour), OrganizationID: "acme",
		UserID: "alice", Provider: "aws", ActionType: "user.signed_in", ResourceIDs: []string{}, Status: "applied", RiskLevel: "low"}}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := st.SetRetention(ctx, "acme", storage.RetentionChange{Class: storage.RetentionOperational, Window: storage.RetentionWindow{Days: 30}}); err != nil {
		t.Fatal(err)
	}
	p := Period{Label: "this quarter", Since: now.Add(-30 * 24 * time.Hour), Until: now.Add(30 * 24 * time.Hour)}
	r, err := StoreRetention{Store: st}.Retention(ctx, "acme", p)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("policy: %s", r.Policy)
	if r.Policy != "default policy (operational 90 days, material indefinite)" {
		t.Errorf("generated now, the report gives as the policy a version that is only pending: %s", r.Policy)
	}
}
