import { spawnSync } from 'node:child_process'
import { test as base, expect, type Page } from '@playwright/test'
import { ARTIFACTS, BINARY, server } from './server'

export { expect }
export { ARTIFACTS }

/**
 * The tests run against the `axiom-audit serve` that global-setup.ts started
 * over a demo profile; its port is known only once it runs, so baseURL comes
 * from there rather than from the config.
 */
export const test = base.extend({
  baseURL: async ({}, use) => use(server().baseURL),
})

/** The app URL with view params. */
export function appUrl(params: Record<string, string> = {}): string {
  const s = new URLSearchParams(params).toString()
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

/** Whether the server under test serves an API path (as its OpenAPI document says). */
export async function serves(page: Page, method: 'get' | 'post', apiPath: string): Promise<boolean> {
  const res = await page.request.get('/api/openapi.json')
  const doc = (await res.json()) as { paths?: Record<string, Record<string, unknown>> }
  return doc.paths?.[apiPath]?.[method] !== undefined
}

/** Records, and prints, why part of a test did not run as written. */
export function note(description: string) {
  const info = test.info()
  if (info.annotations.some((a) => a.description === description)) return
  info.annotations.push({ type: 'note', description })
  console.log(`note: ${info.title}: ${description}`)
}

/** One event as an agent would append it: now, in organization acme-prod. */
export function newEvent(n: number) {
  return {
    organizationId: 'acme-prod',
    userId: 'e2e-watcher@acme.example',
    provider: 'aws',
    actionType: 'scan.started',
    resourceIds: [`arn:aws:s3:::e2e-live-${n}`],
    status: 'applied',
    riskLevel: 'low',
    timestamp: new Date().toISOString(),
    metadata: { scanId: `scan-e2e-${n}`, region: 'eu-west-1' },
  }
}

let appended = 0

/**
 * Appends one event to the served profile with `axiom-audit append`, the way
 * an agent on this machine would.
 *
 * `serve` holds the profile's lock but, unlike the desktop app, publishes no
 * api.json and local credential for the CLI to go through, so `append` cannot
 * reach it yet. Until it does, the event goes to the same server's
 * POST /api/operations/events with an append-scoped token (what the CLI would
 * send), and the test is annotated with why.
 */
export async function appendEvent(page: Page, event: object = newEvent(++appended)): Promise<void> {
  const s = server()
  const line = JSON.stringify(event) + '\n'
  const cli = spawnSync(BINARY, ['--data-dir', s.dataDir, '--keystore', s.keystore, 'append', '-'], { input: line, encoding: 'utf8' })
  if (cli.status === 0) return
  if (!/serves no API/.test(cli.stderr)) throw new Error(`axiom-audit append failed (${cli.status}): ${cli.stderr}`)
  note('axiom-audit append cannot reach serve (it writes no api.json): appended through POST /api/operations/events instead')
  const res = await page.request.post('/api/operations/events', {
    headers: { Authorization: `Bearer ${s.appendToken}`, 'Content-Type': 'application/x-ndjson' },
    data: line,
  })
  expect(res.status(), await res.text()).toBeLessThan(300)
}
