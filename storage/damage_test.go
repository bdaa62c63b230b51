package storage

import (
	"bytes"
	"context"
	"errors"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"
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
			// Nor are other writes (a sync cursor, a policy) made into
			// files that are gone.
			if err := s.WriteSetting(context.Background(), "sync/acme/webhook/progress", []byte(`{}`)); !errors.Is(err, ErrRemoved) {
				t.Errorf("a setting after the files went: %v", err)
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

// With too little disk for a commit an append is refused, naming the
// disk, and nothing is written; once there is room again appends go on
// with the next seq (no gap).
func TestAppendRefusedWhileTheDiskIsFull(t *testing.T) {
	s, _, _ := newTestStore(t)
	appendN(t, s, "acme", 0, 2)
	var free atomic.Uint64
	free.Store(1 << 20)
	s.diskFree = func(string) (uint64, error) { return free.Load(), nil }
	s.disk.at = time.Time{} // the last answer, the real disk's, is not used
	_, err := s.Append(context.Background(), []Event{testEvent("acme", 2)})
	if !errors.Is(err, ErrDiskFull) || !strings.Contains(err.Error(), "1.0 MiB free") || !strings.Contains(err.Error(), "nothing was written") {
		t.Fatalf("append on a full disk: %v", err)
	}
	if _, err := s.Checkpoint(context.Background(), "acme"); !errors.Is(err, ErrDiskFull) {
		t.Fatalf("checkpoint on a full disk: %v", err)
	}
	free.Store(1 << 40)
	s.disk.at = time.Time{}
	rs, err := s.Append(context.Background(), []Event{testEvent("acme", 2)})
	if err != nil || rs[0].Seq != 3 {
		t.Fatalf("append with room again: %+v, %v", rs, err)
	}
}

// On a real file system that fills up (a small tmpfs, Linux as root), an
// append is refused with ErrDiskFull instead of Badger's mapped write
// ending the process with SIGBUS, and the log verifies afterwards.
func TestAppendOnARealFullDisk(t *testing.T) {
	if runtime.GOOS != "linux" || os.Geteuid() != 0 {
		t.Skip("needs Linux and root to mount a small tmpfs")
	}
	mnt := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=40m", "tmpfs", mnt).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs here: %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", "-l", mnt).Run() })
	dir := filepath.Join(mnt, "log")
	s := openTest(t, dir, newStoreKeystore())
	defer s.Close()
	big := []byte(`{"blob":"` + strings.Repeat("x", 400<<10) + `"}`)
	var err error
	n := 0
	for ; n < 400 && err == nil; n++ {
		e := testEvent("acme", n)
		e.ActionType, e.Metadata, e.AfterState = "apply.mutation", []byte(`{"rtoSeconds":60}`), big
		_, err = s.Append(context.Background(), []Event{e})
	}
	if !errors.Is(err, ErrDiskFull) {
		t.Fatalf("after %d appends of 400 KiB states on a 40 MiB disk: %v", n, err)
	}
	var ps []Problem
	if _, err := s.Verify(context.Background(), VerifyOptions{}, func(p Problem) error { ps = append(ps, p); return nil }); err != nil && !errors.Is(err, ErrDiskFull) {
		t.Fatalf("verify: %v", err)
	}
	if len(ps) > 0 {
		t.Fatalf("verify found problems: %v", ps)
	}
}
