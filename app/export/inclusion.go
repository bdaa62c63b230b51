package export

import (
	"crypto/sha256"
	"math/bits"

	"github.com/axiomops/axiom-audit/storage/tlog"
)

// inclusionChecker verifies the inclusion proofs of a bundle, all against
// one tree size and root, with the RFC 9162 §2.1.3.2 algorithm. Most of
// the work is shared: consecutive leaves meet after a level or two, and
// from there their paths are the same. So the checker remembers the
// intermediate nodes of the last proof that verified; a new proof that
// reaches one of them with the same hash, and whose remaining audit path
// is the same as that proof's, verifies for the same reason that one did
// (the rest of the computation is the same). That takes about two hashes
// per proof instead of ⌈log2 size⌉. One checker per goroutine.
type inclusionChecker struct {
	size uint64
	root tlog.Hash
	// The last verified proof: its audit path and, by bits.Len64(sn), the
	// state after each step; an entry counts only if its gen is gen.
	gen   uint64
	path  []tlog.Hash
	state [65]pathState
	// seen collects the states of the proof being checked.
	seen []pathState
}

type pathState struct {
	gen  uint64
	fn   uint64
	r    tlog.Hash
	step int // index in path of the last sibling consumed
	k    int // bits.Len64(sn)
}

func newInclusionChecker(size uint64, root tlog.Hash) *inclusionChecker {
	return &inclusionChecker{size: size, root: root}
}

// verify reports whether path proves leaf at index in the tree.
func (c *inclusionChecker) verify(leaf tlog.Hash, index uint64, path []tlog.Hash) bool {
	if index >= c.size {
		return false
	}
	fn, sn, r := index, c.size-1, leaf
	c.seen = c.seen[:0]
	for j := range path {
		if sn == 0 {
			return false
		}
		if fn&1 == 1 || fn == sn {
			r = nodeHash(&path[j], &r)
			if fn&1 == 0 {
				for fn&1 == 0 && fn != 0 {
					fn >>= 1
					sn >>= 1
				}
			}
		} else {
			r = nodeHash(&r, &path[j])
		}
		fn >>= 1
		sn >>= 1
		if sn == 0 {
			continue
		}
		k := bits.Len64(sn)
		if m := &c.state[k]; c.gen > 0 && m.gen == c.gen && m.fn == fn && m.r == r && equalPaths(path[j+1:], c.path[m.step+1:]) {
			c.remember(path, j-m.step, k)
			return true
		}
		c.seen = append(c.seen, pathState{fn: fn, r: r, step: j, k: k})
	}
	if sn != 0 || r != c.root {
		return false
	}
	c.remember(path, 0, 0)
	return true
}

// remember makes the proof just verified the one later proofs are
// compared with. When it joined the last one at level key k, the states
// from there up are that proof's, with its steps moved by shift.
func (c *inclusionChecker) remember(path []tlog.Hash, shift, k int) {
	gen := c.gen + 1
	for kk := 1; kk <= k; kk++ {
		if st := &c.state[kk]; st.gen == c.gen {
			st.gen = gen
			st.step += shift
		}
	}
	for _, st := range c.seen {
		st.gen = gen
		c.state[st.k] = st
	}
	c.gen = gen
	c.path = append(c.path[:0], path...)
}

func equalPaths(a, b []tlog.Hash) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// nodeHash is RFC 6962's SHA-256(0x01 || left || right), without
// allocating.
func nodeHash(left, right *tlog.Hash) tlog.Hash {
	var b [1 + 2*tlog.HashSize]byte
	b[0] = 1
	copy(b[1:], left[:])
	copy(b[1+tlog.HashSize:], right[:])
	return sha256.Sum256(b[:])
}
