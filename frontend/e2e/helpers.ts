import { execSync } from 'node:child_process'
import { expect, type Page } from '@playwright/test'

/**
 * Whether the page runs on the in-memory demo log. Against a real server
 * (AXIOM_E2E_BASE_URL) the data is the demo profile's.
 */
export const FAKE = !process.env.AXIOM_E2E_BASE_URL || process.env.AXIOM_E2E_FAKE === '1'

export const ARTIFACTS = '../build/artifacts/e2e'

/** The app URL with view params; on the fake, without timed live events so tests control them. */
export function appUrl(params: Record<string, string> = {}): string {
  const p = new URLSearchParams(params)
  if (FAKE) {
    p.set('fake', '1')
    if (!p.has('live')) p.set('live', '0')
  }
  const s = p.toString()
  return '/' + (s ? '?' + s : '')
}

export async function open(page: Page, params: Record<string, string> = {}) {
  await page.goto(appUrl(params))
  await expect(page.getByTestId('timeline-row').first()).toBeVisible()
}

export async function shot(page: Page, name: string) {
  await page.screenshot({ path: `${ARTIFACTS}/${name}.png` })
}

export const rows = (page: Page) => page.getByTestId('timeline-row')

/** Texts of a column for the visible rows. */
export async function rowAttr(page: Page, attr: string): Promise<string[]> {
  return rows(page).evaluateAll((els, a) => els.map((e) => e.querySelector(`[data-${a}]`)?.getAttribute(`data-${a}`) ?? ''), attr)
}

/**
 * Appends one event to the log being watched. On the fake it calls the demo
 * log directly; against a real server, AXIOM_E2E_APPEND_CMD must append one
 * (e.g. through the CLI on the demo profile).
 */
export async function appendEvent(page: Page): Promise<boolean> {
  if (FAKE) {
    await page.evaluate(() => (window as unknown as { __axiomFake: { emit(): unknown } }).__axiomFake.emit())
    return true
  }
  const cmd = process.env.AXIOM_E2E_APPEND_CMD
  if (!cmd) return false
  execSync(cmd, { stdio: 'inherit' })
  return true
}
