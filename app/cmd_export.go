package app

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
	"unicode/utf16"

	"github.com/spf13/cobra"
	"golang.org/x/mod/sumdb/note"

	"github.com/axiomops/axiom-audit/app/export"
	"github.com/axiomops/axiom-audit/app/report"
	"github.com/axiomops/axiom-audit/storage"
	"github.com/axiomops/axiom-audit/storage/tlog"
)

// ExportRequest is an export as the CLI and the Export dialog ask for it:
// the current filter, a format, a folder and whether states leave the log.
type ExportRequest struct {
	Query            QueryDTO `json:"query"`
	Format           string   `json:"format"`
	OutDir           string   `json:"outDir"`
	IncludeSensitive bool     `json:"includeSensitive"`
}

// ExportProgressDTO is one progress report of a running export (at most ten
// a second).
type ExportProgressDTO struct {
	Events     int64 `json:"events"`
	Total      int64 `json:"total"`
	Bytes      int64 `json:"bytes"`
	ETASeconds int64 `json:"etaSeconds"`
}

// ExportResultDTO describes a written evidence bundle.
type ExportResultDTO struct {
	Dir              string        `json:"dir"`
	Format           string        `json:"format"`
	Count            int64         `json:"count"`
	FirstSeq         uint64        `json:"firstSeq"`
	LastSeq          uint64        `json:"lastSeq"`
	Bytes            int64         `json:"bytes"`
	IncludeSensitive bool          `json:"includeSensitive"`
	Files            []export.File `json:"files"`
	// Pruned is the bundle's pruned.json: the events of the filter that
	// retention had pruned before the export.
	Pruned *export.Pruned `json:"pruned,omitempty"`
}

// exportEvidence writes an evidence bundle of the events matching
// req.Query and records audit.exported (who, when, filter, format, files,
// bytes, SHA-256, and whether states were revealed). Cancelling ctx stops
// it and leaves no bundle; progress, when set, is called at most ten times a
// second. If the export cannot be audited its bundle is removed: the log
// never lets data out silently. The Export dialog's binding wraps this.
func (a *App) exportEvidence(ctx context.Context, req ExportRequest, progress func(ExportProgressDTO)) (ExportResultDTO, error) {
	st, err := a.storeOrErr()
	if err != nil {
		return ExportResultDTO{}, err
	}
	format, err := export.ParseFormat(req.Format)
	if err != nil {
		return ExportResultDTO{}, &RequestError{Field: "format", Reason: export.UnknownFormat(req.Format)}
	}
	if req.OutDir == "" {
		return ExportResultDTO{}, &RequestError{Field: "outDir", Reason: "is required: the folder the bundle is written in"}
	}
	f, err := a.filter(req.Query)
	if err != nil {
		return ExportResultDTO{}, err
	}
	opts := export.Options{Org: f.Org, Filter: f, Format: format, OutDir: req.OutDir,
		IncludeSensitive: req.IncludeSensitive, Exporter: a.opts.User, ToolVersion: a.opts.Version,
		Catalogue: a.catalogue, Now: a.opts.Now}
	if progress != nil {
		opts.Progress = func(p export.Progress) {
			progress(ExportProgressDTO{Events: p.Events, Total: p.Total, Bytes: p.Bytes, ETASeconds: int64(p.ETA / time.Second)})
		}
	}
	// The export is recorded before its bundle becomes visible (Write's
	// Record): a crash leaves no bundle the log does not know of. It must
	// be recorded even when the caller has just cancelled: the bundle is
	// complete by then.
	opts.Record = func(res export.Result) error {
		files := make([]map[string]any, 0, len(res.Files))
		for _, fl := range res.Files {
			files = append(files, map[string]any{"name": fl.Name, "bytes": fl.Bytes, "sha256": fl.SHA256})
		}
		var filter map[string]any
		if b, err := json.Marshal(res.Manifest.Filter); err == nil {
			_ = json.Unmarshal(b, &filter)
		}
		meta := map[string]any{
			"filter": filter, "format": string(format), "files": files, "bytes": res.Bytes,
			"sha256": res.ManifestSHA256, "revealStates": req.IncludeSensitive,
			"count": res.Count, "firstSeq": res.FirstSeq, "lastSeq": res.LastSeq,
			"bundle": filepath.Base(res.Dir),
		}
		if err := a.recordSelf(context.WithoutCancel(ctx), f.Org, "audit.exported", meta); err != nil {
			return fmt.Errorf("%w; the bundle was removed because its export could not be audited", err)
		}
		return nil
	}
	res, err := export.Write(ctx, StoreExportSource(st), opts)
	if err != nil {
		return ExportResultDTO{}, err
	}
	return ExportResultDTO{Dir: res.Dir, Format: string(format), Count: res.Count, FirstSeq: res.FirstSeq,
		LastSeq: res.LastSeq, Bytes: res.Bytes, IncludeSensitive: req.IncludeSensitive, Files: res.Files, Pruned: res.Pruned}, nil
}

// StoreExportSource adapts the audit store to export.Source.
func StoreExportSource(st *storage.Store) export.Source { return storeSource{st} }

type storeSource struct{ st *storage.Store }

func (s storeSource) List(ctx context.Context, f storage.Filter) (storage.Page, error) {
	return s.st.List(ctx, f)
}

func (s storeSource) Checkpoint(ctx context.Context, org string) (export.SignedCheckpoint, error) {
	sc, err := s.st.Checkpoint(ctx, org)
	if errors.Is(err, storage.ErrNotFound) {
		return export.SignedCheckpoint{}, fmt.Errorf("organization %q has no events to export: %w", org, err)
	}
	return export.SignedCheckpoint{Checkpoint: sc.Checkpoint, Note: sc.Note}, err
}

func (s storeSource) ScanRecords(ctx context.Context, f storage.Filter, maxSeq uint64, decryptStates bool, fn func(*storage.StoredEvent) error) error {
	return s.st.ScanRecords(ctx, f, maxSeq, decryptStates, fn)
}

func (s storeSource) RetentionHistory(ctx context.Context, org string) ([]storage.RetentionPolicy, error) {
	return s.st.RetentionHistory(ctx, org)
}

func (s storeSource) ScanRecordsAndPruned(ctx context.Context, f storage.Filter, maxSeq uint64, decryptStates bool,
	fn func(*storage.StoredEvent) error, pruned func(*storage.PrunedEvent) error) error {
	return s.st.ScanRecordsAndPruned(ctx, f, maxSeq, decryptStates, fn, pruned)
}

func (s storeSource) TreeNodes(org string) tlog.NodeReader { return s.st.TreeNodes(org) }

func (s storeSource) PublicKey(ctx context.Context) (string, error) { return s.st.PublicKey(ctx) }

func (s storeSource) SignManifest(ctx context.Context, org, sum string) ([]byte, error) {
	return s.st.SignManifest(ctx, org, sum)
}

func (s storeSource) InclusionProof(ctx context.Context, org, id string, treeSize uint64) (export.Proof, error) {
	p, err := s.st.InclusionProof(ctx, org, id, treeSize)
	return export.Proof{LeafIndex: p.LeafIndex, TreeSize: p.TreeSize, LeafHash: p.LeafHash, Hashes: p.Hashes}, err
}

func (s storeSource) RevealStates(ctx context.Context, org, id string) (storage.RevealedState, error) {
	return s.st.RevealStates(ctx, org, id)
}

// Count sums the category facet, which the hourly counters answer for
// time-only filters.
func (s storeSource) Count(ctx context.Context, f storage.Filter) (int64, error) {
	facets, err := s.st.Facets(ctx, f)
	if err != nil {
		return 0, err
	}
	var n int64
	for _, c := range facets[storage.FacetCategory] {
		n += c
	}
	return n, nil
}

func (c *cli) exportCommand() *cobra.Command {
	var q queryFlags
	var format, out string
	var sensitive, showProgress bool
	cmd := &cobra.Command{
		Use:   "export --org ORG --format FORMAT --out DIR [filters]",
		Short: "Write an evidence bundle an auditor can verify offline",
		Long: "Writes the events matching the filters to a new folder\n" +
			"axiom-audit-export-<org>-<UTC time> inside DIR (-2, -3, ... added when an export\n" +
			"of the same second has that name): the events file, proofs.jsonl (one inclusion\n" +
			"proof per event), pruned.json (what retention had pruned of the filter),\n" +
			"checkpoint.txt, public-key.txt, manifest.json and manifest.sig.\n" +
			"The folder appears only when complete. States are withheld (only their\n" +
			"commitments are exported) unless --include-sensitive is given. The export is\n" +
			"recorded in the log as audit.exported. Check a bundle with verify-export.\n\n" +
			"Formats: csv, jsonl, json, ocsf, cef, splunk-hec, ecs.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if format == "" {
				return &RequestError{Field: "--format", Reason: "is required: csv, jsonl, json, ocsf, cef, splunk-hec or ecs"}
			}
			if out == "" {
				return &RequestError{Field: "--out", Reason: "is required: the folder to write the bundle in"}
			}
			d, err := q.dto(time.Now())
			if err != nil {
				return err
			}
			a, closeApp, err := c.open(cmd)
			if errors.Is(err, storage.ErrLocked) {
				return explained(err, "%v: export from the app's Export dialog, or wait for it to finish, or close it, and retry", err)
			}
			if err != nil {
				return err
			}
			defer closeApp()
			stderr := cmd.ErrOrStderr()
			var progress func(ExportProgressDTO)
			if showProgress || isTerminal(stderr) {
				progress = func(p ExportProgressDTO) {
					msg := fmt.Sprintf("\rexporting: %d", p.Events)
					if p.Total > 0 {
						msg += fmt.Sprintf(" of %d events", p.Total)
					} else {
						msg += " events"
					}
					msg += fmt.Sprintf(", %s", humanBytes(p.Bytes))
					if p.ETASeconds > 0 {
						msg += fmt.Sprintf(", about %s left", time.Duration(p.ETASeconds)*time.Second)
					}
					fmt.Fprint(stderr, msg+"   ")
				}
			}
			ctx, stop := interruptible(cmd)
			defer stop()
			res, err := a.exportEvidence(ctx, ExportRequest{Query: d, Format: format, OutDir: out, IncludeSensitive: sensitive}, progress)
			if progress != nil {
				fmt.Fprintln(stderr)
			}
			if interruptedBy(cmd, ctx, err) {
				return errors.New("interrupted: no bundle was written, and what the export had written is removed")
			}
			if err != nil {
				// Name the flag that set a bad filter value (--status).
				return flagError(err)
			}
			w := cmd.OutOrStdout()
			fmt.Fprintln(w, res.Dir)
			states := "withheld (commitments only)"
			if res.IncludeSensitive {
				states = "REVEALED (salts and plaintexts included)"
			}
			seqs := "none"
			if res.Count > 0 {
				seqs = fmt.Sprintf("%d to %d", res.FirstSeq, res.LastSeq)
			}
			fmt.Fprintf(w, "  %s of %s (seq %s), format %s, states %s\n", count(int64(res.Count), "event"), d.Org, seqs, res.Format, states)
			if res.Pruned != nil {
				fmt.Fprintf(w, "  %s (%s)\n", res.Pruned, export.PrunedFile)
			}
			for _, f := range res.Files {
				fmt.Fprintf(w, "  %-16s %12d bytes  sha256 %s\n", f.Name, f.Bytes, f.SHA256)
			}
			fmt.Fprintf(w, "check it with: axiom-audit verify-export %s\n", shellQuote(res.Dir))
			return nil
		},
	}
	q.register(cmd)
	// Evidence reads oldest first; --order newest still works.
	if o := cmd.Flags().Lookup("order"); o != nil {
		o.DefValue = "oldest"
		_ = o.Value.Set("oldest")
	}
	fl := cmd.Flags()
	fl.StringVar(&format, "format", "", "csv, jsonl, json, ocsf, cef, splunk-hec or ecs")
	fl.StringVar(&out, "out", "", "write the bundle inside `DIR`")
	fl.BoolVar(&sensitive, "include-sensitive", false, "reveal before/after states (salt and plaintext); recorded in the audit event")
	fl.BoolVar(&showProgress, "progress", false, "print progress to stderr even when it is not a terminal")
	return cmd
}

func (c *cli) verifyExportCommand() *cobra.Command {
	var asJSON, unsigned bool
	var key, org string
	cmd := &cobra.Command{
		Use:   "verify-export DIR",
		Short: "Verify an evidence bundle or a compliance report offline (no keychain, no database)",
		Long: "Checks an evidence bundle written by export: the size and SHA-256 of every file,\n" +
			"every event's leaf hash and inclusion proof against the signed checkpoint, the\n" +
			"checkpoint's signature, every revealed state's commitment, and that the events\n" +
			"file holds the proved events, and the manifest's signature (the filter, the\n" +
			"totals and every file's hash, as exported). Exit status 0: it verifies; 1: problems, one per\n" +
			"line; 2: the command was used wrongly. With --public-key the bundle must be\n" +
			"signed by that key (obtained from the log's owner), not just by its own; give\n" +
			"the key itself or a file holding it.\n\n" +
			"Given a report folder (written by report), it checks its evidence bundle, every\n" +
			"file against SHA256SUMS, and SHA256SUMS.sig: that the log's key signed them.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			w := cmd.OutOrStdout()
			if key != "" {
				var err error
				if key, err = trustedKey(key); err != nil {
					return err
				}
			}
			opts := export.VerifyOptions{TrustedKey: key, AllowUnsignedManifest: unsigned}
			if !asJSON {
				opts.OnProblem = func(p export.Problem) { fmt.Fprintln(w, p.String()) }
			}
			if report.IsFolder(args[0]) {
				return verifyReportFolder(cmd, args[0], report.VerifyOptions{TrustedKey: key, AllowUnsigned: unsigned}, org, asJSON)
			}
			if err := notABundle(args[0]); err != nil {
				return err
			}
			rep, err := export.Verify(cmd.Context(), args[0], opts)
			if err != nil {
				return err
			}
			if asJSON {
				enc := json.NewEncoder(w)
				enc.SetIndent("", "  ")
				if err := enc.Encode(rep); err != nil {
					return err
				}
			}
			if !rep.OK {
				return &ExitError{Code: 1, Err: fmt.Errorf("%s does not verify: %s", args[0], count(int64(rep.ProblemCount), "problem"))}
			}
			// One key signs every organization's bundles: the name of the
			// folder proves nothing, the signed organization does.
			if org != "" && rep.Org != org {
				return &ExitError{Code: 1, Err: fmt.Errorf("%s verifies, but it is a bundle of organization %s, not %s", args[0], rep.Org, org)}
			}
			if !asJSON {
				fmt.Fprintf(w, "OK: %s of %s verified against checkpoint %d of %s (%s checked)\n",
					count(int64(rep.Events), "event"), rep.Org, rep.Checkpoint.TreeSize, rep.Checkpoint.Origin, count(int64(rep.Revealed), "revealed state"))
				if rep.Filter != nil {
					fmt.Fprintf(w, "exported: %s\n", rep.Filter)
				}
				if rep.Pruned != nil {
					fmt.Fprintf(w, "%s (%s, signed with the manifest)\n", rep.Pruned, export.PrunedFile)
				}
				if len(rep.Ignored) > 0 {
					fmt.Fprintf(w, "ignored, as files the system or an open editor adds to folders: %s\n", strings.Join(rep.Ignored, ", "))
				}
				if key == "" {
					fmt.Fprintf(w, "signed by %s; compare it with the key the log's owner gave you, or pass --public-key\n", rep.PublicKey)
				}
				if rep.ManifestSigned && rep.Pruned != nil && rep.Pruned.Count > 0 {
					fmt.Fprintln(w, "the manifest is signed with that key too: the bundle holds what was exported, every event its filter matched up to the checkpoint that retention had not pruned")
				} else if rep.ManifestSigned {
					fmt.Fprintln(w, "the manifest is signed with that key too: the bundle holds what was exported, every event its filter matched up to the checkpoint")
				} else {
					fmt.Fprintln(w, "the manifest is not signed (a version 1 or 2 bundle, written before version 3 or made to look like one), which --allow-unsigned-manifest accepted: each event in the bundle is proved, but not that none was taken out (see README: Verifying an export)")
				}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the report as JSON")
	cmd.Flags().StringVar(&key, "public-key", "", "the verifier `KEY` the bundle must be signed with, or a file holding it (as 'checkpoint --public-key' prints it)")
	cmd.Flags().BoolVar(&unsigned, "allow-unsigned-manifest", false, "accept a bundle whose manifest is not signed (written before version 3): each event is proved, but not that none was taken out")
	// Refusing them is the default now; the flag stays for scripts that pass it.
	cmd.Flags().Bool("require-signed-manifest", true, "refuse a bundle whose manifest is not signed (the default)")
	cmd.Flags().MarkHidden("require-signed-manifest")
	cmd.MarkFlagsMutuallyExclusive("allow-unsigned-manifest", "require-signed-manifest")
	cmd.Flags().StringVar(&org, "org", "", "refuse (exit 1) a bundle of any organization but `ORG`")
	return cmd
}

// verifyReportFolder is verify-export of a report folder.
func verifyReportFolder(cmd *cobra.Command, dir string, opts report.VerifyOptions, org string, asJSON bool) error {
	w := cmd.OutOrStdout()
	c, err := report.VerifyFolder(cmd.Context(), dir, opts)
	if err != nil {
		return err
	}
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		if err := enc.Encode(c); err != nil {
			return err
		}
	} else {
		for _, p := range c.Problems {
			fmt.Fprintln(w, p.String())
		}
	}
	if !c.OK {
		return &ExitError{Code: 1, Err: fmt.Errorf("%s does not verify: %s", dir, count(int64(len(c.Problems)), "problem"))}
	}
	if org != "" && c.Evidence.Org != org {
		return &ExitError{Code: 1, Err: fmt.Errorf("%s verifies, but it is a report of organization %s, not %s", dir, c.Evidence.Org, org)}
	}
	if asJSON {
		return nil
	}
	fmt.Fprintf(w, "OK: report of %s for %s (from %s to %s, excluded): %s as SHA256SUMS lists them; its evidence, %s, verified against checkpoint %d of %s\n",
		c.Evidence.Org, c.Period.Label, c.Period.Since, c.Period.Until, count(int64(c.Files), "file"), count(c.Evidence.Events, "event"),
		c.Evidence.Checkpoint.TreeSize, c.Evidence.Checkpoint.Origin)
	if opts.TrustedKey == "" {
		fmt.Fprintf(w, "signed by %s; compare it with the key the log's owner gave you, or pass --public-key\n", c.Evidence.PublicKey)
	}
	fmt.Fprintln(w, "SHA256SUMS is signed with that key: every file it lists, the report's and the evidence's, is as the log's owner made it")
	if len(c.Ignored) > 0 {
		fmt.Fprintf(w, "ignored, as files the system or an open editor adds to folders: %s\n", strings.Join(c.Ignored, ", "))
	}
	return nil
}

// notABundle is a usage error (exit 2) when dir holds none of a bundle's
// files, and says where the bundle is when it can see one: a signed
// report folder, an unsigned one's evidence/, or the bundles in a folder
// of several. A bundle
// that lost its manifest but holds the others is tampered with: Verify
// says so (exit 1).
func notABundle(dir string) error {
	for _, name := range []string{export.ManifestFile, export.ManifestSigFile, export.CheckpointFile, export.ProofsFile} {
		if _, err := os.Lstat(filepath.Join(dir, name)); err == nil {
			return nil
		}
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return &RequestError{Field: "DIR", Reason: err.Error()}
	}
	if !fi.IsDir() {
		return &RequestError{Field: "DIR", Reason: dir + " is a file: give the bundle's folder (the one holding manifest.json)"}
	}
	var bundles []string
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if _, err := os.Stat(filepath.Join(dir, e.Name(), export.ManifestFile)); err == nil && e.IsDir() {
			bundles = append(bundles, e.Name())
		} else if _, err := os.Stat(filepath.Join(dir, e.Name(), report.FileSumsSig)); err == nil && e.IsDir() {
			// A signed report folder is verified whole (its figures
			// too), not only its evidence.
			bundles = append(bundles, e.Name())
		} else if _, err := os.Stat(filepath.Join(dir, e.Name(), "evidence", export.ManifestFile)); err == nil && e.IsDir() {
			bundles = append(bundles, filepath.Join(e.Name(), "evidence"))
		}
	}
	switch {
	case len(bundles) == 1:
		return &RequestError{Field: "DIR", Reason: fmt.Sprintf("%s is not a bundle but holds one: axiom-audit verify-export %s", dir, shellQuote(filepath.Join(dir, bundles[0])))}
	case len(bundles) > 1:
		return &RequestError{Field: "DIR", Reason: fmt.Sprintf("%s is not a bundle but holds %d: verify each, such as axiom-audit verify-export %s",
			dir, len(bundles), shellQuote(filepath.Join(dir, bundles[0])))}
	}
	return &RequestError{Field: "DIR", Reason: dir + " is not an evidence bundle: it holds no manifest.json (export writes one into each bundle folder)"}
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

func shellQuote(s string) string {
	if !strings.ContainsAny(s, " \t\n'\"\\$`!*?[]{}()<>|&;#~") {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// trustedKey is the verifier key arg names: the key itself, or a file
// holding it (what 'checkpoint --public-key' prints, perhaps redirected to
// a file). Anything else is a usage error (exit 2), not a bundle problem.
func trustedKey(arg string) (string, error) {
	// Pasted, a key often brings spaces or a line end along.
	if k := strings.TrimSpace(arg); k != "" {
		if _, err := note.NewVerifier(k); err == nil {
			return k, nil
		}
	}
	if _, err := os.Stat(arg); err != nil {
		return "", &RequestError{Field: "--public-key", Reason: fmt.Sprintf("is neither a verifier key (the output of 'axiom-audit checkpoint --org ORG --public-key') nor a file holding one: %v", err)}
	}
	return verifierKeyIn(arg)
}

// keyFileText is the text of a key file as editors and shells on every
// system save it: UTF-8 with or without a byte order mark, or UTF-16 with
// one (what PowerShell 5's > writes).
func keyFileText(b []byte) string {
	switch {
	case bytes.HasPrefix(b, []byte{0xef, 0xbb, 0xbf}):
		return string(b[3:])
	case len(b) >= 2 && (b[0] == 0xff && b[1] == 0xfe || b[0] == 0xfe && b[1] == 0xff):
		var order binary.ByteOrder = binary.LittleEndian
		if b[0] == 0xfe {
			order = binary.BigEndian
		}
		u := make([]uint16, 0, len(b)/2)
		for i := 2; i+1 < len(b); i += 2 {
			u = append(u, order.Uint16(b[i:]))
		}
		return string(utf16.Decode(u))
	}
	return string(b)
}

// verifierKeyIn is the verifier key the file at path holds, as 'checkpoint
// --public-key' prints it; a file that holds none is a usage error of
// --public-key.
func verifierKeyIn(path string) (string, error) {
	text, err := readSmallFile(path, 4<<10)
	if err != nil {
		return "", &RequestError{Field: "--public-key", Reason: err.Error()}
	}
	key := strings.TrimSpace(keyFileText(text))
	if _, err := note.NewVerifier(key); err != nil {
		return "", &RequestError{Field: "--public-key", Reason: fmt.Sprintf("%s does not hold a verifier key (the output of 'axiom-audit checkpoint --org ORG --public-key'): %v", path, err)}
	}
	return key, nil
}
