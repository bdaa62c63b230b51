import { Alert, Group, MantineProvider, Skeleton, Stack } from '@mantine/core'
import { useHotkeys } from '@mantine/hooks'
import '@mantine/core/styles.css'
import { lazy, Suspense, useEffect, useRef, useState } from 'react'
import { createApi, type AuditApi } from './api'
import { toApiError, type ApiError } from './api/errors'
import classes from './App.module.css'
import { FacetSidebar } from './components/FacetSidebar'
import { Header } from './components/Header'
import { QueryBar } from './components/QueryBar'
import { RetentionBanner } from './components/RetentionBanner'
import { EmptyState, ErrorState, LoadingState } from './components/StatusStates'
import { TimelinePanel } from './components/TimelinePanel'
import { TimeRangePicker } from './components/TimeRangePicker'
import { moveSelection, type Move } from './keyboard'
import { createStores, StoresProvider, useResults, useSession, useStores, useView, type Stores } from './store/context'
import { connectStores, isConnected } from './store/sync'
import { lazyRetry, retrying } from './lib/lazyRetry'
import { EscapeProvider } from './lib/escape'
import { colorSchemeManager, theme } from './theme'

// Chunks that cannot be fetched (the app went out of reach while they
// loaded) are fetched again until they load, not thrown at the window.
const EventDrawer = lazyRetry(() => import('./components/EventDrawer').then((m) => ({ default: m.EventDrawer })))
const ShortcutsDialog = lazyRetry(() => import('./components/ShortcutsDialog').then((m) => ({ default: m.ShortcutsDialog })))
// Fetched at once (it is on the first screen) but parsed apart from the main chunk.
const histogramModule = retrying(() => import('./components/Histogram'))
const Histogram = lazy(() => histogramModule.then((m) => ({ default: m.Histogram })))

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
      (a) => {
        const s = createStores(a)
        // Ask for the organizations and the first page while React renders the first screen.
        connectStores(s)
        setReady(s)
      },
      (err: unknown) => setError(toApiError(err)),
    )
  }, [ready, api])
  return (
    <MantineProvider theme={theme} colorSchemeManager={colorSchemeManager} defaultColorScheme="auto" env={env}>
      {ready ? (
        <StoresProvider stores={ready}>
          <EscapeProvider>
            <Explorer />
          </EscapeProvider>
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
  // Done: rows, or an error instead of them (a search link that does not parse).
  const firstLoadDone = useResults((s) => (s.query !== undefined && !s.loading) || s.error !== undefined)
  const noOrgs = orgs !== undefined && orgs.length === 0
  const [shortcuts, setShortcuts] = useState(false)
  const searchRef = useRef<HTMLInputElement>(null)

  // Stores made by App are connected as soon as they exist; ones handed in (tests) here.
  useEffect(() => (isConnected(stores) ? undefined : connectStores(stores)), [stores])

  // The desktop smoke test waits for this: the first screen has rendered.
  const reported = useRef(false)
  useEffect(() => {
    if (reported.current || !(firstLoadDone || sessionError || noOrgs)) return
    reported.current = true
    requestAnimationFrame(() => void api.ready().catch(() => {}))
  }, [firstLoadDone, sessionError, noOrgs, api])

  const move = (m: Move) => {
    const s = results.getState()
    const i = moveSelection(s.rows, s.selected, m)
    if (i !== undefined) {
      s.select(i)
      // With the drawer open, j/k page through events in it.
      const e = s.rows[i]
      if (e && view.getState().event) view.getState().set({ event: e.id }, 'replace')
    } else if ((m === 'nextAttention' || m === 'bottom') && s.nextCursor) void s.loadMore()
  }
  const openSelected = (ev: KeyboardEvent) => {
    // Enter on a focused button or link is that control's, not the timeline's.
    const t = ev.target as HTMLElement | null
    if (t && t !== document.body && t !== document.documentElement && !t.closest('[role=listbox]')) return
    const s = results.getState()
    const e = s.rows[s.selected]
    if (e) view.getState().set({ event: e.id })
  }
  useHotkeys([
    ['/', () => searchRef.current?.focus()],
    ['j', () => move('next')],
    ['k', () => move('prev')],
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
      ) : noOrgs ? (
        <EmptyState title="No events recorded yet">
          This profile's log is empty. Events appear here within seconds of the Axiom agent (or anything with an append token) recording them. To look
          around first, run <code>axiom-audit demo</code> and open the <code>demo</code> profile.
        </EmptyState>
      ) : (
        <>
          <MissingOrgNotice />
          <RetentionBanner />
          {/* The range picker goes below the query when a long range label
              would leave the query too little room (QueryBar.module.css). */}
          <Group className={classes.toolbar} gap="sm" wrap="wrap" align="flex-start">
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
      {(firstLoadDone || sessionError || noOrgs) && (
        <Suspense fallback={null}>
          <EventDrawer />
          <ShortcutsDialog opened={shortcuts} onClose={() => setShortcuts(false)} />
        </Suspense>
      )}
    </div>
  )
}

/** Says that the organization a link named is not in this profile, and which one is shown. */
function MissingOrgNotice() {
  const { session } = useStores()
  const missing = useSession((s) => s.missingOrg)
  const org = useView((s) => s.org)
  if (!missing || missing === org) return null
  return (
    <Alert color="yellow" variant="light" radius={0} withCloseButton onClose={() => session.setState({ missingOrg: undefined })} data-testid="missing-org"
      title={`No organization “${missing}” in this profile`}>
      The link named an organization this profile has no events of: the timeline shows {org || 'another one'} instead. Check the link, or the profile it
      was meant for.
    </Alert>
  )
}
