import { MantineProvider } from '@mantine/core'
import { act, fireEvent, render, screen } from '@testing-library/react'
import { describe, expect, it } from 'vitest'
import { theme } from '../theme'
import { ToolbarButton } from './ToolbarButton'

function ui(compact: boolean) {
  return (
    <MantineProvider theme={theme}>
      <ToolbarButton compact={compact} icon={<svg />} label="Export…" tooltip="Export the events of this view" onClick={() => {}} testId="export-button" />
    </MantineProvider>
  )
}

describe('ToolbarButton', () => {
  it('keeps focus when the toolbar turns compact (a resize while it is focused, or while its dialog is open)', () => {
    const { rerender } = render(ui(false))
    const button = screen.getByRole('button', { name: 'Export…' })
    act(() => button.focus())
    rerender(ui(true))
    expect(document.activeElement).toBe(screen.getByRole('button', { name: 'Export…' }))
    expect(screen.getByTestId('export-button')).not.toHaveTextContent('Export…')
  })

  it('shows its tooltip on keyboard focus, where the icon is all there is to see', async () => {
    render(ui(true))
    fireEvent.focus(screen.getByRole('button', { name: 'Export…' }))
    expect(await screen.findByRole('tooltip')).toHaveTextContent('Export the events of this view')
  })
})
