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

// The profile's name in the header is read, not clicked: in both themes it
// has the contrast of text (4.5:1), not of a disabled control.
for (const scheme of ['light', 'dark'] as const) {
  test(`the profile in the header is readable in ${scheme}`, async ({ page }) => {
    await page.emulateMedia({ colorScheme: scheme })
    await page.setViewportSize({ width: 1280, height: 800 })
    await open(page)
    const ratio = await page.getByTestId('profile').evaluate((el) => {
      const rgb = (c: string) => (c.match(/[\d.]+/g) ?? []).slice(0, 3).map(Number)
      const lum = (c: string) => {
        const [r, g, b] = rgb(c).map((v) => {
          const s = v / 255
          return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4
        })
        return 0.2126 * r! + 0.7152 * g! + 0.0722 * b!
      }
      let bg = el as HTMLElement | null
      while (bg && /rgba\(0, 0, 0, 0\)|transparent/.test(getComputedStyle(bg).backgroundColor)) bg = bg.parentElement
      const a = lum(getComputedStyle(el).color)
      const b = lum(getComputedStyle(bg ?? document.body).backgroundColor)
      return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05)
    })
    expect(ratio).toBeGreaterThanOrEqual(4.5)
  })
}
