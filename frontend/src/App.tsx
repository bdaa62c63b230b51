import { Group, MantineProvider, Stack } from '@mantine/core'
import { useHotkeys } from '@mantine/hooks'
import '@mantine/core/styles.css'
import '@mantine/dates/styles.css'
import { useEffect, useRef, useState } from 'react'
import { createApi, type AuditApi } from './api'
import { toApiError, type ApiError } from './api/errors'
import classes from './App.module.css'
import { EventDrawer } from './components/EventDrawer'
import { FacetSidebar } from './components/FacetSidebar'
import { Header } from './components/Header'
import { Histogram } from './components/Histogram'
import { QueryBar } from './components/QueryBar'
import { ShortcutsDialog } from './components/ShortcutsDialog'
import { ErrorState, LoadingState } from './components/StatusStates'
import { TimelinePanel } from './components/TimelinePanel'
import { TimeRangePicker } from './components/TimeRangePicker'
import { moveSelection, type Move } from './keyboard'
import { createStores, StoresProvider, useResults, useSession, useStores, useView, type Stores } from './store/context'
import { viewQuery } from './store/view'
import { colorSchemeManager, theme } from './theme'

export interface AppProps {
  /** The api to use; by default the transport this page runs in. */
  api?: AuditApi
  stores?: Stores
  /** Mantine's test mode (no transitions or portals), for component tests. */
  env?: 'default' | 'test'
}

/** The whole window: providers, then the timeline explorer once the api is chosen. */
export function App({ api, stores, env }: AppProps) {
  const [ready, setReady] = useState<Stores | undefined>(stores ?? (api ? createStores(api) : undefined))
  const [error, setError] = useState<ApiError | undefined>()
  useEffect(() => {
    if (ready) return
    createApi().then(
      (a) => setReady(createStores(a)),
      (err: unknown) => setError(toApiError(err)),
    )
  }, [ready])
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
  const org = useView((s) => s.org)
  const q = useView((s) => s.q)
  const range = useView((s) => s.range)
  const now = useView((s) => s.now)
  const orgs = useSession((s) => s.orgs)
  const sessionError = useSession((s) => s.error)
  const firstLoadDone = useResults((s) => s.query !== undefined && !s.loading)
  const [shortcuts, setShortcuts] = useState(false)
  const searchRef = useRef<HTMLInputElement>(null)

  useEffect(() => {
    void session.getState().start()
    const onPop = () => view.getState().syncFromUrl()
    window.addEventListener('popstate', onPop)
    return () => window.removeEventListener('popstate', onPop)
  }, [session, view])

  // Pick the first organization when the URL names none (or one that is gone).
  useEffect(() => {
    if (!orgs || orgs.length === 0) return
    if (!org || !orgs.some((o) => o.id === org)) view.getState().set({ org: orgs[0]?.id ?? '' }, 'replace')
  }, [orgs, org, view])

  useEffect(() => {
    if (org) void session.getState().loadCheckpoint(org)
  }, [org, session])

  // Reload whenever the filter changes; stream new events while the range is open-ended.
  useEffect(() => {
    if (!org) return
    const query = viewQuery(view.getState(), now)
    void results.getState().load(query)
    if (range.kind !== 'relative') return
    const { since: _s, ...live } = query
    return api.subscribe(live, (e) => results.getState().receive(e))
  }, [api, org, q, range, now, view, results])

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
              <Histogram />
              <TimelinePanel />
            </Stack>
          </div>
        </>
      )}
      <EventDrawer />
      <ShortcutsDialog opened={shortcuts} onClose={() => setShortcuts(false)} />
    </div>
  )
}
