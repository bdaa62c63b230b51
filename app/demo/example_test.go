package demo_test

import (
	"fmt"
	"time"

	"github.com/axiomops/axiom-audit/app/demo"
	"github.com/axiomops/axiom-audit/storage"
)

func ExampleGenerate() {
	opts := demo.Options{
		Events: 500,
		Orgs:   2,
		Seed:   1,
		End:    time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC),
	}
	n := 0
	err := demo.Generate(opts, func(e storage.Event) error {
		if n < 5 {
			fmt.Println(e.Timestamp.Format(time.RFC3339), e.OrganizationID, e.UserID, e.ActionType)
		}
		n++
		return nil
	})
	fmt.Println(n, "events", err)
	// Output:
	// 2026-08-31T14:50:18Z acme-staging alice.demir@acme.io user.signed_in
	// 2026-08-31T15:02:56Z acme-staging alice.demir@acme.io user.connection_managed
	// 2026-08-31T15:04:01Z acme-staging alice.demir@acme.io connection.provider_connected
	// 2026-08-31T15:04:39Z acme-staging svc-axiom-agent connection.role_assumed
	// 2026-08-31T15:35:36Z acme-staging alice.demir@acme.io user.approval_policy_edited
	// 500 events <nil>
}
