import dayjs from 'dayjs'
import utc from 'dayjs/plugin/utc'
import relativeTime from 'dayjs/plugin/relativeTime'

dayjs.extend(utc)
dayjs.extend(relativeTime)

export type TimeZoneMode = 'local' | 'utc'

function at(iso: string | number, tz: TimeZoneMode) {
  const d = dayjs(iso)
  return tz === 'utc' ? d.utc() : d
}

/** This computer's time zone, as IANA names it ("Europe/Berlin"). */
export function localZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || 'local time'
}

/** This computer's zone as an offset now: "UTC+1", "UTC-5:30", "UTC". */
export function localZoneShort(now = new Date()): string {
  const min = -now.getTimezoneOffset()
  if (min === 0) return 'UTC'
  const h = Math.trunc(Math.abs(min) / 60)
  const m = Math.abs(min) % 60
  return `UTC${min < 0 ? '-' : '+'}${h}${m ? `:${String(m).padStart(2, '0')}` : ''}`
}

/** "Nov 20 14:03:07.123" in the chosen zone. */
export function formatTimestamp(iso: string | number, tz: TimeZoneMode): string {
  return at(iso, tz).format('MMM D HH:mm:ss.SSS')
}

/**
 * "2026-08-31 23:46:02 UTC" in UTC, "2026-08-31 23:46:02 UTC+5:30" in local
 * time: a time read out of its context (a banner, the drawer, an export's
 * range) always says its zone, at that date's offset.
 */
export function formatDateTime(iso: string | number, tz: TimeZoneMode): string {
  const d = at(iso, tz)
  return d.format('YYYY-MM-DD HH:mm:ss') + ' ' + (tz === 'utc' ? 'UTC' : localZoneShort(d.toDate()))
}

/**
 * The labels of time-axis ticks, in the timeline's own style (24-hour,
 * "Nov 29"): days for ticks a day or more apart, and the date, not the
 * hour, at a midnight among hours.
 */
export function axisLabels(ticksMs: number[], incrMs: number, tz: TimeZoneMode): string[] {
  return ticksMs.map((ms) => {
    const d = at(ms, tz)
    if (incrMs >= 86_400_000 || (d.hour() === 0 && d.minute() === 0 && d.second() === 0)) return d.format('MMM D')
    return d.format(incrMs < 60_000 ? 'HH:mm:ss' : 'HH:mm')
  })
}

export function formatShort(ms: number, tz: TimeZoneMode): string {
  return at(ms, tz).format('MMM D HH:mm')
}

/**
 * What a histogram bucket [startMs, endMs) is called, as its axis labels
 * call it: "Nov 3" for a day, "Nov 2 – Nov 8" for a week or more, "Nov 3
 * 14:00" for an hour or less.
 */
export function formatBucket(startMs: number, endMs: number, stepSeconds: number, tz: TimeZoneMode): string {
  if (stepSeconds < 86_400) return formatShort(startMs, tz)
  const first = at(startMs, tz).format('MMM D')
  const last = at(endMs - 1, tz).format('MMM D')
  return first === last ? first : `${first} – ${last}`
}

/** A time's reading (in seconds) on the clock of the zone shown, as the UTC time that reads the same. */
export function wallSeconds(s: number, tz: TimeZoneMode): number {
  return tz === 'utc' ? s : s - new Date(s * 1000).getTimezoneOffset() * 60
}

/** The IANA name the histogram's buckets are to follow: UTC's clock, or this computer's. */
export function bucketZone(tz: TimeZoneMode): string | undefined {
  return tz === 'utc' ? 'UTC' : Intl.DateTimeFormat().resolvedOptions().timeZone || undefined
}

/** 0001-01-01T00:00Z, from which the store counts its steps (so weeks start on Mondays). */
const YEAR_ONE_MS = -62_135_596_800_000

/**
 * The edges of histogram buckets of stepMs that cover [fromMs, toMs), as
 * storage.bucketEdges draws them: where the clock (UTC's, or this
 * browser's) reads a multiple of the step since 0001-01-01 00:00, each
 * clock time once at most across a daylight-saving change. The bucket
 * starts, then the last one's end.
 */
export function bucketEdges(fromMs: number, toMs: number, stepMs: number, utc: boolean): number[] {
  // A clock reading, as the UTC time that reads the same, and back.
  const wall = (ms: number) => (utc ? ms : ms - new Date(ms).getTimezoneOffset() * 60_000)
  const at = (w: number) => {
    if (utc) return w
    const d = new Date(w)
    return new Date(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate(), d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds()).getTime()
  }
  let w = YEAR_ONE_MS + Math.floor((wall(fromMs) - YEAR_ONE_MS) / stepMs) * stepMs
  while (at(w) > fromMs) w -= stepMs
  const edges = [at(w)]
  while (edges[edges.length - 1]! < toMs) {
    w += stepMs
    const e = at(w)
    if (e > edges[edges.length - 1]!) edges.push(e)
  }
  return edges
}

/** The index of the bucket of edges (as bucketEdges returns them) that holds ms, or -1. */
export function bucketIndex(edges: number[], ms: number): number {
  let lo = 0
  let hi = edges.length
  while (lo < hi) {
    const mid = (lo + hi) >> 1
    if (edges[mid]! <= ms) lo = mid + 1
    else hi = mid
  }
  return lo === 0 || lo === edges.length ? -1 : lo - 1
}

export function fromNow(iso: string | number): string {
  return dayjs(iso).fromNow()
}

export { dayjs }
