package storage

import (
	"bytes"
	"context"
	"errors"
	"testing"

	badger "github.com/dgraph-io/badger/v4"
)

// Without one organization's KEK, a verify of the whole profile still
// checks every other organization (and all of that one but its states):
// a tampered record elsewhere is found, and the missing key is said.
func TestRotation_MissingKEKStillVerifiesTheOtherOrganizations(t *testing.T) {
	ctx := context.Background()
	ks := newStoreKeystore()
	dir, rs := rotatedLog(t, ks, 3, 3)
	ks.drop(KeyKEK("acme", 1))
	rawTamper(t, dir, ks, func(txn *badger.Txn) {
		v := rawGet(t, txn, recordKey("globex", 2))
		i := bytes.Index(v, []byte(`"userId":"user-`)) + len(`"userId":"`)
		flip(t, txn, recordKey("globex", 2), i, 0)
	})
	s := openTest(t, dir, ks)
	defer s.Close()
	var ps []Problem
	sum, err := s.Verify(ctx, VerifyOptions{}, func(p Problem) error { ps = append(ps, p); return nil })
	if !errors.Is(err, ErrKeyNotFound) {
		t.Errorf("verify without acme's KEK: %v; want an error naming it", err)
	}
	if sum.Orgs != 2 {
		t.Errorf("verified %d organizations; want both", sum.Orgs)
	}
	found := false
	for _, p := range ps {
		found = found || p.Org == "globex" && p.Seq == 2 && p.ID == rs[1].ID && p.Kind == ProblemLeafMismatch
		if p.Org == "acme" {
			t.Errorf("a problem in acme, whose log is intact: %v", p)
		}
	}
	if !found {
		t.Errorf("the tampered record of globex is not reported; problems:\n%s", problemList(ps))
	}
}
