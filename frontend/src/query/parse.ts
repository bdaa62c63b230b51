// The query bar's language: free text plus field:value terms.
//
//   status:failed risk:high -provider:gcp user:"Alice Smith" resource:arn:aws:s3* bucket
//
// Fields: category, action, provider, user, status, risk, resource. A value
// may be quoted ("…" with \" and \\ escapes; any other backslash is
// itself). `-field:value` excludes; `resource:x*` matches a prefix. Words
// without a field are free text: each word, and each "quoted phrase"
// whole, must be a case-insensitive substring of some public field of the
// event (the log's text filter, storage.TextTerms). parseQuery never
// throws: problems come back as errors with the character range they
// concern, so the bar can underline them.

import { CATEGORIES, PROVIDERS, RISK_LEVELS, STATUSES, type QueryDTO } from '../api/types'

/** The part of a QueryDTO the query bar edits. */
export type QueryFilter = Pick<
  QueryDTO,
  | 'categories' | 'actionTypes' | 'providers' | 'userIds' | 'statuses' | 'riskLevels'
  | 'resourceId' | 'resourceIdPrefix'
  | 'notCategories' | 'notActionTypes' | 'notProviders' | 'notUserIds' | 'notStatuses' | 'notRiskLevels'
  | 'text'
>

export interface ParseError {
  message: string
  /** Character offsets in the input, end exclusive. */
  start: number
  end: number
}

export interface Term {
  negated: boolean
  field?: QueryField
  value: string
  start: number
  end: number
}

export interface ParseResult {
  filter: QueryFilter
  terms: Term[]
  errors: ParseError[]
}

export const QUERY_FIELDS = ['category', 'action', 'provider', 'user', 'status', 'risk', 'resource'] as const
export type QueryField = (typeof QUERY_FIELDS)[number]

type ListKey = 'categories' | 'actionTypes' | 'providers' | 'userIds' | 'statuses' | 'riskLevels'
type NotListKey = 'notCategories' | 'notActionTypes' | 'notProviders' | 'notUserIds' | 'notStatuses' | 'notRiskLevels'

export const FIELD_KEYS: Record<Exclude<QueryField, 'resource'>, [ListKey, NotListKey]> = {
  category: ['categories', 'notCategories'],
  action: ['actionTypes', 'notActionTypes'],
  provider: ['providers', 'notProviders'],
  user: ['userIds', 'notUserIds'],
  status: ['statuses', 'notStatuses'],
  risk: ['riskLevels', 'notRiskLevels'],
}

/** Values a field accepts, where the set is closed. */
export const FIELD_VALUES: Partial<Record<QueryField, readonly string[]>> = {
  category: CATEGORIES,
  provider: PROVIDERS,
  status: STATUSES,
  risk: RISK_LEVELS,
}

function isField(s: string): s is QueryField {
  return (QUERY_FIELDS as readonly string[]).includes(s)
}

const isSpace = (c: string | undefined) => c === ' ' || c === '\t' || c === '\n' || c === '\r'

/** Reads a quoted string starting at input[i] === '"'. */
function readQuoted(input: string, i: number): { value: string; end: number; closed: boolean } {
  let value = ''
  let j = i + 1
  while (j < input.length) {
    const c = input[j]
    // \" and \\ are escapes; any other backslash is itself, so that a
    // Windows path reads as written: "C:\Users".
    if (c === '\\' && (input[j + 1] === '"' || input[j + 1] === '\\')) {
      value += input[j + 1]
      j += 2
      continue
    }
    if (c === '"') return { value, end: j + 1, closed: true }
    value += c
    j++
  }
  return { value, end: j, closed: false }
}

function readBare(input: string, i: number): { value: string; end: number } {
  let j = i
  while (j < input.length && !isSpace(input[j])) j++
  return { value: input.slice(i, j), end: j }
}

// What a bare AND, OR or NOT means here instead.
const OPERATOR_WORDS = {
  OR: 'OR is not an operator here: repeat a field to match any of its values (status:failed status:rolled_back); different fields must all match. To search for the word, quote it: "OR"',
  AND: 'AND is not needed: every term must match. To search for the word, quote it: "AND"',
  NOT: 'To exclude, put a minus before a field: -status:failed. To search for the word, quote it: "NOT"',
} as const

export function parseQuery(input: string): ParseResult {
  const terms: Term[] = []
  const errors: ParseError[] = []
  const filter: QueryFilter = {}
  const text: string[] = []
  let i = 0
  while (i < input.length) {
    if (isSpace(input[i])) {
      i++
      continue
    }
    const start = i
    let negated = false
    if (input[i] === '-' && i + 1 < input.length && !isSpace(input[i + 1])) {
      negated = true
      i++
    }
    // field:value?
    const fm = /^([A-Za-z]+):/.exec(input.slice(i, i + 20))
    if (fm && fm[1]) {
      const name = fm[1].toLowerCase()
      const valueStart = i + fm[0].length
      let value: string
      let end: number
      let closed = true
      if (input[valueStart] === '"') {
        ;({ value, end, closed } = readQuoted(input, valueStart))
      } else {
        ;({ value, end } = readBare(input, valueStart))
      }
      i = end
      if (!closed) {
        errors.push({ message: 'The quote is not closed: add a closing "', start: valueStart, end })
        continue
      }
      if (!isField(name)) {
        errors.push({
          message: `Unknown field "${fm[1]}". Fields: ${QUERY_FIELDS.join(', ')}. To search for text with a colon, put it in quotes.`,
          start, end: valueStart - 1,
        })
        continue
      }
      if (value === '') {
        errors.push({ message: `${name}: needs a value, e.g. ${name}:${FIELD_VALUES[name]?.[0] ?? 'x'}`, start, end })
        continue
      }
      const term: Term = { negated, field: name, value, start, end }
      if (!addFieldTerm(filter, term, errors)) continue
      terms.push(term)
      continue
    }
    // free text
    let value: string
    let end: number
    let closed = true
    if (input[i] === '"') ({ value, end, closed } = readQuoted(input, i))
    else ({ value, end } = readBare(input, i))
    i = end
    if (!closed) {
      errors.push({ message: 'The quote is not closed: add a closing "', start, end })
      continue
    }
    if (negated) {
      errors.push({ message: 'Free text cannot be excluded; exclude a field instead, e.g. -status:failed', start, end })
      continue
    }
    if (value.trim() === '') continue
    // Boolean words read as operators, but would be searched as text.
    if (input[start] !== '"' && Object.hasOwn(OPERATOR_WORDS, value)) {
      errors.push({ message: OPERATOR_WORDS[value as keyof typeof OPERATOR_WORDS], start, end })
      continue
    }
    // The log's text filter has no escapes: a double quote that would
    // open or close a phrase there cannot be searched for.
    const back = textTerms(textTerm(value))
    if (back.length !== 1 || back[0] !== value) {
      errors.push({ message: 'Free text cannot search for this double quote: the log reads " as the start or end of a phrase. Leave it out and search the words around it.', start, end })
      continue
    }
    terms.push({ negated: false, value, start, end })
    text.push(value)
  }
  // A phrase goes to the log quoted, so that it is matched whole.
  if (text.length) filter.text = text.map(textTerm).join(' ')
  return { filter, terms, errors }
}

/**
 * White space as the log's text filter reads it: Go's unicode.IsSpace,
 * which counts U+0085 and not U+FEFF, unlike JavaScript's \s.
 */
const TEXT_SPACE = /[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]/

/** A free-text term as the log's text filter takes it: quoted when it holds white space. */
function textTerm(t: string): string {
  return TEXT_SPACE.test(t) ? `"${t}"` : t
}

/**
 * The words and "quoted phrases" of a text filter, as the log splits them
 * (storage.TextTerms): white space separates words; a phrase in double
 * quotes is one term; an unclosed quote runs to the end; empty phrases are
 * dropped; there are no escapes.
 */
export function textTerms(s: string): string[] {
  const terms: string[] = []
  let i = 0
  while (i < s.length) {
    const c = s[i] ?? ''
    if (TEXT_SPACE.test(c)) {
      i++
    } else if (c === '"') {
      const end = s.indexOf('"', i + 1)
      const phrase = end >= 0 ? s.slice(i + 1, end) : s.slice(i + 1)
      i = end >= 0 ? end + 1 : s.length
      if (phrase.trim() !== '') terms.push(phrase)
    } else {
      let j = i
      while (j < s.length && !TEXT_SPACE.test(s[j] ?? '')) j++
      terms.push(s.slice(i, j))
      i = j
    }
  }
  return terms
}

function addFieldTerm(filter: QueryFilter, t: Term, errors: ParseError[]): boolean {
  const field = t.field as QueryField
  if (field === 'resource') {
    if (t.negated) {
      errors.push({ message: 'resource cannot be excluded', start: t.start, end: t.end })
      return false
    }
    if (filter.resourceId !== undefined || filter.resourceIdPrefix !== undefined) {
      errors.push({ message: 'Only one resource: term is allowed', start: t.start, end: t.end })
      return false
    }
    if (t.value.endsWith('*')) {
      if (t.value.length === 1 || t.value.slice(0, -1).includes('*')) {
        errors.push({ message: 'A resource prefix needs text before the *', start: t.start, end: t.end })
        return false
      }
      filter.resourceIdPrefix = t.value.slice(0, -1)
    } else if (t.value.includes('*')) {
      errors.push({ message: '* is allowed only at the end of a resource (a prefix)', start: t.start, end: t.end })
      return false
    } else filter.resourceId = t.value
    return true
  }
  const allowed = FIELD_VALUES[field]
  if (allowed && !allowed.includes(t.value)) {
    errors.push({ message: `Unknown ${field} "${t.value}". Use one of: ${allowed.join(', ')}`, start: t.start, end: t.end })
    return false
  }
  const [inc, exc] = FIELD_KEYS[field]
  const key = t.negated ? exc : inc
  // Filtering a value both for and out matches nothing, whichever came
  // first: say so rather than show an empty timeline.
  if (filter[t.negated ? inc : exc]?.includes(t.value)) {
    errors.push({ message: `${field}:${t.value} is both filtered for and filtered out: remove one of them`, start: t.start, end: t.end })
    return false
  }
  ;(filter[key] ??= []).push(t.value)
  return true
}

// ---------------------------------------------------------------------------
// Formatting back.

function needsQuotes(v: string): boolean {
  return v === '' || /[\s"\\]/.test(v) || v.startsWith('-') || /^[A-Za-z]+:/.test(v)
}

export function quoteValue(v: string): string {
  return needsQuotes(v) ? '"' + v.replace(/[\\"]/g, (c) => '\\' + c) + '"' : v
}

export function fieldValue(v: string): string {
  // After a field, only spaces, quotes and backslashes force quotes.
  return v === '' || /[\s"\\]/.test(v) || v.startsWith('"') ? '"' + v.replace(/[\\"]/g, (c) => '\\' + c) + '"' : v
}

/** The canonical query text for a filter; parseQuery(formatQuery(f)) gives f back. */
export function formatQuery(f: QueryFilter): string {
  const parts: string[] = []
  for (const field of QUERY_FIELDS) {
    if (field === 'resource') {
      if (f.resourceId !== undefined) parts.push('resource:' + fieldValue(f.resourceId))
      if (f.resourceIdPrefix !== undefined) parts.push('resource:' + fieldValue(f.resourceIdPrefix + '*'))
      continue
    }
    const [inc, exc] = FIELD_KEYS[field]
    for (const v of f[inc] ?? []) parts.push(`${field}:${fieldValue(v)}`)
    for (const v of f[exc] ?? []) parts.push(`-${field}:${fieldValue(v)}`)
  }
  if (f.text) for (const w of textTerms(f.text)) parts.push(quoteValue(w))
  return parts.join(' ')
}

/** Adds or removes one field term, for facet clicks; returns the new query text. */
export function toggleTerm(input: string, field: QueryField, value: string, negated: boolean): string {
  const { filter, errors } = parseQuery(input)
  if (errors.length) {
    // Keep what the user typed; append the term.
    return `${input.trim()} ${negated ? '-' : ''}${field}:${fieldValue(value)}`.trim()
  }
  if (field === 'resource') {
    delete filter.resourceIdPrefix
    filter.resourceId = filter.resourceId === value ? undefined : value
    if (filter.resourceId === undefined) delete filter.resourceId
    return formatQuery(filter)
  }
  const [inc, exc] = FIELD_KEYS[field]
  ;[filter[inc], filter[exc]] = toggledValues(filter[inc] ?? [], filter[exc] ?? [], value, negated)
  return formatQuery(filter)
}

/**
 * A field's values filtered for and out after a facet click: the value is
 * added to its side, or taken off it when already there, and is never on
 * both.
 */
export function toggledValues(included: string[], excluded: string[], value: string, negated: boolean): [string[], string[]] {
  const [side, other] = negated ? [excluded, included] : [included, excluded]
  const nextSide = side.includes(value) ? side.filter((v) => v !== value) : [...side, value]
  const nextOther = other.filter((v) => v !== value)
  return negated ? [nextOther, nextSide] : [nextSide, nextOther]
}

/**
 * The query text with its terms of one field (valid ones, and unfinished or
 * mistyped ones such as "provider:" or "provider:awz") replaced by the
 * given values, where the first of them stood, else at the end. The rest
 * stays as typed, mistakes included: for a facet click on a query being
 * typed that does not parse yet.
 */
export function setFieldTerms(input: string, field: Exclude<QueryField, 'resource'>, included: string[], excluded: string[]): string {
  const { terms, errors } = parseQuery(input)
  const spans: [number, number][] = terms.filter((t) => t.field === field).map((t) => [t.start, t.end])
  const ofField = new RegExp(`^-?${field}:`, 'i')
  for (const e of errors) {
    // An error may start at the value (an unclosed quote): from the term's start.
    let start = e.start
    while (start > 0 && !isSpace(input[start - 1])) start--
    if (ofField.test(input.slice(start))) spans.push([start, Math.max(e.end, start + 1)])
  }
  const replacement = [...included.map((v) => `${field}:${fieldValue(v)}`), ...excluded.map((v) => `-${field}:${fieldValue(v)}`)].join(' ')
  if (spans.length === 0) return [input.trim(), replacement].filter(Boolean).join(' ')
  spans.sort((x, y) => x[0] - y[0])
  const parts: string[] = []
  let at = 0
  for (const [i, [start, end]] of spans.entries()) {
    if (start < at) continue
    parts.push(input.slice(at, start).trim(), i === 0 ? replacement : '')
    at = end
  }
  parts.push(input.slice(at).trim())
  return parts.filter(Boolean).join(' ')
}

/** Normalises filter lists so two filters compare equal regardless of empty lists. */
export function cleanFilter(f: QueryFilter): QueryFilter {
  const out: QueryFilter = {}
  for (const [k, v] of Object.entries(f) as [keyof QueryFilter, unknown][]) {
    if (v === undefined || v === '' || (Array.isArray(v) && v.length === 0)) continue
    ;(out as Record<string, unknown>)[k] = v
  }
  return out
}
