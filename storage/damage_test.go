package storage

import (
	"context"
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
