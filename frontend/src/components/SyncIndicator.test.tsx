import { act, screen, waitFor, within } from '@testing-library/react'
import userEvent from '@testing-library/user-event'
import { describe, expect, it, vi } from 'vitest'
import { ApiError } from '../api/errors'
import { createFakeApi } from '../api/fake'
import type { SyncDestinationDTO } from '../api/types'
import { NOW, renderWith, sampleEvents, setup } from '../test/render'
import { formatWait, summarize } from './SyncPanel'
import { SyncIndicator } from './SyncIndicator'

function dest(over: Partial<SyncDestinationDTO> = {}): SyncDestinationDTO {
  return {
    kind: 'webhook', target: 'https://siem.example.com/hook', enabled: true, state: 'healthy', format: 'jsonl',
    includes: 'commitments', deliveredSeq: 6, headSeq: 6, lagEvents: 0, lagSeconds: 0,
    lastSuccess: new Date(NOW - 5 * 60_000).toISOString(), lastError: '', lastErrorAt: null, failures: 0,
    enabledAt: new Date(NOW - 86_400_000).toISOString(), ...over,
  }
}

function withSync(destinations: SyncDestinationDTO[]) {
  const api = createFakeApi(sampleEvents(), { now: () => NOW, sync: { acme: destinations } })
  return setup({ api })
}

async function open() {
  await userEvent.click(screen.getByTestId('sync-indicator'))
  return screen.findByTestId('sync-panel')
}

describe('SyncIndicator', () => {
  it('closes its panel on Escape', async () => {
    const s = setup()
    renderWith(s.stores, <SyncIndicator />)
    await open()
    await userEvent.keyboard('{Escape}')
    await waitFor(() => expect(screen.queryByTestId('sync-panel')).toBeNull())
  })

  it('says sync is off and how to opt in, with no "Sync now"', async () => {
    const s = setup()
    renderWith(s.stores, <SyncIndicator />)
    await waitFor(() => expect(screen.getByTestId('sync-line')).toHaveTextContent('Off'))
    const panel = await open()
    expect(within(panel).getByTestId('sync-off')).toHaveTextContent('Sync is off for acme')
    expect(within(panel).getByTestId('sync-enable-command')).toHaveTextContent('axiom-audit sync enable --org acme \\ --to tenant')
    expect(within(panel).getByTestId('sync-enable-command')).toHaveTextContent('--to webhook')
    expect(within(panel).getByTestId('sync-enable-command')).toHaveTextContent('--to azure --account-url https://ACCOUNT.blob.core.windows.net')
    expect(within(panel).queryByTestId('sync-run-now')).toBeNull()
  })

  it('lists destinations with lag, last success and last error, worst state first in the header', async () => {
    const s = withSync([
      dest({ kind: 'tenant', target: 'https://tenant.example.com', format: undefined }),
      dest({ state: 'retrying', lagEvents: 42, lagSeconds: 310, deliveredSeq: 0, headSeq: 42, lastSuccess: null, lastError: 'HTTP 503 Service Unavailable', lastErrorAt: new Date(NOW - 30_000).toISOString(), failures: 4 }),
    ])
    renderWith(s.stores, <SyncIndicator />)
    await waitFor(() => expect(screen.getByTestId('sync-line')).toHaveTextContent('Failing, retrying'))
    expect(screen.getByTestId('sync-indicator')).toHaveAccessibleName('Sync: Failing, retrying')
    const panel = await open()
    const tenant = within(panel).getByTestId('sync-destination-tenant')
    expect(tenant).toHaveTextContent('Cloud tenant')
    expect(tenant).toHaveTextContent('https://tenant.example.com')
    expect(within(tenant).getByTestId('sync-lag')).toHaveTextContent('Up to date')
    expect(within(tenant).getByTestId('sync-last-success')).toHaveTextContent('ago')
    const hook = within(panel).getByTestId('sync-destination-webhook')
    expect(hook).toHaveTextContent('SIEM webhook')
    expect(hook).toHaveTextContent('retrying')
    expect(within(hook).getByTestId('sync-lag')).toHaveTextContent('42 events behind, oldest waiting 5 min')
    expect(within(hook).getByTestId('sync-last-success')).toHaveTextContent('never')
    expect(within(hook).getByTestId('sync-last-error')).toHaveTextContent('(4 in a row): HTTP 503 Service Unavailable')
  })

  it('shows an Azure Blob destination by its container URL', async () => {
    const s = withSync([
      dest({
        kind: 'azure', target: 'https://acct1.blob.core.windows.net/audit-archive/axiom/', format: undefined, state: 'stopped',
        stopped: 'rejected: failed to write org=acme/checkpoint: HTTP 404 Not Found: ContainerNotFound: container "audit-archive" does not exist in this account: create it (sync does not create containers)',
      }),
    ])
    renderWith(s.stores, <SyncIndicator />)
    await waitFor(() => expect(screen.getByTestId('sync-line')).toHaveTextContent('Stopped'))
    const panel = await open()
    const az = within(panel).getByTestId('sync-destination-azure')
    expect(az).toHaveTextContent('Azure Blob container')
    expect(az).toHaveTextContent('https://acct1.blob.core.windows.net/audit-archive/axiom/')
    expect(within(az).getByTestId('sync-stopped')).toHaveTextContent('container "audit-archive" does not exist')
  })

  it('says how many events retention pruned before a destination received them', async () => {
    const s = withSync([dest({ kind: 'tenant', target: 'https://tenant.example.com', format: undefined }), dest({ prunedBeforeDelivery: 671 })])
    renderWith(s.stores, <SyncIndicator />)
    const panel = await open()
    expect(within(within(panel).getByTestId('sync-destination-webhook')).getByTestId('sync-pruned')).toHaveTextContent(
      '671 events pruned by retention before delivery',
    )
    expect(within(within(panel).getByTestId('sync-destination-tenant')).queryByTestId('sync-pruned')).toBeNull()
  })

  it('"Sync now" delivers and shows the new status', async () => {
    const s = withSync([dest({ lagEvents: 3, lagSeconds: 12, deliveredSeq: 3 })])
    const runNow = vi.spyOn(s.api, 'syncRunNow')
    renderWith(s.stores, <SyncIndicator />)
    await waitFor(() => expect(screen.getByTestId('sync-line')).toHaveTextContent('3 behind'))
    const panel = await open()
    await userEvent.click(within(panel).getByTestId('sync-run-now'))
    expect(runNow).toHaveBeenCalledWith('acme')
    await waitFor(() => expect(screen.getByTestId('sync-line')).toHaveTextContent('Up to date'))
    expect(within(panel).getByTestId('sync-lag')).toHaveTextContent('Up to date')
    expect(within(panel).queryByTestId('sync-run-error')).toBeNull()
  })

  it('shows a destination stopped by an integrity alert, which "Sync now" does not lift', async () => {
    const s = withSync([
      dest({ kind: 'tenant', state: 'stopped', stopped: 'integrity alert: the destination holds a checkpoint of size 90 signed by this installation, but the local log has only 60', lagEvents: 5 }),
    ])
    renderWith(s.stores, <SyncIndicator />)
    await waitFor(() => expect(screen.getByTestId('sync-line')).toHaveTextContent('Stopped'))
    const panel = await open()
    expect(within(panel).getByTestId('sync-stopped')).toHaveTextContent('integrity alert: the destination holds a checkpoint')
    expect(within(panel).getByTestId('sync-state')).toHaveTextContent('stopped')
    expect(within(panel).getByTestId('sync-witness-advice')).toHaveTextContent('axiom-audit recover --acknowledge --org acme')
    await userEvent.click(within(panel).getByTestId('sync-run-now'))
    expect(await within(panel).findByTestId('sync-run-error')).toHaveTextContent('stopped by an integrity alert')
    expect(screen.getByTestId('sync-line')).toHaveTextContent('Stopped')
  })

  it('says when the status cannot be read', async () => {
    const s = setup()
    vi.spyOn(s.api, 'syncStatus').mockRejectedValue(new ApiError({ code: 'keychain_unavailable', message: 'the keychain is locked' }, 503))
    renderWith(s.stores, <SyncIndicator />)
    await waitFor(() => expect(screen.getByTestId('sync-line')).toHaveTextContent('Unavailable'))
    const panel = await open()
    expect(within(panel).getByTestId('sync-error')).toHaveTextContent('the keychain is locked')
  })

  it('is off while there is no organization', async () => {
    const s = setup({ search: '?range=90d' })
    const status = vi.spyOn(s.api, 'syncStatus')
    renderWith(s.stores, <SyncIndicator />)
    await waitFor(() => expect(screen.getByTestId('sync-line')).toHaveTextContent('Off'))
    expect(status).not.toHaveBeenCalled()
  })

  it('follows the organization', async () => {
    const api = createFakeApi([...sampleEvents(), ...sampleEvents().map((e) => ({ ...e, id: 'b' + e.id, organizationId: 'beta' }))], {
      now: () => NOW, sync: { beta: [dest()] },
    })
    const s = setup({ api })
    renderWith(s.stores, <SyncIndicator />)
    await waitFor(() => expect(screen.getByTestId('sync-line')).toHaveTextContent('Off'))
    act(() => s.stores.view.getState().set({ org: 'beta' }))
    await waitFor(() => expect(screen.getByTestId('sync-line')).toHaveTextContent('Up to date'))
  })
})

describe('summarize', () => {
  it('ignores disabled destinations and ranks stopped over retrying over behind', () => {
    expect(summarize({ org: 'a', destinations: [dest({ enabled: false, state: 'disabled' })] }).state).toBe('off')
    expect(summarize({ org: 'a', destinations: [dest({ lagEvents: 2 }), dest({ state: 'retrying' })] }).state).toBe('retrying')
    expect(summarize({ org: 'a', destinations: [dest({ state: 'stopped' }), dest({ state: 'retrying' })] }).state).toBe('stopped')
    expect(summarize({ org: 'a', destinations: [dest({ lagEvents: 1200 })] }).line).toBe('1,200 behind')
    expect(summarize(undefined).state).toBe('loading')
  })

  it('formats waits', () => {
    expect([formatWait(0.4), formatWait(59), formatWait(61), formatWait(7300), formatWait(200_000)]).toEqual(['0 s', '59 s', '1 min', '2 h', '2 d'])
  })
})
