// The view: which organization, query, time range and event the user is
// looking at. It lives in the URL (search params) so a view can be
// bookmarked and shared, and back/forward walk through earlier views.

import { createStore, type StoreApi } from 'zustand/vanilla'
import type { QueryDTO } from '../api/types'
import { parseQuery } from '../query/parse'
import type { TimeZoneMode } from '../lib/time'

export const PRESETS = ['15m', '1h', '24h', '7d', '30d', '90d'] as const
export type Preset = (typeof PRESETS)[number]

const PRESET_MS: Record<Preset, number> = {
  '15m': 15 * 60_000, '1h': 3600_000, '24h': 86400_000, '7d': 7 * 86400_000, '30d': 30 * 86400_000, '90d': 90 * 86400_000,
}

export type TimeRange = { kind: 'relative'; preset: Preset } | { kind: 'absolute'; from: string; to: string }

export interface View {
  org: string
  q: string
  range: TimeRange
  tz: TimeZoneMode
  stackBy: 'risk' | 'status'
  /** The event open in the drawer. */
  event?: string
}

export const DEFAULT_VIEW: View = { org: '', q: '', range: { kind: 'relative', preset: '24h' }, tz: 'local', stackBy: 'risk' }

// Params that belong to the page, not the view (kept as they are).
const PASSTHROUGH = ['fake', 'events', 'latency', 'live', 'fail']

export function viewFromSearch(search: string): View {
  const p = new URLSearchParams(search)
  const from = p.get('from')
  const to = p.get('to')
  const preset = p.get('range') as Preset | null
  // A reversed range (a link typed by hand) is read the right way round,
  // as the Custom picker does; an empty one is no range.
  const [a, b] = [Date.parse(from ?? ''), Date.parse(to ?? '')]
  const range: TimeRange =
    !Number.isNaN(a) && !Number.isNaN(b) && a !== b
      ? { kind: 'absolute', from: new Date(Math.min(a, b)).toISOString(), to: new Date(Math.max(a, b)).toISOString() }
      : { kind: 'relative', preset: preset && (PRESETS as readonly string[]).includes(preset) ? preset : DEFAULT_VIEW.range.kind === 'relative' ? DEFAULT_VIEW.range.preset : '24h' }
  return {
    org: p.get('org') ?? '',
    q: p.get('q') ?? '',
    range,
    tz: p.get('tz') === 'utc' ? 'utc' : 'local',
    stackBy: p.get('stack') === 'status' ? 'status' : 'risk',
    event: p.get('event') ?? undefined,
  }
}

export function viewToSearch(v: View, current = ''): string {
  const p = new URLSearchParams()
  const cur = new URLSearchParams(current)
  for (const k of PASSTHROUGH) {
    const x = cur.get(k)
    if (x !== null) p.set(k, x)
  }
  if (v.org) p.set('org', v.org)
  if (v.q) p.set('q', v.q)
  if (v.range.kind === 'relative') {
    if (v.range.preset !== '24h') p.set('range', v.range.preset)
  } else {
    p.set('from', v.range.from)
    p.set('to', v.range.to)
  }
  if (v.tz === 'utc') p.set('tz', 'utc')
  if (v.stackBy === 'status') p.set('stack', 'status')
  if (v.event) p.set('event', v.event)
  const s = p.toString()
  return s ? '?' + s : ''
}

/** The time bounds of a range at `now`, in ms. */
export function rangeBounds(r: TimeRange, now: number): { since: number; until?: number } {
  if (r.kind === 'absolute') return { since: Date.parse(r.from), until: Date.parse(r.to) }
  return { since: now - PRESET_MS[r.preset] }
}

/** The QueryDTO a view asks for (without paging). */
export function viewQuery(v: View, now: number): QueryDTO {
  const { filter } = parseQuery(v.q)
  const b = rangeBounds(v.range, now)
  return {
    org: v.org,
    ...filter,
    since: new Date(b.since).toISOString(),
    ...(b.until !== undefined ? { until: new Date(b.until).toISOString() } : {}),
  }
}

export interface ViewState extends View {
  /** When relative ranges were last resolved; bumping it refreshes the data. */
  now: number
  /**
   * The query being typed in the bar and not applied yet (not in the URL);
   * undefined when the bar shows q. Kept here so that a facet click can add
   * to it rather than throw it away.
   */
  draft?: string
  set(patch: Partial<View>, how?: 'push' | 'replace'): void
  setDraft(draft: string | undefined): void
  /** Takes the view from the URL (back/forward). */
  syncFromUrl(): void
  refresh(): void
}

export interface HistoryLike {
  pushState(data: unknown, unused: string, url?: string): void
  replaceState(data: unknown, unused: string, url?: string): void
}

export function createViewStore(
  loc: { search: string; pathname: string; hash: string } = window.location,
  history: HistoryLike = window.history,
  clock: () => number = Date.now,
): StoreApi<ViewState> {
  return createStore<ViewState>((set, get) => ({
    ...viewFromSearch(loc.search),
    now: clock(),
    set: (patch, how = 'push') => {
      const prev = get()
      const next: View = { org: prev.org, q: prev.q, range: prev.range, tz: prev.tz, stackBy: prev.stackBy, event: prev.event, ...patch }
      const search = viewToSearch(next, loc.search)
      if (search !== loc.search) {
        const url = loc.pathname + search + loc.hash
        if (how === 'push') history.pushState(null, '', url)
        else history.replaceState(null, '', url)
      }
      const filterChanged = patch.q !== undefined || patch.range !== undefined || patch.org !== undefined
      // Applying a query replaces whatever was being typed.
      set({ ...next, ...(filterChanged ? { now: clock() } : {}), ...(patch.q !== undefined ? { draft: undefined } : {}) })
    },
    setDraft: (draft) => set({ draft }),
    syncFromUrl: () => {
      const v = viewFromSearch(loc.search)
      set({ ...v, now: clock(), ...(v.q !== get().q ? { draft: undefined } : {}) })
    },
    refresh: () => set({ now: clock() }),
  }))
}
