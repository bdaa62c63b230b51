package export

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/axiomops/axiom-audit/storage"
	"github.com/axiomops/axiom-audit/storage/tlog"
)

// Problem is one thing wrong with a bundle, named by file, line and event
// where it has them.
type Problem struct {
	File    string `json:"file"`
	Line    int    `json:"line,omitempty"`
	ID      string `json:"id,omitempty"`
	Seq     uint64 `json:"seq,omitempty"`
	Message string `json:"message"`
	// outOfStep: an events-file entry is another event than its proof
	// line's (one lost or added before it). Past the first few, such
	// problems are counted, not listed.
	outOfStep bool
}

// maxOutOfStep is how many out-of-step events are listed; the rest are
// counted in one problem.
const maxOutOfStep = 1

func (p Problem) String() string {
	var b strings.Builder
	b.WriteString(p.File)
	if p.Line > 0 {
		fmt.Fprintf(&b, ":%d", p.Line)
	}
	if p.ID != "" {
		fmt.Fprintf(&b, ": event %s", p.ID)
		if p.Seq > 0 {
			fmt.Fprintf(&b, " (seq %d)", p.Seq)
		}
	}
	b.WriteString(": ")
	b.WriteString(p.Message)
	return b.String()
}

// VerifyOptions configure Verify.
type VerifyOptions struct {
	// TrustedKey, when set, is the verifier key the auditor obtained from
	// the log's owner; public-key.txt must equal it. Without it the bundle
	// is checked against its own key, which proves integrity but not origin.
	TrustedKey string
	// AllowUnsignedManifest accepts a bundle without a signed manifest
	// (one written before version 3, or made to look like one), whose
	// events are each proved but which may have had events taken out.
	// Without it such a bundle is refused: a verifier that says OK by
	// default must not be fooled by a bundle rewritten as an older one.
	AllowUnsignedManifest bool
	// OnProblem, when set, receives each problem as it is found.
	OnProblem func(Problem)
}

// Report is the outcome of Verify.
type Report struct {
	Dir        string        `json:"dir"`
	OK         bool          `json:"ok"`
	Format     Format        `json:"format,omitempty"`
	Org        string        `json:"organizationId,omitempty"`
	Events     int64         `json:"events"`
	Revealed   int64         `json:"revealedStates"`
	Checkpoint CheckpointRef `json:"checkpoint"`
	// Filter is what the manifest says was exported (vouched for by the
	// log's key when ManifestSigned): the time range and the conditions.
	Filter    *FilterJSON `json:"filter,omitempty"`
	PublicKey string      `json:"publicKey,omitempty"`
	// ManifestSigned: manifest.sig verifies with the bundle's key and
	// signs this manifest (version 3 bundles), so that the events, the
	// filter and the totals are those the log's key vouched for.
	ManifestSigned bool `json:"manifestSigned"`
	// Pruned is pruned.json (version 4 bundles): the events of the filter
	// retention had pruned before the export. Nil in older bundles.
	Pruned *Pruned `json:"pruned,omitempty"`
	// Ignored are files the operating system or an open editor put in
	// the folder (OSLitter), which are no part of the bundle and are not
	// read.
	Ignored []string `json:"ignored,omitempty"`
	// Problems holds the first maxKeptProblems problems; ProblemCount all.
	Problems     []Problem `json:"problems"`
	ProblemCount int64     `json:"problemCount"`
}

const maxKeptProblems = 1000

// Size limits of the small files, so a hostile bundle cannot make the
// verifier allocate without bound.
const (
	maxManifestBytes  = 16 << 20
	maxSmallFileBytes = 64 << 10
	maxProofLineBytes = 8 << 20
)

// Verify checks an evidence bundle offline, with no key store and no
// database: the manifest's seal and every file's size and SHA-256; the
// checkpoint's signature with public-key.txt; for each proof line, the leaf
// hash recomputed from the public record, the inclusion proof against the
// checkpoint root and every revealed state's commitment; and that the
// events file holds the same events, in order. It returns an error only
// when the bundle cannot be read at all; problems are in the Report.
func Verify(ctx context.Context, dir string, opts VerifyOptions) (*Report, error) {
	v := &verifier{dir: dir, opts: opts, rep: &Report{Dir: dir, Problems: []Problem{}}}
	if fi, err := os.Stat(dir); err != nil {
		return nil, err
	} else if !fi.IsDir() {
		return nil, fmt.Errorf("%s is not a folder", dir)
	}
	if err := v.run(ctx); err != nil {
		return v.rep, err
	}
	v.rep.OK = v.rep.ProblemCount == 0
	return v.rep, nil
}

type verifier struct {
	proofsReader io.Reader
	// streamed holds the hashes of the files checkEvents read, computed
	// as it read them, so that they are read once.
	streamed map[string]fileHash
	dir      string
	opts     VerifyOptions
	rep      *Report
	m        Manifest
	cp       tlog.Checkpoint
	cpOK     bool
	// matcher is the manifest's filter, which every exported record must
	// match (nil when the filter cannot be read: that is a problem).
	matcher *storage.Matcher
	// outOfStep counts the events-file entries that are another event
	// than their proof line's.
	outOfStep int
	// said holds the problems reported, so that each is said once.
	said map[Problem]bool
}

// cannotRead says why a file of the bundle could not be opened or read:
// one the manifest lists but the folder lacks is missing, which is what
// an auditor needs to hear, not the system's "no such file or directory".
func cannotRead(err error) string {
	if errors.Is(err, fs.ErrNotExist) {
		return "is missing"
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	return fmt.Sprintf("cannot be read: %v", err)
}

func (v *verifier) problem(p Problem) {
	if p.outOfStep {
		if v.outOfStep++; v.outOfStep > maxOutOfStep {
			v.rep.ProblemCount++
			return
		}
	}
	// A file that is missing or unreadable is one problem, though the
	// check of its hash and the check of its content both find it.
	if v.said[p] {
		return
	}
	if v.said == nil {
		v.said = map[Problem]bool{}
	}
	v.said[p] = true
	v.rep.ProblemCount++
	if len(v.rep.Problems) < maxKeptProblems {
		v.rep.Problems = append(v.rep.Problems, p)
	}
	if v.opts.OnProblem != nil {
		v.opts.OnProblem(p)
	}
}

// openBundleFile opens a file of a bundle, which must be a regular file: a
// symbolic link would have the verifier read, and quote in its report, a
// file of the machine it runs on, and a device (/dev/zero) would never end.
func openBundleFile(path string) (*os.File, error) {
	fi, err := os.Lstat(path)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, &os.PathError{Op: "open", Path: path, Err: fmt.Errorf("is not a regular file (%s): a bundle holds plain files only", fileKind(fi.Mode()))}
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	if opened, err := f.Stat(); err != nil || !os.SameFile(fi, opened) {
		f.Close()
		return nil, &os.PathError{Op: "open", Path: path, Err: errors.New("changed while it was opened")}
	}
	return f, nil
}

// fileKind names what a file that is not a regular one is.
func fileKind(m os.FileMode) string {
	switch {
	case m&os.ModeSymlink != 0:
		return "a symbolic link"
	case m.IsDir():
		return "a folder"
	case m&(os.ModeDevice|os.ModeCharDevice) != 0:
		return "a device"
	case m&os.ModeNamedPipe != 0:
		return "a named pipe"
	case m&os.ModeSocket != 0:
		return "a socket"
	}
	return "not a plain file"
}

func (v *verifier) readSmall(name string, limit int64) ([]byte, bool) {
	f, err := openBundleFile(filepath.Join(v.dir, name))
	if err != nil {
		v.problem(Problem{File: name, Message: cannotRead(err)})
		return nil, false
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		v.problem(Problem{File: name, Message: fmt.Sprintf("cannot be read: %v", err)})
		return nil, false
	}
	if int64(len(data)) > limit {
		v.problem(Problem{File: name, Message: fmt.Sprintf("is larger than %d bytes", limit)})
		return nil, false
	}
	return data, true
}

func (v *verifier) run(ctx context.Context) error {
	data, ok := v.readSmall(ManifestFile, maxManifestBytes)
	if !ok {
		return nil
	}
	m, err := ParseManifest(data)
	if err != nil {
		v.problem(Problem{File: ManifestFile, Message: err.Error()})
		return nil
	}
	v.m = m
	v.rep.Format, v.rep.Org, v.rep.Filter = m.Format, m.OrganizationID, &m.Filter
	sum, err := manifestDigest(data, m.ManifestSHA256)
	if err != nil {
		v.problem(Problem{File: ManifestFile, Message: err.Error()})
	} else if sum != m.ManifestSHA256 {
		v.problem(Problem{File: ManifestFile, Message: fmt.Sprintf("has been modified: its SHA-256 (with manifestSha256 zeroed) is %s, the manifest says %s", sum, m.ManifestSHA256)})
	}
	// Hashing the files runs beside the event checks; its problems are
	// reported after theirs.
	hashes := v.hashFiles(ctx)
	v.checkCheckpoint()
	if err == nil {
		v.checkManifestSig(sum)
	}
	if f, err := filterOf(m.Filter, m.OrganizationID); err != nil {
		v.problem(Problem{File: ManifestFile, Message: "filter: " + err.Error()})
	} else if v.matcher, err = storage.NewMatcher(f); err != nil {
		v.problem(Problem{File: ManifestFile, Message: "filter: " + err.Error()})
	}
	if err := v.checkEvents(ctx); err != nil {
		return err
	}
	v.checkPruned()
	h := <-hashes
	for _, name := range v.streamedFiles() {
		fh, ok := v.streamed[name]
		if !ok { // checkEvents could not read it
			fh.n, fh.sum, fh.err = hashFile(ctx, filepath.Join(v.dir, name))
		}
		h[name] = fh
	}
	return v.checkFiles(ctx, h)
}

// streamedFiles are the files checkEvents hashes as it reads them: the
// events file and proofs.jsonl, nearly all of a bundle's bytes.
func (v *verifier) streamedFiles() []string { return []string{v.m.Format.EventsFile(), ProofsFile} }

// hashingReader hashes what is read through it.
type hashingReader struct {
	r io.Reader
	h hash.Hash
	n int64
}

func newHashingReader(r io.Reader) *hashingReader { return &hashingReader{r: r, h: sha256.New()} }

func (h *hashingReader) Read(p []byte) (int, error) {
	n, err := h.r.Read(p)
	h.h.Write(p[:n])
	h.n += int64(n)
	return n, err
}

// finish reads the rest of the file, which checking did not need, and
// returns the hash of all of it.
func (h *hashingReader) finish(ctx context.Context) fileHash {
	buf := make([]byte, 1<<20)
	for {
		if err := ctx.Err(); err != nil {
			return fileHash{h.n, "", err}
		}
		_, err := h.Read(buf)
		if err == io.EOF {
			return fileHash{h.n, hex.EncodeToString(h.h.Sum(nil)), nil}
		}
		if err != nil {
			return fileHash{h.n, "", err}
		}
	}
}

type fileHash struct {
	n   int64
	sum string
	err error
}

// hashFiles hashes every file the manifest lists, in the background.
func (v *verifier) hashFiles(ctx context.Context) <-chan map[string]fileHash {
	out := make(chan map[string]fileHash, 1)
	go func() {
		res := map[string]fileHash{}
		for _, f := range v.m.Files {
			if _, done := res[f.Name]; done || f.Name != filepath.Base(f.Name) || f.Name == ManifestFile || strings.HasPrefix(f.Name, ".") ||
				slices.Contains(v.streamedFiles(), f.Name) {
				continue
			}
			n, sum, err := hashFile(ctx, filepath.Join(v.dir, f.Name))
			res[f.Name] = fileHash{n, sum, err}
		}
		out <- res
	}()
	return out
}

// checkFiles compares every file with the manifest.
func (v *verifier) checkFiles(ctx context.Context, hashes map[string]fileHash) error {
	listed := map[string]bool{}
	bundleFiles := []string{v.m.Format.EventsFile(), ProofsFile, CheckpointFile, PublicKeyFile}
	if v.m.Version == BundleVersion {
		bundleFiles = append(bundleFiles, PrunedFile)
	}
	for _, f := range v.m.Files {
		if listed[f.Name] {
			v.problem(Problem{File: ManifestFile, Message: fmt.Sprintf("lists %s twice", f.Name)})
			continue
		}
		listed[f.Name] = true
		// Exactly the bundle's files: another events file (a doctored
		// events.csv next to events.jsonl) would be sealed but unchecked.
		if !slices.Contains(bundleFiles, f.Name) {
			v.problem(Problem{File: ManifestFile, Message: fmt.Sprintf("lists %q, which is not a file of a %s bundle", f.Name, v.m.Format)})
			continue
		}
		h := hashes[f.Name]
		n, sum, err := h.n, h.sum, h.err
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			v.problem(Problem{File: f.Name, Message: cannotRead(err)})
			continue
		}
		if n != f.Bytes {
			v.problem(Problem{File: f.Name, Message: fmt.Sprintf("has %d bytes, the manifest says %d", n, f.Bytes)})
		}
		if sum != f.SHA256 {
			v.problem(Problem{File: f.Name, Message: fmt.Sprintf("has SHA-256 %s, the manifest says %s", sum, f.SHA256)})
		}
	}
	for _, name := range bundleFiles {
		if !listed[name] {
			v.problem(Problem{File: ManifestFile, Message: fmt.Sprintf("does not list %s", name)})
		}
	}
	entries, err := os.ReadDir(v.dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if e.Name() != ManifestFile && !(e.Name() == ManifestSigFile && v.signedVersion()) && !listed[e.Name()] {
			if e.Type().IsRegular() && OSLitter(e.Name()) {
				v.rep.Ignored = append(v.rep.Ignored, e.Name())
				continue
			}
			v.problem(Problem{File: e.Name(), Message: "is not listed in the manifest"})
		}
	}
	return nil
}

func hashFile(ctx context.Context, path string) (int64, string, error) {
	f, err := openBundleFile(path)
	if err != nil {
		return 0, "", errors.Unwrap(err)
	}
	defer f.Close()
	h := newHashingReader(f).finish(ctx)
	return h.n, h.sum, h.err
}

// checkCheckpoint opens checkpoint.txt with public-key.txt.
func (v *verifier) checkCheckpoint() {
	keyData, ok := v.readSmall(PublicKeyFile, maxSmallFileBytes)
	if !ok {
		return
	}
	vkey := strings.TrimSuffix(string(keyData), "\n")
	v.rep.PublicKey = vkey
	if v.opts.TrustedKey != "" && vkey != v.opts.TrustedKey {
		v.problem(Problem{File: PublicKeyFile, Message: "is not the trusted key given to the verifier"})
	}
	note, ok := v.readSmall(CheckpointFile, maxSmallFileBytes)
	if !ok {
		return
	}
	origin, _, _ := strings.Cut(string(note), "\n")
	if !strings.HasSuffix(origin, "/"+v.m.OrganizationID) || !strings.HasPrefix(origin, "axiom-audit/") {
		v.problem(Problem{File: CheckpointFile, Message: fmt.Sprintf("origin %.100q is not a log of organization %q", origin, v.m.OrganizationID)})
	}
	cp, err := tlog.OpenCheckpoint(note, vkey, origin)
	if err != nil {
		v.problem(Problem{File: CheckpointFile, Message: fmt.Sprintf("does not verify with %s: %v", PublicKeyFile, err)})
		return
	}
	v.cp, v.cpOK = cp, true
	v.rep.Checkpoint = CheckpointRef{Origin: cp.Origin, TreeSize: cp.Size, Root: cp.Root.String()}
	if v.m.Checkpoint != v.rep.Checkpoint {
		v.problem(Problem{File: ManifestFile, Message: "its checkpoint differs from checkpoint.txt"})
	}
}

// signedVersion reports whether the bundle's version has manifest.sig
// (version 3 on).
func (v *verifier) signedVersion() bool {
	return v.m.Version == BundleVersion || v.m.Version == bundleVersionV3
}

// checkPruned reads pruned.json (version 4 bundles) into the report: it
// must parse, say whether its count is exact as the manifest's filter
// implies, and name only seqs the checkpoint covers. Its bytes are checked
// against the manifest with the other files.
func (v *verifier) checkPruned() {
	if v.m.Version != BundleVersion {
		return
	}
	if _, err := os.Lstat(filepath.Join(v.dir, PrunedFile)); errors.Is(err, fs.ErrNotExist) {
		return // checkFiles says it is missing
	}
	data, ok := v.readSmall(PrunedFile, maxManifestBytes)
	if !ok {
		return
	}
	p, err := ParsePruned(data)
	if err != nil {
		v.problem(Problem{File: PrunedFile, Message: err.Error()})
		return
	}
	if f, err := filterOf(v.m.Filter, v.m.OrganizationID); err == nil && p.Exact != f.PrunedMatchIsExact() {
		v.problem(Problem{File: PrunedFile, Message: fmt.Sprintf("says exact is %v, but the manifest's filter makes it %v", p.Exact, f.PrunedMatchIsExact())})
	}
	for i, r := range p.Rules {
		if v.cpOK && r.LastSeq > v.cp.Size {
			v.problem(Problem{File: PrunedFile, Message: fmt.Sprintf("rules[%d] names seq %d, beyond the checkpoint's %d events", i, r.LastSeq, v.cp.Size)})
		}
	}
	// A filter that selects everything: every seq up to the checkpoint's
	// size is in the bundle or was pruned.
	if v.cpOK && v.m.Filter.selectsEverything() && uint64(v.m.Count)+uint64(p.Count) != v.cp.Size {
		v.problem(Problem{File: PrunedFile, Message: fmt.Sprintf("says %d events were pruned, but the bundle's filter selects every event and the manifest counts %d of the checkpoint's %d, so %d would have to be",
			p.Count, v.m.Count, v.cp.Size, int64(v.cp.Size)-v.m.Count)})
	}
	v.rep.Pruned = &p
}

// checkManifestSig opens manifest.sig with public-key.txt and checks that
// it signs sum, the manifest's actual seal. Bundles before version 3 have
// none (checkFiles names one they hold as a file the manifest does not
// list).
func (v *verifier) checkManifestSig(sum string) {
	if !v.signedVersion() {
		if !v.opts.AllowUnsignedManifest {
			v.problem(Problem{File: ManifestFile, Message: fmt.Sprintf("is a %s bundle's, which has no signed manifest (%s): nothing shows that no event was taken out "+
				"(a bundle written before version 3, or rewritten to look like one); --allow-unsigned-manifest checks the rest of it", v.m.Version, ManifestSigFile)})
		}
		return
	}
	if v.rep.PublicKey == "" {
		return // no key to check it with (a problem already)
	}
	note, ok := v.readSmall(ManifestSigFile, maxSmallFileBytes)
	if !ok {
		return
	}
	origin := v.m.Checkpoint.Origin
	if v.cpOK {
		origin = v.cp.Origin
	}
	// With a trusted key, the signature must be that key's, whatever
	// public-key.txt says.
	key, keyName := v.rep.PublicKey, PublicKeyFile
	if v.opts.TrustedKey != "" {
		key, keyName = v.opts.TrustedKey, "the trusted key"
	}
	st, err := tlog.OpenManifest(note, key, origin)
	if err != nil {
		v.problem(Problem{File: ManifestSigFile, Message: fmt.Sprintf("does not verify with %s: %v", keyName, err)})
		return
	}
	if st.SHA256 != sum {
		v.problem(Problem{File: ManifestSigFile, Message: fmt.Sprintf("signs the manifest sealed %s, not this one (sealed %s): "+
			"the manifest was rewritten after it was signed, so events may have been taken out of the bundle or its filter changed", st.SHA256, sum)})
		return
	}
	v.rep.ManifestSigned = true
}

// verifyItem is one event to check: its proof line and its events-file
// entry (raw for line formats, which workers parse in parallel).
type verifyItem struct {
	proofLine int
	proof     []byte
	evLine    int
	evRaw     []byte
	ev        exported
	evErr     error
	hasEvent  bool
	// results, filled by a worker
	problems []Problem
	seq      uint64
	ts       string // the record's timestamp, whose text order is time order
	ok       bool
	revealed int64
}

type verifyChunk struct {
	items []verifyItem
	done  chan struct{}
}

// verifyWorkers check chunks of events in parallel; results are reported
// in file order.
var verifyWorkers = max(2, runtime.GOMAXPROCS(0))

const verifyChunkSize = 256

// checkEvents walks proofs.jsonl and the events file together.
func (v *verifier) checkEvents(ctx context.Context) error {
	pf, err := openBundleFile(filepath.Join(v.dir, ProofsFile))
	if err != nil {
		v.problem(Problem{File: ProofsFile, Message: cannotRead(err)})
		return nil
	}
	defer pf.Close()
	pr := withReadAhead(pf)
	defer pr.Close()
	ph := newHashingReader(pr)
	v.proofsReader = ph
	eventsName := v.m.Format.EventsFile()
	f, err := openBundleFile(filepath.Join(v.dir, eventsName))
	if err != nil {
		v.problem(Problem{File: eventsName, Message: cannotRead(err)})
		return nil
	}
	defer f.Close()
	fr := withReadAhead(f)
	defer fr.Close()
	eh := newHashingReader(fr)
	octx := ctx // ctx is replaced by one cancelled when the checks end
	defer func() {
		v.streamed = map[string]fileHash{ProofsFile: ph.finish(octx), eventsName: eh.finish(octx)}
	}()
	er, err := newEventReader(v.m.Format, eh)
	if err != nil {
		v.problem(Problem{File: eventsName, Message: err.Error()})
		return nil
	}
	raw, _ := er.(*lineEventReader) // line formats are parsed by the workers

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	work := make(chan *verifyChunk, verifyWorkers)
	ordered := make(chan *verifyChunk, 2*verifyWorkers)
	var wg sync.WaitGroup
	for range verifyWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := &verifyWorker{ic: newInclusionChecker(v.cp.Size, v.cp.Root)}
			for c := range work {
				for i := range c.items {
					v.checkItem(eventsName, raw, &c.items[i], w)
				}
				close(c.done)
			}
		}()
	}
	var readErr error
	go func() {
		defer close(ordered)
		defer close(work)
		readErr = v.readItems(ctx, er, raw, eventsName, work, ordered)
	}()

	var count int64
	var first, last, prev uint64
	var prevTS string
	newest := v.m.Filter.Order == "newest"
	// Each event once: one bit per seq of the tree (a million events,
	// 125 KB). And in one order throughout: the log's (seq), in which a
	// store scans, or the timeline's (timestamp, seq), in which it pages;
	// reversed for newest first.
	var seen []uint64
	if v.cpOK && v.cp.Size < 1<<34 {
		seen = make([]uint64, v.cp.Size/64+1)
	}
	bySeq, byTime := true, true
	for c := range ordered {
		<-c.done
		for i := range c.items {
			it := &c.items[i]
			if it.proof != nil {
				count++
				if it.ok {
					if count == 1 || it.seq < first {
						first = it.seq
					}
					last = max(last, it.seq)
					if seen != nil && it.seq <= v.cp.Size {
						if seen[it.seq/64]&(1<<(it.seq%64)) != 0 {
							v.problem(Problem{File: ProofsFile, Line: it.proofLine, Seq: it.seq,
								Message: fmt.Sprintf("seq %d is in the bundle twice", it.seq)})
						}
						seen[it.seq/64] |= 1 << (it.seq % 64)
					}
					if prev != 0 {
						later := it.seq > prev
						bySeq = bySeq && later != newest
						laterTime := it.ts > prevTS || it.ts == prevTS && it.seq > prev
						byTime = byTime && laterTime != newest
					}
					prev, prevTS = it.seq, it.ts
				}
			}
			v.rep.Revealed += it.revealed
			for _, p := range it.problems {
				v.problem(p)
			}
		}
	}
	wg.Wait()
	if readErr != nil {
		return readErr
	}
	if n := v.outOfStep - maxOutOfStep; n > 0 {
		// Counted already, one by one.
		v.rep.ProblemCount--
		v.problem(Problem{File: eventsName, Message: fmt.Sprintf("and %d more %s out of step with %s (not listed)",
			n, map[bool]string{true: "event is", false: "events are"}[n == 1], ProofsFile)})
	}
	if !bySeq && !byTime {
		v.problem(Problem{File: ProofsFile, Message: fmt.Sprintf("the events are in neither the log's order (seq) nor the timeline's (timestamp, seq), %s first",
			map[bool]string{true: "newest", false: "oldest"}[newest])})
	}
	v.rep.Events = count
	if count != v.m.Count {
		v.problem(Problem{File: ManifestFile, Message: fmt.Sprintf("says %d events, %s has %d", v.m.Count, ProofsFile, count)})
	}
	if count > 0 && (first != v.m.FirstSeq || last != v.m.LastSeq) {
		v.problem(Problem{File: ManifestFile, Message: fmt.Sprintf("says seqs %d to %d, %s has %d to %d", v.m.FirstSeq, v.m.LastSeq, ProofsFile, first, last)})
	}
	return nil
}

// readItems reads both files in step and hands out chunks.
func (v *verifier) readItems(ctx context.Context, er eventReader, raw *lineEventReader, eventsName string,
	work, ordered chan<- *verifyChunk) error {
	proofs := newLineReader(v.proofsReader)
	chunk := &verifyChunk{done: make(chan struct{})}
	flush := func() error {
		if len(chunk.items) == 0 {
			return nil
		}
		select {
		case ordered <- chunk:
		case <-ctx.Done():
			return ctx.Err()
		}
		select {
		case work <- chunk:
		case <-ctx.Done():
			return ctx.Err()
		}
		chunk = &verifyChunk{done: make(chan struct{})}
		return nil
	}
	var n int
	eventsDone := false
	for {
		line, err := proofs.next()
		if err == io.EOF {
			break
		}
		it := verifyItem{proofLine: proofs.line}
		if err != nil {
			it.problems = append(it.problems, Problem{File: ProofsFile, Line: proofs.line + 1, Message: fmt.Sprintf("cannot be read: %v", err)})
			chunk.items = append(chunk.items, it)
			break
		}
		n++
		it.proof = bytes.Clone(line)
		if !eventsDone {
			if raw != nil {
				l, err := raw.lr.next()
				it.evLine = raw.lr.line
				switch {
				case err == io.EOF:
					it.problems = append(it.problems, Problem{File: eventsName, Message: fmt.Sprintf("ends before event %d of %s", n, ProofsFile)})
					eventsDone = true
				case err != nil:
					it.problems = append(it.problems, Problem{File: eventsName, Line: it.evLine + 1, Message: err.Error()})
					eventsDone = true
				default:
					it.evRaw, it.hasEvent = bytes.Clone(l), true
				}
			} else {
				ev, evLine, err := er.next()
				it.evLine = evLine
				switch {
				case err == io.EOF:
					it.problems = append(it.problems, Problem{File: eventsName, Message: fmt.Sprintf("ends before event %d of %s", n, ProofsFile)})
					eventsDone = true
				case err != nil:
					it.problems = append(it.problems, Problem{File: eventsName, Line: evLine, Message: err.Error()})
					eventsDone = true // a broken stream cannot be realigned
				default:
					it.ev, it.hasEvent = ev, true
				}
			}
		}
		chunk.items = append(chunk.items, it)
		if len(chunk.items) == verifyChunkSize {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if !eventsDone {
		var more bool
		var line int
		if raw != nil {
			_, err := raw.lr.next()
			more, line = err != io.EOF, raw.lr.line
		} else {
			_, l, err := er.next()
			more, line = err != io.EOF, l
		}
		if more {
			chunk.items = append(chunk.items, verifyItem{problems: []Problem{{File: eventsName, Line: line,
				Message: fmt.Sprintf("has more events than the %d of %s", n, ProofsFile)}}})
		}
	}
	return flush()
}

// verifyWorker is what one verifying goroutine keeps from an event to the
// next: consecutive proofs share most of their work.
type verifyWorker struct {
	ic     *inclusionChecker
	hashes hashTextCache
}

// checkItem checks one event: its proof line, then its events-file entry.
func (v *verifier) checkItem(eventsName string, raw *lineEventReader, it *verifyItem, w *verifyWorker) {
	if it.proof == nil {
		return
	}
	emit := func(p Problem) { it.problems = append(it.problems, p) }
	pl, pub, ok := v.checkProof(it.proofLine, it.proof, emit, &it.revealed, w)
	it.ok, it.seq = ok, pl.Seq
	if pub != nil {
		it.ts = pub.Timestamp
	}
	if !it.hasEvent || !ok {
		return
	}
	ev := it.ev
	if raw != nil {
		var err error
		if ev, err = raw.parse(it.evRaw); err != nil {
			emit(Problem{File: eventsName, Line: it.evLine, Message: err.Error()})
			return
		}
	}
	v.compare(eventsName, it.evLine, ev, pl, pub, emit)
}

// checkProof checks one proof line; ok is false when it cannot be parsed.
func (v *verifier) checkProof(n int, line []byte, emit func(Problem), revealed *int64, w *verifyWorker) (ProofLine, *publicRecord, bool) {
	if len(line) > maxProofLineBytes {
		emit(Problem{File: ProofsFile, Line: n, Message: "line too long"})
		return ProofLine{}, nil, false
	}
	pl, err := parseProofLine(line, &w.hashes)
	if err != nil {
		emit(Problem{File: ProofsFile, Line: n, Message: err.Error()})
		return pl, nil, false
	}
	bad := func(format string, args ...any) {
		emit(Problem{File: ProofsFile, Line: n, ID: pl.ID, Seq: pl.Seq, Message: fmt.Sprintf(format, args...)})
	}
	var pub publicRecord
	if err := parsePublicRecord(pl.Record, &pub); err != nil {
		bad("the public record is not JSON: %v", err)
		return pl, nil, false
	}
	if pub.ID != pl.ID || pub.Seq != pl.Seq {
		bad("the public record is event %s seq %d", pub.ID, pub.Seq)
	}
	if pub.OrganizationID != v.m.OrganizationID {
		bad("the public record belongs to organization %q", pub.OrganizationID)
	}
	if v.matcher != nil && !v.matcher.Match(storedOf(&pub)) {
		bad("the event is not one the manifest's filter selects")
	}
	leaf := tlog.LeafHash(pl.Record)
	if leaf != pl.LeafHash {
		bad("leaf hash %s recomputed from the record differs from %s", leaf, pl.LeafHash)
	}
	if pl.Seq == 0 || pl.LeafIndex != pl.Seq-1 {
		bad("leaf index %d is not seq−1", pl.LeafIndex)
	}
	if v.cpOK {
		if pl.TreeSize != v.cp.Size {
			bad("proved against tree size %d, the checkpoint has %d", pl.TreeSize, v.cp.Size)
		} else if !w.ic.verify(leaf, pl.LeafIndex, pl.Hashes) {
			// The checker says only yes or no; the full check says why.
			hashes := make([][]byte, len(pl.Hashes))
			for i := range pl.Hashes {
				hashes[i] = pl.Hashes[i][:]
			}
			if err := tlog.VerifyInclusion(leaf, pl.LeafIndex, pl.TreeSize, hashes, v.cp.Root); err != nil {
				bad("inclusion proof does not verify against the checkpoint: %v", err)
			}
		}
	}
	for _, s := range []struct {
		name       string
		r          *RevealedJSON
		commitment string
	}{{"beforeState", pl.BeforeState, pub.BeforeStateCommitment}, {"afterState", pl.AfterState, pub.AfterStateCommitment}} {
		// With states included every state is revealed; without, none.
		switch {
		case s.r == nil && s.commitment != "" && v.m.IncludeSensitive:
			bad("%s is not revealed, though the manifest says the states are included", s.name)
		case s.r != nil && !v.m.IncludeSensitive:
			bad("%s is revealed, though the manifest says the states are not included", s.name)
		}
		if s.r == nil {
			continue
		}
		*revealed++
		var salt [32]byte
		copy(salt[:], s.r.Salt)
		c := tlog.StateCommitment(salt, s.r.State)
		if hex.EncodeToString(c[:]) != s.commitment {
			bad("revealed %s does not match its commitment in the public record", s.name)
		}
	}
	return pl, &pub, true
}

// compare checks an exported event against its proof line.
func (v *verifier) compare(file string, line int, ev exported, pl ProofLine, pub *publicRecord, emit func(Problem)) {
	bad := func(msg string) {
		emit(Problem{File: file, Line: line, ID: ev.id(), Seq: ev.seq(), Message: msg})
	}
	if s := ev.seq(); s != 0 && s != pl.Seq {
		// Another event than the proved one at this place: say that once,
		// not every field that differs, and which seq is missing or added.
		why := fmt.Sprintf("seq %d is missing from the events file before here, or seq %d was moved", pl.Seq, s)
		// The entry after a missing one comes later in the bundle's order:
		// a higher seq oldest first, a lower one newest first.
		if (s < pl.Seq) != (v.m.Filter.Order == "newest") {
			why = fmt.Sprintf("seq %d was added to the events file or moved, or one before here is missing", s)
		}
		emit(Problem{File: file, Line: line, ID: ev.id(), Seq: s, outOfStep: true,
			Message: fmt.Sprintf("is seq %d where %s proves seq %d: %s", s, ProofsFile, pl.Seq, why)})
		return
	}
	if ev.full == nil {
		if ev.ID != pl.ID || ev.Seq != pl.Seq {
			bad(fmt.Sprintf("is not event %s (seq %d) of %s", pl.ID, pl.Seq, ProofsFile))
		}
		for _, msg := range ev.diffs {
			bad(msg)
		}
		if ev.cef != nil {
			for _, msg := range compareCEF(ev.cef, ev.cefHead, pub, pl.BeforeState, pl.AfterState) {
				bad(msg)
			}
		}
		return
	}
	if v.m.Format == CSV {
		// CSV readers such as Go's encoding/csv turn CRLF inside a quoted
		// field into LF; compare what such a reader can see.
		pub = crlfToLF(pub)
	}
	for _, msg := range compareEvent(ev.full, pub) {
		bad(msg)
	}
	// The events file's leaf hash (hex) is the proved one.
	if ev.full.LeafHash != hex.EncodeToString(pl.LeafHash[:]) {
		bad(fmt.Sprintf("leafHash %.80q differs from the proved %s", ev.full.LeafHash, hex.EncodeToString(pl.LeafHash[:])))
	}
	for _, s := range []struct {
		name string
		got  json.RawMessage
		r    *RevealedJSON
	}{{"beforeState", ev.full.BeforeState, pl.BeforeState}, {"afterState", ev.full.AfterState, pl.AfterState}} {
		switch {
		case len(s.got) == 0 && s.r == nil:
		case s.r == nil:
			bad(s.name + " is not revealed in " + ProofsFile + ", so it is not proved")
		case len(s.got) == 0:
			if !ev.statesElsewhere {
				bad(s.name + " is revealed in " + ProofsFile + " but missing from the events file")
			}
		case !sameJSON(s.got, s.r.State):
			bad(s.name + " differs from the revealed state in " + ProofsFile)
		}
	}
}

// filterOf is the storage filter a manifest's filter describes
// (DescribeFilter's inverse).
func filterOf(f FilterJSON, org string) (storage.Filter, error) {
	t := func(field, s string) (time.Time, error) {
		if s == "" {
			return time.Time{}, nil
		}
		x, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return x, fmt.Errorf("%s %q is not an RFC 3339 time", field, s)
		}
		return x, nil
	}
	since, err := t("since", f.Since)
	if err != nil {
		return storage.Filter{}, err
	}
	until, err := t("until", f.Until)
	if err != nil {
		return storage.Filter{}, err
	}
	order := storage.NewestFirst
	switch f.Order {
	case "oldest":
		order = storage.OldestFirst
	case "newest", "":
	default:
		return storage.Filter{}, fmt.Errorf("order %q is not newest or oldest", f.Order)
	}
	if f.Org != "" && f.Org != org {
		return storage.Filter{}, fmt.Errorf("is of organization %q, the bundle of %q", f.Org, org)
	}
	return storage.Filter{Org: org, Since: since, Until: until, Categories: f.Categories,
		ActionTypes: f.ActionTypes, Providers: f.Providers, UserIDs: f.UserIDs, Statuses: f.Statuses,
		RiskLevels: f.RiskLevels, NotCategories: f.NotCategories, NotActionTypes: f.NotActionTypes,
		NotProviders: f.NotProviders, NotUserIDs: f.NotUserIDs, NotStatuses: f.NotStatuses,
		NotRiskLevels: f.NotRiskLevels, ResourceID: f.ResourceID, ResourceIDPrefix: f.ResourceIDPrefix,
		Text: f.Text, Order: order}, nil
}

// storedOf is what a filter matches of a public record.
func storedOf(p *publicRecord) *storage.StoredEvent {
	ts, _ := time.Parse(time.RFC3339Nano, p.Timestamp)
	e := &storage.StoredEvent{Category: p.Category, Seq: p.Seq}
	e.ID, e.Timestamp, e.OrganizationID, e.UserID = p.ID, ts, p.OrganizationID, p.UserID
	e.Provider, e.ActionType, e.ResourceIDs = p.Provider, p.ActionType, p.ResourceIDs
	e.Status, e.RiskLevel, e.Metadata = p.Status, p.RiskLevel, p.Metadata
	return e
}

// crlfToLF returns a copy of p with CRLF as LF in its text fields.
func crlfToLF(p *publicRecord) *publicRecord {
	q := *p
	for _, f := range []*string{&q.ID, &q.OrganizationID, &q.UserID, &q.Provider, &q.ActionType, &q.Category,
		&q.Status, &q.RiskLevel, &q.Timestamp, &q.RecordedAt, &q.PrevHash, &q.BeforeStateCommitment, &q.AfterStateCommitment} {
		*f = strings.ReplaceAll(*f, "\r\n", "\n")
	}
	return &q
}

// exported is an event read back from an events file: the whole event
// where the format carries it, else its id and seq (and field problems).
type exported struct {
	ID    string
	Seq   uint64
	full  *EventJSON
	diffs []string
	// cef and cefHead: a CEF line's extensions and header, compared with
	// the record by compareCEF.
	cef     map[string]string
	cefHead []string
	// statesElsewhere: the format keeps states outside the event.
	statesElsewhere bool
}

func (e exported) id() string {
	if e.full != nil {
		return e.full.ID
	}
	return e.ID
}

func (e exported) seq() uint64 {
	if e.full != nil {
		return e.full.Seq
	}
	return e.Seq
}

// eventReader reads the events of an events file one at a time.
type eventReader interface {
	next() (exported, int, error)
}

func newEventReader(f Format, r io.Reader) (eventReader, error) {
	switch f {
	case CSV:
		cr := csv.NewReader(bytesReader(r))
		cr.ReuseRecord = true
		cr.FieldsPerRecord = len(CSVHeader)
		head, err := cr.Read()
		if err != nil {
			return nil, fmt.Errorf("header row: %v", err)
		}
		if !slices.Equal(head, CSVHeader) {
			return nil, fmt.Errorf("header row is not %s", strings.Join(CSVHeader, ","))
		}
		return &csvReader{r: cr}, nil
	case JSON:
		d := json.NewDecoder(bytesReader(r))
		t, err := d.Token()
		if err != nil || t != json.Delim('[') {
			return nil, fmt.Errorf("does not start with a JSON array")
		}
		return &jsonArrayReader{d: d}, nil
	case CEF:
		return &lineEventReader{lr: newLineReader(r), parse: parseCEFEvent}, nil
	}
	return &lineEventReader{lr: newLineReader(r), parse: func(line []byte) (exported, error) { return parseJSONEvent(f, line) }}, nil
}

func bytesReader(r io.Reader) io.Reader { return newLineReader(r).r }

type csvReader struct{ r *csv.Reader }

func (c *csvReader) next() (exported, int, error) {
	row, err := c.r.Read()
	line, _ := c.r.FieldPos(0)
	if err != nil {
		if err == io.EOF {
			return exported{}, line, err
		}
		return exported{}, line, fmt.Errorf("row cannot be read: %v", err)
	}
	e, err := csvEvent(row)
	if err != nil {
		return exported{}, line, err
	}
	return exported{full: &e}, line, nil
}

type jsonArrayReader struct {
	d    *json.Decoder
	n    int
	done bool
}

func (j *jsonArrayReader) next() (exported, int, error) {
	if j.done || !j.d.More() {
		if !j.done {
			j.done = true
			if t, err := j.d.Token(); err != nil || t != json.Delim(']') {
				return exported{}, j.n + 2, fmt.Errorf("the JSON array is not closed")
			}
			if _, err := j.d.Token(); err != io.EOF {
				return exported{}, j.n + 2, fmt.Errorf("data after the JSON array")
			}
		}
		return exported{}, 0, io.EOF
	}
	j.n++
	var raw json.RawMessage
	var e EventJSON
	err := j.d.Decode(&raw)
	if err == nil {
		if kerr := checkKeys(JSON, raw); kerr != nil {
			return exported{}, j.n + 1, fmt.Errorf("element %d: %v", j.n, kerr)
		}
		err = json.Unmarshal(raw, &e)
	}
	if err != nil {
		j.done = true
		return exported{}, j.n + 1, fmt.Errorf("element %d is not an event: %v", j.n, err)
	}
	return exported{full: &e}, j.n + 1, nil
}

type lineEventReader struct {
	lr    *lineReader
	parse func([]byte) (exported, error)
}

func (l *lineEventReader) next() (exported, int, error) {
	line, err := l.lr.next()
	if err != nil {
		return exported{}, l.lr.line + 1, err
	}
	e, err := l.parse(bytes.Clone(line)) // parse may keep views of its input
	return e, l.lr.line, err
}

func parseJSONEvent(f Format, line []byte) (exported, error) {
	if err := checkKeys(f, line); err != nil {
		return exported{}, fmt.Errorf("line: %v", err)
	}
	switch f {
	case JSONLines:
		var e EventJSON
		if err := parseEventJSON(line, &e); err != nil {
			return exported{}, fmt.Errorf("line is not an event: %v", err)
		}
		return exported{full: &e}, nil
	case SplunkHEC:
		var env struct {
			Event EventJSON `json:"event"`
		}
		if err := json.Unmarshal(line, &env); err != nil {
			return exported{}, fmt.Errorf("line is not a HEC envelope: %v", err)
		}
		return exported{full: &env.Event}, nil
	case ECS:
		var doc struct {
			Event struct {
				ID       string `json:"id"`
				Sequence uint64 `json:"sequence"`
			} `json:"event"`
			Axiom EventJSON `json:"axiom"`
		}
		if err := json.Unmarshal(line, &doc); err != nil {
			return exported{}, fmt.Errorf("line is not an ECS document: %v", err)
		}
		if doc.Event.ID != doc.Axiom.ID || doc.Event.Sequence != doc.Axiom.Seq {
			return exported{}, fmt.Errorf("event.id/event.sequence differ from axiom.id/axiom.seq")
		}
		return exported{full: &doc.Axiom}, nil
	case OCSF:
		var doc struct {
			Metadata struct {
				UID      string `json:"uid"`
				Sequence uint64 `json:"sequence"`
			} `json:"metadata"`
			Entity *struct {
				Data json.RawMessage `json:"data"`
			} `json:"entity"`
			EntityResult *struct {
				Data json.RawMessage `json:"data"`
			} `json:"entity_result"`
			Unmapped struct {
				Axiom EventJSON `json:"axiom"`
			} `json:"unmapped"`
		}
		if err := json.Unmarshal(line, &doc); err != nil {
			return exported{}, fmt.Errorf("line is not an OCSF event: %v", err)
		}
		e := doc.Unmapped.Axiom
		if doc.Metadata.UID != e.ID || doc.Metadata.Sequence != e.Seq {
			return exported{}, fmt.Errorf("metadata.uid/metadata.sequence differ from unmapped.axiom.id/seq")
		}
		// A state is in entity*.data or in unmapped.axiom, never both:
		// a reader of the one must not be shown another than the other.
		if doc.Entity != nil && len(doc.Entity.Data) > 0 {
			if len(e.BeforeState) > 0 {
				return exported{}, fmt.Errorf("beforeState is both in entity.data and in unmapped.axiom")
			}
			e.BeforeState = doc.Entity.Data
		}
		if doc.EntityResult != nil && len(doc.EntityResult.Data) > 0 {
			if len(e.AfterState) > 0 {
				return exported{}, fmt.Errorf("afterState is both in entity_result.data and in unmapped.axiom")
			}
			e.AfterState = doc.EntityResult.Data
		}
		return exported{full: &e}, nil
	}
	return exported{}, fmt.Errorf("unknown format %q", f)
}

// parseCEFEvent reads id and seq (externalId, cn1) from a CEF line and
// checks the header and the extensions that repeat public fields.
func parseCEFEvent(line []byte) (exported, error) {
	s := string(line)
	if !strings.HasPrefix(s, "CEF:0|") {
		return exported{}, fmt.Errorf("line is not CEF:0")
	}
	head, ext, ok := cefHeaderFields(s)
	if !ok {
		return exported{}, fmt.Errorf("CEF header does not have 7 fields")
	}
	x, dup := cefExtensionsDup(ext)
	if dup != "" {
		return exported{}, fmt.Errorf("CEF extension %q appears twice", dup)
	}
	seq, err := strconv.ParseUint(x["cn1"], 10, 64)
	if err != nil || x["externalId"] == "" {
		return exported{}, fmt.Errorf("CEF line has no externalId and cn1 (seq)")
	}
	e := exported{ID: x["externalId"], Seq: seq, cef: x, cefHead: head}
	if x["act"] != head[4] {
		e.diffs = append(e.diffs, "act differs from the signature id")
	}
	return e, nil
}

// cefValueKeys are the extensions the exporter writes besides the labels.
var cefValueKeys = map[string]bool{"rt": true, "end": true, "suser": true, "act": true, "outcome": true,
	"externalId": true, "cat": true, "cn1": true, "cs1": true, "cs2": true, "cs3": true, "cs4": true, "cs5": true,
	"cs6": true, "flexString1": true, "flexString2": true}

// cefLabels are the exporter's labels (cefEncoder); a state's label (of
// its state's key) is there exactly when the state is.
var cefLabels = []struct{ key, value, of string }{
	{"cn1Label", "seq", ""}, {"cs1Label", "organizationId", ""}, {"cs2Label", "soc2Controls", ""},
	{"cs3Label", "iso27001Controls", ""}, {"cs4Label", "resourceIds", ""}, {"cs5Label", "metadata", ""},
	{"cs6Label", "provider", ""}, {"flexString1Label", "beforeState", "flexString1"}, {"flexString2Label", "afterState", "flexString2"},
}

var cefLabelKeys = func() map[string]bool {
	m := map[string]bool{}
	for _, l := range cefLabels {
		m[l.key] = true
	}
	return m
}()

// compareCEF names the fields of a CEF line that differ from the public
// record and the revealed states: the header's signature id and severity,
// and each extension that repeats a public field (cefEncoder). The header's
// name and version and the controls (cs2, cs3) are not the record's.
func compareCEF(x map[string]string, head []string, p *publicRecord, before, after *RevealedJSON) []string {
	var bad []string
	ne := func(field, got, want string) {
		if got != want {
			bad = append(bad, fmt.Sprintf("%s %.80q differs from the log's %.80q", field, got, want))
		}
	}
	millis := func(s string) string {
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return "?"
		}
		return strconv.FormatInt(t.UnixMilli(), 10)
	}
	// The exporter's extensions only, under its labels: a SIEM shows a
	// value under its label, and shows any other extension too.
	var unknown []string
	for key := range x {
		if !cefValueKeys[key] && !cefLabelKeys[key] {
			unknown = append(unknown, key)
		}
	}
	for _, l := range cefLabels {
		got, present := x[l.key]
		if _, labelled := x[l.of]; l.of != "" && !labelled {
			if present {
				unknown = append(unknown, l.key) // a state's label without the state
			}
			continue
		}
		if got != l.value {
			bad = append(bad, fmt.Sprintf("%s %.40q is not %q", l.key, got, l.value))
		}
	}
	slices.Sort(unknown)
	for _, key := range unknown {
		bad = append(bad, fmt.Sprintf("extension %q is not one the exporter writes", key))
	}
	ne("signature id", head[4], p.ActionType)
	ne("severity", head[6], strconv.Itoa(CEFSeverity(p.RiskLevel)))
	ne("rt", x["rt"], millis(p.Timestamp))
	ne("end", x["end"], millis(p.RecordedAt))
	ne("suser", x["suser"], p.UserID)
	ne("outcome", x["outcome"], outcome(p.Status))
	ne("cat", x["cat"], p.Category)
	ne("cs1", x["cs1"], p.OrganizationID)
	ne("cs6", x["cs6"], p.Provider)
	res, _ := marshal(orEmpty(p.ResourceIDs))
	if !sameJSON(json.RawMessage(x["cs4"]), res) {
		bad = append(bad, "cs4 (resourceIds) differs from the log's")
	}
	meta := p.Metadata
	if len(meta) == 0 {
		meta = json.RawMessage("{}")
	}
	if !sameJSON(json.RawMessage(x["cs5"]), meta) {
		bad = append(bad, "cs5 (metadata) differs from the log's")
	}
	for _, s := range []struct {
		name, key string
		r         *RevealedJSON
	}{{"beforeState", "flexString1", before}, {"afterState", "flexString2", after}} {
		got, shown := x[s.key]
		switch {
		case !shown:
		case s.r == nil:
			bad = append(bad, s.name+" ("+s.key+") is not revealed in "+ProofsFile+", so it is not proved")
		case !sameJSON(json.RawMessage(got), s.r.State):
			bad = append(bad, s.name+" ("+s.key+") differs from the revealed state in "+ProofsFile)
		}
	}
	return bad
}

// OSLitter says whether name is a file that an operating system or an
// office suite puts into any folder it shows or has a file of open:
// Finder's .DS_Store and ._ companions, Explorer's Thumbs.db and
// desktop.ini, LibreOffice's .~lock.NAME# and Microsoft Office's ~$NAME.
// An auditor who opened a bundle should not see it fail for them.
func OSLitter(name string) bool {
	switch name {
	case ".DS_Store", "Thumbs.db", "desktop.ini":
		return true
	}
	return strings.HasPrefix(name, "._") ||
		strings.HasPrefix(name, ".~lock.") && strings.HasSuffix(name, "#") ||
		strings.HasPrefix(name, "~$")
}
