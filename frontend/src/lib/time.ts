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

export function fromNow(iso: string | number): string {
  return dayjs(iso).fromNow()
}

export { dayjs }
