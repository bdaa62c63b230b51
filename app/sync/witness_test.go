package sync_test

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	axsync "github.com/axiomops/axiom-audit/app/sync"
	"github.com/axiomops/axiom-audit/app/sync/synctest"
	"github.com/axiomops/axiom-audit/app/sync/tenant"
	"github.com/axiomops/axiom-audit/storage"
	"github.com/axiomops/axiom-audit/storage/keystore"
	"github.com/axiomops/axiom-audit/storage/tlog"
)

// fakeIntegrity keeps an RFC 6962 tree of the store's leaves and "signs"
// checkpoints as "size root" notes, so witness tests can forge what a
// tenant holds.
type fakeIntegrity struct {
	t     *testing.T
	st    *storage.Store
	tree  *tlog.Tree
	nodes *tlog.MemNodes
}

func newFakeIntegrity(t *testing.T, st *storage.Store) *fakeIntegrity {
	return &fakeIntegrity{t: t, st: st, tree: tlog.NewTree(), nodes: tlog.NewMemNodes()}
}

// sync adds the store's new leaves of org to the tree.
func (f *fakeIntegrity) sync(org string) {
	for _, e := range synctest.Read(f.t, f.st, org, f.tree.Size(), 100000) {
		b, _ := hex.DecodeString(e.LeafHash)
		var h tlog.Hash
		copy(h[:], b)
		if err := f.nodes.Put(f.tree.Append(h)...); err != nil {
			f.t.Fatal(err)
		}
	}
}

func note(size uint64, root tlog.Hash) []byte {
	return []byte(fmt.Sprintf("%d %s", size, hex.EncodeToString(root[:])))
}

func (f *fakeIntegrity) LatestCheckpoint(ctx context.Context, org string) (axsync.Checkpoint, error) {
	if f.tree.Size() == 0 {
		return axsync.Checkpoint{}, storage.ErrNotFound
	}
	return axsync.Checkpoint{Size: f.tree.Size(), Root: f.tree.Root(), Note: note(f.tree.Size(), f.tree.Root())}, nil
}

func (f *fakeIntegrity) ConsistencyProof(ctx context.Context, org string, size1, size2 uint64) ([][]byte, error) {
	return tlog.ConsistencyProof(ctx, f.nodes, size1, size2)
}

func (f *fakeIntegrity) OpenCheckpoint(ctx context.Context, org string, n []byte) (axsync.Checkpoint, error) {
	size, root, ok := strings.Cut(string(n), " ")
	s, err := strconv.ParseUint(size, 10, 64)
	b, err2 := hex.DecodeString(root)
	if !ok || err != nil || err2 != nil || len(b) != 32 {
		return axsync.Checkpoint{}, errors.New("bad signature")
	}
	var h tlog.Hash
	copy(h[:], b)
	return axsync.Checkpoint{Size: s, Root: h, Note: n}, nil
}

// witnessFixture delivers to a tenant whose acknowledgements carry
// *forged instead of the checkpoint it was sent, when forged is set.
func witnessFixture(t *testing.T, forged *[]byte) (*storage.Store, *fakeIntegrity, *tenant.Server, *axsync.Syncer, *recorder) {
	st := synctest.NewStore(t)
	synctest.Append(t, st, "acme", 40)
	in := newFakeIntegrity(t, st)
	in.sync("acme")
	ts := tenant.NewServer("tok")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if forged != nil && *forged != nil {
			ts.SetCheckpoint("acme", nil)
			rec := httptest.NewRecorder()
			ts.ServeHTTP(rec, r)
			var a tenant.AckResponse
			_ = json.Unmarshal(rec.Body.Bytes(), &a)
			a.Checkpoint = string(*forged)
			_ = json.NewEncoder(w).Encode(a)
			return
		}
		ts.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	rec := &recorder{}
	s := axsync.New(axsync.Options{Store: st, Keystore: keystore.NewMemory(), Integrity: in, Record: rec.record, Alert: rec.alert, BatchSize: 16,
		Open: func(_ context.Context, c axsync.Config, secret []byte) (axsync.Destination, error) {
			return tenant.NewClient(c.URL, secret), nil
		}})
	t.Cleanup(func() { s.Close() })
	if err := s.Enable(context.Background(), axsync.Config{Org: "acme", Kind: axsync.KindTenant, URL: srv.URL}, []byte("tok")); err != nil {
		t.Fatal(err)
	}
	return st, in, ts, s, rec
}

func TestSyncer_WitnessConsistent(t *testing.T) {
	st, in, ts, s, rec := witnessFixture(t, nil)
	ctx := context.Background()
	if _, err := s.RunNow(ctx, "acme"); err != nil {
		t.Fatal(err)
	}
	synctest.Append(t, st, "acme", 30)
	in.sync("acme")
	if _, err := s.RunNow(ctx, "acme"); err != nil {
		t.Fatal(err)
	}
	synctest.CheckComplete(t, st, "acme", ts.Lines("acme"), 70)
	if len(rec.alerts) != 0 {
		t.Fatalf("alerts %v", rec.alerts)
	}
}

func TestSyncer_WitnessInconsistentRaisesTheAlert(t *testing.T) {
	for _, tc := range []struct {
		name string
		note func(in *fakeIntegrity) []byte
	}{
		{"other root at a smaller size", func(in *fakeIntegrity) []byte { return note(10, tlog.Hash{1}) }},
		{"other root at the same size", func(in *fakeIntegrity) []byte { return note(in.tree.Size(), tlog.Hash{2}) }},
		{"bigger than the local log (truncated)", func(in *fakeIntegrity) []byte { return note(in.tree.Size()+50, tlog.Hash{3}) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var forged []byte
			_, in, _, s, rec := witnessFixture(t, &forged)
			forged = tc.note(in)
			if _, err := s.RunNow(context.Background(), "acme"); !errors.Is(err, axsync.ErrInconsistent) {
				t.Fatalf("RunNow: %v", err)
			}
			if len(rec.alerts) != 1 || rec.count("audit.sync_failed") != 1 {
				t.Fatalf("alerts %v, events %v", rec.alerts, rec.events)
			}
			st, _ := s.Status(context.Background(), "acme")
			if st[0].State != axsync.StateStopped || !strings.Contains(st[0].Stopped, "integrity alert") {
				t.Fatalf("status %+v", st[0])
			}
			// run-now does not lift a stop by integrity alert.
			if _, err := s.RunNow(context.Background(), "acme"); err == nil || len(rec.alerts) != 1 {
				t.Fatalf("second RunNow: %v, %d alerts", err, len(rec.alerts))
			}
		})
	}
}
