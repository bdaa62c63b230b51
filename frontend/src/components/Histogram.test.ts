import { describe, expect, it } from 'vitest'
import type { HistogramDTO } from '../api/types'
import { stackHistogram } from './Histogram'

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
