package export

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/axiomops/axiom-audit/storage"
	"github.com/axiomops/axiom-audit/storage/tlog"
)

// Source is what an export reads: the audit store in the application, a
// fake built on tlog in tests.
type Source interface {
	// List pages through the events of a filter (storage.Store.List).
	List(ctx context.Context, f storage.Filter) (storage.Page, error)
	// Checkpoint signs a checkpoint of org's log now; it covers every event
	// appended before the call.
	Checkpoint(ctx context.Context, org string) (SignedCheckpoint, error)
	// PublicKey is the note verifier key checkpoints are signed with.
	PublicKey(ctx context.Context) (string, error)
	// SignManifest signs, with that key, the statement that a bundle of
	// org's log has the manifest sealed with sum (tlog.SignManifest).
	SignManifest(ctx context.Context, org, sum string) ([]byte, error)
	// InclusionProof proves event id of org in the tree of treeSize.
	InclusionProof(ctx context.Context, org, id string, treeSize uint64) (Proof, error)
	// RevealStates returns the salts and plaintexts of an event's states.
	RevealStates(ctx context.Context, org, id string) (storage.RevealedState, error)
}

// Counter is implemented by sources that can count a filter's events
// cheaply; an export uses it for its progress ETA.
type Counter interface {
	Count(ctx context.Context, f storage.Filter) (int64, error)
}

// SignedCheckpoint is a checkpoint and its signed note.
type SignedCheckpoint struct {
	Checkpoint tlog.Checkpoint
	Note       []byte
}

// Proof is an inclusion proof of one leaf.
type Proof struct {
	LeafIndex, TreeSize uint64
	LeafHash            tlog.Hash
	Hashes              [][]byte
}

// Options configure Write.
type Options struct {
	Org    string         // required
	Filter storage.Filter // Org, Limit and Cursor are set by Write
	Format Format         // required
	OutDir string         // an existing directory; the bundle is created inside
	// IncludeSensitive reveals the states (salt and plaintext); otherwise
	// only their commitments leave the log.
	IncludeSensitive bool
	Exporter         string // who exports, for the manifest
	ToolVersion      string
	Host             string // for Splunk HEC; os.Hostname() when empty
	Catalogue        *storage.Catalogue
	Now              func() time.Time
	// Progress, when set, is called at most ten times a second.
	Progress func(Progress)
	// Record, when set, records the export (the log's audit.exported)
	// once the bundle is complete and synced, under the name it is about
	// to have, before it is moved there: a bundle is never visible
	// unrecorded. If the process dies before it is recorded, the empty
	// folder that held its name is all there is; if after, the next export
	// in the folder moves the bundle into place (PlaceRecorded). An error
	// from it removes the bundle and is Write's error.
	Record func(Result) error

	// create makes a bundle file; tests replace it to simulate a full disk.
	create func(path string) (io.WriteCloser, error)
}

// Progress reports how far an export has come. Total and ETA are zero when
// the source cannot count.
type Progress struct {
	Events int64
	Total  int64
	Bytes  int64
	ETA    time.Duration
}

// Result describes a written bundle.
type Result struct {
	Dir      string // absolute path of the bundle
	Files    []File // every file, manifest.json last
	Count    int64
	FirstSeq uint64 // smallest and largest exported seq; 0 when empty
	LastSeq  uint64
	Manifest Manifest
	// Bytes is the size of all files together.
	Bytes int64
	// ManifestSHA256 is the SHA-256 of manifest.json's bytes (which seal
	// every other file): what the audit event records.
	ManifestSHA256 string
	// Pruned is pruned.json: the events of the filter retention had
	// pruned. Nil when the source cannot tell (a version 3 bundle).
	Pruned *Pruned
}

// progressInterval spaces progress callbacks (at most 10 per second).
const progressInterval = 100 * time.Millisecond

// BundleName is the folder name of an export of org created at t.
func BundleName(org string, t time.Time) string {
	return "axiom-audit-export-" + org + "-" + t.UTC().Format("20060102T150405Z")
}

// Write exports the events of opts.Filter to a new evidence bundle inside
// opts.OutDir and returns it. The bundle is written to a hidden temporary
// folder, synced, and renamed into place only when complete; on any error,
// including a cancelled ctx, the temporary folder is removed and no bundle
// exists. An existing folder is never overwritten: when the bundle's name
// is taken, it gets the first free of name-2, name-3, … (Place). Memory does not grow with the number of events.
func Write(ctx context.Context, src Source, opts Options) (res Result, err error) {
	if opts.Org == "" {
		return res, fmt.Errorf("%w: the organization is required", ErrUsage)
	}
	if _, err := ParseFormat(string(opts.Format)); err != nil {
		return res, err
	}
	if opts.OutDir == "" {
		return res, fmt.Errorf("%w: the output folder is required", ErrUsage)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Catalogue == nil {
		if opts.Catalogue, err = storage.LoadCatalogue(); err != nil {
			return res, err
		}
	}
	if opts.Host == "" {
		opts.Host, _ = os.Hostname()
	}
	if opts.create == nil {
		opts.create = func(path string) (io.WriteCloser, error) {
			return os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		}
	}
	outDir, err := filepath.Abs(opts.OutDir)
	if err != nil {
		return res, fmt.Errorf("%w: output folder %s: %v", ErrUsage, opts.OutDir, err)
	}
	if fi, err := os.Stat(outDir); err != nil {
		return res, fmt.Errorf("cannot export to %s: %w", outDir, err)
	} else if !fi.IsDir() {
		return res, fmt.Errorf("%w: %s is not a folder", ErrUsage, outDir)
	}
	created := opts.Now().UTC()
	tmp, done, err := MakePartial(outDir, ".axiom-audit-export-")
	if err != nil {
		return res, fmt.Errorf("cannot create a folder in %s: %w", outDir, err)
	}
	defer done()
	w := &bundleWriter{src: src, opts: opts, tmp: tmp, info: newCatalogueInfo(opts.Catalogue)}
	m, files, err := w.write(ctx, created)
	if err != nil {
		return res, err
	}
	res.Pruned = w.prunedOut
	if err := syncDir(tmp); err != nil {
		return res, fmt.Errorf("failed to sync %s: %w", tmp, err)
	}
	res = Result{Files: files, Count: m.Count, FirstSeq: m.FirstSeq, LastSeq: m.LastSeq, Manifest: m, Pruned: res.Pruned}
	for _, f := range files {
		res.Bytes += f.Bytes
		if f.Name == ManifestFile {
			res.ManifestSHA256 = f.SHA256
		}
	}
	name := BundleName(opts.Org, created)
	if opts.Record == nil {
		res.Dir, err = Place(tmp, outDir, name)
	} else {
		res.Dir, err = PlaceRecorded(tmp, outDir, name, func(target string) error {
			rec := res
			rec.Dir = target
			return opts.Record(rec)
		})
	}
	if err != nil {
		return Result{}, err
	}
	if err := syncDir(outDir); err != nil {
		os.RemoveAll(res.Dir)
		if opts.Record != nil {
			return Result{}, fmt.Errorf("the export is recorded, but the folder %s could not be synced, and the bundle was removed: %w", outDir, err)
		}
		return Result{}, fmt.Errorf("failed to sync %s: %w", outDir, err)
	}
	return res, nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, os.ErrInvalid) {
		return err
	}
	return nil
}

// bundleWriter writes the files of one bundle into tmp.
type bundleWriter struct {
	src  Source
	opts Options
	tmp  string
	info *catalogueInfo
	// proofBytes is how much of proofs.jsonl is written, for progress.
	proofBytes atomic.Int64
	// free holds batches for the reader to reuse.
	free chan []storage.StoredEvent
	// pruned sums the pruned events of the filter, when the source is a
	// PrunedScanner; the reader writes it, write reads it once the reader
	// is done.
	pruned    *prunedTally
	prunedOut *Pruned // what pruned.json says, once written
}

// file is one bundle file being written: buffered, counted and hashed.
type file struct {
	name string
	path string
	wc   io.WriteCloser
	bw   *bufio.Writer
	hw   *hashingWriter
}

// create creates a bundle file; a streamed one (the events and proofs,
// gigabytes for a large export) is written around the page cache.
func (w *bundleWriter) create(name string, streamed bool) (*file, error) {
	path := filepath.Join(w.tmp, name)
	wc, err := w.opts.create(path)
	if err != nil {
		return nil, fmt.Errorf("cannot create %s: %w", path, err)
	}
	if streamed {
		wc = streamingWriter(wc)
	}
	f := &file{name: name, path: path, wc: wc}
	f.hw = newHashingWriter(wc)
	f.bw = bufio.NewWriterSize(f.hw, 256<<10)
	return f, nil
}

// close flushes, syncs and closes the file and returns its entry.
func (f *file) close() (File, error) {
	err := f.bw.Flush()
	if s, ok := f.wc.(interface{ Sync() error }); ok && err == nil {
		err = s.Sync()
	}
	if cerr := f.wc.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return File{}, fmt.Errorf("failed to write %s: %w", f.path, err)
	}
	return f.hw.file(f.name), nil
}

func (f *file) abort() { f.wc.Close() }

func (w *bundleWriter) writeWhole(name string, data []byte) (File, error) {
	f, err := w.create(name, false)
	if err != nil {
		return File{}, err
	}
	if _, err := f.bw.Write(data); err != nil {
		f.abort()
		return File{}, fmt.Errorf("failed to write %s: %w", f.path, err)
	}
	return f.close()
}

func (w *bundleWriter) write(ctx context.Context, created time.Time) (Manifest, []File, error) {
	o := w.opts
	m := Manifest{Version: BundleVersion, Tool: Tool{Name: "axiom-audit", Version: o.ToolVersion},
		CreatedAt: formatTime(created), Exporter: o.Exporter, OrganizationID: o.Org, Format: o.Format,
		IncludeSensitive: o.IncludeSensitive}
	f := o.Filter
	f.Org, f.Cursor, f.Limit = o.Org, "", storage.MaxLimit
	m.Filter = DescribeFilter(f)
	if _, ok := w.src.(PrunedScanner); ok {
		w.pruned = newPrunedTally(f.PrunedMatchIsExact())
	} else {
		m.Version = bundleVersionV3
	}

	enc, err := NewEncoder(o.Format, Product{Version: o.ToolVersion, Host: o.Host})
	if err != nil {
		return m, nil, err
	}
	events, err := w.create(o.Format.EventsFile(), true)
	if err != nil {
		return m, nil, err
	}
	defer events.abort()
	proofs, err := w.create(ProofsFile, true)
	if err != nil {
		return m, nil, err
	}
	defer proofs.abort()

	var total int64
	if c, ok := w.src.(Counter); ok && o.Progress != nil {
		total, _ = c.Count(ctx, f)
	}
	start, lastReport := time.Now(), time.Time{}
	report := func() {
		if o.Progress == nil {
			return
		}
		now := time.Now()
		if now.Sub(lastReport) < progressInterval {
			return
		}
		lastReport = now
		p := Progress{Events: m.Count, Total: total, Bytes: events.hw.n + int64(events.bw.Buffered()) + w.proofBytes.Load()}
		if total > 0 && m.Count > 0 && total > m.Count {
			p.ETA = time.Duration(float64(now.Sub(start)) / float64(m.Count) * float64(total-m.Count)).Round(time.Second)
		}
		o.Progress(p)
	}

	if err := enc.Begin(events.bw); err != nil {
		return m, nil, fmt.Errorf("failed to write %s: %w", events.path, err)
	}
	// The checkpoint is signed first; the export holds the events it covers
	// (seq ≤ its size), so every exported event has a proof against it.
	cp, err := w.src.Checkpoint(ctx, o.Org)
	if err != nil {
		return m, nil, fmt.Errorf("failed to sign a checkpoint for the export: %w", err)
	}
	var bp *batchProver
	if ns, ok := w.src.(NodeSource); ok {
		bp = newBatchProver(ns.TreeNodes(o.Org), cp.Checkpoint.Size)
	}
	// Reading runs ahead of encoding by up to two batches.
	pctx, stop := context.WithCancel(ctx)
	defer stop()
	batches := make(chan []storage.StoredEvent, 2)
	// Batches the proofs writer is done with go back to the reader.
	w.free = make(chan []storage.StoredEvent, 8)
	var readErr error
	go func() {
		defer close(batches)
		readErr = w.read(pctx, f, cp.Checkpoint.Size, batches)
	}()
	// Proofs are built and written by a goroutine of their own, a batch
	// behind the events file, so that the two halves of the work run in
	// parallel. It owns bp and the proofs file until proofsDone.
	jobs := make(chan proofJob, 2)
	proofsDone := make(chan struct{})
	var proofErr error
	go func() {
		defer close(proofsDone)
		proofErr = w.writeProofs(pctx, stop, jobs, bp, proofs, cp.Checkpoint.Size)
	}()
	jobsClosed := false
	finishProofs := func() error {
		if !jobsClosed {
			jobsClosed = true
			close(jobs)
		}
		<-proofsDone
		return proofErr
	}
	defer finishProofs()
	fail := func(err error) (Manifest, []File, error) {
		stop()
		for range batches {
		}
		finishProofs()
		return m, nil, err
	}
	var rec Record
	for batch := range batches {
		var revealed []storage.RevealedState
		if o.IncludeSensitive {
			revealed = make([]storage.RevealedState, len(batch))
		}
		for i := range batch {
			e := &batch[i]
			if o.IncludeSensitive && (e.BeforeStateCommitment != "" || e.AfterStateCommitment != "") {
				if revealed[i], err = w.src.RevealStates(ctx, o.Org, e.ID); err != nil {
					return fail(fmt.Errorf("failed to reveal the states of event %s: %w", e.ID, err))
				}
				e.BeforeState, e.AfterState = stateOf(revealed[i].Before), stateOf(revealed[i].After)
			} else {
				e.BeforeState, e.AfterState = nil, nil
			}
			w.info.record(&rec, e)
			if err := enc.Encode(events.bw, &rec); err != nil {
				return fail(fmt.Errorf("failed to write %s: %w", events.path, err))
			}
			if m.Count == 0 || e.Seq < m.FirstSeq {
				m.FirstSeq = e.Seq
			}
			m.LastSeq = max(m.LastSeq, e.Seq)
			m.Count++
		}
		jobs <- proofJob{batch: batch, revealed: revealed}
		report()
	}
	if err := finishProofs(); err != nil {
		return m, nil, err
	}
	if readErr != nil {
		return m, nil, fmt.Errorf("failed to read events: %w", readErr)
	}
	if err := ctx.Err(); err != nil {
		return m, nil, fmt.Errorf("export cancelled: %w", err)
	}
	if err := enc.End(events.bw); err != nil {
		return m, nil, fmt.Errorf("failed to write %s: %w", events.path, err)
	}
	var files []File
	for _, fl := range []*file{events, proofs} {
		entry, err := fl.close()
		if err != nil {
			return m, nil, err
		}
		files = append(files, entry)
	}
	if w.pruned != nil {
		pr := w.pruned.result()
		if ph, ok := w.src.(PolicyHistorian); ok {
			h, err := ph.RetentionHistory(ctx, o.Org)
			if err != nil {
				return m, nil, fmt.Errorf("failed to read the retention policy history: %w", err)
			}
			pr.describePolicies(h)
		}
		w.prunedOut = &pr
		data, err := encodePruned(pr)
		if err != nil {
			return m, nil, err
		}
		entry, err := w.writeWhole(PrunedFile, data)
		if err != nil {
			return m, nil, err
		}
		files = append(files, entry)
	}
	vkey, err := w.src.PublicKey(ctx)
	if err != nil {
		return m, nil, fmt.Errorf("failed to read the log's public key: %w", err)
	}
	for _, whole := range []struct {
		name string
		data []byte
	}{{CheckpointFile, cp.Note}, {PublicKeyFile, []byte(vkey + "\n")}} {
		entry, err := w.writeWhole(whole.name, whole.data)
		if err != nil {
			return m, nil, err
		}
		files = append(files, entry)
	}
	m.Checkpoint = CheckpointRef{Origin: cp.Checkpoint.Origin, TreeSize: cp.Checkpoint.Size, Root: cp.Checkpoint.Root.String()}
	m.Files = files
	data, seal, err := encodeManifest(m)
	if err != nil {
		return m, nil, err
	}
	m.ManifestSHA256 = seal
	entry, err := w.writeWhole(ManifestFile, data)
	if err != nil {
		return m, nil, err
	}
	sig, err := w.src.SignManifest(ctx, o.Org, seal)
	if err != nil {
		return m, nil, fmt.Errorf("failed to sign the manifest: %w", err)
	}
	sigEntry, err := w.writeWhole(ManifestSigFile, sig)
	if err != nil {
		return m, nil, err
	}
	if err := ctx.Err(); err != nil {
		return m, nil, fmt.Errorf("export cancelled: %w", err)
	}
	return m, append(files, entry, sigEntry), nil
}

// proofJob is a batch whose events are in the events file, for the
// proofs writer: revealed holds the states revealed for it, by index.
type proofJob struct {
	batch    []storage.StoredEvent
	revealed []storage.RevealedState
}

// writeProofs writes the proofs.jsonl line of every event of jobs until
// jobs is closed. On an error it calls stop, so that the export ends, and
// keeps draining jobs.
func (w *bundleWriter) writeProofs(ctx context.Context, stop func(), jobs <-chan proofJob, bp *batchProver, proofs *file, treeSize uint64) error {
	var line []byte
	var hashText hashB64
	var failed error
	for j := range jobs {
		if failed != nil {
			continue
		}
		if bp != nil {
			bp.setBatch(j.batch)
		}
		for i := range j.batch {
			e := &j.batch[i]
			var p Proof
			var err error
			if bp != nil {
				p, err = bp.prove(ctx, e)
			} else {
				p, err = w.src.InclusionProof(ctx, w.opts.Org, e.ID, treeSize)
			}
			if err != nil {
				failed = fmt.Errorf("failed to prove event %s (seq %d): %w", e.ID, e.Seq, err)
				break
			}
			var rs storage.RevealedState
			if j.revealed != nil {
				rs = j.revealed[i]
			}
			line = appendProofLine(line[:0], e, &p, rs, &hashText)
			if _, err := proofs.bw.Write(line); err != nil {
				failed = fmt.Errorf("failed to write %s: %w", proofs.path, err)
				break
			}
		}
		if failed != nil {
			stop()
			continue
		}
		w.proofBytes.Store(proofs.hw.n + int64(proofs.bw.Buffered()))
		w.recycle(j.batch)
	}
	return failed
}

// batchSize is how many events the reader hands over at a time.
const batchSize = 512

// newBatch returns an empty batch, one the proofs writer is done with
// when there is one.
func (w *bundleWriter) newBatch() []storage.StoredEvent {
	select {
	case b := <-w.free:
		return b
	default:
		return make([]storage.StoredEvent, 0, batchSize)
	}
}

// recycle hands a batch whose events are written back to the reader.
func (w *bundleWriter) recycle(b []storage.StoredEvent) {
	if cap(b) != batchSize || w.free == nil {
		return
	}
	clear(b) // what its events refer to can be collected meanwhile
	select {
	case w.free <- b[:0]:
	default:
	}
}

// read sends the events of f with seq ≤ maxSeq in batches, through the
// source's Scanner when it has one, else page by page.
func (w *bundleWriter) read(ctx context.Context, f storage.Filter, maxSeq uint64, out chan<- []storage.StoredEvent) error {
	batch := w.newBatch()
	send := func() error {
		if len(batch) == 0 {
			return nil
		}
		select {
		case out <- batch:
		case <-ctx.Done():
			return ctx.Err()
		}
		batch = w.newBatch()
		return nil
	}
	event := func(e *storage.StoredEvent) error {
		batch = append(batch, *e)
		if len(batch) == batchSize {
			return send()
		}
		return nil
	}
	if ps, ok := w.src.(PrunedScanner); ok {
		err := ps.ScanRecordsAndPruned(ctx, f, maxSeq, false, event, func(p *storage.PrunedEvent) error {
			w.pruned.add(p)
			return nil
		})
		if err != nil {
			return err
		}
		return send()
	}
	if sc, ok := w.src.(Scanner); ok {
		if err := sc.ScanRecords(ctx, f, maxSeq, false, event); err != nil {
			return err
		}
		return send()
	}
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		page, err := w.src.List(ctx, f)
		if err != nil {
			return err
		}
		for _, e := range page.Events {
			if e.Seq <= maxSeq {
				batch = append(batch, e)
			}
		}
		if err := send(); err != nil {
			return err
		}
		if page.NextCursor == "" {
			return nil
		}
		f.Cursor = page.NextCursor
	}
}

func stateOf(o *storage.StateOpening) []byte {
	if o == nil {
		return nil
	}
	return o.JCS
}

// hashB64 keeps the base64 text of the previous proof's hashes. The proofs
// of consecutive events share most of their path, so most hashes of a line
// are the previous line's at the same position, and their text is copied
// instead of encoded again.
type hashB64 struct {
	raw, text [][]byte
}

// append appends the base64 of h, the i-th hash of a proof.
func (c *hashB64) append(b []byte, i int, h []byte) []byte {
	if i < len(c.raw) && bytes.Equal(c.raw[i], h) {
		return append(b, c.text[i]...)
	}
	for len(c.raw) <= i {
		c.raw, c.text = append(c.raw, nil), append(c.text, nil)
	}
	c.raw[i] = append(c.raw[i][:0], h...)
	c.text[i] = base64.StdEncoding.AppendEncode(c.text[i][:0], h)
	return append(b, c.text[i]...)
}

// appendProofLine appends the proofs.jsonl line of e, hand-encoded: it is
// written once per exported event.
func appendProofLine(b []byte, e *storage.StoredEvent, p *Proof, rs storage.RevealedState, hashText *hashB64) []byte {
	b64 := base64.StdEncoding
	b = append(b, `{"id":`...)
	b = appendJSONString(b, e.ID)
	b = append(b, `,"seq":`...)
	b = strconv.AppendUint(b, e.Seq, 10)
	b = append(b, `,"leafIndex":`...)
	b = strconv.AppendUint(b, p.LeafIndex, 10)
	b = append(b, `,"treeSize":`...)
	b = strconv.AppendUint(b, p.TreeSize, 10)
	b = append(b, `,"leafHash":"`...)
	b = b64.AppendEncode(b, p.LeafHash[:])
	b = append(b, `","hashes":[`...)
	for i, h := range p.Hashes {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '"')
		b = hashText.append(b, i, h)
		b = append(b, '"')
	}
	b = append(b, `],"record":"`...)
	b = b64.AppendEncode(b, e.Public)
	b = append(b, '"')
	for _, s := range []struct {
		name string
		o    *storage.StateOpening
	}{{"beforeState", rs.Before}, {"afterState", rs.After}} {
		if s.o == nil {
			continue
		}
		b = append(b, `,"`...)
		b = append(b, s.name...)
		b = append(b, `":{"salt":"`...)
		b = b64.AppendEncode(b, s.o.Salt[:])
		b = append(b, `","state":"`...)
		b = b64.AppendEncode(b, s.o.JCS)
		b = append(b, `"}`...)
	}
	return append(b, "}\n"...)
}

// appendString appends s as a JSON string.
func appendString(b []byte, s string) []byte {
	q, _ := marshal(s)
	return append(b, q...)
}
