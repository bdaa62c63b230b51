// Autocomplete for the query bar: what the word at the caret could become.

import { ACTION_TYPES } from '../api/catalogue'
import type { FacetsDTO } from '../api/types'
import { FIELD_KEYS, FIELD_VALUES, QUERY_FIELDS, fieldValue, parseQuery, type QueryField } from './parse'

export interface Suggestion {
  /** What the list shows. */
  label: string
  /** What replaces input[start, end). */
  insert: string
  start: number
  end: number
  hint?: string
}

const FACET_KEY: Partial<Record<QueryField, string>> = {
  category: 'category', provider: 'provider', status: 'status', risk: 'riskLevel', user: 'userId',
}

const FIELD_HINTS: Record<QueryField, string> = {
  category: 'kind of event', action: 'action type', provider: 'aws, azure, gcp, system', user: 'who did it',
  status: 'applied, pending, failed…', risk: 'low, medium, high', resource: 'id, or prefix*',
}

/** The word the caret is in (up to the caret). */
export function wordAt(input: string, caret: number): { start: number; end: number; word: string } {
  let start = caret
  while (start > 0 && !/\s/.test(input[start - 1] ?? '')) start--
  let end = caret
  while (end < input.length && !/\s/.test(input[end] ?? '')) end++
  return { start, end, word: input.slice(start, caret) }
}

export function suggest(input: string, caret: number, facets?: FacetsDTO, limit = 8): Suggestion[] {
  const { start, end, word } = wordAt(input, caret)
  const neg = word.startsWith('-') ? '-' : ''
  const body = neg ? word.slice(1) : word
  const colon = body.indexOf(':')
  if (colon < 0) {
    const w = body.toLowerCase()
    return QUERY_FIELDS.filter((f) => f.startsWith(w) && !(neg && f === 'resource'))
      .map((f) => ({ label: `${neg}${f}:`, insert: `${neg}${f}:`, start, end, hint: FIELD_HINTS[f] }))
      .slice(0, limit)
  }
  const field = body.slice(0, colon).toLowerCase() as QueryField
  if (!(QUERY_FIELDS as readonly string[]).includes(field)) return []
  const partial = body.slice(colon + 1).replace(/^"/, '').toLowerCase()
  const counts = new Map<string, number>()
  const facetKey = FACET_KEY[field]
  for (const fc of (facetKey && facets?.[facetKey]) || []) counts.set(fc.value, fc.count)
  const values = new Set<string>([...counts.keys(), ...(FIELD_VALUES[field] ?? []), ...(field === 'action' ? ACTION_TYPES : [])])
  // A value the rest of the query filters the other way would make a
  // query the parser refuses (filtered both for and out): not offered.
  const keys = field === 'resource' ? undefined : FIELD_KEYS[field]
  const other = keys ? (parseQuery(input.slice(0, start) + input.slice(end)).filter[neg ? keys[0] : keys[1]] ?? []) : []
  return [...values]
    .filter((v) => v.toLowerCase().includes(partial) && v.toLowerCase() !== partial && !other.includes(v))
    .sort((a, b) => (counts.get(b) ?? 0) - (counts.get(a) ?? 0) || Number(!a.toLowerCase().startsWith(partial)) - Number(!b.toLowerCase().startsWith(partial)) || a.localeCompare(b))
    .slice(0, limit)
    .map((v) => ({
      label: `${neg}${field}:${v}`,
      insert: `${neg}${field}:${fieldValue(v)} `,
      start, end,
      hint: counts.has(v) ? (counts.get(v) ?? 0).toLocaleString('en-US') : undefined,
    }))
}
