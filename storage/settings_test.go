package storage_test

import (
	"context"
	"errors"
	"testing"

	"github.com/axiomops/axiom-audit/storage"
	"github.com/axiomops/axiom-audit/storage/keystore"
)

func TestSettings(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	ks := keystore.NewMemory()
	st, err := storage.Open(ctx, dir, ks, storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.ReadSetting(ctx, "token/a"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("missing setting: got %v, want ErrNotFound", err)
	}
	for name, v := range map[string]string{"token/a": "1", "token/b": "2", "other": "3"} {
		if err := st.WriteSetting(ctx, name, []byte(v)); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.WriteSetting(ctx, "token/a", []byte("1b")); err != nil {
		t.Fatal(err)
	}
	if err := st.WriteSetting(ctx, "", []byte("x")); err == nil {
		t.Fatal("empty name accepted")
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	// Durable across a reopen, and a prefix scan sees only its prefix.
	st, err = storage.Open(ctx, dir, ks, storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	got := map[string]string{}
	if err := st.ScanSettings(ctx, "token/", func(name string, v []byte) error {
		got[name] = string(v)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got["token/a"] != "1b" || got["token/b"] != "2" {
		t.Fatalf("ScanSettings(token/) = %v", got)
	}
	if _, err := st.List(ctx, storage.Filter{Org: "other"}); err != nil {
		t.Fatal(err)
	}
	// An empty value clears a setting: not found, not scanned, for good.
	if err := st.WriteSetting(ctx, "token/b", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := st.ReadSetting(ctx, "token/b"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("cleared setting: got %v, want ErrNotFound", err)
	}
	got = map[string]string{}
	st.ScanSettings(ctx, "token/", func(name string, v []byte) error { got[name] = string(v); return nil })
	if len(got) != 1 || got["token/a"] != "1b" {
		t.Fatalf("ScanSettings(token/) after clearing token/b = %v", got)
	}
}
