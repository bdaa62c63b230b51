package storage

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	badger "github.com/dgraph-io/badger/v4"
)

// The value logs can be pinned only when no GC runs and every file a GC
// rewrote has been deleted: a deletion under way would unmap a file the
// release is about to drop.
func TestStore_PinFilesWaitsForGCDeletions(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(context.Background(), dir, newStoreKeystore(), Options{GCInterval: -1, MappedResident: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Append(context.Background(), []Event{testEvent("acme", 1)}); err != nil {
		t.Fatal(err)
	}
	// Two more value logs, as a GC would find them.
	for _, name := range []string{"000100.vlog", "000101.vlog"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	pinnable := func(want bool, when string) {
		t.Helper()
		p := s.pinFiles()
		if (p != nil) != want {
			t.Fatalf("%s: pinned = %v, want %v", when, p != nil, want)
		}
		if p != nil {
			p.unpin()
		}
	}
	pinnable(true, "no GC yet")

	s.mapped.gc.start(dir)
	pinnable(false, "while a GC runs")
	s.mapped.gc.done(badger.ErrNoRewrite)
	pinnable(true, "after a GC that rewrote nothing")

	// Two GCs that rewrote a file each: both files must go.
	s.mapped.gc.start(dir)
	s.mapped.gc.done(nil)
	s.mapped.gc.start(dir)
	s.mapped.gc.done(nil)
	pinnable(false, "after two rewrites, no file deleted")
	if err := os.Remove(filepath.Join(dir, "000100.vlog")); err != nil {
		t.Fatal(err)
	}
	pinnable(false, "after two rewrites, one file deleted")
	if err := os.Remove(filepath.Join(dir, "000101.vlog")); err != nil {
		t.Fatal(err)
	}
	pinnable(true, "after two rewrites, both files deleted")

	// A GC that failed may have rewritten a file: wait for one deletion.
	s.mapped.gc.start(dir)
	s.mapped.gc.done(errors.New("disk full"))
	pinnable(false, "after a failed GC")
}
