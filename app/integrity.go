package app

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/axiomops/axiom-audit/storage"
	"github.com/axiomops/axiom-audit/storage/tlog"
	"github.com/wailsapp/wails/v2/pkg/runtime"
)

// The integrity use cases: the newest signed checkpoint, inclusion and
// consistency proofs, and verification of the whole log. The desktop
// window, the REST API and the CLI (verify, checkpoint, prove, recover) all
// go through these.

// EventVerifyProgress is the Wails event that carries VerifyProgressDTO
// while a verification runs.
const EventVerifyProgress = "audit:verify-progress"

// maxProblemsInResult bounds the problems a VerifyResultDTO lists; the
// count of all of them is always in ProblemCount and Truncated says when
// the list is shorter. The CLI streams every problem instead.
const maxProblemsInResult = 1000

// progressInterval is how often verification progress is reported, at most.
const progressInterval = 100 * time.Millisecond

// LatestCheckpoint returns org's newest signed checkpoint.
func (a *App) LatestCheckpoint(org string) (CheckpointDTO, error) {
	return a.latestCheckpoint(a.bg(), org)
}

func (a *App) latestCheckpoint(ctx context.Context, org string) (CheckpointDTO, error) {
	return a.checkpoint(ctx, org, 0)
}

// checkpoint returns org's stored signed checkpoint of the tree of size
// events, or with size 0 its newest.
func (a *App) checkpoint(ctx context.Context, org string, size uint64) (CheckpointDTO, error) {
	st, err := a.storeOrErr()
	if err != nil {
		return CheckpointDTO{}, err
	}
	if org == "" {
		return CheckpointDTO{}, &RequestError{Field: "org", Reason: "is required"}
	}
	var cp storage.SignedCheckpoint
	if size > 0 {
		cp, err = st.CheckpointOfSize(ctx, org, size)
	} else {
		cp, err = st.LatestCheckpoint(ctx, org)
		if errors.Is(err, storage.ErrNotFound) {
			// An organization with events but no checkpoint yet gets its
			// first one now, so that every answer is a signed statement;
			// one without events may have lost them (its alert says so).
			if n, _, herr := st.Head(ctx, org); herr == nil && n > 0 {
				cp, err = st.Checkpoint(ctx, org)
			} else if aerr := a.requireOrg(ctx, org); errors.Is(aerr, storage.ErrIntegrityAlert) {
				err = aerr
			}
		}
	}
	if err != nil {
		return CheckpointDTO{}, err
	}
	key, err := st.PublicKey(ctx)
	if err != nil {
		return CheckpointDTO{}, err
	}
	out := CheckpointDTO{
		Origin:    cp.Checkpoint.Origin,
		Size:      cp.Checkpoint.Size,
		Root:      cp.Checkpoint.Root.String(),
		Time:      formatTime(cp.Time),
		Note:      string(cp.Note),
		PublicKey: key,
	}
	for _, al := range st.IntegrityAlerts(ctx) {
		if al.Org == org {
			out.Alert = alertDTO(al)
		}
	}
	return out, nil
}

// publicKey returns the verifier key of this installation's checkpoints in
// golang.org/x/mod/sumdb/note verifier format.
func (a *App) publicKey(ctx context.Context) (string, error) {
	st, err := a.storeOrErr()
	if err != nil {
		return "", err
	}
	return st.PublicKey(ctx)
}

// PublicKeyDTO is the verifier key of this installation's checkpoints.
type PublicKeyDTO struct {
	PublicKey string `json:"publicKey"` // golang.org/x/mod/sumdb/note verifier format
}

// EventProof returns the inclusion proof of event id of org against org's
// newest signed checkpoint, checked against that checkpoint's root.
func (a *App) EventProof(org, id string) (InclusionProofDTO, error) {
	return a.eventProof(a.bg(), org, id, 0)
}

// eventProof proves event id of org in the tree of treeSize leaves (0: the
// newest checkpoint, made first when the event is newer than it). Verified
// says whether the proof leads to the root of the checkpoint of that size.
func (a *App) eventProof(ctx context.Context, org, id string, treeSize uint64) (InclusionProofDTO, error) {
	st, err := a.storeOrErr()
	if err != nil {
		return InclusionProofDTO{}, err
	}
	switch {
	case org == "":
		return InclusionProofDTO{}, &RequestError{Field: "org", Reason: "is required"}
	case id == "":
		return InclusionProofDTO{}, &RequestError{Field: "id", Reason: "is required"}
	}
	p, err := st.InclusionProof(ctx, org, id, treeSize)
	if err != nil {
		return InclusionProofDTO{}, err
	}
	out := InclusionProofDTO{
		LeafIndex: p.LeafIndex,
		TreeSize:  p.TreeSize,
		LeafHash:  p.LeafHash.String(),
		Hashes:    make([]string, len(p.Hashes)),
	}
	for i, h := range p.Hashes {
		out.Hashes[i] = base64.StdEncoding.EncodeToString(h)
	}
	if root, ok := a.checkpointRoot(ctx, org, p.TreeSize); ok {
		out.Verified = tlog.VerifyInclusion(p.LeafHash, p.LeafIndex, p.TreeSize, p.Hashes, root) == nil
	}
	return out, nil
}

// checkpointRoot returns the root of org's signed checkpoint of size, when
// there is one whose signature verifies: the newest is looked at first, as
// that is what proofs use.
func (a *App) checkpointRoot(ctx context.Context, org string, size uint64) (tlog.Hash, bool) {
	cp, err := a.store.LatestCheckpoint(ctx, org)
	if err == nil && cp.Checkpoint.Size == size {
		return cp.Checkpoint.Root, true
	}
	if cp, err = a.store.CheckpointOfSize(ctx, org, size); err != nil {
		return tlog.Hash{}, false
	}
	return cp.Checkpoint.Root, true
}

// ConsistencyProofDTO proves that the tree of Size2 leaves extends the tree
// of Size1 leaves (RFC 6962 §2.1.2).
type ConsistencyProofDTO struct {
	Org    string   `json:"org"`
	Size1  uint64   `json:"size1"`
	Size2  uint64   `json:"size2"`
	Hashes []string `json:"hashes"` // base64
}

func (a *App) consistencyProof(ctx context.Context, org string, size1, size2 uint64) (ConsistencyProofDTO, error) {
	st, err := a.storeOrErr()
	if err != nil {
		return ConsistencyProofDTO{}, err
	}
	if org == "" {
		return ConsistencyProofDTO{}, &RequestError{Field: "org", Reason: "is required"}
	}
	if size1 > size2 {
		return ConsistencyProofDTO{}, &RequestError{Field: "from", Reason: fmt.Sprintf("must not exceed to (%d > %d)", size1, size2)}
	}
	// A typo must not get the (empty) proof of an empty log.
	if err := a.requireOrg(ctx, org); err != nil {
		return ConsistencyProofDTO{}, err
	}
	p, err := st.ConsistencyProof(ctx, org, size1, size2)
	if err != nil {
		return ConsistencyProofDTO{}, err
	}
	out := ConsistencyProofDTO{Org: org, Size1: size1, Size2: size2, Hashes: make([]string, len(p))}
	for i, h := range p {
		out.Hashes[i] = base64.StdEncoding.EncodeToString(h)
	}
	return out, nil
}

// VerifyRequest selects what a verification checks.
type VerifyRequest struct {
	Org     string `json:"org,omitempty"` // empty: every organization
	Keyless bool   `json:"keyless"`
}

// Verify checks org's log (every organization's when org is empty) with
// the keys, reporting progress as "audit:verify-progress" Wails events.
func (a *App) Verify(org string) (VerifyResultDTO, error) {
	var last time.Time
	return a.verify(a.bg(), VerifyRequest{Org: org}, func(p VerifyProgressDTO) {
		if now := time.Now(); p.Done == p.Total || now.Sub(last) >= progressInterval {
			last = now
			a.emit(EventVerifyProgress, p)
		}
	}, nil)
}

// VerifyProgressDTO says how far a verification of one organization got.
type VerifyProgressDTO struct {
	Org   string `json:"org"`
	Done  uint64 `json:"done"`
	Total uint64 `json:"total"`
	// Finished marks the last message of a verification run.
	Finished bool `json:"finished,omitempty"`
}

// verify runs a verification and records it in the log (audit.verified,
// one per organization checked). progress, when set, is called often and
// must be cheap; each problem goes to problem, when set, as it is found,
// and the first maxProblemsInResult of them into the result. Problems are
// not errors: a tampered log gives a result with Clean false and a nil
// error; an error means the log could not be checked.
func (a *App) verify(ctx context.Context, req VerifyRequest, progress func(VerifyProgressDTO), problem func(VerifyProblemDTO)) (VerifyResultDTO, error) {
	st, err := a.storeOrErr()
	if err != nil {
		return VerifyResultDTO{}, err
	}
	if req.Org != "" {
		// An organization whose log is missing but anchored is
		// verified: verify reports its alert as a problem.
		if err := a.requireOrg(ctx, req.Org); err != nil && !errors.Is(err, storage.ErrIntegrityAlert) {
			return VerifyResultDTO{}, err
		}
	}
	defer a.verifyProgress.finish(req.Org)
	res, perOrg, checked, err := collectVerify(req, storage.VerifyOptions{Org: req.Org, Keyless: req.Keyless}, a.opts.Now,
		func(opts storage.VerifyOptions, report func(storage.Problem) error) (storage.VerifySummary, error) {
			return st.Verify(ctx, opts, report)
		},
		func(p VerifyProgressDTO) {
			a.verifyProgress.publish(p)
			if progress != nil {
				progress(p)
			}
		}, problem)
	if err != nil {
		return res, err
	}
	// The log records that it was verified. A log under an integrity alert
	// refuses the event; the verification still stands, so that is logged
	// and not returned.
	for _, org := range checked {
		result := "ok"
		if perOrg[org] > 0 {
			result = "tampered"
		}
		meta := map[string]any{"result": result, "problems": perOrg[org], "keyless": req.Keyless}
		if size, _, herr := st.Head(ctx, org); herr == nil {
			meta["treeSize"] = size
			meta["records"] = size
		}
		if err := a.recordSelf(ctx, org, "audit.verified", meta); err != nil {
			level := slog.LevelWarn
			if errors.Is(err, storage.ErrIntegrityAlert) {
				// Expected: the alert is among the problems reported.
				level = slog.LevelDebug
			}
			a.log.Log(ctx, level, "verification not recorded in the log", "org", org, "err", err)
		}
	}
	return res, nil
}

// collectVerify runs a verification through verify with opts and collects
// its result: the first maxProblemsInResult problems (each also to
// problem, when set, as found), the counts, and the organizations checked
// with their number of problems.
func collectVerify(req VerifyRequest, opts storage.VerifyOptions, now func() time.Time,
	verify func(storage.VerifyOptions, func(storage.Problem) error) (storage.VerifySummary, error),
	progress func(VerifyProgressDTO), problem func(VerifyProblemDTO)) (res VerifyResultDTO, perOrg map[string]uint64, checked []string, err error) {
	res = VerifyResultDTO{Org: req.Org, Keyless: req.Keyless, StartedAt: formatTime(now()), Problems: []VerifyProblemDTO{}}
	perOrg = map[string]uint64{}
	var current string
	opts.Progress = func(org string, done, total uint64) {
		if org != current {
			current = org
			checked = append(checked, org)
		}
		if progress != nil {
			progress(VerifyProgressDTO{Org: org, Done: done, Total: total})
		}
	}
	sum, err := verify(opts, func(p storage.Problem) error {
		d := VerifyProblemDTO{Org: p.Org, Seq: p.Seq, ID: p.ID, Kind: p.Kind, Detail: p.Detail, Checkpoint: p.Checkpoint}
		perOrg[p.Org]++
		res.ProblemCount++
		if len(res.Problems) < maxProblemsInResult {
			res.Problems = append(res.Problems, d)
		} else {
			res.Truncated = true
		}
		if problem != nil {
			problem(d)
		}
		return nil
	})
	res.FinishedAt = formatTime(now())
	res.Events = sum.Events
	res.Checkpoints = sum.Checkpoints
	res.States = sum.States
	res.Pruned, res.PrunedRanges = sum.Pruned, prunedRangeDTOs(sum.PrunedRanges)
	if err != nil {
		return res, perOrg, checked, err
	}
	res.Clean = res.ProblemCount == 0
	for org := range perOrg {
		if !slices.Contains(checked, org) {
			checked = append(checked, org)
		}
	}
	if req.Org != "" && !slices.Contains(checked, req.Org) {
		checked = append(checked, req.Org)
	}
	return res, perOrg, checked, nil
}

// requireOrg fails when org has no log here: with its integrity alert when
// the keychain's anchor says it had one (the log is missing from the
// database), and with storage.ErrNotFound otherwise.
func (a *App) requireOrg(ctx context.Context, org string) error {
	orgs, err := a.store.Organizations(ctx)
	if err != nil {
		return err
	}
	for _, o := range orgs {
		if o.ID == org {
			return nil
		}
	}
	for _, al := range a.store.IntegrityAlerts(ctx) {
		if al.Org == org {
			return &storage.IntegrityAlertError{Alert: al}
		}
	}
	return notFound("no organization %q in this profile", org)
}

// emit sends a Wails event to the window, when there is one.
func (a *App) emit(name string, data any) {
	a.mu.Lock()
	ctx := a.ctx
	a.mu.Unlock()
	if ctx != nil {
		runtime.EventsEmit(ctx, name, data)
	}
}

// integrityAlerts lists the active integrity alerts of the profile.
func (a *App) integrityAlerts(ctx context.Context) ([]storage.IntegrityAlert, error) {
	st, err := a.storeOrErr()
	if err != nil {
		return nil, err
	}
	return st.IntegrityAlerts(ctx), nil
}

// acknowledgeIntegrityAlert accepts org's database as it is after an
// integrity alert (recorded as audit.integrity_alert_acknowledged, with
// the evidence, by the OS user).
func (a *App) acknowledgeIntegrityAlert(ctx context.Context, org, reason string) (storage.Receipt, error) {
	st, err := a.storeOrErr()
	if err != nil {
		return storage.Receipt{}, err
	}
	return st.AcknowledgeIntegrityAlert(ctx, org, a.opts.User, reason)
}

// progressHub fans verification progress out to the REST API's progress
// streams (GET /api/verify/stream), keyed by organization ("" = all).
type progressHub struct {
	mu   sync.Mutex
	subs map[chan VerifyProgressDTO]string
}

// subscribe returns a channel of progress for org's verifications and a
// function to stop. A slow reader misses updates, never blocks verify.
func (h *progressHub) subscribe(org string) (<-chan VerifyProgressDTO, func()) {
	ch := make(chan VerifyProgressDTO, 16)
	h.mu.Lock()
	if h.subs == nil {
		h.subs = map[chan VerifyProgressDTO]string{}
	}
	h.subs[ch] = org
	h.mu.Unlock()
	return ch, func() {
		h.mu.Lock()
		delete(h.subs, ch)
		h.mu.Unlock()
	}
}

func (h *progressHub) publish(p VerifyProgressDTO) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for ch, org := range h.subs {
		if org != "" && org != p.Org {
			continue
		}
		select {
		case ch <- p:
		default:
		}
	}
}

// finish tells the streams of org that its verification ended.
func (h *progressHub) finish(org string) {
	h.publish(VerifyProgressDTO{Org: org, Finished: true})
}
