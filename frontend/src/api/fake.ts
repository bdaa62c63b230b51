// The in-memory implementation of the api: filtering, facets, histogram,
// cursor paging and live events over a Dataset. It backs the Vitest suites
// and the `?fake=1` / VITE_FAKE_API=1 demo mode, and mirrors what the REST
// and Wails transports promise (same DTOs, same error codes).

import type { AuditApi } from './client'
import { ApiError } from './errors'
import { exportId } from './exports'
import {
  COLUMN_FIELDS, datasetFromEvents, generateDataset, hashHex, hexToBase64, proofHashes, seqFromId,
  type ColumnField, type Dataset,
} from './dataset'
import type {
  AuditCopyDTO, ExpiringDTO, ExpiringGroupDTO, RetentionDTO, RetentionRuleDTO, SyncDestinationDTO, SyncStatusDTO,
  EventDTO, FacetsDTO, HistogramBucketDTO, HistogramDTO, QueryDTO, VerifyResultDTO,
} from './types'
import { periodRange } from '../lib/period'
import { bucketEdges, bucketIndex } from '../lib/time'
import { textTerms } from '../query/parse'

export interface FakeOptions {
  /** Generated events per organization (default: acme-prod 1,000,000 and acme-staging 25,000). */
  orgs?: { id: string; count: number }[]
  seed?: number
  /** Newest generated event time; default now. */
  end?: number
  /** Artificial latency per call, in ms. */
  latencyMs?: number
  /** Emit a generated live event every this many ms to subscribers (0: never). */
  liveEveryMs?: number
  /** Pretend the keychain is locked: every data call fails with keychain_unavailable. */
  failWith?: { code: string; message: string }
  now?: () => number
  /** Sync destinations per organization (default: none, sync is off). */
  sync?: Record<string, SyncDestinationDTO[]>
}

export interface FakeApi extends AuditApi {
  /** Appends an event to org's log now and delivers it to matching subscribers. */
  emit(org?: string): EventDTO
  dataset(org: string): Dataset
}

const FIELD_OF: Record<string, ColumnField> = {
  categories: 'category', actionTypes: 'actionType', providers: 'provider', statuses: 'status', riskLevels: 'riskLevel', userIds: 'userId',
  notCategories: 'category', notActionTypes: 'actionType', notProviders: 'provider', notStatuses: 'status', notRiskLevels: 'riskLevel', notUserIds: 'userId',
}

interface Compiled {
  lo: number
  hi: number
  /** Per column: codes allowed (undefined: any). */
  allow: Partial<Record<ColumnField, Uint8Array>>
  matchOther?: (i: number) => boolean
}

function lowerBound(ds: Dataset, t: number, hi: number): number {
  let lo = 0
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (ds.time(mid) < t) lo = mid + 1
    else hi = mid
  }
  return lo
}

function parseTime(s: string | undefined, what: string): number | undefined {
  if (!s) return undefined
  const t = Date.parse(s)
  if (Number.isNaN(t)) throw new ApiError({ code: 'invalid_query', message: `${what} is not an RFC 3339 time`, fields: [{ field: what, reason: 'not an RFC 3339 time' }] }, 400)
  return t
}

export function compileQuery(ds: Dataset, q: QueryDTO): Compiled {
  const n = ds.size()
  const since = parseTime(q.since, 'since')
  const until = parseTime(q.until, 'until')
  const lo = since === undefined ? 0 : lowerBound(ds, since, n)
  const hi = until === undefined ? n : lowerBound(ds, until, n)
  const allow: Compiled['allow'] = {}
  for (const key of Object.keys(FIELD_OF)) {
    const values = q[key as keyof QueryDTO] as string[] | undefined
    if (!values || values.length === 0) continue
    const field = FIELD_OF[key] as ColumnField
    const dict = ds.dict(field)
    const not = key.startsWith('not')
    let mask = allow[field]
    if (!mask) {
      mask = new Uint8Array(dict.length + 1).fill(1)
      allow[field] = mask
    }
    if (!not) {
      const want = new Set(values)
      for (let c = 0; c < dict.length; c++) if (!want.has(dict[c] ?? '')) mask[c] = 0
    } else {
      const drop = new Set(values)
      for (let c = 0; c < dict.length; c++) if (drop.has(dict[c] ?? '')) mask[c] = 0
    }
  }
  const checks: ((i: number) => boolean)[] = []
  if (q.resourceId) {
    const want = q.resourceId
    checks.push(ds.resourceMatcher((r) => r === want))
  }
  if (q.resourceIdPrefix) {
    const p = q.resourceIdPrefix.replace(/\*$/, '')
    checks.push(ds.resourceMatcher((r) => r.startsWith(p)))
  }
  if (q.text && q.text.trim()) {
    // Every word or quoted phrase must occur in one of the public fields.
    const words = textTerms(q.text.toLowerCase())
    const dictHits = words.map((w) => {
      const m: Partial<Record<ColumnField, Uint8Array>> = {}
      for (const f of COLUMN_FIELDS) {
        const d = ds.dict(f)
        const a = new Uint8Array(d.length + 1)
        let any = false
        for (let c = 0; c < d.length; c++) {
          if ((d[c] ?? '').toLowerCase().includes(w)) {
            a[c] = 1
            any = true
          }
        }
        if (any) m[f] = a
      }
      return m
    })
    const resourceHits = words.map((w) => ds.resourceMatcher((r) => r.toLowerCase().includes(w)))
    const planHits = words.map((w) => (w.startsWith('pln_') ? ds.planMatcher((p) => p.includes(w)) : undefined))
    checks.push((i) => {
      for (let k = 0; k < words.length; k++) {
        const w = words[k] ?? ''
        const hits = dictHits[k] ?? {}
        let ok = false
        for (const f of COLUMN_FIELDS) {
          const m = hits[f]
          if (m && m[ds.code(f, i)]) {
            ok = true
            break
          }
        }
        if (!ok) ok = resourceHits[k]?.(i) ?? false
        if (!ok) ok = planHits[k]?.(i) ?? false
        if (!ok && w.startsWith('evt_')) ok = ds.id(i).includes(w)
        if (!ok) return false
      }
      return true
    })
  }
  return { lo, hi, allow, matchOther: checks.length ? (i) => checks.every((c) => c(i)) : undefined }
}

export function matches(ds: Dataset, c: Compiled, i: number): boolean {
  for (const f of COLUMN_FIELDS) {
    const m = c.allow[f]
    if (m && !m[ds.code(f, i)]) return false
  }
  return c.matchOther ? c.matchOther(i) : true
}

/** The categories the catalogue keeps 90 days by default (storage/catalogue.json). */
const OPERATIONAL_CATEGORIES = new Set(['scan', 'finding', 'recommendation', 'user', 'workflow', 'custom'])

const NICE_BUCKETS = [60, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 172800, 604800]

export function createFakeApi(events?: EventDTO[], opts: FakeOptions = {}): FakeApi {
  const now = opts.now ?? (() => Date.now())
  const orgSpecs = events
    ? [...new Set(events.map((e) => e.organizationId))].map((id) => ({ id, count: 0 }))
    : (opts.orgs ?? [{ id: 'acme-prod', count: 1_000_000 }, { id: 'acme-staging', count: 25_000 }])
  const datasets = new Map<string, Dataset>()
  const subscribers = new Set<{ org: string; q: QueryDTO; cb: (e: EventDTO) => void }>()
  const lastVerified = new Map<string, VerifyResultDTO>()
  const copies = new Set<string>() // folders copyForAudit made
  type FakePolicy = { version: number; rules: RetentionRuleDTO[]; effectiveFrom?: string; changedAt?: string }
  // As the app: a version that keeps something for less time takes effect a week after the change.
  const policies = new Map<string, { inForce: FakePolicy; pending?: FakePolicy }>()
  const kept = (rules: RetentionRuleDTO[], cls: string, cat?: string): number => {
    const r = rules.find((x) => x.class === cls && (x.category ?? '') === (cat ?? '')) ?? rules.find((x) => x.class === cls && !x.category)
    return !r || r.indefinite ? Infinity : (r.days ?? Infinity)
  }
  const shortens = (next: RetentionRuleDTO[], cur: RetentionRuleDTO[]) =>
    next.some((r) => kept(next, r.class, r.category) < kept(cur, r.class, r.category)) ||
    cur.some((r) => kept(next, r.class, r.category) < kept(cur, r.class, r.category))
  const settle = (org: string) => {
    const p = policies.get(org)
    if (p?.pending && Date.parse(p.pending.effectiveFrom!) <= now()) policies.set(org, { inForce: p.pending })
    return policies.get(org)
  }
  const defaultRules = (): RetentionRuleDTO[] => [
    { class: 'operational', days: 90, indefinite: false, name: 'operational 90 days (v0)' },
    { class: 'material', indefinite: true, name: 'material indefinite (v0)' },
  ]
  function retentionOf(org: string): Promise<RetentionDTO> {
    const s = settle(org)
    const p = s?.inForce ?? { version: 0, rules: defaultRules() }
    const pending = s?.pending ? [{ version: s.pending.version, changedAt: s.pending.changedAt!, effectiveFrom: s.pending.effectiveFrom!, rules: s.pending.rules.map((r) => ({ ...r })) }] : []
    return api.expiringEvents(org, 7).then((expiring) => ({
      org, version: p.version, effectiveFrom: p.effectiveFrom, rules: p.rules.map((r) => ({ ...r })), pending, expiring, pruned: [], prunedRuns: 0, prunedEvents: 0,
    }))
  }
  const syncs = new Map(Object.entries(opts.sync ?? {}).map(([o, d]) => [o, d.map((x) => ({ ...x }))]))

  function dataset(org: string): Dataset {
    let ds = datasets.get(org)
    if (!ds) {
      const spec = orgSpecs.find((o) => o.id === org)
      if (!spec) throw new ApiError({ code: 'not_found', message: `organization ${org} has no log on this profile` }, 404)
      ds = events
        ? datasetFromEvents(org, events)
        : generateDataset({ org, count: spec.count, seed: (opts.seed ?? 42) + orgSpecs.indexOf(spec), end: opts.end })
      datasets.set(org, ds)
    }
    return ds
  }

  async function run<T>(f: () => T | Promise<T>, failable = true): Promise<T> {
    if (opts.latencyMs) await new Promise((r) => setTimeout(r, opts.latencyMs))
    else await Promise.resolve()
    if (failable && opts.failWith) throw new ApiError(opts.failWith, 503)
    return f()
  }

  // Whole-range scans (facets, histogram) run in slices and, in the browser
  // demo, yield between them: a server does this work off the UI thread, so
  // the demo should not freeze rendering while it counts a million events.
  async function scan(lo: number, hi: number, body: (i: number) => void): Promise<void> {
    const SLICE = 1 << 15
    for (let start = lo; start < hi; start += SLICE) {
      const end = Math.min(hi, start + SLICE)
      for (let i = start; i < end; i++) body(i)
      if (opts.latencyMs && end < hi) await new Promise((r) => setTimeout(r, 0))
    }
  }

  function findIndex(ds: Dataset, id: string): number {
    const seq = seqFromId(id)
    if (seq !== undefined && seq >= 1 && seq <= ds.size() && ds.id(seq - 1) === id) return seq - 1
    for (let i = 0; i < ds.size(); i++) if (ds.id(i) === id) return i
    throw new ApiError({ code: 'not_found', message: `event ${id} is not in ${ds.org}` }, 404)
  }

  const api: FakeApi = {
    transport: 'fake',
    info: () => run(() => ({ name: 'Axiom Audit', version: 'demo', profile: 'demo', dataDir: '(in-memory demo log)' }), false),
    ready: () => Promise.resolve(),
    organizations: () =>
      run(() => orgSpecs.map((o) => {
        const ds = dataset(o.id)
        const n = ds.size()
        return { id: o.id, size: n, lastRecordedAt: n ? new Date(ds.time(n - 1)).toISOString() : undefined }
      }), false),
    listEvents: (q) =>
      run(() => {
        const ds = dataset(q.org)
        const c = compileQuery(ds, q)
        const limit = Math.min(Math.max(q.limit ?? 100, 1), 1000)
        const oldest = q.order === 'oldest'
        let pos: number
        if (q.cursor) {
          const m = /^c(\d+)$/.exec(q.cursor)
          if (!m) throw new ApiError({ code: 'invalid_query', message: 'the cursor is not valid', fields: [{ field: 'cursor', reason: 'not a cursor this server issued' }] }, 400)
          pos = Number(m[1])
        } else pos = oldest ? c.lo : c.hi - 1
        const out: EventDTO[] = []
        if (oldest) {
          for (; pos < c.hi && out.length < limit; pos++) if (matches(ds, c, pos)) out.push(ds.event(pos))
          return { events: out, nextCursor: pos < c.hi ? `c${pos}` : undefined }
        }
        for (pos = Math.min(pos, c.hi - 1); pos >= c.lo && out.length < limit; pos--) if (matches(ds, c, pos)) out.push(ds.event(pos))
        return { events: out, nextCursor: pos >= c.lo ? `c${pos}` : undefined }
      }),
    getEvent: (org, id) => run(() => { const ds = dataset(org); return ds.event(findIndex(ds, id)) }),
    eventProof: (org, id) =>
      run(() => {
        const ds = dataset(org)
        const i = findIndex(ds, id)
        return { leafIndex: i, treeSize: ds.size(), leafHash: hexToBase64(ds.event(i).leafHash), hashes: proofHashes(i, ds.size()), verified: true }
      }),
    facets: (q) =>
      run(async () => {
        const ds = dataset(q.org)
        const c = compileQuery(ds, q)
        const fields: ColumnField[] = ['category', 'provider', 'status', 'riskLevel', 'userId']
        const counts = fields.map((f) => new Float64Array(ds.dict(f).length + 64))
        // As the store's FacetChoices: a field the query filters is counted
        // without the query's own conditions on it, so an event that fails
        // only that field's condition still counts for that field.
        await scan(c.lo, c.hi, (i) => {
          let failed = -1
          for (const f of COLUMN_FIELDS) {
            const m = c.allow[f]
            if (!m || m[ds.code(f, i)]) continue
            const k = fields.indexOf(f)
            if (k < 0 || failed >= 0) return // actionType is not a facet; two fields failed
            failed = k
          }
          if (c.matchOther && !c.matchOther(i)) return
          for (let k = 0; k < fields.length; k++) {
            if (failed >= 0 && k !== failed) continue
            const arr = counts[k]
            if (arr) arr[ds.code(fields[k] as ColumnField, i)]! += 1
          }
        })
        const out: FacetsDTO = {}
        fields.forEach((f, k) => {
          const d = ds.dict(f)
          out[f] = d
            .map((value, code) => ({ value, count: counts[k]?.[code] ?? 0 }))
            .filter((x) => x.count > 0)
            .sort((a, b) => b.count - a.count || a.value.localeCompare(b.value))
        })
        return out
      }),
    histogram: (q) =>
      run(async (): Promise<HistogramDTO> => {
        const ds = dataset(q.org)
        const c = compileQuery(ds, q)
        const n = ds.size()
        const from = parseTime(q.since, 'since') ?? (n ? ds.time(0) : now() - 86400_000)
        const to = parseTime(q.until, 'until') ?? Math.max(now(), n ? ds.time(n - 1) + 1 : 0)
        const want = (to - from) / 1000 / 90
        const bucketSeconds = NICE_BUCKETS.find((b) => b >= want) ?? 604800
        // As the server does, on the clock of the zone asked for: UTC's, or
        // (any other) this browser's own, which is the one the app names.
        const edges = bucketEdges(from, Math.max(to, from + 1), bucketSeconds * 1000, !q.timeZone || q.timeZone === 'UTC')
        const buckets: HistogramBucketDTO[] = edges.slice(1).map((end, k) => ({
          start: new Date(edges[k]!).toISOString(), end: new Date(end).toISOString(), count: 0, byRisk: {}, byStatus: {},
        }))
        const riskDict = ds.dict('riskLevel')
        const statusDict = ds.dict('status')
        await scan(c.lo, c.hi, (i) => {
          if (!matches(ds, c, i)) return
          const b = buckets[bucketIndex(edges, ds.time(i))]
          if (!b) return
          b.count++
          const r = riskDict[ds.code('riskLevel', i)] ?? 'low'
          b.byRisk[r] = (b.byRisk[r] ?? 0) + 1
          const s = statusDict[ds.code('status', i)] ?? 'applied'
          b.byStatus![s] = (b.byStatus![s] ?? 0) + 1
        })
        return { bucketSeconds, buckets }
      }),
    overview: async (q, signal) => {
      const [facets, histogram] = await Promise.all([api.facets(q, signal), api.histogram(q, signal)])
      return { facets, histogram }
    },
    latestCheckpoint: (org) =>
      run(() => {
        const ds = dataset(org)
        const n = ds.size()
        const root = hexToBase64(hashHex(n, 99))
        const time = new Date(n ? ds.time(n - 1) : now()).toISOString()
        return {
          origin: `axiom-audit/${org}`, size: n, root, time,
          note: `axiom-audit/${org}\n${n}\n${root}\n\n— axiom-audit ${hexToBase64(hashHex(n, 98)).slice(0, 40)}\n`,
          publicKey: `axiom-audit+${hashHex(1, 1).slice(0, 8)}+${hexToBase64(hashHex(2, 2)).slice(0, 43)}`,
        }
      }),
    verify: async (org, onProgress) => {
      const ds = await run(() => dataset(org))
      const startedAt = new Date(now()).toISOString()
      const total = ds.size()
      for (let k = 1; k <= 10; k++) {
        await new Promise((r) => setTimeout(r, opts.latencyMs ? 120 : 0))
        onProgress?.({ org, done: Math.round((total * k) / 10), total })
      }
      const res: VerifyResultDTO = { org, events: total, problems: [], clean: true, startedAt, finishedAt: new Date(now()).toISOString(), keyless: false }
      lastVerified.set(org, res)
      return res
    },
    canPickFolder: false,
    chooseExportFolder: () => Promise.resolve(undefined),
    startExport: (req, onProgress) => {
      // Pretends to write: ten progress steps over the matching events. A
      // folder that is not absolute, or under /read-only, fails as the app would.
      const id = exportId()
      let cancelled = false
      const result = run(async () => {
        const ds = dataset(req.query.org)
        const c = compileQuery(ds, req.query)
        if (!/^(\/|~|[A-Za-z]:\\)/.test(req.outDir.trim())) {
          throw new ApiError({ code: 'invalid_request', message: `outDir: "${req.outDir}" is not an absolute path`, fields: [{ field: 'outDir', reason: 'is not an absolute path' }] }, 400)
        }
        if (req.outDir.startsWith('/read-only')) {
          throw new ApiError({ code: 'folder_not_writable', message: `cannot write in ${req.outDir}: permission denied` }, 403)
        }
        let total = 0
        let first = 0
        let last = 0
        await scan(c.lo, c.hi, (i) => {
          if (!matches(ds, c, i)) return
          if (!total) first = i + 1
          last = i + 1
          total++
        })
        for (let k = 1; k <= 10; k++) {
          await new Promise((r) => setTimeout(r, opts.latencyMs ? 100 : 0))
          if (cancelled) throw new ApiError({ code: 'cancelled', message: 'export cancelled: context canceled' }, 409)
          const events = Math.round((total * k) / 10)
          onProgress?.({ events, total, bytes: events * 1800, etaSeconds: Math.ceil((10 - k) / 10) })
        }
        const stamp = new Date(now()).toISOString().replace(/[-:]/g, '').replace(/\.\d+/, '')
        const dir = `${req.outDir.replace(/\/+$/, '')}/axiom-audit-export-${req.query.org}-${stamp}`
        const events = req.format === 'csv' ? 'events.csv' : req.format === 'json' ? 'events.json' : req.format === 'cef' ? 'events.cef' : 'events.jsonl'
        const files = [events, 'proofs.jsonl', 'pruned.json', 'checkpoint.txt', 'public-key.txt', 'manifest.json', 'manifest.sig'].map((name, i) => ({ name, bytes: i < 2 ? total * 900 : 400, sha256: hashHex(i + 1, 7) }))
        return { dir, format: req.format, count: total, firstSeq: first, lastSeq: last, bytes: files.reduce((n, f) => n + f.bytes, 0), includeSensitive: req.includeSensitive, files, pruned: { exact: true, count: 0, rules: [] } }
      })
      return {
        id,
        result,
        cancel: async () => {
          cancelled = true
        },
      }
    },
    writeReport: (req, signal) =>
      run(async () => {
        const cancelled = () => new ApiError({ code: 'cancelled', message: 'the report was cancelled; nothing was written' }, 409)
        // Pretends to verify and write: the period and folder are checked
        // as the app checks them; /read-only fails as a folder it may not write in.
        const range = periodRange(req.period)
        if (!range) {
          throw new ApiError({ code: 'invalid_request', message: `period: invalid period: "${req.period}" (use 2026-Q3, 2026-09, or FROM..TO)`, fields: [{ field: 'period', reason: 'use 2026-Q3, 2026-09, or FROM..TO' }] }, 400)
        }
        if (!/^(\/|~|[A-Za-z]:\\)/.test(req.outDir.trim())) {
          throw new ApiError({ code: 'invalid_request', message: `outDir: "${req.outDir}" is not an absolute path`, fields: [{ field: 'outDir', reason: 'is not an absolute path' }] }, 400)
        }
        if (req.outDir.startsWith('/read-only')) {
          throw new ApiError({ code: 'folder_not_writable', message: `cannot write in ${req.outDir}: permission denied` }, 403)
        }
        const ds = dataset(req.org)
        const c = compileQuery(ds, { org: req.org, since: new Date(range.since).toISOString(), until: new Date(range.until).toISOString() })
        let events = 0
        await scan(c.lo, c.hi, (i) => {
          if (matches(ds, c, i)) events++
        })
        if (signal?.aborted) throw cancelled()
        await new Promise((r) => setTimeout(r, opts.latencyMs ? 600 : 0))
        if (signal?.aborted) throw cancelled()
        const stamp = new Date(now()).toISOString().replace(/[-:]/g, '').replace(/\.\d+/, '')
        const slug = req.period.trim().replace(/\.\./g, '_').replace(/[:+ ]/g, '')
        const dir = `${req.outDir.trim().replace(/\/+$/, '')}/axiom-audit-report-${req.org}-${slug}-${stamp}`
        const evidenceEvents = Math.round(events / 3)
        const files = ['evidence/checkpoint.txt', 'evidence/events.jsonl', 'evidence/manifest.json', 'evidence/manifest.sig', 'evidence/proofs.jsonl', 'evidence/pruned.json', 'evidence/public-key.txt', 'report.html', 'report.json']
          .map((name, i) => ({ name, bytes: name.includes('events') || name.includes('proofs') ? evidenceEvents * 900 : 2000 + i * 700, sha256: hashHex(i + 1, 11) }))
        return {
          dir, pdf: false, note: 'report.pdf was not produced: Chromium is not installed. Open report.html in a browser and print it to PDF.',
          integrity: 'verified', events, evidenceEvents, files, bytes: files.reduce((n, f) => n + f.bytes, 0), sha256: hashHex(99, 11),
        }
      }),
    retention: (org) => run(() => retentionOf(org)),
    canSetRetention: true,
    setRetention: (req) =>
      run((): Promise<RetentionDTO> => {
        // The app's rules: 1 to 2557 days (7 years), or indefinite; not both.
        if (req.indefinite ? req.days !== undefined && req.days !== 0 : !Number.isInteger(req.days) || (req.days ?? 0) < 1 || (req.days ?? 0) > 2557) {
          throw new ApiError({ code: 'invalid_request', message: 'invalid retention policy: days: give 1 to 2557 days (7 years), or indefinite', fields: [{ field: 'days', reason: '1 to 2557 days, or indefinite' }] }, 400)
        }
        // The log's own events (category audit) stay indefinite under every policy.
        if (req.category === 'audit' && !req.indefinite) {
          const reason = "the log's own events (category audit) are kept indefinitely; their window cannot be finite"
          throw new ApiError({ code: 'invalid_request', message: `invalid retention policy: category: ${reason}`, fields: [{ field: 'category', reason }] }, 400)
        }
        const s = settle(req.org)
        const cur = s?.inForce ?? { version: 0, rules: defaultRules() }
        const p = s?.pending ?? cur
        const rule: RetentionRuleDTO = { class: req.class, category: req.category || undefined, days: req.indefinite ? undefined : req.days, indefinite: !!req.indefinite, name: '' }
        const rules = p.rules.filter((r) => !(r.class === rule.class && (r.category ?? '') === (rule.category ?? '')) && r.category !== 'audit')
        rules.push(rule)
        const material = rules.find((r) => r.class === 'material' && !r.category)
        if (material && !material.indefinite && rule.category !== 'audit') rules.push({ class: 'material', category: 'audit', indefinite: true, name: '' })
        const version = p.version + 1
        for (const r of rules) r.name = `${r.category ? 'category ' + r.category : r.class} ${r.indefinite ? 'indefinite' : `${r.days} days`} (v${version})`
        const changedAt = new Date(now()).toISOString()
        const next: FakePolicy = { version, rules, changedAt, effectiveFrom: changedAt }
        if (shortens(rules, cur.rules) && !req.atOnce) {
          next.effectiveFrom = new Date(now() + 7 * 86400_000).toISOString()
          policies.set(req.org, { inForce: cur, pending: next })
        } else {
          policies.set(req.org, { inForce: next })
        }
        return retentionOf(req.org)
      }),
    expiringEvents: (org, days) =>
      run((): ExpiringDTO => {
        // The default policy: operational categories 90 days, material ones indefinitely.
        const ds = dataset(org)
        const horizon = now() + days * 86_400_000
        const until = horizon - 90 * 86_400_000
        const groups = new Map<string, ExpiringGroupDTO>()
        const cats = ds.dict('category')
        for (let i = 0; i < ds.size() && ds.time(i) < until; i++) {
          const category = cats[ds.code('category', i)] ?? ''
          if (!OPERATIONAL_CATEGORIES.has(category)) continue
          const at = new Date(ds.time(i)).toISOString()
          const g = groups.get(category) ?? { category, class: 'operational' as const, window: { days: 90 }, until: new Date(until).toISOString(), count: 0, oldest: at, newest: at }
          g.count++
          g.newest = at
          groups.set(category, g)
        }
        const list = [...groups.values()].sort((a, b) => a.category.localeCompare(b.category))
        const count = list.reduce((n, g) => n + g.count, 0)
        const oldest = list.map((g) => g.oldest).sort()[0]
        const newest = list.map((g) => g.newest).sort().at(-1)
        return { org, horizon: new Date(horizon).toISOString(), count, oldest, newest, groups: list }
      }),
    canCopyForAudit: true,
    copyForAudit: (dir, orgs) =>
      run((): AuditCopyDTO => {
        // A relative folder, one that exists (made before here) and one
        // under /read-only fail as the app would.
        const d = dir.trim().replace(/\/+$/, '')
        if (!/^(\/|[A-Za-z]:\\)/.test(d)) {
          throw new ApiError({ code: 'invalid_request', message: `dir: is required, as an absolute path: a new directory for the copy`, fields: [{ field: 'dir', reason: 'is required, as an absolute path: a new directory for the copy' }] }, 400)
        }
        if (copies.has(d)) {
          throw new ApiError({ code: 'invalid_request', message: `dir: ${d} exists: name a new directory (a copy is never written into another)`, fields: [{ field: 'dir', reason: `${d} exists: name a new directory (a copy is never written into another)` }] }, 400)
        }
        if (d.startsWith('/read-only')) {
          throw new ApiError({ code: 'folder_not_writable', message: `cannot make the copy's folder ${d}: mkdir ${d}: permission denied` }, 403)
        }
        copies.add(d)
        const sizes = orgSpecs.filter((o) => !orgs || orgs.includes(o.id)).map((o) => dataset(o.id).size())
        return { dir: d, readKeyFile: d + (d.includes('\\') && !d.includes('/') ? '\\' : '/') + 'read-key', organizations: sizes.filter((n) => n > 0).length, events: sizes.reduce((a, b) => a + b, 0) }
      }),
    syncStatus: (org) => run((): SyncStatusDTO => ({ org, destinations: (syncs.get(org) ?? []).map((d) => ({ ...d })) })),
    syncRunNow: (org) =>
      run((): SyncStatusDTO => {
        // Like the app: delivers to every enabled destination but one stopped by an integrity alert.
        const ds = syncs.get(org) ?? []
        if (!ds.some((d) => d.enabled)) throw new ApiError({ code: 'conflict', message: `sync is off for organization "${org}"` }, 409)
        const errors: string[] = []
        for (const d of ds) {
          if (!d.enabled) continue
          if (d.state === 'stopped' && d.stopped?.startsWith('integrity alert')) {
            errors.push(`${d.kind}: stopped by an integrity alert: ${d.stopped}`)
            continue
          }
          Object.assign(d, { state: 'healthy', stopped: undefined, failures: 0, lagEvents: 0, lagSeconds: 0, deliveredSeq: d.headSeq, lastSuccess: new Date(now()).toISOString() })
        }
        return { org, destinations: ds.map((d) => ({ ...d })), ...(errors.length ? { error: errors.join('\n') } : {}) }
      }),
    subscribe: (q, cb) => {
      const sub = { org: q.org, q: { ...q, since: undefined, cursor: undefined }, cb }
      subscribers.add(sub)
      return () => {
        subscribers.delete(sub)
      }
    },
    emit: (org) => {
      const o = org ?? orgSpecs[0]?.id ?? 'acme-prod'
      const ds = dataset(o)
      const e = ds.append(now())
      const i = ds.size() - 1
      for (const s of subscribers) {
        if (s.org !== o) continue
        const c = compileQuery(ds, s.q)
        if (i >= c.lo && i < c.hi && matches(ds, c, i)) s.cb(e)
      }
      return e
    },
    dataset,
  }

  if (opts.liveEveryMs) {
    setInterval(() => {
      if (subscribers.size) api.emit()
    }, opts.liveEveryMs)
  }
  return api
}
