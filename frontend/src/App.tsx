import { Group, MantineProvider, Skeleton, Stack } from '@mantine/core'
import { useHotkeys } from '@mantine/hooks'
import '@mantine/core/styles.css'
import { lazy, Suspense, useEffect, useRef, useState } from 'react'
import { createApi, type AuditApi } from './api'
import { toApiError, type ApiError } from './api/errors'
import classes from './App.module.css'
import { FacetSidebar } from './components/FacetSidebar'
import { Header } from './components/Header'
import { QueryBar } from './components/QueryBar'
import { ErrorState, LoadingState } from './components/StatusStates'
import { TimelinePanel } from './components/TimelinePanel'
import { TimeRangePicker } from './components/TimeRangePicker'
import { moveSelection, type Move } from './keyboard'
import { createStores, StoresProvider, useResults, useSession, useStores, type Stores } from './store/context'
import { viewQuery } from './store/view'
import { colorSchemeManager, theme } from './theme'

const EventDrawer = lazy(() => import('./components/EventDrawer').then((m) => ({ default: m.EventDrawer })))
const ShortcutsDialog = lazy(() => import('./components/ShortcutsDialog').then((m) => ({ default: m.ShortcutsDialog })))
const Histogram = lazy(() => import('./components/Histogram').then((m) => ({ default: m.Histogram })))

export interface AppProps {
  /** The api to use (or its promise); by default the transport this page runs in. */
  api?: AuditApi | Promise<AuditApi>
  stores?: Stores
  /** Mantine's test mode (no transitions or portals), for component tests. */
  env?: 'default' | 'test'
}

/** The whole window: providers, then the timeline explorer once the api is chosen. */
export function App({ api, stores, env }: AppProps) {
  const [ready, setReady] = useState<Stores | undefined>(stores ?? (api && !(api instanceof Promise) ? createStores(api) : undefined))
  const [error, setError] = useState<ApiError | undefined>()
  useEffect(() => {
    if (ready) return
    ;(api instanceof Promise ? api : createApi()).then(
      (a) => setReady(createStores(a)),
      (err: unknown) => setError(toApiError(err)),
    )
  }, [ready, api])
  return (
    <MantineProvider theme={theme} colorSchemeManager={colorSchemeManager} defaultColorScheme="auto" env={env}>
      {ready ? (
        <StoresProvider stores={ready}>
          <Explorer />
        </StoresProvider>
      ) : error ? (
        <ErrorState error={error} />
      ) : (
        <LoadingState label="Opening the log…" />
      )}
    </MantineProvider>
  )
}

function Explorer() {
  const stores = useStores()
  const { api, view, results, session } = stores
  const orgs = useSession((s) => s.orgs)
  const sessionError = useSession((s) => s.error)
  const firstLoadDone = useResults((s) => s.query !== undefined && !s.loading)
  const [shortcuts, setShortcuts] = useState(false)
  const searchRef = useRef<HTMLInputElement>(null)

  // Data follows the view store directly (not React effects), so a filter
  // change starts its request before React re-renders anything.
  useEffect(() => {
    let stopLive: (() => void) | undefined
    let lastKey = ''
    let lastOrg = ''
    const reload = () => {
      const v = view.getState()
      if (!v.org) return
      const key = JSON.stringify([v.org, v.q, v.range, v.now])
      if (key === lastKey) return
      lastKey = key
      const query = viewQuery(v, v.now)
      void results.getState().load(query)
      stopLive?.()
      stopLive = undefined
      // Stream new events while the range is open-ended.
      if (v.range.kind === 'relative') {
        const { since: _s, ...live } = query
        stopLive = api.subscribe(live, (e) => results.getState().receive(e))
      }
      if (v.org !== lastOrg) {
        lastOrg = v.org
        void session.getState().loadCheckpoint(v.org)
      }
    }
    // Pick the first organization when the URL names none (or one that is gone).
    const pickOrg = () => {
      const list = session.getState().orgs
      const v = view.getState()
      if (list && list.length && (!v.org || !list.some((o) => o.id === v.org))) v.set({ org: list[0]?.id ?? '' }, 'replace')
    }
    const stopView = view.subscribe(reload)
    // Synchronously on the store change, before React renders the header.
    const stopSession = session.subscribe((s, prev) => s.orgs !== prev.orgs && pickOrg())
    reload()
    void session.getState().start()
    const onPop = () => view.getState().syncFromUrl()
    window.addEventListener('popstate', onPop)
    return () => {
      stopView()
      stopSession()
      stopLive?.()
      window.removeEventListener('popstate', onPop)
    }
  }, [api, view, results, session])

  // The desktop smoke test waits for this: the first screen has rendered.
  const reported = useRef(false)
  useEffect(() => {
    if (reported.current || !(firstLoadDone || sessionError)) return
    reported.current = true
    requestAnimationFrame(() => void api.ready().catch(() => {}))
  }, [firstLoadDone, sessionError, api])

  const move = (m: Move) => {
    const s = results.getState()
    const i = moveSelection(s.rows, s.selected, m)
    if (i !== undefined) s.select(i)
    else if ((m === 'nextAttention' || m === 'bottom') && s.nextCursor) void s.loadMore()
  }
  const openSelected = () => {
    const s = results.getState()
    const e = s.rows[s.selected]
    if (e) view.getState().set({ event: e.id })
  }
  useHotkeys([
    ['/', () => searchRef.current?.focus()],
    ['j', () => move('next')],
    ['ArrowDown', () => move('next')],
    ['k', () => move('prev')],
    ['ArrowUp', () => move('prev')],
    ['g', () => move('top')],
    ['shift+G', () => move('bottom')],
    ['e', () => move('nextAttention')],
    ['shift+E', () => move('prevAttention')],
    ['Enter', openSelected],
    ['Escape', () => view.getState().event && view.getState().set({ event: undefined })],
    ['shift+?', () => setShortcuts(true)],
    ['shift+/', () => setShortcuts(true)],
  ])

  return (
    <div className={classes.shell}>
      <Header onShortcuts={() => setShortcuts(true)} />
      {sessionError && !orgs ? (
        <ErrorState error={sessionError} onRetry={() => void session.getState().start()} />
      ) : (
        <>
          <Group className={classes.toolbar} gap="sm" wrap="nowrap" align="flex-start">
            <QueryBar ref={searchRef} />
            <TimeRangePicker />
          </Group>
          <div className={classes.main}>
            <aside className={classes.sidebar}>
              <FacetSidebar />
            </aside>
            <Stack className={classes.content} gap="sm">
              <Suspense fallback={<Skeleton h={160} radius="md" />}>
                <Histogram />
              </Suspense>
              <TimelinePanel />
            </Stack>
          </div>
        </>
      )}
      {/* Loaded after the first screen, so they do not delay the first rows. */}
      {(firstLoadDone || sessionError) && (
        <Suspense fallback={null}>
          <EventDrawer />
          <ShortcutsDialog opened={shortcuts} onClose={() => setShortcuts(false)} />
        </Suspense>
      )}
    </div>
  )
}
