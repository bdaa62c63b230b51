import { act, screen, waitFor } from '@testing-library/react'
import { describe, expect, it } from 'vitest'
import { renderWith, setup } from '../test/render'
import { viewQuery } from '../store/view'
import { TimelinePanel } from './TimelinePanel'

async function loaded(s: ReturnType<typeof setup>) {
  await act(() => s.stores.results.getState().load(viewQuery(s.stores.view.getState(), s.stores.view.getState().now)))
}

describe('TimelinePanel header count', () => {
  it('does not show the last query’s total once the new query’s rows are in and its histogram is not', async () => {
    const s = setup()
    act(() => s.stores.view.getState().set({ q: 'user:nobody@acme.io' }))
    await loaded(s)
    renderWith(s.stores, <TimelinePanel />)
    await waitFor(() => expect(screen.getByTestId('event-count')).toHaveTextContent('0 in range'))
    // The next query's first page answers before its histogram (a scan of
    // the whole range), as it does on a large log.
    let release!: () => void
    const gate = new Promise<void>((r) => (release = r))
    const histogram = s.api.histogram.bind(s.api)
    s.api.histogram = async (q, signal) => {
      await gate
      return histogram(q, signal)
    }
    act(() => s.stores.view.getState().set({ q: '' }))
    await loaded(s)
    expect(s.stores.results.getState().rows.length).toBe(6)
    expect(screen.getByTestId('event-count')).not.toHaveTextContent('0 in range')
    await act(async () => release())
    await waitFor(() => expect(screen.getByTestId('event-count')).toHaveTextContent('6 in range'))
  })
})
