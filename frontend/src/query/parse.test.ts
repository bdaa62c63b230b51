import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { CATEGORIES, PROVIDERS, RISK_LEVELS, STATUSES } from '../api/types'
import { cleanFilter, formatQuery, parseQuery, setFieldTerms, textTerms, toggleTerm, type QueryFilter } from './parse'
import { suggest, wordAt } from './suggest'
import golden from '../../../storage/testdata/text-terms.json'

describe('parseQuery', () => {
  const cases: [string, QueryFilter][] = [
    ['', {}],
    ['bucket', { text: 'bucket' }],
    ['status:failed', { statuses: ['failed'] }],
    ['status:failed status:pending', { statuses: ['failed', 'pending'] }],
    ['-provider:gcp risk:high', { notProviders: ['gcp'], riskLevels: ['high'] }],
    ['user:"Alice Smith" apply', { userIds: ['Alice Smith'], text: 'apply' }],
    ['resource:arn:aws:s3:::logs', { resourceId: 'arn:aws:s3:::logs' }],
    ['resource:arn:aws:s3*', { resourceIdPrefix: 'arn:aws:s3' }],
    ['action:apply.mutation -category:scan', { actionTypes: ['apply.mutation'], notCategories: ['scan'] }],
    ['"bucket policy" versioning', { text: '"bucket policy" versioning' }],
    ['STATUS:failed', { statuses: ['failed'] }],
    ['user:"say \\"hi\\""', { userIds: ['say "hi"'] }],
    // A backslash escapes only " and itself: a Windows path reads as written.
    ['"C:\\Users\\alice"', { text: 'C:\\Users\\alice' }],
    ['"C:\\\\Users"', { text: 'C:\\Users' }],
    ['user:"dom\\svc"', { userIds: ['dom\\svc'] }],
  ]
  for (const [input, want] of cases) {
    it(`parses ${JSON.stringify(input)}`, () => {
      const r = parseQuery(input)
      expect(r.errors).toEqual([])
      expect(r.filter).toEqual(want)
    })
  }

  const bad: [string, RegExp, number, number][] = [
    ['status:', /needs a value/, 0, 7],
    ['foo:bar', /Unknown field "foo"/, 0, 3],
    ['status:done', /Unknown status "done"/, 0, 11],
    ['risk:high user:"alice', /quote is not closed/, 15, 21],
    ['-bucket', /cannot be excluded/, 0, 7],
    ['-resource:x', /resource cannot be excluded/, 0, 11],
    ['resource:a resource:b', /Only one resource/, 11, 21],
    ['resource:a*b', /only at the end/, 0, 12],
    ['status:failed OR risk:high', /OR is not an operator here: repeat a field/, 14, 16],
    ['status:failed AND risk:high', /AND is not needed/, 14, 17],
    ['NOT status:failed', /put a minus before a field/, 0, 3],
    ['provider:gcp -provider:gcp', /provider:gcp is both filtered for and filtered out/, 13, 26],
    ['-user:bob risk:high user:bob', /user:bob is both filtered for and filtered out/, 20, 28],
  ]
  for (const [input, msg, start, end] of bad) {
    it(`reports ${JSON.stringify(input)} with its position`, () => {
      const r = parseQuery(input)
      expect(r.errors).toHaveLength(1)
      expect(r.errors[0]?.message).toMatch(msg)
      expect([r.errors[0]?.start, r.errors[0]?.end]).toEqual([start, end])
    })
  }

  it('searches a quoted or lower-case operator word as text', () => {
    expect(parseQuery('"OR" status:failed').filter).toEqual({ text: 'OR', statuses: ['failed'] })
    expect(parseQuery('or').errors).toEqual([])
    // Not words of the object behind the check.
    expect(parseQuery('valueOf toString').filter).toEqual({ text: 'valueOf toString' })
  })

  it('keeps the valid terms next to an invalid one', () => {
    const r = parseQuery('status:failed bogus:1 risk:high')
    expect(r.errors).toHaveLength(1)
    expect(r.filter).toEqual({ statuses: ['failed'], riskLevels: ['high'] })
  })
})

describe('formatQuery', () => {
  it('writes the canonical order and quotes where needed', () => {
    expect(formatQuery({ text: 'a b', statuses: ['failed'], notProviders: ['gcp'], userIds: ['Alice Smith'] })).toBe(
      '-provider:gcp user:"Alice Smith" status:failed a b',
    )
  })
  it('writes a resource prefix with a star', () => {
    expect(formatQuery({ resourceIdPrefix: 'arn:aws:s3' })).toBe('resource:arn:aws:s3*')
  })
})

describe('toggleTerm', () => {
  it('adds, flips and removes a facet term', () => {
    let q = toggleTerm('bucket', 'status', 'failed', false)
    expect(q).toBe('status:failed bucket')
    q = toggleTerm(q, 'status', 'failed', true)
    expect(q).toBe('-status:failed bucket')
    q = toggleTerm(q, 'status', 'failed', true)
    expect(q).toBe('bucket')
  })
})

// Generators for valid filters: parse(format(f)) must give f back.
const bareWord = fc.stringMatching(/^[a-z0-9_.@-]{1,12}$/).filter((w) => !w.startsWith('-'))
// Free text: words, and phrases the log matches whole.
const word = fc.oneof(bareWord, fc.tuple(bareWord, bareWord).map(([a, b]) => `"${a} ${b}"`))
const anyValue = fc.string({ minLength: 1, maxLength: 12 }).filter((s) => s.trim() === s && s.length > 0)
const pick = <T extends string>(xs: readonly T[]) => fc.uniqueArray(fc.constantFrom(...xs), { maxLength: 3 })
const filterArb: fc.Arbitrary<QueryFilter> = fc
  .record(
    {
      categories: pick(CATEGORIES),
      providers: pick(PROVIDERS),
      statuses: pick(STATUSES),
      riskLevels: pick(RISK_LEVELS),
      userIds: fc.array(anyValue, { maxLength: 2 }),
      actionTypes: fc.array(anyValue, { maxLength: 2 }),
      notCategories: pick(CATEGORIES),
      notProviders: pick(PROVIDERS),
      notStatuses: pick(STATUSES),
      notRiskLevels: pick(RISK_LEVELS),
      notUserIds: fc.array(anyValue, { maxLength: 2 }),
      notActionTypes: fc.array(anyValue, { maxLength: 2 }),
      resourceId: anyValue.filter((s) => !s.includes('*')),
      text: fc.array(word, { minLength: 1, maxLength: 3 }).map((ws) => ws.join(' ')),
    },
    { requiredKeys: [] },
  )
  // A value filtered both for and out is an error (the query matches nothing).
  .map((f) => {
    const pairs = [['categories', 'notCategories'], ['providers', 'notProviders'], ['statuses', 'notStatuses'], ['riskLevels', 'notRiskLevels'], ['userIds', 'notUserIds'], ['actionTypes', 'notActionTypes']] as const
    const out = { ...f } as Record<string, string[] | undefined>
    for (const [inc, exc] of pairs) out[exc] = out[exc]?.filter((v) => !out[inc]?.includes(v))
    return cleanFilter(out as QueryFilter)
  })

describe('parser properties', () => {
  it('never throws, and every error lies inside the input', () => {
    const alphabet = fc.constantFrom(...'ab -:"\\*status:risk:user:resource:'.split(''), 'status:', 'resource:', '"', '-', ' ')
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 40 }), fc.array(alphabet, { maxLength: 30 }).map((a) => a.join(''))), (s) => {
        const r = parseQuery(s)
        for (const e of r.errors) {
          expect(e.start).toBeGreaterThanOrEqual(0)
          expect(e.end).toBeGreaterThanOrEqual(e.start)
          expect(e.end).toBeLessThanOrEqual(s.length)
          expect(e.message.length).toBeGreaterThan(0)
        }
        for (const t of r.terms) expect(t.end).toBeLessThanOrEqual(s.length)
      }),
      { numRuns: 2000 },
    )
  })

  it('round-trips every valid filter through its text', () => {
    fc.assert(
      fc.property(filterArb, (f) => {
        const text = formatQuery(f)
        const r = parseQuery(text)
        expect(r.errors).toEqual([])
        expect(cleanFilter(r.filter)).toEqual(f)
      }),
      { numRuns: 1000 },
    )
  })

  it('formatting a parsed query is stable', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 40 }), (s) => {
        const r = parseQuery(s)
        if (r.errors.length) return
        const once = formatQuery(r.filter)
        expect(formatQuery(parseQuery(once).filter)).toBe(once)
      }),
      { numRuns: 1000 },
    )
  })
})

describe('suggest', () => {
  it('completes field names', () => {
    expect(suggest('st', 2).map((s) => s.label)).toEqual(['status:'])
    expect(suggest('risk:high -pro', 14).map((s) => s.insert)).toEqual(['-provider:'])
  })
  it('completes values from facets, most frequent first', () => {
    const facets = { userId: [{ value: 'bob@acme.io', count: 9 }, { value: 'alice@acme.io', count: 30 }] }
    const s = suggest('user:', 5, facets)
    expect(s.map((x) => x.label)).toEqual(['user:alice@acme.io', 'user:bob@acme.io'])
    expect(s[0]).toMatchObject({ start: 0, end: 5, insert: 'user:alice@acme.io ', hint: '30' })
  })
  it('completes closed vocabularies and action types without facets', () => {
    expect(suggest('status:fa', 9).map((s) => s.label)).toEqual(['status:failed'])
    expect(suggest('action:apply.m', 14).map((s) => s.label)).toContain('action:apply.mutation')
  })
  it('does not offer a value the query already filters the other way, which it would refuse', () => {
    const input = 'provider:gcp -provider:'
    const s = suggest(input, input.length, { provider: [{ value: 'gcp', count: 9 }, { value: 'aws', count: 3 }] })
    expect(s.map((x) => x.label)).not.toContain('-provider:gcp')
    expect(s.map((x) => x.label)).toContain('-provider:aws')
    for (const x of s) expect(parseQuery(input.slice(0, x.start) + x.insert + input.slice(x.end)).errors).toEqual([])
    expect(suggest('-status:failed status:f', 23).map((x) => x.label)).toEqual([])
  })
  it('finds the word at the caret', () => {
    expect(wordAt('a status:f b', 10)).toEqual({ start: 2, end: 10, word: 'status:f' })
  })
})

describe('textTerms', () => {
  // The log's own cases (storage.TextTerms reads the same file).
  it.each(golden.cases.map((c) => [c.in, c.terms] as const))('splits %j as the log does', (input, terms) => {
    expect(textTerms(input)).toEqual(terms)
  })
  it('sends a quoted phrase quoted, so the log matches it whole', () => {
    expect(parseQuery('"access denied" prod').filter.text).toBe('"access denied" prod')
    expect(textTerms(parseQuery('"access denied" prod').filter.text ?? '')).toEqual(['access denied', 'prod'])
  })
})

describe('free text the log reads as the bar shows it', () => {
  // The bar takes \" inside a quoted value, but the log's text filter has
  // no escapes (storage.TextTerms): a phrase holding a double quote must
  // not be sent as something the log splits into other terms.
  it.each([
    '"say \\"hi\\" there"',
    '"\\"quoted\\""',
    '"\\"hi"',
  ])('%s: the log searches the terms the bar shows, or the bar refuses it', (input) => {
    const r = parseQuery(input)
    if (r.errors.length) return
    const shown = r.terms.filter((t) => !t.field).map((t) => t.value)
    expect(textTerms(r.filter.text ?? '')).toEqual(shown)
  })
  it('holds for any query the bar accepts', () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom('a', 'b', ':', ' ', '"', '\\', '\u0085', '\u00a0', '\ufeff'), maxLength: 24 }), (s) => {
        const r = parseQuery(s)
        if (r.errors.length) return
        const shown = r.terms.filter((t) => !t.field).map((t) => t.value)
        expect(textTerms(r.filter.text ?? '')).toEqual(shown)
      }),
      { numRuns: 2000 },
    )
  })
})

describe('setFieldTerms', () => {
  it.each([
    ['valid terms where the first stood, the rest as typed', 'risk:high provider:aws status: provider:gcp', ['aws'], [], 'risk:high provider:aws status:'],
    ['an unfinished term of the field is replaced', 'status:failed provider:', ['gcp'], [], 'status:failed provider:gcp'],
    ['a mistyped value of the field is replaced', 'provider:awz bucket', ['aws'], [], 'provider:aws bucket'],
    ['an unclosed quote of the field is replaced', 'status: -provider:"aw', [], ['aws'], 'status: -provider:aws'],
    ['no term of the field: added at the end', 'status:done', ['azure'], [], 'status:done provider:azure'],
    ['no values left: the terms go', 'provider:aws status:', [], [], 'status:'],
    ['another field with the same ending is left alone', 'xprovider:aws provider:aws', ['gcp'], [], 'xprovider:aws provider:gcp'],
    ['quoted values keep their spaces', 'user:"Alice  Smith" provider:aws status:', ['gcp'], [], 'user:"Alice  Smith" provider:gcp status:'],
  ] as const)('%s', (_name, input, inc, exc, want) => {
    expect(setFieldTerms(input, 'provider', [...inc], [...exc])).toBe(want)
  })
})
