package report

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/axiomops/axiom-audit/app/demo"
	"github.com/axiomops/axiom-audit/app/export"
	"github.com/axiomops/axiom-audit/storage"
	"github.com/axiomops/axiom-audit/storage/keystore"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// The fixed demo history the golden report is made from: 80 days of three
// organizations ending a few days after 2026-Q3, so the quarter holds the
// onboarding, scans, plans, applies and their rollbacks.
var (
	demoEnd    = time.Date(2026, 10, 4, 0, 0, 0, 0, time.UTC)
	demoOpts   = demo.Options{Events: 3000, Orgs: 3, Seed: 20260930, End: demoEnd, Span: 80 * 24 * time.Hour}
	testOrg    = "acme-prod"
	testNow    = time.Date(2026, 10, 6, 9, 30, 0, 0, time.UTC)
	testPeriod = Period{Label: "2026-Q3", Since: time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC), Until: time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)}
)

// extraEvents are what the demo does not generate but a quarter may hold:
// a disconnected account and two exports of the log (one with the
// decrypted states), with fixed ids.
func extraEvents() []storage.Event {
	at := func(s string) time.Time { t, _ := time.Parse(time.RFC3339, s); return t }
	return []storage.Event{
		{ID: "0199a1b2-0000-7000-8000-000000000001", Timestamp: at("2026-09-15T10:00:00Z"), OrganizationID: testOrg,
			UserID: "auditor@acme.example", Provider: "system", ActionType: "audit.exported", ResourceIDs: []string{},
			Status: "applied", RiskLevel: "medium",
			Metadata: []byte(`{"filter":{"org":"acme-prod","categories":["apply"]},"files":[{"name":"events.csv","bytes":1234,"sha256":"` +
				"aa00000000000000000000000000000000000000000000000000000000000000" + `"}],"bytes":1234,"sha256":"` +
				"bb00000000000000000000000000000000000000000000000000000000000000" + `","format":"csv"}`)},
		{ID: "0199a1b2-0000-7000-8000-000000000003", Timestamp: at("2026-09-16T10:00:00Z"), OrganizationID: testOrg,
			UserID: "auditor@acme.example", Provider: "system", ActionType: "audit.exported", ResourceIDs: []string{},
			Status: "applied", RiskLevel: "high",
			Metadata: []byte(`{"filter":{"org":"acme-prod"},"files":[{"name":"events.jsonl","bytes":99,"sha256":"` +
				"cc00000000000000000000000000000000000000000000000000000000000000" + `"}],"bytes":99,"sha256":"` +
				"dd00000000000000000000000000000000000000000000000000000000000000" + `","format":"jsonl","revealStates":true,"count":42}`)},
		{ID: "0199a1b2-0000-7000-8000-000000000002", Timestamp: at("2026-09-20T14:00:00Z"), OrganizationID: testOrg,
			UserID: "ops-admin@acme.example", Provider: "gcp", ActionType: "connection.provider_disconnected",
			ResourceIDs: []string{"gcp:project/acme-legacy"}, Status: "applied", RiskLevel: "high",
			Metadata: []byte(`{"reason":"project decommissioned","accountId":"acme-legacy"}`)},
	}
}

// emptyStore opens a real store with no events in a temporary folder.
func emptyStore(t testing.TB) *storage.Store {
	t.Helper()
	st, err := storage.Open(context.Background(), t.TempDir(), keystore.NewMemory(), storage.Options{GCInterval: -1})
	if err != nil {
		t.Fatalf("storage.Open: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// demoStore opens a real store in a temporary folder with an in-memory
// keystore and appends the fixed demo history to it.
func demoStore(t testing.TB) *storage.Store {
	t.Helper()
	ctx := context.Background()
	st, err := storage.Open(ctx, t.TempDir(), keystore.NewMemory(), storage.Options{GCInterval: -1})
	if err != nil {
		t.Fatalf("storage.Open: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	batch := make([]storage.Event, 0, 250)
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		_, err := st.Append(ctx, batch)
		batch = batch[:0]
		return err
	}
	err = demo.Generate(demoOpts, func(e storage.Event) error {
		batch = append(batch, e)
		if len(batch) == cap(batch) {
			return flush()
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	if err == nil {
		_, err = st.Append(ctx, extraEvents())
	}
	if err != nil {
		t.Fatalf("appending the demo history: %v", err)
	}
	return st
}

// stubIntegrity stands in for the store's verification in the golden
// test, whose checkpoint times would otherwise change every run.
type stubIntegrity struct{}

func (stubIntegrity) LatestCheckpoint(context.Context, string) (Checkpoint, error) {
	return Checkpoint{Origin: "axiom-audit/test/acme-prod", Size: 1502, Root: "cm9vdA==", Time: "2026-10-06T09:29:00Z"}, nil
}

func (stubIntegrity) Verify(context.Context, string) (Verification, error) {
	return Verification{Result: "ok", Records: 1502, StartedAt: "2026-10-06T09:29:10Z", FinishedAt: "2026-10-06T09:29:11Z", Details: []string{}}, nil
}

// artifacts is where the screenshots go: build/artifacts/report at the top
// of the repository.
func artifacts(t testing.TB) string {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join("..", "..", "build", "artifacts", "report"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// storeSource is the store as an export source.
type storeSource struct{ st *storage.Store }

// exportSource returns the store as the source of an evidence bundle (the
// app has its own, StoreExportSource; this package cannot import the app).
func exportSource(st *storage.Store) export.Source { return storeSource{st} }

func (s storeSource) List(ctx context.Context, f storage.Filter) (storage.Page, error) {
	return s.st.List(ctx, f)
}

func (s storeSource) Checkpoint(ctx context.Context, org string) (export.SignedCheckpoint, error) {
	sc, err := s.st.Checkpoint(ctx, org)
	if err != nil {
		return export.SignedCheckpoint{}, err
	}
	return export.SignedCheckpoint{Checkpoint: sc.Checkpoint, Note: sc.Note}, nil
}

func (s storeSource) PublicKey(ctx context.Context) (string, error) { return s.st.PublicKey(ctx) }

func (s storeSource) SignManifest(ctx context.Context, org, sum string) ([]byte, error) {
	return s.st.SignManifest(ctx, org, sum)
}

func (s storeSource) InclusionProof(ctx context.Context, org, id string, treeSize uint64) (export.Proof, error) {
	p, err := s.st.InclusionProof(ctx, org, id, treeSize)
	if err != nil {
		return export.Proof{}, err
	}
	return export.Proof{LeafIndex: p.LeafIndex, TreeSize: p.TreeSize, LeafHash: p.LeafHash, Hashes: p.Hashes}, nil
}

func (s storeSource) RevealStates(ctx context.Context, org, id string) (storage.RevealedState, error) {
	return s.st.RevealStates(ctx, org, id)
}

// ScanRecordsAndPruned makes the bundle the app's (version 4, with
// pruned.json).
func (s storeSource) ScanRecordsAndPruned(ctx context.Context, f storage.Filter, maxSeq uint64, decryptStates bool,
	fn func(*storage.StoredEvent) error, pruned func(*storage.PrunedEvent) error) error {
	return s.st.ScanRecordsAndPruned(ctx, f, maxSeq, decryptStates, fn, pruned)
}
