package storage

// The integrity layer (DESIGN.md §5, issue 4): each organization's RFC 6962
// Merkle tree over its leaf hashes, kept as stored perfect nodes plus the
// compact range, written in the same Badger transaction as the records they
// cover, so a crash never separates records from their tree.

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	badger "github.com/dgraph-io/badger/v4"
	"golang.org/x/mod/sumdb/note"

	"github.com/axiomops/axiom-audit/storage/tlog"
)

// Store metadata names (under tagMeta) kept by the integrity layer. They are
// public: an auditor with the database and its master key needs no keychain
// to check the checkpoints.
const (
	metaVerifierKey    = "verifier-key"
	metaInstallationID = "installation-id"
	metaFormat         = "format"
)

// Layout versions of the database ("format" metadata), also the tree
// stride they imply.
const (
	layoutNodes uint32 = 1 // every perfect tree node on its own: stride 1
	layoutTiles uint32 = 2 // tree tiles (tiles.go): stride 4
)

// formatCheckpointTime, added to the layout in the "format" metadata,
// marks a log whose checkpoints may carry the time they were signed (an
// extension line that programs before it reject). Every program that signs
// them sets it when it opens a log, so that an older program refuses the
// log as a whole, with its unknown format, rather than take each new
// checkpoint for damage (an integrity alert that no acknowledgement
// clears).
const formatCheckpointTime uint32 = 1 << 8

// TreeStride is the tree layout of new databases (layout 2): tiles of
// height 4 (tiles.go). Databases of layout 1 store every perfect node on
// its own, leaves included (stride 1).
const TreeStride = tileHeight

func validStride(stride uint) bool { return stride == 1 || stride == TreeStride }

// keyAnchorOrgs is the keystore name of the list of organizations that have
// an anchor, one per line, so that Open notices an organization whose log
// vanished from the database altogether. (Keystores cannot list names.) A
// long list goes on in keyAnchorOrgs/1, /2, … (anchorListName).
const keyAnchorOrgs = "anchor-orgs"

func metaKey(name string) []byte { return append([]byte{tagMeta}, name...) }

// nodeKey is the key of a stored perfect tree node of org.
func nodeKey(org string, id tlog.NodeID) []byte {
	return tlog.AppendNodeKey(orgPrefix(tagTreeNode, org), id)
}

func compactKey(org string) []byte { return orgPrefix(tagCompact, org) }

// integrity is the store's integrity state. trees and rows are the
// writer's, guarded by Store.wmu (like Store.heads); the rest is guarded by
// mu.
type integrity struct {
	disabled bool
	ks       Keystore
	instID   string
	vkey     string
	signer   note.Signer

	trees map[string]*tlog.Tree // the writer's (s.wmu), optimistic like heads
	rows  map[string]*tileRows  // the writer's (s.wmu): the trees' incomplete tiles (stride 4), loaded on first append

	// cpMu serializes checkpoints; it is held across the Badger and
	// keystore writes of one checkpoint.
	cpMu sync.Mutex

	mu      sync.Mutex
	orgs    map[string]*orgIntegrity
	alerts  map[string]IntegrityAlert
	anchors []string // organizations listed under keyAnchorOrgs
	// anchorChunks are the entries of that list (anchorListName), as
	// stored: one keychain secret cannot hold many organizations.
	anchorChunks []string
	wake         chan struct{}
}

// orgIntegrity is what the checkpointer knows of one organization.
type orgIntegrity struct {
	last    SignedCheckpoint // newest stored checkpoint (zero when none)
	lastN   uint64           // its number
	pending uint64           // durable events not yet in a checkpoint
	dirtyAt int64            // unix ns of the first such event's durability, 0 when clean
	durable uint64           // newest durable size seen
}

func (in *integrity) org(org string) *orgIntegrity {
	o := in.orgs[org]
	if o == nil {
		o = &orgIntegrity{}
		in.orgs[org] = o
	}
	return o
}

// badgerNodes is a tlog.NodeReader over a Badger read transaction, for a
// database of the given stride.
type badgerNodes struct {
	txn    *badger.Txn
	org    string
	stride uint
}

// nodes returns the tlog.NodeReader of org's tree in txn.
func (s *Store) nodes(txn *badger.Txn, org string) badgerNodes {
	return badgerNodes{txn: txn, org: org, stride: s.stride}
}

// GetNodes implements tlog.NodeReader. A node of a level the database does
// not store is computed from the stored nodes, or the records' leaf hashes,
// below it.
func (r badgerNodes) GetNodes(ctx context.Context, ids []tlog.NodeID) ([][]byte, error) {
	out := make([][]byte, len(ids))
	for i, id := range ids {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		h, err := r.node(id)
		if err != nil {
			return nil, err
		}
		out[i] = h[:]
	}
	return out, nil
}

// node reads one stored node (stride 1) or computes it from its tile
// (stride 4).
func (r badgerNodes) node(id tlog.NodeID) (tlog.Hash, error) {
	if r.stride != 1 {
		return r.tileNode(id)
	}
	var h tlog.Hash
	err := r.value(nodeKey(r.org, id), func(v []byte) error {
		if len(v) != len(h) {
			return fmt.Errorf("has %d bytes: %w", len(v), ErrTampered)
		}
		copy(h[:], v)
		return nil
	})
	if errors.Is(err, badger.ErrKeyNotFound) {
		return h, fmt.Errorf("organization %q: node (level %d, index %d): %w", r.org, id.Level, id.Index, tlog.ErrNodeNotFound)
	}
	if err != nil {
		return h, fmt.Errorf("failed to read tree node (level %d, index %d) of organization %q: %w", id.Level, id.Index, r.org, err)
	}
	return h, nil
}

// leaf is the leaf hash stored in record seq (or in its tombstone, when
// retention pruned it); badger.ErrKeyNotFound when there is no record.
func (r badgerNodes) leaf(seq uint64) (tlog.Hash, error) {
	var l tlog.Hash
	err := r.value(recordKey(r.org, seq), func(v []byte) error {
		var err error
		l, err = recordLeaf(v)
		return err
	})
	if err != nil && !errors.Is(err, badger.ErrKeyNotFound) {
		return l, fmt.Errorf("failed to read the leaf hash of seq %d of organization %q: %w", seq, r.org, err)
	}
	return l, err
}

// recordLeaf is the leaf hash a record value holds, or its tombstone
// (retention keeps the leaf hash, tombstone.go).
func recordLeaf(v []byte) ([32]byte, error) {
	if isTombstone(v) {
		t, err := decodeTombstone(v)
		return t.leaf, err
	}
	rv, err := decodeRecordValue(v)
	return rv.leaf, err
}

func (r badgerNodes) value(key []byte, fn func(v []byte) error) error {
	item, err := r.txn.Get(key)
	if err != nil {
		return err
	}
	return item.Value(fn)
}

// readTree reads org's compact range in txn; an empty tree when none.
func readTree(txn *badger.Txn, org string) (*tlog.Tree, bool, error) {
	t := tlog.NewTree()
	item, err := txn.Get(compactKey(org))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return t, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("failed to read the tree of organization %q: %w", org, err)
	}
	err = item.Value(func(v []byte) error { return t.UnmarshalBinary(v) })
	if err != nil {
		return nil, false, fmt.Errorf("the stored tree of organization %q is corrupt: %v: %w", org, err, ErrTampered)
	}
	return t, true, nil
}

// groupTrees stages one group's tree changes: trees are cloned on first use
// so that a failed build leaves the writer's trees untouched.
type groupTrees struct {
	s     *Store
	trees map[string]*tlog.Tree
	rows  map[string]*tileRows // stride 4: the incomplete tiles (tiles.go)
}

func (s *Store) beginTrees() *groupTrees {
	if s.integ == nil || s.integ.disabled {
		return nil
	}
	return &groupTrees{s: s, trees: map[string]*tlog.Tree{}, rows: map[string]*tileRows{}}
}

// leaf appends the leaf hash of record seq to org's tree and stages the
// nodes that became complete in w; txn is read when org's tree is not
// loaded yet. The tree must have seq-1 leaves.
func (g *groupTrees) leaf(txn *badger.Txn, w kvSetter, org string, seq uint64, leaf [32]byte) error {
	if g == nil {
		return nil
	}
	t, ok := g.trees[org]
	if !ok {
		base := g.s.integ.trees[org]
		if base == nil {
			var err error
			if base, _, err = readTree(txn, org); err != nil {
				return err
			}
		}
		b, _ := base.MarshalBinary()
		t = tlog.NewTree()
		if err := t.UnmarshalBinary(b); err != nil {
			return err
		}
		g.trees[org] = t
		if g.s.stride != 1 {
			base := g.s.integ.rows[org]
			if base == nil {
				rows, err := loadTileRows(g.s.nodes(txn, org), t.Size())
				if err != nil {
					err = fmt.Errorf("failed to read the incomplete tree tiles of organization %q: %w", org, err)
					if treeDamage(err) {
						// The tree cannot grow: fail closed until the
						// user restores or acknowledges.
						g.s.raiseAlert(IntegrityAlert{Org: org, Kind: AlertInconsistent, DBSize: t.Size(), DBRoot: t.Root(), Detail: err.Error()})
					}
					return err
				}
				base = &rows
			}
			rows := base.clone()
			g.rows[org] = &rows
		}
	}
	if t.Size() != seq-1 {
		return fmt.Errorf("refusing to append seq %d of organization %q to its Merkle tree of %d leaves: the log is damaged; "+
			"run `axiom-audit verify` and restore the database from a backup: %w", seq, org, t.Size(), ErrTampered)
	}
	return storeNodes(g.s.stride, w, org, g.rows[org], t.Append(tlog.Hash(leaf)))
}

// storeNodes stages the nodes a leaf completed: each one (stride 1) or the
// tiles they complete (stride 4).
func storeNodes(stride uint, w kvSetter, org string, rows *tileRows, nodes []tlog.Node) error {
	key := orgPrefix(tagTreeNode, org)
	n := len(key)
	for _, nd := range nodes {
		id, v := nd.ID, nd.Hash[:]
		if stride != 1 {
			var ok bool
			var err error
			if id, v, ok, err = rows.add(nd); err != nil {
				return fmt.Errorf("organization %q: %w", org, err)
			} else if !ok {
				continue
			}
		}
		k := tlog.AppendNodeKey(slices.Clip(key[:n]), id)
		if err := w.Set(k, v); err != nil {
			return fmt.Errorf("failed to stage tree node (level %d, index %d) of organization %q: %w", id.Level, id.Index, org, err)
		}
	}
	return nil
}

// finish stages each touched organization's compact range.
func (g *groupTrees) finish(w kvSetter) error {
	if g == nil {
		return nil
	}
	for org, t := range g.trees {
		b, _ := t.MarshalBinary()
		if err := w.Set(compactKey(org), b); err != nil {
			return fmt.Errorf("failed to stage the tree of organization %q: %w", org, err)
		}
	}
	return nil
}

// commit makes the group's trees the writer's (optimistically, like heads).
func (g *groupTrees) commit() {
	if g == nil {
		return
	}
	for org, t := range g.trees {
		g.s.integ.trees[org] = t
	}
	for org, r := range g.rows {
		g.s.integ.rows[org] = r
	}
}

// durable tells the checkpointer that a group's events are on disk.
func (s *Store) durable(done []committed) {
	in := s.integ
	if in == nil || in.disabled || len(done) == 0 {
		return
	}
	now := s.opts.Now().UnixNano()
	wake := false
	in.mu.Lock()
	for _, c := range done {
		o := in.org(c.p.ev.OrganizationID)
		o.pending++
		if o.dirtyAt == 0 {
			o.dirtyAt = now
		}
		if c.seq > o.durable {
			o.durable = c.seq
		}
		if o.pending >= uint64(s.opts.CheckpointEvery) {
			wake = true
		}
	}
	in.mu.Unlock()
	if wake {
		select {
		case in.wake <- struct{}{}:
		default:
		}
	}
}

// openIntegrity loads the integrity state: the installation id and signing
// key (created on first start), every organization's tree and newest
// checkpoint, the persisted alerts, and checks the keychain anchors.
func (s *Store) openIntegrity(ctx context.Context, ks Keystore, existing bool) error {
	in := &integrity{disabled: s.opts.disableIntegrity, ks: ks, trees: map[string]*tlog.Tree{}, rows: map[string]*tileRows{},
		orgs: map[string]*orgIntegrity{}, alerts: map[string]IntegrityAlert{}, wake: make(chan struct{}, 1)}
	s.integ = in
	if in.disabled {
		return nil
	}
	if err := s.loadKeys(ctx, ks, existing); err != nil {
		return err
	}
	// Trees, migrating organizations written before the integrity layer.
	var orgs []string
	err := s.db.View(func(txn *badger.Txn) error {
		var err error
		orgs, err = listOrgs(txn, append([]byte{tagHead, tagCompact, tagCheckpt}, leftoverTags()...)...)
		return err
	})
	if err != nil {
		return err
	}
	for _, org := range orgs {
		err := s.loadOrg(ctx, org)
		if err != nil && treeDamage(err) && ctx.Err() == nil {
			// One organization's damage must not keep the whole log
			// closed, verify included: it is refused appends instead.
			in.trees[org] = tlog.NewTree()
			in.org(org)
			s.raiseAlert(IntegrityAlert{Org: org, Kind: AlertDamaged, Detail: err.Error()})
			continue
		}
		if err != nil {
			return err
		}
	}
	if err := s.loadAlerts(); err != nil {
		return err
	}
	return s.checkAnchors(ctx, orgs)
}

// leftovers are what an organization's appends write besides its head,
// tree and checkpoints, in the order Open names the first it finds of an
// organization that has no head: each is written with a head, in the same
// transaction, so none is there without one.
var leftovers = []struct {
	tag  byte
	what string
}{{tagRecord, "records"}, {tagID, "id index entries"}, {tagTime, "timeline index entries"},
	{tagIndex, "index entries"}, {tagTreeNode, "Merkle tree nodes"}, {tagCounter, "counters"}}

func leftoverTags() []byte {
	tags := make([]byte, len(leftovers))
	for i, l := range leftovers {
		tags[i] = l.tag
	}
	return tags
}

// listOrgs lists the organizations that have keys under any of tags.
func listOrgs(txn *badger.Txn, tags ...byte) ([]string, error) {
	seen := map[string]bool{}
	var out []string
	for _, tag := range tags {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte{tag}})
		it.Rewind()
		for it.Valid() {
			k := it.Item().Key()
			i := bytes.IndexByte(k, 0)
			if i < 1 {
				it.Next()
				continue
			}
			org := string(k[1:i])
			if !seen[org] {
				seen[org] = true
				out = append(out, org)
			}
			// Skip the rest of this organization's keys.
			it.Seek(append(append([]byte{tag}, org...), 1))
		}
		it.Close()
	}
	slices.Sort(out)
	return out, nil
}

// loadKeys ensures the installation id and the signing key.
func (s *Store) loadKeys(ctx context.Context, ks Keystore, existing bool) error {
	in := s.integ
	var dbVkey, dbInst []byte
	err := s.db.View(func(txn *badger.Txn) error {
		for name, dst := range map[string]*[]byte{metaVerifierKey: &dbVkey, metaInstallationID: &dbInst} {
			item, err := txn.Get(metaKey(name))
			if errors.Is(err, badger.ErrKeyNotFound) {
				continue
			}
			if err != nil {
				return fmt.Errorf("failed to read %s: %w", name, err)
			}
			if *dst, err = item.ValueCopy(nil); err != nil {
				return fmt.Errorf("failed to read %s: %w", name, err)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	inst, err := ks.Get(ctx, KeyInstallationID)
	switch {
	case errors.Is(err, ErrKeyNotFound):
		inst = dbInst
		if inst == nil {
			b := make([]byte, 16)
			rand.Read(b)
			inst = []byte(hex.EncodeToString(b))
		}
		if err := ks.Set(ctx, KeyInstallationID, inst); err != nil {
			return fmt.Errorf("failed to store the installation id in the keystore: %w", err)
		}
	case err != nil:
		return fmt.Errorf("failed to read the installation id from the keystore: %w", err)
	}
	if dbInst != nil && string(dbInst) != string(inst) {
		return fmt.Errorf("the keystore's installation id %q is not this audit log's %q "+
			"(the keychain belongs to another installation): restore this profile's keychain entries: %w", inst, dbInst, ErrWrongKey)
	}
	in.instID = string(inst)
	skey, err := ks.Get(ctx, KeySigning)
	switch {
	case errors.Is(err, ErrKeyNotFound):
		if dbVkey != nil {
			return fmt.Errorf("the checkpoint signing key %q is missing from the keystore, but this audit log's checkpoints "+
				"are signed with %s: restore the key from the keychain backup of this profile: %w", KeySigning, dbVkey, err)
		}
		sk, _, err := tlog.GenerateSigningKey(tlog.KeyName(in.instID))
		if err != nil {
			return err
		}
		if err := ks.Set(ctx, KeySigning, []byte(sk)); err != nil {
			return fmt.Errorf("failed to store the new signing key in the keystore: %w", err)
		}
		skey = []byte(sk)
		s.log.Info("created a new checkpoint signing key", "name", tlog.KeyName(in.instID))
	case err != nil:
		return fmt.Errorf("failed to read the signing key from the keystore: %w", err)
	}
	if in.signer, err = tlog.NewSigner(string(skey)); err != nil {
		return fmt.Errorf("the signing key in the keystore is unusable: %v: %w", err, ErrWrongKey)
	}
	if in.vkey, err = tlog.VerifierKey(string(skey)); err != nil {
		return fmt.Errorf("the signing key in the keystore is unusable: %v: %w", err, ErrWrongKey)
	}
	if in.signer.Name() != tlog.KeyName(in.instID) {
		return fmt.Errorf("the signing key in the keystore is named %q, not %q: %w", in.signer.Name(), tlog.KeyName(in.instID), ErrWrongKey)
	}
	if dbVkey != nil && string(dbVkey) != in.vkey {
		return fmt.Errorf("the signing key in the keystore (%s) is not the one this audit log's checkpoints are signed with (%s): "+
			"restore the original key: %w", in.vkey, dbVkey, ErrWrongKey)
	}
	if dbVkey == nil || dbInst == nil {
		err := s.update(func(txn *badger.Txn) error {
			if err := txn.Set(metaKey(metaVerifierKey), []byte(in.vkey)); err != nil {
				return err
			}
			return txn.Set(metaKey(metaInstallationID), []byte(in.instID))
		})
		if err != nil {
			return fmt.Errorf("failed to store the verifier key in the audit log: %w", err)
		}
	}
	for i := 0; ; i++ {
		list, err := ks.Get(ctx, anchorListName(i))
		if errors.Is(err, ErrKeyNotFound) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("failed to read the anchored organizations from the keystore: %w", err)
		}
		in.anchorChunks = append(in.anchorChunks, string(list))
		for _, o := range strings.Split(string(list), "\n") {
			if o != "" && !slices.Contains(in.anchors, o) {
				in.anchors = append(in.anchors, o)
			}
		}
	}
}

// loadOrg restores org's tree from its compact range (or rebuilds it from
// the records of a log written before the integrity layer) and its newest
// checkpoint.
func (s *Store) loadOrg(ctx context.Context, org string) error {
	in := s.integ
	var t *tlog.Tree
	var found bool
	var h head
	var hasHead bool
	var last SignedCheckpoint
	var lastN uint64
	err := s.db.View(func(txn *badger.Txn) error {
		var err error
		if t, found, err = readTree(txn, org); err != nil {
			return err
		}
		item, err := txn.Get(headKey(org))
		if err == nil {
			hasHead = true
			if err = item.Value(func(v []byte) error { h, err = decodeHead(v); return err }); err != nil {
				return fmt.Errorf("organization %q: %w", org, err)
			}
		} else if !errors.Is(err, badger.ErrKeyNotFound) {
			return fmt.Errorf("failed to read the head of organization %q: %w", org, err)
		}
		last, lastN, err = s.newestCheckpoint(txn, org)
		return err
	})
	if err != nil {
		return err
	}
	if !found && hasHead && h.seq > 0 && lastN > 0 {
		// A log written before the integrity layer has no checkpoints
		// either: this one lost its compact range. Rebuilding would
		// rewrite its stored tiles from the records, erasing what
		// verify compares them with.
		return fmt.Errorf("the compact range of organization %q is missing, though %d checkpoints are stored: %w", org, lastN, ErrTampered)
	}
	if !found && hasHead && h.seq > 0 {
		s.log.Info("building the Merkle tree of a log written before integrity checks", "org", org, "events", h.seq)
		if t, err = s.rebuildTree(ctx, org); err != nil {
			return err
		}
	}
	in.trees[org] = t
	o := in.org(org)
	o.last, o.lastN = last, lastN
	o.durable = t.Size()
	if t.Size() > last.Checkpoint.Size {
		o.pending = t.Size() - last.Checkpoint.Size
		o.dirtyAt = s.opts.Now().UnixNano()
	}
	return s.checkLoaded(ctx, org, t, h, hasHead, lastN)
}

// checkLoaded checks that org's head and compact range agree with its
// stored records and tree nodes. The next append continues from them: a
// head lost or wrong would overwrite a record or chain a wrong prevHash,
// and a wrong compact range would grow a tree no stored node backs. None
// of that can be acknowledged away, so it is damage (ErrTampered).
func (s *Store) checkLoaded(ctx context.Context, org string, t *tlog.Tree, h head, hasHead bool, checkpoints uint64) error {
	size := t.Size()
	switch {
	case !hasHead && size > 0:
		return fmt.Errorf("the head of organization %q is missing, though its Merkle tree has %d leaves: %w", org, size, ErrTampered)
	case hasHead && h.seq != size:
		return fmt.Errorf("the head of organization %q is at seq %d, but its Merkle tree has %d leaves: %w", org, h.seq, size, ErrTampered)
	case !hasHead:
		// No head and no tree: a new organization has nothing else
		// either (but perhaps its first data key). Records, checkpoints,
		// id or index entries, tree nodes or counters without them are
		// what is left of a damaged one, which an append would start over
		// on: answering a retry with a receipt for a record that is gone,
		// and giving a new event a seq an old one's id still points at.
		var left string
		err := s.db.View(func(txn *badger.Txn) error {
			for _, l := range leftovers {
				it := txn.NewIterator(badger.IteratorOptions{Prefix: orgPrefix(l.tag, org)})
				it.Rewind()
				found := it.Valid()
				it.Close()
				if found {
					left = l.what
					return nil
				}
			}
			return nil
		})
		switch {
		case err != nil:
			return err
		case left != "":
			return fmt.Errorf("the head and the Merkle tree of organization %q are missing, though its %s are stored: %w", org, left, ErrTampered)
		case checkpoints > 0:
			return fmt.Errorf("the head, the Merkle tree and the records of organization %q are missing, though its checkpoints are stored (the newest is number %d): %w", org, checkpoints, ErrTampered)
		}
		return nil
	case size == 0:
		return nil
	}
	return s.db.View(func(txn *badger.Txn) error {
		r := s.nodes(txn, org)
		// The newest record's leaf hash, as stored and as its public part
		// gives it (a tombstone keeps only the former): the next append
		// chains it as prevHash.
		var leaf, public [32]byte
		var whole bool
		err := r.value(recordKey(org, h.seq), func(v []byte) error {
			if isTombstone(v) {
				t, err := decodeTombstone(v)
				leaf = t.leaf
				return err
			}
			rv, err := decodeRecordValue(v)
			leaf, public, whole = rv.leaf, leafHash(rv.public), err == nil
			return err
		})
		switch {
		case errors.Is(err, badger.ErrKeyNotFound):
			return fmt.Errorf("record seq %d of organization %q, the one its head names, is missing: %w", h.seq, org, ErrTampered)
		case err != nil:
			return fmt.Errorf("failed to read record seq %d of organization %q: %w", h.seq, org, err)
		case whole && public != leaf:
			return fmt.Errorf("record seq %d of organization %q, its newest, stores leaf hash %x, but its public part hashes to %x: %w", h.seq, org, leaf, public, ErrTampered)
		case leaf != h.leaf:
			return fmt.Errorf("the head of organization %q names leaf hash %x for seq %d, but that record's is %x: %w", org, h.leaf, h.seq, leaf, ErrTampered)
		}
		root, err := tlog.RootAt(ctx, r, size)
		if err != nil && !treeDamage(err) {
			return fmt.Errorf("failed to read the tree of organization %q at size %d: %w", org, size, err)
		}
		if err != nil {
			return fmt.Errorf("the stored tree nodes of organization %q do not give the root of its compact range at size %d: %w", org, size, err)
		}
		if root != t.Root() {
			return fmt.Errorf("the stored compact range of organization %q (size %d, root %s) is not the one its stored tree nodes give (root %s): %w",
				org, size, t.Root(), root, ErrTampered)
		}
		return nil
	})
}

// rebuildTree computes org's tree from its records and stores its nodes and
// compact range.
func (s *Store) rebuildTree(ctx context.Context, org string) (*tlog.Tree, error) {
	t := tlog.NewTree()
	var rows tileRows
	wb := s.db.NewWriteBatch()
	defer wb.Cancel()
	err := s.db.View(func(txn *badger.Txn) error {
		p := orgPrefix(tagRecord, org)
		it := txn.NewIterator(badger.IteratorOptions{Prefix: p, PrefetchValues: true, PrefetchSize: 64})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			if err := ctx.Err(); err != nil {
				return err
			}
			var leaf [32]byte
			err := it.Item().Value(func(v []byte) error {
				var err error
				leaf, err = recordLeaf(v)
				return err
			})
			if err != nil {
				return fmt.Errorf("organization %q: %w", org, err)
			}
			if err := storeNodes(s.stride, wb, org, &rows, t.Append(leaf)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	b, _ := t.MarshalBinary()
	if err := wb.Set(compactKey(org), b); err != nil {
		return nil, err
	}
	if err := wb.Flush(); err != nil {
		return nil, fmt.Errorf("failed to store the tree of organization %q: %w", org, err)
	}
	return t, nil
}
