import { appendEvent, expect, newEvent, note, open, rows, serves, shot, test } from './helpers'

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

test('long unbroken values wrap inside the drawer, which keeps its controls in view', async ({ page }) => {
  const long = (c: string) => c.repeat(900)
  const b64 = (seed: number) => Buffer.from(Array.from({ length: 240 }, (_, i) => (i * 7919 + seed * 104729) % 251)).toString('base64')
  const policy = (effect: string) =>
    JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: effect, Principal: '*', Action: 's3:GetObject', Resource: 'arn:aws:s3:::storefront-invoices-047809/*' }] })
  const id = '0190e2e0-0000-7000-8000-00000000d0a3'
  await appendEvent(page, {
    ...newEvent(0),
    id,
    // Its own action type, so that no other spec meets it among theirs.
    actionType: 'custom.e2e_long_values',
    userId: 'svc-' + long('u').slice(0, 240),
    resourceIds: ['arn:aws:iam::123456789012:policy/' + long('p')],
    metadata: { note: long('n'), nested: { userData: b64(3) } },
    beforeState: { policy: policy('Deny'), userData: b64(1) },
    afterState: { policy: policy('Allow'), userData: b64(2) },
  })
  await page.goto(`/?org=acme-prod&range=24h&event=${id}`)
  const drawer = page.getByRole('dialog')
  await expect(drawer.getByTestId('drawer-action')).toHaveText('custom.e2e_long_values')
  await expect(drawer.getByTestId('state-diff')).toBeVisible()
  const overflow = await drawer.evaluate((el) => {
    const right = el.getBoundingClientRect().right
    return [...el.querySelectorAll('*')]
      .filter((c) => c.getBoundingClientRect().right > right + 1)
      .map((c) => `${c.tagName}.${c.className}`)
      .slice(0, 5)
  })
  expect(overflow, 'elements wider than the drawer').toEqual([])
  await expect(drawer.getByRole('button', { name: 'Close the event' })).toBeInViewport()
  await shot(page, 'detail-long-values')
})

test('an event that is not found can be closed like any other', async ({ page }) => {
  await page.goto('/?org=acme-prod&range=24h&event=00000000-0000-7000-8000-000000000000')
  const drawer = page.getByRole('dialog')
  await expect(drawer.getByTestId('error-state')).toBeVisible()
  await drawer.getByTestId('drawer-close').click()
  await expect(drawer).toBeHidden()
  await expect(page).not.toHaveURL(/event=/)
})

test('a related event opens at its top, not where the last one was scrolled to', async ({ page }) => {
  // Applies and their plans: the plan an apply relates to is among the
  // rows loaded, and opens at once, with no loader between the two that
  // would reset the scroll by itself.
  await open(page, { q: 'category:apply category:plan', range: '90d' })
  await rows(page).filter({ hasText: 'apply.mutation' }).first().click()
  const drawer = page.getByRole('dialog')
  const related = drawer.getByTestId('related-events')
  await related.scrollIntoViewIfNeeded()
  const viewport = drawer.locator('.mantine-ScrollArea-viewport').first()
  expect(await viewport.evaluate((el) => el.scrollTop)).toBeGreaterThan(0)
  const url = page.url()
  await related.getByRole('button', { name: /^Open plan\.generated/ }).first().click()
  await expect(page).not.toHaveURL(url)
  await expect(drawer.getByTestId('drawer-action')).toBeVisible()
  await expect.poll(() => viewport.evaluate((el) => el.scrollTop)).toBe(0)
})
