package export

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/axiomops/axiom-audit/storage"
	"github.com/axiomops/axiom-audit/storage/tlog"
)

// MemSource is an in-memory Source built on tlog: events appended to it get
// public records, leaf hashes, a Merkle tree, salted state commitments and
// signed checkpoints as the store would make them. Tests and examples use
// it; it filters by organization and action type only. It is not safe for
// concurrent use.
type MemSource struct {
	instID     string
	skey, vkey string
	orgs       map[string]*memOrg
	// Salt, when set, makes salts deterministic (golden files).
	Salt func(seq uint64, side byte) [32]byte
}

type memOrg struct {
	events  []storage.StoredEvent
	reveal  []storage.RevealedState
	tree    *tlog.Tree
	nodes   *tlog.MemNodes
	prev    [32]byte
	ids     map[string]int
	listErr func(page int) error
	pages   int
}

// NewMemSource returns an empty source with a fresh signing key.
func NewMemSource(installationID string) (*MemSource, error) {
	skey, vkey, err := tlog.GenerateSigningKey(tlog.KeyName(installationID))
	if err != nil {
		return nil, err
	}
	return &MemSource{instID: installationID, skey: skey, vkey: vkey, orgs: map[string]*memOrg{}}, nil
}

func (m *MemSource) org(org string) *memOrg {
	o := m.orgs[org]
	if o == nil {
		o = &memOrg{tree: tlog.NewTree(), nodes: tlog.NewMemNodes(), ids: map[string]int{}}
		m.orgs[org] = o
	}
	return o
}

// FailList makes List of org fail on the given page (0 is the first) with
// err; tests use it to interrupt an export midway.
func (m *MemSource) FailList(org string, fn func(page int) error) { m.org(org).listErr = fn }

// Append records events (IDs must be set) and returns their seqs.
func (m *MemSource) Append(events ...storage.Event) ([]uint64, error) {
	var seqs []uint64
	for _, e := range events {
		o := m.org(e.OrganizationID)
		seq := uint64(len(o.events) + 1)
		category, _, _ := strings.Cut(e.ActionType, ".")
		recordedAt := e.Timestamp.Add(time.Second)
		pub := map[string]any{
			"actionType": e.ActionType, "category": category, "formatVersion": storage.FormatVersion, "id": e.ID,
			"organizationId": e.OrganizationID, "prevHash": hex.EncodeToString(o.prev[:]), "provider": e.Provider,
			"recordedAt": recordedAt.UTC().Format("2006-01-02T15:04:05.000000000Z"), "resourceIds": orEmpty(e.ResourceIDs),
			"riskLevel": e.RiskLevel, "seq": seq, "status": e.Status, "userId": e.UserID,
			"timestamp": e.Timestamp.UTC().Format("2006-01-02T15:04:05.000000000Z"),
		}
		if len(e.Metadata) > 0 {
			pub["metadata"] = e.Metadata
		}
		var rs storage.RevealedState
		commit := func(state json.RawMessage, side byte) (*storage.StateOpening, error) {
			if len(state) == 0 {
				return nil, nil
			}
			c, err := tlog.Canonicalize(state)
			if err != nil {
				return nil, err
			}
			op := &storage.StateOpening{JCS: c}
			if m.Salt != nil {
				op.Salt = m.Salt(seq, side)
			} else {
				rand.Read(op.Salt[:])
			}
			h := tlog.StateCommitment(op.Salt, c)
			name := map[byte]string{'b': "beforeStateCommitment", 'a': "afterStateCommitment"}[side]
			pub[name] = hex.EncodeToString(h[:])
			return op, nil
		}
		var err error
		if rs.Before, err = commit(e.BeforeState, 'b'); err != nil {
			return nil, err
		}
		if rs.After, err = commit(e.AfterState, 'a'); err != nil {
			return nil, err
		}
		raw, err := json.Marshal(pub)
		if err != nil {
			return nil, err
		}
		public, err := tlog.Canonicalize(raw)
		if err != nil {
			return nil, err
		}
		leaf := tlog.LeafHash(public)
		if err := o.nodes.Put(o.tree.Append(leaf)...); err != nil {
			return nil, err
		}
		se := storage.StoredEvent{Event: e, FormatVersion: storage.FormatVersion, Seq: seq, RecordedAt: recordedAt.UTC(),
			Category: category, PrevHash: hex.EncodeToString(o.prev[:]), LeafHash: hex.EncodeToString(leaf[:]),
			BeforeStateCommitment: strOr(pub["beforeStateCommitment"]), AfterStateCommitment: strOr(pub["afterStateCommitment"]),
			Public: public}
		if rs.Before != nil {
			se.BeforeState = rs.Before.JCS
		}
		if rs.After != nil {
			se.AfterState = rs.After.JCS
		}
		o.prev = leaf
		o.ids[e.ID] = len(o.events)
		o.events = append(o.events, se)
		o.reveal = append(o.reveal, rs)
		seqs = append(seqs, seq)
	}
	return seqs, nil
}

func strOr(v any) string {
	s, _ := v.(string)
	return s
}

// List implements Source, honouring Org, ActionTypes, Order, Limit and
// Cursor (an index).
func (m *MemSource) List(ctx context.Context, f storage.Filter) (storage.Page, error) {
	if err := ctx.Err(); err != nil {
		return storage.Page{}, err
	}
	o := m.org(f.Org)
	if o.listErr != nil {
		page := o.pages
		o.pages++
		if err := o.listErr(page); err != nil {
			return storage.Page{}, err
		}
	}
	start := 0
	if f.Cursor != "" {
		if _, err := fmt.Sscanf(f.Cursor, "%d", &start); err != nil {
			return storage.Page{}, storage.ErrBadCursor
		}
	}
	limit := f.Limit
	if limit <= 0 {
		limit = storage.DefaultLimit
	}
	var page storage.Page
	n := len(o.events)
	for i := start; i < n; i++ {
		idx := i
		if f.Order == storage.NewestFirst {
			idx = n - 1 - i
		}
		e := o.events[idx]
		if len(f.ActionTypes) > 0 && !slices.Contains(f.ActionTypes, e.ActionType) {
			continue
		}
		page.Events = append(page.Events, e)
		if len(page.Events) == limit {
			if i+1 < n {
				page.NextCursor = fmt.Sprint(i + 1)
			}
			break
		}
	}
	return page, nil
}

// Checkpoint implements Source.
func (m *MemSource) Checkpoint(ctx context.Context, org string) (SignedCheckpoint, error) {
	o := m.org(org)
	cp := tlog.Checkpoint{Origin: tlog.Origin(m.instID, org), Size: o.tree.Size(), Root: o.tree.Root()}
	signer, err := tlog.NewSigner(m.skey)
	if err != nil {
		return SignedCheckpoint{}, err
	}
	note, err := tlog.Sign(cp, signer)
	if err != nil {
		return SignedCheckpoint{}, err
	}
	return SignedCheckpoint{Checkpoint: cp, Note: note}, nil
}

// PublicKey implements Source.
func (m *MemSource) PublicKey(context.Context) (string, error) { return m.vkey, nil }

// SignManifest implements Source.
func (m *MemSource) SignManifest(ctx context.Context, org, sum string) ([]byte, error) {
	signer, err := tlog.NewSigner(m.skey)
	if err != nil {
		return nil, err
	}
	return tlog.SignManifest(tlog.ManifestStatement{Origin: tlog.Origin(m.instID, org), SHA256: sum}, signer)
}

// InclusionProof implements Source.
func (m *MemSource) InclusionProof(ctx context.Context, org, id string, treeSize uint64) (Proof, error) {
	o := m.org(org)
	i, ok := o.ids[id]
	if !ok {
		return Proof{}, fmt.Errorf("event %q: %w", id, storage.ErrNotFound)
	}
	hashes, err := tlog.InclusionProof(ctx, o.nodes, uint64(i), treeSize)
	if err != nil {
		return Proof{}, err
	}
	leaf, _ := hex.DecodeString(o.events[i].LeafHash)
	return Proof{LeafIndex: uint64(i), TreeSize: treeSize, LeafHash: tlog.Hash(leaf), Hashes: hashes}, nil
}

// RevealStates implements Source.
func (m *MemSource) RevealStates(ctx context.Context, org, id string) (storage.RevealedState, error) {
	o := m.org(org)
	i, ok := o.ids[id]
	if !ok {
		return storage.RevealedState{}, fmt.Errorf("event %q: %w", id, storage.ErrNotFound)
	}
	return o.reveal[i], nil
}

// Count implements Counter.
func (m *MemSource) Count(ctx context.Context, f storage.Filter) (int64, error) {
	o := m.org(f.Org)
	var n int64
	for _, e := range o.events {
		if len(f.ActionTypes) == 0 || slices.Contains(f.ActionTypes, e.ActionType) {
			n++
		}
	}
	return n, nil
}

// TreeNodes implements NodeSource.
func (m *MemSource) TreeNodes(org string) tlog.NodeReader { return m.org(org).nodes }
