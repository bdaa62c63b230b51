import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import type { Page } from '@playwright/test'
import { BINARY } from './server'
import { expect, open, shot, test } from './helpers'

// The Export dialog in serve mode: the folder is typed (there is no native
// picker in a browser), the bundle is written by the real application, and
// `axiom-audit verify-export` (no keychain, no database) must accept it.

let outDir = ''
test.beforeEach(() => {
  outDir = mkdtempSync(path.join(tmpdir(), 'axiom-e2e-export-'))
})
test.afterEach(() => {
  rmSync(outDir, { recursive: true, force: true })
})

async function openDialog(page: Page, params: Record<string, string>) {
  await open(page, params)
  await page.getByTestId('export-button').click()
  await expect(page.getByRole('dialog', { name: 'Export evidence' })).toBeVisible()
}

async function chooseFormat(page: Page, label: string) {
  await page.getByRole('textbox', { name: 'Format' }).click()
  await page.getByRole('option', { name: label, exact: true }).click()
}

/** Records every text the progress line shows, however briefly. */
async function watchProgress(page: Page) {
  await page.evaluate(() => {
    const seen: string[] = []
    ;(window as unknown as { __exportProgress: string[] }).__exportProgress = seen
    new MutationObserver(() => {
      const t = document.querySelector('[data-testid="export-progress-text"]')?.textContent
      if (t && seen[seen.length - 1] !== t) seen.push(t)
    }).observe(document.body, { subtree: true, childList: true, characterData: true })
  })
  return () => page.evaluate(() => (window as unknown as { __exportProgress: string[] }).__exportProgress)
}

function verifyExport(dir: string) {
  return spawnSync(BINARY, ['verify-export', dir], { encoding: 'utf8', timeout: 120_000 })
}

test('exports the current filter to a typed folder, and the bundle verifies offline', async ({ page }) => {
  await openDialog(page, { org: 'acme-prod', range: '90d', q: 'risk:high' })
  await expect(page.getByTestId('export-scope')).toHaveText('Events of acme-prod in the last 90 days, where risk is high.')
  await chooseFormat(page, 'JSON Lines')
  await page.getByRole('textbox', { name: /Destination folder/ }).fill(outDir)
  await shot(page, 'export-dialog')
  await page.getByTestId('export-start').click()

  await expect(page.getByTestId('export-done')).toBeVisible({ timeout: 60_000 })
  const dir = (await page.getByTestId('export-result-dir').textContent())!.trim()
  expect(path.dirname(dir)).toBe(outDir)
  expect(path.basename(dir)).toMatch(/^axiom-audit-export-acme-prod-\d{8}T\d{6}Z$/)
  await shot(page, 'export-done')
  expect(readdirSync(dir).sort()).toEqual(['checkpoint.txt', 'events.jsonl', 'manifest.json', 'manifest.sig', 'proofs.jsonl', 'pruned.json', 'public-key.txt'])
  // It says what retention had pruned of the range, as pruned.json does: a
  // pruned event has no risk level left, so for this filter it is an upper bound.
  const pruned = JSON.parse(readFileSync(path.join(dir, 'pruned.json'), 'utf8')) as { count: number; exact: boolean }
  expect(pruned.exact).toBe(false)
  await expect(page.getByTestId('export-pruned')).toContainText(
    pruned.count === 0 ? 'Retention had pruned none of the events this export selects' : `Up to ${pruned.count.toLocaleString('en-US')} events this export may have selected were pruned`)

  // The bundle holds what the dialog said: high-risk events of acme-prod, withheld states.
  const manifest = JSON.parse(readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as { count: number; organizationId: string }
  expect(manifest.organizationId).toBe('acme-prod')
  expect(manifest.count).toBeGreaterThan(0)
  await expect(page.getByTestId('export-done')).toContainText(`${manifest.count.toLocaleString('en-US')} events`)
  const lines = readFileSync(path.join(dir, 'events.jsonl'), 'utf8').trim().split('\n')
  expect(lines).toHaveLength(manifest.count)
  for (const line of lines.slice(0, 50)) {
    const e = JSON.parse(line) as { riskLevel: string; beforeState?: unknown; afterState?: unknown }
    expect(e.riskLevel).toBe('high')
    expect(e.afterState).toBeUndefined()
  }

  const v = verifyExport(dir)
  expect(v.status, v.stdout + v.stderr).toBe(0)
  expect(v.stdout).toMatch(new RegExp(`^OK: ${manifest.count} events of acme-prod verified`))
})

test('a large export shows its progress bar, and Cancel leaves nothing behind', async ({ page }) => {
  // Every event of the biggest organization, states revealed (each one is
  // decrypted): long enough to watch and to cancel.
  await openDialog(page, { org: 'acme-prod', range: '90d' })
  await chooseFormat(page, 'CSV')
  await page.getByRole('switch', { name: /Include before\/after states/ }).check()
  await expect(page.getByTestId('export-sensitive-warning')).toBeVisible()
  await page.getByRole('textbox', { name: /Destination folder/ }).fill(outDir)
  const progressTexts = await watchProgress(page)
  await page.getByTestId('export-start').click()

  await expect(page.getByRole('progressbar', { name: 'Export progress' })).toBeVisible()
  await expect(page.getByTestId('export-progress-text')).toHaveText(/^[\d,]+ of [\d,]+ events · [\d.]+ (B|KiB|MiB)/, { timeout: 30_000 })
  await shot(page, 'export-progress')
  // The export may end before the click lands (the button is then gone):
  // that is an outcome too, checked below.
  await page.getByTestId('export-cancel').click({ timeout: 10_000 }).catch(async (err) => {
    if (!(await page.getByTestId('export-done').isVisible())) throw err
  })
  const outcome = page.getByTestId('export-error').or(page.getByTestId('export-done'))
  await expect(outcome).toBeVisible({ timeout: 30_000 })
  if (await page.getByTestId('export-done').isVisible()) {
    // It finished before the cancel arrived: then it must be whole.
    const dir = (await page.getByTestId('export-result-dir').textContent())!.trim()
    expect(verifyExport(dir).status).toBe(0)
    await page.getByRole('button', { name: 'Export another' }).click()
  } else {
    await expect(page.getByTestId('export-error')).toContainText('Export cancelled')
    await expect(page.getByTestId('export-error')).toContainText('No bundle was written.')
    expect(readdirSync(outDir)).toEqual([])
  }
  expect((await progressTexts()).some((t) => /^[1-9][\d,]* of [\d,]+ events/.test(t))).toBe(true)

  // Exported again to the end, the bundle with revealed states verifies too.
  await page.getByTestId('export-start').click()
  await expect(page.getByTestId('export-done')).toBeVisible({ timeout: 120_000 })
  await expect(page.getByTestId('export-done')).toContainText('states revealed')
  const dir = (await page.getByTestId('export-result-dir').textContent())!.trim()
  expect(existsSync(path.join(dir, 'events.csv'))).toBe(true)
  const v = verifyExport(dir)
  expect(v.status, v.stdout + v.stderr).toBe(0)
  expect(v.stdout).toMatch(/revealed states checked/)
})

test('a folder that does not exist is named, with what to do', async ({ page }) => {
  await openDialog(page, { org: 'acme-prod', range: '24h' })
  await page.getByRole('textbox', { name: /Destination folder/ }).fill(path.join(outDir, 'missing'))
  await page.getByTestId('export-start').click()
  const err = page.getByTestId('export-error')
  await expect(err).toContainText('The folder does not exist')
  await expect(err).toContainText('Create the folder first')
  await expect(page.getByTestId('export-start')).toBeEnabled()
  expect(readdirSync(outDir)).toEqual([])
})
