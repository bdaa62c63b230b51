package storage

import (
	"context"
	"encoding/json"
	"math"
	"reflect"
	"testing"
	"time"
)

func FuzzDecodePublicFast(f *testing.F) {
	f.Add([]byte(`{"actionType":"user.signed_in","category":"user","formatVersion":1,"id":"a","metadata":{"k":"v\"}","n":[1,{"x":"}"}]},"organizationId":"o","prevHash":"00","provider":"aws","recordedAt":"2026-01-01T00:00:00.000000000Z","resourceIds":["r1","r2"],"riskLevel":"low","seq":7,"status":"applied","timestamp":"2026-01-01T00:00:00.000000000Z","userId":"u"}`))
	f.Add([]byte(`{"actionType":"a","afterStateCommitment":"ab","beforeStateCommitment":"cd","category":"c","formatVersion":1,"id":"i","organizationId":"o","prevHash":"p","provider":"gcp","recordedAt":"r","resourceIds":[],"riskLevel":"high","seq":1,"status":"s","timestamp":"t","userId":"ü"}`))
	f.Add([]byte(`{"id":"x\n","seq":1}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		fast, ok := decodePublicFast(b)
		if !ok {
			return
		}
		slow, err := decodePublic(b)
		if err != nil {
			t.Fatalf("fast accepts %q, decodePublic: %v", b, err)
		}
		if !reflect.DeepEqual(fast, slow) {
			t.Fatalf("%q:\nfast %+v\nslow %+v", b, fast, slow)
		}
	})
}

// ScanRecords gives the events List gives, in log order.
func TestScanRecords_matchesList(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, t.TempDir(), newStoreKeystore(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	at := time.Now().Add(-time.Hour).UTC()
	var evs []Event
	for i, user := range []string{"plain", "quote\"d", "new\nline", "ü|=\\", "x"} {
		evs = append(evs, Event{Timestamp: at.Add(time.Duration(i) * time.Second), OrganizationID: "org", UserID: user,
			Provider: "aws", ActionType: "apply.mutation", ResourceIDs: []string{"r\"1", "r2"}, Status: "applied",
			RiskLevel: "low", Metadata: json.RawMessage(`{"a":"}\"{","b":[1,2]}`), AfterState: json.RawMessage(`{"s":1}`)})
	}
	if _, err := s.Append(ctx, evs); err != nil {
		t.Fatal(err)
	}
	page, err := s.List(ctx, Filter{Org: "org", Order: OldestFirst})
	if err != nil {
		t.Fatal(err)
	}
	for _, decrypt := range []bool{false, true} {
		var got []StoredEvent
		err = s.ScanRecords(ctx, Filter{Org: "org", Order: OldestFirst}, math.MaxUint64, decrypt, func(e *StoredEvent) error {
			got = append(got, *e)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(page.Events) {
			t.Fatalf("scan %d events, list %d", len(got), len(page.Events))
		}
		for i := range got {
			want := page.Events[i]
			if !decrypt {
				want.BeforeState, want.AfterState = nil, nil
			}
			if !reflect.DeepEqual(got[i], want) {
				t.Errorf("decrypt=%v event %d:\nscan %+v\nlist %+v", decrypt, i, got[i], want)
			}
		}
	}
	var n int
	s.ScanRecords(ctx, Filter{Org: "org", Order: NewestFirst, UserIDs: []string{"x", "plain"}}, 4, false, func(e *StoredEvent) error {
		if n++; e.UserID != "plain" {
			t.Errorf("filtered scan gave %q", e.UserID)
		}
		return nil
	})
	if n != 1 {
		t.Errorf("filtered scan up to seq 4 gave %d events, want 1", n)
	}
}
