import type { Page } from '@playwright/test'
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

// Clicks a control and presses Escape in the next task: React has drawn
// what the click opened, and no later timer (a focus trap's), frame or
// lazy chunk has run yet.
async function clickThenEscape(page: Page, testid: string) {
  await page.getByTestId(testid).evaluate(
    (el: HTMLElement) =>
      new Promise<void>((done) => {
        el.click()
        setTimeout(() => {
          const at = document.activeElement ?? document.body
          at.dispatchEvent(new KeyboardEvent('keydown', { key: 'Escape', code: 'Escape', bubbles: true, cancelable: true }))
          done()
        }, 0)
      }),
  )
}

// Escape pressed the moment a popover opens, before its focus trap has
// moved focus in (or its content has loaded), closes it all the same.
test('Escape closes a popover pressed as soon as it opens', async ({ page }) => {
  await open(page)
  for (const id of ['range-absolute', 'integrity-badge', 'sync-indicator', 'retention-indicator', 'export-button']) {
    await clickThenEscape(page, id)
    await page.waitForTimeout(400)
    await expect(page.getByRole('dialog'), id).toBeHidden()
  }
  // The query's suggestions: the first Escape closes them, the search keeps focus.
  await page.keyboard.press('/')
  await page.keyboard.press('Escape')
  await page.waitForTimeout(400)
  await expect(page.getByRole('listbox', { name: 'Suggestions' })).toBeHidden()
  await expect(page.getByTestId('query-input')).toBeFocused()
})

// A calendar opened inside the range's popover is the newest: Escape
// closes it and the popover stays; the next Escape closes the popover.
test('Escape closes the newest popover first', async ({ page }) => {
  await open(page)
  await page.getByTestId('range-absolute').click()
  const form = page.getByRole('dialog', { name: 'Custom' })
  await expect(form).toBeVisible()
  await page.getByTestId('range-from').click()
  const calendar = form.getByRole('dialog').filter({ has: page.getByRole('table') })
  await expect(calendar).toBeVisible()
  await page.keyboard.press('Escape')
  await expect(calendar).toBeHidden()
  await expect(form).toBeVisible()
  await page.keyboard.press('Escape')
  await expect(form).toBeHidden()
})
