package storage

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/bits"
	"os"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	badger "github.com/dgraph-io/badger/v4"

	"github.com/axiomops/axiom-audit/storage/tlog"
)

// Fuzz tests for the decoders of stored values and of the CLI's input that
// fuzz_test.go, scan_test.go, validate_test.go and retention_test.go do not
// cover. Seeds are values a real store wrote (storedValues) and values made
// with the package's own encoders.

// storedValues appends events to a new store (more than a tile's worth, so
// that tiles exist), raises an alert, checkpoints, and returns every value
// the store wrote, by table tag.
func storedValues(f *testing.F) map[byte][][]byte {
	f.Helper()
	ctx := context.Background()
	s, _, _ := newTestStore(f)
	appendN(f, s, "acme", 0, 40)
	appendN(f, s, "o2", 0, 3)
	if _, err := s.Checkpoint(ctx, "acme"); err != nil {
		f.Fatal(err)
	}
	if err := s.RaiseIntegrityAlert(ctx, "o2", "the witness disagrees", map[string]string{"witness": "w1"}); err != nil {
		f.Fatal(err)
	}
	out := map[byte][][]byte{}
	err := s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.DefaultIteratorOptions)
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			k := it.Item().Key()
			v, err := it.Item().ValueCopy(nil)
			if err != nil {
				return err
			}
			out[k[0]] = append(out[k[0]], v)
		}
		return nil
	})
	if err != nil {
		f.Fatal(err)
	}
	for _, tag := range []byte{tagHead, tagRecord, tagID, tagTreeNode, tagCompact, tagAlert} {
		if len(out[tag]) == 0 {
			f.Fatalf("the store wrote no value under tag %#x", tag)
		}
	}
	return out
}

// addSome adds at most n of vs as seeds.
func addSome(f *testing.F, vs [][]byte, n int) {
	for i, v := range vs {
		if i == n {
			break
		}
		f.Add(v)
	}
}

// FuzzDecodeTile: a tile decodes exactly when it has 512 bytes, into the 16
// hashes it is the concatenation of; anything else is tampering.
func FuzzDecodeTile(f *testing.F) {
	vals := storedValues(f)
	for _, v := range vals[tagTreeNode] {
		if len(v) == tileSize {
			f.Add(v)
		}
	}
	f.Add([]byte{})
	f.Add(bytes.Repeat([]byte{7}, tileSize-1))
	f.Add(bytes.Repeat([]byte{7}, tileSize+1))
	f.Add(bytes.Repeat([]byte{7}, tlog.HashSize)) // a stride-1 node
	f.Fuzz(func(t *testing.T, v []byte) {
		hs, err := decodeTile(v)
		if err != nil {
			if len(v) == tileSize || !errors.Is(err, ErrTampered) {
				t.Fatalf("%d bytes: %v", len(v), err)
			}
			return
		}
		if len(v) != tileSize || len(hs) != tileWidth {
			t.Fatalf("accepted %d bytes as %d hashes", len(v), len(hs))
		}
		var again []byte
		for _, h := range hs {
			again = append(again, h[:]...)
		}
		if !bytes.Equal(again, v) {
			t.Fatal("the hashes are not the tile's bytes")
		}
		// Its root is the fold of its hashes, pairwise.
		if got, want := fold(hs), tlog.NodeHash(fold(hs[:8]), fold(hs[8:])); got != want {
			t.Fatalf("fold: %x, want %x", got, want)
		}
	})
}

// FuzzDecodeHead: a head decodes exactly when it has 48 bytes, and encodes
// back to them.
func FuzzDecodeHead(f *testing.F) {
	addSome(f, storedValues(f)[tagHead], 4)
	f.Add(head{seq: math.MaxUint64, leaf: [32]byte{1}, lastRecordedAt: math.MinInt64}.encode())
	f.Add([]byte{})
	f.Add(make([]byte, 47))
	f.Add(make([]byte, 49))
	f.Fuzz(func(t *testing.T, v []byte) {
		h, err := decodeHead(v)
		if err != nil {
			if len(v) == 48 || !errors.Is(err, ErrTampered) {
				t.Fatalf("%d bytes: %v", len(v), err)
			}
			return
		}
		if len(v) != 48 || !bytes.Equal(h.encode(), v) {
			t.Fatalf("%x decodes to %+v, which encodes to %x", v, h, h.encode())
		}
	})
}

// FuzzDecodeIDEntry: an id index value decodes exactly when it has 48
// bytes, and encodes back to them.
func FuzzDecodeIDEntry(f *testing.F) {
	addSome(f, storedValues(f)[tagID], 4)
	f.Add(idEntry{seq: 1, recordedAt: -1, mac: [32]byte{0xff}}.encode())
	f.Add([]byte{})
	f.Add(make([]byte, idEntryLen-1))
	f.Add(make([]byte, idEntryLen+1))
	f.Fuzz(func(t *testing.T, v []byte) {
		e, err := decodeIDEntry(v)
		if err != nil {
			if len(v) == idEntryLen || !errors.Is(err, ErrTampered) {
				t.Fatalf("%d bytes: %v", len(v), err)
			}
			return
		}
		if len(v) != idEntryLen || !bytes.Equal(e.encode(), v) {
			t.Fatalf("%x decodes to %+v, which encodes to %x", v, e, e.encode())
		}
	})
}

// FuzzParseRecordTime: parseRecordTime accepts exactly the strings that
// time.Parse accepts in the store's layout and that formatTime writes back
// unchanged, with time.Parse's instant; formatTime's output always parses
// back.
func FuzzParseRecordTime(f *testing.F) {
	for _, s := range []string{"2026-01-02T03:04:05.000000000Z", "2024-02-29T23:59:59.999999999Z", "2026-02-29T00:00:00.000000000Z",
		"2026-04-31T00:00:00.000000000Z", "0000-01-01T00:00:00.000000000Z", "9999-12-31T23:59:59.999999999Z",
		"2026-01-02T24:00:00.000000000Z", "2026-01-02T03:04:60.000000000Z", "2026-00-02T03:04:05.000000000Z",
		"2026-01-00T03:04:05.000000000Z", "2026-01-02T03:04:05.00000000Z", "2026-01-02T03:04:05.000000000+00:00",
		"2026-01-02t03:04:05.000000000Z", "2026-01-02T03:04:05,000000000Z", "+026-01-02T03:04:05.000000000Z",
		"2026-01-02T03:04:05.00000000 Z", "2026-1-02T03:04:05.0000000000Z", ""} {
		f.Add(s, int64(0))
	}
	f.Add("", int64(math.MinInt64))
	f.Add("", int64(math.MaxInt64))
	f.Add("", time.Date(2026, 1, 1, 0, 0, 0, 1, time.UTC).UnixNano())
	f.Fuzz(func(t *testing.T, s string, ns int64) {
		got, ok := parseRecordTime(s)
		want, err := time.Parse(tsLayout, s)
		// time.Parse also takes a comma before the fraction, which
		// formatTime never writes: the canonical form is what parses and
		// formats back to itself.
		canonical := err == nil && formatTime(want) == s
		if ok && err != nil {
			t.Fatalf("parseRecordTime(%q) accepts, time.Parse: %v", s, err)
		}
		if ok != canonical {
			t.Fatalf("parseRecordTime(%q) ok=%v; time.Parse: %v, %v, formats as %q", s, ok, want, err, formatTime(want))
		}
		if ok {
			if !got.Equal(want) || got.Location() != time.UTC {
				t.Fatalf("parseRecordTime(%q) = %v, time.Parse = %v", s, got, want)
			}
			if formatTime(got) != s {
				t.Fatalf("parseRecordTime(%q) = %v, which formats as %q", s, got, formatTime(got))
			}
		}
		// Every time the store can write parses back to itself.
		tm := time.Unix(0, ns)
		back, ok := parseRecordTime(formatTime(tm))
		if !ok || !back.Equal(tm) {
			t.Fatalf("formatTime(%v) = %q parses as %v, %v", tm, formatTime(tm), back, ok)
		}
	})
}

// FuzzDecodeLowerHex: decodeLowerHex accepts exactly 2·len(dst) lowercase
// hex digits, which encoding/hex decodes to the same bytes and encodes
// back to the same text.
func FuzzDecodeLowerHex(f *testing.F) {
	for _, s := range []string{fuzzHex, fuzzZeros, strings.ToUpper(fuzzHex), fuzzHex[:63] + "g", "0", "", "ab", "aB", "a\x00"} {
		f.Add(s, uint8(len(s)/2))
	}
	f.Add(fuzzHex, uint8(31))
	f.Fuzz(func(t *testing.T, s string, n uint8) {
		dst := make([]byte, n%80)
		ok := decodeLowerHex(dst, s)
		ref, err := hex.DecodeString(s)
		want := err == nil && len(ref) == len(dst) && hex.EncodeToString(ref) == s
		if ok != want {
			t.Fatalf("decodeLowerHex(%d bytes, %q) = %v, want %v", len(dst), s, ok, want)
		}
		if ok && !bytes.Equal(dst, ref) {
			t.Fatalf("decodeLowerHex(%q) = %x", s, dst)
		}
	})
}

// FuzzDecodeHash: retention's decodeHash accepts exactly 64 lowercase hex
// digits, like decodeLowerHex, with the same bytes; its error wraps
// errCorrupt.
func FuzzDecodeHash(f *testing.F) {
	for _, s := range []string{fuzzHex, fuzzZeros, strings.ToUpper(fuzzHex), fuzzHex[:63] + "g", fuzzHex[:62], fuzzHex + "00", "", "{}"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := decodeHash(s)
		var want [32]byte
		ok := decodeLowerHex(want[:], s)
		if (err == nil) != ok {
			t.Fatalf("decodeHash(%q): %v; decodeLowerHex: %v", s, err, ok)
		}
		if err != nil {
			if !errors.Is(err, errCorrupt) {
				t.Fatalf("decodeHash(%q): error %v does not wrap errCorrupt", s, err)
			}
			return
		}
		if got != want || hex.EncodeToString(got[:]) != s {
			t.Fatalf("decodeHash(%q) = %x", s, got)
		}
	})
}

// jsonlCall is one call of DecodeJSONLines' callback.
type jsonlCall struct {
	line int
	e    Event
	err  string
}

// jsonlReference is what DecodeJSONLines must call its callback with, for
// an input of short lines: lines are separated by '\n' and numbered from
// 1; a line's end of line ("\r\n" or "\n") is not part of it, nor is a
// byte order mark that starts the input; a blank line (white space only) is
// skipped; every other line is given to ParseEvent. DecodeJSONLines drops
// every '\r' that ends a line, not just one: '\r' is white space in JSON
// and cannot stand in a string, so that changes no line's meaning, only
// which problem an unfinished line is reported with.
func jsonlReference(in []byte) []jsonlCall {
	var out []jsonlCall
	for i, l := range bytes.Split(in, []byte("\n")) {
		l = bytes.TrimRight(l, "\r")
		if i == 0 {
			l = bytes.TrimPrefix(l, []byte("\ufeff"))
		}
		if len(bytes.TrimSpace(l)) == 0 {
			continue
		}
		e, err := ParseEvent(l)
		c := jsonlCall{line: i + 1, e: e}
		if err != nil {
			c.err = err.Error()
		}
		out = append(out, c)
	}
	return out
}

// FuzzDecodeJSONLines: DecodeJSONLines never panics; it calls back once for
// every non-blank line, in order, with the line's right number and what
// ParseEvent makes of the line; every problem it reports is a
// *ValidationError naming at least one field with a reason. How the input
// arrives (one byte at a time) makes no difference, and the callback's
// error stops it at once.
func FuzzDecodeJSONLines(f *testing.F) {
	for _, name := range []string{"testdata/validate/invalid.jsonl", "testdata/validate/examples.jsonl"} {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		lines := bytes.SplitAfter(b, []byte("\n"))
		f.Add(bytes.Join(lines[:min(4, len(lines))], nil), uint8(0))
		for _, l := range lines[:min(12, len(lines))] {
			f.Add(l, uint8(0))
		}
	}
	good := `{"timestamp":"2026-03-01T12:00:00Z","organizationId":"a","userId":"u","provider":"aws","actionType":"scan.started","status":"applied","riskLevel":"low"}`
	for _, s := range []string{"\ufeff" + good + "\r\n\n" + good, good + "\n\ufeff" + good, "\n\n \t\r\n" + good + "\r", good + "\r\r\n" + good + "\n",
		"{}\n[]\nnull\n{\"a\":1}\n\"x\"\n", good + "\n" + good + "\n" + good, "\r\n", "\ufeff", "\ufeff\n", good + "\x00\n", "\xff\xfe\n" + good} {
		f.Add([]byte(s), uint8(0))
		f.Add([]byte(s), uint8(2))
	}
	f.Fuzz(func(t *testing.T, in []byte, stopAt uint8) {
		if len(in) > 1<<16 { // short lines only: the reference splits in memory
			return
		}
		want := jsonlReference(in)
		run := func(r io.Reader, stopAt int) ([]jsonlCall, error) {
			var got []jsonlCall
			stop := errors.New("stop")
			err := DecodeJSONLines(r, func(line int, e Event, err error) error {
				c := jsonlCall{line: line, e: e}
				if err != nil {
					c.err = err.Error()
					var ve *ValidationError
					if !errors.As(err, &ve) || len(ve.Errors) == 0 {
						t.Fatalf("line %d: %v is not a *ValidationError with problems", line, err)
					}
					for _, fe := range ve.Errors {
						if fe.Field == "" || fe.Reason == "" {
							t.Fatalf("line %d: a problem without a field or a reason: %+v", line, fe)
						}
					}
				}
				got = append(got, c)
				if len(got) == stopAt {
					return stop
				}
				return nil
			})
			if stopAt > 0 && stopAt <= len(want) {
				if !errors.Is(err, stop) {
					t.Fatalf("the callback stopped at call %d, DecodeJSONLines returned %v", stopAt, err)
				}
				err = nil
			}
			return got, err
		}
		stopN := int(stopAt % 8)
		for _, r := range []io.Reader{bytes.NewReader(in), iotest.OneByteReader(bytes.NewReader(in))} {
			got, err := run(r, stopN)
			if err != nil {
				t.Fatalf("%q: %v", in, err)
			}
			w := want
			if stopN > 0 && stopN < len(w) {
				w = w[:stopN]
			}
			if !reflect.DeepEqual(got, w) {
				t.Fatalf("%q:\ngot  %s\nwant %s", in, fmtCalls(got), fmtCalls(w))
			}
		}
	})
}

func fmtCalls(cs []jsonlCall) string {
	var b strings.Builder
	for _, c := range cs {
		fmt.Fprintf(&b, "[line %d: %q %+v] ", c.line, c.err, c.e)
	}
	return b.String()
}

// FuzzDecodeStoredFast: on any record value both decode, the fast decoder
// of ScanRecords (no JSON decoder, no time.Parse) gives exactly the event
// decodeStored gives; the records a store wrote take the fast path.
func FuzzDecodeStoredFast(f *testing.F) {
	vals := storedValues(f)
	for i, v := range vals[tagRecord] {
		// Iteration is in key order: acme 1…40, then o2 1…3.
		org, seq := "acme", uint64(i+1)
		if i >= 40 {
			org, seq = "o2", uint64(i-39)
		}
		if _, ok := decodeStoredFast(v, org, seq); !ok {
			f.Fatalf("record %d of %s, as the store wrote it, does not take the fast path", seq, org)
		}
		if i < 6 || i == 40 {
			f.Add(v, org, seq)
		}
	}
	sealed := bytes.Repeat([]byte{1}, 80)
	rec := func(pub string) []byte {
		return recordValue{public: []byte(pub), leaf: leafHash([]byte(pub)), sealedBefore: sealed, sealedAfter: sealed}.encode()
	}
	for _, pub := range []string{
		fuzzPublic,
		strings.Replace(fuzzPublic, `"userId":"u"`, `"userId":"\u0075"`, 1),
		strings.Replace(fuzzPublic, `2026-01-01T00:00:00.000000000Z`, `2026-01-01T00:00:00Z`, 1),
		strings.Replace(fuzzPublic, `2026-01-01T00:00:00.000000000Z`, `2026-01-01T01:00:00.000000000+01:00`, 1),
		strings.Replace(fuzzPublic, `2026-01-01`, `2024-02-29`, 1),
		strings.Replace(fuzzPublic, `"seq":1`, `"seq":18446744073709551615`, 1),
		strings.Replace(fuzzPublic, `"resourceIds":["r1","r2","r1"]`, `"resourceIds":[]`, 1),
		strings.Replace(fuzzPublic, `"metadata":{"a":[1,"b",true,null],"n":-5},`, ``, 1),
		strings.Replace(fuzzPublic, `"metadata":{"a":[1,"b",true,null],"n":-5}`, `"metadata":{"a":"\"}","b":1.5}`, 1),
	} {
		f.Add(rec(pub), "acme", uint64(1))
	}
	f.Add([]byte{}, "acme", uint64(1))
	f.Add([]byte{tombstoneV}, "acme", uint64(1))
	st := &Store{}
	f.Fuzz(func(t *testing.T, v []byte, org string, seq uint64) {
		fast, ok := decodeStoredFast(v, org, seq)
		if !ok {
			if !reflect.DeepEqual(fast, StoredEvent{}) {
				t.Fatalf("declined, but returned %+v", fast)
			}
			return
		}
		slow, err := st.decodeStored(v, org, seq, statesPublic)
		if err != nil {
			t.Fatalf("the fast decoder accepts what decodeStored refuses: %v", err)
		}
		if !fast.Timestamp.Equal(slow.Timestamp) || !fast.RecordedAt.Equal(slow.RecordedAt) ||
			fast.Timestamp.Location() != time.UTC || fast.RecordedAt.Location() != time.UTC {
			t.Fatalf("times: fast %v, %v; slow %v, %v", fast.Timestamp, fast.RecordedAt, slow.Timestamp, slow.RecordedAt)
		}
		fast.Timestamp, fast.RecordedAt, slow.Timestamp, slow.RecordedAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}
		if !reflect.DeepEqual(fast, slow) {
			t.Fatalf("fast %+v\nslow %+v", fast, slow)
		}
		if fast.Seq != seq || fast.OrganizationID != org {
			t.Fatalf("the record of seq %d of %q names seq %d of %q", seq, org, fast.Seq, fast.OrganizationID)
		}
	})
}

// FuzzDecodeCompactRange: a compact range (tag 0x21) decodes exactly when
// it is size u64 || hash [32] × popcount(size); it then encodes back to the
// same bytes, its root is the fold of its hashes (largest subtree first),
// and the tree grows from it.
func FuzzDecodeCompactRange(f *testing.F) {
	addSome(f, storedValues(f)[tagCompact], 4)
	t7 := tlog.NewTree()
	for i := range 7 {
		t7.Append(tlog.LeafHash([]byte{byte(i)}))
	}
	b7, _ := t7.MarshalBinary()
	f.Add(b7)
	f.Add(b7[:len(b7)-1])
	f.Add(b7[:len(b7)-tlog.HashSize])
	f.Add(make([]byte, 8))
	f.Add([]byte{})
	f.Add(append(binary.BigEndian.AppendUint64(nil, math.MaxUint64), make([]byte, 64*tlog.HashSize)...))
	f.Fuzz(func(t *testing.T, v []byte) {
		tr := tlog.NewTree()
		err := tr.UnmarshalBinary(v)
		wellFormed := len(v) >= 8 && len(v)-8 == tlog.HashSize*bits.OnesCount64(binary.BigEndian.Uint64(v))
		if err != nil {
			if wellFormed || !errors.Is(err, tlog.ErrInvalidRange) {
				t.Fatalf("%x: %v", v, err)
			}
			return
		}
		if !wellFormed {
			t.Fatalf("accepted %d bytes for size %d", len(v), binary.BigEndian.Uint64(v))
		}
		size := binary.BigEndian.Uint64(v)
		if again, _ := tr.MarshalBinary(); tr.Size() != size || !bytes.Equal(again, v) {
			t.Fatalf("%x decodes to a tree of size %d that encodes to %x", v, tr.Size(), again)
		}
		_, hs := tr.RangeState()
		want := tlog.EmptyRoot()
		if len(hs) > 0 {
			want = hs[len(hs)-1]
			for i := len(hs) - 2; i >= 0; i-- {
				want = tlog.NodeHash(hs[i], want)
			}
		}
		if got := tr.Root(); got != want {
			t.Fatalf("root %x, want %x", got, want)
		}
		if size < math.MaxUint64 {
			tr.Append(tlog.LeafHash([]byte("next")))
			if tr.Size() != size+1 {
				t.Fatalf("a tree of size %d grew to %d", size, tr.Size())
			}
		}
	})
}

// FuzzDecodeAlert decodes an alert value (tag 0x23) as loadAlerts does: it
// never panics, and an alert that decodes explains itself and survives
// being written and read again unchanged.
func FuzzDecodeAlert(f *testing.F) {
	for _, v := range storedValues(f)[tagAlert] {
		f.Add(v)
	}
	for _, a := range []IntegrityAlert{
		{Org: "acme", Kind: AlertRollback, DetectedAt: baseTime, AnchorSize: 9, AnchorRoot: tlog.EmptyRoot(), DBSize: 3, DBRoot: tlog.LeafHash(nil)},
		{Org: "acme", Kind: AlertDamaged, Detail: "the head does not decode"},
		{Org: "acme", Kind: AlertExternal, Detail: "x", Evidence: map[string]string{"a": "b", "": ""}},
	} {
		b, err := json.Marshal(a)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"org":"a","detectedAt":"2026-01-01T00:00:00+01:00","anchorRoot":"not base64"}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, v []byte) {
		var a IntegrityAlert
		if err := json.Unmarshal(v, &a); err != nil {
			return
		}
		if a.Message() == "" {
			t.Fatal("an alert without a message")
		}
		b, err := json.Marshal(a)
		if err != nil {
			t.Fatalf("%+v decoded from %q does not encode: %v", a, v, err)
		}
		var a2 IntegrityAlert
		if err := json.Unmarshal(b, &a2); err != nil {
			t.Fatalf("%q, written again as %q, does not decode: %v", v, b, err)
		}
		if !a2.DetectedAt.Equal(a.DetectedAt) {
			t.Fatalf("detectedAt %v became %v", a.DetectedAt, a2.DetectedAt)
		}
		a.DetectedAt, a2.DetectedAt = time.Time{}, time.Time{}
		if len(a.Evidence) == 0 { // omitempty: no evidence is written as none
			a.Evidence = nil
		}
		if !reflect.DeepEqual(a, a2) {
			t.Fatalf("%+v became %+v", a, a2)
		}
	})
}
