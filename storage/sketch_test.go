package storage

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	badger "github.com/dgraph-io/badger/v4"
)

// withSketchBlock makes blocks of n seqs until t ends.
func withSketchBlock(t *testing.T, n uint64) {
	t.Helper()
	old := sketchBlock
	t.Cleanup(func() { sketchBlock = old })
	sketchBlock = n
}

// sketchWords are the vocabulary of textEvent: words, identifiers in hex
// and digits, mixed case, and letters whose lower case is longer or
// shorter than they are (İ, K as the Kelvin sign).
var sketchWords = []string{"storefront", "Batch", "POLICY", "denied", "eu-west-1", "Ünïcode", "İstanbul", "\u212aelvin",
	"ßtraße", "naïve", "日本語", "req", "role", "AccessDenied", "s3", "x"}

// textEvent is an event whose searched text (id, user, resources and
// metadata values) is random: words of sketchWords and numbers.
func textEvent(r *rand.Rand, org string, i int) Event {
	word := func() string {
		if r.IntN(3) == 0 {
			return fmt.Sprintf("%x", r.Uint32()%5000)
		}
		return sketchWords[r.IntN(len(sketchWords))]
	}
	phrase := func() string {
		w := make([]string, 1+r.IntN(4))
		for j := range w {
			w[j] = word()
		}
		return strings.Join(w, []string{" ", "-", "/", ""}[r.IntN(4)])
	}
	meta, _ := json.Marshal(map[string]any{
		"note":       phrase(),
		"region":     word(),
		"nested":     map[string]any{"list": []any{phrase(), r.IntN(100000), true}, "quote": `say "` + word() + `"\path`},
		"rtoSeconds": 30,
	})
	e := testEvent(org, i)
	e.UserID = word() + "@example.com"
	e.ResourceIDs = []string{"arn:aws:s3:::" + phrase(), word()}
	e.Metadata = meta
	return e
}

// searchTerms are terms to look for in all: pieces of its events' text in
// random case (most of them in few events), and terms in none.
func searchTerms(r *rand.Rand, all []StoredEvent) []string {
	terms := []string{"nosuchthing", "zzzzz", "日本語", "İSTANBUL", "KELVIN", "\u212aelvin", "ss", "x", "\"AccessDenied eu-west-1\""}
	for range 150 {
		e := all[r.IntN(len(all))]
		v := []string{e.ID, e.UserID, e.ResourceIDs[0], e.ResourceIDs[1], string(e.Metadata)}[r.IntN(5)]
		if !utf8.ValidString(v) || len(v) == 0 {
			continue
		}
		i := r.IntN(len(v))
		j := min(len(v), i+1+r.IntN(12))
		piece := strings.ToValidUTF8(v[i:j], "")
		if r.IntN(2) == 0 {
			piece = strings.ToUpper(piece)
		}
		if strings.TrimSpace(piece) != "" && !strings.Contains(piece, `"`) {
			terms = append(terms, piece)
		}
	}
	return terms
}

// A search with the text sketches finds exactly what a search without
// them does: for terms in many events, in few and in none, of every
// length, in any case, and in text whose lower case changes its length.
func TestSketch_SearchFindsWhatAScanFinds(t *testing.T) {
	withSketchBlock(t, 16)
	s, _, _ := newTestStore(t)
	ctx := context.Background()
	r := rand.New(rand.NewPCG(1, 2))
	for b := 0; b < 10; b++ {
		evs := make([]Event, 50)
		for i := range evs {
			evs[i] = textEvent(r, "acme", b*50+i)
			evs[i].Timestamp = baseTime.Add(time.Duration(r.IntN(500)) * time.Hour)
		}
		if _, err := s.Append(ctx, evs); err != nil {
			t.Fatal(err)
		}
	}
	all := allEvents(t, s, "acme")
	built, err := s.buildSketches(ctx, func() bool { return true })
	if err != nil || built != 500/16 {
		t.Fatalf("built %d sketches (%v), want %d: the complete blocks", built, err, 500/16)
	}
	without, falsePositives := 0, 0
	for _, term := range searchTerms(r, all) {
		f := Filter{Org: "acme", Text: term, Order: OldestFirst}
		want := bruteForce(t, all, f)
		var got []StoredEvent
		f.Limit = 7 // several pages
		for {
			p, err := s.List(ctx, f)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, p.Events...)
			if p.NextCursor == "" {
				break
			}
			f.Cursor = p.NextCursor
		}
		if !slices.EqualFunc(got, want, func(a, b StoredEvent) bool { return a.Seq == b.Seq }) {
			for i := range min(len(got), len(want)) {
				if got[i].Seq != want[i].Seq {
					t.Errorf("%q: event %d is seq %d at %s, want seq %d at %s", term, i, got[i].Seq, got[i].Timestamp, want[i].Seq, want[i].Timestamp)
					break
				}
			}
			t.Fatalf("%q: %d events, want %d", term, len(got), len(want))
		}
		facets, err := s.Facets(ctx, Filter{Org: "acme", Text: term})
		if err != nil {
			t.Fatal(err)
		}
		var n int64
		for _, c := range facets[FacetCategory] {
			n += c
		}
		if n != int64(len(want)) {
			t.Fatalf("%q: facets count %d events, want %d", term, n, len(want))
		}
		// Each sketch is true of its block: a block it rules out has no
		// event with the term. And a block without one is mostly ruled
		// out, for a term of five bytes or more.
		c, _ := compile(Filter{Org: "acme", Text: term})
		err = s.db.View(func(txn *badger.Txn) error {
			k := s.newSketchCheck(txn, c)
			for block := range uint64(500 / 16) {
				has := slices.ContainsFunc(want, func(w StoredEvent) bool { return sketchBlockOf(w.Seq) == block })
				may := k.may(block*16 + 1)
				if has && !may {
					return fmt.Errorf("%q: the sketch of block %d rules out a block where it is", term, block)
				}
				if !has && len(term) >= 5 {
					without++
					if may {
						falsePositives++
					}
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("%d blocks without a term of five bytes or more; the sketches ruled out all but %d", without, falsePositives)
	if without < 500 || falsePositives*10 > without {
		t.Errorf("of %d blocks without a term of five bytes or more, the sketches ruled out all but %d, want 90%%", without, falsePositives)
	}
}

// damageRecord overwrites org's record seq with bytes that do not decode.
func damageRecord(t *testing.T, s *Store, org string, seq uint64) {
	t.Helper()
	err := s.db.Update(func(txn *badger.Txn) error { return txn.Set(recordKey(org, seq), []byte{0xff, 1, 2}) })
	if err != nil {
		t.Fatal(err)
	}
}

// A search reads no record of a block whose sketch rules its terms out,
// and every record of one without a sketch: a record that does not decode
// fails a search only where the search reads it.
func TestSketch_ASearchSkipsTheBlocksItsSketchRulesOut(t *testing.T) {
	withSketchBlock(t, 8)
	s, _, _ := newTestStore(t)
	ctx := context.Background()
	evs := make([]Event, 30)
	for i := range evs {
		evs[i] = testEvent("acme", i)
		evs[i].Metadata = json.RawMessage(fmt.Sprintf(`{"note":"plain %d","rtoSeconds":30}`, i))
	}
	evs[21].Metadata = json.RawMessage(`{"note":"needle in the third block","rtoSeconds":30}`)
	if _, err := s.Append(ctx, evs); err != nil {
		t.Fatal(err)
	}
	if _, err := s.buildSketches(ctx, func() bool { return true }); err != nil {
		t.Fatal(err)
	}
	damageRecord(t, s, "acme", 3)  // the first block, whose sketch has no needle
	damageRecord(t, s, "acme", 27) // the fourth, seqs 25-32, not complete: no sketch
	search := func(term string, until time.Time) error {
		p, err := s.List(ctx, Filter{Org: "acme", Text: term, Until: until})
		if err == nil && term == "NEEDLE" && (len(p.Events) != 1 || p.Events[0].Seq != 22) {
			err = fmt.Errorf("found %d events", len(p.Events))
		}
		return err
	}
	// Seq 27's block has no sketch: read, and damaged.
	if err := search("NEEDLE", time.Time{}); !errors.Is(err, errCorrupt) {
		t.Fatalf("a search that reads seq 27: %v, want it damaged", err)
	}
	// Without seq 27 (its timestamp is after until): seq 3 is ruled out
	// by its block's sketch and never read.
	if err := search("NEEDLE", evs[24].Timestamp); err != nil {
		t.Fatalf("a search for a term seq 3's block does not have: %v", err)
	}
	// A term of two bytes, which no sketch rules out, reads seq 3.
	if err := search("pl", evs[24].Timestamp); !errors.Is(err, errCorrupt) {
		t.Fatalf("a search for a two-byte term: %v, want seq 3 damaged", err)
	}
}

// The loop builds the sketches of complete blocks once appends pause, not
// of the block being filled, and a sketch a search cannot read is read
// around, then built again.
func TestSketch_TheLoopBuildsCompleteBlocksWhenAppendsPause(t *testing.T) {
	withSketchBlock(t, 10)
	old := sketchQuiet
	t.Cleanup(func() { sketchQuiet = old })
	sketchQuiet = 50 * time.Millisecond
	dir := t.TempDir()
	clk := &storeClock{t: baseTime.Add(200 * 24 * time.Hour)}
	s, err := Open(context.Background(), dir, newStoreKeystore(), Options{Now: clk.Now, GCInterval: -1, RetentionGrace: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.KeepTextSketches(10 * time.Millisecond)
	s.KeepTextSketches(time.Millisecond) // the first call's loop goes on alone
	sketches := func() (out []uint64) {
		s.db.View(func(txn *badger.Txn) error {
			p := orgPrefix(tagSketch, "acme")
			it := txn.NewIterator(badger.IteratorOptions{Prefix: p})
			defer it.Close()
			for it.Rewind(); it.Valid(); it.Next() {
				out = append(out, binary.BigEndian.Uint64(it.Item().Key()[len(p):]))
			}
			return nil
		})
		return out
	}
	appendN(t, s, "acme", 0, 25)
	waitFor(t, "the sketches of blocks 0 and 1, not 2", func() bool { return slices.Equal(sketches(), []uint64{0, 1}) })
	appendN(t, s, "acme", 25, 5)
	waitFor(t, "the sketch of block 2", func() bool { return slices.Equal(sketches(), []uint64{0, 1, 2}) })

	// A damaged sketch: a search reads the block's records instead, and
	// the loop writes it again.
	if err := s.db.Update(func(txn *badger.Txn) error { return txn.Set(sketchKey("acme", 1), []byte{sketchV, 3}) }); err != nil {
		t.Fatal(err)
	}
	p, err := s.List(context.Background(), Filter{Org: "acme", Text: `"number 13"`})
	if err != nil || len(p.Events) != 1 {
		t.Fatalf("a search through a damaged sketch: %d events, %v", len(p.Events), err)
	}
	waitFor(t, "the damaged sketch built again", func() bool {
		var v []byte
		s.db.View(func(txn *badger.Txn) error {
			item, err := txn.Get(sketchKey("acme", 1))
			if err == nil {
				v, err = item.ValueCopy(nil)
			}
			return err
		})
		return len(v) > 2
	})
}

// sketchMay reads anything without panicking, and refuses what is not a
// sketch of this version.
func FuzzSketchMay(f *testing.F) {
	b := newSketchBuilder()
	b.add("storefront-batch-policy")
	f.Add(b.sketch(), "front")
	f.Add([]byte{sketchV, minSketchLog2}, "abc")
	f.Add([]byte{sketchV, 40, 0}, "abcdef")
	f.Fuzz(func(t *testing.T, v []byte, term string) {
		may, err := sketchMay(v, termGrams(TextTerms(strings.ToLower(term))))
		if err == nil && (len(v) < 2 || len(v) != 2+(1<<v[1])/8) {
			t.Fatalf("a value of %d bytes read as a sketch", len(v))
		}
		if err != nil && may {
			t.Fatal("may with an error")
		}
	})
}

// A sketch holds every gram of what it was built from, and rules out what
// was not in it.
func TestSketch_Builder(t *testing.T) {
	b := newSketchBuilder()
	e := StoredEvent{Category: "apply", Event: Event{ID: "0190d8d2-7d4c-7cc1-8f3e-0a1b2c3d4e5f", UserID: "Ada@Example.com", Provider: "aws",
		ActionType: "apply.mutation", Status: "applied", RiskLevel: "high",
		ResourceIDs: []string{"arn:aws:s3:::Storefront-Batch"}, Metadata: json.RawMessage(`{"k":["İstanbul",12345,{"note":"say \"hi\""}]}`)}}
	b.addEvent(&e)
	v := b.sketch()
	for term, want := range map[string]bool{
		"ada@example": true, "STOREFRONT-batch": true, "7d4c-7cc1": true, "İSTANBUL": true, "2345": true, `"hi"`: true,
		"say": true, "apply.mut": true, "ab": true, // too short to rule out
		"storefrontbatch": false, "23456": false, "note": false /* a key, not a value */, "nosuch": false,
	} {
		c, err := compile(Filter{Org: "o", Text: term})
		if err != nil {
			t.Fatal(err)
		}
		got, err := sketchMay(v, c.grams)
		if err != nil || got != want {
			t.Errorf("%q: may %v (%v), want %v", term, got, err, want)
		}
	}
	// The builder started again: an empty sketch rules out every term.
	if got, _ := sketchMay(b.sketch(), termGrams([]string{"ada"})); got {
		t.Error("an empty sketch holds ada")
	}
}

// A block's text can have billions of distinct grams (4096 events of up to
// 1 MiB): the builder keeps no more of them than a sketch of the most bits
// needs, and its sketch still holds every one.
func TestSketch_BuilderMemoryIsBounded(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789-_"
	text := make([]byte, 3<<20) // about as many distinct 5-grams
	for i := range text {
		text[i] = alphabet[r.IntN(len(alphabet))]
	}
	b := newSketchBuilder()
	for i := 0; i < len(text); i += 64 << 10 {
		b.add(string(text[i:min(len(text), i+64<<10)]))
	}
	if n := len(b.grams); 8*n > 1<<maxSketchLog2 {
		t.Fatalf("the builder holds %d grams, more than a sketch of 2^%d bits needs", n, maxSketchLog2)
	}
	v := b.sketch()
	if v[1] != maxSketchLog2 {
		t.Fatalf("a sketch of 2^%d bits, want 2^%d", v[1], maxSketchLog2)
	}
	for range 1000 {
		i := r.IntN(64<<10 - 12)
		i += (64 << 10) * r.IntN(len(text)/(64<<10))
		term := string(text[i : i+3+r.IntN(10)])
		if may, err := sketchMay(v, termGrams([]string{term})); err != nil || !may {
			t.Fatalf("%q: may %v (%v), want true", term, may, err)
		}
	}
	if len(b.grams) != 0 {
		t.Fatal("the builder did not start again")
	}
}

// A record that cannot be read leaves its block without a sketch, and only
// it: the other blocks, of its organization and of the next, are built, and
// the block is not read again at every turn of the loop.
func TestSketch_AnUnreadableRecordLeavesOnlyItsBlock(t *testing.T) {
	withSketchBlock(t, 8)
	s, _, _ := newTestStore(t)
	ctx := context.Background()
	appendN(t, s, "acme", 0, 30) // blocks 0-2
	appendN(t, s, "beta", 0, 20) // blocks 0-1
	damageRecord(t, s, "acme", 20)
	built, err := s.buildSketches(ctx, func() bool { return true })
	if built != 4 || !errors.Is(err, errCorrupt) {
		t.Fatalf("built %d sketches (%v), want 4 and seq 20 damaged", built, err)
	}
	if built, err := s.buildSketches(ctx, func() bool { return true }); built != 0 || err != nil {
		t.Fatalf("then built %d sketches (%v), want none and nothing read", built, err)
	}
	for _, k := range []struct {
		org   string
		block uint64
		want  bool
	}{{"acme", 0, true}, {"acme", 1, true}, {"acme", 2, false}, {"beta", 0, true}, {"beta", 1, true}} {
		err := s.db.View(func(txn *badger.Txn) error { _, err := txn.Get(sketchKey(k.org, k.block)); return err })
		if (err == nil) != k.want {
			t.Errorf("the sketch of block %d of %s: %v, want it there: %v", k.block, k.org, err, k.want)
		}
	}
}

// An event that a search matches is never ruled out by the sketch of its
// text: whatever its values (escaped JSON, numbers, letters whose lower
// case changes length, invalid UTF-8) and whatever the search.
func FuzzSketchHoldsWhatASearchMatches(f *testing.F) {
	f.Add([]byte(`{"k":["İstanbul",12345,{"note":"say \"hi\" C:\\Users"}],"b":true}`), "\u212aelvin", "ẞtraße", `"\"hi\" c:\users" İSTAN kelvin 2345 TRUE`)
	f.Add([]byte(`{"path":"a","x":"b"}`), "ı", "\xff\xfeAB", `"a","x" path ıi`)
	f.Fuzz(func(t *testing.T, meta []byte, user, resource, q string) {
		c, err := compile(Filter{Org: "o", Text: q})
		if err != nil {
			return
		}
		e := StoredEvent{Event: Event{ID: "id", UserID: user, ResourceIDs: []string{resource}, Metadata: meta}}
		if !c.matchRecord(&e) {
			return
		}
		b := newSketchBuilder()
		b.addEvent(&e)
		if may, err := sketchMay(b.sketch(), c.grams); err != nil || !may {
			t.Fatalf("%q matches an event its sketch rules out (%v)", q, err)
		}
	})
}

// BuildSketches builds what the background loop would, at once: a command
// that writes a large log and exits (demo) leaves it searchable by sketch.
func TestSketch_BuildSketches(t *testing.T) {
	withSketchBlock(t, 16)
	s, _, _ := newTestStore(t)
	ctx := context.Background()
	r := rand.New(rand.NewPCG(3, 4))
	evs := make([]Event, 40)
	for i := range evs {
		evs[i] = textEvent(r, "acme", i)
	}
	if _, err := s.Append(ctx, evs); err != nil {
		t.Fatal(err)
	}
	if built, err := s.BuildSketches(ctx); err != nil || built != 2 {
		t.Fatalf("built %d sketches (%v), want 2: the complete blocks", built, err)
	}
	if built, err := s.BuildSketches(ctx); err != nil || built != 0 {
		t.Fatalf("built %d sketches again (%v), want none", built, err)
	}
	s.Close()
	if _, err := s.BuildSketches(ctx); !errors.Is(err, ErrClosed) {
		t.Fatalf("after Close: %v, want ErrClosed", err)
	}
}
