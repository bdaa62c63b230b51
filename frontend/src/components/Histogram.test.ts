import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { HistogramDTO } from '../api/types'
import { wallSeconds } from '../lib/time'
import { bucketSpan, bucketTicks, stackHistogram } from './Histogram'

describe('stackHistogram', () => {
  const h: HistogramDTO = {
    bucketSeconds: 60,
    buckets: [
      { start: '2026-01-01T00:00:00Z', end: '2026-01-01T00:01:00Z', count: 6, byRisk: { low: 3, medium: 2, high: 1 }, byStatus: { applied: 5, failed: 1 } },
      { start: '2026-01-01T00:01:00Z', end: '2026-01-01T00:02:00Z', count: 0, byRisk: {} },
    ],
  }
  it('stacks risk cumulatively, top of the stack first, at bucket centres', () => {
    const { keys, data } = stackHistogram(h, 'risk')
    expect(keys).toEqual(['high', 'medium', 'low'])
    expect(data[0]).toEqual([Date.parse('2026-01-01T00:00:00Z') / 1000 + 30, Date.parse('2026-01-01T00:01:00Z') / 1000 + 30])
    expect(data.slice(1)).toEqual([[6, 0], [5, 0], [3, 0]])
  })
  it('stacks by status when asked, treating a missing breakdown as zero', () => {
    const { keys, data } = stackHistogram(h, 'status')
    expect(keys).toEqual(['failed', 'rolled_back', 'pending', 'applied'])
    expect(data.slice(1)).toEqual([[6, 0], [5, 0], [5, 0], [5, 0]])
  })
  it('centres a day of 25 hours (daylight saving ends) in its 25 hours', () => {
    // Adelaide, April 5 2026: midnight at +10:30, the next at +9:30.
    const day: HistogramDTO = { bucketSeconds: 86_400, buckets: [{ start: '2026-04-04T13:30:00Z', end: '2026-04-05T14:30:00Z', count: 1, byRisk: { low: 1 } }] }
    expect(stackHistogram(day, 'risk').data[0]).toEqual([Date.parse('2026-04-04T13:30:00Z') / 1000 + 12.5 * 3600])
  })
})

describe('bucketSpan', () => {
  const start = Date.parse('2026-01-01T00:01:00Z') / 1000
  const bucket: [number, number] = [start, start + 60]
  it('covers the whole bucket, not its centre alone', () => {
    expect(bucketSpan(bucket, start - 600, start + 600)).toEqual([start, start + 60])
  })
  it('shows a bucket that starts before the range, clipped to the range', () => {
    // A one-minute range from 00:01:40: the bucket of 00:01 holds its first 20 s.
    expect(bucketSpan(bucket, start + 40, start + 100)).toEqual([start + 40, start + 60])
  })
  it('shows a bucket that ends after the range, clipped to the range', () => {
    expect(bucketSpan(bucket, start - 30, start + 10)).toEqual([start, start + 10])
  })
  it('leaves out a bucket wholly outside the range', () => {
    expect(bucketSpan(bucket, start + 60, start + 120)).toBeUndefined()
    expect(bucketSpan(bucket, start - 60, start)).toBeUndefined()
  })
  it('covers a day of 25 hours whole', () => {
    const day: [number, number] = [start, start + 25 * 3600]
    expect(bucketSpan(day, start - 86_400, start + 3 * 86_400)).toEqual(day)
  })
})

describe('bucketTicks', () => {
  const week = 7 * 86_400
  const starts = Array.from({ length: 13 }, (_, i) => (2900 + i) * week)
  it('puts a tick at every bar start when the bars are wide enough', () => {
    expect(bucketTicks(starts, week, 100 / week)).toEqual(starts)
  })
  it('skips bars so that labels keep their distance, counted from the epoch', () => {
    const ticks = bucketTicks(starts, week, 30 / week) // 30 px a bar: every third
    expect(ticks.length).toBeGreaterThan(3)
    for (const t of ticks) {
      expect(starts).toContain(t)
      expect(Math.round(t / week) % 3).toBe(0)
    }
    // Moving the range by a bar keeps the ticks where they were.
    expect(bucketTicks(starts.slice(1), week, 30 / week)).toEqual(ticks.filter((t) => t !== starts[0]))
  })

  // New Zealand's midnights move from 11:00 to 12:00 UTC when daylight
  // saving ends (April 5 2026): counted on UTC's clock, half a day off the
  // epoch's days, the days on either side round apart and two labels come
  // three days apart (April 4, then 7). Counted on the local clock they
  // keep their step.
  describe('in Pacific/Auckland', () => {
    const tz = process.env.TZ
    beforeAll(() => void (process.env.TZ = 'Pacific/Auckland'))
    afterAll(() => void (process.env.TZ = tz))
    it('keeps every other day across a daylight-saving change', () => {
      const days = Array.from({ length: 10 }, (_, i) => new Date(2026, 3, 1 + i).getTime() / 1000) // local midnights, April 1-10
      expect(new Date(days[0]! * 1000).toISOString()).toBe('2026-03-31T11:00:00.000Z')
      expect(new Date(days[9]! * 1000).toISOString()).toBe('2026-04-09T12:00:00.000Z')
      const ticks = bucketTicks(days, 86_400, 40 / 86_400, (s) => wallSeconds(s, 'local')) // every other day
      expect(ticks.length).toBe(5)
      for (let i = 1; i < ticks.length; i++) expect(Math.round((ticks[i]! - ticks[i - 1]!) / 3600)).toBeGreaterThanOrEqual(47)
    })
  })
})
