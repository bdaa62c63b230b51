import { act, fireEvent, screen, waitFor, within } from '@testing-library/react'
import { render } from '@testing-library/react'
import { describe, expect, it, onTestFinished, vi } from 'vitest'
import { App } from './App'
import { ApiError } from './api/errors'
import { createFakeApi } from './api/fake'
import { NOW, sampleEvents, setup } from './test/render'

function renderApp(opts: Parameters<typeof setup>[0] = {}) {
  const s = setup(opts)
  render(<App stores={s.stores} env="test" />)
  return s
}

const rows = () => screen.queryAllByTestId('timeline-row')
const press = (key: string, extra: Partial<KeyboardEventInit> = {}) => fireEvent.keyDown(document.documentElement, { key, ...extra })

describe('App', () => {
  it('shows the profile and the newest events first, then reports ready', async () => {
    const api = createFakeApi(sampleEvents(), { now: () => NOW })
    const ready = vi.spyOn(api, 'ready')
    renderApp({ api })
    expect(await screen.findByTestId('profile')).toHaveTextContent('demo')
    await waitFor(() => expect(rows()).toHaveLength(6))
    expect(rows()[0]).toHaveAttribute('data-id', 'evt_6')
    await waitFor(() => expect(ready).toHaveBeenCalledTimes(1))
  })

  it('moves with j/k, opens with Enter, closes with Esc, jumps with e and g/G', async () => {
    const s = renderApp()
    await waitFor(() => expect(rows()).toHaveLength(6))
    press('j')
    press('j')
    await waitFor(() => expect(rows()[2]).toHaveAttribute('aria-selected', 'true'))
    press('k')
    await waitFor(() => expect(rows()[1]).toHaveAttribute('aria-selected', 'true'))
    press('e') // next failed or high-risk: evt_2 at row 4
    await waitFor(() => expect(rows()[4]).toHaveAttribute('aria-selected', 'true'))
    press('Enter')
    const drawer = await screen.findByRole('dialog')
    expect(within(drawer).getByTestId('drawer-action')).toHaveTextContent('apply.mutation')
    expect(s.mem.loc.search).toContain('event=evt_2')
    expect(await within(drawer).findAllByTestId('diff-change')).not.toHaveLength(0)
    expect(await within(drawer).findByTestId('proof-status')).toHaveTextContent('Included in the signed log')
    expect(await within(drawer).findByTestId('related-events')).toHaveTextContent('plan.generated')
    press('Escape')
    await waitFor(() => expect(s.stores.view.getState().event).toBeUndefined())
    press('G', { shiftKey: true })
    await waitFor(() => expect(rows()[5]).toHaveAttribute('aria-selected', 'true'))
    press('g')
    await waitFor(() => expect(rows()[0]).toHaveAttribute('aria-selected', 'true'))
    press('?', { shiftKey: true })
    expect(await screen.findByText('Next failed or high-risk event')).toBeInTheDocument()
  })

  it('pages through events with j/k while the drawer is open, and arrows move in the focused list', async () => {
    const s = renderApp()
    await waitFor(() => expect(rows()).toHaveLength(6))
    press('Enter')
    await waitFor(() => expect(s.stores.view.getState().event).toBe('evt_6'))
    press('j')
    await waitFor(() => expect(s.stores.view.getState().event).toBe('evt_5'))
    press('Escape')
    await waitFor(() => expect(s.stores.view.getState().event).toBeUndefined())
    const list = screen.getByTestId('timeline')
    fireEvent.keyDown(list, { key: 'ArrowDown' })
    fireEvent.keyDown(list, { key: 'ArrowDown' })
    await waitFor(() => expect(rows()[3]).toHaveAttribute('aria-selected', 'true'))
    fireEvent.keyDown(list, { key: 'Home' })
    await waitFor(() => expect(rows()[0]).toHaveAttribute('aria-selected', 'true'))
  })

  it('leaves Enter on a focused button to the button', async () => {
    const s = renderApp()
    await waitFor(() => expect(rows()).toHaveLength(6))
    const button = screen.getByTestId('live-toggle')
    fireEvent.keyDown(button, { key: 'Enter' })
    expect(s.stores.view.getState().event).toBeUndefined()
  })

  it('focuses the search with /', async () => {
    renderApp()
    await waitFor(() => expect(rows()).toHaveLength(6))
    press('/')
    expect(screen.getByTestId('query-input')).toHaveFocus()
  })

  it('streams live events in, and counts them while paused', async () => {
    const s = renderApp()
    await waitFor(() => expect(rows()).toHaveLength(6))
    const fake = s.api as ReturnType<typeof createFakeApi>
    act(() => void fake.emit('acme'))
    await waitFor(() => expect(rows()).toHaveLength(7))
    fireEvent.click(screen.getByTestId('live-toggle'))
    act(() => void fake.emit('acme'))
    act(() => void fake.emit('acme'))
    expect(await screen.findByTestId('new-events-pill')).toHaveTextContent('2 new events')
    expect(rows()).toHaveLength(7)
    fireEvent.click(screen.getByTestId('new-events-pill'))
    await waitFor(() => expect(rows()).toHaveLength(9))
  })

  it('keeps the organization picker\'s count in step with live events', async () => {
    const s = renderApp()
    await waitFor(() => expect(rows()).toHaveLength(6))
    const picker = screen.getByTestId('org-switcher') as HTMLInputElement
    await waitFor(() => expect(picker.value).toMatch(/^acme · \d+$/))
    const before = Number(picker.value.split(' · ')[1])
    const fake = s.api as ReturnType<typeof createFakeApi>
    act(() => void fake.emit('acme'))
    act(() => void fake.emit('acme'))
    await waitFor(() => expect(picker.value).toBe(`acme · ${before + 2}`), { timeout: 3000 })
  })

  it('asks for the facets and histogram in one overview, then for the histogram alone, on the clock the time zone toggle chooses', async () => {
    const tz = process.env.TZ
    process.env.TZ = 'Asia/Kolkata' // local time is not UTC's
    onTestFinished(() => void (process.env.TZ = tz))
    const api = createFakeApi(sampleEvents(), { now: () => NOW })
    // A query's facets and histogram come in one overview; the fake's
    // overview asks its own histogram, so the spy on it counts that call too.
    const overview = vi.spyOn(api, 'overview')
    const histogram = vi.spyOn(api, 'histogram')
    const list = vi.spyOn(api, 'listEvents')
    const s = renderApp({ api })
    await waitFor(() => expect(rows()).toHaveLength(6))
    await waitFor(() => expect(overview).toHaveBeenCalledTimes(1))
    expect(overview.mock.calls[0]?.[0].timeZone).toMatch(/^Asia\/(Kolkata|Calcutta)$/)
    await waitFor(() => expect(s.stores.results.getState().histogramLoading).toBe(false))
    const lists = list.mock.calls.length
    const histograms = histogram.mock.calls.length
    act(() => s.stores.view.getState().set({ tz: 'utc' }, 'replace'))
    await waitFor(() => expect(histogram).toHaveBeenCalledTimes(histograms + 1))
    expect(histogram.mock.calls[histograms]?.[0].timeZone).toBe('UTC')
    expect(overview).toHaveBeenCalledTimes(1)
    expect(list.mock.calls.length).toBe(lists)
  })

  it('shows the error of a search with one in its link, not every event', async () => {
    renderApp({ search: '?org=acme&range=90d&q=status:rolledback' })
    const state = await screen.findByTestId('error-state')
    expect(state).toHaveTextContent('The filter is not valid')
    expect(state).toHaveTextContent('status:rolledback')
    expect(rows()).toHaveLength(0)
    expect(await screen.findByTestId('query-error')).toBeInTheDocument()
  })

  it('says that an organization the link names is not in this profile, and which it shows', async () => {
    renderApp({ search: '?org=nonexistent&range=90d' })
    const notice = await screen.findByTestId('missing-org')
    expect(notice).toHaveTextContent('No organization “nonexistent” in this profile')
    expect(notice).toHaveTextContent('shows acme instead')
    fireEvent.click(within(notice).getByRole('button'))
    await waitFor(() => expect(screen.queryByTestId('missing-org')).toBeNull())
  })

  it('says which zone the times are in, local or UTC', async () => {
    renderApp({ search: '?org=acme&range=90d&tz=utc' })
    expect(await screen.findByTestId('time-zone-heading')).toHaveTextContent('Time · UTC')
  })

  it('says nothing of organizations when the link names none', async () => {
    renderApp({ search: '?range=90d' })
    await waitFor(() => expect(rows()).toHaveLength(6))
    expect(screen.queryByTestId('missing-org')).toBeNull()
  })

  it('says that every word without a field must match when nothing matches them', async () => {
    renderApp({ search: '?org=acme&range=90d&q=alice%20nowhere' })
    expect(await screen.findByTestId('empty-state')).toHaveTextContent('Every word without a field must be in the event')
  })

  it('reports ready when the first screen is a bad search link', async () => {
    const api = createFakeApi(sampleEvents(), { now: () => NOW })
    const ready = vi.spyOn(api, 'ready')
    renderApp({ api, search: '?org=acme&range=90d&q=status:rolledback' })
    await screen.findByTestId('error-state')
    await new Promise((r) => setTimeout(r, 300))
    expect(ready).toHaveBeenCalledTimes(1)
  })

  it('does not export every event while the timeline refuses the search', async () => {
    renderApp({ search: '?org=acme&range=90d&q=status:rolledback' })
    await screen.findByTestId('error-state')
    expect(screen.getByTestId('export-button')).toBeDisabled()
  })

  it('fixing the search in the bar recovers', async () => {
    renderApp({ search: '?org=acme&range=90d&q=status:rolledback' })
    await screen.findByTestId('error-state')
    const input = screen.getByTestId('query-input') as HTMLInputElement
    fireEvent.change(input, { target: { value: 'status:failed' } })
    fireEvent.keyDown(input, { key: 'Enter' })
    await waitFor(() => expect(screen.queryAllByTestId('timeline-row')).toHaveLength(1))
    expect(screen.queryByTestId('query-error')).toBeNull()
  })

  it('explains a locked keychain and how to unlock it', async () => {
    const api = createFakeApi(sampleEvents(), { now: () => NOW, failWith: { code: 'keychain_unavailable', message: 'the OS keychain is locked' } })
    renderApp({ api })
    const state = await screen.findByTestId('error-state')
    expect(state).toHaveTextContent('The keychain is locked')
    expect(state).toHaveTextContent('the OS keychain is locked')
    expect(state).toHaveTextContent(/unlock the "Login" keyring/)
  })

  it('claims nothing about a log it could not open, signed out or locked', async () => {
    for (const code of ['unauthorized', 'keychain_unavailable']) {
      // The session's first call fails, as a real server's does.
      const fake = createFakeApi(sampleEvents(), { now: () => NOW })
      const api = { ...fake, organizations: () => Promise.reject(new ApiError({ code, message: 'no' }, code === 'unauthorized' ? 401 : 503)) }
      const s = setup({ api })
      const { unmount } = render(<App stores={s.stores} env="test" />)
      await screen.findByTestId('error-state')
      for (const id of ['org-switcher', 'integrity-badge', 'sync-indicator', 'retention-indicator']) {
        expect(screen.queryByTestId(id), `${code}: ${id}`).toBeNull()
      }
      expect(screen.getByRole('button', { name: 'Keyboard shortcuts' })).toBeInTheDocument()
      unmount()
    }
  })

  it('says it is offline while the live stream is down, and is live again when it reconnects', async () => {
    const api = createFakeApi(sampleEvents(), { now: () => NOW })
    const streams: { onError?: (err: Error) => void; onOpen?: () => void }[] = []
    const subscribe = api.subscribe.bind(api)
    api.subscribe = (q, onEvent, onError, onOpen) => {
      streams.push({ onError, onOpen })
      return subscribe(q, onEvent, onError, onOpen)
    }
    renderApp({ api })
    await waitFor(() => expect(rows()).toHaveLength(6))
    expect(screen.getByTestId('live-badge')).toHaveTextContent('Live')
    act(() => streams.at(-1)?.onError?.(new ApiError({ code: 'unreachable', message: 'The live stream lost its connection; reconnecting.' })))
    expect(screen.getByTestId('live-badge')).toHaveTextContent('Offline — reconnecting')
    expect(screen.getByTestId('live-badge')).toHaveAttribute('data-offline', 'true')
    // Back: what came meanwhile is read again.
    const missed = api.emit('acme')
    act(() => streams.at(-1)?.onOpen?.())
    await waitFor(() => expect(screen.getByTestId('live-badge')).toHaveTextContent('Live'))
    await waitFor(() => expect(rows()[0]).toHaveAttribute('data-id', missed.id))
  })

  it('keeps the checkpoint it knows when a refresh cannot reach the app', async () => {
    const s = renderApp()
    expect(await screen.findByTestId('integrity-badge')).toHaveTextContent(/Checkpoint \d/)
    const shown = screen.getByTestId('integrity-badge').textContent
    s.api.latestCheckpoint = () => Promise.reject(new TypeError('Failed to fetch'))
    await act(() => s.stores.session.getState().loadCheckpoint('acme'))
    expect(screen.getByTestId('integrity-badge')).not.toHaveTextContent('No checkpoint yet')
    expect(screen.getByTestId('integrity-badge').textContent).toBe(shown)
    expect(screen.getByTestId('live-badge')).toHaveTextContent('Offline — reconnecting')
  })

  it('says when nothing matches and offers a way out', async () => {
    renderApp({ search: '?org=acme&range=90d&q=user:nobody' })
    expect(await screen.findByTestId('empty-state')).toHaveTextContent('No events match')
    // The query on a line of its own, whole.
    expect(screen.getByTestId('empty-query')).toHaveTextContent(/^user:nobody$/)
    fireEvent.click(screen.getByText('Clear the query'))
    await waitFor(() => expect(rows()).toHaveLength(6))
  })
})

describe('App on an empty profile', () => {
  it('says the log is empty and still reports ready', async () => {
    const api = createFakeApi(undefined, { orgs: [], now: () => NOW })
    const ready = vi.spyOn(api, 'ready')
    renderApp({ api, search: '' })
    expect(await screen.findByText('No events recorded yet')).toBeInTheDocument()
    await waitFor(() => expect(ready).toHaveBeenCalledTimes(1))
  })
})
