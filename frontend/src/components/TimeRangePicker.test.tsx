import { screen, waitFor } from '@testing-library/react'
import userEvent from '@testing-library/user-event'
import { describe, expect, it } from 'vitest'
import { renderWith, setup } from '../test/render'
import { TimeRangePicker } from './TimeRangePicker'

describe('TimeRangePicker', () => {
  it.each([
    ['Cancel', async () => userEvent.click(await screen.findByRole('button', { name: 'Cancel' }))],
    ['Apply', async () => userEvent.click(await screen.findByTestId('range-apply'))],
  ])('gives focus back to Custom when its form closes (%s)', async (_how, close) => {
    const s = setup()
    renderWith(s.stores, <TimeRangePicker />)
    const custom = screen.getByTestId('range-absolute')
    await userEvent.click(custom)
    await waitFor(() => expect(screen.getByRole('dialog')).toContainElement(document.activeElement as HTMLElement))
    await close()
    await waitFor(() => expect(screen.queryByRole('dialog')).toBeNull())
    await waitFor(() => expect(custom).toHaveFocus())
  })
})
