package export

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/axiomops/axiom-audit/storage"
)

func TestWrite_everyFormatVerifies(t *testing.T) {
	for _, f := range Formats {
		for _, sensitive := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/sensitive=%v", f, sensitive), func(t *testing.T) {
				src := newSource(t)
				res := writeBundle(t, src, f, sensitive)
				if got, want := filepath.Base(res.Dir), "axiom-audit-export-acme-corp-20261127T010203Z"; got != want {
					t.Errorf("bundle name %q, want %q", got, want)
				}
				want := []string{CheckpointFile, ManifestFile, ManifestSigFile, ProofsFile, PublicKeyFile, f.EventsFile()}
				slices.Sort(want)
				if got := entries(t, res.Dir); !slices.Equal(got, want) {
					t.Errorf("files %v, want %v", got, want)
				}
				n := int64(len(hostileEvents(testOrg)))
				if res.Count != n || res.FirstSeq != 1 || res.LastSeq != uint64(n) {
					t.Errorf("count %d seqs %d..%d, want %d events 1..%d", res.Count, res.FirstSeq, res.LastSeq, n, n)
				}
				rep := verifyOK(t, res.Dir)
				if !rep.ManifestSigned {
					t.Error("the manifest is not reported signed")
				}
				if rep.Events != n {
					t.Errorf("verified %d events, want %d", rep.Events, n)
				}
				wantRevealed := int64(0)
				if sensitive {
					wantRevealed = 5
				}
				if rep.Revealed != wantRevealed {
					t.Errorf("revealed %d states, want %d", rep.Revealed, wantRevealed)
				}
				proofs := string(readFile(t, res.Dir, ProofsFile))
				if strings.Contains(proofs, `"salt"`) != sensitive {
					t.Errorf("proofs.jsonl carries salts: %v, want %v", !sensitive, sensitive)
				}
				events := string(readFile(t, res.Dir, f.EventsFile()))
				if strings.Contains(events, "m5.xlarge") != sensitive {
					t.Errorf("events file carries a state: %v, want %v", !sensitive, sensitive)
				}
			})
		}
	}
}

func TestWrite_bigStates(t *testing.T) {
	src, err := NewMemSource("test-installation")
	if err != nil {
		t.Fatal(err)
	}
	e := hostileEvents(testOrg)[1]
	e.BeforeState, e.AfterState = bigState(), bigState()
	if len(e.AfterState) != 512<<10 {
		t.Fatalf("state is %d bytes", len(e.AfterState))
	}
	if _, err := src.Append(e); err != nil {
		t.Fatal(err)
	}
	for _, f := range Formats {
		t.Run(string(f), func(t *testing.T) {
			res := writeBundle(t, src, f, true)
			rep := verifyOK(t, res.Dir)
			if rep.Revealed != 2 {
				t.Errorf("revealed %d, want 2", rep.Revealed)
			}
		})
	}
}

// TestVerify_tamper changes one byte of every file of a bundle, at several
// places, and expects verify-export to name that file.
func TestVerify_tamper(t *testing.T) {
	for _, f := range Formats {
		t.Run(string(f), func(t *testing.T) {
			src := newSource(t)
			res := writeBundle(t, src, f, true)
			for _, name := range entries(t, res.Dir) {
				orig := readFile(t, res.Dir, name)
				for _, at := range []int{0, len(orig) / 3, len(orig) / 2, len(orig) - 2, len(orig) - 1} {
					for _, flip := range []byte{0x01, 0x20} {
						data := slices.Clone(orig)
						data[at] ^= flip
						path := filepath.Join(res.Dir, name)
						if err := os.WriteFile(path, data, 0o644); err != nil {
							t.Fatal(err)
						}
						rep, err := Verify(context.Background(), res.Dir, VerifyOptions{})
						if err != nil {
							t.Fatal(err)
						}
						if rep.OK {
							t.Errorf("%s byte %d ^ %#x: verified OK", name, at, flip)
						} else if !slices.ContainsFunc(rep.Problems, func(p Problem) bool { return p.File == name }) {
							t.Errorf("%s byte %d ^ %#x: no problem names the file: %v", name, at, flip, rep.Problems)
						}
						if err := os.WriteFile(path, orig, 0o644); err != nil {
							t.Fatal(err)
						}
					}
				}
			}
			verifyOK(t, res.Dir)
		})
	}
}

func TestVerify_extraAndMissingFiles(t *testing.T) {
	res := writeBundle(t, newSource(t), JSONLines, false)
	if err := os.WriteFile(filepath.Join(res.Dir, "notes.txt"), []byte("hi"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(res.Dir, ProofsFile)); err != nil {
		t.Fatal(err)
	}
	rep, err := Verify(context.Background(), res.Dir, VerifyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var files []string
	for _, p := range rep.Problems {
		files = append(files, p.File)
	}
	if !slices.Contains(files, "notes.txt") || !slices.Contains(files, ProofsFile) {
		t.Errorf("problems %v do not name notes.txt and %s", rep.Problems, ProofsFile)
	}
}

// The files an operating system or an office suite puts into a folder
// (Finder, Explorer, LibreOffice and Office lock files) are ignored, and
// said to be: an auditor who opened the bundle should not see it fail.
// Any other file is a problem, as are those names when not plain files.
func TestVerify_osLitterIsIgnored(t *testing.T) {
	res := writeBundle(t, newSource(t), CSV, false)
	litter := []string{".DS_Store", "._events.csv", "Thumbs.db", "desktop.ini", ".~lock.events.csv#", "~$events.csv"}
	for _, name := range litter {
		if err := os.WriteFile(filepath.Join(res.Dir, name), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	rep, err := Verify(context.Background(), res.Dir, VerifyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(litter)
	slices.Sort(rep.Ignored)
	if !rep.OK || !slices.Equal(rep.Ignored, litter) {
		t.Errorf("ok %v, ignored %v, problems %v; want %v ignored", rep.OK, rep.Ignored, rep.Problems, litter)
	}
	for _, name := range []string{".DS_Store.bak", "lock.events.csv#", "_events.csv"} {
		os.WriteFile(filepath.Join(res.Dir, name), []byte("x"), 0o644)
	}
	if err := os.Remove(filepath.Join(res.Dir, "Thumbs.db")); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(res.Dir, "Thumbs.db"), 0o700); err != nil {
		t.Fatal(err)
	}
	rep, err = Verify(context.Background(), res.Dir, VerifyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var named []string
	for _, p := range rep.Problems {
		named = append(named, p.File)
	}
	slices.Sort(named)
	if want := []string{".DS_Store.bak", "Thumbs.db", "_events.csv", "lock.events.csv#"}; rep.OK || !slices.Equal(named, want) {
		t.Errorf("problems name %v, want %v", named, want)
	}
}

func TestVerify_trustedKey(t *testing.T) {
	res := writeBundle(t, newSource(t), CSV, false)
	other, _ := NewMemSource("other")
	key, _ := other.PublicKey(context.Background())
	rep, err := Verify(context.Background(), res.Dir, VerifyOptions{TrustedKey: key})
	if err != nil {
		t.Fatal(err)
	}
	if rep.OK || rep.Problems[0].File != PublicKeyFile {
		t.Errorf("a bundle signed by another key verified against a trusted key: %v", rep.Problems)
	}
}

// A bundle re-signed by an attacker with their own key still verifies on its
// own, but the events it proves must match its checkpoint: swapping the
// proofs of another log in fails.
func TestVerify_otherLogsProofs(t *testing.T) {
	a := writeBundle(t, newSource(t), JSONLines, false)
	b := writeBundle(t, newSource(t), JSONLines, false)
	// Same events, same proofs, different keys: checkpoint.txt of b with
	// public-key.txt of a must fail.
	data := readFile(t, b.Dir, CheckpointFile)
	if err := os.WriteFile(filepath.Join(a.Dir, CheckpointFile), data, 0o644); err != nil {
		t.Fatal(err)
	}
	rep, _ := Verify(context.Background(), a.Dir, VerifyOptions{})
	if rep.OK {
		t.Fatal("a checkpoint signed by another key verified")
	}
}

// A bundle whose name is taken (a second export in the same second) gets
// the next free name; the existing folder is not touched.
func TestWrite_existingTargetNotOverwritten(t *testing.T) {
	src := newSource(t)
	out := t.TempDir()
	target := filepath.Join(out, BundleName(testOrg, testNow))
	if err := os.Mkdir(target, 0o755); err != nil {
		t.Fatal(err)
	}
	now := func() time.Time { return testNow }
	var dirs []string
	for range 2 {
		res, err := Write(context.Background(), src, Options{Org: testOrg, Format: CSV, OutDir: out, Now: now})
		if err != nil {
			t.Fatal(err)
		}
		if rep, err := Verify(context.Background(), res.Dir, VerifyOptions{}); err != nil || !rep.OK {
			t.Fatalf("%s does not verify: %v %+v", res.Dir, err, rep.Problems)
		}
		dirs = append(dirs, filepath.Base(res.Dir))
	}
	base := filepath.Base(target)
	if want := []string{base + "-2", base + "-3"}; !slices.Equal(dirs, want) {
		t.Errorf("bundles in %v, want %v", dirs, want)
	}
	if got := entries(t, out); !slices.Equal(got, []string{base, base + "-2", base + "-3"}) {
		t.Errorf("out dir holds %v", got)
	}
	if got := entries(t, target); len(got) != 0 {
		t.Errorf("the existing folder was written to: %v", got)
	}
}

func TestPlace(t *testing.T) {
	for _, tc := range []struct {
		name  string
		taken []string // in dir before Place
		file  bool     // the taken names are files, not folders
		want  string   // "" for ErrExists
	}{
		{name: "free", want: "b"},
		{name: "taken", taken: []string{"b"}, want: "b-2"},
		{name: "taken by a file", taken: []string{"b"}, file: true, want: "b-2"},
		{name: "gap", taken: []string{"b", "b-2", "b-4"}, want: "b-3"},
		{name: "all taken", taken: allNames("b"), want: ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for _, n := range tc.taken {
				var err error
				if tc.file {
					err = os.WriteFile(filepath.Join(dir, n), nil, 0o644)
				} else {
					err = os.Mkdir(filepath.Join(dir, n), 0o755)
				}
				if err != nil {
					t.Fatal(err)
				}
			}
			tmp := filepath.Join(dir, ".tmp")
			if err := os.Mkdir(tmp, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(tmp, "f"), []byte("x"), 0o644); err != nil {
				t.Fatal(err)
			}
			got, err := Place(tmp, dir, "b")
			if tc.want == "" {
				if !errors.Is(err, ErrExists) {
					t.Fatalf("Place = %q, %v; want ErrExists", got, err)
				}
				if _, err := os.Stat(filepath.Join(tmp, "f")); err != nil {
					t.Errorf("the folder to place is gone: %v", err)
				}
				return
			}
			if err != nil || got != filepath.Join(dir, tc.want) {
				t.Fatalf("Place = %q, %v; want %s", got, err, tc.want)
			}
			if b, err := os.ReadFile(filepath.Join(got, "f")); err != nil || string(b) != "x" {
				t.Errorf("placed folder: %q, %v", b, err)
			}
			for _, n := range tc.taken {
				if fi, err := os.Stat(filepath.Join(dir, n)); err != nil || fi.IsDir() == tc.file {
					t.Errorf("%s changed: %v", n, err)
				}
			}
		})
	}
}

func allNames(base string) []string {
	names := []string{base}
	for i := 2; i <= maxPlaceTries; i++ {
		names = append(names, fmt.Sprintf("%s-%d", base, i))
	}
	return names
}

func TestWrite_cancelLeavesNothing(t *testing.T) {
	src, _ := NewMemSource("i")
	var evs []storage.Event
	for i := range 5000 {
		e := hostileEvents(testOrg)[i%len(hostileEvents(testOrg))]
		e.ID = fmt.Sprintf("01936b2e-0000-7000-8000-%012d", i)
		evs = append(evs, e)
	}
	if _, err := src.Append(evs...); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	src.FailList(testOrg, func(page int) error {
		if page == 3 {
			cancel()
		}
		return nil
	})
	out := t.TempDir()
	_, err := Write(ctx, src, Options{Org: testOrg, Format: JSONLines, OutDir: out})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if got := entries(t, out); len(got) != 0 {
		t.Errorf("a cancelled export left %v", got)
	}
}

func TestWrite_sourceFailureLeavesNothing(t *testing.T) {
	src := newSource(t)
	boom := errors.New("disk read error")
	src.FailList(testOrg, func(int) error { return boom })
	out := t.TempDir()
	_, err := Write(context.Background(), src, Options{Org: testOrg, Format: CSV, OutDir: out})
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v", err)
	}
	if got := entries(t, out); len(got) != 0 {
		t.Errorf("left %v", got)
	}
}

// fullDisk is a file that accepts limit bytes, then fails like a full disk.
type fullDisk struct {
	*os.File
	left *int
}

func (f fullDisk) Write(p []byte) (int, error) {
	if len(p) > *f.left {
		n, _ := f.File.Write(p[:*f.left])
		*f.left = 0
		return n, &os.PathError{Op: "write", Path: f.Name(), Err: syscall.ENOSPC}
	}
	*f.left -= len(p)
	return f.File.Write(p)
}

func TestWrite_diskFullLeavesNothing(t *testing.T) {
	for _, limit := range []int{0, 100, 5000} {
		t.Run(fmt.Sprint(limit), func(t *testing.T) {
			src := newSource(t)
			out := t.TempDir()
			left := limit
			_, err := Write(context.Background(), src, Options{Org: testOrg, Format: JSON, OutDir: out,
				create: func(path string) (io.WriteCloser, error) {
					f, err := os.Create(path)
					return fullDisk{f, &left}, err
				}})
			if !errors.Is(err, syscall.ENOSPC) || !strings.Contains(err.Error(), out) {
				t.Fatalf("err = %v, want ENOSPC naming a path in %s", err, out)
			}
			if got := entries(t, out); len(got) != 0 {
				t.Errorf("left %v", got)
			}
		})
	}
}

func TestWrite_unwritableOutDir(t *testing.T) {
	src := newSource(t)
	parent := t.TempDir()
	notDir := filepath.Join(parent, "file")
	os.WriteFile(notDir, []byte("x"), 0o644)
	for name, dir := range map[string]string{"missing": filepath.Join(parent, "missing"), "file": notDir} {
		t.Run(name, func(t *testing.T) {
			_, err := Write(context.Background(), src, Options{Org: testOrg, Format: CSV, OutDir: dir})
			if err == nil || !strings.Contains(err.Error(), dir) {
				t.Fatalf("err = %v, want an error naming %s", err, dir)
			}
		})
	}
	t.Run("read-only", func(t *testing.T) {
		if os.Geteuid() == 0 {
			t.Skip("root ignores directory permissions")
		}
		ro := filepath.Join(parent, "ro")
		os.Mkdir(ro, 0o555)
		_, err := Write(context.Background(), src, Options{Org: testOrg, Format: CSV, OutDir: ro})
		if !errors.Is(err, os.ErrPermission) || !strings.Contains(err.Error(), ro) {
			t.Fatalf("err = %v, want permission denied naming %s", err, ro)
		}
		if got := entries(t, ro); len(got) != 0 {
			t.Errorf("left %v", got)
		}
	})
}

func TestWrite_progressThrottled(t *testing.T) {
	src, _ := NewMemSource("i")
	var evs []storage.Event
	for i := range 20000 {
		e := hostileEvents(testOrg)[i%len(hostileEvents(testOrg))]
		e.ID = fmt.Sprintf("01936b2e-0000-7000-8000-%012d", i)
		evs = append(evs, e)
	}
	src.Append(evs...)
	var calls []time.Time
	var last Progress
	res := writeBundle(t, src, JSONLines, false, func(o *Options) {
		o.Progress = func(p Progress) {
			calls = append(calls, time.Now())
			if p.Events < last.Events || p.Bytes < last.Bytes {
				t.Errorf("progress went back: %+v after %+v", p, last)
			}
			if p.Total != 20000 {
				t.Errorf("total %d", p.Total)
			}
			last = p
		}
	})
	if len(calls) == 0 {
		t.Fatal("no progress")
	}
	for i := 1; i < len(calls); i++ {
		if d := calls[i].Sub(calls[i-1]); d < 95*time.Millisecond {
			t.Errorf("progress calls %v apart", d)
		}
	}
	if res.Count != 20000 {
		t.Errorf("count %d", res.Count)
	}
}

func TestWrite_filterAndOrder(t *testing.T) {
	src := newSource(t)
	res := writeBundle(t, src, JSONLines, false, func(o *Options) {
		o.Filter = storage.Filter{ActionTypes: []string{"user.signed_in", "apply.mutation"}, Order: storage.NewestFirst}
	})
	if res.Count != 2 || res.FirstSeq != 1 || res.LastSeq != 6 {
		t.Errorf("result %+v", res)
	}
	verifyOK(t, res.Dir)
	m := res.Manifest
	if !slices.Equal(m.Filter.ActionTypes, []string{"user.signed_in", "apply.mutation"}) || m.Filter.Order != "newest" || m.Filter.Org != testOrg {
		t.Errorf("manifest filter %+v", m.Filter)
	}
}

func TestWrite_usage(t *testing.T) {
	src := newSource(t)
	for name, o := range map[string]Options{
		"no org":    {Format: CSV, OutDir: t.TempDir()},
		"no format": {Org: testOrg, OutDir: t.TempDir()},
		"bad":       {Org: testOrg, Format: "xml", OutDir: t.TempDir()},
		"no dir":    {Org: testOrg, Format: CSV},
	} {
		if _, err := Write(context.Background(), src, o); !errors.Is(err, ErrUsage) {
			t.Errorf("%s: err = %v, want ErrUsage", name, err)
		}
	}
}

// plainSource hides the optional interfaces (Scanner, NodeSource, Counter),
// so that an export asks the source for each proof and pages with List.
type plainSource struct{ Source }

func TestWrite_plainSource(t *testing.T) {
	src := newSource(t)
	for _, f := range []Format{CSV, OCSF} {
		res := writeBundle(t, plainSource{src}, f, true)
		if res.Count != int64(len(hostileEvents(testOrg))) {
			t.Errorf("count %d", res.Count)
		}
		verifyOK(t, res.Dir)
		// The same bytes as through the batch prover.
		fast := writeBundle(t, src, f, true)
		if a, b := readFile(t, res.Dir, ProofsFile), readFile(t, fast.Dir, ProofsFile); !bytes.Equal(a, b) {
			t.Errorf("%s: proofs differ between the per-event and the batch prover", f)
		}
	}
}

// Events appended after the export's checkpoint are not exported: every
// exported event is covered by it.
func TestWrite_eventsAfterCheckpointLeftOut(t *testing.T) {
	src := newSource(t)
	late := hostileEvents(testOrg)[0]
	late.ID = "01936b2e-0000-7000-8000-999999999999"
	src.FailList(testOrg, func(page int) error {
		if page == 0 {
			_, err := src.Append(late)
			return err
		}
		return nil
	})
	res := writeBundle(t, src, JSONLines, false)
	n := int64(len(hostileEvents(testOrg)))
	if res.Count != n || res.LastSeq != uint64(n) {
		t.Errorf("exported %d events up to seq %d, want the %d the checkpoint covers", res.Count, res.LastSeq, n)
	}
	verifyOK(t, res.Dir)
}

func TestLineReader_longLine(t *testing.T) {
	data := "short\n" + strings.Repeat("x", maxLineBytes+10) + "\nafter\nlast"
	lr := newLineReader(strings.NewReader(data))
	for i, want := range []string{"short", "", "after", "last"} {
		got, err := lr.next()
		if i == 1 {
			if err == nil {
				t.Fatalf("a %d-byte line was read", maxLineBytes+10)
			}
			continue
		}
		if err != nil || string(got) != want {
			t.Fatalf("line %d: %q, %v; want %q", i+1, got, err, want)
		}
	}
	if _, err := lr.next(); err != io.EOF {
		t.Fatalf("after the end: %v", err)
	}
}

// With Record, the export is recorded once the bundle is complete and
// under the name it gets, while that name is still an empty folder: the
// bundle becomes visible only after its record, so a crash in between
// leaves no bundle the log does not know of. A failing Record leaves
// nothing: no bundle, no empty folder, no partial one.
func TestWrite_recordsBeforeTheBundleIsVisible(t *testing.T) {
	src := newSource(t)
	var seen Result
	res := writeBundle(t, src, JSONLines, false, func(o *Options) {
		o.Record = func(r Result) error {
			seen = r
			es, err := os.ReadDir(r.Dir)
			if err != nil || len(es) != 0 {
				t.Errorf("at the record, %s holds %d entries (%v), want an empty folder", r.Dir, len(es), err)
			}
			if r.ManifestSHA256 == "" || r.Count == 0 || len(r.Files) == 0 {
				t.Errorf("the record gets %+v", r)
			}
			return nil
		}
	})
	if seen.Dir != res.Dir || seen.ManifestSHA256 != res.ManifestSHA256 {
		t.Fatalf("recorded %s %s, written %s %s", seen.Dir, seen.ManifestSHA256, res.Dir, res.ManifestSHA256)
	}
	verifyOK(t, res.Dir)

	out := t.TempDir()
	refused := errors.New("the log refused the record")
	_, err := Write(context.Background(), src, Options{Org: testOrg, Format: JSONLines, OutDir: out, Now: func() time.Time { return testNow },
		Record: func(Result) error { return refused }})
	if !errors.Is(err, refused) {
		t.Fatalf("Write with a failing record: %v", err)
	}
	if es, _ := os.ReadDir(out); len(es) != 0 {
		t.Fatalf("a failed record left %d entries in the folder: %v", len(es), es)
	}
}
