import { describe, expect, it } from 'vitest'
import type { HistogramDTO } from '../api/types'
import { bucketSpan, bucketTicks, stackHistogram } from './Histogram'

describe('stackHistogram', () => {
  const h: HistogramDTO = {
    bucketSeconds: 60,
    buckets: [
      { start: '2026-01-01T00:00:00Z', count: 6, byRisk: { low: 3, medium: 2, high: 1 }, byStatus: { applied: 5, failed: 1 } },
      { start: '2026-01-01T00:01:00Z', count: 0, byRisk: {} },
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
})

describe('bucketSpan', () => {
  const start = Date.parse('2026-01-01T00:01:00Z') / 1000
  const centre = start + 30
  it('covers the whole bucket, not its centre alone', () => {
    expect(bucketSpan(centre, 60, start - 600, start + 600)).toEqual([start, start + 60])
  })
  it('shows a bucket that starts before the range, clipped to the range', () => {
    // A one-minute range from 00:01:40: the bucket of 00:01 holds its first 20 s.
    expect(bucketSpan(centre, 60, start + 40, start + 100)).toEqual([start + 40, start + 60])
  })
  it('shows a bucket that ends after the range, clipped to the range', () => {
    expect(bucketSpan(centre, 60, start - 30, start + 10)).toEqual([start, start + 10])
  })
  it('leaves out a bucket wholly outside the range', () => {
    expect(bucketSpan(centre, 60, start + 60, start + 120)).toBeUndefined()
    expect(bucketSpan(centre, 60, start - 60, start)).toBeUndefined()
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
})
