package storage_test

import (
	"errors"
	"fmt"
	"time"

	"github.com/axiomops/axiom-audit/storage"
)

func ExampleLoadCatalogue() {
	cat, err := storage.LoadCatalogue()
	if err != nil {
		panic(err)
	}
	at, _ := cat.Lookup("apply.mutation")
	fmt.Println(at.Category, at.Retention, at.OCSF.ClassName, at.SOC2, at.ISO27001)
	// Output: apply material API Activity [CC8.1 CC7.1] [A.8.32 A.8.9]
}

func ExampleCatalogue_Validate() {
	cat, err := storage.LoadCatalogue()
	if err != nil {
		panic(err)
	}
	e, err := storage.ParseEvent([]byte(`{
		"timestamp": "2026-03-01T12:00:00Z",
		"organizationId": "acme-prod",
		"userId": "scanner",
		"provider": "aws",
		"actionType": "scan.completed",
		"resourceIds": ["arn:aws:s3:::logs"],
		"status": "applied",
		"riskLevel": "low",
		"metadata": {"region": "us-east-1", "account": "123456789012", "durationMs": 1.5}
	}`))
	if err != nil {
		panic(err)
	}
	cat = cat.WithClock(func() time.Time { return time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC) })
	err = cat.Validate(&e)
	var verr *storage.ValidationError
	if errors.As(err, &verr) && errors.Is(err, storage.ErrInvalidEvent) {
		for _, fe := range verr.Errors {
			fmt.Println(fe)
		}
	}
	// Output:
	// metadata.durationMs: must be an integer; use a string for decimals
	// metadata.resourceCounts: is required
}
