package report

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/axiomops/axiom-audit/storage"
)

// StoreRetention is the RetentionSource of a store: the organization's
// policy in force at the end of the period and the records of the period
// that retention pruned (their tombstones), as runs of consecutive seqs.
type StoreRetention struct {
	Store *storage.Store
	// Catalogue gives each category its class (nil: the built-in one).
	Catalogue *storage.Catalogue
}

// Retention implements RetentionSource.
func (s StoreRetention) Retention(ctx context.Context, org string, p Period) (Retention, error) {
	h, err := s.Store.RetentionHistory(ctx, org)
	if err != nil {
		return Retention{}, err
	}
	// The version in force at the period's end, or now if that is later:
	// a version still pending is not the policy yet.
	at := p.Until
	if now := time.Now(); at.After(now) {
		at = now
	}
	pol := storage.InForce(h, at)
	out, _ := DefaultRetention{}.Retention(ctx, org, p)
	if pol.Version != 0 {
		out.Policy = fmt.Sprintf("policy version %d (operational %s, material %s), in force since %s",
			pol.Version, pol.Operational, pol.Material, pol.EffectiveFrom.UTC().Format(time.RFC3339))
		out.Classes = []RetentionClass{
			class(storage.RetentionOperational, "", pol.Operational),
			class(storage.RetentionMaterial, "", pol.Material),
		}
		cats := make([]string, 0, len(pol.Categories))
		for c := range pol.Categories {
			cats = append(cats, c)
		}
		slices.Sort(cats)
		for _, c := range cats {
			out.Classes = append(out.Classes, class(s.classOf(c), c, pol.Categories[c]))
		}
	}
	runs, err := s.Store.PrunedRuns(ctx, org, p.Since, p.Until, MaxListed)
	if err != nil {
		return Retention{}, err
	}
	out.PrunedRuns, out.PrunedRecords = runs.Total, runs.Events
	for _, r := range runs.Runs {
		out.Pruned = append(out.Pruned, PrunedRange{FromSeq: r.FromSeq, ToSeq: r.ToSeq, Count: r.Count, Class: string(r.Class),
			Policy: r.Policy, PrunedAt: r.PrunedAt.UTC().Format(time.RFC3339)})
	}
	if runs.Total > 0 {
		out.Note = "Pruned events keep a tombstone (seq, id, timestamp, action type, leaf hash), so the log and every proof still verify."
	}
	return out, nil
}

func class(c storage.RetentionClass, category string, w storage.RetentionWindow) RetentionClass {
	return RetentionClass{Class: string(c), Category: category, Days: w.Days, Indefinite: w.Indefinite}
}

// classOf is the retention class the catalogue gives a category.
func (s StoreRetention) classOf(category string) storage.RetentionClass {
	cat := s.Catalogue
	if cat == nil {
		var err error
		if cat, err = storage.LoadCatalogue(); err != nil {
			return storage.RetentionOperational
		}
	}
	for _, t := range cat.Types() {
		if t.Category == category {
			return t.Retention
		}
	}
	return storage.RetentionOperational
}
