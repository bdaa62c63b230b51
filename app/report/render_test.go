package report

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/axiomops/axiom-audit/app/export"
	"github.com/axiomops/axiom-audit/storage"
)

// needTool returns the path of a binary the rendering tests need. They may
// skip only outside make test (AXIOM_TEST_KEYCHAIN unset) when the binary
// is missing; make test installs it, so there it is a failure.
func needTool(t *testing.T, find func() (string, error), name string) string {
	t.Helper()
	p, err := find()
	if err == nil {
		return p
	}
	if os.Getenv("AXIOM_TEST_KEYCHAIN") == "" {
		t.Skipf("%s is not installed (make test installs it): %v", name, err)
	}
	t.Fatalf("%s is required under make test: %v", name, err)
	return ""
}

func chromiumPath(t *testing.T) string {
	return needTool(t, func() (string, error) { return FindChromium("") }, "chromium")
}

func pdftoppmPath(t *testing.T) string {
	return needTool(t, func() (string, error) { return exec.LookPath("pdftoppm") }, "pdftoppm (poppler-utils)")
}

// TestWrite_Folder writes a whole report folder from a real store: the
// evidence bundle (verified offline), the store's own verification, the
// PDF, and SHA256SUMS over everything.
func TestWrite_Folder(t *testing.T) {
	chromium := chromiumPath(t)
	ctx := context.Background()
	st := demoStore(t)
	out := t.TempDir()
	res, err := Write(ctx, st, WriteOptions{
		Options:  Options{Org: testOrg, Period: testPeriod, Integrity: StoreIntegrity{Store: st}, User: "tester", Version: "1.2.3", Now: func() time.Time { return testNow }},
		OutDir:   out,
		Evidence: ExportEvidence{Source: exportSource(st), Exporter: "tester", Version: "1.2.3"},
		Chromium: chromium,
	})
	if err != nil {
		t.Fatalf("Write: %v", err)
	}
	if want := filepath.Join(out, "axiom-audit-report-acme-prod-2026-Q3-20261006T093000Z"); res.Dir != want {
		t.Errorf("folder %s, want %s", res.Dir, want)
	}
	entries, _ := os.ReadDir(out)
	if len(entries) != 1 {
		t.Errorf("the output folder holds %d entries, want only the report (no temporary folder left)", len(entries))
	}
	for _, name := range []string{FileHTML, FilePDF, FileJSON, FileSums, "evidence/manifest.json"} {
		if fi, err := os.Stat(filepath.Join(res.Dir, name)); err != nil || fi.Size() == 0 {
			t.Errorf("%s: %v", name, err)
		}
	}
	checkSums(t, res.Dir, res.SumsSHA256)

	var r Report
	b, _ := os.ReadFile(filepath.Join(res.Dir, FileJSON))
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	if r.Integrity.Status != "verified" || r.Integrity.Checkpoint == nil || r.Integrity.Verification == nil ||
		r.Integrity.Verification.Records == 0 || r.Integrity.Checkpoint.Size == 0 {
		t.Errorf("integrity: %+v", r.Integrity)
	}
	if !r.Rendering.PDF || !r.Rendering.HTML {
		t.Errorf("rendering: %+v", r.Rendering)
	}
	cat, _ := storage.LoadCatalogue()
	facets, err := st.Facets(ctx, storage.Filter{Org: testOrg, Since: testPeriod.Since, Until: testPeriod.Until, Categories: MaterialCategories(cat)})
	if err != nil {
		t.Fatal(err)
	}
	var material int64
	for _, n := range facets[storage.FacetCategory] {
		material += n
	}
	if r.Evidence.Events != material || r.Evidence.Events != r.Summary.MaterialEvents || r.Evidence.Folder != "evidence" {
		t.Errorf("evidence holds %d events in %q, want the %d material events", r.Evidence.Events, r.Evidence.Folder, material)
	}
	rep, err := export.Verify(ctx, filepath.Join(res.Dir, "evidence"), export.VerifyOptions{})
	if err != nil || !rep.OK || rep.Events != material {
		t.Errorf("the evidence bundle does not verify offline: %v %+v", err, rep)
	}
	if rep == nil || rep.Pruned == nil {
		t.Errorf("the evidence bundle does not say what retention pruned (pruned.json, version 4)")
	}

	html, _ := os.ReadFile(filepath.Join(res.Dir, FileHTML))
	checkSelfContained(t, html)
	for _, want := range []string{"Compliance report", "acme-prod", "The log verified clean", "Events per week by category",
		"Apply outcomes", "Risk distribution", "CC8.1", "A.8.32", "retention: default policy", "multi-party",
		"1 of the 2 exports held decrypted states", "decrypted states</span>"} {
		if !bytes.Contains(bytes.ToLower(html), bytes.ToLower([]byte(want))) {
			t.Errorf("report.html does not say %q", want)
		}
	}

	// The PDF, page by page, into the artifacts for people to look at.
	pdftoppm := pdftoppmPath(t)
	dir := artifacts(t)
	old, _ := filepath.Glob(filepath.Join(dir, "pdf-page-*.png"))
	for _, f := range old {
		os.Remove(f)
	}
	cmd := exec.Command(pdftoppm, "-png", "-r", "70", filepath.Join(res.Dir, FilePDF), filepath.Join(dir, "pdf-page"))
	if outb, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("pdftoppm: %v: %s", err, outb)
	}
	pages, _ := filepath.Glob(filepath.Join(dir, "pdf-page-*.png"))
	if len(pages) < 1 {
		t.Fatal("pdftoppm made no page of report.pdf")
	}
	t.Logf("report.pdf has %d pages, in %s", len(pages), dir)
	for i, p := range pages {
		if i > 1 {
			break
		}
		if colours := distinctColours(t, p); colours < 8 {
			t.Errorf("page %s has %d colours: blank?", p, colours)
		}
	}
	// And the HTML as a screen shows it.
	shot := filepath.Join(dir, "report-screen.png")
	if err := Screenshot(ctx, chromium, filepath.Join(res.Dir, FileHTML), shot, 1280, 2400); err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	if colours := distinctColours(t, shot); colours < 8 {
		t.Errorf("the screenshot has %d colours: blank?", colours)
	}
	if err := copyFile(filepath.Join(res.Dir, FilePDF), filepath.Join(dir, "report.pdf")); err != nil {
		t.Fatal(err)
	}
	if err := copyFile(filepath.Join(res.Dir, FileHTML), filepath.Join(dir, "report.html")); err != nil {
		t.Fatal(err)
	}

	// A second report of the same second never overwrites the first: it
	// gets the next free name.
	again, err := Write(ctx, st, WriteOptions{Options: Options{Org: testOrg, Period: testPeriod, Now: func() time.Time { return testNow }}, OutDir: out, NoPDF: true})
	if err != nil || again.Dir != res.Dir+"-2" {
		t.Errorf("second Write: %q, %v; want %s-2", again.Dir, err, res.Dir)
	}
	if _, err := os.Stat(filepath.Join(res.Dir, FilePDF)); err != nil {
		t.Errorf("the first report lost its PDF: %v", err)
	}
}

// TestWrite_WithoutChromium: no browser means HTML alone, said in
// report.json and in the HTML.
func TestWrite_WithoutChromium(t *testing.T) {
	st := demoStore(t)
	res, err := Write(context.Background(), st, WriteOptions{
		Options:  Options{Org: testOrg, Period: testPeriod, Now: func() time.Time { return testNow }},
		OutDir:   t.TempDir(),
		Chromium: filepath.Join(t.TempDir(), "no-such-chromium"),
	})
	if err != nil {
		t.Fatalf("Write: %v", err)
	}
	if _, err := os.Stat(filepath.Join(res.Dir, FilePDF)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("report.pdf: %v, want none", err)
	}
	r := res.Report
	if r.Rendering.PDF || !strings.Contains(r.Rendering.Note, "Chromium is not installed") {
		t.Errorf("rendering: %+v", r.Rendering)
	}
	if r.Integrity.Status != "unavailable" || r.Evidence.Folder != "" {
		t.Errorf("integrity %q, evidence %q: want unavailable and none", r.Integrity.Status, r.Evidence.Folder)
	}
	html, _ := os.ReadFile(filepath.Join(res.Dir, FileHTML))
	if !bytes.Contains(html, []byte("Chromium is not installed")) {
		t.Error("report.html does not say why there is no PDF")
	}
	checkSums(t, res.Dir, res.SumsSHA256)
}

func checkSums(t *testing.T, dir, want string) {
	t.Helper()
	sums, err := os.ReadFile(filepath.Join(dir, FileSums))
	if err != nil {
		t.Fatal(err)
	}
	if h := sha256.Sum256(sums); hex.EncodeToString(h[:]) != want {
		t.Errorf("SumsSHA256 is not the hash of SHA256SUMS")
	}
	n := 0
	sc := bufio.NewScanner(bytes.NewReader(sums))
	for sc.Scan() {
		sum, name, ok := strings.Cut(sc.Text(), "  ")
		if !ok {
			t.Fatalf("SHA256SUMS line %q", sc.Text())
		}
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if h := sha256.Sum256(b); hex.EncodeToString(h[:]) != sum {
			t.Errorf("%s: SHA-256 differs from SHA256SUMS", name)
		}
		n++
	}
	var files int
	filepath.WalkDir(dir, func(_ string, d os.DirEntry, _ error) error {
		if !d.IsDir() {
			files++
		}
		return nil
	})
	if n != files-1 {
		t.Errorf("SHA256SUMS lists %d files, the folder holds %d besides it", n, files-1)
	}
}

// checkSelfContained: no script, no external reference.
func checkSelfContained(t *testing.T, html []byte) {
	t.Helper()
	lower := strings.ToLower(string(html))
	for _, bad := range []string{"<script", "src=\"http", "href=\"http", "url(http", "@import", "<link", "<img"} {
		if strings.Contains(lower, bad) {
			t.Errorf("report.html contains %q: it must be self-contained and script-free", bad)
		}
	}
	if !strings.Contains(lower, "<svg") || !strings.Contains(lower, "<title id=\"chart-weekly-t\">") {
		t.Error("report.html has no accessible inline SVG chart")
	}
}

// distinctColours counts the colours of a PNG, up to 64.
func distinctColours(t *testing.T, path string) int {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	seen := map[[3]uint32]bool{}
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y += 3 {
		for x := b.Min.X; x < b.Max.X; x += 3 {
			r, g, bl, _ := img.At(x, y).RGBA()
			seen[[3]uint32{r >> 8, g >> 8, bl >> 8}] = true
			if len(seen) >= 64 {
				return len(seen)
			}
		}
	}
	return len(seen)
}

func copyFile(from, to string) error {
	b, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	return os.WriteFile(to, b, 0o644)
}
