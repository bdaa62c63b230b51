import { describe, expect, it, vi } from 'vitest'
import { createWailsApi, type WailsBindings, type WailsRuntime } from './wails'

function bindings(over: Partial<WailsBindings> = {}): WailsBindings {
  const ok = <T,>(v: T) => vi.fn(() => Promise.resolve(v))
  return {
    Info: ok({ name: 'Axiom Audit', version: '1', profile: 'p', dataDir: '/d' }),
    Ready: ok(undefined),
    Organizations: ok([{ id: 'acme', size: 3 }]),
    ListEvents: ok({ events: [], nextCursor: '' }),
    GetEvent: ok({ id: 'e1' }),
    EventProof: ok({ verified: true }),
    Facets: ok({}),
    Histogram: ok({ bucketSeconds: 60, buckets: [] }),
    Overview: ok({ facets: {}, histogram: { bucketSeconds: 60, buckets: [] } }),
    LatestCheckpoint: ok({ size: 3 }),
    Verify: ok({ clean: true }),
    Subscribe: ok(undefined),
    Unsubscribe: ok(undefined),
    ...over,
  } as unknown as WailsBindings
}

function runtime() {
  const handlers = new Map<string, (...d: unknown[]) => void>()
  const offs: string[] = []
  const rt: WailsRuntime = {
    EventsOn: (name, cb) => {
      handlers.set(name, cb as (...d: unknown[]) => void)
      return () => offs.push(name)
    },
  }
  return { rt, handlers, offs }
}

describe('createWailsApi', () => {
  it('titles the folder picker when asked', async () => {
    const b = bindings({ ChooseExportFolder: vi.fn(() => Promise.resolve('/e')), ChooseFolder: vi.fn(() => Promise.resolve('')) } as Partial<WailsBindings>)
    const api = createWailsApi(b, undefined)
    expect(await api.chooseExportFolder()).toBe('/e')
    expect(await api.chooseExportFolder('Choose the folder for the report')).toBeUndefined()
    expect(b.ChooseFolder).toHaveBeenCalledWith('Choose the folder for the report')
    expect(b.ChooseExportFolder).toHaveBeenCalledTimes(1)
  })

  it('passes queries straight to the bindings', async () => {
    const b = bindings()
    const api = createWailsApi(b, undefined)
    expect(await api.listEvents({ org: 'acme', statuses: ['failed'] })).toEqual({ events: [], nextCursor: undefined })
    expect(b.ListEvents).toHaveBeenCalledWith({ org: 'acme', statuses: ['failed'] })
    await api.getEvent('acme', 'e1')
    expect(b.GetEvent).toHaveBeenCalledWith('acme', 'e1')
    await api.eventProof('acme', 'e1')
    await api.facets({ org: 'acme' })
    await api.histogram({ org: 'acme' })
    await api.overview({ org: 'acme', providers: ['aws'], timeZone: 'Asia/Kolkata' })
    expect(b.Overview).toHaveBeenCalledWith({ org: 'acme', providers: ['aws'], timeZone: 'Asia/Kolkata' })
    await api.latestCheckpoint('acme')
    expect(b.LatestCheckpoint).toHaveBeenCalledWith('acme')
    expect(await api.organizations()).toEqual([{ id: 'acme', size: 3 }])
  })

  it('decodes an ErrorDTO from a rejected binding', async () => {
    const b = bindings({ Organizations: vi.fn(() => Promise.reject(JSON.stringify({ code: 'keychain_unavailable', message: 'locked' }))) })
    await expect(createWailsApi(b, undefined).organizations()).rejects.toMatchObject({ code: 'keychain_unavailable', message: 'locked' })
    const c = bindings({ Info: vi.fn(() => Promise.reject('plain failure')) })
    await expect(createWailsApi(c, undefined).info()).rejects.toMatchObject({ code: 'internal', message: 'plain failure' })
  })

  it('subscribes, delivers audit:event and unsubscribes', () => {
    const b = bindings()
    const { rt, handlers, offs } = runtime()
    const got: unknown[] = []
    const stop = createWailsApi(b, rt).subscribe({ org: 'acme', cursor: 'x', limit: 5, riskLevels: ['high'] }, (e) => got.push(e))
    expect(b.Subscribe).toHaveBeenCalledWith({ org: 'acme', riskLevels: ['high'] })
    handlers.get('audit:event')?.({ id: 'e1' })
    expect(got).toEqual([{ id: 'e1' }])
    stop()
    expect(offs).toContain('audit:event')
    expect(b.Unsubscribe).toHaveBeenCalled()
  })

  it('reports a subscription the app dropped (audit:reset) as a closed stream, so that it is opened again', () => {
    const b = bindings()
    const { rt, handlers } = runtime()
    const api = createWailsApi(b, rt)
    const errs: unknown[] = []
    api.subscribe({ org: 'acme', statuses: ['failed'] }, () => {}, (err) => errs.push(err))
    handlers.get('audit:reset')?.()
    expect(errs).toMatchObject([{ code: 'stream_closed' }])
  })

  it('lets only the newest subscription unsubscribe, so a replaced one cannot cancel its successor', () => {
    const b = bindings()
    const { rt, handlers } = runtime()
    const api = createWailsApi(b, rt)
    const old: unknown[] = []
    const stopOld = api.subscribe({ org: 'a' }, (e) => old.push(e))
    const stopNew = api.subscribe({ org: 'b' }, () => {})
    stopOld()
    expect(b.Unsubscribe).not.toHaveBeenCalled()
    handlers.get('audit:event')?.({ id: 'x' })
    expect(old).toEqual([])
    stopNew()
    expect(b.Unsubscribe).toHaveBeenCalledTimes(1)
  })

  it('reports verify progress for its organization only', async () => {
    let finish!: (v: unknown) => void
    const b = bindings({ Verify: vi.fn(() => new Promise((r) => (finish = r))) as unknown as WailsBindings['Verify'] })
    const { rt, handlers, offs } = runtime()
    const progress: unknown[] = []
    const done = createWailsApi(b, rt).verify('acme', (p) => progress.push(p))
    handlers.get('audit:verify-progress')?.({ org: 'other', done: 1, total: 2 })
    handlers.get('audit:verify-progress')?.({ org: 'acme', done: 1, total: 2 })
    finish({ clean: true })
    await done
    expect(progress).toEqual([{ org: 'acme', done: 1, total: 2 }])
    expect(offs).toEqual(['audit:verify-progress'])
  })
})
