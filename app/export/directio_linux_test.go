package export

import (
	"bytes"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestDirectWriter: whatever the sizes of the writes, a file written with
// O_DIRECT holds exactly the bytes written, the partial last block too.
func TestDirectWriter(t *testing.T) {
	dir := t.TempDir()
	for _, size := range []int{0, 1, directBlock - 1, directBlock, directBlock + 1, directBuffer - 1, directBuffer,
		directBuffer + directBlock + 7, 3*directBuffer + 12345} {
		path := filepath.Join(dir, "f")
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		d, err := newDirectWriter(f)
		if err != nil {
			f.Close()
			t.Skipf("%s has no O_DIRECT: %v", dir, err)
		}
		want := make([]byte, size)
		rng := rand.New(rand.NewPCG(uint64(size), 1))
		for i := range want {
			want[i] = byte(rng.Uint32())
		}
		for p := want; len(p) > 0; {
			k := min(len(p), 1+rng.IntN(300<<10))
			if n, err := d.Write(p[:k]); n != k || err != nil {
				t.Fatalf("size %d: Write = %d, %v", size, n, err)
			}
			p = p[k:]
		}
		if err := d.Sync(); err != nil {
			t.Fatalf("size %d: Sync: %v", size, err)
		}
		if err := d.Close(); err != nil {
			t.Fatalf("size %d: Close: %v", size, err)
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("size %d: read back %d bytes, not what was written", size, len(got))
		}
		os.Remove(path)
	}
}

// TestDirectWriter_Error: a write the file refuses is an error from Write
// or Sync, never lost.
func TestDirectWriter_Error(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path) // read only: every write fails
	if err != nil {
		t.Fatal(err)
	}
	d, err := newDirectWriter(f)
	if err != nil {
		f.Close()
		t.Skipf("no O_DIRECT: %v", err)
	}
	defer d.Close()
	buf := make([]byte, 256<<10)
	var werr error
	for i := 0; i < 16 && werr == nil; i++ {
		_, werr = d.Write(buf)
	}
	if serr := d.Sync(); werr == nil && serr == nil {
		t.Fatal("4 MiB written to a read-only file without an error")
	}
}

// TestWriteBehind: the writer for file systems without O_DIRECT leaves
// the file holding what was written.
func TestWriteBehind(t *testing.T) {
	f, err := os.CreateTemp(t.TempDir(), "f")
	if err != nil {
		t.Fatal(err)
	}
	w := &writeBehind{f: f}
	want := bytes.Repeat([]byte("0123456789abcdef"), (2*writeBehindChunk+12345)/16)
	for p := want; len(p) > 0; p = p[min(len(p), 1<<20):] {
		if _, err := w.Write(p[:min(len(p), 1<<20)]); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Sync(); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(f.Name()); !bytes.Equal(got, want) {
		t.Fatalf("read back %d bytes, not the %d written", len(got), len(want))
	}
}

// TestReadAhead: reads of any size through withReadAhead return the file's
// bytes in order and then io.EOF, whatever the file's size.
func TestReadAhead(t *testing.T) {
	dir := t.TempDir()
	for _, size := range []int{0, 1, directBlock, directBlock + 1, directBuffer - 1, directBuffer,
		directBuffer + 1, 2*directBuffer + 4097} {
		want := make([]byte, size)
		rng := rand.New(rand.NewPCG(uint64(size), 2))
		for i := range want {
			want[i] = byte(rng.Uint32())
		}
		path := filepath.Join(dir, "f")
		if err := os.WriteFile(path, want, 0o644); err != nil {
			t.Fatal(err)
		}
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		r := withReadAhead(f)
		if _, ok := r.(*directReader); !ok {
			t.Logf("%s has no O_DIRECT: testing the fallback", dir)
		}
		var got []byte
		buf := make([]byte, 300<<10)
		for {
			n, err := r.Read(buf[:1+rng.IntN(len(buf))])
			got = append(got, buf[:n]...)
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("size %d: %v after %d bytes", size, err, len(got))
			}
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("size %d: read %d bytes, not the file's", size, len(got))
		}
		r.Close()
		f.Close()
	}
}

// TestReadAhead_StopEarly: closing a reader that was not read to the end
// stops its goroutine (the race detector and the leak would show).
func TestReadAhead_StopEarly(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(path, make([]byte, 3*directBuffer), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := withReadAhead(f)
	if _, err := r.Read(make([]byte, 10)); err != nil {
		t.Fatal(err)
	}
	d, ok := r.(*directReader)
	if !ok {
		t.Skip("no O_DIRECT")
	}
	r.Close()
	select {
	case <-time.After(10 * time.Second):
		t.Fatal("the reading goroutine did not stop")
	case <-drained(d.full):
	}
}

// drained is closed once c is closed, whatever it still held.
func drained(c chan directChunk) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		for range c {
		}
		close(done)
	}()
	return done
}
