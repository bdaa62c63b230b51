import { afterEach, describe, expect, it, vi } from 'vitest'
import { retrying } from './lazyRetry'

describe('retrying', () => {
  afterEach(() => vi.useRealTimers())

  it('fetches a chunk again until it loads, never rejecting', async () => {
    vi.useFakeTimers()
    let calls = 0
    const load = () => (++calls < 3 ? Promise.reject(new TypeError('Failed to fetch dynamically imported module')) : Promise.resolve('chunk'))
    let settled: string | undefined
    retrying(load, 1000).then((v) => (settled = v), () => (settled = 'rejected'))
    await vi.advanceTimersByTimeAsync(999)
    expect(calls).toBe(1)
    expect(settled).toBeUndefined()
    await vi.advanceTimersByTimeAsync(2001)
    expect(calls).toBe(3)
    expect(settled).toBe('chunk')
  })
})
