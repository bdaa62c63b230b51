package storage

import (
	"encoding/base64"
	"encoding/binary"
	"fmt"
)

// cursor is where the next page of a timeline starts. Encoded (34 bytes,
// then unpadded base64url):
//
//	version u8 (1) || order u8 || ts u64 || seq u64 || ceiling u64 || filter hash u64
//
// ts and seq are the position of the last event returned; ceiling is the
// newest seq the paging may show (fixed by the first page); the filter hash
// makes a cursor useless with another filter. A cursor is opaque and not
// secret: it carries no event data.
type cursor struct {
	order   Order
	ts, seq uint64
	ceiling uint64
	filter  uint64
}

const cursorVersion = 1

func (c cursor) encode() string {
	b := make([]byte, 0, 34)
	b = append(b, cursorVersion, byte(c.order))
	b = binary.BigEndian.AppendUint64(b, c.ts)
	b = binary.BigEndian.AppendUint64(b, c.seq)
	b = binary.BigEndian.AppendUint64(b, c.ceiling)
	b = binary.BigEndian.AppendUint64(b, c.filter)
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeCursor(s string) (cursor, error) {
	if len(s) > 64 {
		return cursor{}, fmt.Errorf("cursor too long: %w", ErrBadCursor)
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return cursor{}, fmt.Errorf("cursor is not base64url: %w", ErrBadCursor)
	}
	if len(b) != 34 || b[0] != cursorVersion {
		return cursor{}, fmt.Errorf("cursor has an unknown version or length: %w", ErrBadCursor)
	}
	c := cursor{
		order:   Order(b[1]),
		ts:      binary.BigEndian.Uint64(b[2:]),
		seq:     binary.BigEndian.Uint64(b[10:]),
		ceiling: binary.BigEndian.Uint64(b[18:]),
		filter:  binary.BigEndian.Uint64(b[26:]),
	}
	if c.order != NewestFirst && c.order != OldestFirst {
		return cursor{}, fmt.Errorf("cursor has an unknown order: %w", ErrBadCursor)
	}
	if c.seq == 0 || c.seq > c.ceiling {
		return cursor{}, fmt.Errorf("cursor position is out of range: %w", ErrBadCursor)
	}
	return c, nil
}
