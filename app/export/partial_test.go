package export

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
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
