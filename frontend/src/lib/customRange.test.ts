import { describe, expect, it } from 'vitest'
import { pickedRange, shownRange } from './customRange'

const t = (s: string) => Date.parse(s)

describe('Custom range pickers', () => {
  const range = { since: t('2026-11-20T16:19:35.250Z'), until: t('2026-11-20T17:19:08.123Z') }

  it('show To as the last second in the range', () => {
    expect(shownRange(range, 'utc')).toEqual({ from: '2026-11-20 16:19:35', to: '2026-11-20 17:19:08' })
    // An exclusive end on a whole second: the second before it is the last one in.
    expect(shownRange({ since: 0, until: t('2026-11-20T17:19:36.000Z') }, 'utc').to).toBe('2026-11-20 17:19:35')
  })

  it('keep the range to the millisecond when applied unchanged', () => {
    expect(pickedRange(shownRange(range, 'utc'), range, 'utc')).toEqual(range)
    expect(pickedRange(shownRange(range, 'local'), range, 'local')).toEqual(range)
    const whole = { since: t('2026-11-20T16:00:00Z'), until: t('2026-11-20T17:00:00Z') }
    expect(pickedRange(shownRange(whole, 'utc'), whole, 'utc')).toEqual(whole)
  })

  it('take in the whole second chosen as To', () => {
    // An event at 17:19:35.065 is in a range to 17:19:35.
    const r = pickedRange({ from: '2026-11-20 16:19:35', to: '2026-11-20 17:19:35' }, range, 'utc')
    expect(r).toEqual({ since: range.since, until: t('2026-11-20T17:19:36.000Z') })
    expect(t('2026-11-20T17:19:35.065Z')).toBeLessThan(r.until)
  })

  it('start at the start of a From that was changed', () => {
    expect(pickedRange({ from: '2026-11-20 15:00:00', to: '2026-11-20 17:19:08' }, range, 'utc')).toEqual({ since: t('2026-11-20T15:00:00Z'), until: range.until })
  })

  it('read From and To the right way round, each second whole', () => {
    expect(pickedRange({ from: '2026-11-20 18:00:05', to: '2026-11-20 18:00:03' }, range, 'utc')).toEqual({ since: t('2026-11-20T18:00:03Z'), until: t('2026-11-20T18:00:06Z') })
    // One second picked as both ends is that second.
    expect(pickedRange({ from: '2026-11-20 18:00:05', to: '2026-11-20 18:00:05' }, range, 'utc')).toEqual({ since: t('2026-11-20T18:00:05Z'), until: t('2026-11-20T18:00:06Z') })
  })
})
