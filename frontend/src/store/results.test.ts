import { describe, expect, it, vi } from 'vitest'
import type { AuditApi } from '../api/client'
import { createFakeApi } from '../api/fake'
import type { EventPageDTO, QueryDTO } from '../api/types'
import { makeEvent, NOW } from '../test/render'
import { COUNT_BATCH_MS, createResultsStore, PAGE_SIZE } from './results'

const many = Array.from({ length: 450 }, (_, i) => makeEvent(i + 1, { status: i % 10 === 0 ? 'failed' : 'applied' }))

describe('the results store', () => {
  it('loads the first page, then appends pages by cursor until the end', async () => {
    const store = createResultsStore(createFakeApi(many, { now: () => NOW }))
    await store.getState().load({ org: 'acme' })
    expect(store.getState().rows).toHaveLength(PAGE_SIZE)
    expect(store.getState().rows[0]?.seq).toBe(450)
    await store.getState().loadMore()
    await store.getState().loadMore()
    expect(store.getState().rows.map((e) => e.seq)).toEqual(Array.from({ length: 450 }, (_, i) => 450 - i))
    expect(store.getState().nextCursor).toBeUndefined()
    await store.getState().loadMore() // no more pages: nothing happens
    expect(store.getState().rows).toHaveLength(450)
  })

  it('aborts the requests of a filter that has since changed, so the server stops scanning for them', async () => {
    const fake = createFakeApi(many, { now: () => NOW })
    const signals: Record<string, AbortSignal[]> = { list: [], overview: [] }
    const api: AuditApi = {
      ...fake,
      listEvents: (q, signal) => (signals.list!.push(signal!), fake.listEvents(q)),
      overview: (q, signal) => (signals.overview!.push(signal!), fake.overview(q)),
    }
    const store = createResultsStore(api)
    const first = store.getState().load({ org: 'acme' })
    const second = store.getState().load({ org: 'acme', statuses: ['failed'] })
    await Promise.all([first, second])
    for (const kind of ['list', 'overview']) {
      const [old, current] = signals[kind]!
      expect(old?.aborted, kind).toBe(true)
      expect(current?.aborted, kind).toBe(false)
    }
    expect(store.getState().error).toBeUndefined()
    expect(store.getState().rows.every((e) => e.status === 'failed')).toBe(true)
  })

  it('asks for the facets and the histogram, on the clock of the zone shown, in one request, and only for the histogram when the zone changes', async () => {
    const fake = createFakeApi(many, { now: () => NOW })
    const calls: string[] = []
    const api: AuditApi = {
      ...fake,
      listEvents: (q, signal) => (calls.push('list'), fake.listEvents(q, signal)),
      facets: (q, signal) => (calls.push('facets'), fake.facets(q, signal)),
      histogram: (q, signal) => (calls.push(`histogram ${q.timeZone ?? 'none'}`), fake.histogram(q, signal)),
      overview: (q, signal) => (calls.push(`overview ${q.timeZone ?? 'none'}`), fake.overview(q, signal)),
    }
    const store = createResultsStore(api)
    await store.getState().load({ org: 'acme' }, 'Asia/Kolkata')
    await vi.waitFor(() => expect(store.getState().facetsLoading).toBe(false))
    expect(store.getState().facets?.['status']).toEqual([{ value: 'applied', count: 405 }, { value: 'failed', count: 45 }])
    store.getState().loadHistogram('UTC')
    await vi.waitFor(() => expect(store.getState().histogramLoading).toBe(false))
    expect(calls.sort()).toEqual(['histogram UTC', 'list', 'overview Asia/Kolkata'])
  })

  it('shows the histogram of the zone asked for last, even when the first answer comes after it', async () => {
    const fake = createFakeApi(many, { now: () => NOW })
    let release!: () => void
    const slow = new Promise<void>((r) => (release = r))
    const utc = { bucketSeconds: 3600, buckets: [] }
    const api: AuditApi = {
      ...fake,
      overview: async (q) => (await slow, fake.overview(q)),
      histogram: async () => utc,
    }
    const store = createResultsStore(api)
    await store.getState().load({ org: 'acme' }, 'Asia/Kolkata')
    store.getState().loadHistogram('UTC')
    await vi.waitFor(() => expect(store.getState().histogram).toBe(utc))
    release()
    await vi.waitFor(() => expect(store.getState().facetsLoading).toBe(false))
    expect(store.getState().facets?.['status']).toHaveLength(2)
    expect(store.getState().histogram).toBe(utc)
  })

  it('counts a live event in the bucket whose start and end hold it, the buckets not all as long', async () => {
    const fake = createFakeApi(many.slice(0, 5), { now: () => NOW })
    // A day of 25 hours (Adelaide, when daylight saving ends), then one of 24.
    const h = {
      bucketSeconds: 86_400,
      buckets: [
        { start: '2026-04-04T13:30:00Z', end: '2026-04-05T14:30:00Z', count: 0, byRisk: {}, byStatus: {} },
        { start: '2026-04-05T14:30:00Z', end: '2026-04-06T14:30:00Z', count: 0, byRisk: {}, byStatus: {} },
      ],
    }
    const store = createResultsStore({ ...fake, overview: async (q) => ({ facets: await fake.facets(q), histogram: h }) })
    await store.getState().load({ org: 'acme' })
    await vi.waitFor(() => expect(store.getState().histogram).toBe(h))
    // 24 h 30 min after the first day's start: still in it (an equal step would put it in the next).
    store.getState().receive(makeEvent(1000, { timestamp: '2026-04-05T14:00:00Z', riskLevel: 'high' }))
    expect(store.getState().histogram?.buckets.map((b) => [b.count, b.byRisk['high'] ?? 0])).toEqual([[1, 1], [0, 0]])
  })

  it('ignores an answer to a filter that has since changed', async () => {
    const fake = createFakeApi(many, { now: () => NOW })
    let release!: () => void
    const slow = new Promise<void>((r) => (release = r))
    const api: AuditApi = {
      ...fake,
      listEvents: async (q: QueryDTO): Promise<EventPageDTO> => {
        if (!q.statuses) await slow
        return fake.listEvents(q)
      },
    }
    const store = createResultsStore(api)
    const first = store.getState().load({ org: 'acme' })
    await store.getState().load({ org: 'acme', statuses: ['failed'] })
    release()
    await first
    expect(store.getState().rows.every((e) => e.status === 'failed')).toBe(true)
    expect(store.getState().query?.statuses).toEqual(['failed'])
  })

  it('keeps the error and no rows when the first page fails', async () => {
    const api = createFakeApi(many, { now: () => NOW, failWith: { code: 'integrity_alert', message: 'leaf 7 does not match' } })
    const store = createResultsStore(api)
    await store.getState().load({ org: 'acme' })
    expect(store.getState()).toMatchObject({ rows: [], loading: false, error: { code: 'integrity_alert' } })
  })

  it('counts a live event that fails one facet condition for that field only, and one that fails two not at all', async () => {
    const fake = createFakeApi(many.slice(0, 20), { now: () => NOW })
    const store = createResultsStore(fake)
    await store.getState().load({ org: 'acme', statuses: ['failed'], notProviders: ['gcp'] })
    await vi.waitFor(() => expect(store.getState().facets).toBeDefined())
    const count = (key: 'status' | 'provider' | 'userId', value: string) => store.getState().facets?.[key]?.find((f) => f.value === value)?.count ?? 0
    const rows = store.getState().rows.length
    const [applied, failed, gcp, aws] = [count('status', 'applied'), count('status', 'failed'), count('provider', 'gcp'), count('provider', 'aws')]
    const user = makeEvent(1).userId
    const users = count('userId', user)
    store.getState().receive(makeEvent(500, { status: 'applied', provider: 'aws' })) // fails the status condition only
    store.getState().receive(makeEvent(501, { status: 'failed', provider: 'gcp' })) // fails the provider condition only
    store.getState().receive(makeEvent(502, { status: 'applied', provider: 'gcp' })) // fails both
    expect(store.getState().rows).toHaveLength(rows)
    // Counted together a moment later (one sidebar update for many events).
    expect(count('status', 'applied')).toBe(applied)
    await vi.waitFor(() => expect([count('status', 'applied'), count('status', 'failed'), count('provider', 'gcp'), count('provider', 'aws')]).toEqual([applied + 1, failed, gcp + 1, aws]))
    expect(count('userId', user)).toBe(users)
    store.getState().receive(makeEvent(503, { status: 'failed', provider: 'aws' })) // matches: a row, counted everywhere
    expect(store.getState().rows).toHaveLength(rows + 1)
    expect([count('status', 'failed'), count('provider', 'aws'), count('userId', user)]).toEqual([failed + 1, aws + 1, users + 1])
  })

  it('drops the batched counts of a query that has since changed', async () => {
    const fake = createFakeApi(many.slice(0, 20), { now: () => NOW })
    const store = createResultsStore(fake)
    await store.getState().load({ org: 'acme', statuses: ['failed'] })
    await vi.waitFor(() => expect(store.getState().facets).toBeDefined())
    store.getState().receive(makeEvent(600, { status: 'pending' }))
    await store.getState().load({ org: 'acme', statuses: ['applied'] })
    await vi.waitFor(() => expect(store.getState().facetsLoading).toBe(false))
    const pending = store.getState().facets?.status?.find((f) => f.value === 'pending')?.count ?? 0
    await new Promise((r) => setTimeout(r, COUNT_BATCH_MS * 2))
    expect(store.getState().facets?.status?.find((f) => f.value === 'pending')?.count ?? 0).toBe(pending)
  })

  it('shows live events at the top, holds them while paused or scrolled away, and counts them in the facets', async () => {
    const fake = createFakeApi(many.slice(0, 5), { now: () => NOW })
    const store = createResultsStore(fake)
    await store.getState().load({ org: 'acme' })
    await vi.waitFor(() => expect(store.getState().facets).toBeDefined())
    const before = store.getState().facets?.status?.find((f) => f.value === 'applied')?.count ?? 0
    const e1 = makeEvent(100)
    store.getState().receive(e1)
    expect(store.getState().rows[0]?.id).toBe(e1.id)
    expect(store.getState().fresh.has(e1.id)).toBe(true)
    expect(store.getState().facets?.status?.find((f) => f.value === 'applied')?.count).toBe(before + 1)
    store.getState().receive(e1) // a duplicate is dropped
    expect(store.getState().rows.filter((r) => r.id === e1.id)).toHaveLength(1)

    store.getState().setAtTop(false)
    store.getState().receive(makeEvent(101))
    expect(store.getState().pending).toHaveLength(1)
    store.getState().setAtTop(true) // back at the top: shown
    expect(store.getState().pending).toHaveLength(0)
    expect(store.getState().rows[0]?.seq).toBe(101)

    store.getState().setPaused(true)
    store.getState().receive(makeEvent(102))
    store.getState().receive(makeEvent(103))
    expect(store.getState().pending.map((e) => e.seq)).toEqual([103, 102])
    store.getState().setPaused(false)
    expect(store.getState().rows.slice(0, 2).map((e) => e.seq)).toEqual([103, 102])
  })

  it('keeps the selection on the same event when live events arrive above it', async () => {
    const store = createResultsStore(createFakeApi(many.slice(0, 5), { now: () => NOW }))
    await store.getState().load({ org: 'acme' })
    store.getState().select(2)
    const id = store.getState().rows[2]?.id
    store.getState().receive(makeEvent(200))
    expect(store.getState().rows[store.getState().selected]?.id).toBe(id)
  })

  it('places a live event by its timestamp, and drops one from before the range', async () => {
    const store = createResultsStore(createFakeApi(many.slice(0, 5), { now: () => NOW }))
    const since = new Date(NOW - 24 * 3600_000).toISOString()
    await store.getState().load({ org: 'acme', since })
    await vi.waitFor(() => expect(store.getState().facets).toBeDefined())
    const total = () => (store.getState().facets?.status ?? []).reduce((n, f) => n + f.count, 0)
    const counted = total()
    const seqs = () => store.getState().rows.map((e) => e.seq)
    expect(seqs()).toEqual([5, 4, 3, 2, 1])
    // Appended now, timestamped between events 3 and 4 (an hour ago, in range).
    const between = makeEvent(300, { timestamp: new Date((Date.parse(many[2]!.timestamp) + Date.parse(many[3]!.timestamp)) / 2).toISOString() })
    store.getState().receive(between)
    expect(seqs()).toEqual([5, 4, 300, 3, 2, 1])
    // Timestamped three days ago: outside the last 24 hours.
    store.getState().receive(makeEvent(301, { timestamp: new Date(NOW - 3 * 24 * 3600_000).toISOString() }))
    expect(seqs()).toEqual([5, 4, 300, 3, 2, 1])
    expect(total()).toBe(counted + 1)
    // Held while paused, then placed the same way; the pill counts in-range events only.
    store.getState().setPaused(true)
    store.getState().receive(makeEvent(302, { timestamp: new Date(NOW - 4 * 24 * 3600_000).toISOString() }))
    store.getState().receive(makeEvent(303, { timestamp: many[0]!.timestamp }))
    expect(store.getState().pending.map((e) => e.seq)).toEqual([303])
    store.getState().setPaused(false)
    expect(seqs()).toEqual([5, 4, 300, 3, 2, 303, 1])
  })

  // The server fixes a ceiling seq on the first page (storage/query.go List;
  // TestQuery_CursorStableWhileAppending): an event appended after it never
  // joins the later pages. The fake over `many` answers the same way.
  it('an in-range live event older than the loaded rows shows once all pages are loaded', async () => {
    const store = createResultsStore(createFakeApi(many, { now: () => NOW }))
    await store.getState().load({ org: 'acme' })
    await vi.waitFor(() => expect(store.getState().facets).toBeDefined())
    const oldest = store.getState().rows.at(-1)!
    const late = makeEvent(900, { timestamp: new Date(Date.parse(oldest.timestamp) - 30_000).toISOString() })
    const applied = () => store.getState().facets?.status?.find((f) => f.value === 'applied')?.count ?? 0
    const before = applied()
    store.getState().receive(late)
    expect(applied()).toBe(before + 1) // counted when it arrives
    expect(store.getState().rows.some((e) => e.id === late.id)).toBe(false) // below the loaded rows
    while (store.getState().nextCursor) await store.getState().loadMore()
    expect(store.getState().rows).toHaveLength(451)
    expect(store.getState().rows.at(-1)?.id).not.toBe(late.id)
    const i = store.getState().rows.findIndex((e) => e.id === late.id)
    expect(store.getState().rows[i - 1]?.id).toBe(oldest.id) // right below the row it follows
  })

  it('holds such an event through a pause, and shows it once its page is loaded', async () => {
    const store = createResultsStore(createFakeApi(many, { now: () => NOW }))
    await store.getState().load({ org: 'acme' })
    const oldest = store.getState().rows.at(-1)!
    store.getState().setPaused(true)
    store.getState().receive(makeEvent(901, { timestamp: new Date(Date.parse(oldest.timestamp) - 30_000).toISOString() }))
    expect(store.getState().pending).toHaveLength(1)
    store.getState().setPaused(false)
    expect(store.getState().pending).toHaveLength(0)
    while (store.getState().nextCursor) await store.getState().loadMore()
    expect(store.getState().rows.some((e) => e.seq === 901)).toBe(true)
  })

  it('keeps the selection and highlight when several events land at various positions', async () => {
    const store = createResultsStore(createFakeApi(many.slice(0, 6), { now: () => NOW }))
    await store.getState().load({ org: 'acme' })
    store.getState().select(3)
    const id = store.getState().rows[3]!.id
    store.getState().setPaused(true)
    const ts = (i: number) => Date.parse(many[i]!.timestamp)
    store.getState().receive(makeEvent(700, { timestamp: new Date(ts(5) + 1000).toISOString() }))
    store.getState().receive(makeEvent(701, { timestamp: new Date(ts(1) + 1000).toISOString() }))
    store.getState().receive(makeEvent(702, { timestamp: many[3]!.timestamp }))
    store.getState().setPaused(false)
    const s = store.getState()
    expect(s.rows.map((e) => e.seq)).toEqual([700, 6, 5, 702, 4, 3, 701, 2, 1])
    expect(s.rows[s.selected]!.id).toBe(id)
    expect([...s.fresh].sort()).toEqual(['evt_700', 'evt_701', 'evt_702'])
  })

  it('orders events within one millisecond as the server does (nanosecond timestamps, then seq)', async () => {
    const a = makeEvent(10, { timestamp: '2026-11-20T11:00:00.000900Z' })
    const store = createResultsStore(createFakeApi([a], { now: () => NOW }))
    await store.getState().load({ org: 'acme' })
    // Appended later (higher seq) but stamped 0.8 ms earlier: below a on reload.
    store.getState().receive(makeEvent(11, { timestamp: '2026-11-20T11:00:00.000100Z' }))
    expect(store.getState().rows.map((e) => e.seq)).toEqual([10, 11])
  })
  void PAGE_SIZE
})
