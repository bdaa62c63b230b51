package storage

import (
	"bytes"
	"context"
	"maps"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// One flipped byte in a table file is noticed, wherever it is: opening
// the store fails, or verify fails or reports a problem. It never crashes
// the process (a panic in Badger's iterator) and never passes as a clean
// log.
func TestDamagedTableIsNoticed(t *testing.T) {
	l := newTamperLog(t)
	tables, _ := filepath.Glob(filepath.Join(l.dir, "*.sst"))
	if len(tables) == 0 {
		t.Fatal("no table files")
	}
	orig, err := os.ReadFile(tables[0])
	if err != nil {
		t.Fatal(err)
	}
	name := filepath.Base(tables[0])
	step := len(orig) / 40
	for off := 7; off < len(orig); off += step {
		dir := t.TempDir()
		copyDir(t, l.dir, dir)
		damaged := append([]byte(nil), orig...)
		damaged[off] ^= 0x5a
		if err := os.WriteFile(filepath.Join(dir, name), damaged, 0o600); err != nil {
			t.Fatal(err)
		}
		s, err := Open(context.Background(), dir, l.ks, Options{Now: l.clk.Now, GCInterval: -1})
		if err != nil {
			continue // noticed at open
		}
		var ps []Problem
		_, verr := s.Verify(context.Background(), VerifyOptions{}, func(p Problem) error { ps = append(ps, p); return nil })
		s.Close()
		if verr == nil && len(ps) == 0 {
			t.Errorf("byte %d of %s (%d bytes) flipped: verify is clean", off, name, len(orig))
		}
		if verr != nil && strings.Contains(verr.Error(), "restore the original key") {
			t.Errorf("byte %d flipped: the keys are blamed: %v", off, verr)
		}
	}
}

// Appends fail once the database's files are removed, moved or emptied
// under an open store: Badger would go on writing into the unlinked files,
// and each append would be answered durable and be lost at close.
func TestAppendFailsOnceTheFilesAreRemoved(t *testing.T) {
	for _, c := range []struct {
		name   string
		remove func(dir string) error
	}{
		{"directory removed", os.RemoveAll},
		{"directory moved", func(dir string) error { return os.Rename(dir, dir+".moved") }},
		{"files removed", func(dir string) error {
			es, err := os.ReadDir(dir)
			for _, e := range es {
				os.Remove(filepath.Join(dir, e.Name()))
			}
			return err
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "log")
			ks := newStoreKeystore()
			s := openTest(t, dir, ks)
			appendN(t, s, "acme", 0, 3)
			anchors := len(ks.secrets)
			if err := c.remove(dir); err != nil {
				t.Fatal(err)
			}
			for i := range 2 {
				_, err := s.Append(context.Background(), []Event{testEvent("acme", 3+i)})
				if !errors.Is(err, ErrRemoved) || !strings.Contains(err.Error(), "were removed or replaced while it was open") {
					t.Fatalf("append %d after the files went: %v", i, err)
				}
			}
			if _, err := s.Checkpoint(context.Background(), "acme"); !errors.Is(err, ErrRemoved) {
				t.Errorf("checkpoint after the files went: %v", err)
			}
			// Close returns (Badger's own would retry its flush for ever)
			// and mirrors no checkpoint into the keystore.
			before := maps.Clone(ks.secrets)
			if err := s.Close(); !errors.Is(err, ErrRemoved) {
				t.Errorf("close: %v", err)
			}
			if !maps.EqualFunc(before, ks.secrets, bytes.Equal) || len(ks.secrets) != anchors {
				t.Errorf("the keystore changed after the files went")
			}
		})
	}
}
