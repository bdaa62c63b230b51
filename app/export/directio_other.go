//go:build !linux

package export

import (
	"io"
	"os"
)

// streamingWriter is a no-op where sync_file_range does not exist: the
// fsync at the end of each file writes all of it.
func streamingWriter(wc io.WriteCloser) io.WriteCloser { return wc }

// withReadAhead returns f: where O_DIRECT is not known, the page cache's
// own read-ahead does.
func withReadAhead(f *os.File) io.ReadCloser { return io.NopCloser(f) }
