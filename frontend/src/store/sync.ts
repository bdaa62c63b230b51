// Wires the stores together: data follows the view (directly on store
// changes, not React effects, so a filter change starts its request before
// React re-renders anything), live events follow open-ended ranges, and the
// URL's back/forward move the view.

import { ApiError, toApiError } from '../api/errors'
import { bucketZone } from '../lib/time'
import { parseQuery } from '../query/parse'
import { withoutFacetConditions } from './results'
import { viewQuery } from './view'
import type { Stores } from './context'

const connected = new WeakSet<Stores>()

/** How often the newest checkpoint and verification are read again. */
export const INTEGRITY_REFRESH_MS = 30_000

/** How long after a live event the organizations (their sizes) are read again. */
export const ORGS_AFTER_LIVE_MS = 1_000

/** While the app is out of reach: how often it is asked again, and a closed live stream opened again. */
export const OFFLINE_RETRY_MS = 5_000

/** Starts the session and keeps results in step with the view; returns a function that stops it. */
export function connectStores(stores: Stores, win: Pick<Window, 'addEventListener' | 'removeEventListener'> = window): () => void {
  const { api, view, results, session } = stores
  connected.add(stores)
  let stopLive: (() => void) | undefined
  let resubscribe: ReturnType<typeof setTimeout> | undefined
  let lastKey = ''
  let lastOrg = ''
  let lastZone: string | undefined
  // The organization picker shows each one's size: live events change it.
  let orgsTimer: ReturnType<typeof setTimeout> | undefined
  const refreshOrgsSoon = () => {
    orgsTimer ??= setTimeout(() => {
      orgsTimer = undefined
      void session.getState().refreshOrgs()
    }, ORGS_AFTER_LIVE_MS)
  }
  const reload = () => {
    const v = view.getState()
    if (!v.org) return
    const key = JSON.stringify([v.org, v.q, v.range, v.now])
    // The time zone shown changes where the histogram's day and hour
    // buckets start, and nothing else.
    const zone = bucketZone(v.tz)
    if (key === lastKey) {
      if (zone !== lastZone) {
        lastZone = zone
        results.getState().loadHistogram(zone)
      }
      return
    }
    lastKey = key
    lastZone = zone
    stopLive?.()
    stopLive = undefined
    clearTimeout(resubscribe)
    if (v.org !== lastOrg) {
      lastOrg = v.org
      void session.getState().loadCheckpoint(v.org)
    }
    // A search with an error (a mistyped link) shows the error, not every
    // event as if it had no filter.
    const { errors } = parseQuery(v.q)
    if (errors.length) {
      results.getState().refuse(
        new ApiError({
          code: 'invalid_query',
          message: `The search ${JSON.stringify(v.q)} has ${errors.length === 1 ? 'an error' : `${errors.length} errors`}; fix it in the search bar.`,
          fields: errors.map((e) => ({ field: v.q.slice(e.start, e.end) || v.q, reason: e.message })),
        }),
      )
      return
    }
    const query = viewQuery(v, v.now)
    void results.getState().load(query, zone)
    if (v.range.kind === 'relative') {
      // The sidebar counts a field the query filters without the query's
      // own conditions on it, so the stream carries the events that fail
      // them too; receive counts those for their field only.
      const { since: _s, ...live } = withoutFacetConditions(query)
      const subscribe = () => {
        stopLive = api.subscribe(
          live,
          (e) => {
            results.getState().receive(e)
            refreshOrgsSoon()
          },
          (err) => {
            session.getState().reached(err)
            // A stream that gave up is opened again, until the app answers.
            if (toApiError(err).code === 'stream_closed') {
              stopLive?.()
              clearTimeout(resubscribe)
              resubscribe = setTimeout(subscribe, OFFLINE_RETRY_MS)
            }
          },
          () => session.getState().reached(),
        )
      }
      subscribe()
    }
  }
  // Pick the first organization when the URL names none (or one that is gone).
  const pickOrg = () => {
    const list = session.getState().orgs
    const v = view.getState()
    if (list && list.length && (!v.org || !list.some((o) => o.id === v.org))) {
      // A mistyped or stale link must not pass for the organization it
      // names: the window says which it shows instead.
      if (v.org) session.setState({ missingOrg: v.org })
      v.set({ org: list[0]?.id ?? '' }, 'replace')
    }
  }
  const stopView = view.subscribe(reload)
  const stopSession = session.subscribe((s, prev) => {
    if (s.orgs !== prev.orgs) pickOrg()
    // Back in reach: what happened meanwhile is read again (a live view
    // missed its events), and the checkpoint with it.
    if (prev.offline && !s.offline) {
      const v = view.getState()
      if (v.org && !s.verifying) void session.getState().loadCheckpoint(v.org)
      if (v.range.kind === 'relative') v.refresh()
    }
  })
  reload()
  void session.getState().start()
  const onPop = () => view.getState().syncFromUrl()
  win.addEventListener('popstate', onPop)
  // Checkpoints are signed, verifications run and organizations appear or
  // raise alerts (through the CLI, reports, other windows) without this
  // window asking: the integrity badge and the organization picker follow.
  const refresh = setInterval(() => {
    const org = view.getState().org
    if (org && !session.getState().verifying) void session.getState().loadCheckpoint(org)
    void session.getState().refreshOrgs()
  }, INTEGRITY_REFRESH_MS)
  // Out of reach, the app is asked more often, so that the window recovers soon after it is back.
  const probe = setInterval(() => {
    if (session.getState().offline) void session.getState().refreshOrgs()
  }, OFFLINE_RETRY_MS)
  return () => {
    connected.delete(stores)
    clearInterval(refresh)
    clearInterval(probe)
    clearTimeout(resubscribe)
    clearTimeout(orgsTimer)
    stopView()
    stopSession()
    stopLive?.()
    win.removeEventListener('popstate', onPop)
  }
}

export function isConnected(stores: Stores): boolean {
  return connected.has(stores)
}
