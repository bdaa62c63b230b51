import { expect, note, open, rows, serves, shot, test } from './helpers'

for (const scheme of ['light', 'dark'] as const) {
  test(`an event opens in a drawer with its before/after diff (${scheme})`, async ({ page }) => {
    await page.emulateMedia({ colorScheme: scheme })
    // Only an applied mutation changes its resource: a failed or rolled-back one records the same state before and after.
    await open(page, { q: 'category:apply status:applied', range: '7d' })
    await rows(page).first().click()
    const drawer = page.getByRole('dialog')
    await expect(drawer.getByTestId('drawer-action')).toHaveText('apply.mutation')
    await expect(page).toHaveURL(/event=/)
    const diff = drawer.getByTestId('state-diff')
    await expect(diff).toBeVisible()
    await expect(diff.getByTestId('diff-change').first()).toBeVisible()
    expect(await diff.getByTestId('diff-change').count()).toBeGreaterThan(0)
    await expect(diff.locator('.jsondiffpatch-modified').first()).toBeVisible()
    if (await serves(page, 'get', '/api/operations/events/{id}/proof')) {
      await expect(drawer.getByTestId('proof-status')).toContainText('Included in the signed log')
    } else {
      note('this binary serves no inclusion proofs yet: proof status not checked')
    }
    await expect(drawer.getByTestId('metadata-tree')).toContainText('planId')
    await expect(drawer.getByTestId('related-events')).toBeVisible()
    await shot(page, `detail-diff-${scheme}`)

    await page.keyboard.press('Escape')
    await expect(drawer).toBeHidden()
    await expect(page).not.toHaveURL(/event=/)
  })
}
