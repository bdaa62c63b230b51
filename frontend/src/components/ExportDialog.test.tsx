import { act, cleanup, fireEvent, screen, waitFor, within } from '@testing-library/react'
import userEvent from '@testing-library/user-event'
import { beforeEach, describe, expect, it, vi } from 'vitest'
import type { AuditApi } from '../api/client'
import { ApiError } from '../api/errors'
import { createFakeApi } from '../api/fake'
import type { ExportProgress, ExportRequest, ExportResultDTO } from '../api/types'
import { NOW, renderWith, sampleEvents, setup } from '../test/render'
import { describeScope, ExportButton } from './ExportDialog'

/** An api whose export the test drives: it reports progress and settles when told. */
function controlledApi(over: Partial<AuditApi> = {}) {
  const fake = createFakeApi(sampleEvents(), { now: () => NOW })
  const calls: ExportRequest[] = []
  let progress: ((p: ExportProgress) => void) | undefined
  let resolve!: (r: ExportResultDTO) => void
  let reject!: (e: unknown) => void
  const cancel = vi.fn(async () => reject(new ApiError({ code: 'cancelled', message: 'export cancelled: context canceled' })))
  const api: AuditApi = {
    ...fake,
    startExport: (req, onProgress) => {
      calls.push(req)
      progress = onProgress
      const result = new Promise<ExportResultDTO>((res, rej) => {
        resolve = res
        reject = rej
      })
      return { id: 'job-1', result, cancel }
    },
    ...over,
  }
  return {
    api, calls, cancel,
    progress: (p: ExportProgress) => act(() => progress?.(p)),
    resolve: (r: ExportResultDTO) => act(async () => resolve(r)),
    reject: (e: unknown) => act(async () => reject(e)),
  }
}

const RESULT: ExportResultDTO = {
  dir: '/home/alice/evidence/axiom-audit-export-acme-20261120T120000Z', format: 'csv', count: 6, firstSeq: 1, lastSeq: 6,
  bytes: 12_345, includeSensitive: false,
  files: [{ name: 'events.csv', bytes: 4000, sha256: 'ab'.repeat(32) }, { name: 'manifest.json', bytes: 900, sha256: 'cd'.repeat(32) }],
}

async function openDialog(api: AuditApi, search = '?org=acme&range=90d&q=status%3Afailed+-risk%3Alow') {
  const s = setup({ api, search })
  renderWith(s.stores, <ExportButton />)
  await userEvent.click(screen.getByTestId('export-button'))
  await screen.findByText('Export evidence')
  return s
}

describe('describeScope', () => {
  it('says what an export of the view holds', () => {
    expect(describeScope({ org: 'acme', q: 'status:failed -risk:low provider:aws provider:gcp', range: { kind: 'relative', preset: '24h' } }, 'utc'))
      .toBe('Events of acme in the last 24 hours, where provider is aws or gcp and status is failed and risk is not low.')
    expect(describeScope({ org: 'acme', q: '', range: { kind: 'absolute', from: '2026-11-01T00:00:00Z', to: '2026-11-02T12:30:00Z' } }, 'utc'))
      .toBe('All events of acme from 2026-11-01 00:00:00 UTC to 2026-11-02 12:30:00 UTC.')
    expect(describeScope({ org: 'acme', q: 'resource:arn:aws:s3* bucket', range: { kind: 'relative', preset: '7d' } }, 'utc'))
      .toBe('Events of acme in the last 7 days, where resource starts with arn:aws:s3 and the text contains “bucket”.')
  })
  it('says that each word or phrase of the free text is searched on its own, as the log does', () => {
    // The log matches each word anywhere (storage.TextTerms): "contains
    // “alice failed”" would promise the phrase, which the export does not.
    expect(describeScope({ org: 'acme', q: 'alice failed "access denied"', range: { kind: 'relative', preset: '7d' } }, 'utc'))
      .toBe('Events of acme in the last 7 days, where the text contains “alice”, “failed” and “access denied”.')
  })
})

describe('ExportDialog', () => {
  beforeEach(() => localStorage.clear())

  it('in the browser, exports the current filter to a typed folder, with progress, and shows the bundle', async () => {
    const c = controlledApi()
    const s = await openDialog(c.api)
    expect(screen.getByTestId('export-scope')).toHaveTextContent('Events of acme in the last 90 days, where status is failed and risk is not low.')
    expect(screen.queryByTestId('export-choose-folder')).toBeNull()

    await userEvent.click(screen.getByRole('textbox', { name: 'Format' }))
    fireEvent.click(await screen.findByRole('option', { name: 'CEF (ArcSight)' }))
    await userEvent.type(screen.getByRole('textbox', { name: /Destination folder/ }), '/home/alice/evidence')
    await userEvent.click(screen.getByTestId('export-start'))

    expect(c.calls).toHaveLength(1)
    const req = c.calls[0]!
    expect(req).toMatchObject({ format: 'cef', outDir: '/home/alice/evidence', includeSensitive: false })
    expect(req.query).toMatchObject({ org: 'acme', statuses: ['failed'], notRiskLevels: ['low'], order: 'oldest' })
    expect(Date.parse(req.query.since!)).toBeGreaterThan(Date.now() - 91 * 86400_000)

    // While it runs: a progress bar with events, bytes and ETA; the form is locked.
    expect(screen.getByTestId('export-progress')).toHaveTextContent('Starting')
    c.progress({ events: 500, total: 1000, bytes: 2 << 20, etaSeconds: 75 })
    expect(screen.getByRole('progressbar', { name: 'Export progress' })).toHaveAttribute('aria-valuenow', '50')
    expect(screen.getByTestId('export-progress-text')).toHaveTextContent('500 of 1,000 events · 2.0 MiB · about 1 min 15 s left')
    expect(screen.getByRole('textbox', { name: /Destination folder/ })).toBeDisabled()
    expect(screen.queryByTestId('export-start')).toBeNull()

    await c.resolve(RESULT)
    const done = await screen.findByTestId('export-done')
    expect(done).toHaveTextContent('6 events (seq 1 to 6) as csv')
    expect(done).toHaveTextContent('withheld (commitments only)')
    expect(screen.getByTestId('export-result-dir')).toHaveTextContent(RESULT.dir)
    expect(done).toHaveTextContent('axiom-audit verify-export ' + RESULT.dir)
    expect(within(done).getByText('events.csv')).toBeInTheDocument()
    expect(s.stores.view.getState().q).toBe('status:failed -risk:low')
    expect(screen.queryByTestId('export-pruned')).toBeNull() // a version 3 bundle says nothing
  })

  it('says what retention had pruned of the range', async () => {
    const rule = (policy: string, count: number) => ({
      policy, policyVersion: 2, windowDays: 30, count, categories: { scan: count }, firstSeq: 1, lastSeq: 9,
      oldestTimestamp: '2026-09-01T00:00:00Z', newestTimestamp: '2026-09-02T00:00:00Z', firstPrunedAt: '2026-10-01T00:00:00Z', lastPrunedAt: '2026-10-01T00:00:00Z',
    })
    for (const [pruned, want] of [
      [{ exact: true, count: 0, rules: [] }, 'Retention had pruned none of the events this export selects'],
      [{ exact: true, count: 1500, rules: [rule('operational 30 days (v2)', 1000), rule('scan 7 days (v2)', 500)] },
        '1,500 events this export selects were pruned before it was written, so the bundle holds what remains: 1,000 by operational 30 days (v2); 500 by scan 7 days (v2)'],
      [{ exact: false, count: 3, rules: [rule('operational 30 days (v2)', 3)] }, 'Up to 3 events this export may have selected were pruned (a pruned event keeps only its id, time, category and action type) before it was written, so the bundle holds what remains: up to 3 by operational 30 days (v2). pruned.json counts them by rule'],
      [{ exact: true, count: 1, rules: [rule('operational 30 days (v2)', 1)] }, '1 event this export selects was pruned before'],
    ] as const) {
      const c = controlledApi()
      await openDialog(c.api)
      await userEvent.type(screen.getByRole('textbox', { name: /Destination folder/ }), '/tmp/x')
      await userEvent.click(screen.getByTestId('export-start'))
      await c.resolve({ ...RESULT, pruned: { ...pruned, rules: [...pruned.rules] } })
      expect(await screen.findByTestId('export-pruned')).toHaveTextContent(want)
      if (pruned.count) expect(screen.getByTestId('export-pruned')).toHaveTextContent('Retention had pruned part of this range')
      cleanup()
    }
    // Nothing left to export: all of it was pruned.
    const c = controlledApi()
    await openDialog(c.api)
    await userEvent.type(screen.getByRole('textbox', { name: /Destination folder/ }), '/tmp/x')
    await userEvent.click(screen.getByTestId('export-start'))
    await c.resolve({ ...RESULT, count: 0, firstSeq: 0, lastSeq: 0, pruned: { exact: true, count: 2, rules: [rule('operational 30 days (v2)', 2)] } })
    expect(await screen.findByTestId('export-pruned')).toHaveTextContent('Retention had pruned what this export selects2 events this export selects were pruned')
  })

  it('says before exporting that retention has pruned part of the time range', async () => {
    const day = 86400_000
    // Outside the last 90 days, inside, and across its start (a run counts whole).
    const run = (from: number, to: number, count: number) => ({
      org: 'acme', fromSeq: 1, toSeq: count, count, class: 'operational', policy: 'operational 30 days (v1)',
      prunedAt: new Date(now - 10 * day).toISOString(), oldest: new Date(now - from * day).toISOString(), newest: new Date(now - to * day).toISOString(),
    })
    const now = Date.now() // the dialog's time range is the view's, from the clock
    const fake = createFakeApi(sampleEvents(), { now: () => NOW })
    const c = controlledApi({
      retention: (org: string) => fake.retention(org).then((p) => ({ ...p, pruned: [run(200, 150, 99), run(60, 50, 120), run(95, 85, 7)] })),
    })
    await openDialog(c.api) // the last 90 days
    expect(await screen.findByTestId('export-pruned-before')).toHaveTextContent(
      /^Retention has pruned up to 127 events of this time range \(dated .+ to .+\); they are not in the export, and its pruned\.json counts those its filter selects\.$/)
  })

  it('says nothing of pruning when none of the range was pruned', async () => {
    const c = controlledApi()
    await openDialog(c.api)
    await screen.findByTestId('export-scope')
    await new Promise((r) => setTimeout(r, 50))
    expect(screen.queryByTestId('export-pruned-before')).toBeNull()
  })

  it('warns clearly before states leave the log', async () => {
    const c = controlledApi()
    await openDialog(c.api)
    expect(screen.queryByTestId('export-sensitive-warning')).toBeNull()
    expect(screen.getByText(/only their commitments are exported/)).toBeInTheDocument()
    await userEvent.click(screen.getByRole('switch', { name: /Include before\/after states/ }))
    expect(screen.getByTestId('export-sensitive-warning')).toHaveTextContent('Anyone who can read the folder can read them')
    await userEvent.type(screen.getByRole('textbox', { name: /Destination folder/ }), '/tmp/x{Enter}')
    expect(c.calls[0]).toMatchObject({ includeSensitive: true, outDir: '/tmp/x' })
  })

  it('cancels a running export and says nothing was written', async () => {
    const c = controlledApi()
    await openDialog(c.api)
    await userEvent.type(screen.getByRole('textbox', { name: /Destination folder/ }), '/tmp/x')
    await userEvent.click(screen.getByTestId('export-start'))
    c.progress({ events: 10, total: 0, bytes: 100, etaSeconds: 0 })
    expect(screen.getByTestId('export-progress-text')).toHaveTextContent('10 events · 100 B')
    await userEvent.click(screen.getByTestId('export-cancel'))
    expect(c.cancel).toHaveBeenCalledOnce()
    const alert = await screen.findByTestId('export-error')
    expect(alert).toHaveTextContent('Export cancelled')
    expect(alert).toHaveTextContent('No bundle was written.')
    expect(screen.queryByTestId('export-progress')).toBeNull()
    expect(screen.getByTestId('export-start')).toBeEnabled()
  })

  it('says what happened and what to do when the folder is not writable, and lets the person fix it', async () => {
    const c = controlledApi()
    await openDialog(c.api)
    const folder = screen.getByRole('textbox', { name: /Destination folder/ })
    await userEvent.type(folder, '/srv/locked')
    await userEvent.click(screen.getByTestId('export-start'))
    await c.reject(JSON.stringify({ code: 'folder_not_writable', message: 'cannot write in /srv/locked: mkdir /srv/locked/x: permission denied' }))
    const alert = await screen.findByTestId('export-error')
    expect(alert).toHaveTextContent('Cannot write in this folder')
    expect(alert).toHaveTextContent('permission denied')
    expect(alert).toHaveTextContent('Choose another folder')
    await userEvent.clear(folder)
    await userEvent.type(folder, '/tmp/ok')
    await userEvent.click(screen.getByTestId('export-start'))
    expect(c.calls.map((r) => r.outDir)).toEqual(['/srv/locked', '/tmp/ok'])
    expect(screen.queryByTestId('export-error')).toBeNull()
  })

  it('asks for a folder before exporting', async () => {
    const c = controlledApi()
    await openDialog(c.api)
    await userEvent.click(screen.getByTestId('export-start'))
    expect(await screen.findByTestId('export-error')).toHaveTextContent('Choose the folder to write the bundle in.')
    expect(c.calls).toHaveLength(0)
  })

  it('in the desktop app, picks the folder with the native picker', async () => {
    const choose = vi.fn(async () => '/home/alice/Evidence')
    const c = controlledApi({ canPickFolder: true, chooseExportFolder: choose })
    await openDialog(c.api)
    const field = screen.getByRole('textbox', { name: /Destination folder/ })
    expect(field).toHaveAttribute('readonly')
    await userEvent.click(screen.getByTestId('export-choose-folder'))
    await waitFor(() => expect(field).toHaveValue('/home/alice/Evidence'))
    expect(choose).toHaveBeenCalledOnce()
    await userEvent.click(screen.getByTestId('export-start'))
    expect(c.calls[0]).toMatchObject({ outDir: '/home/alice/Evidence', format: 'csv' })
  })

  it('runs end to end against the fake api', async () => {
    const api = createFakeApi(sampleEvents(), { now: () => NOW })
    await openDialog(api, '?org=acme&range=90d')
    await userEvent.type(screen.getByRole('textbox', { name: /Destination folder/ }), '/tmp/evidence/')
    await userEvent.click(screen.getByTestId('export-start'))
    expect(await screen.findByTestId('export-result-dir')).toHaveTextContent(/^\/tmp\/evidence\/axiom-audit-export-acme-\d{8}T\d{6}Z$/)
  })
})
