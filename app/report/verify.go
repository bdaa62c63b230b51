package report

import (
	"bufio"
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
	"path"
	"path/filepath"
	"strings"

	"github.com/axiomops/axiom-audit/app/export"
	"github.com/axiomops/axiom-audit/storage/tlog"
)

// VerifyOptions configure VerifyFolder.
type VerifyOptions struct {
	// TrustedKey, when set, is the verifier key the report and its
	// evidence must be signed with; otherwise the evidence bundle's own
	// public-key.txt is used, and the caller compares it with the key the
	// log's owner published.
	TrustedKey string
	// AllowUnsigned accepts evidence whose manifest is not signed
	// (bundles written before version 3), as export.VerifyOptions'
	// AllowUnsignedManifest. A report folder must always have
	// SHA256SUMS.sig: without it nothing vouches for its figures.
	AllowUnsigned bool
}

// FolderCheck is what VerifyFolder found.
type FolderCheck struct {
	Dir string `json:"dir"`
	OK  bool   `json:"ok"`
	// Organization and Period are report.json's, once the folder verified
	// as signed (or as far as it was read).
	Organization string     `json:"organization,omitempty"`
	Period       PeriodJSON `json:"period"`
	// Signed: SHA256SUMS.sig verifies with the key and signs this
	// SHA256SUMS, so every file it lists is as the log's key vouched.
	Signed bool `json:"signed"`
	// Files is how many files SHA256SUMS lists and were checked.
	Files    int              `json:"files"`
	Ignored  []string         `json:"ignored,omitempty"`
	Evidence *export.Report   `json:"evidence"`
	Problems []export.Problem `json:"problems"`
}

// IsFolder says whether dir looks like a report folder: it holds any file
// a report folder has of its own. One that lost some of them is still a
// report folder, whose missing files are problems, not a usage error.
func IsFolder(dir string) bool {
	for _, name := range []string{FileSums, FileSumsSig, FileJSON, FileHTML, FilePDF} {
		if _, err := os.Lstat(filepath.Join(dir, name)); err == nil {
			return true
		}
	}
	return false
}

// VerifyFolder checks a report folder offline: its evidence bundle
// (export.Verify), that every file is the one SHA256SUMS lists with its
// SHA-256 and none is missing or added, and that SHA256SUMS.sig signs
// this SHA256SUMS with the log's key, for the log the evidence is of. The
// error is for what stopped the check (the folder cannot be read);
// everything found wrong is a problem.
func VerifyFolder(ctx context.Context, dir string, opts VerifyOptions) (FolderCheck, error) {
	c := FolderCheck{Dir: dir, Problems: []export.Problem{}}
	problem := func(file, format string, args ...any) {
		c.Problems = append(c.Problems, export.Problem{File: file, Message: fmt.Sprintf(format, args...)})
	}
	evDir := filepath.Join(dir, EvidenceFolder)
	if fi, err := os.Lstat(evDir); err != nil || !fi.IsDir() {
		// Verify would take a missing folder for an error of its own.
		return c.failed(EvidenceFolder, "is missing: a report folder holds its evidence bundle in evidence/"), nil
	}
	ev, err := export.Verify(ctx, evDir, export.VerifyOptions{TrustedKey: opts.TrustedKey, AllowUnsignedManifest: opts.AllowUnsigned})
	if err != nil {
		return c, err
	}
	c.Evidence = ev
	for _, p := range ev.Problems {
		p.File = path.Join(EvidenceFolder, p.File)
		c.Problems = append(c.Problems, p)
	}

	sums, err := os.ReadFile(filepath.Join(dir, FileSums))
	if err != nil {
		problem(FileSums, "cannot be read: %v", err)
	}
	lines, bad := ParseSums(sums)
	c.Problems = append(c.Problems, bad...)
	listed := map[string]bool{}
	for _, l := range lines {
		listed[l.Name] = true
		c.Files++
		got, err := hashRegular(filepath.Join(dir, filepath.FromSlash(l.Name)))
		switch {
		case err != nil:
			problem(l.Name, "cannot be read: %v", err)
		case got != l.SHA256:
			problem(l.Name, "has SHA-256 %s, SHA256SUMS says %s", got, l.SHA256)
		}
	}
	// Nothing may be added beside the listed files.
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(rel)
		switch {
		case d.IsDir(), rel == FileSums, rel == FileSumsSig, listed[rel]:
			return nil
		case d.Type().IsRegular() && export.OSLitter(d.Name()):
			c.Ignored = append(c.Ignored, rel)
			return nil
		case path.Dir(rel) == EvidenceFolder:
			return nil // the evidence's own check names it
		}
		problem(rel, "is not listed in SHA256SUMS")
		return nil
	})
	if err != nil {
		return c, err
	}

	// The signature, with the evidence's key and origin.
	sig, err := os.ReadFile(filepath.Join(dir, FileSumsSig))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		// Nothing vouches for the figures then: whoever edits one can
		// recompute SHA256SUMS. A report written before reports were
		// signed has only its evidence to show (verify evidence/).
		problem(FileSumsSig, "is missing: nothing vouches for the report's figures (SHA256SUMS can be recomputed after an edit); "+
			"a report written before reports were signed can only have its evidence verified: verify-export %s", filepath.Join(dir, EvidenceFolder))
	case err != nil:
		problem(FileSumsSig, "cannot be read: %v", err)
	case ev.PublicKey == "" || ev.Checkpoint.Origin == "":
		problem(FileSumsSig, "cannot be checked: the evidence bundle names no key or log to check it with")
	default:
		key := ev.PublicKey
		if opts.TrustedKey != "" {
			key = opts.TrustedKey
		}
		st, err := tlog.OpenReport(sig, key, ev.Checkpoint.Origin)
		sum := sha256.Sum256(sums)
		switch {
		case err != nil:
			problem(FileSumsSig, "does not verify: %v", err)
		case st.SHA256 != hex.EncodeToString(sum[:]):
			problem(FileSumsSig, "signs a SHA256SUMS with SHA-256 %s, this one's is %s: SHA256SUMS was changed", st.SHA256, hex.EncodeToString(sum[:]))
		default:
			c.Signed = true
		}
	}

	var r struct {
		Organization string     `json:"organization"`
		Period       PeriodJSON `json:"period"`
	}
	if raw, err := os.ReadFile(filepath.Join(dir, FileJSON)); err == nil && json.Unmarshal(raw, &r) == nil {
		c.Organization, c.Period = r.Organization, r.Period
		if ev.Org != "" && r.Organization != ev.Org {
			problem(FileJSON, "is a report of organization %q, its evidence of %q", r.Organization, ev.Org)
		}
	}
	c.OK = len(c.Problems) == 0 && ev.OK
	return c, nil
}

// SumLine is one line of SHA256SUMS.
type SumLine struct {
	SHA256 string // lowercase hex
	Name   string // a clean relative path, slash-separated
}

// ParseSums reads SHA256SUMS as sha256sum writes it ("<sha256>  <path>"
// per line, text mode): the lines it holds, and a problem for each line
// that is not one (or names a file a second time).
func ParseSums(b []byte) ([]SumLine, []export.Problem) {
	var lines []SumLine
	var problems []export.Problem
	seen := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 1<<20)
	n := 0
	for sc.Scan() {
		n++
		sum, name, ok := strings.Cut(sc.Text(), "  ")
		_, herr := hex.DecodeString(sum)
		switch {
		case !ok || len(sum) != 64 || strings.ToLower(sum) != sum || herr != nil || !validName(name):
			problems = append(problems, export.Problem{File: FileSums, Line: n, Message: fmt.Sprintf("%.100q is not a line of sha256sum: <sha256>  <relative path>", sc.Text())})
		case seen[name]:
			problems = append(problems, export.Problem{File: FileSums, Line: n, Message: fmt.Sprintf("names %s a second time", name)})
		default:
			seen[name] = true
			lines = append(lines, SumLine{SHA256: sum, Name: name})
		}
	}
	if err := sc.Err(); err != nil {
		problems = append(problems, export.Problem{File: FileSums, Line: n + 1, Message: err.Error()})
	}
	return lines, problems
}

// failed is c with one problem and nothing else checked.
func (c FolderCheck) failed(file, msg string) FolderCheck {
	c.Problems = append(c.Problems, export.Problem{File: file, Message: msg})
	c.OK = false
	return c
}

// validName is a relative, clean, slash-separated path inside the folder.
func validName(name string) bool {
	return name != "" && !path.IsAbs(name) && path.Clean(name) == name && name != "." && name != ".." && !strings.HasPrefix(name, "../") &&
		!strings.ContainsAny(name, "\\\x00")
}

// hashRegular is the SHA-256 of the regular file at p (not a symbolic
// link, which could point outside the folder).
func hashRegular(p string) (string, error) {
	fi, err := os.Lstat(p)
	if err != nil {
		return "", err
	}
	if !fi.Mode().IsRegular() {
		return "", fmt.Errorf("is not a regular file (%s)", fi.Mode().Type())
	}
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
