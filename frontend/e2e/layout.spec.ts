import type { Page } from '@playwright/test'
import { appendEvent, appUrl, expect, newEvent, open, rows, shot, test } from './helpers'

// What overflows its box, in the header and the timeline: [selector, the
// element's text] for each element whose content is cut or spills.
async function overflowing(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const out: string[] = []
    for (const el of Array.from(document.querySelectorAll<HTMLElement>('header button, header [class*=Badge-root]'))) {
      if (el.scrollHeight > el.clientHeight + 1) out.push(`${el.dataset.testid ?? el.tagName}: ${el.innerText.replace(/\n/g, ' / ')}`)
    }
    // A button whose label is cut ("Export.", "Paus"), anywhere.
    for (const el of Array.from(document.querySelectorAll<HTMLElement>('[class*=Button-label], [class*=Badge-label]'))) {
      if (el.offsetParent && el.scrollWidth > el.clientWidth + 1) out.push(`cut: ${el.innerText}`)
    }
    const header = document.querySelector('header')!.getBoundingClientRect()
    for (const el of Array.from(document.querySelectorAll<HTMLElement>('header button, header [class*=Badge-root], header input'))) {
      const r = el.getBoundingClientRect()
      if (r.right > header.right + 1 || r.left < header.left - 1) out.push(`${el.dataset.testid ?? el.tagName} outside the header`)
    }
    return out
  })
}

const sizes: [number, number][] = [
  [800, 600], // the desktop window's smallest
  [1024, 700],
  [1280, 800],
]
for (const [width, height] of sizes) {
  test(`at ${width}×${height} every column that matters shows, and nothing spills out of the header`, async ({ page }) => {
    await page.setViewportSize({ width, height })
    await open(page, { range: '90d' })
    await expect(rows(page).first()).toBeVisible()
    // Status · Risk of the first row is inside the timeline's panel.
    const panel = await page.getByTestId('timeline').boundingBox()
    const chips = rows(page).first().locator('[data-risk]')
    await expect(chips).toBeVisible()
    const chip = await chips.boundingBox()
    expect(panel && chip && chip.x + chip.width <= panel.x + panel.width + 1, `risk chip at ${JSON.stringify(chip)}, panel ${JSON.stringify(panel)}`).toBe(true)
    expect(await overflowing(page)).toEqual([])
    await shot(page, `layout-${width}`)
  })
}

// A browser narrower than the desktop window's smallest (beside another
// window, on a small laptop): the header and the toolbar wrap instead of
// pushing controls out of sight, the query keeps a row of its own, and the
// page scrolls down to a timeline of most of a screen's height.
for (const width of [480, 640]) {
  test(`at ${width} pixels wide the header wraps and the timeline is a scroll away`, async ({ page }) => {
    await page.setViewportSize({ width, height: 800 })
    await page.goto(appUrl({ range: '90d' }))
    await page.getByTestId('timeline').scrollIntoViewIfNeeded()
    await expect(rows(page).first()).toBeVisible()
    expect(await overflowing(page)).toEqual([])
    const query = await page.getByTestId('query-input').boundingBox()
    expect(query && query.width >= width * 0.75, `query input ${JSON.stringify(query)}`).toBe(true)
    const row = rows(page).first()
    await row.scrollIntoViewIfNeeded()
    await expect(row).toBeInViewport()
    const timeline = await page.getByTestId('timeline').boundingBox()
    expect(timeline && timeline.height >= 320, `timeline ${JSON.stringify(timeline)}`).toBe(true)
    await shot(page, `layout-${width}`)
  })
}

test('a long first resource id is shortened, and the count of the others stays visible', async ({ page }) => {
  await open(page, { org: 'acme-prod', range: '24h' })
  const long = 'very-long-bucket-name-segment-'.repeat(6) + 'end'
  const extra = Array.from({ length: 60 }, (_, i) => `arn:aws:s3:::other-${i}`)
  await appendEvent(page, { ...newEvent(9001), resourceIds: [`arn:aws:s3:::${long}`, ...extra], metadata: { scanId: 'scan-e2e-long' } })
  const row = rows(page).filter({ hasText: '+60' }).first()
  await expect(row).toBeVisible()
  // Where the text "+60" is laid out, against the cell that clips it.
  const fits = await row.evaluate((el) => {
    // The deepest element whose text holds "+60" (React may split it into text nodes "+" and "60").
    let holder: Element = el
    for (let deeper = true; deeper; ) {
      deeper = false
      for (const c of Array.from(holder.children)) {
        if (c.textContent?.includes('+60')) {
          holder = c
          deeper = true
          break
        }
      }
    }
    const nodes: Text[] = []
    const walker = document.createTreeWalker(holder, NodeFilter.SHOW_TEXT)
    for (let n = walker.nextNode(); n; n = walker.nextNode()) nodes.push(n as Text)
    let at = (holder.textContent ?? '').indexOf('+60')
    const first = nodes.find((n) => (at < n.length ? true : ((at -= n.length), false)))!
    const last = nodes[nodes.length - 1]!
    const r = document.createRange()
    r.setStart(first, at)
    r.setEnd(last, last.length)
    const text = r.getBoundingClientRect()
    let cell = holder
    while (cell.parentElement !== el) cell = cell.parentElement!
    const box = cell.getBoundingClientRect()
    return text.width > 0 && text.left >= box.left - 0.5 && text.right <= box.right + 0.5
  })
  expect(fits).toBe(true)
  await shot(page, 'row-long-resource')
})
