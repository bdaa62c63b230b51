package storage_test

import (
	"fmt"
	"time"

	"github.com/axiomops/axiom-audit/storage"
)

func ExampleMatcher() {
	m, err := storage.NewMatcher(storage.Filter{Org: "acme-prod", Categories: []string{"apply"}, Text: "bucket",
		Since: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)})
	if err != nil {
		panic(err)
	}
	e := &storage.StoredEvent{Category: "apply"}
	e.OrganizationID, e.ActionType, e.Timestamp = "acme-prod", "apply.mutation", time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	e.ResourceIDs = []string{"arn:aws:s3:::logs-bucket"}
	fmt.Println(m.Match(e))
	e.Timestamp = time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC) // before Since
	fmt.Println(m.Match(e))
	// Output:
	// true
	// false
}
