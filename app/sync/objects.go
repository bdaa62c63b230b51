package sync

import (
	"fmt"
	"time"
)

// Object stores (S3, Azure Blob) keep an organization's events as gzip
// JSON Lines objects, one per batch and UTC day the events were recorded
// on, and the newest signed checkpoint beside them:
//
//	<prefix>org=<id>/date=YYYY-MM-DD/<firstSeq>-<lastSeq>.jsonl.gz
//	<prefix>org=<id>/checkpoint
//
// Seqs are zero-padded to 20 digits so that a listing is in seq order.

// ObjectName is the name of the object of org's seqs first–last recorded
// on day, under prefix.
func ObjectName(prefix, org string, day time.Time, first, last uint64) string {
	return fmt.Sprintf("%sorg=%s/date=%s/%020d-%020d.jsonl.gz", prefix, org, day.UTC().Format(time.DateOnly), first, last)
}

// CheckpointObjectName is the name of org's checkpoint object under prefix.
func CheckpointObjectName(prefix, org string) string {
	return prefix + "org=" + org + "/checkpoint"
}

// DayObject returns the object of b's events recorded on the UTC day of
// its first event (a batch's object never spans two days: the rest go in
// the next), its name under prefix, and the seq to acknowledge once it is
// stored: that day's last.
func DayObject(prefix string, b Batch) (name string, body []byte, last uint64, err error) {
	day := b.Events[0].RecordedAt.UTC().Format(time.DateOnly)
	events := b.Events
	for i, e := range events {
		if e.RecordedAt.UTC().Format(time.DateOnly) != day {
			events = events[:i]
			break
		}
	}
	if body, err = GzipJSONLines(events, true); err != nil {
		return "", nil, 0, fmt.Errorf("failed to encode the batch: %w", err)
	}
	last = events[len(events)-1].Seq
	return ObjectName(prefix, b.Org, events[0].RecordedAt, events[0].Seq, last), body, last, nil
}
