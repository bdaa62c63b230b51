package storage_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/axiomops/axiom-audit/storage"
	"github.com/axiomops/axiom-audit/storage/keystore"
)

// crashEnv names the directory a crash child appends to; it is set only
// in the child processes TestStore_KilledWhileAppending starts.
const crashEnv = "AXIOM_CRASH_CHILD_DIR"

// quiet is a logger for the file keystore, which warns on every open.
var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// crashReceipt is one line a crash child prints for every event once its
// Append has returned: the event is then acknowledged as durable.
type crashReceipt struct {
	ID  string `json:"id"`
	Org string `json:"org"`
	Seq uint64 `json:"seq"`
}

// TestStore_KilledWhileAppending kills (SIGKILL) a process in the middle of
// appending, from several goroutines to two organizations while checkpoints
// are signed and anchored, and reopens its database, four times over:
// every append it acknowledged is there with its seq, each organization's
// seqs have no gap, the log verifies clean with no integrity alert (a
// crash is not a rollback), and it takes appends again. The kernel keeps
// what the process wrote, so this is a process crash, not a power cut.
func TestStore_KilledWhileAppending(t *testing.T) {
	if os.Getenv(crashEnv) != "" {
		t.Skip("in a crash child")
	}
	if testing.Short() {
		t.Skip("starts processes")
	}
	ctx := context.Background()
	dir := t.TempDir()
	acked := map[string]crashReceipt{}
	for round, kills := range []int{1, 40, 150, 400} {
		got := runCrashChild(t, dir, kills)
		for _, r := range got {
			acked[r.ID] = r
		}
		ks, err := keystore.NewFile(filepath.Join(dir, "keys.json"), quiet)
		if err != nil {
			t.Fatal(err)
		}
		st, err := storage.Open(ctx, filepath.Join(dir, "db"), ks, storage.Options{})
		if err != nil {
			t.Fatalf("round %d: reopening after the kill: %v", round, err)
		}
		if alerts := st.IntegrityAlerts(ctx); len(alerts) != 0 {
			t.Fatalf("round %d: integrity alerts after a crash: %+v", round, alerts)
		}
		for _, r := range acked {
			e, err := st.Get(ctx, r.Org, r.ID)
			if err != nil || e.Seq != r.Seq {
				t.Fatalf("round %d: acknowledged event %s (%s seq %d): %+v, %v", round, r.ID, r.Org, r.Seq, e.Seq, err)
			}
		}
		var problems []storage.Problem
		sum, err := st.Verify(ctx, storage.VerifyOptions{}, func(p storage.Problem) error {
			problems = append(problems, p)
			return nil
		})
		if err != nil || len(problems) != 0 {
			t.Fatalf("round %d: verify after the kill: %v, %v", round, err, problems)
		}
		orgs, err := st.Organizations(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range orgs {
			// Verify checked the chain of seqs 1..Size; the events past
			// the acknowledged ones were appended, not yet answered.
			if all, err := st.ReadFrom(ctx, o.ID, 0, int(o.Size)+1, false); err != nil || uint64(len(all)) != o.Size {
				t.Fatalf("round %d: %s has size %d and %d events: %v", round, o.ID, o.Size, len(all), err)
			}
		}
		if _, err := st.Append(ctx, []storage.Event{crashEvent("crash-a", round, 999_999)}); err != nil {
			t.Fatalf("round %d: append after the kill: %v", round, err)
		}
		t.Logf("round %d: killed after %d acknowledged events (%d in all); the log has %d events, %d checkpoints",
			round, len(got), len(acked), sum.Events, sum.Checkpoints)
		if err := st.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// runCrashChild starts a crash child on dir, kills it once it has
// acknowledged at least kills events, and returns every receipt it
// printed.
func runCrashChild(t *testing.T, dir string, kills int) []crashReceipt {
	t.Helper()
	// A child stuck inside Append is killed after two minutes, and never
	// outlives the test.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashEnv+"="+dir)
	cmd.Stderr = os.Stderr
	cmd.WaitDelay = time.Second
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var receipts []crashReceipt
	sc := bufio.NewScanner(out)
	killed := false
	for sc.Scan() {
		var r crashReceipt
		if json.Unmarshal(sc.Bytes(), &r) != nil || r.ID == "" {
			t.Logf("child: %s", sc.Bytes()) // the testing package's lines
			continue
		}
		receipts = append(receipts, r)
		if !killed && len(receipts) >= kills {
			killed = true
			if err := cmd.Process.Kill(); err != nil {
				t.Fatal(err)
			}
			// Lines already in the pipe are read on: they were
			// acknowledged before the kill.
		}
	}
	scanErr := sc.Err()
	err = cmd.Wait()
	if !killed {
		t.Fatalf("the crash child ended before it was killed (%d receipts): %v", len(receipts), err)
	}
	if scanErr != nil {
		t.Fatalf("reading the crash child's receipts: %v", scanErr)
	}
	return receipts
}

// TestCrashChild is the process TestStore_KilledWhileAppending kills: it
// appends until killed and prints a receipt line for every acknowledged
// event.
func TestCrashChild(t *testing.T) {
	dir := os.Getenv(crashEnv)
	if dir == "" {
		t.Skip("run by TestStore_KilledWhileAppending")
	}
	ctx := context.Background()
	ks, err := keystore.NewFile(filepath.Join(dir, "keys.json"), quiet)
	if err != nil {
		t.Fatal(err)
	}
	// Small memtables and frequent checkpoints, so that the kill falls
	// among flushes and anchor updates too.
	st, err := storage.Open(ctx, filepath.Join(dir, "db"), ks, storage.Options{
		MemTableSize: 1 << 20, CheckpointEvery: 25, CheckpointInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	w := bufio.NewWriter(os.Stdout)
	start := time.Now()
	var wg sync.WaitGroup
	for p := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			org := []string{"crash-a", "crash-b"}[p%2]
			for i := 0; time.Since(start) < time.Minute; i++ {
				var evs []storage.Event
				for j := range 1 + i%8 {
					evs = append(evs, crashEvent(org, p, i*8+j))
				}
				rs, err := st.Append(ctx, evs)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				for _, r := range rs {
					line, _ := json.Marshal(crashReceipt{ID: r.ID, Org: r.OrganizationID, Seq: r.Seq})
					w.Write(append(line, '\n'))
				}
				// Printed only after Append returned: acknowledged.
				w.Flush()
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	t.Error("not killed within a minute")
}

func crashEvent(org string, producer, i int) storage.Event {
	return storage.Event{Timestamp: time.Now().UTC(), OrganizationID: org, UserID: fmt.Sprintf("producer-%d", producer),
		Provider: "aws", ActionType: "user.settings_changed", ResourceIDs: []string{fmt.Sprintf("setting/%d", i%17)},
		Status: "applied", RiskLevel: "low", Metadata: []byte(fmt.Sprintf(`{"n":%d}`, i)),
		BeforeState: []byte(fmt.Sprintf(`{"v":%d}`, i)), AfterState: []byte(fmt.Sprintf(`{"v":%d}`, i+1))}
}
