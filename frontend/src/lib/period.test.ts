import { describe, expect, it } from 'vitest'
import { customPeriod, describePeriod, periodRange, quickPeriod } from './period'

const at = (s: string) => Date.parse(s)

describe('quickPeriod', () => {
  it('names quarters and months in UTC, across the year boundary', () => {
    const nov = at('2026-11-20T12:00:00Z')
    expect(quickPeriod('this-quarter', nov)).toBe('2026-Q4')
    expect(quickPeriod('last-quarter', nov)).toBe('2026-Q3')
    expect(quickPeriod('this-month', nov)).toBe('2026-11')
    expect(quickPeriod('last-month', nov)).toBe('2026-10')
    const jan = at('2027-01-02T00:30:00Z')
    expect(quickPeriod('last-quarter', jan)).toBe('2026-Q4')
    expect(quickPeriod('last-month', jan)).toBe('2026-12')
    expect(quickPeriod('this-quarter', jan)).toBe('2027-Q1')
  })
})

describe('periodRange', () => {
  it('reads what the app reads', () => {
    expect(periodRange('2026-Q3')).toEqual({ since: at('2026-07-01T00:00:00Z'), until: at('2026-10-01T00:00:00Z') })
    expect(periodRange('2026-12')).toEqual({ since: at('2026-12-01T00:00:00Z'), until: at('2027-01-01T00:00:00Z') })
    expect(periodRange('2026-07-01..2026-07-01')).toEqual({ since: at('2026-07-01T00:00:00Z'), until: at('2026-07-02T00:00:00Z') })
    for (const bad of ['2026-Q5', '2026-13', '2026-02-30..2026-03-01', '2026-09-30..2026-07-01', 'last quarter', '']) expect(periodRange(bad)).toBeUndefined()
  })
  it('describes the days covered', () => {
    expect(describePeriod('2026-Q1')).toBe('2026-01-01 to 2026-03-31 (UTC)')
    expect(describePeriod('2026-05-05..2026-05-05')).toBe('2026-05-05 (UTC)')
  })
})

describe('customPeriod', () => {
  const now = at('2026-11-20T12:00:00Z')
  it('says which end is wrong', () => {
    expect(customPeriod(null, '2026-01-01', now)).toEqual({ error: { field: 'from', message: 'Choose the first day of the period.' } })
    expect(customPeriod('2026-01-01', '', now)).toEqual({ error: { field: 'to', message: 'Choose the last day of the period.' } })
    expect(customPeriod('2026-02-01', '2026-01-01', now)).toMatchObject({ error: { field: 'to' } })
    expect(customPeriod('2026-12-01', '2026-12-31', now)).toMatchObject({ error: { field: 'from', message: expect.stringContaining('future') } })
    expect(customPeriod('2026-02-30', '2026-03-01', now)).toMatchObject({ error: { field: 'from' } })
    expect(customPeriod('2026-07-01', '2026-09-30', now)).toEqual({ period: '2026-07-01..2026-09-30' })
  })
})
