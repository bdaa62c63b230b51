package keystore

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/axiomops/axiom-audit/storage"
)

// Memory is a Keystore in memory, for unit tests. It is safe for concurrent
// use and copies secrets in and out, so callers cannot change what it holds.
type Memory struct {
	mu      sync.RWMutex
	secrets map[string][]byte
}

var _ storage.Keystore = (*Memory)(nil)

// NewMemory returns an empty in-memory keystore.
func NewMemory() *Memory { return &Memory{secrets: map[string][]byte{}} }

// Get returns the secret stored under name.
func (m *Memory) Get(ctx context.Context, name string) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	s, ok := m.secrets[name]
	if !ok {
		return nil, fmt.Errorf("no secret %q in the in-memory keystore: %w", name, storage.ErrKeyNotFound)
	}
	return slices.Clone(s), nil
}

// Set stores secret under name, replacing any earlier value.
func (m *Memory) Set(ctx context.Context, name string, secret []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.secrets[name] = append([]byte{}, secret...)
	return nil
}

// Delete removes the secret stored under name.
func (m *Memory) Delete(ctx context.Context, name string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.secrets[name]; !ok {
		return fmt.Errorf("no secret %q in the in-memory keystore: %w", name, storage.ErrKeyNotFound)
	}
	delete(m.secrets, name)
	return nil
}
