package export

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"
)

func names(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var n []string
	for _, e := range entries {
		n = append(n, e.Name())
	}
	return n
}

// A partial folder whose writer died (its lock file is free) is removed by
// the next MakePartial in the same folder, with what it holds; one whose
// writer is at work (locked), one of another prefix, and one with no lock
// file (being created, or left by a build without locks) are not.
func TestMakePartial_RemovesOnlyAbandonedFolders(t *testing.T) {
	out := t.TempDir()
	mk := func(name string, lock bool) {
		if err := os.Mkdir(filepath.Join(out, name), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(out, name, "events.jsonl"), []byte(`{"afterState":"secret"}`), 0o644); err != nil {
			t.Fatal(err)
		}
		if lock {
			if err := os.WriteFile(filepath.Join(out, name+".lock"), nil, 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	mk(".axiom-audit-export-1.partial", true)  // abandoned
	mk(".axiom-audit-export-2.partial", false) // no lock file
	mk(".axiom-audit-report-3.partial", true)  // another prefix
	live, doneLive, err := MakePartial(out, ".axiom-audit-export-")
	if err != nil {
		t.Fatal(err)
	}
	if got := names(t, out); slices.Contains(got, ".axiom-audit-export-1.partial") || slices.Contains(got, ".axiom-audit-export-1.partial.lock") {
		t.Fatalf("the abandoned partial folder is still there: %v", got)
	}
	dir, done, err := MakePartial(out, ".axiom-audit-export-")
	if err != nil {
		t.Fatal(err)
	}
	got := names(t, out)
	for _, want := range []string{filepath.Base(live), filepath.Base(live) + ".lock", filepath.Base(dir), filepath.Base(dir) + ".lock",
		".axiom-audit-export-2.partial", ".axiom-audit-report-3.partial", ".axiom-audit-report-3.partial.lock"} {
		if !slices.Contains(got, want) {
			t.Errorf("%s was removed; left %v", want, got)
		}
	}
	done()
	doneLive()
	got = names(t, out)
	for _, gone := range []string{filepath.Base(live), filepath.Base(live) + ".lock", filepath.Base(dir), filepath.Base(dir) + ".lock"} {
		if slices.Contains(got, gone) {
			t.Errorf("done left %s; left %v", gone, got)
		}
	}
	// done after the folder was placed removes the lock file only.
	dir, done, err = MakePartial(out, ".axiom-audit-export-")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(dir, filepath.Join(out, "bundle")); err != nil {
		t.Fatal(err)
	}
	done()
	if got := names(t, out); !slices.Contains(got, "bundle") || slices.Contains(got, filepath.Base(dir)+".lock") {
		t.Errorf("after placing: %v", got)
	}
}

// Writers starting at once in one folder neither fail nor take each
// other's lock: every live folder keeps a lock file its writer holds, and
// none is removed while its writer lives. A folder name with glob
// characters is no different.
func TestMakePartial_ConcurrentWriters(t *testing.T) {
	out := filepath.Join(t.TempDir(), "Reports [2026] *?")
	if err := os.Mkdir(out, 0o700); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 300; i++ {
				dir, done, err := MakePartial(out, ".axiom-audit-export-")
				if err != nil {
					errs <- err
					return
				}
				if err := os.WriteFile(filepath.Join(dir, "events.jsonl"), []byte("x"), 0o644); err != nil {
					errs <- fmt.Errorf("a live writer's folder is gone: %w", err)
					return
				}
				if _, err := os.Stat(dir + ".lock"); err != nil {
					errs <- fmt.Errorf("a live writer's lock file is gone: %w", err)
					return
				}
				done()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if got := names(t, out); len(got) != 0 {
		t.Errorf("left %v", got)
	}
}

// A lock file with no folder beside it is a writer killed between the two:
// removed once it is older than a writer takes to make its folder, and
// not before. An abandoned folder in a folder whose name has glob
// characters is removed too.
func TestMakePartial_LonelyLocksAndGlobCharacters(t *testing.T) {
	out := filepath.Join(t.TempDir(), "Reports [2026]")
	if err := os.Mkdir(out, 0o700); err != nil {
		t.Fatal(err)
	}
	write := func(name string) {
		if err := os.WriteFile(filepath.Join(out, name), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(".axiom-audit-export-old.partial.lock")
	old := time.Now().Add(-2 * lonelyLockAge)
	os.Chtimes(filepath.Join(out, ".axiom-audit-export-old.partial.lock"), old, old)
	write(".axiom-audit-export-new.partial.lock")
	os.Mkdir(filepath.Join(out, ".axiom-audit-export-dead.partial"), 0o700)
	write(".axiom-audit-export-dead.partial.lock")
	_, done, err := MakePartial(out, ".axiom-audit-export-")
	if err != nil {
		t.Fatal(err)
	}
	done()
	got := names(t, out)
	if slices.Contains(got, ".axiom-audit-export-old.partial.lock") || slices.Contains(got, ".axiom-audit-export-dead.partial") ||
		!slices.Contains(got, ".axiom-audit-export-new.partial.lock") {
		t.Errorf("left %v: want the old lonely lock and the dead folder gone, the new lonely lock kept", got)
	}
}

// A writer killed after its bundle was recorded and before the move leaves
// the bundle in its partial folder, the empty folder reserved for it, and
// the target file naming that folder: the next MakePartial finishes the
// move, so what the log says was exported exists. Without a target file,
// with the reserved folder gone or used, or with a name that is not a
// folder of outDir, the partial folder is removed as any abandoned one.
func TestMakePartial_FinishesARecordedMove(t *testing.T) {
	for _, tc := range []struct {
		name   string
		target string // the target file's content; "" for none
		prep   func(t *testing.T, out string)
		moved  bool
	}{
		{"recorded", "axiom-audit-export-acme-20261127T010203Z", reserve(""), true},
		{"not recorded", "", reserve(""), false},
		{"the reserved folder was removed", "axiom-audit-export-acme-20261127T010203Z", func(*testing.T, string) {}, false},
		{"the reserved folder is in use", "axiom-audit-export-acme-20261127T010203Z", reserve("notes.txt"), false},
		{"a name outside the folder", "../axiom-audit-export-acme-20261127T010203Z", reserve(""), false},
		{"a hidden name", ".axiom-audit-export-2.partial", reserve(""), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := t.TempDir()
			partial := filepath.Join(out, ".axiom-audit-export-1.partial")
			if err := os.Mkdir(partial, 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(partial, ManifestFile), []byte("{}"), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(partial+lockSuffix, nil, 0o600); err != nil {
				t.Fatal(err)
			}
			if tc.target != "" {
				if err := os.WriteFile(partial+targetSuffix, []byte(tc.target), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			tc.prep(t, out)
			_, done, err := MakePartial(out, ".axiom-audit-export-")
			if err != nil {
				t.Fatal(err)
			}
			done()
			got := names(t, out)
			for _, gone := range []string{".axiom-audit-export-1.partial", ".axiom-audit-export-1.partial.lock", ".axiom-audit-export-1.partial.target"} {
				if slices.Contains(got, gone) {
					t.Errorf("%s is left: %v", gone, got)
				}
			}
			_, err = os.Stat(filepath.Join(out, "axiom-audit-export-acme-20261127T010203Z", ManifestFile))
			if moved := err == nil; moved != tc.moved {
				t.Errorf("bundle moved into place: %v, want %v (left %v)", moved, tc.moved, got)
			}
		})
	}
}

// reserve makes the folder a recorded bundle was to be moved onto, with
// file in it unless file is "".
func reserve(file string) func(t *testing.T, out string) {
	return func(t *testing.T, out string) {
		dir := filepath.Join(out, "axiom-audit-export-acme-20261127T010203Z")
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if file != "" {
			if err := os.WriteFile(filepath.Join(dir, file), []byte("mine"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// PlaceRecorded names its target beside the partial folder only once the
// writing is recorded, and removes that name once the folder is placed.
func TestPlaceRecorded_NamesTheTargetOnlyWhenRecorded(t *testing.T) {
	out := t.TempDir()
	tmp, done, err := MakePartial(out, ".axiom-audit-export-")
	if err != nil {
		t.Fatal(err)
	}
	defer done()
	if err := os.WriteFile(filepath.Join(tmp, ManifestFile), []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	var during []string
	dir, err := PlaceRecorded(tmp, out, "bundle", func(string) error {
		during = names(t, out)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if slices.Contains(during, filepath.Base(tmp)+targetSuffix) {
		t.Errorf("the target was named before the bundle was recorded: %v", during)
	}
	if got := names(t, out); slices.Contains(got, filepath.Base(tmp)+targetSuffix) || filepath.Base(dir) != "bundle" {
		t.Errorf("after placing %s: %v", dir, got)
	}
}
