package tenant

import (
	"errors"
	"strings"
	"testing"

	axsync "github.com/axiomops/axiom-audit/app/sync"
)

func TestDecodeAck(t *testing.T) {
	for _, tc := range []struct {
		body string
		seq  uint64
		ok   bool
	}{
		{`{"org":"acme","highestSeq":42}`, 42, true},
		{`{"org":"acme","highestSeq":0,"checkpoint":"x\n"}`, 0, true},
		{`{"org":"globex","highestSeq":42}`, 0, false},
		{`{"org":"acme","highestSeq":-1}`, 0, false},
		{`{"org":"acme","highestSeq":1.5}`, 0, false},
		{`{"org":"acme","highestSeq":42,"extra":1}`, 0, false},
		{`{"org":"acme","highestSeq":42} {}`, 0, false},
		{`not json`, 0, false},
		{`{"org":"acme","highestSeq":18446744073709551616}`, 0, false},
	} {
		ack, err := DecodeAck(strings.NewReader(tc.body), "acme")
		if (err == nil) != tc.ok || (tc.ok && ack.Seq != tc.seq) {
			t.Errorf("%s: %+v, %v", tc.body, ack, err)
		}
		if err != nil && !errors.Is(err, axsync.ErrProtocol) {
			t.Errorf("%s: %v does not match ErrProtocol", tc.body, err)
		}
	}
}

func FuzzDecodeAck(f *testing.F) {
	f.Add([]byte(`{"org":"acme","highestSeq":42,"checkpoint":"axiom-audit/i/acme\n42\nAAAA\n"}`))
	f.Add([]byte(`{"org":"acme","highestSeq":0}`))
	f.Add([]byte(`{"org":"acme"}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, body []byte) {
		ack, err := DecodeAck(strings.NewReader(string(body)), "acme")
		if err != nil {
			if !errors.Is(err, axsync.ErrProtocol) {
				t.Fatalf("error %v does not match ErrProtocol", err)
			}
			return
		}
		if len(body) > maxAckBytes {
			t.Fatalf("accepted %d bytes", len(body))
		}
		if len(ack.Checkpoint) > maxAckBytes {
			t.Fatal("checkpoint larger than the body")
		}
	})
}
