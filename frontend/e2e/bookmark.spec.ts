import { expect, test } from '@playwright/test'
import { open, rows } from './helpers'

test('a view survives a bookmark round trip, and back/forward walk earlier views', async ({ page, context }) => {
  await open(page, { range: '24h' })
  await page.getByTestId('range-presets').getByText('7d').click()
  await expect(page).toHaveURL(/range=7d/)
  await page.getByTestId('facet-value-risk-high').click()
  await expect(page).toHaveURL(/q=risk%3Ahigh/)
  await page.getByTestId('tz-toggle').getByText('UTC').click()
  await expect(page).toHaveURL(/tz=utc/)
  await rows(page).nth(1).click()
  await expect(page).toHaveURL(/event=/)
  await page.keyboard.press('Escape')
  await expect(page).not.toHaveURL(/event=/)

  const url = page.url()
  const ids = await rows(page).evaluateAll((els) => els.slice(0, 10).map((e) => e.getAttribute('data-id')))
  const other = await context.newPage()
  await other.goto(url)
  await expect(other.getByTestId('query-input')).toHaveValue('risk:high')
  await expect(other.getByTestId('range-presets').locator('label[data-active]')).toHaveText('7d')
  await expect(other.getByTestId('tz-toggle').locator('label[data-active]')).toHaveText('UTC')
  await expect(rows(other).first()).toBeVisible()
  const ids2 = await rows(other).evaluateAll((els) => els.slice(0, 10).map((e) => e.getAttribute('data-id')))
  expect(ids2).toEqual(ids)
  await expect(rows(other).first()).toContainText(/\d\d:\d\d:\d\d\.\d{3}/)

  // back: the drawer closes reopen, then risk:high goes, then 7d
  await page.goBack()
  await expect(page).toHaveURL(/event=/)
  await expect(page.getByRole('dialog')).toBeVisible()
  await page.goBack()
  await page.goBack()
  await expect(page).not.toHaveURL(/q=risk/)
  await expect(page.getByTestId('query-input')).toHaveValue('')
  await page.goForward()
  await expect(page.getByTestId('query-input')).toHaveValue('risk:high')
})
