import type { Page } from '@playwright/test'
import { appUrl, expect, open, rows, shot, test } from './helpers'

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
