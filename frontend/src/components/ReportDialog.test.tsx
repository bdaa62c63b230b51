import { act, screen, waitFor, within } from '@testing-library/react'
import userEvent from '@testing-library/user-event'
import { beforeEach, describe, expect, it, vi } from 'vitest'
import type { AuditApi } from '../api/client'
import { createFakeApi } from '../api/fake'
import type { ReportRequest, ReportResultDTO } from '../api/types'
import { NOW, renderWith, sampleEvents, setup } from '../test/render'
import { joinPath, ReportButton, ReportDialog } from './ReportDialog'

/** An api whose report the test settles. */
function controlledApi(over: Partial<AuditApi> = {}) {
  const fake = createFakeApi(sampleEvents(), { now: () => NOW })
  const calls: ReportRequest[] = []
  let resolve!: (r: ReportResultDTO) => void
  let reject!: (e: unknown) => void
  const api: AuditApi = {
    ...fake,
    writeReport: (req) => {
      calls.push(req)
      return new Promise<ReportResultDTO>((res, rej) => {
        resolve = res
        reject = rej
      })
    },
    ...over,
  }
  return {
    api, calls,
    resolve: (r: ReportResultDTO) => act(async () => resolve(r)),
    reject: (e: unknown) => act(async () => reject(e)),
  }
}

const DIR = '/home/alice/reports/axiom-audit-report-acme-2026-Q3-20261120T120000Z'
const RESULT: ReportResultDTO = {
  dir: DIR, pdf: false, note: 'report.pdf was not produced: Chromium is not installed. Open report.html in a browser and print it to PDF.',
  integrity: 'verified', events: 1234, evidenceEvents: 321, bytes: 3 << 20, sha256: 'ef'.repeat(32),
  files: [
    { name: 'evidence/manifest.json', bytes: 900, sha256: 'ab'.repeat(32) },
    { name: 'evidence/events.jsonl', bytes: 200_000, sha256: 'cd'.repeat(32) },
    { name: 'report.html', bytes: 80_000, sha256: '12'.repeat(32) },
    { name: 'report.json', bytes: 40_000, sha256: '34'.repeat(32) },
  ],
}

function openDialog(api: AuditApi, search = '?org=acme&range=90d') {
  const s = setup({ api, search })
  renderWith(s.stores, <ReportDialog opened onClose={() => {}} now={() => NOW} />)
  return s
}

const folderBox = () => screen.getByRole('textbox', { name: /Destination folder/ })

describe('ReportDialog', () => {
  beforeEach(() => localStorage.clear())

  it('in the browser, writes last quarter’s report to a typed folder, busy meanwhile, then shows the folder, files, integrity and the verify command', async () => {
    const c = controlledApi()
    openDialog(c.api)
    expect(screen.getByTestId('report-org')).toHaveTextContent('acme')
    // NOW is 2026-11-20: last quarter is Q3.
    expect(screen.getByTestId('report-period-text')).toHaveTextContent('2026-Q3: 2026-07-01 to 2026-09-30 (UTC)')
    expect(screen.queryByTestId('report-choose-folder')).toBeNull()

    await userEvent.type(folderBox(), '/home/alice/reports')
    await userEvent.click(screen.getByTestId('report-generate'))
    expect(c.calls).toEqual([{ org: 'acme', period: '2026-Q3', outDir: '/home/alice/reports' }])
    expect(screen.getByTestId('report-cancel')).toBeEnabled()
    expect(screen.getByTestId('report-busy')).toHaveTextContent('Verifying the log and writing the report')
    expect(screen.getByTestId('report-generate')).toHaveAttribute('data-loading', 'true')
    expect(folderBox()).toBeDisabled()

    await c.resolve(RESULT)
    const done = await screen.findByTestId('report-done')
    expect(screen.queryByTestId('report-busy')).toBeNull()
    expect(done).toHaveTextContent('1,234 events in the period; 321 material events in the evidence bundle')
    expect(screen.getByTestId('report-result-dir')).toHaveTextContent(DIR)
    expect(within(done).getByRole('button', { name: "Copy the report folder's path" })).toBeInTheDocument()
    expect(screen.getByTestId('report-integrity')).toHaveTextContent('Integrity verified: the whole log was checked against its signed checkpoint')
    const files = screen.getByTestId('report-files')
    for (const name of ['report.html', 'report.pdf', 'report.json', 'evidence/', 'SHA256SUMS']) expect(within(files).getByText(name)).toBeInTheDocument()
    expect(within(files).getByText(/The evidence bundle of the period’s material events \(2 files\)/)).toBeInTheDocument()
    expect(screen.getByTestId('report-pdf-note')).toHaveTextContent('Chromium is not installed. Open report.html in a browser and print it to PDF.')
    expect(screen.getByTestId('report-sha256')).toHaveTextContent('ef'.repeat(32))
    expect(screen.getByTestId('report-verify-command')).toHaveTextContent(`axiom-audit verify-export ${DIR}`)
    expect(within(done).getByRole('button', { name: 'Copy the verify command' })).toBeInTheDocument()
    // The typed folder is remembered for the next report.
    expect(localStorage.getItem('axiom-audit.report-folder')).toBe('/home/alice/reports')
  })

  it('cancels a report being written: the folder holds nothing, and the form is back', async () => {
    // The fake app pretends to write for 600 ms and honours the cancel.
    const api = createFakeApi(sampleEvents(), { now: () => NOW, latencyMs: 1 })
    openDialog(api)
    await userEvent.type(folderBox(), '/home/alice/reports')
    await userEvent.click(screen.getByTestId('report-generate'))
    expect(await screen.findByTestId('report-busy')).toBeInTheDocument()
    await userEvent.click(screen.getByTestId('report-cancel'))
    const alert = await screen.findByTestId('report-error')
    expect(alert).toHaveTextContent('Report cancelled')
    expect(alert).toHaveTextContent('Nothing was written')
    expect(screen.queryByTestId('report-busy')).toBeNull()
    expect(screen.queryByTestId('report-done')).toBeNull()
    expect(screen.getByTestId('report-generate')).not.toHaveAttribute('data-loading', 'true')
    expect(screen.queryByTestId('report-cancel')).toBeNull()
  })

  it('offers this and last quarter and month, in UTC', async () => {
    const c = controlledApi()
    openDialog(c.api)
    const expectations: [string, string][] = [
      ['This quarter', '2026-Q4: 2026-10-01 to 2026-12-31 (UTC)'],
      ['This month', '2026-11: 2026-11-01 to 2026-11-30 (UTC)'],
      ['Last month', '2026-10: 2026-10-01 to 2026-10-31 (UTC)'],
      ['Last quarter', '2026-Q3: 2026-07-01 to 2026-09-30 (UTC)'],
    ]
    for (const [label, text] of expectations) {
      await userEvent.click(screen.getByLabelText(label))
      expect(screen.getByTestId('report-period-text')).toHaveTextContent(text)
    }
    await userEvent.click(screen.getByLabelText('This month'))
    await userEvent.type(folderBox(), '/tmp/r{Enter}')
    expect(c.calls[0]).toMatchObject({ period: '2026-11' })
  })

  it('checks a custom range inline before asking, then sends FROM..TO', async () => {
    const c = controlledApi()
    openDialog(c.api)
    await userEvent.click(screen.getByLabelText('Custom'))
    expect(screen.queryByTestId('report-period-text')).toBeNull()
    await userEvent.type(folderBox(), '/tmp/reports')
    await userEvent.click(screen.getByTestId('report-generate'))
    expect(await screen.findByText('Choose the first day of the period.')).toBeInTheDocument()

    const from = screen.getByRole('textbox', { name: /From/ })
    const to = screen.getByRole('textbox', { name: /To \(UTC/ })
    await userEvent.type(from, '2026-09-30')
    await userEvent.type(to, '2026-07-01')
    await userEvent.click(screen.getByTestId('report-generate'))
    expect(await screen.findByText('The last day is before the first: the period would be empty.')).toBeInTheDocument()
    expect(to).toHaveAttribute('aria-invalid', 'true')

    await userEvent.clear(from)
    await userEvent.type(from, '2026-07-01')
    await userEvent.clear(to)
    await userEvent.type(to, '2026-09-30')
    await userEvent.click(screen.getByTestId('report-generate'))
    expect(screen.queryByText(/The last day is before the first/)).toBeNull()
    expect(c.calls).toEqual([{ org: 'acme', period: '2026-07-01..2026-09-30', outDir: '/tmp/reports' }])
  })

  it('asks for an absolute folder, inline', async () => {
    const c = controlledApi()
    openDialog(c.api)
    await userEvent.click(screen.getByTestId('report-generate'))
    expect(await screen.findByText('Type the absolute path of the folder to write the report in.')).toBeInTheDocument()
    await userEvent.type(folderBox(), 'reports')
    await userEvent.click(screen.getByTestId('report-generate'))
    expect(await screen.findByText(/Give the whole path, starting with \//)).toBeInTheDocument()
    expect(folderBox()).toHaveAttribute('aria-invalid', 'true')
    expect(c.calls).toHaveLength(0)
  })

  it('says what happened and what to do when the folder is not writable, and lets the person fix it', async () => {
    const c = controlledApi()
    openDialog(c.api)
    await userEvent.type(folderBox(), '/srv/locked')
    await userEvent.click(screen.getByTestId('report-generate'))
    await c.reject(JSON.stringify({ code: 'folder_not_writable', message: 'cannot write in /srv/locked: mkdir /srv/locked/x: permission denied' }))
    const alert = await screen.findByTestId('report-error')
    expect(alert).toHaveTextContent('Cannot write in this folder')
    expect(alert).toHaveTextContent('permission denied')
    expect(alert).toHaveTextContent('Choose another folder')
    expect(screen.getByTestId('report-generate')).toBeEnabled()
    await userEvent.clear(folderBox())
    await userEvent.type(folderBox(), '/tmp/ok')
    await userEvent.click(screen.getByTestId('report-generate'))
    expect(c.calls.map((r) => r.outDir)).toEqual(['/srv/locked', '/tmp/ok'])
    expect(screen.queryByTestId('report-error')).toBeNull()
  })

  it('puts the app’s complaint about a field under that field', async () => {
    const c = controlledApi()
    openDialog(c.api)
    await userEvent.type(folderBox(), '/home/alice/missing')
    await userEvent.click(screen.getByTestId('report-generate'))
    await c.reject(JSON.stringify({ code: 'invalid_request', message: 'outDir: /home/alice/missing is a file, not a folder', fields: [{ field: 'outDir', reason: '/home/alice/missing is a file, not a folder' }] }))
    expect(await screen.findByText('/home/alice/missing is a file, not a folder')).toBeInTheDocument()
    expect(folderBox()).toHaveAttribute('aria-invalid', 'true')
    expect(screen.queryByTestId('report-error')).toBeNull()
  })

  it('says when the log had problems', async () => {
    const c = controlledApi()
    openDialog(c.api)
    await userEvent.type(folderBox(), '/tmp/r{Enter}')
    await c.resolve({ ...RESULT, integrity: 'problems', pdf: true, note: undefined, files: [...RESULT.files, { name: 'report.pdf', bytes: 300_000, sha256: '56'.repeat(32) }] })
    expect(await screen.findByTestId('report-integrity')).toHaveTextContent('problems found')
    expect(screen.queryByTestId('report-pdf-note')).toBeNull()
    expect(within(screen.getByTestId('report-files')).getByText('The same, printed to PDF.')).toBeInTheDocument()
  })

  it('in the desktop app, picks the folder with the native picker', async () => {
    const choose = vi.fn(async () => '/home/alice/Reports')
    const c = controlledApi({ canPickFolder: true, chooseExportFolder: choose })
    openDialog(c.api)
    expect(folderBox()).toHaveAttribute('readonly')
    await userEvent.click(screen.getByTestId('report-generate'))
    expect(await screen.findByText('Choose the folder to write the report in.')).toBeInTheDocument()
    await userEvent.click(screen.getByTestId('report-choose-folder'))
    await waitFor(() => expect(folderBox()).toHaveValue('/home/alice/Reports'))
    await userEvent.click(screen.getByTestId('report-generate'))
    expect(c.calls[0]).toMatchObject({ org: 'acme', outDir: '/home/alice/Reports' })
  })

  it('opens from the toolbar button and runs end to end against the fake api', async () => {
    const api = createFakeApi(sampleEvents(), { now: () => NOW })
    const s = setup({ api, search: '?org=acme&range=90d' })
    renderWith(s.stores, <ReportButton />)
    await userEvent.click(screen.getByTestId('report-button'))
    await screen.findByText('Compliance report')
    await userEvent.click(screen.getByLabelText('This month'))
    await userEvent.type(folderBox(), '/tmp/reports/')
    await userEvent.click(screen.getByTestId('report-generate'))
    expect(await screen.findByTestId('report-result-dir')).toHaveTextContent(/^\/tmp\/reports\/axiom-audit-report-acme-\d{4}-\d{2}-\d{8}T\d{6}Z$/)
    expect(screen.getByTestId('report-verify-command')).toHaveTextContent(/^axiom-audit verify-export \/tmp\/reports\/axiom-audit-report-acme-[^/]*$/)
  })
})

describe('joinPath', () => {
  it('uses the separator the folder uses', () => {
    expect(joinPath('/a/b/', 'evidence')).toBe('/a/b/evidence')
    expect(joinPath('C:\\Users\\al\\r', 'evidence')).toBe('C:\\Users\\al\\r\\evidence')
  })
})
