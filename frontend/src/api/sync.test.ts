// The sync methods of each transport: the same DTO from the Wails bindings,
// the REST API and the fake.
import { describe, expect, it, vi } from 'vitest'
import { createFakeApi } from './fake'
import { createRestApi } from './rest'
import type { SyncDestinationDTO } from './types'
import { createWailsApi, type WailsBindings } from './wails'

const dest: SyncDestinationDTO = {
  kind: 'tenant', target: 'https://tenant.example.com', enabled: true, state: 'healthy', includes: 'commitments',
  deliveredSeq: 3, headSeq: 5, lagEvents: 2, lagSeconds: 4, lastSuccess: null, lastError: '', lastErrorAt: null, failures: 0,
  enabledAt: '2026-11-20T12:00:00Z',
}

describe('sync over REST', () => {
  it('GETs the status and POSTs run-now for the organization', async () => {
    const fetch = vi.fn((_url: string, _init?: RequestInit) =>
      Promise.resolve(new Response(JSON.stringify({ org: 'a&b', destinations: [dest] }), { status: 200 })),
    )
    const api = createRestApi({ fetch: fetch as unknown as typeof globalThis.fetch })
    expect(await api.syncStatus('a&b')).toEqual({ org: 'a&b', destinations: [dest] })
    expect(fetch.mock.calls[0]?.[0]).toBe('/api/sync/status?org=a%26b')
    expect(fetch.mock.calls[0]?.[1]?.method).toBe('GET')
    await api.syncRunNow('a&b')
    expect(fetch.mock.calls[1]?.[0]).toBe('/api/sync/run-now?org=a%26b')
    expect(fetch.mock.calls[1]?.[1]?.method).toBe('POST')
  })

  it('rejects with the stable code when sync is off', async () => {
    const fetch = vi.fn(() => Promise.resolve(new Response(JSON.stringify({ code: 'conflict', message: 'sync is off' }), { status: 409 })))
    const api = createRestApi({ fetch: fetch as unknown as typeof globalThis.fetch })
    await expect(api.syncRunNow('acme')).rejects.toMatchObject({ code: 'conflict', status: 409 })
  })
})

describe('sync over Wails', () => {
  it('calls the bindings and turns a null destination list into an empty one', async () => {
    const b = {
      SyncStatus: vi.fn(() => Promise.resolve({ org: 'acme', destinations: null })),
      SyncRunNow: vi.fn(() => Promise.resolve({ org: 'acme', destinations: [dest], error: 'tenant: HTTP 503' })),
    } as unknown as WailsBindings
    const api = createWailsApi(b, undefined)
    expect(await api.syncStatus('acme')).toEqual({ org: 'acme', destinations: [] })
    expect(b.SyncStatus).toHaveBeenCalledWith('acme')
    expect(await api.syncRunNow('acme')).toEqual({ org: 'acme', destinations: [dest], error: 'tenant: HTTP 503' })
    expect(b.SyncRunNow).toHaveBeenCalledWith('acme')
  })
})

describe('sync in the fake', () => {
  it('is off by default and refuses run-now like the app', async () => {
    const api = createFakeApi([], {})
    expect(await api.syncStatus('acme')).toEqual({ org: 'acme', destinations: [] })
    await expect(api.syncRunNow('acme')).rejects.toMatchObject({ code: 'conflict' })
  })

  it('catches up on run-now', async () => {
    const api = createFakeApi([], { sync: { acme: [dest] }, now: () => Date.parse('2026-11-20T13:00:00Z') })
    const st = await api.syncRunNow('acme')
    expect(st.destinations[0]).toMatchObject({ lagEvents: 0, deliveredSeq: 5, state: 'healthy', lastSuccess: '2026-11-20T13:00:00.000Z' })
    expect(st.error).toBeUndefined()
  })
})
