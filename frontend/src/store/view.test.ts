import { describe, expect, it } from 'vitest'
import { memoryLocation } from '../test/render'
import { createViewStore, viewFromSearch, viewQuery, viewToSearch, type View } from './view'

describe('the view in the URL', () => {
  it('round-trips every field', () => {
    const v: View = { org: 'acme prod', q: 'status:failed -provider:gcp "a b"', range: { kind: 'absolute', from: '2026-11-01T00:00:00.000Z', to: '2026-11-02T06:30:00.000Z' }, tz: 'utc', stackBy: 'status', event: 'evt_1' }
    expect(viewFromSearch(viewToSearch(v))).toEqual(v)
    const r: View = { org: 'a', q: '', range: { kind: 'relative', preset: '7d' }, tz: 'local', stackBy: 'risk', event: undefined }
    expect(viewFromSearch(viewToSearch(r))).toEqual(r)
  })

  it('keeps the demo flags and drops defaults', () => {
    expect(viewToSearch({ org: 'a', q: '', range: { kind: 'relative', preset: '24h' }, tz: 'local', stackBy: 'risk' }, '?fake=1&junk=2')).toBe('?fake=1&org=a')
  })

  it('falls back to 24h for a bad range', () => {
    expect(viewFromSearch('?range=2y&from=nope&to=x').range).toEqual({ kind: 'relative', preset: '24h' })
    expect(viewFromSearch('?from=2026-11-01T00:00:00Z&to=2026-11-01T00:00:00Z').range).toEqual({ kind: 'relative', preset: '24h' })
  })

  it('reads a reversed range the right way round, as the Custom picker does', () => {
    expect(viewFromSearch('?from=2026-11-29T00:00:00Z&to=2026-11-01T00:00:00Z').range).toEqual({
      kind: 'absolute', from: '2026-11-01T00:00:00.000Z', to: '2026-11-29T00:00:00.000Z',
    })
  })

  it('turns a view into a query with since/until', () => {
    const q = viewQuery({ org: 'a', q: 'risk:high x', range: { kind: 'relative', preset: '1h' }, tz: 'local', stackBy: 'risk' }, Date.parse('2026-01-01T01:00:00Z'))
    expect(q).toEqual({ org: 'a', riskLevels: ['high'], text: 'x', since: '2026-01-01T00:00:00.000Z' })
  })

  it('pushes filter changes to history and replaces cosmetic ones', () => {
    const mem = memoryLocation('?org=a')
    const store = createViewStore(mem.loc, mem.history, () => 1)
    store.getState().set({ q: 'status:failed' })
    store.getState().set({ tz: 'utc' }, 'replace')
    expect(mem.entries).toEqual(['?org=a', '?org=a&q=status%3Afailed&tz=utc'])
    mem.loc.search = '?org=b&range=7d'
    store.getState().syncFromUrl()
    expect(store.getState()).toMatchObject({ org: 'b', q: '', range: { kind: 'relative', preset: '7d' } })
  })
})
