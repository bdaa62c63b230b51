import { describe, expect, it } from 'vitest'
import { axisLabels, localZoneShort } from './time'

describe('axisLabels', () => {
  const at = (iso: string) => Date.parse(iso)
  it('labels hours in 24-hour time, and a midnight with its date', () => {
    expect(axisLabels([at('2026-11-28T22:00:00Z'), at('2026-11-29T00:00:00Z'), at('2026-11-29T14:00:00Z')], 2 * 3_600_000, 'utc')).toEqual([
      '22:00', 'Nov 29', '14:00',
    ])
  })
  it('labels days as dates, not US numbers', () => {
    expect(axisLabels([at('2026-09-01T00:00:00Z'), at('2026-11-25T00:00:00Z')], 7 * 86_400_000, 'utc')).toEqual(['Sep 1', 'Nov 25'])
  })
  it('shows seconds when the ticks are seconds apart', () => {
    expect(axisLabels([at('2026-11-29T14:00:05Z')], 5_000, 'utc')).toEqual(['14:00:05'])
  })
})

describe('localZoneShort', () => {
  const offset = (min: number) => ({ getTimezoneOffset: () => min }) as Date
  it('names this computer’s zone as its offset from UTC', () => {
    expect(localZoneShort(offset(-60))).toBe('UTC+1')
    expect(localZoneShort(offset(-330))).toBe('UTC+5:30')
    expect(localZoneShort(offset(300))).toBe('UTC-5')
    expect(localZoneShort(offset(0))).toBe('UTC')
  })
})
