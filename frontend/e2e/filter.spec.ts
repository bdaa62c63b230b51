import { appUrl, expect, open, rowAttr, rows, shot, test } from './helpers'

test('filter by a facet, out with Alt-click, and by a typed query', async ({ page }) => {
  await page.emulateMedia({ colorScheme: 'light' })
  await open(page, { range: '7d' })
  await expect(page.getByTestId('histogram-plot')).toBeVisible()
  await expect(page.getByTestId('facet-value-status-failed')).toBeVisible()
  await shot(page, 'timeline-light')

  await page.getByTestId('facet-value-status-failed').click()
  await expect(page).toHaveURL(/q=status%3Afailed/)
  await expect(page.getByTestId('query-input')).toHaveValue('status:failed')
  await expect.poll(async () => new Set(await rowAttr(page, 'status'))).toEqual(new Set(['failed']))
  // Filtered for failed, the Status facet still offers the other statuses, to add one.
  await expect(page.getByTestId('facet-value-status-failed')).toHaveAttribute('aria-pressed', 'true')
  await expect(page.getByTestId('facet-value-status-applied')).toHaveAttribute('aria-pressed', 'false')

  await page.getByTestId('facet-value-provider-aws').click({ modifiers: ['Alt'] })
  await expect(page.getByTestId('query-input')).toHaveValue('-provider:aws status:failed')
  await expect.poll(async () => (await rows(page).allTextContents()).some((t) => t.includes('AWS'))).toBe(false)
  await expect(rows(page).first()).toBeVisible()
  await shot(page, 'filter-facets')

  const input = page.getByTestId('query-input')
  await input.fill('')
  await input.pressSequentially('risk:high -category:finding')
  await input.press('Escape')
  await input.press('Enter')
  await expect(page).toHaveURL(/q=risk%3Ahigh\+-category%3Afinding/)
  await expect.poll(async () => new Set(await rowAttr(page, 'risk'))).toEqual(new Set(['high']))
  await expect.poll(async () => (await rows(page).allTextContents()).some((t) => t.includes('finding.created'))).toBe(false)

  await input.fill('status:done')
  await input.press('Enter')
  await expect(page.getByTestId('query-error')).toContainText('Unknown status "done"')
  await shot(page, 'query-error')
})

test('autocomplete offers fields, then values with counts', async ({ page }) => {
  await open(page)
  const input = page.getByTestId('query-input')
  await input.click()
  await input.pressSequentially('pro')
  await page.getByRole('option', { name: /provider:/ }).click()
  await expect(input).toHaveValue('provider:')
  await expect(page.getByTestId('query-suggestion').first()).toContainText('provider:')
  await shot(page, 'autocomplete')
  await page.getByTestId('query-suggestion').first().click()
  await input.press('Enter')
  await expect(page).toHaveURL(/q=provider%3A/)
})

test('Tab leaves the search box; it completes only a suggestion moved to', async ({ page }) => {
  await open(page)
  const input = page.getByTestId('query-input')
  await input.click()
  await expect(page.getByTestId('query-suggestion').first()).toBeVisible()
  for (let i = 0; i < 4; i++) await page.keyboard.press('Tab')
  await expect(input).not.toBeFocused()
  await expect(input).toHaveValue('')
  // Focus went on to the rest of the page (the time range, facets, …), not nowhere.
  expect(await page.evaluate(() => document.activeElement !== document.body)).toBe(true)

  // A draft is left as typed when tabbing away.
  await input.click()
  await input.pressSequentially('risk:hi')
  await page.keyboard.press('Tab')
  await expect(input).not.toBeFocused()
  await expect(input).toHaveValue('risk:hi')

  // Moving into the list and pressing Tab completes, once.
  await input.fill('')
  await input.pressSequentially('prov')
  await page.keyboard.press('ArrowDown')
  await page.keyboard.press('Tab')
  await expect(input).toHaveValue('provider:')
  await expect(input).toBeFocused()
  await page.keyboard.press('Tab')
  await expect(input).not.toBeFocused()
  await expect(input).toHaveValue('provider:')
})

test('a facet click adds to the query being typed', async ({ page }) => {
  await open(page, { range: '7d' })
  const input = page.getByTestId('query-input')
  await input.click()
  await input.pressSequentially('risk:high user:states@example.com')
  const facet = page.locator('[data-testid^="facet-value-provider-"]').first()
  const provider = (await facet.getAttribute('data-testid'))!.replace('facet-value-provider-', '')
  await facet.click()
  await expect(page).toHaveURL(new RegExp(`provider%3A${provider}`))
  const q = new URL(page.url()).searchParams.get('q') ?? ''
  expect(q.split(' ').sort()).toEqual([`provider:${provider}`, 'risk:high', 'user:states@example.com'])
  await expect(input).toHaveValue(q)
})

// A filter that matches nothing: the sidebar says so once, instead of
// "none in range" under each field as if data were missing, and still
// lists the values filtered on, so that one click takes each back.
for (const width of [800, 1024, 1280]) {
  for (const scheme of ['light', 'dark'] as const) {
    test(`at ${width} pixels wide, ${scheme}, a filter that matches nothing gives the sidebar one empty state`, async ({ page }) => {
      await page.emulateMedia({ colorScheme: scheme })
      await page.setViewportSize({ width, height: 700 })
      await page.goto(appUrl({ org: 'acme-prod', range: '90d', q: 'provider:aws user:nobody@nowhere.example' }))
      await expect(page.getByTestId('empty-state')).toContainText('No events match')
      const facets = page.getByRole('navigation', { name: 'Facets' })
      await expect(facets.getByText('No events match this filter')).toHaveCount(1)
      await expect(facets.getByText('none in range')).toHaveCount(0)
      // The values filtered on stay, pressed, with their count of 0.
      const user = page.getByTestId('facet-value-user-nobody@nowhere.example')
      await expect(user).toHaveAttribute('aria-pressed', 'true')
      await expect(user).toHaveAttribute('aria-label', 'user nobody@nowhere.example: 0 events, filtered for')
      await expect(page.getByTestId('facet-value-provider-aws')).toHaveAttribute('aria-pressed', 'true')
      await shot(page, `facets-empty-${width}-${scheme}`)
      // One click takes the user back out, and the events come back.
      await user.click()
      await expect(page.getByTestId('query-input')).toHaveValue('provider:aws')
      await expect(rows(page).first()).toBeVisible()
      await expect(facets.getByText('No events match this filter')).toHaveCount(0)
    })
  }
}

test('a search with no field that matches nothing gives the sidebar one empty state too', async ({ page }) => {
  await page.goto(appUrl({ org: 'acme-prod', range: '90d', q: '"no event says this"' }))
  await expect(page.getByTestId('empty-state')).toContainText('No events match')
  const facets = page.getByRole('navigation', { name: 'Facets' })
  await expect(facets.getByText('No events match this filter')).toHaveCount(1)
  await expect(facets.getByText('none in range')).toHaveCount(0)
})
