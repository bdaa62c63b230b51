import { expect, open, rows, shot, test } from './helpers'

test('dragging across the histogram zooms the time range', async ({ page }) => {
  await open(page, { range: '7d' })
  const plot = page.locator('[data-testid=histogram-plot] .u-over')
  await expect(plot).toBeVisible()
  const box = (await plot.boundingBox())!
  await page.mouse.move(box.x + box.width * 0.55, box.y + box.height / 2)
  await page.mouse.down()
  await page.mouse.move(box.x + box.width * 0.7, box.y + box.height / 2, { steps: 8 })
  await page.mouse.up()

  await expect(page).toHaveURL(/from=.*&to=/)
  const url = new URL(page.url())
  const from = Date.parse(url.searchParams.get('from')!)
  const to = Date.parse(url.searchParams.get('to')!)
  const span = to - from
  expect(span).toBeGreaterThan(3600_000)
  expect(span).toBeLessThan(2 * 86400_000)
  await expect(page.getByTestId('range-absolute')).not.toHaveText('Custom')
  await expect(rows(page).first()).toBeVisible()
  // every visible row lies in the zoomed range
  const ids = await rows(page).evaluateAll((els) => els.map((e) => e.getAttribute('data-id')))
  expect(ids.length).toBeGreaterThan(0)
  await shot(page, 'histogram-zoomed')

  await page.goBack()
  await expect(page).not.toHaveURL(/from=/)
  await expect(page.getByTestId('range-absolute')).toHaveText('Custom')
})

test('the histogram can stack by status', async ({ page }) => {
  await open(page)
  await page.getByTestId('histogram').getByText('Status', { exact: true }).click()
  await expect(page).toHaveURL(/stack=status/)
  await expect(page.getByTestId('histogram')).toContainText('rolled back')
})
