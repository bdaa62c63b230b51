package sync

import (
	"bufio"
	"encoding/json"
	"io"
)

func bufioReader(r io.Reader) *bufio.Reader {
	if br, ok := r.(*bufio.Reader); ok {
		return br
	}
	return bufio.NewReader(r)
}

// readFull reads until buf is full or r ends.
func readFull(r io.Reader, buf []byte) (int, error) {
	if r == nil {
		return 0, nil
	}
	n, err := io.ReadFull(r, buf)
	if err == io.ErrUnexpectedEOF || err == io.EOF {
		err = nil
	}
	return n, err
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }
