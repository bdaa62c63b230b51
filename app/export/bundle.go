package export

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"reflect"
	"strings"
	"time"

	"github.com/axiomops/axiom-audit/storage"
	"github.com/axiomops/axiom-audit/storage/tlog"
)

// Names of the files of a bundle besides the events file.
const (
	ManifestFile = "manifest.json"
	// ManifestSigFile is the signed manifest statement (version 3 on): a
	// signed note by the log's key over the manifest's seal
	// (tlog.ManifestHeader). The manifest cannot list it.
	ManifestSigFile = "manifest.sig"
	CheckpointFile  = "checkpoint.txt"
	PublicKeyFile   = "public-key.txt"
	ProofsFile      = "proofs.jsonl"
	// PrunedFile (pruned.go) is in bundles from version 4 on.
)

// BundleVersion identifies the bundle layout in manifest.json. Version 2
// bundles' checkpoint.txt may carry the time it was signed (a fourth line,
// "time <RFC 3339>"), which programs that read version 1 reject; they now
// say the version is not theirs instead. Version 3 bundles carry
// manifest.sig, the log key's signature of the manifest: without it a
// bundle proves that each event it holds is in the log, but not that none
// was taken out of it (with the manifest's count, seqs and hashes
// rewritten to match). Version 4 bundles carry pruned.json, which says
// which events of the filter retention had pruned before the export;
// programs that read version 3 say the version is not theirs.
const BundleVersion = "axiom-audit-export/v4"

// bundleVersionV3 is the version of bundles without pruned.json: written
// before it, and by sources that cannot tell what was pruned (not
// PrunedScanners).
const bundleVersionV3 = "axiom-audit-export/v3"

// bundleVersionV2 is the version of bundles written before manifests were
// signed; they are verified as before, and reported unsigned.
const bundleVersionV2 = "axiom-audit-export/v2"

// bundleVersionV1 is the version of bundles written before checkpoints
// carried their time; they are verified as before.
const bundleVersionV1 = "axiom-audit-export/v1"

// Manifest is manifest.json: what was exported, by whom, from which filter,
// and the size and SHA-256 of every other file of the bundle. ManifestSHA256
// seals the manifest itself: the SHA-256 of the file's bytes with that
// field's 64 hex digits replaced by 64 zeros.
type Manifest struct {
	Version          string        `json:"version"`
	Tool             Tool          `json:"tool"`
	CreatedAt        string        `json:"createdAt"`
	Exporter         string        `json:"exporter"`
	OrganizationID   string        `json:"organizationId"`
	Format           Format        `json:"format"`
	Filter           FilterJSON    `json:"filter"`
	IncludeSensitive bool          `json:"includeSensitive"`
	Count            int64         `json:"count"`
	FirstSeq         uint64        `json:"firstSeq"`
	LastSeq          uint64        `json:"lastSeq"`
	Checkpoint       CheckpointRef `json:"checkpoint"`
	Files            []File        `json:"files"`
	ManifestSHA256   string        `json:"manifestSha256"`
}

// Tool names the program that wrote a bundle.
type Tool struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

// CheckpointRef repeats the body of checkpoint.txt for readers of the
// manifest; verify-export trusts only the signed note.
type CheckpointRef struct {
	Origin   string `json:"origin"`
	TreeSize uint64 `json:"treeSize"`
	Root     string `json:"root"` // standard base64
}

// File is one file of a bundle.
type File struct {
	Name   string `json:"name"`
	Bytes  int64  `json:"bytes"`
	SHA256 string `json:"sha256"` // lowercase hex
}

// FilterJSON is the filter an export selected events with, as written in
// the manifest and the audit event. Empty fields did not filter.
type FilterJSON struct {
	Org              string   `json:"org"`
	Since            string   `json:"since,omitempty"`
	Until            string   `json:"until,omitempty"`
	Categories       []string `json:"categories,omitempty"`
	ActionTypes      []string `json:"actionTypes,omitempty"`
	Providers        []string `json:"providers,omitempty"`
	UserIDs          []string `json:"userIds,omitempty"`
	Statuses         []string `json:"statuses,omitempty"`
	RiskLevels       []string `json:"riskLevels,omitempty"`
	NotCategories    []string `json:"notCategories,omitempty"`
	NotActionTypes   []string `json:"notActionTypes,omitempty"`
	NotProviders     []string `json:"notProviders,omitempty"`
	NotUserIDs       []string `json:"notUserIds,omitempty"`
	NotStatuses      []string `json:"notStatuses,omitempty"`
	NotRiskLevels    []string `json:"notRiskLevels,omitempty"`
	ResourceID       string   `json:"resourceId,omitempty"`
	ResourceIDPrefix string   `json:"resourceIdPrefix,omitempty"`
	Text             string   `json:"text,omitempty"`
	Order            string   `json:"order"`
}

// selectsEverything reports whether f has no condition: every event of
// its organization, in any order.
func (f FilterJSON) selectsEverything() bool {
	g := f
	g.Org, g.Order = "", ""
	return reflect.ValueOf(g).IsZero()
}

// String says what the filter selects, for a person: the time range
// (since included, until excluded) and every condition.
func (f FilterJSON) String() string {
	var parts []string
	switch {
	case f.Since != "" && f.Until != "":
		parts = append(parts, "from "+f.Since+" to "+f.Until+" (excluded)")
	case f.Since != "":
		parts = append(parts, "from "+f.Since)
	case f.Until != "":
		parts = append(parts, "before "+f.Until)
	default:
		parts = append(parts, "all time")
	}
	list := func(name string, in, out []string) {
		if len(in) > 0 {
			parts = append(parts, name+" "+strings.Join(in, " or "))
		}
		if len(out) > 0 {
			parts = append(parts, name+" not "+strings.Join(out, " nor "))
		}
	}
	list("category", f.Categories, f.NotCategories)
	list("action", f.ActionTypes, f.NotActionTypes)
	list("provider", f.Providers, f.NotProviders)
	list("user", f.UserIDs, f.NotUserIDs)
	list("status", f.Statuses, f.NotStatuses)
	list("risk", f.RiskLevels, f.NotRiskLevels)
	if f.ResourceID != "" {
		parts = append(parts, "resource "+f.ResourceID)
	}
	if f.ResourceIDPrefix != "" {
		parts = append(parts, "resource "+f.ResourceIDPrefix+"*")
	}
	if f.Text != "" {
		parts = append(parts, fmt.Sprintf("text %q", f.Text))
	}
	return strings.Join(parts, ", ")
}

// DescribeFilter returns the JSON form of a storage filter.
func DescribeFilter(f storage.Filter) FilterJSON {
	t := func(x time.Time) string {
		if x.IsZero() {
			return ""
		}
		return formatTime(x)
	}
	order := "newest"
	if f.Order == storage.OldestFirst {
		order = "oldest"
	}
	return FilterJSON{Org: f.Org, Since: t(f.Since), Until: t(f.Until), Categories: f.Categories,
		ActionTypes: f.ActionTypes, Providers: f.Providers, UserIDs: f.UserIDs, Statuses: f.Statuses,
		RiskLevels: f.RiskLevels, NotCategories: f.NotCategories, NotActionTypes: f.NotActionTypes,
		NotProviders: f.NotProviders, NotUserIDs: f.NotUserIDs, NotStatuses: f.NotStatuses,
		NotRiskLevels: f.NotRiskLevels, ResourceID: f.ResourceID, ResourceIDPrefix: f.ResourceIDPrefix,
		Text: f.Text, Order: order}
}

// ProofLine is one line of proofs.jsonl: the inclusion proof of one
// exported event in the tree of checkpoint.txt, and the bytes it proves.
type ProofLine struct {
	ID        string `json:"id"`
	Seq       uint64 `json:"seq"`
	LeafIndex uint64 `json:"leafIndex"`
	TreeSize  uint64 `json:"treeSize"`
	// LeafHash is SHA-256(0x00 || Record), standard base64.
	LeafHash tlog.Hash `json:"leafHash"`
	// Hashes is the RFC 6962 audit path, standard base64 each.
	Hashes []tlog.Hash `json:"hashes"`
	// Record is the public record exactly as hashed (JCS bytes), standard
	// base64.
	Record []byte `json:"record"`
	// BeforeState and AfterState are present when the export reveals them.
	BeforeState *RevealedJSON `json:"beforeState,omitempty"`
	AfterState  *RevealedJSON `json:"afterState,omitempty"`
}

// RevealedJSON opens a state commitment: salt and JCS(state), each in
// standard base64.
type RevealedJSON struct {
	Salt  []byte `json:"salt"`
	State []byte `json:"state"`
}

// ParseProofLine decodes one line of proofs.jsonl strictly: unknown fields,
// a salt that is not 32 bytes or a missing record are errors.
func ParseProofLine(line []byte) (ProofLine, error) { return parseProofLine(line, nil) }

// parseProofLine is ParseProofLine; hashes, when not nil, carries the
// audit path of the previous line read with it.
func parseProofLine(line []byte, hashes *hashTextCache) (ProofLine, error) {
	if p, ok := parseProofLineFast(line, hashes); ok {
		return p, nil
	}
	return parseProofLineJSON(line)
}

// parseProofLineJSON is ParseProofLine with encoding/json.
func parseProofLineJSON(line []byte) (ProofLine, error) {
	var p ProofLine
	d := json.NewDecoder(bytes.NewReader(line))
	d.DisallowUnknownFields()
	if err := d.Decode(&p); err != nil {
		return p, errorf("proof line: %v", err)
	}
	if d.More() {
		return p, errorf("proof line: data after the JSON object")
	}
	if p.ID == "" || len(p.Record) == 0 {
		return p, errorf("proof line: id and record are required")
	}
	for _, s := range []*RevealedJSON{p.BeforeState, p.AfterState} {
		if s != nil && (len(s.Salt) != 32 || len(s.State) == 0) {
			return p, errorf("proof line: a revealed state needs a 32-byte salt and a state")
		}
	}
	return p, nil
}

// ParseManifest decodes manifest.json strictly.
func ParseManifest(data []byte) (Manifest, error) {
	var m Manifest
	d := json.NewDecoder(bytes.NewReader(data))
	d.DisallowUnknownFields()
	if err := d.Decode(&m); err != nil {
		return m, errorf("manifest: %v", err)
	}
	if d.More() {
		return m, errorf("manifest: data after the JSON object")
	}
	if m.Version != BundleVersion && m.Version != bundleVersionV3 && m.Version != bundleVersionV2 && m.Version != bundleVersionV1 {
		return m, errorf("manifest: version %q is not %q (or %q, %q, %q)", m.Version, BundleVersion, bundleVersionV3, bundleVersionV2, bundleVersionV1)
	}
	if _, err := ParseFormat(string(m.Format)); err != nil {
		return m, errorf("manifest: %v", err)
	}
	if len(m.ManifestSHA256) != 64 {
		return m, errorf("manifest: manifestSha256 is not 64 hex digits")
	}
	return m, nil
}

// zeroDigest is what ManifestSHA256 is replaced by before hashing.
var zeroDigest = strings.Repeat("0", 64)

// manifestDigest computes the manifest seal over data, in which the digest
// field holds digest.
func manifestDigest(data []byte, digest string) (string, error) {
	field := []byte(`"manifestSha256": "` + digest + `"`)
	if bytes.Count(data, field) != 1 {
		return "", errorf("manifest: the manifestSha256 member is not written as expected")
	}
	sum := sha256.Sum256(bytes.Replace(data, field, []byte(`"manifestSha256": "`+zeroDigest+`"`), 1))
	return hex.EncodeToString(sum[:]), nil
}

// encodeManifest writes the manifest indented, with its seal.
func encodeManifest(m Manifest) ([]byte, string, error) {
	m.ManifestSHA256 = zeroDigest
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(m); err != nil {
		return nil, "", err
	}
	data := b.Bytes()
	sum := sha256.Sum256(data)
	seal := hex.EncodeToString(sum[:])
	return bytes.Replace(data, []byte(`"manifestSha256": "`+zeroDigest+`"`),
		[]byte(`"manifestSha256": "`+seal+`"`), 1), seal, nil
}

// hashingWriter counts and hashes what goes to its file.
type hashingWriter struct {
	w   io.Writer
	sum interface {
		io.Writer
		Sum([]byte) []byte
	}
	n int64
}

func newHashingWriter(w io.Writer) *hashingWriter {
	return &hashingWriter{w: w, sum: sha256.New()}
}

func (h *hashingWriter) Write(p []byte) (int, error) {
	n, err := h.w.Write(p)
	h.sum.Write(p[:n])
	h.n += int64(n)
	return n, err
}

func (h *hashingWriter) file(name string) File {
	return File{Name: name, Bytes: h.n, SHA256: hex.EncodeToString(h.sum.Sum(nil))}
}

// maxLineBytes bounds a line of an events or proofs file: an event is at
// most 1 MiB and each state 512 KiB, which base64 and escaping enlarge.
const maxLineBytes = 16 << 20

// lineReader yields lines without holding more than one.
type lineReader struct {
	r    *bufio.Reader
	buf  []byte
	line int
}

func newLineReader(r io.Reader) *lineReader {
	return &lineReader{r: bufio.NewReaderSize(r, 1<<20)}
}

// next returns the next line without its newline; io.EOF at the end.
func (l *lineReader) next() ([]byte, error) {
	l.buf = l.buf[:0]
	for {
		chunk, err := l.r.ReadSlice('\n')
		if len(l.buf)+len(chunk) > maxLineBytes+1 {
			// Skip the rest of the line, so a hostile file cannot make
			// the reader hold it.
			for err == bufio.ErrBufferFull {
				_, err = l.r.ReadSlice('\n')
			}
			l.line++
			return nil, fmt.Errorf("line %d is longer than %d bytes", l.line, maxLineBytes)
		}
		l.buf = append(l.buf, chunk...)
		if err == bufio.ErrBufferFull {
			continue
		}
		if err == io.EOF && len(l.buf) > 0 {
			l.line++
			return l.buf, nil
		}
		if err != nil {
			return nil, err
		}
		l.line++
		return bytes.TrimSuffix(l.buf, []byte("\n")), nil
	}
}
