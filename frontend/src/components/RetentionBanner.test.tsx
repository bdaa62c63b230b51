import { act, screen, waitFor } from '@testing-library/react'
import userEvent from '@testing-library/user-event'
import { describe, expect, it } from 'vitest'
import { createFakeApi } from '../api/fake'
import { makeEvent, NOW, renderWith, setup } from '../test/render'
import { expiringView, RetentionBanner } from './RetentionBanner'

const DAY = 86_400_000

function at(msAgo: number) {
  return new Date(NOW - msAgo).toISOString()
}

describe('RetentionBanner', () => {
  it('stays hidden when nothing expires within the week', async () => {
    const s = setup()
    renderWith(s.stores, <RetentionBanner pollMs={0} />)
    await act(async () => {
      await new Promise((r) => setTimeout(r, 20))
    })
    expect(screen.queryByTestId('retention-banner')).toBeNull()
  })

  it('warns about operational events expiring within 7 days and exports exactly those', async () => {
    const events = [
      makeEvent(1, { timestamp: at(88 * DAY) }), // a scan: expires in 2 days
      makeEvent(2, { timestamp: at(87 * DAY), category: 'apply', actionType: 'apply.mutation', retention: 'material' }), // kept indefinitely
      makeEvent(3, { timestamp: at(85 * DAY), category: 'user', actionType: 'user.signed_in' }), // expires in 5 days
      makeEvent(4, { timestamp: at(60 * DAY) }), // not within the week
    ]
    const s = setup({ api: createFakeApi(events, { now: () => NOW }) })
    renderWith(s.stores, <RetentionBanner pollMs={0} />)
    const banner = await screen.findByTestId('retention-banner')
    expect(banner).toHaveTextContent('2 events expire within 7 days')
    expect(screen.getByTestId('retention-banner-detail')).toHaveTextContent('scan, user')
    s.stores.view.getState().set({ q: 'status:failed', range: { kind: 'relative', preset: '7d' } })
    await userEvent.click(screen.getByTestId('retention-export'))
    const v = s.stores.view.getState()
    expect(v.q).toBe('category:scan category:user')
    expect(v.range).toEqual({ kind: 'absolute', from: at(88 * DAY), to: new Date(NOW + 7 * DAY - 90 * DAY).toISOString() })
    await waitFor(() => expect(screen.getByTestId('export-dialog')).toBeInTheDocument())
    // Closed, the dialog gives the timeline back the view it had.
    await userEvent.keyboard('{Escape}')
    await waitFor(() => expect(s.stores.view.getState().q).toBe('status:failed'))
    expect(s.stores.view.getState().range).toEqual({ kind: 'relative', preset: '7d' })
  })

  it('builds no view when nothing expires', () => {
    expect(expiringView({ org: 'acme', horizon: at(0), count: 0, groups: [] })).toBeUndefined()
  })
})

describe('RetentionBanner across its breakpoint', () => {
  it('keeps focus on Export them… when the window crosses into the one-line banner', async () => {
    // A window that the test resizes: COMPACT_BANNER_MEDIA matches once it is small.
    const listeners = new Set<(e: { matches: boolean }) => void>()
    let small = false
    const original = window.matchMedia
    window.matchMedia = ((query: string) => ({
      get matches() {
        return query.includes('max-width: 1099px') ? small : query.includes('prefers-reduced-motion: reduce')
      },
      media: query, onchange: null, addListener: () => {}, removeListener: () => {}, dispatchEvent: () => false,
      addEventListener: (_: string, l: (e: { matches: boolean }) => void) => listeners.add(l),
      removeEventListener: (_: string, l: (e: { matches: boolean }) => void) => listeners.delete(l),
    })) as unknown as typeof window.matchMedia
    try {
      const events = [makeEvent(1, { timestamp: at(88 * DAY) })]
      const s = setup({ api: createFakeApi(events, { now: () => NOW }) })
      renderWith(s.stores, <RetentionBanner pollMs={0} />)
      const button = await screen.findByTestId('retention-export')
      expect(screen.getByTestId('retention-banner')).not.toHaveAttribute('data-compact')
      act(() => button.focus())
      small = true
      act(() => listeners.forEach((l) => l({ matches: true })))
      await waitFor(() => expect(screen.getByTestId('retention-banner')).toHaveAttribute('data-compact'))
      expect(screen.getByTestId('retention-export')).toHaveFocus()
    } finally {
      window.matchMedia = original
    }
  })
})
