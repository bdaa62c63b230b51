import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import type { Page } from '@playwright/test'
import { BINARY } from './server'
import { expect, open, shot, test } from './helpers'

// The Reports dialog in serve mode: the folder is typed, the report is
// written by the real application (POST /api/reports), its evidence bundle
// must pass `axiom-audit verify-export`, and the dialog must say what the
// folder holds.

let outDir = ''
test.beforeEach(() => {
  outDir = mkdtempSync(path.join(tmpdir(), 'axiom-e2e-report-'))
})
test.afterEach(() => {
  rmSync(outDir, { recursive: true, force: true })
})

async function openDialog(page: Page) {
  await open(page, { org: 'acme-prod', range: '90d' })
  await page.getByTestId('report-button').click()
  await expect(page.getByRole('dialog', { name: 'Compliance report' })).toBeVisible()
}

test('writes this month’s report to a typed folder; the evidence verifies offline', async ({ page }) => {
  test.setTimeout(180_000)
  await openDialog(page)
  await expect(page.getByTestId('report-org')).toHaveText('acme-prod')
  await page.getByText('This month', { exact: true }).click()
  await expect(page.getByTestId('report-period-text')).toContainText('(UTC)')
  await page.getByRole('textbox', { name: /Destination folder/ }).fill(outDir)
  await shot(page, 'report-dialog')
  await page.getByTestId('report-generate').click()
  await expect(page.getByTestId('report-busy')).toBeVisible()

  await expect(page.getByTestId('report-done')).toBeVisible({ timeout: 150_000 })
  await shot(page, 'report-done')
  // Readable in the dark too (the app follows the system's scheme by default).
  await page.emulateMedia({ colorScheme: 'dark' })
  await expect(page.locator('html')).toHaveAttribute('data-mantine-color-scheme', 'dark')
  await shot(page, 'report-done-dark')
  await page.emulateMedia({ colorScheme: 'light' })
  const dir = (await page.getByTestId('report-result-dir').textContent())!.trim()
  expect(path.dirname(dir)).toBe(outDir)
  expect(path.basename(dir)).toMatch(/^axiom-audit-report-acme-prod-\d{4}-\d{2}-\d{8}T\d{6}Z$/)
  const files = readdirSync(dir)
  for (const f of ['report.html', 'report.json', 'SHA256SUMS', 'SHA256SUMS.sig', 'evidence']) expect(files).toContain(f)
  const pdf = existsSync(path.join(dir, 'report.pdf'))
  if (!pdf) await expect(page.getByTestId('report-pdf-note')).toContainText('report.pdf was not produced')

  const report = JSON.parse(readFileSync(path.join(dir, 'report.json'), 'utf8')) as { summary: { events: number }; integrity: { status: string } }
  expect(report.integrity.status).toBe('verified')
  await expect(page.getByTestId('report-integrity')).toContainText('Integrity verified')
  // The report's verification is in the log, and the header's integrity badge shows it.
  await expect(page.getByTestId('integrity-badge')).toContainText(/Verified .* ago/)
  await expect(page.getByTestId('report-done')).toContainText(`${report.summary.events.toLocaleString('en-US')} events in the period`)

  // Nothing of the result is wider than the dialog (sizes, the hash).
  const dialog = page.getByRole('dialog')
  const wider = await dialog.evaluate((el) => {
    const box = el.querySelector('[data-testid=report-done]')!.getBoundingClientRect()
    return [...el.querySelectorAll('[data-testid=report-done] *')]
      .filter((c) => c.getBoundingClientRect().right > box.right + 1)
      .map((c) => `${c.tagName} ${(c as HTMLElement).innerText?.slice(0, 40)}`)
      .slice(0, 5)
  })
  expect(wider, 'elements wider than the report dialog').toEqual([])
  await expect(page.getByTestId('report-verify-command')).toHaveText(`axiom-audit verify-export ${dir}`)
  const v = spawnSync(BINARY, ['verify-export', dir], { encoding: 'utf8', timeout: 120_000 })
  expect(v.status, v.stdout + v.stderr).toBe(0)
  expect(v.stdout).toMatch(/^OK: report of acme-prod for /)
  expect(v.stdout).toContain('SHA256SUMS is signed with that key')
})

test('cancels a report being written: nothing is left in the folder', async ({ page }) => {
  test.setTimeout(60_000)
  await openDialog(page)
  await page.getByText('This month', { exact: true }).click()
  await page.getByRole('textbox', { name: /Destination folder/ }).fill(outDir)
  await page.getByTestId('report-generate').click()
  await expect(page.getByTestId('report-busy')).toBeVisible()
  await page.getByTestId('report-cancel').click()
  await expect(page.getByTestId('report-error')).toContainText('Report cancelled')
  await expect(page.getByTestId('report-busy')).toBeHidden()
  await shot(page, 'report-cancelled')
  // The server notices the abandoned request, stops and removes its partial folder.
  await expect.poll(() => readdirSync(outDir), { timeout: 20_000 }).toEqual([])
  // And it stays empty for longer than a whole report of this log takes
  // (about 4 s): the report did not go on to completion.
  await page.waitForTimeout(10_000)
  expect(readdirSync(outDir)).toEqual([])
})

test('says what is wrong with the folder, inline or with what to do', async ({ page }) => {
  await openDialog(page)
  const folder = page.getByRole('textbox', { name: /Destination folder/ })
  await folder.fill('reports')
  await page.getByTestId('report-generate').click()
  await expect(page.getByText(/Give the whole path, starting with \//)).toBeVisible()

  await folder.fill(path.join(outDir, 'missing'))
  await page.getByTestId('report-generate').click()
  const alert = page.getByTestId('report-error')
  await expect(alert).toContainText('The folder does not exist')
  await expect(alert).toContainText('Create the folder first')
  await shot(page, 'report-error')
  expect(readdirSync(outDir)).toEqual([])

  // A custom range is checked before anything is asked of the app.
  await page.getByRole('dialog').getByText('Custom', { exact: true }).click()
  await page.getByRole('textbox', { name: /From/ }).fill('2026-09-30')
  await page.getByRole('textbox', { name: /To \(UTC/ }).fill('2026-07-01')
  await page.getByTestId('report-generate').click()
  await expect(page.getByText('The last day is before the first: the period would be empty.')).toBeVisible()
  await expect(alert).toBeHidden()
  await page.waitForTimeout(300) // the calendar's closing transition, for the screenshot
  await shot(page, 'report-custom-error')
})

test('a browser session offers no copy for an auditor: the local API makes copies for the CLI only', async ({ page }) => {
  await open(page, { org: 'acme-prod', range: '90d' })
  await expect(page.getByTestId('report-button')).toBeVisible()
  await expect(page.getByTestId('audit-copy-button')).toHaveCount(0)
  const answer = await page.evaluate(async () => {
    const key = localStorage.getItem('axiom-audit-session') ?? ''
    const r = await fetch('/api/audit-copies', { method: 'POST', headers: { 'Content-Type': 'application/json', 'X-Axiom-Session': key }, body: JSON.stringify({ dir: '/tmp/nope' }) })
    return r.status
  })
  expect(answer).toBe(403)
})
