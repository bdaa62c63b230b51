package storage

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

// Badger's cache monitor notes go to debug: the caches are small on
// purpose, and serve would print them every minute. Its other warnings stay
// warnings.
func TestBadgerLogger_cacheNotesAreDebug(t *testing.T) {
	var buf bytes.Buffer
	l := badgerLogger{slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo}))}
	l.Warningf("%s might be too small. Metrics: %s\n", "Block cache", "hit: 1 miss: 9")
	l.Warningf("Cache life expectancy (in seconds): %+v\n", "histogram")
	if buf.Len() != 0 {
		t.Errorf("cache notes logged at warn: %s", buf.String())
	}
	l.Warningf("Value log GC failed: %v", "disk")
	if !strings.Contains(buf.String(), "level=WARN") || !strings.Contains(buf.String(), "Value log GC failed") {
		t.Errorf("another warning was not logged at warn: %q", buf.String())
	}
}
