package report

import (
	"context"
	"errors"
	"time"

	"github.com/axiomops/axiom-audit/storage"
)

// ErrNotSupported: this build cannot do what a source was asked (verify a
// log, report pruned ranges, write an evidence bundle).
var ErrNotSupported = errors.New("not supported by this build")

// EventSource pages through one organization's events; *storage.Store is
// one.
type EventSource interface {
	List(ctx context.Context, f storage.Filter) (storage.Page, error)
}

// IntegritySource reads an organization's newest signed checkpoint and
// verifies its log. Either method may return ErrNotSupported.
type IntegritySource interface {
	LatestCheckpoint(ctx context.Context, org string) (Checkpoint, error)
	Verify(ctx context.Context, org string) (Verification, error)
}

// RetentionSource says which retention policy applies to an organization and
// which records of a period it pruned. The retention sweeper will provide
// one; until then [DefaultRetention] reports the built-in policy and no
// pruned ranges.
type RetentionSource interface {
	Retention(ctx context.Context, org string, p Period) (Retention, error)
}

// DefaultRetention is the policy every log has until retention settings
// exist: operational events 90 days, material events indefinitely, and
// nothing pruned.
type DefaultRetention struct{}

// Retention implements RetentionSource.
func (DefaultRetention) Retention(context.Context, string, Period) (Retention, error) {
	return Retention{
		Policy: "default policy (operational 90 days, material indefinite)",
		Classes: []RetentionClass{
			{Class: string(storage.RetentionOperational), Days: 90},
			{Class: string(storage.RetentionMaterial), Indefinite: true},
		},
		Pruned: []PrunedRange{},
	}, nil
}

// EvidenceRequest asks for the evidence bundle of an organization's
// material events in a period.
type EvidenceRequest struct {
	Org        string
	Since      time.Time
	Until      time.Time
	Categories []string // the material categories
}

// EvidenceWriter writes an evidence bundle into dir, which exists and is
// empty, and describes what it wrote.
type EvidenceWriter interface {
	WriteEvidence(ctx context.Context, dir string, req EvidenceRequest) (EvidenceInfo, error)
}
