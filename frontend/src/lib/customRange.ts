// The Custom time range's pickers work in wall-clock strings to the second,
// in UTC or local time; events carry milliseconds and the log's until is
// exclusive. These convert between the two so that no event drops out.

import { dayjs, type TimeZoneMode } from './time'

const FORMAT = 'YYYY-MM-DD HH:mm:ss'

/** The picker's string for the second that holds `ms`. */
export function toPicker(ms: number, tz: TimeZoneMode): string {
  return (tz === 'utc' ? dayjs(ms).utc() : dayjs(ms)).format(FORMAT)
}

/** The start of the second a picker's string names. */
export function fromPicker(s: string, tz: TimeZoneMode): number {
  return (tz === 'utc' ? dayjs.utc(s) : dayjs(s)).valueOf()
}

/** What the pickers show for the range [since, until): To is the last second in it. */
export function shownRange(r: { since: number; until: number }, tz: TimeZoneMode): { from: string; to: string } {
  return { from: toPicker(r.since, tz), to: toPicker(r.until - 1, tz) }
}

/**
 * The range [since, until) that the pickers stand for. "To" takes in its
 * whole second: until is the start of the next one. A field left as it was
 * shown keeps its value to the millisecond, so applying the form unchanged
 * keeps the range. From and To given the wrong way round are read the right
 * way round, each second whole.
 */
export function pickedRange(
  picked: { from: string; to: string },
  shown: { since: number; until: number },
  tz: TimeZoneMode,
): { since: number; until: number } {
  const was = shownRange(shown, tz)
  const since = picked.from === was.from ? shown.since : fromPicker(picked.from, tz)
  const until = picked.to === was.to ? shown.until : fromPicker(picked.to, tz) + 1000
  if (since < until) return { since, until }
  const a = fromPicker(picked.from, tz)
  const b = fromPicker(picked.to, tz)
  return { since: Math.min(a, b), until: Math.max(a, b) + 1000 }
}
