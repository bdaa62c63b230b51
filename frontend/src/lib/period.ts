// Report periods as the app reads them (app/report/period.go): a quarter
// "2026-Q3", a month "2026-09", or "FROM..TO" with dates, TO included. All
// in UTC, so that a report of "last quarter" is the same everywhere.

export type PeriodChoice = 'this-quarter' | 'last-quarter' | 'this-month' | 'last-month' | 'custom'

const pad = (n: number) => String(n).padStart(2, '0')

/** The period label of a quick choice at time `now`. */
export function quickPeriod(choice: Exclude<PeriodChoice, 'custom'>, now: number): string {
  const d = new Date(now)
  let y = d.getUTCFullYear()
  const m = d.getUTCMonth() // 0-11
  switch (choice) {
    case 'this-quarter':
      return `${y}-Q${Math.floor(m / 3) + 1}`
    case 'last-quarter': {
      let q = Math.floor(m / 3)
      if (q === 0) {
        q = 4
        y--
      }
      return `${y}-Q${q}`
    }
    case 'this-month':
      return `${y}-${pad(m + 1)}`
    case 'last-month':
      return m === 0 ? `${y - 1}-12` : `${y}-${pad(m)}`
  }
}

const DATE = /^(\d{4})-(\d{2})-(\d{2})$/

function parseDate(s: string): number | undefined {
  const m = DATE.exec(s)
  if (!m) return undefined
  const t = Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!)
  const d = new Date(t)
  return d.getUTCMonth() === +m[2]! - 1 && d.getUTCDate() === +m[3]! ? t : undefined
}

const DAY = 86_400_000

/** [since, until) of a period label in ms, or undefined when it is not one. */
export function periodRange(label: string): { since: number; until: number } | undefined {
  const s = label.trim()
  let m = /^(\d{4})-Q([1-4])$/.exec(s)
  if (m) {
    const since = Date.UTC(+m[1]!, 3 * (+m[2]! - 1), 1)
    return { since, until: Date.UTC(+m[1]!, 3 * +m[2]!, 1) }
  }
  m = /^(\d{4})-(\d{2})$/.exec(s)
  if (m) {
    const mo = +m[2]!
    if (mo < 1 || mo > 12) return undefined
    return { since: Date.UTC(+m[1]!, mo - 1, 1), until: Date.UTC(+m[1]!, mo, 1) }
  }
  const [from, to, ...rest] = s.split('..')
  if (from === undefined || to === undefined || rest.length) return undefined
  const since = parseDate(from)
  const last = parseDate(to)
  if (since === undefined || last === undefined || last < since) return undefined
  return { since, until: last + DAY }
}

export interface CustomPeriodError {
  field: 'from' | 'to'
  message: string
}

/**
 * The label of a custom range of dates (YYYY-MM-DD, both included), or
 * what is wrong with it, said about the field to fix.
 */
export function customPeriod(from: string | null | undefined, to: string | null | undefined, now: number): { period: string } | { error: CustomPeriodError } {
  if (!from) return { error: { field: 'from', message: 'Choose the first day of the period.' } }
  if (!to) return { error: { field: 'to', message: 'Choose the last day of the period.' } }
  const f = parseDate(from)
  const t = parseDate(to)
  if (f === undefined) return { error: { field: 'from', message: `${from} is not a date (YYYY-MM-DD).` } }
  if (t === undefined) return { error: { field: 'to', message: `${to} is not a date (YYYY-MM-DD).` } }
  if (t < f) return { error: { field: 'to', message: 'The last day is before the first: the period would be empty.' } }
  if (f > now) return { error: { field: 'from', message: 'The period starts in the future: there are no events to report yet.' } }
  if (t - f > 100 * 365 * DAY) return { error: { field: 'to', message: 'A period may span at most 100 years.' } }
  return { period: `${from}..${to}` }
}

const fmt = (ms: number) => new Date(ms).toISOString().slice(0, 10)

/** "2026-07-01 to 2026-09-30 (UTC)": the days a period covers, both included. */
export function describePeriod(label: string): string | undefined {
  const r = periodRange(label)
  if (!r) return undefined
  const last = r.until - DAY
  return last === r.since ? `${fmt(r.since)} (UTC)` : `${fmt(r.since)} to ${fmt(last)} (UTC)`
}
