import type { Page } from '@playwright/test'
import { appendEvent, expect, newEvent, open, rows, test } from './helpers'

const iso = (ms: number) => new Date(ms).toISOString()
const two = (n: number) => String(n).padStart(2, '0')

/** Sets the To picker of the Custom range to the time of day of `ms`, in UTC. */
async function setTo(page: Page, ms: number) {
  const d = new Date(ms)
  await page.getByTestId('range-to').click()
  const fields = page.getByRole('spinbutton')
  // Each field is filled with its two digits, not typed into as one run:
  // Mantine's field skips to the next on a "0" while it holds 0, so typing
  // "00" over an hour of 00 (a run between 00:00 and 00:59 UTC) put the
  // second "0" in the minutes.
  for (const [i, v] of [d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds()].entries()) {
    await fields.nth(i).fill(two(v))
    await expect(fields.nth(i)).toHaveValue(two(v))
  }
  await page.locator('.mantine-DateTimePicker-submitButton').click()
}

test('Custom "To" takes in the whole second the rows show', async ({ page }) => {
  // An event at …:SS.065, shown on its row as …:SS.065.
  const at = Math.floor((Date.now() - 10 * 60_000) / 1000) * 1000 + 65
  await appendEvent(page, { ...newEvent(1), resourceIds: ['arn:aws:s3:::e2e-range-second'], timestamp: iso(at) })
  await open(page, { org: 'acme-prod', tz: 'utc', from: iso(at - 30 * 60_000), to: iso(at + 1500) })
  const row = rows(page).filter({ hasText: 'e2e-range-second' })
  await expect(row).toBeVisible()

  await page.getByTestId('range-absolute').click()
  await setTo(page, at)
  await page.getByTestId('range-apply').click()
  // To …:SS means up to the next second, exclusive.
  await expect.poll(() => new URL(page.url()).searchParams.get('to')).toBe(iso(at - 65 + 1000))
  await expect(row).toBeVisible()
})

test('Custom applied unchanged keeps the range to the millisecond', async ({ page }) => {
  const to = Math.floor(Date.now() / 1000) * 1000 - 5 * 60_000 + 567 // not a whole second
  const from = to - 60 * 60_000 + 250
  await open(page, { org: 'acme-prod', tz: 'utc', from: iso(from), to: iso(to) })
  await page.getByTestId('range-absolute').click()
  await page.getByTestId('range-apply').click()
  await expect(page.getByTestId('range-apply')).toBeHidden()
  const url = new URL(page.url())
  expect([url.searchParams.get('from'), url.searchParams.get('to')]).toEqual([iso(from), iso(to)])
})
