package app

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/axiomops/axiom-audit/storage"
	"github.com/axiomops/axiom-audit/storage/keystore"
)

// TestApp returns an App over a real store in a temporary directory with an
// in-memory keystore, closed when the test ends. It lives in a non-test
// file so that other packages' tests can use it too.
func TestApp(t testing.TB) *App {
	t.Helper()
	ctx := context.Background()
	// Retention changes take effect at once here; TestCLI_RetentionGrace tests the week's grace.
	st, err := storage.Open(ctx, t.TempDir(), keystore.NewMemory(), storage.Options{RetentionGrace: -1})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	return appOver(t, st, Options{User: "tester", Version: "test", Paths: Paths{Profile: "test", DataDir: "/tmp/test"}})
}

// appOver returns an App with opts over st; both are closed when t ends.
func appOver(t testing.TB, st *storage.Store, opts Options) *App {
	t.Helper()
	opts.Store = st
	a, err := New(opts)
	if err != nil {
		st.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		a.Close()
		st.Close()
	})
	return a
}

// TestEvent returns a valid event of org for tests, n making it distinct.
func TestEvent(org string, n int, at time.Time) storage.Event {
	return storage.Event{
		Timestamp:      at.UTC(),
		OrganizationID: org,
		UserID:         "alice@example.com",
		Provider:       "aws",
		ActionType:     "user.signed_in",
		ResourceIDs:    []string{"arn:aws:iam::123456789012:user/alice"},
		Status:         "applied",
		RiskLevel:      "low",
		Metadata:       []byte(fmt.Sprintf(`{"n":%d}`, n)),
	}
}
