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

// In a zone whose offset is not a whole number of hours (India's +5:30,
// Nepal's +5:45, Adelaide's +9:30 or +10:30), a day's bar runs from
// midnight to midnight there and an hour's from one whole hour to the next,
// as the axis's labels and the timeline's times read: not from 05:30 or
// 20:45, which is where bars counted by UTC's days and hours start. With
// the UTC toggle on, the bars follow UTC's days.
for (const timezoneId of ['Asia/Kolkata', 'Asia/Kathmandu', 'Australia/Adelaide']) {
  test.describe(`in ${timezoneId}`, () => {
    test.use({ timezoneId })
    test('day, week and hour bars start at local midnights and whole hours, and say so', async ({ page }) => {
      await page.setViewportSize({ width: 1280, height: 700 })
      const cases: [Record<string, string>, number][] = [
        [{ range: '30d' }, 86_400],
        [{ range: '90d' }, 604_800],
        [{ range: '24h' }, 3_600],
        [{ range: '30d', tz: 'utc' }, 86_400],
      ]
      for (const [params, step] of cases) {
        // A page asks for its facets and histogram in one request.
        const answer = page.waitForResponse((r) => r.url().includes('/api/operations/overview'))
        await open(page, { org: 'acme-prod', ...params })
        const { histogram: h } = (await (await answer).json()) as { histogram: { bucketSeconds: number; buckets: { start: string; count: number }[] } }
        expect(h.bucketSeconds).toBe(step)
        const utc = params.tz === 'utc'
        // Each bar's start on the wall clock of the zone the page shows: [day of the week, hour, minute].
        const walls = await page.evaluate(
          ({ starts, utc }) => starts.map((s) => {
            const d = new Date(s)
            return utc ? [d.getUTCDay(), d.getUTCHours(), d.getUTCMinutes()] : [d.getDay(), d.getHours(), d.getMinutes()]
          }),
          { starts: h.buckets.map((b) => b.start), utc },
        )
        for (const [i, [day, hour, minute]] of walls.entries()) {
          const at = `${JSON.stringify(params)}: bar ${i} starts at ${h.buckets[i]!.start}`
          expect(minute, at).toBe(0)
          if (step >= 86_400) expect(hour, at).toBe(0)
          if (step === 604_800) expect(day, `${at} (a Monday)`).toBe(1)
        }
        // The bar under the mouse is named as its labels are: a day by its date, an hour by its whole hour.
        const plot = (await page.locator('[data-testid=histogram-plot] .u-over').boundingBox())!
        await page.mouse.move(plot.x + plot.width * 0.6, plot.y + plot.height / 2)
        const hover = page.getByTestId('histogram-bucket')
        await expect(hover).toHaveText(step >= 86_400 ? /^[A-Z][a-z]{2} \d{1,2}( – [A-Z][a-z]{2} \d{1,2})? · [\d,]+ events?$/ : /^[A-Z][a-z]{2} \d{1,2} \d\d:00 · [\d,]+ events?$/)
        await page.mouse.move(0, 0)
      }
      await shot(page, `histogram-${timezoneId.replace('/', '-')}`)
    })
  })
}
