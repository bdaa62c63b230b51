// What the current view shows: the timeline's loaded pages, the facet counts,
// the histogram, and live events. Pages are kept as they load (never the
// whole log); a newer request makes older answers stale, so a slow page from
// an earlier filter can never overwrite the current one.

import { createStore, type StoreApi } from 'zustand/vanilla'
import type { AuditApi } from '../api/client'
import { toApiError, type ApiError } from '../api/errors'
import type { EventDTO, FacetsDTO, HistogramDTO, QueryDTO } from '../api/types'
import { bucketIndex } from '../lib/time'
import { FIELD_KEYS } from '../query/parse'

export const PAGE_SIZE = 200
/** How long live events that count for one facet only are gathered before the sidebar shows them. */
export const COUNT_BATCH_MS = 250

export interface ResultsState {
  query: QueryDTO | undefined
  rows: EventDTO[]
  nextCursor: string | undefined
  /** The first page of the current query is loading. */
  loading: boolean
  loadingMore: boolean
  error: ApiError | undefined
  facets: FacetsDTO | undefined
  histogram: HistogramDTO | undefined
  histogramLoading: boolean
  /** The facets of the current query are loading (they answer apart from the page). */
  facetsLoading: boolean
  selected: number
  /** Live mode: new events are shown as they arrive unless paused. */
  paused: boolean
  /** The list is scrolled to the top, so new events can be shown in place. */
  atTop: boolean
  /** Events that arrived while paused or scrolled away. */
  pending: EventDTO[]
  /** Ids of rows that arrived live, for a short highlight. */
  fresh: Set<string>

  /** Loads query's rows, facets and histogram, this one in buckets that follow timeZone's clock (an IANA name; none: UTC). */
  load(query: QueryDTO, timeZone?: string): Promise<void>
  /** Loads the histogram again in buckets that follow timeZone's clock (the time zone shown changed). */
  loadHistogram(timeZone: string | undefined): void
  /** Shows error instead of rows, loading nothing (a search with an error). */
  refuse(error: ApiError): void
  loadMore(): Promise<void>
  select(i: number): void
  receive(e: EventDTO): void
  setPaused(p: boolean): void
  setAtTop(t: boolean): void
  /** Shows the pending events at the top. */
  showPending(): void
}

export function createResultsStore(api: AuditApi): StoreApi<ResultsState> {
  let generation = 0
  let inFlight = new AbortController()
  // Live events that belong below the loaded rows while more are to load:
  // the server's pages never hold them (a query's pages stop at the newest
  // seq of its first page), so they are placed as the pages reach them.
  let held: EventDTO[] = []
  // Live events that count for one facet field only, added to the facets
  // together every COUNT_BATCH_MS (one update and one sidebar render for
  // many events); dropped when another query loads meanwhile.
  let adds: [FacetKey, string][] = []
  let addsTimer: ReturnType<typeof setTimeout> | undefined
  // Histogram requests so far: only the newest one's answer is shown.
  let histograms = 0
  return createStore<ResultsState>((set, get) => {
    const fetchHistogram = (query: QueryDTO, timeZone: string | undefined, signal: AbortSignal) => {
      const gen = generation
      const call = ++histograms
      const current = () => gen === generation && call === histograms
      api.histogram(timeZone ? { ...query, timeZone } : query, signal).then(
        (histogram) => current() && set({ histogram, histogramLoading: false }),
        () => current() && set({ histogram: undefined, histogramLoading: false }),
      )
    }
    // The facets and the histogram of a new query, in one request: the
    // server counts both in one scan where it scans. Its histogram is shown
    // unless one asked for since (another time zone) came first.
    const fetchOverview = (query: QueryDTO, timeZone: string | undefined, signal: AbortSignal) => {
      const gen = generation
      const call = ++histograms
      const show = (facets: FacetsDTO | undefined, histogram: HistogramDTO | undefined) => {
        if (gen !== generation) return
        set(call === histograms ? { facets, facetsLoading: false, histogram, histogramLoading: false } : { facets, facetsLoading: false })
      }
      api.overview(timeZone ? { ...query, timeZone } : query, signal).then(
        (o) => show(o.facets, o.histogram),
        () => show(undefined, undefined),
      )
    }
    const place = (events: EventDTO[], counted: boolean) => {
      held = held.concat(placeLive(set, get, events, counted))
    }
    const countLater = (key: FacetKey, value: string) => {
      adds.push([key, value])
      if (addsTimer !== undefined) return
      const gen = generation
      addsTimer = setTimeout(() => {
        const batch = adds
        adds = []
        addsTimer = undefined
        if (gen === generation && !get().facetsLoading) set({ facets: bumpFacets(get().facets, batch) })
      }, COUNT_BATCH_MS)
    }
    return {
      query: undefined,
      rows: [],
      nextCursor: undefined,
      loading: false,
      loadingMore: false,
      error: undefined,
      facets: undefined,
      histogram: undefined,
      histogramLoading: false,
      facetsLoading: false,
      selected: -1,
      paused: false,
      atTop: true,
      pending: [],
      fresh: new Set(),

      load: async (query, timeZone) => {
        const gen = ++generation
        // The answers for the previous filter are not wanted any more: abort
        // them, so the server stops scanning (their rejections are ignored).
        inFlight.abort()
        inFlight = new AbortController()
        const { signal } = inFlight
        held = []
        set({ query, loading: true, error: undefined, pending: [], loadingMore: false, histogramLoading: true, facetsLoading: true })
        const page = api.listEvents({ ...query, limit: PAGE_SIZE }, signal)
        // Facets and histogram arrive on their own; the rows matter most.
        fetchOverview(query, timeZone, signal)
        try {
          const p = await page
          if (gen !== generation) return
          // Timing marks for the performance spec (cheap, and visible in the browser's profiler).
          if (typeof performance !== 'undefined' && performance.getEntriesByName('axiom:first-page').length === 0) performance.mark('axiom:first-page')
          set({ rows: p.events, nextCursor: p.nextCursor, loading: false, selected: p.events.length ? Math.min(Math.max(get().selected, 0), p.events.length - 1) : -1, fresh: new Set() })
        } catch (err) {
          if (gen !== generation) return
          set({ rows: [], nextCursor: undefined, loading: false, error: toApiError(err), facets: undefined, facetsLoading: false, histogram: undefined, histogramLoading: false })
        }
      },

      loadHistogram: (timeZone) => {
        const { query } = get()
        if (!query) return
        set({ histogramLoading: true })
        fetchHistogram(query, timeZone, inFlight.signal)
      },

      refuse: (error) => {
        ++generation
        held = []
        inFlight.abort()
        inFlight = new AbortController()
        set({ query: undefined, rows: [], nextCursor: undefined, loading: false, loadingMore: false, error, facets: undefined, facetsLoading: false, histogram: undefined, histogramLoading: false, pending: [], selected: -1 })
      },

      loadMore: async () => {
        const { query, nextCursor, loadingMore, loading } = get()
        if (!query || !nextCursor || loadingMore || loading) return
        const gen = generation
        set({ loadingMore: true })
        try {
          const p = await api.listEvents({ ...query, limit: PAGE_SIZE, cursor: nextCursor }, inFlight.signal)
          if (gen !== generation) return
          // Live events may have been prepended meanwhile; append after them.
          const seen = new Set(get().rows.slice(-PAGE_SIZE).map((e) => e.id))
          set({ rows: get().rows.concat(p.events.filter((e) => !seen.has(e.id))), nextCursor: p.nextCursor, loadingMore: false })
          if (held.length) {
            const waiting = held
            held = []
            place(waiting, false) // counted when they arrived
          }
        } catch (err) {
          if (gen !== generation) return
          set({ loadingMore: false, error: toApiError(err) })
        }
      },

      select: (i) => {
        const n = get().rows.length
        if (n === 0) return set({ selected: -1 })
        set({ selected: Math.max(0, Math.min(n - 1, i)) })
      },

      receive: (e) => {
        const s = get()
        // The subscription follows the range's open end only: an event
        // appended now may carry a timestamp from before the range.
        if (s.loading || !inRange(s.query, e)) return
        // The subscription leaves out the query's conditions on the facet
        // fields (sync.ts), since the sidebar counts a filtered field
        // without them: an event that fails one of them counts for that
        // field only, and is not a row. On a busy log most events may be
        // such: they are told apart first, and counted in batches.
        const failed = failedFacets(s.query, e)
        if (failed.length > 1) return
        if (failed.length === 1) {
          const key = failed[0]!
          countLater(key, e[key])
          return
        }
        if (s.rows.some((r) => r.id === e.id) || s.pending.some((r) => r.id === e.id)) return
        if (s.paused || !s.atTop) {
          set({ pending: [e, ...s.pending] })
          return
        }
        place([e], true)
      },

      setPaused: (paused) => {
        set({ paused })
        if (!paused && get().atTop) get().showPending()
      },

      setAtTop: (atTop) => {
        if (atTop === get().atTop) return
        set({ atTop })
        if (atTop && !get().paused && get().pending.length) get().showPending()
      },

      showPending: () => {
        const s = get()
        if (!s.pending.length) return
        set({ pending: [] })
        place(s.pending, true)
      },
    }
  })
}

const FACET_KEYS = ['category', 'provider', 'status', 'riskLevel', 'userId'] as const
type FacetKey = (typeof FACET_KEYS)[number]

/** The query's conditions on each facet field (the values filtered for, and out), as the query language names them. */
const FACET_CONDITIONS = {
  category: FIELD_KEYS.category,
  provider: FIELD_KEYS.provider,
  status: FIELD_KEYS.status,
  riskLevel: FIELD_KEYS.risk,
  userId: FIELD_KEYS.user,
} satisfies Record<FacetKey, readonly [keyof QueryDTO, keyof QueryDTO]>

/** The query without its conditions on the facet fields: what the live subscription asks for. */
export function withoutFacetConditions(q: QueryDTO): QueryDTO {
  const out: QueryDTO = { ...q }
  for (const [only, not] of Object.values(FACET_CONDITIONS)) {
    delete out[only]
    delete out[not]
  }
  return out
}

/** The facet fields whose conditions in the query e fails. */
function failedFacets(q: QueryDTO | undefined, e: EventDTO): FacetKey[] {
  if (!q) return []
  return FACET_KEYS.filter((key) => {
    const [only, not] = FACET_CONDITIONS[key]
    const inc = q[only] as string[] | undefined
    const exc = q[not] as string[] | undefined
    return (inc !== undefined && inc.length > 0 && !inc.includes(e[key])) || (exc?.includes(e[key]) ?? false)
  })
}

/** facets with one more event of each (field, value); each list copied and sorted once. */
function bumpFacets(facets: FacetsDTO | undefined, add: [FacetKey, string][]): FacetsDTO | undefined {
  if (!facets) return facets
  const next = { ...facets }
  const touched = new Set<FacetKey>()
  for (const [key, value] of add) {
    if (!touched.has(key)) {
      next[key] = (next[key] ?? []).slice()
      touched.add(key)
    }
    const list = next[key]!
    const k = list.findIndex((x) => x.value === value)
    if (k >= 0) list[k] = { value, count: (list[k]?.count ?? 0) + 1 }
    else list.push({ value, count: 1 })
  }
  for (const key of touched) next[key]!.sort((a, b) => b.count - a.count)
  return next
}

/** Whether a live event falls in the query's time range. */
function inRange(q: QueryDTO | undefined, e: EventDTO): boolean {
  const t = Date.parse(e.timestamp)
  if (q?.since && t < Date.parse(q.since)) return false
  if (q?.until && t >= Date.parse(q.until)) return false
  return true
}

/** Orders events as the timeline does: by timestamp (to the nanosecond), then seq. */
function compareEvents(a: EventDTO, b: EventDTO): number {
  const [as, af] = timeKey(a.timestamp)
  const [bs, bf] = timeKey(b.timestamp)
  return as - bs || (af < bf ? -1 : af > bf ? 1 : 0) || a.seq - b.seq
}

/** A timestamp as whole seconds (ms) and its fraction as nine digits. */
function timeKey(ts: string): [number, string] {
  const m = /\.(\d+)/.exec(ts)
  return [Date.parse(m ? ts.replace(m[0], '') : ts), (m?.[1] ?? '').padEnd(9, '0')]
}

// placeLive puts live events where they belong in the loaded rows, in the
// query's order: usually at the top, but an event appended now with an
// earlier timestamp goes below newer ones. One that belongs after the
// last loaded row, with more rows still to load, is returned, to be placed
// once the pages reach it. With counted, all of them count in the facets
// and the histogram.
function placeLive(set: StoreApi<ResultsState>['setState'], get: () => ResultsState, events: EventDTO[], counted: boolean): EventDTO[] {
  const s = get()
  const newestFirst = s.query?.order !== 'oldest'
  const rows = s.rows.slice()
  const fresh = new Set(s.fresh)
  let selected = s.selected
  const later: EventDTO[] = []
  for (const e of events) {
    // The rows are in the query's order, so where e goes is found by
    // binary search: the first row e comes before.
    const before = (r: EventDTO) => (newestFirst ? compareEvents(e, r) > 0 : compareEvents(e, r) < 0)
    let lo = 0
    let hi = rows.length
    while (lo < hi) {
      const mid = (lo + hi) >> 1
      if (before(rows[mid]!)) hi = mid
      else lo = mid + 1
    }
    if (lo === rows.length && s.nextCursor) {
      later.push(e)
      continue
    }
    rows.splice(lo, 0, e)
    fresh.add(e.id)
    if (selected >= 0 && lo <= selected) selected++
  }
  set({ rows, selected, fresh })
  if (counted) bumpCounts(set, get, events)
  return later
}

// Live events also count in the facets and the histogram, so the
// sidebar does not lag behind the list until the next reload.
function bumpCounts(set: StoreApi<ResultsState>['setState'], get: () => ResultsState, events: EventDTO[]) {
  const { facets, histogram } = get()
  const nextFacets = bumpFacets(facets, events.flatMap((e) => FACET_KEYS.map((key) => [key, e[key]] as [FacetKey, string])))
  let nextHist = histogram
  if (histogram && histogram.buckets.length) {
    const buckets = histogram.buckets.slice()
    // Buckets are not all as long (a day across a daylight-saving change).
    const edges = [...buckets.map((b) => Date.parse(b.start)), Date.parse(buckets[buckets.length - 1]!.end)]
    for (const e of events) {
      const k = bucketIndex(edges, Date.parse(e.timestamp))
      const b = buckets[k]
      if (!b) continue
      buckets[k] = {
        ...b,
        count: b.count + 1,
        byRisk: { ...b.byRisk, [e.riskLevel]: (b.byRisk[e.riskLevel] ?? 0) + 1 },
        byStatus: { ...b.byStatus, [e.status]: (b.byStatus?.[e.status] ?? 0) + 1 },
      }
    }
    nextHist = { ...histogram, buckets }
  }
  set({ facets: nextFacets, histogram: nextHist })
}
