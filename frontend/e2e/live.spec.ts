import { appendEvent, expect, open, rows, shot, test } from './helpers'

test('a new event streams in while watching, and is counted while paused', async ({ page }) => {
  // The demo's newest events are a few hours old: 24 h has rows to watch.
  await open(page, { range: '24h' })
  const before = await rows(page).first().getAttribute('data-id')
  await appendEvent(page)
  await expect(rows(page).first()).not.toHaveAttribute('data-id', before!)
  await expect(rows(page).first()).toHaveAttribute('data-fresh', 'true')
  await expect(rows(page).first()).toContainText('e2e-watcher@acme.example')
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
