package export

import (
	"errors"
	"io"
	"os"
	"sync/atomic"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// A bundle file is gigabytes written once and never read back by the
// exporter. Through the page cache, the kernel copies each page, keeps it
// dirty until the fsync at the end of the file, and then writes it all
// while the export waits. So a bundle file is written with O_DIRECT where
// the file system allows it (directWriter), and otherwise the kernel is
// asked to start writing each chunk as soon as it is complete
// (writeBehind). On the machine the benchmarks run on, writing 3 GB took
// 7.1 s of kernel CPU through the page cache and 0.7 s with O_DIRECT.

// streamingWriter wraps a bundle file written in one long stream.
func streamingWriter(wc io.WriteCloser) io.WriteCloser {
	f, ok := wc.(*os.File)
	if !ok {
		return wc
	}
	if d, err := newDirectWriter(f); err == nil {
		return d
	}
	return &writeBehind{f: f}
}

// writeBehindChunk is how much of a file is written before the kernel is
// asked to start writing it to disk.
const writeBehindChunk = 8 << 20

// writeBehind starts the disk writes of each chunk of the file while the
// export goes on (sync_file_range with SYNC_FILE_RANGE_WRITE, which does
// not wait), so that the fsync at its end finds little left to write.
// Errors are left to that fsync, which reports any failed write.
type writeBehind struct {
	f          *os.File
	off, start int64
}

func (w *writeBehind) Write(p []byte) (int, error) {
	n, err := w.f.Write(p)
	w.off += int64(n)
	if w.off-w.start >= writeBehindChunk {
		control(w.f, func(fd int) error {
			return unix.SyncFileRange(fd, w.start, w.off-w.start, unix.SYNC_FILE_RANGE_WRITE)
		})
		w.start = w.off
	}
	return n, err
}

func (w *writeBehind) Sync() error  { return w.f.Sync() }
func (w *writeBehind) Close() error { return w.f.Close() }

// control runs fn with f's descriptor.
func control(f *os.File, fn func(fd int) error) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var ferr error
	if err := rc.Control(func(fd uintptr) { ferr = fn(int(fd)) }); err != nil {
		return err
	}
	return ferr
}

const (
	// directBlock is the alignment O_DIRECT needs of buffers, offsets and
	// lengths: a multiple of any device's logical block size.
	directBlock = 4096
	// directBuffer is the size of each of the two buffers of a
	// directWriter or a directReader.
	directBuffer = 1 << 20
)

// directWriter writes a file with O_DIRECT from two aligned buffers: one
// is filled while a goroutine writes the other. The last, partial block is
// written through the page cache once O_DIRECT is turned off again, then
// Sync makes it all durable.
type directWriter struct {
	f       *os.File
	cur     []byte      // being filled; len is what it holds
	full    chan []byte // to the writing goroutine
	free    chan []byte // back from it
	done    chan struct{}
	werr    atomic.Pointer[error] // the writing goroutine's first error
	err     error                 // the first error Write or flush returned
	flushed bool
}

func newDirectWriter(f *os.File) (*directWriter, error) {
	if err := setDirect(f, true); err != nil {
		return nil, err // this file system has no O_DIRECT
	}
	d := &directWriter{f: f, full: make(chan []byte, 1), free: make(chan []byte, 2), done: make(chan struct{})}
	d.cur = alignedBuffer(directBuffer)
	d.free <- alignedBuffer(directBuffer)
	go d.writer()
	return d, nil
}

// setDirect turns O_DIRECT on or off for f.
func setDirect(f *os.File, on bool) error {
	return control(f, func(fd int) error {
		fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
		if err != nil {
			return err
		}
		if on {
			fl |= unix.O_DIRECT
		} else {
			fl &^= unix.O_DIRECT
		}
		_, err = unix.FcntlInt(uintptr(fd), unix.F_SETFL, fl)
		return err
	})
}

// alignedBuffer returns an empty buffer of size bytes' capacity whose
// first byte is directBlock-aligned.
func alignedBuffer(size int) []byte {
	b := make([]byte, size+directBlock)
	skip := (directBlock - int(uintptr(unsafe.Pointer(&b[0]))%directBlock)) % directBlock
	return b[skip : skip : skip+size]
}

func (d *directWriter) writer() {
	defer close(d.done)
	var err error
	for b := range d.full {
		if err == nil {
			var n int
			n, err = d.f.Write(b)
			if errors.Is(err, syscall.EINVAL) {
				// A file system that accepted O_DIRECT but wants another
				// alignment: the rest goes through the page cache, after
				// what was written.
				if err = setDirect(d.f, false); err == nil {
					_, err = d.f.Write(b[n:])
				}
			}
			if err != nil {
				d.werr.Store(&err)
			}
		}
		d.free <- b[:0]
	}
}

// send hands the first n bytes of cur, a multiple of directBlock, to the
// writing goroutine and continues with the rest of cur in a free buffer.
func (d *directWriter) send(n int) error {
	next := <-d.free
	if err := d.writeErr(); err != nil {
		d.free <- next
		return err
	}
	next = append(next, d.cur[n:]...)
	d.full <- d.cur[:n]
	d.cur = next
	return nil
}

func (d *directWriter) Write(p []byte) (int, error) {
	if d.flushed {
		return 0, errors.New("write after the file was synced")
	}
	written := 0
	for len(p) > 0 {
		k := copy(d.cur[len(d.cur):cap(d.cur)], p)
		d.cur = d.cur[:len(d.cur)+k]
		p, written = p[k:], written+k
		if len(d.cur) == cap(d.cur) {
			if err := d.send(len(d.cur)); err != nil {
				return written - k, err
			}
		}
	}
	return written, nil
}

// flush writes everything: the whole blocks directly, then, once every
// direct write is done and O_DIRECT is off, the partial last block.
func (d *directWriter) flush() error {
	if d.flushed {
		return d.err
	}
	d.flushed = true
	if whole := len(d.cur) / directBlock * directBlock; whole > 0 {
		if err := d.send(whole); err != nil {
			d.stop()
			d.err = err
			return err
		}
	}
	d.stop()
	if d.err = d.writeErr(); d.err != nil {
		return d.err
	}
	if len(d.cur) > 0 {
		if d.err = setDirect(d.f, false); d.err == nil {
			_, d.err = d.f.Write(d.cur)
		}
	}
	return d.err
}

func (d *directWriter) writeErr() error {
	if p := d.werr.Load(); p != nil {
		return *p
	}
	return nil
}

// stop waits for the writing goroutine to finish what it was given.
func (d *directWriter) stop() {
	if d.full != nil {
		close(d.full)
		<-d.done
		d.full = nil
	}
}

func (d *directWriter) Sync() error {
	if err := d.flush(); err != nil {
		return err
	}
	return d.f.Sync()
}

// Close closes the file. A file closed without Sync is being abandoned
// (its bundle is removed), so what was not written yet is dropped.
func (d *directWriter) Close() error {
	d.flushed = true
	d.stop()
	return d.f.Close()
}

// withReadAhead returns a reader of f, which is read once from its start
// to its end; its Close stops the reading (f is closed by its owner). Where
// the file system allows it, the file is read with O_DIRECT, 1 MiB at a
// time, by a goroutine that reads the next buffer while the caller
// consumes the last. A bundle being verified was most likely copied from
// elsewhere, so its pages are not in memory; reading it through the page
// cache cost this VM's kernel 0.7 s of CPU per GB, and O_DIRECT 0.08 s.
func withReadAhead(f *os.File) io.ReadCloser {
	if err := setDirect(f, true); err != nil {
		return io.NopCloser(f)
	}
	r := &directReader{full: make(chan directChunk, 1), free: make(chan []byte, 2), stop: make(chan struct{})}
	for range 2 {
		r.free <- alignedBuffer(directBuffer)
	}
	go r.reader(f)
	return r
}

type directChunk struct {
	b   []byte
	err error // after b: io.EOF at the end
}

// directReader hands out what its goroutine reads, in order.
type directReader struct {
	full chan directChunk
	free chan []byte
	stop chan struct{}
	cur  directChunk
	off  int
	done bool
}

func (r *directReader) reader(f *os.File) {
	defer close(r.full)
	retried := false
	for {
		var b []byte
		select {
		case b = <-r.free:
		case <-r.stop:
			return
		}
		n, err := io.ReadFull(f, b[:cap(b)])
		if errors.Is(err, syscall.EINVAL) && !retried {
			// O_DIRECT accepted but this alignment refused (the read
			// after a short one, at the end of the file, is unaligned on
			// some file systems): the rest goes through the page cache,
			// from where the refused read would have started.
			retried = true
			if err = setDirect(f, false); err == nil {
				var k int
				k, err = io.ReadFull(f, b[n:cap(b)])
				n += k
			}
		}
		if err == io.ErrUnexpectedEOF {
			err = io.EOF
		}
		select {
		case r.full <- directChunk{b[:n], err}:
		case <-r.stop:
			return
		}
		if err != nil {
			return
		}
	}
}

func (r *directReader) Read(p []byte) (int, error) {
	for r.off == len(r.cur.b) {
		if r.cur.err != nil {
			return 0, r.cur.err
		}
		if r.cur.b != nil {
			r.free <- r.cur.b[:0]
		}
		c, ok := <-r.full
		if !ok {
			return 0, io.EOF
		}
		r.cur, r.off = c, 0
	}
	n := copy(p, r.cur.b[r.off:])
	r.off += n
	return n, nil
}

// Close stops the reading goroutine.
func (r *directReader) Close() error {
	if !r.done {
		r.done = true
		close(r.stop)
	}
	return nil
}
