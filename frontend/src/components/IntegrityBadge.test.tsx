import { screen, waitFor } from '@testing-library/react'
import userEvent from '@testing-library/user-event'
import { describe, expect, it } from 'vitest'
import { setup, renderWith } from '../test/render'
import { IntegrityBadge } from './IntegrityBadge'

describe('IntegrityBadge', () => {
  it('shows the newest checkpoint and no alert when there is none', async () => {
    const s = setup()
    renderWith(s.stores, <IntegrityBadge />)
    await s.stores.session.getState().loadCheckpoint('acme')
    await waitFor(() => expect(screen.getByTestId('integrity-badge')).toHaveTextContent(/Checkpoint \d/))
    expect(screen.getByTestId('integrity-badge')).toHaveTextContent('Not verified yet')
    await userEvent.click(screen.getByTestId('integrity-badge'))
    expect(screen.queryByTestId('integrity-alert')).toBeNull()
  })

  it('says appends are refused and what to do while the organization has an integrity alert', async () => {
    const s = setup()
    const message = 'the audit log of organization "acme" was rolled back or truncated: run `axiom-audit recover --acknowledge`'
    const real = s.api.latestCheckpoint
    s.api.latestCheckpoint = async (org) => ({ ...(await real(org)), alert: { kind: 'rollback', detectedAt: new Date().toISOString(), message } })
    renderWith(s.stores, <IntegrityBadge />)
    await s.stores.session.getState().loadCheckpoint('acme')
    await waitFor(() => expect(screen.getByTestId('integrity-badge')).toHaveTextContent('Integrity alert: appends refused'))
    await userEvent.click(screen.getByTestId('integrity-badge'))
    const alert = await screen.findByTestId('integrity-alert')
    expect(alert).toHaveTextContent('recover --acknowledge')
    expect(alert).toHaveTextContent('New events for acme are refused')
  })
})
