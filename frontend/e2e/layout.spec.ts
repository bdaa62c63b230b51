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

// Text in the header that does not show whole: an input's value wider than
// its box ("acme-prod · 46,5" with nothing to say it goes on), and lines cut
// with an ellipsis ("Checkpoint 4…"), as [testid or text, what shows].
async function headerCuts(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const out: string[] = []
    for (const el of Array.from(document.querySelectorAll<HTMLInputElement>('header input'))) {
      if (el.offsetParent && el.scrollWidth > el.clientWidth + 1) out.push(`${el.dataset.testid ?? 'input'}: ${el.value}`)
    }
    for (const el of Array.from(document.querySelectorAll<HTMLElement>('header p, header span'))) {
      // (Words only for screen readers are clipped to a pixel on purpose.)
      if (el.offsetParent && el.children.length === 0 && el.clientWidth > 1 && el.scrollWidth > el.clientWidth + 1 && getComputedStyle(el).overflowX !== 'visible') {
        out.push(`cut: ${el.innerText}`)
      }
    }
    return out
  })
}

// What the toolbar above the timeline and the histogram's header leave out
// of sight: a control beyond the window's edge or on top of another, a
// legend entry or label outside the histogram's box.
async function toolbarAndHistogram(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const out: string[] = []
    const box = (sel: string) => document.querySelector(sel)?.getBoundingClientRect()
    const query = box('[data-testid=query-input]')!
    for (const id of ['range-presets', 'range-absolute', 'tz-toggle']) {
      const r = box(`[data-testid=${id}]`)
      if (!r) continue
      if (r.right > window.innerWidth + 1 || r.left < -1) out.push(`${id} beyond the window`)
      if (r.top < query.bottom - 1 && r.bottom > query.top + 1 && r.left < query.right - 1 && r.right > query.left + 1) out.push(`${id} over the query`)
    }
    const hist = box('[data-testid=histogram]')!
    for (const el of Array.from(document.querySelectorAll<HTMLElement>('[data-testid=histogram] p, [data-testid=histogram] label, [data-testid=histogram] [role=radiogroup]'))) {
      if (!el.offsetParent) continue
      const r = el.getBoundingClientRect()
      if (r.width === 0) continue
      if (r.right > hist.right + 1 || r.left < hist.left - 1) out.push(`histogram "${el.innerText}" outside its box`)
      if (el.scrollWidth > el.clientWidth + 1 && getComputedStyle(el).overflowX !== 'visible') out.push(`histogram "${el.innerText}" cut`)
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

// Between the desktop window's smallest and a laptop's (and at 1200, where
// the header's spacing and the profile's label change), where the logo's
// name and the profile come and go: the header says the organization and
// the checkpoint whole, the query keeps room for a few terms beside a
// custom range's long label, and the histogram's longest legend (by status)
// stays in its box, in both themes. An absolute range, a query of several
// terms and the mouse over the histogram (its bucket's time beside the
// legend) are what make the toolbar and the histogram's header longest.
for (const width of [800, 860, 900, 960, 1000, 1024, 1199, 1200]) {
  for (const scheme of ['light', 'dark'] as const) {
    test(`at ${width} pixels wide, ${scheme}, the header, the toolbar and the histogram's header show whole`, async ({ page }) => {
      await page.emulateMedia({ colorScheme: scheme })
      await page.setViewportSize({ width, height: 700 })
      await open(page, { org: 'acme-prod', range: '90d' })
      expect(await overflowing(page)).toEqual([])
      expect(await headerCuts(page)).toEqual([])

      // Whether any event of the seeded log matches does not matter
      // here (the log is generated afresh each run): the page is laid out
      // once the count of the range is in.
      const until = Date.now() - 3_600_000
      await page.goto(appUrl({
        org: 'acme-prod', q: 'status:applied -risk:low -provider:gcp category:workflow', stack: 'status',
        from: new Date(until - 3 * 86_400_000).toISOString(), to: new Date(until).toISOString(),
      }))
      await expect(page.getByTestId('event-count')).toContainText('in range')
      await expect(page.getByTestId('histogram-plot')).toBeVisible()
      const plot = (await page.locator('[data-testid=histogram-plot] .u-over').boundingBox())!
      await page.mouse.move(plot.x + plot.width / 2, plot.y + plot.height / 2)
      expect(await overflowing(page)).toEqual([])
      expect(await headerCuts(page)).toEqual([])
      expect(await toolbarAndHistogram(page)).toEqual([])
      const query = (await page.getByTestId('query-input').boundingBox())!
      expect(query.width, 'the query box beside an absolute range').toBeGreaterThanOrEqual(240)
      await shot(page, `layout-${width}-${scheme}`)
    })
  }
}

// Once the Retention entry has read its policy (its panel opened once),
// its line ("ops 90d · material ∞") is the widest in the header: the
// organization, the checkpoint and Sync still show whole ("Sy…" was Sync),
// in both themes. Below 1200 pixels the policy's line gives way, cut with
// an ellipsis and said whole on hover.
for (const width of [800, 860, 900, 960, 1000, 1024, 1199, 1200]) {
  for (const scheme of ['light', 'dark'] as const) {
    test(`at ${width} pixels wide, ${scheme}, the header shows whole once the retention policy is in`, async ({ page }) => {
      await page.emulateMedia({ colorScheme: scheme })
      await page.setViewportSize({ width, height: 700 })
      await open(page, { org: 'acme-prod', range: '90d' })
      await expect(page.getByTestId('sync-line')).not.toHaveText('')
      const retention = page.getByTestId('retention-indicator')
      await retention.click()
      await expect(page.getByRole('dialog')).toContainText('Retention')
      await expect(retention).toContainText(/(ops|material) (\d+d|∞)/)
      await page.keyboard.press('Escape')
      await expect(page.getByRole('dialog')).toBeHidden()
      expect(await overflowing(page)).toEqual([])
      const line = page.getByTestId('retention-line')
      const policy = await line.innerText()
      await expect(line).toHaveAttribute('title', policy)
      const cuts = await headerCuts(page)
      expect(cuts.filter((c) => c !== `cut: ${policy}`)).toEqual([])
      if (width >= 1200) expect(cuts).toEqual([])
      // The name of each entry shows whole.
      await expect(retention).toContainText('Retention')
      expect(await page.getByTestId('sync-indicator').evaluate((el) => el.querySelector('p')!.scrollWidth <= el.querySelector('p')!.clientWidth)).toBe(true)
      await shot(page, `layout-${width}-${scheme}-retention-policy`)
    })
  }
}

// Between the desktop window's smallest and a laptop's, the query box shows
// a typical query whole beside the range picker, and the presets still
// choose a range.
for (const width of [800, 860, 900, 960, 1000, 1280]) {
  test(`at ${width} pixels wide a typical query shows whole in the query box`, async ({ page }) => {
    await page.setViewportSize({ width, height: 700 })
    await open(page, { org: 'acme-prod', range: '90d' })
    const input = page.getByTestId('query-input')
    const typical = 'provider:aws status:failed -category:scan'
    await input.fill(typical)
    const fits = await input.evaluate((el: HTMLInputElement) => el.scrollWidth <= el.clientWidth + 1)
    const box = (await input.boundingBox())!
    expect(fits, `the query box is ${Math.round(box.width)} pixels wide`).toBe(true)
    // On the range picker's row, not pushed onto one of its own.
    const presets = (await page.getByTestId('range-presets').boundingBox())!
    expect(Math.abs(presets.y + presets.height / 2 - (box.y + box.height / 2)), 'presets beside the query').toBeLessThan(8)
    expect(await toolbarAndHistogram(page)).toEqual([])
    await shot(page, `layout-${width}-query`)
    await input.press('Escape')
    const presetsControl = page.getByTestId('range-presets')
    if (await presetsControl.evaluate((el) => el.tagName === 'SELECT')) await presetsControl.selectOption('7d')
    else await presetsControl.getByText('7d').click()
    await expect(page).toHaveURL(/range=7d/)
  })
}

// An organization named at length (as a team may name one after a cloud
// account): its start shows with an ellipsis, the whole name is a hover
// away, and nothing else in the header gives way to it.
for (const width of [800, 1024]) {
  test(`at ${width} pixels wide a long organization name is cut with an ellipsis and shown whole on hover`, async ({ page }) => {
    const long = 'northwind-platform-engineering-production-eu-west-1'
    await page.route('**/api/organizations', async (route) => {
      const res = await route.fetch()
      const orgs = (await res.json()) as { id: string; size: number }[]
      await route.fulfill({ response: res, json: [...orgs, { id: long, size: 1_234_567 }] })
    })
    await page.setViewportSize({ width, height: 700 })
    await page.goto(appUrl({ org: long, range: '90d' }))
    const picker = page.getByTestId('org-switcher')
    await expect(picker).toHaveValue(`${long} · 1,234,567`)
    await expect(picker).toHaveAttribute('title', `${long} · 1,234,567`)
    expect(await picker.evaluate((el) => getComputedStyle(el).textOverflow)).toBe('ellipsis')
    const box = (await picker.boundingBox())!
    expect(box.width, 'the organization keeps room for its name').toBeGreaterThanOrEqual(150)
    expect(await overflowing(page)).toEqual([])
    expect((await headerCuts(page)).filter((c) => !c.startsWith('org-switcher:'))).toEqual([])
    await shot(page, `layout-${width}-long-org`)
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

// The retention warning (the seeded log's oldest operational events expire
// within the week) at the desktop window's smallest and on a small laptop
// screen: one line with the count, "Export them…" and the close button, so
// that the timeline keeps its rows; the explanation is a click away. On a
// large screen it shows whole.
for (const [width, height] of [[800, 600], [1024, 700], [1280, 800]] as const) {
  test(`at ${width}×${height} the retention warning takes one line and its explanation is a click away`, async ({ page }) => {
    await page.setViewportSize({ width, height })
    await open(page, { org: 'acme-prod', range: '90d' })
    const banner = page.getByTestId('retention-banner')
    await expect(banner).toContainText(/events? expires? within 7 days/)
    const box = (await banner.boundingBox())!
    expect(box.height, 'the warning is one line high').toBeLessThanOrEqual(46)
    const exportThem = banner.getByTestId('retention-export')
    await expect(exportThem).toBeVisible()
    const button = (await exportThem.boundingBox())!
    expect(Math.abs(button.y + button.height / 2 - (box.y + box.height / 2)), '"Export them…" on that line').toBeLessThan(4)
    // The timeline shows several rows below it, not one or two.
    const visible = await rows(page).evaluateAll((els) => {
      const list = document.querySelector('[data-testid=timeline]')!.getBoundingClientRect()
      return els.filter((e) => {
        const r = e.getBoundingClientRect()
        return r.top >= list.top - 1 && r.bottom <= Math.min(list.bottom, window.innerHeight) + 1
      }).length
    })
    expect(visible, 'timeline rows in sight').toBeGreaterThanOrEqual(width === 800 ? 3 : 6)
    expect(await overflowing(page)).toEqual([])

    const detail = page.getByTestId('retention-banner-detail')
    await expect(detail).toBeHidden()
    const toggle = banner.getByRole('button', { name: 'Details' })
    await expect(toggle).toHaveAttribute('aria-expanded', 'false')
    await toggle.click()
    await expect(toggle).toHaveAttribute('aria-expanded', 'true')
    await expect(detail).toBeVisible()
    await expect(detail).toContainText('Their tombstones keep the log verifiable')
    await shot(page, `layout-${width}-retention-details`)
    await toggle.click()
    await expect(detail).toBeHidden()
    await shot(page, `layout-${width}-retention`)

    await banner.getByRole('button', { name: 'Dismiss' }).click()
    await expect(banner).toBeHidden()
  })
}

test('on a large screen the retention warning shows its explanation whole', async ({ page }) => {
  await page.setViewportSize({ width: 1440, height: 900 })
  await open(page, { org: 'acme-prod', range: '90d' })
  const banner = page.getByTestId('retention-banner')
  await expect(banner.getByTestId('retention-banner-detail')).toContainText('Their tombstones keep the log verifiable')
  await expect(banner.getByRole('button', { name: 'Details' })).toHaveCount(0)
  await expect(banner.getByTestId('retention-export')).toBeVisible()
})

// Where the timeline's toolbar puts its controls: each one's box, and
// whether they share one row inside the panel without touching.
async function timelineToolbar(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const out: string[] = []
    const panel = document.querySelector('[data-testid=timeline]')!.closest<HTMLElement>('[class*=Paper-root]')!.getBoundingClientRect()
    const ids = ['event-count', 'export-button', 'report-button', 'audit-copy-button', 'offline-badge', 'live-badge', 'live-toggle', 'live-off']
    const boxes = ids.flatMap((id) => {
      const el = document.querySelector<HTMLElement>(`[data-testid=${id}]`)
      return el && el.offsetParent ? [{ id, r: el.getBoundingClientRect() }] : []
    })
    const mid = (r: DOMRect) => r.top + r.height / 2
    const first = boxes[0]!
    for (const { id, r } of boxes) {
      if (Math.abs(mid(r) - mid(first.r)) > 4) out.push(`${id} on another row than ${first.id}`)
      if (r.right > panel.right - 4 || r.left < panel.left) out.push(`${id} outside the panel`)
    }
    for (let i = 1; i < boxes.length; i++) {
      if (boxes[i]!.r.left < boxes[i - 1]!.r.right - 1) out.push(`${boxes[i]!.id} over ${boxes[i - 1]!.id}`)
    }
    return out
  })
}

// The timeline's toolbar (the count, Export…, Reports…, Copy for auditor…
// and live mode) keeps one row from the desktop window's smallest up, its
// buttons down to icons with their names where there is no room for their
// words; with a fixed range, "not live" is said briefly and explained on
// hover or focus.
for (const width of [800, 900, 1024, 1100, 1280]) {
  for (const scheme of ['light', 'dark'] as const) {
    test(`at ${width} pixels wide, ${scheme}, the timeline's toolbar keeps one row, live or not`, async ({ page }) => {
      await page.emulateMedia({ colorScheme: scheme })
      await page.setViewportSize({ width, height: 700 })
      await open(page, { org: 'acme-prod', range: '90d' })
      await expect(page.getByTestId('event-count')).toContainText('in range')
      await expect(page.getByTestId('live-badge')).toBeVisible()
      expect(await timelineToolbar(page)).toEqual([])
      // Named also when only their icons show.
      await expect(page.getByTestId('export-button')).toHaveAccessibleName('Export…')
      await expect(page.getByTestId('report-button')).toHaveAccessibleName('Reports…')
      await expect(page.getByTestId('live-toggle')).toHaveAccessibleName('Pause')
      expect(await overflowing(page)).toEqual([])
      await shot(page, `toolbar-${width}-${scheme}-live`)

      const until = Date.now() - 3_600_000
      await page.goto(appUrl({ org: 'acme-prod', from: new Date(until - 30 * 86_400_000).toISOString(), to: new Date(until).toISOString() }))
      await expect(page.getByTestId('event-count')).toContainText('in range')
      expect(await timelineToolbar(page)).toEqual([])
      const off = page.getByTestId('live-off')
      await expect(off).toBeVisible()
      await off.hover()
      await expect(page.getByRole('tooltip')).toContainText('Live updates are off for a fixed time range')
      expect(await overflowing(page)).toEqual([])
      await shot(page, `toolbar-${width}-${scheme}-fixed`)
    })
  }
}

// The desktop app has one button more, Copy for auditor… (the in-memory
// demo log stands in for it here), and a count of a million events.
for (const width of [800, 1024, 1280]) {
  test(`at ${width} pixels wide the desktop app's toolbar keeps one row @fake`, async ({ page }) => {
    await page.setViewportSize({ width, height: 700 })
    await page.goto(appUrl({ fake: '1', range: '90d' }))
    await expect(page.getByTestId('event-count')).toContainText('in range')
    await expect(page.getByTestId('audit-copy-button')).toHaveAccessibleName('Copy for auditor…')
    expect(await timelineToolbar(page)).toEqual([])
    expect(await overflowing(page)).toEqual([])
    await shot(page, `toolbar-${width}-desktop`)
  })
}
