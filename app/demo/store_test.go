package demo

import (
	"context"
	"sync"
	"testing"

	"github.com/axiomops/axiom-audit/storage"
)

// memKeystore is an in-memory storage.Keystore.
type memKeystore struct {
	mu      sync.Mutex
	secrets map[string][]byte
}

func (m *memKeystore) Get(_ context.Context, name string) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	v, ok := m.secrets[name]
	if !ok {
		return nil, storage.ErrKeyNotFound
	}
	return append([]byte(nil), v...), nil
}

func (m *memKeystore) Set(_ context.Context, name string, secret []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.secrets[name] = append([]byte(nil), secret...)
	return nil
}

// TestGenerate_AppendsToStore feeds a demo through a real store in
// batches, as the demo command does: the store must accept every event.
func TestGenerate_AppendsToStore(t *testing.T) {
	ctx := context.Background()
	st, err := storage.Open(ctx, t.TempDir(), &memKeystore{secrets: map[string][]byte{}}, storage.Options{})
	if err != nil {
		t.Fatalf("storage.Open: %v", err)
	}
	defer st.Close()
	const n = 3000
	batch := make([]storage.Event, 0, 500)
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		_, err := st.Append(ctx, batch)
		batch = batch[:0]
		return err
	}
	err = Generate(Options{Events: n, Orgs: 3, Seed: 5, End: testEnd}, func(e storage.Event) error {
		batch = append(batch, e)
		if len(batch) == cap(batch) {
			return flush()
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	if err != nil {
		t.Fatalf("appending the demo: %v", err)
	}
	orgs, err := st.Organizations(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var total uint64
	for _, o := range orgs {
		total += o.Size
	}
	if len(orgs) != 3 || total != n {
		t.Fatalf("the store holds %d events in %d organizations, want %d in 3: %+v", total, len(orgs), n, orgs)
	}
}
