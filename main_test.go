package main

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/axiomops/axiom-audit/app"
	"github.com/axiomops/axiom-audit/storage"
	"github.com/axiomops/axiom-audit/storage/keystore/keystoretest"
)

// Two logs of one profile in different --data-dir directories, with the
// real keychain: each has its own keys and anchors, so appends to the same
// organization in both go on, alternately, with no integrity alert. Sharing
// the profile's keychain entries made the second log's organization look
// like a vanished log (an alert, appends refused).
func TestKeychain_DataDirsDoNotShareSecrets(t *testing.T) {
	keystoretest.RequireKeychain(t)
	ctx := context.Background()
	profile := fmt.Sprintf("ns-%d", time.Now().UnixNano())
	dirs := []string{filepath.Join(t.TempDir(), "a"), filepath.Join(t.TempDir(), "b")}
	for i := range 4 {
		dir := dirs[i%2]
		a, closeApp, err := open(ctx, app.Globals{Profile: profile, DataDir: dir})
		if err != nil {
			t.Fatalf("open %s: %v", dir, err)
		}
		_, err = a.AppendEvents([]storage.Event{app.TestEvent("acme", i, time.Now().Add(-time.Minute))})
		if cerr := closeApp(); err == nil {
			err = cerr
		}
		if err != nil {
			t.Fatalf("append %d in %s: %v", i, dir, err)
		}
	}
}
