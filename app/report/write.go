package report

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/axiomops/axiom-audit/app/export"
	"github.com/axiomops/axiom-audit/storage"
)

// ErrExists: the report folder's name and every name after it (name-2, …
// name-999) are taken; a report never overwrites.
var ErrExists = errors.New("the report folder already exists")

// The files of a report folder.
const (
	FileHTML = "report.html"
	FilePDF  = "report.pdf"
	FileJSON = "report.json"
	FileSums = "SHA256SUMS"
	// FileSumsSig is the log key's signed statement of SHA256SUMS
	// (tlog.ReportHeader): what makes the report's figures evidence.
	FileSumsSig = "SHA256SUMS.sig"
)

// Signer signs the statement that a report of org has the SHA256SUMS
// whose SHA-256 is sum (storage.Store.SignReport).
type Signer interface {
	SignReport(ctx context.Context, org, sum string) ([]byte, error)
}

// WriteOptions configure Write.
type WriteOptions struct {
	Options
	// OutDir is an existing folder; the report folder is created inside.
	OutDir string
	// Evidence writes the evidence bundle; nil leaves it out (the report
	// says so).
	Evidence EvidenceWriter
	// Chromium is the browser that prints the PDF: a path, or empty to look
	// for one. NoPDF skips the PDF.
	Chromium string
	NoPDF    bool
	// Signer signs SHA256SUMS into SHA256SUMS.sig; nil leaves the report
	// unsigned.
	Signer Signer
	// Record, when set, records the report once its folder is complete
	// and synced, under the name it is about to have, before it is moved
	// there (export.Options.Record): a report is never visible unrecorded.
	// An error from it removes the report and is Write's error.
	Record func(Result) error
}

// Result describes a written report folder.
type Result struct {
	Dir    string // absolute path of the report folder
	Report *Report
	// Files lists every file of the folder (evidence included) with its
	// size and SHA-256, as in SHA256SUMS, which is not in the list.
	Files []EvidenceFile
	Bytes int64
	// SumsSHA256 is the SHA-256 of SHA256SUMS: one hash for the whole folder.
	SumsSHA256 string
	// Signed: SHA256SUMS.sig signs SHA256SUMS with the log's key.
	Signed bool
}

// FolderName is the name of a report folder: org, period and creation time.
func FolderName(org string, p Period, at string) string {
	t := strings.NewReplacer("-", "", ":", "").Replace(at)
	if i := strings.IndexByte(t, '.'); i >= 0 {
		t = t[:i] + "Z"
	}
	return "axiom-audit-report-" + org + "-" + p.Slug() + "-" + t
}

// MaterialCategories are the categories the catalogue keeps indefinitely.
func MaterialCategories(c *storage.Catalogue) []string {
	var out []string
	for _, t := range c.Types() {
		if t.Retention == storage.RetentionMaterial && !slices.Contains(out, t.Category) {
			out = append(out, t.Category)
		}
	}
	slices.Sort(out)
	return out
}

// Write makes a report folder inside opts.OutDir: the evidence bundle of
// the period's material events, report.json, report.html, report.pdf (when
// Chromium is available) and SHA256SUMS. It is written in a hidden
// temporary folder and renamed into place when complete; on error nothing
// is left behind, and an existing folder is never overwritten.
func Write(ctx context.Context, src EventSource, opts WriteOptions) (res Result, err error) {
	if err := opts.Options.defaults(); err != nil {
		return res, err
	}
	out, err := filepath.Abs(opts.OutDir)
	if err != nil {
		return res, err
	}
	if fi, err := os.Stat(out); err != nil {
		return res, fmt.Errorf("cannot write a report to %s: %w", opts.OutDir, err)
	} else if !fi.IsDir() {
		return res, fmt.Errorf("cannot write a report to %s: it is not a folder", opts.OutDir)
	}
	created := opts.Now()
	opts.Now = func() time.Time { return created }
	tmp, done, err := export.MakePartial(out, ".axiom-audit-report-")
	if err != nil {
		return res, fmt.Errorf("cannot create a folder in %s: %w", out, err)
	}
	defer done()

	// The evidence first, so that the checkpoint it was signed against is
	// the newest one when the report reads it.
	var evidence EvidenceInfo
	if opts.Evidence != nil {
		evidence, err = opts.Evidence.WriteEvidence(ctx, tmp, EvidenceRequest{Org: opts.Org, Since: opts.Period.Since,
			Until: opts.Period.Until, Categories: MaterialCategories(opts.Catalogue)})
		if err != nil {
			return res, err
		}
	} else {
		evidence = EvidenceInfo{Files: []EvidenceFile{}, Note: "This report was made without an evidence bundle."}
	}
	r, err := Build(ctx, src, opts.Options)
	if err != nil {
		return res, err
	}
	r.Evidence = evidence

	chromium := ""
	r.Rendering = Rendering{HTML: true}
	switch {
	case opts.NoPDF:
		r.Rendering.Note = "report.pdf was not requested."
	default:
		chromium, err = FindChromium(opts.Chromium)
		if err != nil {
			r.Rendering.Note = "report.pdf was not produced: Chromium is not installed. Open report.html in a browser and print it to PDF."
			err = nil
		} else {
			r.Rendering.PDF = true
		}
	}
	if err := writeRendered(tmp, r); err != nil {
		return res, err
	}
	if chromium != "" {
		if perr := PrintPDF(ctx, chromium, filepath.Join(tmp, FileHTML), filepath.Join(tmp, FilePDF)); perr != nil {
			if ctx.Err() != nil {
				return res, ctx.Err()
			}
			os.Remove(filepath.Join(tmp, FilePDF))
			r.Rendering = Rendering{HTML: true, Note: "report.pdf was not produced: " + perr.Error()}
			if err := writeRendered(tmp, r); err != nil {
				return res, err
			}
		}
	}
	files, sums, err := checksum(tmp)
	if err != nil {
		return res, err
	}
	if err := writeFile(filepath.Join(tmp, FileSums), sums); err != nil {
		return res, err
	}
	sumsHash := sha256.Sum256(sums)
	if opts.Signer != nil {
		sig, err := opts.Signer.SignReport(ctx, opts.Org, hex.EncodeToString(sumsHash[:]))
		if err != nil {
			return res, fmt.Errorf("failed to sign the report: %w", err)
		}
		if err := writeFile(filepath.Join(tmp, FileSumsSig), sig); err != nil {
			return res, err
		}
	}
	if err := syncDir(tmp); err != nil {
		return res, err
	}
	res = Result{Report: r, Files: files, SumsSHA256: hex.EncodeToString(sumsHash[:]), Signed: opts.Signer != nil}
	for _, f := range files {
		res.Bytes += f.Bytes
	}
	res.Bytes += int64(len(sums))
	name := FolderName(opts.Org, opts.Period, ts(created))
	var target string
	if opts.Record == nil {
		target, err = export.Place(tmp, out, name)
	} else {
		target, err = export.PlaceRecorded(tmp, out, name, func(dir string) error {
			rec := res
			rec.Dir = dir
			return opts.Record(rec)
		})
	}
	if errors.Is(err, export.ErrExists) {
		return Result{}, fmt.Errorf("%s and the names after it (-2 … -999) are taken: %w", filepath.Join(out, name), ErrExists)
	}
	if err != nil {
		return Result{}, err
	}
	if err := syncDir(out); err != nil {
		os.RemoveAll(target)
		return Result{}, fmt.Errorf("failed to sync %s, and the report was removed: %w", out, err)
	}
	res.Dir = target
	return res, nil
}

// MarshalJSON writes report.json: indented, with a final newline, so that
// it diffs well and golden files stay readable.
func MarshalJSON(r *Report) ([]byte, error) {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

func writeRendered(dir string, r *Report) error {
	j, err := MarshalJSON(r)
	if err != nil {
		return fmt.Errorf("failed to encode report.json: %w", err)
	}
	if err := writeFile(filepath.Join(dir, FileJSON), j); err != nil {
		return err
	}
	var h bytes.Buffer
	if err := WriteHTML(&h, r); err != nil {
		return err
	}
	return writeFile(filepath.Join(dir, FileHTML), h.Bytes())
}

// writeFile writes and syncs a file (replacing one the same write made
// before, when a failed PDF makes the report say so).
func writeFile(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("failed to write %s: %w", path, err)
	}
	return nil
}

// checksum hashes every file under dir, sorted by path, as sha256sum
// would list them.
func checksum(dir string) ([]EvidenceFile, []byte, error) {
	var files []EvidenceFile
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		h := sha256.New()
		n, err := io.Copy(h, f)
		if err != nil {
			return fmt.Errorf("failed to hash %s: %w", path, err)
		}
		files = append(files, EvidenceFile{Name: filepath.ToSlash(rel), Bytes: n, SHA256: hex.EncodeToString(h.Sum(nil))})
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	slices.SortFunc(files, func(a, b EvidenceFile) int { return strings.Compare(a.Name, b.Name) })
	var sums bytes.Buffer
	for _, f := range files {
		fmt.Fprintf(&sums, "%s  %s\n", f.SHA256, f.Name)
	}
	return files, sums.Bytes(), nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, os.ErrInvalid) {
		return fmt.Errorf("failed to sync %s: %w", dir, err)
	}
	return nil
}
