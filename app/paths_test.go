package app

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"
)

func TestPaths_KeychainNamespace(t *testing.T) {
	ns := func(p Paths) string {
		t.Helper()
		n, err := p.KeychainNamespace()
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	def, err := ResolvePaths("work", "")
	if err != nil {
		t.Fatal(err)
	}
	if got := ns(def); got != "work" {
		t.Errorf("default location: namespace %q, want the profile's name", got)
	}

	a, _ := ResolvePaths("work", filepath.Join(t.TempDir(), "a"))
	b, _ := ResolvePaths("work", filepath.Join(t.TempDir(), "b"))
	na, nb := ns(a), ns(b)
	if !regexp.MustCompile(`^work@[0-9a-f]{12}$`).MatchString(na) || na == nb {
		t.Errorf("two new --data-dir logs: namespaces %q and %q; want work@<12 hex digits>, distinct", na, nb)
	}
	if again := ns(a); again != na {
		t.Errorf("the namespace changed from %q to %q", na, again)
	}
	// It moves with the directory.
	moved := filepath.Join(t.TempDir(), "moved")
	if err := os.Rename(a.DataDir, moved); err != nil {
		t.Fatal(err)
	}
	m, _ := ResolvePaths("work", moved)
	if got := ns(m); got != na {
		t.Errorf("after a move: namespace %q, want %q", got, na)
	}

	// A --data-dir log created before namespaces keeps the profile's.
	old, _ := ResolvePaths("work", filepath.Join(t.TempDir(), "old"))
	if err := os.MkdirAll(old.LogDir(), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(old.LogDir(), "MANIFEST"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if got := ns(old); got != "work" {
		t.Errorf("a log from before namespaces: namespace %q, want the profile's name", got)
	}

	bad, _ := ResolvePaths("work", filepath.Join(t.TempDir(), "bad"))
	if err := os.MkdirAll(bad.ConfigDir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bad.ConfigDir, keychainNamespaceFile), []byte("../other\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := bad.KeychainNamespace(); err == nil {
		t.Error("a namespace file with ../other was accepted")
	}
}
