package export

import (
	"bytes"
	"encoding/base64"
	"strconv"

	"github.com/axiomops/axiom-audit/storage/tlog"
)

// parseProofLineFast reads a proof line in exactly the layout Write
// produces (appendProofLine), which is most of a verifier's work on a big
// bundle. Anything else — other member order, spaces, escapes — returns
// false, and ParseProofLine falls back to encoding/json, so both accept the
// same lines.
func parseProofLineFast(line []byte, hashes *hashTextCache) (ProofLine, bool) {
	var p ProofLine
	c := cursor{b: line}
	ok := c.lit(`{"id":"`)
	if !ok {
		return p, false
	}
	id, ok := c.until('"')
	if !ok || bytes.IndexByte(id, '\\') >= 0 || len(id) == 0 {
		return p, false
	}
	p.ID = string(id)
	if p.Seq, ok = c.num(`","seq":`); !ok {
		return p, false
	}
	if p.LeafIndex, ok = c.num(`,"leafIndex":`); !ok {
		return p, false
	}
	if p.TreeSize, ok = c.num(`,"treeSize":`); !ok {
		return p, false
	}
	if !c.lit(`,"leafHash":"`) || !c.hash(&p.LeafHash) || !c.lit(`","hashes":[`) {
		return p, false
	}
	p.Hashes = make([]tlog.Hash, 0, 24)
	for !c.lit(`]`) {
		if len(p.Hashes) > 0 && !c.lit(`,`) {
			return p, false
		}
		var h tlog.Hash
		if !c.lit(`"`) || !c.pathHash(&h, len(p.Hashes), hashes) || !c.lit(`"`) || len(p.Hashes) == 64 {
			return p, false
		}
		p.Hashes = append(p.Hashes, h)
	}
	if !c.lit(`,"record":"`) {
		return p, false
	}
	if p.Record, ok = c.b64(); !ok || len(p.Record) == 0 {
		return p, false
	}
	for _, s := range []struct {
		name string
		dst  **RevealedJSON
	}{{`,"beforeState":{"salt":"`, &p.BeforeState}, {`,"afterState":{"salt":"`, &p.AfterState}} {
		if !c.lit(s.name) {
			continue
		}
		r := &RevealedJSON{}
		if r.Salt, ok = c.b64(); !ok || len(r.Salt) != 32 || !c.lit(`,"state":"`) {
			return p, false
		}
		if r.State, ok = c.b64(); !ok || len(r.State) == 0 || !c.lit(`}`) {
			return p, false
		}
		*s.dst = r
	}
	if !c.lit(`}`) || c.i != len(c.b) {
		return p, false
	}
	return p, true
}

type cursor struct {
	b []byte
	i int
}

func (c *cursor) lit(s string) bool {
	if len(c.b)-c.i < len(s) || string(c.b[c.i:c.i+len(s)]) != s {
		return false
	}
	c.i += len(s)
	return true
}

func (c *cursor) until(end byte) ([]byte, bool) {
	j := bytes.IndexByte(c.b[c.i:], end)
	if j < 0 {
		return nil, false
	}
	out := c.b[c.i : c.i+j]
	c.i += j
	return out, true
}

// num reads prefix then a decimal number without sign or leading zeros.
func (c *cursor) num(prefix string) (uint64, bool) {
	if !c.lit(prefix) {
		return 0, false
	}
	j := c.i
	for j < len(c.b) && c.b[j] >= '0' && c.b[j] <= '9' {
		j++
	}
	if j == c.i || j-c.i > 20 || (c.b[c.i] == '0' && j-c.i > 1) {
		return 0, false
	}
	n, err := strconv.ParseUint(string(c.b[c.i:j]), 10, 64)
	c.i = j
	return n, err == nil
}

// hash reads 44 characters of canonical base64 of 32 bytes.
func (c *cursor) hash(h *tlog.Hash) bool {
	const n = 44
	if len(c.b)-c.i < n {
		return false
	}
	var buf [33]byte // DecodedLen(44)
	k, err := base64.StdEncoding.Strict().Decode(buf[:], c.b[c.i:c.i+n])
	if err != nil || k != tlog.HashSize {
		return false
	}
	copy(h[:], buf[:k])
	c.i += n
	return true
}

// hashTextCache keeps the base64 text and value of the audit path last
// read. The proofs of consecutive events share most of their path, at the
// same positions, so most hashes of a line are found here by comparing
// their text, without decoding it again.
type hashTextCache struct {
	text [][44]byte
	hash []tlog.Hash
}

// pathHash reads the k-th hash of an audit path, through cache when it is
// not nil.
func (c *cursor) pathHash(h *tlog.Hash, k int, cache *hashTextCache) bool {
	const n = 44
	if cache == nil || len(c.b)-c.i < n {
		return c.hash(h)
	}
	text := c.b[c.i : c.i+n]
	if k < len(cache.text) && string(text) == string(cache.text[k][:]) {
		*h = cache.hash[k]
		c.i += n
		return true
	}
	if !c.hash(h) {
		return false
	}
	for len(cache.text) <= k {
		cache.text, cache.hash = append(cache.text, [n]byte{}), append(cache.hash, tlog.Hash{})
	}
	copy(cache.text[k][:], text)
	cache.hash[k] = *h
	return true
}

// b64 reads standard base64 up to a closing quote, which it consumes.
func (c *cursor) b64() ([]byte, bool) {
	raw, ok := c.until('"')
	if !ok {
		return nil, false
	}
	c.i++
	out := make([]byte, base64.StdEncoding.DecodedLen(len(raw)))
	k, err := base64.StdEncoding.Strict().Decode(out, raw)
	if err != nil {
		return nil, false
	}
	return out[:k], true
}
