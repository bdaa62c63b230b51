package app

import (
	"context"
	"sync"

	"github.com/wailsapp/wails/v2/pkg/runtime"
)

// Desktop-only bindings: live events reach the window as Wails events
// rather than Server-Sent Events.

// EventLive is the Wails event name of a newly recorded event.
const (
	EventLive          = "audit:event"
	EventLiveReset     = "audit:reset"
	EventVerifyProgres = "audit:verify-progress"
)

type liveFeed struct {
	mu     sync.Mutex
	cancel context.CancelFunc
}

// Subscribe starts delivering newly recorded events that match q to the
// window as "audit:event" Wails events, replacing any earlier subscription.
// "audit:reset" means the feed fell behind and was dropped: reload.
func (a *App) Subscribe(q QueryDTO) error {
	st, err := a.storeOrErr()
	if err != nil {
		return err
	}
	f, err := a.filter(q)
	if err != nil {
		return err
	}
	wctx := a.wailsContext()
	ctx, cancel := context.WithCancel(a.bg())
	ch, err := st.Subscribe(ctx, f)
	if err != nil {
		cancel()
		return err
	}
	a.live.mu.Lock()
	if a.live.cancel != nil {
		a.live.cancel()
	}
	a.live.cancel = cancel
	a.live.mu.Unlock()
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		for e := range ch {
			if wctx != nil {
				runtime.EventsEmit(wctx, EventLive, a.eventDTO(&e))
			}
		}
		if ctx.Err() == nil && wctx != nil {
			runtime.EventsEmit(wctx, EventLiveReset)
		}
	}()
	return nil
}

// Unsubscribe stops the live feed.
func (a *App) Unsubscribe() {
	a.live.mu.Lock()
	defer a.live.mu.Unlock()
	if a.live.cancel != nil {
		a.live.cancel()
		a.live.cancel = nil
	}
}

func (a *App) wailsContext() context.Context {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.ctx
}
