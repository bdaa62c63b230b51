package app

import (
	"context"
	"strings"
	"testing"
)

// Through the App, a destination's failures and recovery land in the
// organization's own log once per change of state, not once per retry.
func TestSync_FailuresAndRecoveryAreInTheLogOncePerStateChange(t *testing.T) {
	f := newSyncAPIFixture(t)
	f.enableWebhook(t, f.rxSrv.URL)
	ctx := context.Background()
	count := func(actionType string) int {
		n := 0
		for _, at := range actionTypes(t, f.app.store, "acme") {
			if at == actionType {
				n++
			}
		}
		return n
	}
	f.failRx.Store(true)
	for range 8 {
		appendN(t, f.app, "acme", 1)
		if dto, err := f.app.syncRunNowDTO(ctx, "acme"); err != nil || !strings.Contains(dto.Error, "500") {
			t.Fatalf("run-now: %+v %v", dto, err)
		}
	}
	if got := count("audit.sync_failed"); got != 1 {
		t.Fatalf("%d audit.sync_failed events for 8 failed deliveries, want 1", got)
	}
	// A failure, as the timeline shows it and its "next failed" key finds.
	page, err := f.app.listEvents(ctx, QueryDTO{Org: "acme", ActionTypes: []string{"audit.sync_failed"}})
	if err != nil || len(page.Events) != 1 || page.Events[0].Status != "failed" || page.Events[0].RiskLevel != "medium" {
		t.Fatalf("audit.sync_failed: %+v %v; want status failed, risk medium", page.Events, err)
	}
	f.failRx.Store(false)
	for range 3 {
		appendN(t, f.app, "acme", 1)
		if dto, err := f.app.syncRunNowDTO(ctx, "acme"); err != nil || dto.Error != "" {
			t.Fatalf("run-now: %+v %v", dto, err)
		}
	}
	if f, r := count("audit.sync_failed"), count("audit.sync_recovered"); f != 1 || r != 1 {
		t.Fatalf("%d audit.sync_failed and %d audit.sync_recovered, want 1 and 1", f, r)
	}
}
