import { afterEach, describe, expect, it } from 'vitest'
import { axisLabels, bucketEdges, bucketIndex, bucketZone, formatBucket, localZoneShort, wallSeconds } from './time'

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

// The zone this process's Dates use, for the tests of one describe block.
function inZone(zone: string) {
  const before = process.env.TZ
  process.env.TZ = zone
  return () => void (process.env.TZ = before)
}
const iso = (ms: number[]) => ms.map((m) => new Date(m).toISOString().replace('.000', ''))

describe('bucketEdges', () => {
  let restore = () => {}
  afterEach(() => restore())
  const at = (s: string) => Date.parse(s)
  const day = 86_400_000

  it('starts a day at midnight in India (18:30 UTC), and at midnight UTC when asked for UTC', () => {
    restore = inZone('Asia/Kolkata')
    expect(iso(bucketEdges(at('2026-11-02T20:00:00Z'), at('2026-11-04T20:00:00Z'), day, false))).toEqual([
      '2026-11-02T18:30:00Z', '2026-11-03T18:30:00Z', '2026-11-04T18:30:00Z', '2026-11-05T18:30:00Z',
    ])
    expect(iso(bucketEdges(at('2026-11-02T20:00:00Z'), at('2026-11-04T20:00:00Z'), day, true))).toEqual([
      '2026-11-02T00:00:00Z', '2026-11-03T00:00:00Z', '2026-11-04T00:00:00Z', '2026-11-05T00:00:00Z',
    ])
  })
  it('starts a week on a Monday at midnight, as the server does', () => {
    restore = inZone('Asia/Kolkata')
    expect(iso(bucketEdges(at('2026-11-04T00:00:00Z'), at('2026-11-05T00:00:00Z'), 7 * day, false))).toEqual(['2026-11-01T18:30:00Z', '2026-11-08T18:30:00Z'])
  })
  it('starts an hour on the hour in Nepal (:15 UTC)', () => {
    restore = inZone('Asia/Kathmandu')
    expect(iso(bucketEdges(at('2026-11-03T10:20:00Z'), at('2026-11-03T12:00:00Z'), 3_600_000, false))).toEqual([
      '2026-11-03T10:15:00Z', '2026-11-03T11:15:00Z', '2026-11-03T12:15:00Z',
    ])
  })
  it('makes the day daylight saving ends 25 hours long', () => {
    restore = inZone('Australia/Adelaide')
    expect(iso(bucketEdges(at('2026-04-04T14:00:00Z'), at('2026-04-05T15:00:00Z'), day, false))).toEqual([
      '2026-04-04T13:30:00Z', '2026-04-05T14:30:00Z', '2026-04-06T14:30:00Z',
    ])
  })
  it('starts no bucket at an hour the clock skips', () => {
    restore = inZone('Europe/Berlin')
    expect(iso(bucketEdges(at('2026-03-29T00:30:00Z'), at('2026-03-29T02:30:00Z'), 3_600_000, false))).toEqual([
      '2026-03-29T00:00:00Z', '2026-03-29T01:00:00Z', '2026-03-29T02:00:00Z', '2026-03-29T03:00:00Z',
    ])
  })
})

describe('bucketIndex', () => {
  const edges = [0, 10, 25, 30]
  it('finds the bucket [start, end) that holds a time, or none', () => {
    expect([-1, 0, 9, 10, 24, 25, 29, 30].map((t) => bucketIndex(edges, t))).toEqual([-1, 0, 0, 1, 1, 2, 2, -1])
  })
})

describe('formatBucket', () => {
  let restore = () => {}
  afterEach(() => restore())
  it('names a day by its date and a week by its first and last days, in the zone shown', () => {
    restore = inZone('Asia/Kolkata')
    const start = Date.parse('2026-11-02T18:30:00Z') // Nov 3, 00:00 in India
    expect(formatBucket(start, start + 86_400_000, 86_400, 'local')).toBe('Nov 3')
    expect(formatBucket(start, start + 7 * 86_400_000, 7 * 86_400, 'local')).toBe('Nov 3 – Nov 9')
    expect(formatBucket(Date.parse('2026-11-03T00:00:00Z'), Date.parse('2026-11-04T00:00:00Z'), 86_400, 'utc')).toBe('Nov 3')
  })
  it('names an hour by its start', () => {
    restore = inZone('Asia/Kolkata')
    expect(formatBucket(Date.parse('2026-11-03T08:30:00Z'), Date.parse('2026-11-03T09:30:00Z'), 3600, 'local')).toBe('Nov 3 14:00')
  })
})

describe('wallSeconds and bucketZone', () => {
  let restore = () => {}
  afterEach(() => restore())
  it('read the clock of the zone shown', () => {
    restore = inZone('Asia/Kathmandu')
    const s = Date.parse('2026-11-02T18:15:00Z') / 1000
    expect(wallSeconds(s, 'local')).toBe(Date.parse('2026-11-03T00:00:00Z') / 1000)
    expect(wallSeconds(s, 'utc')).toBe(s)
    // ICU may name it as tzdata once did (the server knows both names).
    expect(['Asia/Kathmandu', 'Asia/Katmandu']).toContain(bucketZone('local'))
    expect(bucketZone('utc')).toBe('UTC')
  })
})
