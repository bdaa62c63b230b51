import { expect, open, rows, shot, test } from './helpers'

test('the keyboard drives the timeline', async ({ page }) => {
  await open(page, { range: '24h' })
  const selected = page.locator('[data-testid=timeline-row][aria-selected=true]')
  await page.locator('body').click({ position: { x: 5, y: 300 } })
  await page.keyboard.press('j')
  await page.keyboard.press('j')
  await expect(selected).toHaveAttribute('data-index', '2')
  await page.keyboard.press('k')
  await expect(selected).toHaveAttribute('data-index', '1')

  await page.keyboard.press('e')
  await expect(selected).toHaveAttribute('data-attention', 'true')
  const attentionIndex = Number(await selected.getAttribute('data-index'))
  expect(attentionIndex).toBeGreaterThan(1)
  await page.keyboard.press('e')
  await expect(selected).not.toHaveAttribute('data-index', String(attentionIndex))
  await expect(selected).toHaveAttribute('data-attention', 'true')
  await page.keyboard.press('Shift+E')
  await expect(selected).toHaveAttribute('data-index', String(attentionIndex))

  await page.keyboard.press('Enter')
  await expect(page.getByRole('dialog')).toBeVisible()
  await page.keyboard.press('Escape')
  await expect(page.getByRole('dialog')).toBeHidden()

  await page.keyboard.press('Shift+G')
  const last = (await rows(page).count()) > 0
  expect(last).toBe(true)
  await expect.poll(async () => Number(await selected.getAttribute('data-index'))).toBeGreaterThan(100)
  await page.keyboard.press('g')
  await expect(selected).toHaveAttribute('data-index', '0')

  await page.keyboard.press('/')
  await expect(page.getByTestId('query-input')).toBeFocused()
  await page.keyboard.press('Escape')
  await page.keyboard.press('Escape')
  await page.keyboard.press('Shift+?')
  await expect(page.getByText('Next failed or high-risk event')).toBeVisible()
  await shot(page, 'keyboard-shortcuts')
})

test('Escape closes every header popover', async ({ page }) => {
  await open(page)
  for (const id of ['integrity-badge', 'sync-indicator', 'retention-indicator']) {
    await page.getByTestId(id).click()
    const dialog = page.getByRole('dialog')
    await expect(dialog, id).toBeVisible()
    // Escape reaches the popover once its focus trap has moved focus in.
    await expect.poll(() => dialog.evaluate((d) => d.contains(document.activeElement)), { message: id }).toBe(true)
    await page.keyboard.press('Escape')
    await expect(dialog, id).toBeHidden()
  }
})
