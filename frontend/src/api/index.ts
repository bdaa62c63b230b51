// The one module that knows how the UI reaches the application: Wails
// bindings inside the desktop app, the local REST API in the browser, or the
// in-memory fake for demos and tests. Components get an AuditApi from
// ApiProvider and never learn which transport is in use.

import type { AuditApi } from './client'
import { createRestApi } from './rest'
import { createWailsApi, wailsBindings } from './wails'

export type { AuditApi, Unsubscribe } from './client'
export { ApiError, adviceFor, toApiError } from './errors'
export * from './types'

/** Whether this page should use the in-memory demo log instead of the app. */
export function wantsFake(location: Pick<Location, 'search'> = window.location): boolean {
  return import.meta.env.VITE_FAKE_API === '1' || new URLSearchParams(location.search).get('fake') === '1'
}

/**
 * Chooses the transport: the Wails bindings when running in the desktop
 * window, the fake when asked for, REST otherwise. The fake is loaded only
 * when asked for, so the real build does not carry it on first load.
 */
export async function createApi(): Promise<AuditApi> {
  const bindings = wailsBindings()
  if (bindings) return createWailsApi(bindings, window.runtime)
  if (wantsFake()) {
    const { createFakeApi } = await import('./fake')
    const params = new URLSearchParams(window.location.search)
    const count = Number(params.get('events') ?? '') || 1_000_000
    const fake = createFakeApi(undefined, {
      orgs: [{ id: 'acme-prod', count }, { id: 'acme-staging', count: Math.min(25_000, count) }],
      latencyMs: Number(params.get('latency') ?? '') || 15,
      liveEveryMs: params.get('live') === '0' ? 0 : Number(params.get('live') ?? '') || 4000,
      failWith: params.get('fail') ? { code: params.get('fail') ?? '', message: `demo failure: ${params.get('fail')}` } : undefined,
    })
    // Lets the browser tests deliver a live event on demand.
    ;(window as unknown as { __axiomFake?: typeof fake }).__axiomFake = fake
    return fake
  }
  return createRestApi()
}
