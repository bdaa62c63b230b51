import { MantineProvider, Modal } from '@mantine/core'
import { fireEvent, render, screen } from '@testing-library/react'
import { useState } from 'react'
import { describe, expect, it, vi } from 'vitest'
import { theme } from '../theme'
import { EscapeProvider, useCloseOnEscape } from './escape'

// Stands for a popover whose focus trap has not moved focus in yet.
function Opened({ close }: { close(): void }) {
  useCloseOnEscape(true, close)
  return null
}

function escapeOn(el: Element) {
  fireEvent.keyDown(el, { key: 'Escape', code: 'Escape' })
}

describe('EscapeProvider', () => {
  it('closes the newest popover on an Escape from a page list that does nothing with it (the timeline)', () => {
    const close = vi.fn()
    render(
      <EscapeProvider>
        <div role="listbox" tabIndex={0} aria-label="Events" />
        <Opened close={close} />
      </EscapeProvider>,
    )
    escapeOn(screen.getByRole('listbox', { name: 'Events' }))
    expect(close).toHaveBeenCalledTimes(1)
  })

  it("leaves an Escape inside a popup's list (a combobox's options) to it", () => {
    const close = vi.fn()
    render(
      <EscapeProvider>
        <div role="presentation">
          <div role="listbox" tabIndex={0} aria-label="Suggestions" />
        </div>
        <Opened close={close} />
      </EscapeProvider>,
    )
    escapeOn(screen.getByRole('listbox', { name: 'Suggestions' }))
    expect(close).not.toHaveBeenCalled()
  })

  it('closes a dialog once on an Escape from outside it (Mantine listens on the window too)', () => {
    const onClose = vi.fn()
    function Dialog() {
      const [opened, setOpened] = useState(true)
      const close = () => {
        onClose()
        setOpened(false)
      }
      useCloseOnEscape(opened, close)
      return (
        <Modal opened={opened} onClose={close} title="A dialog">
          body
        </Modal>
      )
    }
    render(
      <MantineProvider theme={theme}>
        <EscapeProvider>
          <button type="button">opener</button>
          <Dialog />
        </EscapeProvider>
      </MantineProvider>,
    )
    escapeOn(screen.getByRole('button', { name: 'opener' }))
    expect(onClose).toHaveBeenCalledTimes(1)
  })
})
