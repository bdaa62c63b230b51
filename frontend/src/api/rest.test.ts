import { describe, expect, it, vi } from 'vitest'
import { ApiError } from './errors'
import { queryToSearchParams } from './params'
import { createRestApi, sessionKey } from './rest'

function jsonResponse(body: unknown, status = 200) {
  return new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } })
}

class FakeEventSource {
  static last: FakeEventSource | undefined
  listeners = new Map<string, ((m: MessageEvent) => void)[]>()
  closed = false
  readyState = 1
  onerror: (() => void) | null = null
  onopen: (() => void) | null = null
  constructor(public url: string) {
    FakeEventSource.last = this
  }
  addEventListener(name: string, cb: (m: MessageEvent) => void) {
    this.listeners.set(name, [...(this.listeners.get(name) ?? []), cb])
  }
  dispatch(name: string, data: unknown) {
    for (const cb of this.listeners.get(name) ?? []) cb(new MessageEvent(name, { data: JSON.stringify(data) }))
  }
  close() {
    this.closed = true
  }
}

describe('queryToSearchParams', () => {
  it('repeats list fields and leaves out empty ones', () => {
    const p = queryToSearchParams({
      org: 'acme', categories: ['apply', 'plan'], notRiskLevels: ['low'], resourceIdPrefix: 'arn:aws:s3', text: '', limit: 200, cursor: 'c9',
      since: '2026-01-01T00:00:00Z',
    })
    expect(p.toString()).toBe('org=acme&since=2026-01-01T00%3A00%3A00Z&resourcePrefix=arn%3Aaws%3As3&limit=200&cursor=c9&category=apply&category=plan&notRisk=low')
  })
})

describe('createRestApi', () => {
  it('lists events with the filter in the query string', async () => {
    const fetch = vi.fn(() => Promise.resolve(jsonResponse({ events: [{ id: 'e1' }], nextCursor: 'n' })))
    const api = createRestApi({ fetch })
    const page = await api.listEvents({ org: 'acme', statuses: ['failed'], userIds: ['a', 'b'], limit: 50 })
    expect(page).toEqual({ events: [{ id: 'e1' }], nextCursor: 'n' })
    expect(fetch).toHaveBeenCalledWith('/api/operations/events?org=acme&limit=50&user=a&user=b&status=failed', expect.objectContaining({ method: 'GET' }))
  })

  it('hands the caller\'s AbortSignal to fetch for the timeline\'s queries', async () => {
    const fetch = vi.fn((_url: RequestInfo | URL, _init?: RequestInit) => Promise.resolve(jsonResponse({ events: [], buckets: [] })))
    const api = createRestApi({ fetch })
    const ctl = new AbortController()
    await api.listEvents({ org: 'acme' }, ctl.signal)
    await api.facets({ org: 'acme' }, ctl.signal)
    await api.histogram({ org: 'acme' }, ctl.signal)
    await api.overview({ org: 'acme' }, ctl.signal)
    expect(fetch.mock.calls.map((c) => c[1]?.signal)).toEqual([ctl.signal, ctl.signal, ctl.signal, ctl.signal])
  })

  it('treats an empty nextCursor and null events as the last page', async () => {
    const api = createRestApi({ fetch: () => Promise.resolve(jsonResponse({ events: null, nextCursor: '' })) })
    expect(await api.listEvents({ org: 'a' })).toEqual({ events: [], nextCursor: undefined })
  })

  it('calls every endpoint at its path', async () => {
    const fetch = vi.fn((_url: RequestInfo | URL, _init?: RequestInit) => Promise.resolve(jsonResponse({})))
    const api = createRestApi({ fetch })
    await api.info()
    await api.organizations()
    await api.getEvent('acme', 'evt/1')
    await api.eventProof('acme', 'e1')
    await api.facets({ org: 'acme', providers: ['aws'] })
    await api.histogram({ org: 'acme', since: 's', timeZone: 'Asia/Kolkata' })
    await api.overview({ org: 'acme', notProviders: ['gcp'], timeZone: 'UTC' })
    await api.latestCheckpoint('a b')
    await api.verify('acme')
    expect(fetch.mock.calls.map((c) => `${c[1]?.method} ${c[0]}`)).toEqual([
      'GET /api/info',
      'GET /api/organizations',
      'GET /api/operations/events/evt%2F1?org=acme',
      'GET /api/operations/events/e1/proof?org=acme',
      'GET /api/operations/facets?org=acme&provider=aws',
      'GET /api/operations/histogram?org=acme&since=s&timeZone=Asia%2FKolkata',
      'GET /api/operations/overview?org=acme&timeZone=UTC&notProvider=gcp',
      'GET /api/checkpoints/latest?org=a%20b',
      'POST /api/verify?org=acme',
    ])
  })

  it('turns an ErrorDTO body into an ApiError with its code', async () => {
    const api = createRestApi({
      fetch: () => Promise.resolve(jsonResponse({ code: 'keychain_unavailable', message: 'the keychain is locked', fields: [] }, 503)),
    })
    const err = await api.organizations().catch((e: unknown) => e)
    expect(err).toBeInstanceOf(ApiError)
    expect(err).toMatchObject({ code: 'keychain_unavailable', message: 'the keychain is locked', status: 503 })
  })

  it('maps a bare 401 to unauthorized and a network failure to unreachable', async () => {
    const a = createRestApi({ fetch: () => Promise.resolve(new Response('no', { status: 401, statusText: 'Unauthorized' })) })
    await expect(a.info()).rejects.toMatchObject({ code: 'unauthorized' })
    const b = createRestApi({ fetch: () => Promise.reject(new TypeError('Failed to fetch')) })
    await expect(b.info()).rejects.toMatchObject({ code: 'unreachable' })
  })

  it('streams live events from SSE and closes the stream', () => {
    const api = createRestApi({ fetch: vi.fn(), EventSource: FakeEventSource as unknown as typeof EventSource })
    const got: unknown[] = []
    const stop = api.subscribe({ org: 'acme', riskLevels: ['high'], cursor: 'c1', limit: 10 }, (e) => got.push(e))
    const es = FakeEventSource.last!
    expect(es.url).toBe('/api/operations/stream?org=acme&risk=high')
    es.dispatch('event', { id: 'e9' })
    expect(got).toEqual([{ id: 'e9' }])
    stop()
    expect(es.closed).toBe(true)
  })

  it('tells of a stream that dropped, reconnected or gave up', () => {
    const api = createRestApi({ fetch: vi.fn(), EventSource: FakeEventSource as unknown as typeof EventSource })
    const errors: string[] = []
    let opened = 0
    api.subscribe({ org: 'acme' }, () => {}, (e) => errors.push((e as ApiError).code), () => opened++)
    const es = FakeEventSource.last!
    es.readyState = 0 // CONNECTING: the browser tries again by itself
    es.onerror?.()
    es.readyState = 1
    es.onopen?.()
    es.readyState = 2 // CLOSED: it gave up
    es.onerror?.()
    expect(errors).toEqual(['unreachable', 'stream_closed'])
    expect(opened).toBe(1)
  })

  it('reports verify progress from the SSE stream while the POST runs', async () => {
    let resolve!: (r: Response) => void
    const fetch = vi.fn(() => new Promise<Response>((r) => (resolve = r)))
    const api = createRestApi({ fetch, EventSource: FakeEventSource as unknown as typeof EventSource })
    const progress: unknown[] = []
    const done = api.verify('acme', (p) => progress.push(p))
    const es = FakeEventSource.last!
    expect(es.url).toBe('/api/verify/stream?org=acme')
    es.dispatch('progress', { done: 5, total: 10 })
    resolve(jsonResponse({ org: 'acme', clean: true, events: 10, problems: [] }))
    expect(await done).toMatchObject({ clean: true })
    expect(progress).toEqual([{ org: 'acme', done: 5, total: 10 }])
    expect(es.closed).toBe(true)
  })

  it('sends the session key with every request and stream', async () => {
    const fetch = vi.fn(() => Promise.resolve(jsonResponse({ name: 'axiom-audit' })))
    const api = createRestApi({ fetch, EventSource: FakeEventSource as unknown as typeof EventSource, sessionKey: 'k/1' })
    await api.info()
    const init = (fetch.mock.calls[0] as unknown as [string, RequestInit])[1]
    expect((init.headers as Record<string, string>)['X-Axiom-Session']).toBe('k/1')
    api.subscribe({ org: 'acme' }, () => {})
    expect(FakeEventSource.last!.url).toBe('/api/operations/stream?org=acme&session=k%2F1')
  })
})

describe('sessionKey', () => {
  it('takes the key from the login redirect, keeps it, and clears the address bar', () => {
    window.localStorage.clear()
    window.history.replaceState(null, '', '/timeline?x=1#session=abc123')
    expect(sessionKey()).toBe('abc123')
    expect(window.location.hash).toBe('')
    expect(window.location.pathname + window.location.search).toBe('/timeline?x=1')
    // A later load of the app (another tab) finds it in storage.
    expect(sessionKey()).toBe('abc123')
    window.localStorage.clear()
    expect(sessionKey()).toBe('')
  })
})
