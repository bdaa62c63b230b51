import { describe, expect, it } from 'vitest'
import { generateDataset } from './dataset'
import { createFakeApi } from './fake'
import type { EventDTO } from './types'

const END = Date.parse('2026-11-20T12:00:00Z')

function ev(seq: number, over: Partial<EventDTO>): EventDTO {
  return {
    id: `e${seq}`, seq, timestamp: new Date(END - (100 - seq) * 60_000).toISOString(), recordedAt: '', organizationId: 'acme',
    userId: 'alice', provider: 'aws', actionType: 'scan.completed', category: 'scan', resourceIds: ['arn:aws:s3:::logs'],
    status: 'applied', riskLevel: 'low', metadata: {}, prevHash: '', leafHash: '', retention: 'operational', soc2: [], iso27001: [],
    ...over,
  }
}

const events = [
  ev(1, {}),
  ev(2, { status: 'failed', riskLevel: 'high', actionType: 'apply.mutation', category: 'apply', resourceIds: ['arn:aws:ec2:i-1'] }),
  ev(3, { provider: 'gcp', userId: 'bob' }),
  ev(4, { status: 'failed', provider: 'azure', resourceIds: ['/subscriptions/x/vm-1'] }),
  ev(5, { riskLevel: 'medium', metadata: { planId: 'pln_1' } }),
]

describe('createFakeApi over explicit events', () => {
  const api = createFakeApi(events, { now: () => END })

  it('filters with OR within a field and AND across fields', async () => {
    const p = await api.listEvents({ org: 'acme', statuses: ['failed'], providers: ['aws', 'azure'] })
    expect(p.events.map((e) => e.id)).toEqual(['e4', 'e2'])
    const q = await api.listEvents({ org: 'acme', notStatuses: ['failed'], notProviders: ['gcp'] })
    expect(q.events.map((e) => e.id)).toEqual(['e5', 'e1'])
  })

  it('matches resources exactly or by prefix, and free text', async () => {
    expect((await api.listEvents({ org: 'acme', resourceIdPrefix: 'arn:aws:ec2' })).events.map((e) => e.id)).toEqual(['e2'])
    expect((await api.listEvents({ org: 'acme', resourceId: 'arn:aws:s3:::logs' })).events).toHaveLength(3)
    expect((await api.listEvents({ org: 'acme', text: 'bob' })).events.map((e) => e.id)).toEqual(['e3'])
  })

  it('pages with cursors in both orders', async () => {
    const a = await api.listEvents({ org: 'acme', limit: 2 })
    expect(a.events.map((e) => e.id)).toEqual(['e5', 'e4'])
    const b = await api.listEvents({ org: 'acme', limit: 2, cursor: a.nextCursor })
    expect(b.events.map((e) => e.id)).toEqual(['e3', 'e2'])
    const c = await api.listEvents({ org: 'acme', limit: 2, cursor: b.nextCursor })
    expect(c.events.map((e) => e.id)).toEqual(['e1'])
    expect(c.nextCursor).toBeUndefined()
    const o = await api.listEvents({ org: 'acme', limit: 3, order: 'oldest' })
    expect(o.events.map((e) => e.id)).toEqual(['e1', 'e2', 'e3'])
  })

  it('counts facets under the filter, each field without its own conditions', async () => {
    const f = await api.facets({ org: 'acme', notProviders: ['gcp'] })
    expect(f.status).toEqual([{ value: 'applied', count: 2 }, { value: 'failed', count: 2 }])
    // gcp is filtered out, and still counted: the sidebar can take it back.
    expect(f.provider).toEqual([{ value: 'aws', count: 3 }, { value: 'azure', count: 1 }, { value: 'gcp', count: 1 }])
    const g = await api.facets({ org: 'acme', providers: ['aws'], statuses: ['failed'] })
    expect(g.provider).toEqual([{ value: 'aws', count: 1 }, { value: 'azure', count: 1 }])
    expect(g.status).toEqual([{ value: 'applied', count: 2 }, { value: 'failed', count: 1 }])
    expect(g.riskLevel).toEqual([{ value: 'high', count: 1 }])
    // An actionType filter is not a facet's: it holds for every field.
    const h = await api.facets({ org: 'acme', actionTypes: ['apply.mutation'], providers: ['gcp'] })
    expect(h.provider).toEqual([{ value: 'aws', count: 1 }])
    expect(h.category).toEqual([])
  })

  it('buckets the histogram by risk and status', async () => {
    const h = await api.histogram({ org: 'acme', since: new Date(END - 3 * 3600_000).toISOString(), until: new Date(END).toISOString() })
    const total = h.buckets.reduce((n, b) => n + b.count, 0)
    expect(total).toBe(5)
    const high = h.buckets.reduce((n, b) => n + (b.byRisk.high ?? 0), 0)
    expect(high).toBe(1)
    expect(h.bucketSeconds).toBeGreaterThan(0)
  })

  it('rejects an unknown organization with not_found', async () => {
    await expect(api.listEvents({ org: 'nope' })).rejects.toMatchObject({ code: 'not_found' })
  })

  it('delivers emitted events to matching subscribers only', () => {
    const got: string[] = []
    const other: string[] = []
    const stop = api.subscribe({ org: 'acme' }, (e) => got.push(e.id))
    const stop2 = api.subscribe({ org: 'acme', statuses: ['pending'] }, (e) => other.push(e.id))
    const e = api.emit('acme')
    expect(got).toEqual([e.id])
    expect(other).toEqual([])
    stop()
    stop2()
    api.emit('acme')
    expect(got).toHaveLength(1)
  })
})

describe('the generated dataset', () => {
  it('is deterministic and ordered in time', () => {
    const a = generateDataset({ org: 'acme', count: 5000, end: END })
    const b = generateDataset({ org: 'acme', count: 5000, end: END })
    expect(a.event(1234)).toEqual(b.event(1234))
    for (let i = 1; i < 5000; i++) expect(a.time(i)).toBeGreaterThanOrEqual(a.time(i - 1))
    expect(a.time(4999)).toBe(END)
  })

  it('gives mutations before/after states and shares plan ids within a chain', () => {
    const ds = generateDataset({ org: 'acme', count: 20000, end: END })
    const apply = Array.from({ length: 20000 }, (_, i) => i).map((i) => ds.event(i)).filter((e) => e.category === 'apply')
    expect(apply.length).toBeGreaterThan(100)
    expect(apply[0]?.beforeState).toBeDefined()
    expect(apply[0]?.afterState).not.toEqual(apply[0]?.beforeState)
  })

  it('pages a million events quickly without building them all', async () => {
    const api = createFakeApi(undefined, { orgs: [{ id: 'big', count: 1_000_000 }], end: END, now: () => END })
    const t0 = performance.now()
    const page = await api.listEvents({ org: 'big', limit: 200 })
    expect(page.events).toHaveLength(200)
    expect(page.events[0]?.seq).toBe(1_000_000)
    const next = await api.listEvents({ org: 'big', limit: 200, cursor: page.nextCursor })
    expect(next.events[0]?.seq).toBe(999_800)
    const filtered = await api.listEvents({ org: 'big', statuses: ['failed'], riskLevels: ['high'], limit: 50 })
    expect(filtered.events.every((e) => e.status === 'failed' && e.riskLevel === 'high')).toBe(true)
    expect(performance.now() - t0).toBeLessThan(5000)
  })
})

describe('fake retention', () => {
  it('keeps the log’s own events indefinite, as the app does', async () => {
    const api = createFakeApi(events)
    await expect(api.setRetention({ org: 'acme', class: 'material', category: 'audit', days: 30 })).rejects.toMatchObject({ status: 400 })
    const after = await api.setRetention({ org: 'acme', class: 'material', days: 365 })
    // Shorter than indefinite: pending a week, as in the app.
    const pending = after.pending?.[0]?.rules ?? []
    expect(after.rules).toContainEqual(expect.objectContaining({ class: 'material', indefinite: true }))
    expect(pending).toContainEqual(expect.objectContaining({ class: 'material', category: 'audit', indefinite: true }))
    expect(pending).toContainEqual(expect.objectContaining({ class: 'material', days: 365 }))
  })
})
