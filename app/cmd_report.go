package app

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/axiomops/axiom-audit/app/report"
	"github.com/axiomops/axiom-audit/storage"
)

// ReportRequest asks for a compliance report of one organization and period.
type ReportRequest struct {
	// ID names a report the desktop window may cancel (CancelReport);
	// optional.
	ID     string `json:"id,omitempty"`
	Org    string `json:"org"`
	Period string `json:"period"` // 2026-Q3, 2026-09 or FROM..TO
	OutDir string `json:"outDir"`
	// Chromium is the browser that prints the PDF (empty: look for one);
	// NoPDF skips it.
	Chromium string `json:"chromium,omitempty"`
	NoPDF    bool   `json:"noPdf,omitempty"`
}

// ReportResultDTO says where the report went and what it holds.
type ReportResultDTO struct {
	Dir        string                `json:"dir"`
	PDF        bool                  `json:"pdf"`
	Note       string                `json:"note,omitempty"` // why there is no PDF
	Integrity  string                `json:"integrity"`
	Events     int64                 `json:"events"`
	Evidence   int64                 `json:"evidenceEvents"`
	Files      []report.EvidenceFile `json:"files"`
	Bytes      int64                 `json:"bytes"`
	SumsSHA256 string                `json:"sha256"`
}

// WriteReport writes a compliance report folder: the binding of the
// desktop app's Reports view (the CLI's report command calls writeReport).
// Errors are ErrorDTO JSON with the codes of POST /api/reports.
func (a *App) WriteReport(req ReportRequest) (ReportResultDTO, error) {
	ctx, done, err := a.reports.start(a.bg(), req.ID)
	if err != nil {
		return ReportResultDTO{}, reportBindingError(err)
	}
	defer done()
	res, err := a.writeCheckedReport(ctx, req)
	return res, reportBindingError(err)
}

// CancelReport stops the report WriteReport is writing under id: it then
// fails with code "cancelled" and leaves no folder.
func (a *App) CancelReport(id string) error {
	return reportBindingError(a.reports.cancel(id))
}

// periodBegun refuses a period that starts after now: its report would
// hold no events, yet read "integrity: verified".
func periodBegun(p report.Period, now time.Time) error {
	if p.Since.After(now) {
		return fmt.Errorf("%s has not begun (it starts %s): there is nothing to report yet", p.Label, p.Since.UTC().Format(time.RFC3339))
	}
	return nil
}

// writeReport writes a compliance report folder and records it in the
// organization's log. The catalogue has no action type for reports, and a
// report does take the log's events out (the evidence bundle), so it is an
// audit.exported event with kind "report". If it cannot be recorded the
// folder is removed, as for an export.
func (a *App) writeReport(ctx context.Context, req ReportRequest) (ReportResultDTO, error) {
	st, err := a.storeOrErr()
	if err != nil {
		return ReportResultDTO{}, err
	}
	if req.Org == "" {
		return ReportResultDTO{}, &RequestError{Field: "--org", Reason: "is required: a report covers one organization"}
	}
	if req.Period == "" {
		return ReportResultDTO{}, &RequestError{Field: "--period", Reason: "is required: 2026-Q3, 2026-09 or FROM..TO"}
	}
	p, err := report.ParsePeriod(req.Period)
	if err == nil {
		err = periodBegun(p, a.opts.Now())
	}
	if err != nil {
		return ReportResultDTO{}, &RequestError{Field: "--period", Reason: err.Error()}
	}
	if req.OutDir == "" {
		return ReportResultDTO{}, &RequestError{Field: "--out", Reason: "is required: the folder the report is written in"}
	}
	// The report is recorded before its folder becomes visible (Write's
	// Record), so that a crash leaves no report the log does not know of;
	// even when the caller has just cancelled, as the folder is complete.
	record := func(res report.Result) error {
		files := make([]map[string]any, 0, len(res.Files))
		for _, f := range res.Files {
			files = append(files, map[string]any{"name": f.Name, "bytes": f.Bytes, "sha256": f.SHA256})
		}
		meta := map[string]any{
			"kind":   "report",
			"format": "report",
			"period": p.Label,
			"filter": map[string]any{"org": req.Org, "since": res.Report.Period.Since, "until": res.Report.Period.Until},
			"files":  files, "bytes": res.Bytes, "sha256": res.SumsSHA256, "revealStates": false,
			"count": res.Report.Evidence.Events, "report": filepath.Base(res.Dir),
		}
		var err error
		if v := res.Report.Integrity.Verification; v != nil {
			// The report ran a verification: like every verification run, it
			// is in the log (DESIGN.md §7).
			vmeta := map[string]any{"result": v.Result, "records": v.Records, "problems": v.Problems, "trigger": "report"}
			if cp := res.Report.Integrity.Checkpoint; cp != nil {
				vmeta["treeSize"] = cp.Size
			}
			err = a.recordSelf(context.WithoutCancel(ctx), req.Org, "audit.verified", vmeta)
		}
		if err == nil {
			err = a.recordSelf(context.WithoutCancel(ctx), req.Org, "audit.exported", meta)
		}
		if err != nil {
			return fmt.Errorf("%w; the report was removed because it could not be audited", err)
		}
		return nil
	}
	res, err := report.Write(ctx, st, report.WriteOptions{
		Options: report.Options{Org: req.Org, Period: p, Catalogue: a.catalogue,
			Integrity: report.StoreIntegrity{Store: st, Now: a.opts.Now},
			Retention: report.StoreRetention{Store: st, Catalogue: a.catalogue},
			Now:       a.opts.Now, User: a.opts.User, Version: a.opts.Version, CopiesOrg: SystemOrg},
		OutDir: req.OutDir,
		Evidence: report.ExportEvidence{Source: StoreExportSource(st), Exporter: a.opts.User,
			Version: a.opts.Version, Now: a.opts.Now},
		Chromium: req.Chromium,
		NoPDF:    req.NoPDF,
		Signer:   st,
		Record:   record,
	})
	if err != nil {
		return ReportResultDTO{}, err
	}
	r := res.Report
	return ReportResultDTO{Dir: res.Dir, PDF: r.Rendering.PDF, Note: r.Rendering.Note, Integrity: r.Integrity.Status,
		Events: r.Summary.Events, Evidence: r.Evidence.Events, Files: res.Files, Bytes: res.Bytes, SumsSHA256: res.SumsSHA256}, nil
}

func (c *cli) reportCommand() *cobra.Command {
	var req ReportRequest
	cmd := &cobra.Command{
		Use:   "report --org ORG --period PERIOD --out DIR",
		Short: "Write a compliance report of one organization for a period",
		Long: "Writes a new folder inside DIR, axiom-audit-report-<org>-<period>-<time>/ (-2,\n" +
			"-3, ... added when a report of the same second has that name), with\n" +
			"report.html (self-contained and printable), report.pdf (printed by headless\n" +
			"Chromium when it is installed), report.json (the same figures), the evidence\n" +
			"bundle of the period's material events in evidence/, and SHA256SUMS. The log\n" +
			"is verified as part of the report. The folder appears only when complete and\n" +
			"never replaces another. The report is recorded in the log (audit.exported,\n" +
			"kind report).\n\n" +
			"PERIOD is a quarter (2026-Q3), a month (2026-09) or FROM..TO, where FROM and TO\n" +
			"are dates (TO included: 2026-07-01..2026-09-30) or RFC 3339 times (TO excluded).",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			// Check the arguments before opening anything: a typo should
			// not wait for the keychain, nor for a verify of the log.
			switch {
			case req.Org == "":
				return &RequestError{Field: "--org", Reason: "is required: a report covers one organization"}
			case req.Period == "":
				return &RequestError{Field: "--period", Reason: "is required: 2026-Q3, 2026-09 or FROM..TO"}
			case req.OutDir == "":
				return &RequestError{Field: "--out", Reason: "is required: the folder the report is written in"}
			}
			p, err := report.ParsePeriod(req.Period)
			if err == nil {
				err = periodBegun(p, time.Now())
			}
			if err != nil {
				return &RequestError{Field: "--period", Reason: err.Error()}
			}
			a, closeApp, err := c.open(cmd)
			if errors.Is(err, storage.ErrLocked) {
				return explained(err, "%v: write the report from the app's Reports dialog, or wait for it to finish, or close it, and retry", err)
			}
			if err != nil {
				return err
			}
			defer closeApp()
			if fi, err := os.Stat(req.OutDir); err == nil && fi.IsDir() {
				// Not before a folder report.Write refuses before it verifies.
				fmt.Fprintf(cmd.ErrOrStderr(), "verifying the log of %s and writing the report…\n", req.Org)
			}
			ctx, stop := interruptible(cmd)
			defer stop()
			res, err := a.writeReport(ctx, req)
			if interruptedBy(cmd, ctx, err) {
				return errors.New("interrupted: no report was written, and what it had written is removed")
			}
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			fmt.Fprintln(w, res.Dir)
			fmt.Fprintf(w, "  %s in the period, %s in evidence/, integrity: %s\n", count(int64(res.Events), "event"), count(int64(res.Evidence), "material event"), res.Integrity)
			fmt.Fprintf(w, "  report.html, report.json")
			if res.PDF {
				fmt.Fprintf(w, ", report.pdf")
			}
			fmt.Fprintf(w, ", SHA256SUMS (sha256 %s), SHA256SUMS.sig\n", res.SumsSHA256)
			if !res.PDF && res.Note != "" {
				fmt.Fprintf(w, "  no PDF: %s\n", res.Note)
			}
			fmt.Fprintf(w, "check it with: axiom-audit verify-export %s\n", shellQuote(res.Dir))
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&req.Org, "org", "", "the organization `ORG` (required)")
	fl.StringVar(&req.Period, "period", "", "`PERIOD`: 2026-Q3, 2026-09 or FROM..TO (required)")
	fl.StringVar(&req.OutDir, "out", "", "the folder `DIR` the report folder is created in (required)")
	fl.StringVar(&req.Chromium, "chromium", "", "the Chromium or Chrome binary that prints the PDF (default: look for one)")
	fl.BoolVar(&req.NoPDF, "no-pdf", false, "write the HTML and JSON only")
	return cmd
}
