package report

import (
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/axiomops/axiom-audit/app/export"
	"github.com/axiomops/axiom-audit/storage"
)

// StoreIntegrity reads checkpoints from and verifies a store.
type StoreIntegrity struct {
	Store *storage.Store
	// Keyless verifies without decrypting states.
	Keyless bool
	// Now times the verification; nil means time.Now.
	Now func() time.Time
}

// LatestCheckpoint implements IntegritySource.
func (s StoreIntegrity) LatestCheckpoint(ctx context.Context, org string) (Checkpoint, error) {
	sc, err := s.Store.LatestCheckpoint(ctx, org)
	if err != nil {
		return Checkpoint{}, err
	}
	return Checkpoint{Origin: sc.Checkpoint.Origin, Size: sc.Checkpoint.Size,
		Root: base64.StdEncoding.EncodeToString(sc.Checkpoint.Root[:]), Time: ts(sc.Time)}, nil
}

// maxProblemDetails is how many problems a report spells out.
const maxProblemDetails = 20

// Verify implements IntegritySource with the store's full verification of
// the organization's log (not just the period: the period's records are
// only as good as the chain that holds them).
func (s StoreIntegrity) Verify(ctx context.Context, org string) (Verification, error) {
	now := s.Now
	if now == nil {
		now = time.Now
	}
	v := Verification{StartedAt: ts(now()), Keyless: s.Keyless, Details: []string{}}
	sum, err := s.Store.Verify(ctx, storage.VerifyOptions{Org: org, Keyless: s.Keyless}, func(p storage.Problem) error {
		v.Problems++
		if len(v.Details) < maxProblemDetails {
			v.Details = append(v.Details, p.String())
		}
		return nil
	})
	if err != nil {
		return Verification{}, err
	}
	v.FinishedAt = ts(now())
	v.Records, v.Pruned = sum.Events, sum.Pruned
	v.Result = "ok"
	if sum.Problems > 0 || v.Problems > 0 {
		v.Result = "tampered"
	}
	return v, nil
}

// ExportEvidence writes the evidence bundle with app/export: the material
// events as JSON Lines with their inclusion proofs against a checkpoint
// signed for the bundle, states withheld (commitments only), verifiable
// offline and without keys (export.Verify).
type ExportEvidence struct {
	Source   export.Source
	Exporter string
	Version  string
	Now      func() time.Time
}

// EvidenceFolder is the name of the evidence bundle inside a report folder.
const EvidenceFolder = "evidence"

// WriteEvidence implements EvidenceWriter: the bundle is written by
// export.Write into dir and renamed to dir/evidence.
func (x ExportEvidence) WriteEvidence(ctx context.Context, dir string, req EvidenceRequest) (EvidenceInfo, error) {
	res, err := export.Write(ctx, x.Source, export.Options{
		Org: req.Org,
		Filter: storage.Filter{Since: req.Since, Until: req.Until, Categories: req.Categories,
			Order: storage.OldestFirst},
		Format:      export.JSONLines,
		OutDir:      dir,
		Exporter:    x.Exporter,
		ToolVersion: x.Version,
		Now:         x.Now,
	})
	if err != nil {
		return EvidenceInfo{}, fmt.Errorf("failed to write the evidence bundle: %w", err)
	}
	if err := os.Rename(res.Dir, filepath.Join(dir, EvidenceFolder)); err != nil {
		return EvidenceInfo{}, fmt.Errorf("failed to name the evidence bundle: %w", err)
	}
	info := EvidenceInfo{Folder: EvidenceFolder, Producer: "axiom-audit export (bundle " + res.Manifest.Version + ")",
		Events: res.Count, Files: make([]EvidenceFile, 0, len(res.Files))}
	for _, f := range res.Files {
		info.Files = append(info.Files, EvidenceFile{Name: f.Name, Bytes: f.Bytes, SHA256: f.SHA256})
	}
	if res.Count > 0 {
		info.Note = fmt.Sprintf("Records seq %d to %d, each with its inclusion proof against the checkpoint signed for the bundle. "+
			"States are withheld: their commitments are in the records. The bundle verifies offline, without keys: "+
			"axiom-audit verify-export %s", res.FirstSeq, res.LastSeq, EvidenceFolder)
	}
	return info, nil
}

var _ EvidenceWriter = ExportEvidence{}
var _ IntegritySource = StoreIntegrity{}
