import { screen, waitFor } from '@testing-library/react'
import userEvent from '@testing-library/user-event'
import { describe, expect, it } from 'vitest'
import { setup, renderWith } from '../test/render'
import type { EventDTO } from '../api/types'
import { IntegrityBadge } from './IntegrityBadge'
import { OtherAlerts } from './Header'

describe('IntegrityBadge', () => {
  it('shows the newest checkpoint and no alert when there is none', async () => {
    const s = setup()
    renderWith(s.stores, <IntegrityBadge />)
    await s.stores.session.getState().loadCheckpoint('acme')
    await waitFor(() => expect(screen.getByTestId('integrity-badge')).toHaveTextContent(/Checkpoint \d/))
    expect(screen.getByTestId('integrity-badge')).toHaveTextContent('Not verified yet')
    await userEvent.click(screen.getByTestId('integrity-badge'))
    expect(screen.queryByTestId('integrity-alert')).toBeNull()
    expect(await screen.findByRole('dialog')).toBeInTheDocument()
    await userEvent.keyboard('{Escape}')
    await waitFor(() => expect(screen.queryByRole('dialog')).toBeNull())
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

describe('IntegrityBadge of an organization whose log is missing', () => {
  it('shows the alert the organization list carries, with no checkpoint to carry it', async () => {
    const s = setup()
    const message = 'the audit log of organization "gone" is missing from the database, but the keychain anchor is a checkpoint of 10 events'
    const alert = { kind: 'missing_org', detectedAt: new Date().toISOString(), message }
    s.stores.session.setState({ orgs: [{ id: 'gone', size: 0, alert }] })
    s.stores.view.getState().set({ org: 'gone' })
    s.api.latestCheckpoint = async () => {
      throw Object.assign(new Error(message), { code: 'integrity_alert' })
    }
    renderWith(s.stores, <IntegrityBadge />)
    await s.stores.session.getState().loadCheckpoint('gone')
    await waitFor(() => expect(screen.getByTestId('integrity-badge')).toHaveTextContent('Integrity alert: appends refused'))
    await userEvent.click(screen.getByTestId('integrity-badge'))
    expect(await screen.findByTestId('integrity-alert')).toHaveTextContent('missing from the database')
  })
})

describe('OtherAlerts', () => {
  it('names another organization with an alert, and shows it on a click', async () => {
    const s = setup()
    const alert = { kind: 'rollback', detectedAt: new Date().toISOString(), message: 'rolled back' }
    s.stores.view.getState().set({ org: 'acme' })
    s.stores.session.setState({ orgs: [{ id: 'acme', size: 3 }, { id: 'globex', size: 5, alert }] })
    renderWith(s.stores, <OtherAlerts />)
    const badge = await screen.findByTestId('other-alerts')
    expect(badge).toHaveAccessibleName('Integrity alert: globex')
    expect(badge).toHaveTextContent('Alertglobex')
    await userEvent.click(badge)
    expect(s.stores.view.getState().org).toBe('globex')
    // The shown organization's own alert is the integrity badge's to show.
    await waitFor(() => expect(screen.queryByTestId('other-alerts')).toBeNull())
  })
})

describe('IntegrityBadge and verifications run elsewhere', () => {
  const verified = (at: string, result: 'ok' | 'tampered', problems = 0): EventDTO => ({
    id: `v-${at}`, seq: 1, timestamp: at, recordedAt: at, organizationId: 'acme', userId: 'auditor@acme.example', provider: 'internal',
    actionType: 'audit.verified', category: 'audit', resourceIds: [], status: 'completed', riskLevel: 'low',
    metadata: { result, problems, records: 1234, treeSize: 1234, trigger: 'report' },
    prevHash: '', leafHash: '', retention: 'material', soc2: [], iso27001: [],
  })

  // The badge over a log whose audit.verified events are what log() set last.
  const withVerificationLog = () => {
    const s = setup()
    const real = s.api.listEvents
    let logged: EventDTO[] = []
    s.api.listEvents = async (q, signal) => (q.actionTypes?.includes('audit.verified') ? { events: logged } : real(q, signal))
    renderWith(s.stores, <IntegrityBadge />)
    return { s, log: (events: EventDTO[]) => { logged = events } }
  }

  it('shows the newest verification the log records, such as a report’s', async () => {
    const { s, log } = withVerificationLog()
    await s.stores.session.getState().loadCheckpoint('acme')
    await waitFor(() => expect(screen.getByTestId('integrity-badge')).toHaveTextContent('Not verified yet'))

    log([verified(new Date(Date.now() - 60_000).toISOString(), 'tampered', 3)])
    await s.stores.session.getState().loadCheckpoint('acme')
    await waitFor(() => expect(screen.getByTestId('integrity-badge')).toHaveTextContent('Problems found'))
    await userEvent.click(screen.getByTestId('integrity-badge'))
    expect(await screen.findByTestId('verify-result')).toHaveTextContent('3 problems: 1,234 events of acme checked')
    // A verification is recorded: the popover does not say it changes nothing.
    expect(screen.getByTestId('verify-run')).toHaveTextContent("Verify acme's log now")
    expect(screen.getByText(/records the check in its log as one more event/)).toBeInTheDocument()
  })

  it('keeps this window’s own result, with its details, over the log’s record of the same run', async () => {
    const { s, log } = withVerificationLog()
    await s.stores.session.getState().verify('acme')
    const mine = s.stores.session.getState().lastVerify
    expect(mine?.clean).toBe(true)
    // The log records the run a moment after it finished.
    log([verified(new Date(Date.parse(mine!.finishedAt) + 20).toISOString(), 'ok')])
    await s.stores.session.getState().loadCheckpoint('acme')
    expect(s.stores.session.getState().lastVerify).toBe(mine)
    // A later run elsewhere (a report, the CLI) replaces it.
    log([verified(new Date(Date.parse(mine!.finishedAt) + 60_000).toISOString(), 'tampered', 1)])
    await s.stores.session.getState().loadCheckpoint('acme')
    await waitFor(() => expect(screen.getByTestId('integrity-badge')).toHaveTextContent('Problems found'))
  })
})

describe('loading the checkpoint while things change', () => {
  it('keeps the organization chosen last when an earlier load answers after it', async () => {
    const s = setup()
    const real = s.api.latestCheckpoint
    let releaseSlow!: () => void
    const slow = new Promise<void>((r) => { releaseSlow = r })
    s.api.latestCheckpoint = async (org) => {
      if (org === 'acme') await slow
      return { ...(await real('acme')), origin: `origin of ${org}` }
    }
    const first = s.stores.session.getState().loadCheckpoint('acme')
    await s.stores.session.getState().loadCheckpoint('other')
    releaseSlow()
    await first
    expect(s.stores.session.getState().checkpoint?.origin).toBe('origin of other')
  })
})
