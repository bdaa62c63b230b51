package storage_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/axiomops/axiom-audit/storage"
	"github.com/axiomops/axiom-audit/storage/keystore"
)

func TestStore_ReadFromAndHead(t *testing.T) {
	ctx := context.Background()
	st, err := storage.Open(ctx, t.TempDir(), keystore.NewMemory(), storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if seq, at, err := st.Head(ctx, "acme"); err != nil || seq != 0 || !at.IsZero() {
		t.Fatalf("Head of an empty organization: %d %v %v", seq, at, err)
	}
	var evs []storage.Event
	for i := 0; i < 25; i++ {
		org := "acme"
		if i%5 == 0 {
			org = "acme-2" // a neighbour whose prefix extends acme's
		}
		evs = append(evs, storage.Event{Timestamp: time.Now().UTC(), OrganizationID: org, UserID: "u", Provider: "aws",
			ActionType: "user.signed_in", ResourceIDs: []string{}, Status: "applied", RiskLevel: "low",
			Metadata: []byte(fmt.Sprintf(`{"n":%d}`, i)), AfterState: []byte(`{"secret":true}`)})
	}
	if _, err := st.Append(ctx, evs); err != nil {
		t.Fatal(err)
	}
	got, err := st.ReadFrom(ctx, "acme", 3, 10, false)
	if err != nil || len(got) != 10 {
		t.Fatalf("ReadFrom: %d events, %v", len(got), err)
	}
	for i, e := range got {
		if e.Seq != uint64(4+i) || e.OrganizationID != "acme" || len(e.Public) == 0 || e.AfterState != nil || e.AfterStateCommitment == "" {
			t.Fatalf("event %d: seq %d org %s state %s", i, e.Seq, e.OrganizationID, e.AfterState)
		}
	}
	all, _ := st.ReadFrom(ctx, "acme", 0, 1000, true)
	if len(all) != 20 || string(all[0].AfterState) != `{"secret":true}` {
		t.Fatalf("ReadFrom with states: %d events, %s", len(all), all[0].AfterState)
	}
	if rest, _ := st.ReadFrom(ctx, "acme", 20, 10, false); len(rest) != 0 {
		t.Fatalf("%d events after the head", len(rest))
	}
	if seq, at, err := st.Head(ctx, "acme"); err != nil || seq != 20 || at.IsZero() {
		t.Fatalf("Head: %d %v %v", seq, at, err)
	}
	if _, err := st.ReadFrom(ctx, "bad org", 0, 1, false); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("invalid org: %v", err)
	}
}
