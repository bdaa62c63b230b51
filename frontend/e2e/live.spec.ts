import { expect, test } from '@playwright/test'
import { appendEvent, open, rows, shot } from './helpers'

test('a new event streams in while watching, and is counted while paused', async ({ page }) => {
  await open(page, { range: '1h' })
  const before = await rows(page).first().getAttribute('data-id')
  test.skip(!(await appendEvent(page)), 'set AXIOM_E2E_APPEND_CMD to append an event to the served profile')
  await expect(rows(page).first()).not.toHaveAttribute('data-id', before!)
  await expect(rows(page).first()).toHaveAttribute('data-fresh', 'true')
  await shot(page, 'live-new-event')

  await page.getByTestId('live-toggle').click()
  await expect(page.getByTestId('live-badge')).toHaveText('Paused')
  const top = await rows(page).first().getAttribute('data-id')
  await appendEvent(page)
  await appendEvent(page)
  await expect(page.getByTestId('new-events-pill')).toHaveText('2 new events')
  await expect(rows(page).first()).toHaveAttribute('data-id', top!)
  await shot(page, 'live-paused-pill')
  await page.getByTestId('new-events-pill').click()
  await expect(rows(page).first()).not.toHaveAttribute('data-id', top!)
  await expect(page.getByTestId('new-events-pill')).toBeHidden()
})
