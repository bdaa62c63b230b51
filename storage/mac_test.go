package storage

import (
	"bytes"
	"encoding/hex"
	"testing"
)

// The content MAC of an event is part of the on-disk format: a retry of an
// event appended by an earlier version must be recognised as the same
// event. This pins its input (format.go: contentMAC) for a fixed key.
func TestContentMAC_Golden(t *testing.T) {
	s, _, _ := newTestStore(t)
	s.dedup = bytes.Repeat([]byte{7}, 32)
	for _, c := range []struct {
		name string
		e    Event
		want string
	}{
		{"with states and metadata", testEvent("acme", 1), "2459b1bc148928e0656484bce9b95c06399202ac1e7cdd751853fc5891cca81e"},
		{"without", func() Event {
			e := testEvent("acme", 2)
			e.BeforeState, e.AfterState, e.Metadata = nil, nil, nil
			return e
		}(), "64fbee8408a70b76148c3915795e795a96e740c1cbb7dfcd1882cfb9e4ee3651"},
	} {
		c.e.ID = "01900000-0000-7000-8000-000000000001"
		var p prepared
		if err := s.prepare(&c.e, 0, &p); err != nil {
			t.Fatal(err)
		}
		if got := hex.EncodeToString(p.mac[:]); got != c.want {
			t.Errorf("%s: content MAC %s, want %s", c.name, got, c.want)
		}
	}
}
