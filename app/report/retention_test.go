package report

import (
	"context"
	"testing"
	"time"

	"github.com/axiomops/axiom-audit/storage"
	"github.com/axiomops/axiom-audit/storage/keystore"
)

// signInStore opens a store with opts whose organization acme has one
// user.signed_in event (operational) of each age before now.
func signInStore(t *testing.T, opts storage.Options, ages ...time.Duration) (*storage.Store, time.Time) {
	t.Helper()
	ctx := context.Background()
	opts.GCInterval = -1
	st, err := storage.Open(ctx, t.TempDir(), keystore.NewMemory(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	now := time.Now().UTC()
	var evs []storage.Event
	for _, age := range ages {
		evs = append(evs, storage.Event{Timestamp: now.Add(-age), OrganizationID: "acme",
			UserID: "alice", Provider: "aws", ActionType: "user.signed_in", ResourceIDs: []string{}, Status: "applied", RiskLevel: "low"})
	}
	if _, err := st.Append(ctx, evs); err != nil {
		t.Fatal(err)
	}
	return st, now
}

const day = 24 * time.Hour

func TestStoreRetention_PrunedRanges(t *testing.T) {
	ctx := context.Background()
	st, now := signInStore(t, storage.Options{RetentionGrace: -1}, 100*day, 101*day, 102*day, 103*day)
	p := Period{Label: "all", Since: now.Add(-365 * 24 * time.Hour), Until: now.Add(time.Hour)}
	r, err := StoreRetention{Store: st}.Retention(ctx, "acme", p)
	if err != nil || len(r.Pruned) != 0 || r.Policy != "default policy (operational 90 days, material indefinite)" {
		t.Fatalf("before the sweep: %+v, %v", r, err)
	}
	if _, _, err := st.SetRetention(ctx, "acme", storage.RetentionChange{Class: storage.RetentionOperational, Category: "user", Window: storage.RetentionWindow{Days: 30}}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.SweepRetention(ctx, "acme", storage.SweepOptions{NoReclaim: true}); err != nil {
		t.Fatal(err)
	}
	r, err = StoreRetention{Store: st}.Retention(ctx, "acme", p)
	if err != nil || len(r.Pruned) != 1 || r.Pruned[0].Count != 4 || r.Pruned[0].FromSeq != 1 || r.Pruned[0].ToSeq != 4 ||
		r.Pruned[0].Class != "operational" || len(r.Classes) != 3 || r.Classes[2].Category != "user" || r.Classes[2].Days != 30 {
		t.Fatalf("after the sweep: %+v, %v", r, err)
	}
}

// The report's integrity section counts the pruned records verify found.
func TestStoreIntegrity_CountsPruned(t *testing.T) {
	ctx := context.Background()
	st, _ := signInStore(t, storage.Options{}, 100*day, 101*day, 102*day)
	if res, err := st.SweepRetention(ctx, "acme", storage.SweepOptions{NoReclaim: true}); err != nil || res.Pruned != 3 {
		t.Fatalf("sweep: %+v, %v", res, err)
	}
	v, err := StoreIntegrity{Store: st}.Verify(ctx, "acme")
	if err != nil || v.Pruned != 3 || v.Result != "ok" {
		t.Fatalf("verification: %+v, %v; want 3 pruned", v, err)
	}
}

// A report of a period still running does not give as the policy a
// version that is only pending (not in force yet, maybe never).
func TestStoreRetention_PendingIsNotThePolicy(t *testing.T) {
	ctx := context.Background()
	st, now := signInStore(t, storage.Options{}, time.Hour) // a week's grace
	if _, _, err := st.SetRetention(ctx, "acme", storage.RetentionChange{Class: storage.RetentionOperational, Window: storage.RetentionWindow{Days: 30}}); err != nil {
		t.Fatal(err)
	}
	p := Period{Label: "this quarter", Since: now.Add(-30 * day), Until: now.Add(30 * day)}
	r, err := StoreRetention{Store: st}.Retention(ctx, "acme", p)
	if err != nil {
		t.Fatal(err)
	}
	if r.Policy != "default policy (operational 90 days, material indefinite)" {
		t.Errorf("generated now, the report gives as the policy a version that is only pending: %s", r.Policy)
	}
}
