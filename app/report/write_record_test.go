package report

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"
)

// With Record, a report is recorded while the name it gets is still an
// empty folder, and becomes visible only after; a failing Record leaves
// nothing in the folder.
func TestWrite_recordsBeforeTheReportIsVisible(t *testing.T) {
	src, opts := recordTestSetup(t)
	var seen Result
	opts.Record = func(r Result) error {
		seen = r
		if es, err := os.ReadDir(r.Dir); err != nil || len(es) != 0 {
			t.Errorf("at the record, %s holds %d entries (%v), want an empty folder", r.Dir, len(es), err)
		}
		return nil
	}
	res, err := Write(context.Background(), src, opts)
	if err != nil || seen.Dir != res.Dir || seen.SumsSHA256 != res.SumsSHA256 {
		t.Fatalf("Write: %v; recorded %s, written %s", err, seen.Dir, res.Dir)
	}
	if es, _ := os.ReadDir(res.Dir); len(es) == 0 {
		t.Fatal("the report folder is empty")
	}
	opts.OutDir = t.TempDir()
	refused := errors.New("the log refused the record")
	opts.Record = func(Result) error { return refused }
	if _, err := Write(context.Background(), src, opts); !errors.Is(err, refused) {
		t.Fatalf("Write with a failing record: %v", err)
	}
	if es, _ := os.ReadDir(opts.OutDir); len(es) != 0 {
		t.Fatalf("a failed record left %v", es)
	}
}

func recordTestSetup(t *testing.T) (EventSource, WriteOptions) {
	t.Helper()
	return &sliceSource{}, WriteOptions{
		Options: Options{Org: "o", Period: testPeriod, Now: func() time.Time { return testNow }},
		OutDir:  t.TempDir(), NoPDF: true,
	}
}
