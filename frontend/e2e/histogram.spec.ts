import { expect, open, rows, shot, test } from './helpers'

test('dragging across the histogram zooms the time range', async ({ page }) => {
  await open(page, { range: '7d' })
  const plot = page.locator('[data-testid=histogram-plot] .u-over')
  await expect(plot).toBeVisible()
  const box = (await plot.boundingBox())!
  await page.mouse.move(box.x + box.width * 0.55, box.y + box.height / 2)
  await page.mouse.down()
  await page.mouse.move(box.x + box.width * 0.7, box.y + box.height / 2, { steps: 8 })
  await page.mouse.up()

  await expect(page).toHaveURL(/from=.*&to=/)
  const url = new URL(page.url())
  const from = Date.parse(url.searchParams.get('from')!)
  const to = Date.parse(url.searchParams.get('to')!)
  const span = to - from
  expect(span).toBeGreaterThan(3600_000)
  expect(span).toBeLessThan(2 * 86400_000)
  await expect(page.getByTestId('range-absolute')).not.toHaveText('Custom')
  await expect(rows(page).first()).toBeVisible()
  // every visible row lies in the zoomed range
  const ids = await rows(page).evaluateAll((els) => els.map((e) => e.getAttribute('data-id')))
  expect(ids.length).toBeGreaterThan(0)
  await shot(page, 'histogram-zoomed')

  await page.goBack()
  await expect(page).not.toHaveURL(/from=/)
  await expect(page.getByTestId('range-absolute')).toHaveText('Custom')
})

test('the histogram can stack by status', async ({ page }) => {
  await open(page)
  await page.getByTestId('histogram').getByText('Status', { exact: true }).click()
  await expect(page).toHaveURL(/stack=status/)
  await expect(page.getByTestId('histogram')).toContainText('rolled_back')
  // The server counts by status (byStatus): the bars are drawn in the
  // status colours, applied's green among them.
  await expect
    .poll(() =>
      page.evaluate(() => {
        const canvas = document.querySelector<HTMLCanvasElement>('[data-testid=histogram-plot] canvas')
        if (!canvas) return false
        const img = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height).data
        for (let i = 0; i < img.length; i += 4) {
          if (img[i + 3]! >= 250 && Math.abs(img[i]! - 0x12) < 8 && Math.abs(img[i + 1]! - 0xb8) < 8 && Math.abs(img[i + 2]! - 0x86) < 8) return true
        }
        return false
      }),
    )
    .toBe(true)
})

/** Whether the histogram's canvas has a bar (a risk colour) in the plot's column at time t. */
async function barAt(page: import('@playwright/test').Page, t: number, from: number, to: number): Promise<boolean> {
  return page.evaluate(
    ({ t, from, to, colours }) => {
      const canvas = document.querySelector<HTMLCanvasElement>('[data-testid=histogram-plot] canvas')!
      const over = document.querySelector('[data-testid=histogram-plot] .u-over')!.getBoundingClientRect()
      const c = canvas.getBoundingClientRect()
      const scale = canvas.width / c.width
      const x = Math.round((over.left - c.left + ((t - from) / (to - from)) * over.width) * scale)
      const top = Math.round((over.top - c.top) * scale)
      const height = Math.round(over.height * scale)
      const img = canvas.getContext('2d')!.getImageData(Math.max(0, x - 1), top, 3, height).data
      const rgb = colours.map((h) => [1, 3, 5].map((i) => parseInt(h.slice(i, i + 2), 16)))
      for (let i = 0; i < img.length; i += 4) {
        if (img[i + 3]! < 250) continue
        if (rgb.some(([r, g, b]) => Math.abs(img[i]! - r!) < 8 && Math.abs(img[i + 1]! - g!) < 8 && Math.abs(img[i + 2]! - b!) < 8)) return true
      }
      return false
    },
    { t, from, to, colours: ['#91a7ff', '#fcc419', '#fa5252'] },
  )
}

test('a one-minute range draws its event at its time, though its bucket starts before the range', async ({ page }) => {
  await open(page, { org: 'acme-prod', range: '90d', tz: 'utc' })
  // Week bars over 90 days: the date labels sit at bar edges.
  await expect(page.locator('[data-testid=histogram-plot] canvas')).toBeVisible()
  await shot(page, 'histogram-90d')
  // An event late in its minute: a range from 31 s into that minute holds
  // it, while its one-minute bucket starts (and is centred) before the range.
  const times = await page.evaluate(async () => {
    const key = localStorage.getItem('axiom-audit-session') ?? ''
    const res = await fetch('/api/operations/events?org=acme-prod&limit=200', { headers: { 'X-Axiom-Session': key } })
    const page = (await res.json()) as { events: { timestamp: string }[] }
    return page.events.map((e) => Date.parse(e.timestamp))
  })
  const t = times.find((ms) => ms % 60_000 >= 33_000 && ms % 60_000 < 59_000)
  expect(t, 'an event late in its minute').toBeDefined()
  const from = t! - (t! % 60_000) + 31_000
  const to = from + 60_000
  await open(page, { org: 'acme-prod', tz: 'utc', from: new Date(from).toISOString(), to: new Date(to).toISOString() })
  await expect(page.getByTestId('event-count')).toContainText('in range')
  await expect(page.locator('[data-testid=histogram-plot] canvas')).toBeVisible()
  await expect.poll(() => barAt(page, t!, from, to)).toBe(true)
  await shot(page, 'histogram-one-minute')
})
