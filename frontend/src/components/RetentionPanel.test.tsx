import { screen, waitFor, within } from '@testing-library/react'
import userEvent from '@testing-library/user-event'
import { describe, expect, it } from 'vitest'
import { createFakeApi } from '../api/fake'
import { NOW, makeEvent, renderWith, sampleEvents, setup } from '../test/render'
import { RetentionIndicator } from './RetentionPanel'

describe('RetentionIndicator', () => {
  it('closes its panel on Escape', async () => {
    const s = setup()
    renderWith(s.stores, <RetentionIndicator />)
    await userEvent.click(screen.getByTestId('retention-indicator'))
    await screen.findByTestId('retention-panel')
    await userEvent.keyboard('{Escape}')
    await waitFor(() => expect(screen.queryByTestId('retention-panel')).toBeNull())
  })

  it('shows the policy and, in the desktop app, changes a window', async () => {
    const s = setup()
    renderWith(s.stores, <RetentionIndicator />)
    await userEvent.click(screen.getByTestId('retention-indicator'))
    const panel = await screen.findByTestId('retention-panel')
    expect(panel).toHaveTextContent('Retention of acme · the default policy')
    expect(within(panel).getByTestId('retention-rules')).toHaveTextContent('operationalkept 90 days')
    expect(within(panel).getByTestId('retention-rules')).toHaveTextContent('materialkept indefinitely')
    const days = within(panel).getByTestId('retention-days')
    await userEvent.clear(days)
    await userEvent.type(days, '30')
    await userEvent.click(within(panel).getByTestId('retention-save'))
    // Shorter: version 1 waits a week; the default stays in force until then.
    const pending = await screen.findByTestId('retention-pending')
    expect(pending).toHaveTextContent('Version 1 takes effect')
    expect(pending).toHaveTextContent('operational kept 30 days')
    expect(pending).toHaveTextContent('A change that shortens a window waits a week')
    expect(screen.getByTestId('retention-rules')).toHaveTextContent('operationalkept 90 days')
    expect(screen.getByTestId('retention-panel')).toHaveTextContent('Retention of acme · the default policy')
    expect(screen.getByTestId('retention-indicator')).toHaveTextContent('ops 90d · material ∞ · change pending')
    // Longer: in force at once, replacing the pending version.
    await userEvent.clear(within(panel).getByTestId('retention-days'))
    await userEvent.type(within(panel).getByTestId('retention-days'), '120')
    await userEvent.click(within(panel).getByTestId('retention-save'))
    await waitFor(() => expect(screen.getByTestId('retention-rules')).toHaveTextContent('operationalkept 120 days'))
    expect(screen.getByTestId('retention-panel')).toHaveTextContent('policy version 2')
    expect(screen.queryByTestId('retention-pending')).toBeNull()
  })

  it('applies a shorter window at once when asked', async () => {
    const s = setup()
    renderWith(s.stores, <RetentionIndicator />)
    await userEvent.click(screen.getByTestId('retention-indicator'))
    const panel = await screen.findByTestId('retention-panel')
    await userEvent.clear(within(panel).getByTestId('retention-days'))
    await userEvent.type(within(panel).getByTestId('retention-days'), '30')
    await userEvent.click(within(panel).getByTestId('retention-at-once'))
    await userEvent.click(within(panel).getByTestId('retention-save'))
    await waitFor(() => expect(screen.getByTestId('retention-rules')).toHaveTextContent('operationalkept 30 days'))
    expect(screen.queryByTestId('retention-pending')).toBeNull()
  })

  it('says what expires soon and the last recorded sweep', async () => {
    const base = sampleEvents()
    const sweep = makeEvent(base.length + 1, { actionType: 'audit.retention_swept', category: 'audit', metadata: { pruned: 42 } })
    const fake = createFakeApi([...base, sweep], { now: () => NOW })
    const expiring = { org: 'acme', horizon: '', count: 3, groups: [] }
    const s = setup({ api: { ...fake, expiringEvents: () => Promise.resolve(expiring) } })
    renderWith(s.stores, <RetentionIndicator />)
    await userEvent.click(screen.getByTestId('retention-indicator'))
    expect(await screen.findByTestId('retention-expiring')).toHaveTextContent('3 events expire within 7 days.')
    expect(await screen.findByTestId('retention-last-sweep')).toHaveTextContent(/^Last recorded sweep: .+, 42 events pruned\.$/)
  })

  it('says how many events were pruned in all, beside the last sweep', async () => {
    const fake = createFakeApi(sampleEvents(), { now: () => NOW })
    const s = setup({ api: { ...fake, retention: (org: string) => fake.retention(org).then((p) => ({ ...p, prunedEvents: 6373, prunedRuns: 3 })) } })
    renderWith(s.stores, <RetentionIndicator />)
    await userEvent.click(screen.getByTestId('retention-indicator'))
    expect(await screen.findByTestId('retention-last-sweep')).toHaveTextContent(
      /^6,373 events were pruned in all\. The app checks for expired events every hour\.$/)
  })

  it('says plainly when nothing has been pruned yet, and when it looks again', async () => {
    const fake = createFakeApi(sampleEvents(), { now: () => NOW })
    const s = setup({ api: { ...fake, retention: (org: string) => fake.retention(org).then((p) => ({ ...p, prunedEvents: 0, prunedRuns: 0 })) } })
    renderWith(s.stores, <RetentionIndicator />)
    await userEvent.click(screen.getByTestId('retention-indicator'))
    expect(await screen.findByTestId('retention-last-sweep')).toHaveTextContent(
      /^Nothing has been pruned yet\. The app checks for expired events every hour\.$/)
  })

  it('in a browser says how to change it on the machine', async () => {
    const fake = createFakeApi(sampleEvents(), { now: () => NOW })
    const s = setup({ api: { ...fake, canSetRetention: false } })
    renderWith(s.stores, <RetentionIndicator />)
    await userEvent.click(screen.getByTestId('retention-indicator'))
    const panel = await screen.findByTestId('retention-panel')
    expect(panel).toHaveTextContent('axiom-audit retention set --org acme')
    expect(within(panel).queryByTestId('retention-save')).toBeNull()
  })
})
