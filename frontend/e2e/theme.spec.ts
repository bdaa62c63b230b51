import { expect, note, open, serves, shot, test } from './helpers'

test('dark mode is chosen, remembered and readable', async ({ page }) => {
  await page.emulateMedia({ colorScheme: 'light' })
  await open(page, { range: '7d' })
  const html = page.locator('html')
  await expect(html).toHaveAttribute('data-mantine-color-scheme', 'light')
  await page.getByTestId('theme-toggle').getByText('Dark').click({ force: true })
  await expect(html).toHaveAttribute('data-mantine-color-scheme', 'dark')
  const bg = await page.evaluate(() => getComputedStyle(document.querySelector('[data-testid=timeline]')!.closest('div[class*=panel]') ?? document.body).backgroundColor)
  const fg = await page.evaluate(() => getComputedStyle(document.querySelector('[data-testid=timeline-row]')!).color)
  expect(bg).not.toBe('rgb(255, 255, 255)')
  expect(fg).not.toBe('rgb(0, 0, 0)')
  await page.mouse.move(700, 600)
  await expect(page.getByTestId('histogram-plot')).toBeVisible()
  await shot(page, 'timeline-dark')

  await page.reload()
  await expect(html).toHaveAttribute('data-mantine-color-scheme', 'dark')
  await page.getByTestId('integrity-badge').click()
  if (await serves(page, 'post', '/api/verify')) {
    await page.getByTestId('verify-run').click()
    await expect(page.getByTestId('verify-result')).toContainText('Clean', { timeout: 60_000 })
  } else {
    note('this binary serves no POST /api/verify yet: verification not run')
  }
  await shot(page, 'integrity-dark')
  await page.keyboard.press('Escape')

  await page.getByTestId('theme-toggle').getByText('System').click({ force: true })
  await page.emulateMedia({ colorScheme: 'light' })
  await expect(html).toHaveAttribute('data-mantine-color-scheme', 'light')
})
