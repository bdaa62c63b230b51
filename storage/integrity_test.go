package storage

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/axiomops/axiom-audit/storage/tlog"
)

// manualClock only moves when the test says so.
type manualClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *manualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *manualClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func openIntegrityTest(t testing.TB, dir string, ks Keystore, clk *manualClock, o Options) *Store {
	t.Helper()
	o.Now = clk.Now
	o.GCInterval = -1
	s, err := Open(context.Background(), dir, ks, o)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s
}

// recomputedTree builds org's tree from its stored records' public bytes.
func recomputedTree(t *testing.T, s *Store, org string) (*tlog.Tree, []tlog.Hash) {
	t.Helper()
	tree := tlog.NewTree()
	var leaves []tlog.Hash
	for _, e := range allEvents(t, s, org) {
		l := tlog.LeafHash(e.Public)
		leaves = append(leaves, l)
		tree.Append(l)
	}
	return tree, leaves
}

func TestIntegrity_CheckpointsAndProofs(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	ks := newStoreKeystore()
	clk := &manualClock{t: baseTime.Add(300 * 24 * time.Hour)}
	s := openIntegrityTest(t, dir, ks, clk, Options{})
	appendN(t, s, "acme", 0, 37)
	appendN(t, s, "other", 0, 5)

	cp, err := s.Checkpoint(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	tree, leaves := recomputedTree(t, s, "acme")
	if cp.Checkpoint.Size != 37 || cp.Checkpoint.Root != tree.Root() {
		t.Fatalf("checkpoint %d/%s, recomputed %d/%s", cp.Checkpoint.Size, cp.Checkpoint.Root, tree.Size(), tree.Root())
	}
	vkey, err := s.PublicKey(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// An independent verifier: golang.org/x/mod/sumdb/note with the printed key.
	v, err := note.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	n, err := note.Open(cp.Note, note.VerifierList(v))
	if err != nil {
		t.Fatalf("note.Open: %v", err)
	}
	inst, _ := s.InstallationID(ctx)
	if want := tlog.Origin(inst, "acme") + "\n37\n" + tree.Root().String() + "\n"; n.Text != want {
		t.Fatalf("note body %q, want %q", n.Text, want)
	}
	if _, err := tlog.OpenCheckpoint(cp.Note, vkey, tlog.Origin(inst, "acme")); err != nil {
		t.Fatal(err)
	}
	// The anchor is the note.
	if a, _ := ks.Get(ctx, KeyAnchor("acme")); string(a) != string(cp.Note) {
		t.Fatalf("anchor %q, want the checkpoint note", a)
	}

	// Inclusion proofs of every event against the checkpoint.
	for i, e := range allEvents(t, s, "acme") {
		p, err := s.InclusionProof(ctx, "acme", e.ID, 0)
		if err != nil {
			t.Fatal(err)
		}
		if p.LeafIndex != uint64(i) || p.TreeSize != 37 || p.LeafHash != leaves[i] {
			t.Fatalf("proof of %d: %+v", i, p)
		}
		if len(p.Hashes) > 6 {
			t.Fatalf("proof of %d has %d hashes, more than ⌈log2 37⌉", i, len(p.Hashes))
		}
		if err := tlog.VerifyInclusion(p.LeafHash, p.LeafIndex, p.TreeSize, p.Hashes, cp.Checkpoint.Root); err != nil {
			t.Fatalf("proof of %d: %v", i, err)
		}
	}

	// More events; a proof of a new event forces a checkpoint.
	rs := appendN(t, s, "acme", 37, 20)
	p, err := s.InclusionProof(ctx, "acme", rs[19].ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	cp2, err := s.LatestCheckpoint(ctx, "acme")
	if err != nil || cp2.Checkpoint.Size != 57 || p.TreeSize != 57 || cp2.Number != 2 {
		t.Fatalf("latest checkpoint %+v, proof size %d, err %v", cp2.Checkpoint, p.TreeSize, err)
	}
	if err := tlog.VerifyInclusion(p.LeafHash, p.LeafIndex, p.TreeSize, p.Hashes, cp2.Checkpoint.Root); err != nil {
		t.Fatal(err)
	}
	// Proofs against an old size, and consistency between any sizes.
	tree57, _ := recomputedTree(t, s, "acme")
	for _, sizes := range [][2]uint64{{0, 57}, {1, 57}, {37, 57}, {13, 22}, {57, 57}, {32, 33}} {
		cp, err := s.ConsistencyProof(ctx, "acme", sizes[0], sizes[1])
		if err != nil {
			t.Fatal(err)
		}
		r1, r2 := rootOf(leavesOf(t, s, "acme")[:sizes[0]]), rootOf(leavesOf(t, s, "acme")[:sizes[1]])
		if err := tlog.VerifyConsistency(sizes[0], sizes[1], cp, r1, r2); err != nil {
			t.Fatalf("consistency %v: %v", sizes, err)
		}
	}
	if tree57.Size() != 57 {
		t.Fatal(tree57.Size())
	}
	if _, err := s.ConsistencyProof(ctx, "acme", 3, 58); !errors.Is(err, ErrNotFound) {
		t.Fatalf("proof beyond the tree: %v", err)
	}
	var nums []uint64
	s.Checkpoints(ctx, "acme", func(sc SignedCheckpoint) error { nums = append(nums, sc.Number); return nil })
	if len(nums) != 2 {
		t.Fatalf("stored checkpoints %v", nums)
	}

	// Close writes a final checkpoint of "other" (changed, never checkpointed).
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openIntegrityTest(t, dir, ks, clk, Options{})
	defer s.Close()
	if cp, err := s.LatestCheckpoint(ctx, "other"); err != nil || cp.Checkpoint.Size != 5 {
		t.Fatalf("final checkpoint of other: %+v %v", cp.Checkpoint, err)
	}
	// The tree resumes from its compact range.
	appendN(t, s, "acme", 57, 3)
	tree60, _ := recomputedTree(t, s, "acme")
	cp3, err := s.Checkpoint(ctx, "acme")
	if err != nil || cp3.Checkpoint.Root != tree60.Root() || cp3.Checkpoint.Size != 60 {
		t.Fatalf("after reopen: %+v %v", cp3.Checkpoint, err)
	}
	if len(s.IntegrityAlerts(ctx)) != 0 {
		t.Fatalf("alerts on a clean log: %+v", s.IntegrityAlerts(ctx))
	}
}

func leavesOf(t *testing.T, s *Store, org string) []tlog.Hash {
	_, l := recomputedTree(t, s, org)
	return l
}

func rootOf(leaves []tlog.Hash) tlog.Hash {
	tr := tlog.NewTree()
	for _, l := range leaves {
		tr.Append(l)
	}
	return tr.Root()
}

func TestIntegrity_CheckpointSchedule(t *testing.T) {
	ctx := context.Background()
	clk := &manualClock{t: baseTime.Add(300 * 24 * time.Hour)}
	s := openIntegrityTest(t, t.TempDir(), newStoreKeystore(), clk,
		Options{CheckpointEvery: 10, CheckpointInterval: 40 * time.Millisecond, HeartbeatInterval: time.Hour})
	defer s.Close()
	latest := func() SignedCheckpoint {
		cp, _ := s.LatestCheckpoint(ctx, "acme")
		return cp
	}
	waitFor := func(what string, ok func(SignedCheckpoint) bool) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for !ok(latest()) {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s; latest %+v", what, latest())
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	// Every N events: no clock movement needed.
	appendN(t, s, "acme", 0, 12)
	waitFor("a checkpoint after 10 events", func(c SignedCheckpoint) bool { return c.Checkpoint.Size == 12 })
	// T after a change.
	appendN(t, s, "acme", 12, 1)
	time.Sleep(50 * time.Millisecond)
	if latest().Checkpoint.Size != 12 {
		t.Fatal("checkpointed before the interval passed on the store's clock")
	}
	clk.Add(time.Second)
	waitFor("a checkpoint after the interval", func(c SignedCheckpoint) bool { return c.Checkpoint.Size == 13 })
	// Heartbeat: same size, new time.
	n := latest().Number
	clk.Add(2 * time.Hour)
	waitFor("a heartbeat", func(c SignedCheckpoint) bool { return c.Number > n })
	if c := latest(); c.Checkpoint.Size != 13 || !c.Time.Equal(clk.Now()) {
		t.Fatalf("heartbeat %+v at %v", c.Checkpoint, c.Time)
	}
}

func TestIntegrity_MissingSigningKey(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	ks := newStoreKeystore()
	clk := &manualClock{t: baseTime}
	s := openIntegrityTest(t, dir, ks, clk, Options{})
	appendN(t, s, "acme", 0, 2)
	s.Close()
	delete(ks.secrets, KeySigning)
	_, err := Open(ctx, dir, ks, Options{Now: clk.Now, GCInterval: -1})
	if !errors.Is(err, ErrKeyNotFound) {
		t.Fatalf("Open without the signing key: %v", err)
	}
	// Another installation's signing key does not open it either.
	sk, _, _ := tlog.GenerateSigningKey(tlog.KeyName(string(ks.secrets[KeyInstallationID])))
	ks.secrets[KeySigning] = []byte(sk)
	if _, err := Open(ctx, dir, ks, Options{Now: clk.Now, GCInterval: -1}); !errors.Is(err, ErrWrongKey) {
		t.Fatalf("Open with another signing key: %v", err)
	}
}
