// An event log held as columns, so the fake API can filter, count and page
// over a million events without a million objects: each event is a handful
// of small integers, and an EventDTO is built only when a page needs it.
// The generated log is deterministic for a seed, so tests and screenshots
// see the same data every run.

import { ACTION_TYPES } from './catalogue'
import type { EventDTO } from './types'

/** The dictionary-encoded fields of an event. */
export const COLUMN_FIELDS = ['category', 'actionType', 'provider', 'status', 'riskLevel', 'userId'] as const
export type ColumnField = (typeof COLUMN_FIELDS)[number]

export interface Dataset {
  readonly org: string
  /** Number of events; indexes are 0..size-1 in seq order (seq = index+1). */
  size(): number
  /** Milliseconds since the epoch of event i; ascending in i. */
  time(i: number): number
  /** Dictionary index of a field of event i. */
  code(field: ColumnField, i: number): number
  /** The dictionary of a field (grows when events are appended). */
  dict(field: ColumnField): readonly string[]
  resources(i: number): string[]
  /** A test for "some resource of event i satisfies pred", precomputed where the data allows. */
  resourceMatcher(pred: (r: string) => boolean): (i: number) => boolean
  planId(i: number): string | undefined
  /** A test for "event i belongs to a plan whose id satisfies pred". */
  planMatcher(pred: (planId: string) => boolean): (i: number) => boolean
  /** The id of event i, without building the event. */
  id(i: number): string
  event(i: number): EventDTO
  /** Appends an event stamped `at` and returns it. */
  append(at: number, rnd?: () => number): EventDTO
}

// ---------------------------------------------------------------------------
// Small deterministic helpers.

export function mulberry32(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

function hashHex(n: number, salt: number): string {
  let out = ''
  let x = (n * 2654435761 + salt * 40503) >>> 0
  for (let k = 0; k < 8; k++) {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    x >>>= 0
    out += x.toString(16).padStart(8, '0')
  }
  return out
}

function hexToBase64(hex: string): string {
  let bin = ''
  for (let i = 0; i < hex.length; i += 2) bin += String.fromCharCode(parseInt(hex.slice(i, i + 2), 16))
  return btoa(bin)
}

export function eventId(org: string, seq: number): string {
  return `evt_${org.slice(0, 4)}_${seq.toString(36).padStart(6, '0')}`
}

export function seqFromId(id: string): number | undefined {
  const m = /^evt_[^_]*_([0-9a-z]+)$/.exec(id)
  return m ? parseInt(m[1] ?? '', 36) : undefined
}

// ---------------------------------------------------------------------------
// Growable typed columns.

class Column {
  data: Uint16Array
  constructor(cap: number) {
    this.data = new Uint16Array(cap)
  }
  ensure(n: number) {
    if (n <= this.data.length) return
    const next = new Uint16Array(Math.max(n, this.data.length * 2))
    next.set(this.data)
    this.data = next
  }
}

class Dict {
  values: string[] = []
  private index = new Map<string, number>()
  code(v: string): number {
    let c = this.index.get(v)
    if (c === undefined) {
      c = this.values.length
      this.values.push(v)
      this.index.set(v, c)
    }
    return c
  }
}

// ---------------------------------------------------------------------------
// The generated log.

const USERS = [
  'agent:axiom', 'agent:axiom', 'agent:axiom', 'alice@acme.io', 'bob@acme.io', 'carol@acme.io',
  'dmitri@acme.io', 'erin@acme.io', 'farah@acme.io', 'system', 'ci:github-actions', 'grace@acme.io',
]
const REGIONS = { aws: ['us-east-1', 'eu-west-1', 'ap-southeast-2'], azure: ['westeurope', 'eastus'], gcp: ['us-central1', 'europe-west4'] }

// Weights make the mix look like a real agent: heartbeats, scans and
// findings dominate; mutations, approvals and rollbacks are rarer.
function actionWeight(name: string): number {
  if (name === 'audit.checkpoint_heartbeat') return 30
  if (name.startsWith('scan.')) return name === 'scan.completed' || name === 'scan.started' ? 40 : 5
  if (name === 'finding.created') return 60
  if (name.startsWith('recommendation.')) return 20
  if (name === 'plan.generated') return 10
  if (name.startsWith('approval.')) return name === 'approval.approved' ? 9 : 2
  if (name === 'apply.mutation') return 16
  if (name.startsWith('rollback.')) return 1.5
  if (name.startsWith('user.')) return name === 'user.signed_in' ? 8 : 2
  if (name.startsWith('workflow.')) return 6
  if (name.startsWith('releaseops.')) return 3
  if (name.startsWith('connection.')) return name === 'connection.role_assumed' ? 12 : 0.6
  if (name === 'audit.integrity_alert') return 0.05
  return 0.8
}

function resourceName(provider: string, k: number): string {
  const n = k % 97
  switch (provider) {
    case 'aws':
      switch (k % 4) {
        case 0: return `arn:aws:s3:::acme-${['logs', 'backups', 'assets', 'datalake'][k % 4 === 0 ? (k >> 2) % 4 : 0]}-${n}`
        case 1: return `arn:aws:ec2:${REGIONS.aws[k % 3]}:123456789012:instance/i-0${hashHex(k, 1).slice(0, 16)}`
        case 2: return `arn:aws:rds:${REGIONS.aws[k % 3]}:123456789012:db:orders-${n}`
        default: return `arn:aws:iam::123456789012:role/deploy-${n}`
      }
    case 'azure':
      return `/subscriptions/7f1c0d2e/resourceGroups/rg-${k % 2 ? 'prod' : 'shared'}/providers/Microsoft.Compute/virtualMachines/vm-${n}`
    case 'gcp':
      return `//compute.googleapis.com/projects/acme-prod/zones/${REGIONS.gcp[k % 2]}-a/instances/web-${n}`
    default:
      return `axiom:org/${k % 3 ? 'settings' : 'log'}`
  }
}

const RESOURCES_PER_PROVIDER = 600
const PLAN_BLOCK = 48

export interface GenerateOptions {
  org: string
  count: number
  seed?: number
  /** The newest event's time in ms; default: now. */
  end?: number
  /** How far back the oldest event is, in ms; default 90 days. */
  spanMs?: number
}

const BLOCK_BITS = 15
const BLOCK = 1 << BLOCK_BITS

/** A uniform number in [0, 1) from an integer, without state. */
function hash01(n: number, salt: number): number {
  let x = (Math.imul(n ^ 0x27d4eb2d, 0x165667b1) + Math.imul(salt, 0x9e3779b1)) >>> 0
  x ^= x >>> 15
  x = Math.imul(x, 0x2c1b3c6d) >>> 0
  x ^= x >>> 12
  x = Math.imul(x, 0x297a2d39) >>> 0
  x ^= x >>> 15
  return (x >>> 0) / 4294967296
}

/**
 * Generates a log of `count` events lazily: an event's time is a closed-form
 * function of its index (a per-hour activity curve, inverted), and its other
 * fields are filled in blocks of 32,768 the first time a block is touched. So
 * opening the newest page of a million-event log costs one block, not a
 * million events.
 */
export function generateDataset(opts: GenerateOptions): Dataset {
  const { org, count } = opts
  const seed = opts.seed ?? 42
  const end = opts.end ?? Date.now()
  const span = opts.spanMs ?? 90 * 86400_000
  const start = end - span

  const dicts: Record<ColumnField, Dict> = {
    category: new Dict(), actionType: new Dict(), provider: new Dict(), status: new Dict(), riskLevel: new Dict(), userId: new Dict(),
  }
  const cap = count + 64
  const cols: Record<ColumnField, Column> = {
    category: new Column(cap), actionType: new Column(cap), provider: new Column(cap),
    status: new Column(cap), riskLevel: new Column(cap), userId: new Column(cap),
  }
  let times = new Float64Array(cap)
  let res = new Uint32Array(cap)
  const ready = new Uint8Array((count >> BLOCK_BITS) + 1)
  let size = count

  // Busy on weekday working hours (UTC), quiet at night and at weekends, with the odd burst.
  const HOUR = 3600_000
  const hours = Math.max(1, Math.ceil(span / HOUR))
  const weight = new Float64Array(hours)
  const cum = new Float64Array(hours + 1)
  for (let k = 0; k < hours; k++) {
    const abs = Math.floor((start + k * HOUR) / HOUR)
    const hod = abs % 24
    const dow = (Math.floor(abs / 24) + 4) % 7 // 1970-01-01 was a Thursday
    let w = hod >= 8 && hod < 19 ? 3 : hod >= 6 && hod < 22 ? 1.6 : 0.7
    if (dow === 0 || dow === 6) w *= 0.35
    if (hash01(abs, seed) < 0.025) w *= 4
    weight[k] = w
    cum[k + 1] = (cum[k] ?? 0) + w
  }
  const total = cum[hours] ?? 1

  function timeOf(i: number): number {
    if (i >= count) return times[i] ?? end
    if (i === count - 1) return end
    const u = ((i + hash01(i, seed ^ 0x5bd1e995)) / count) * total
    let lo = 0
    let hi = hours
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if ((cum[mid + 1] ?? total) <= u) lo = mid + 1
      else hi = mid
    }
    const k = Math.min(lo, hours - 1)
    return Math.floor(start + (k + (u - (cum[k] ?? 0)) / (weight[k] || 1)) * HOUR)
  }

  // Fixed dictionary order keeps codes stable.
  for (const p of ['aws', 'azure', 'gcp', 'system']) dicts.provider.code(p)
  for (const s of ['applied', 'pending', 'failed', 'rolled_back']) dicts.status.code(s)
  for (const r of ['low', 'medium', 'high']) dicts.riskLevel.code(r)
  const actions = ACTION_TYPES.filter((a) => actionWeight(a) > 0)
  const acum: number[] = []
  let atotal = 0
  for (const a of actions) acum.push((atotal += actionWeight(a)))
  const actionCodes = actions.map((a) => dicts.actionType.code(a))
  const categoryCodes = actions.map((a) => dicts.category.code(a.slice(0, a.indexOf('.'))))
  const userCodes = USERS.map((u) => dicts.userId.code(u))

  function pickAction(r: number): number {
    const x = r * atotal
    let lo = 0
    let hi = acum.length - 1
    while (lo < hi) {
      const mid = (lo + hi) >> 1
      if ((acum[mid] ?? 0) < x) lo = mid + 1
      else hi = mid
    }
    return lo
  }

  function fill(i: number, r: () => number) {
    const ai = pickAction(r())
    const action = actions[ai] ?? 'audit.app_started'
    const cat = action.slice(0, action.indexOf('.'))
    cols.actionType.data[i] = actionCodes[ai] ?? 0
    cols.category.data[i] = categoryCodes[ai] ?? 0
    const systemish = cat === 'audit' || cat === 'user'
    const pr = r()
    const provider = systemish ? 3 : pr < 0.55 ? 0 : pr < 0.78 ? 1 : pr < 0.97 ? 2 : 3
    cols.provider.data[i] = provider
    // Events of one plan block act on the same resource so "related" finds them.
    const block = Math.floor(i / PLAN_BLOCK)
    const planish = cat === 'plan' || cat === 'approval' || cat === 'apply' || cat === 'rollback' || cat === 'terraform_export'
    const k = planish ? (block * 7919) % RESOURCES_PER_PROVIDER : Math.floor(r() * RESOURCES_PER_PROVIDER)
    res[i] = provider * RESOURCES_PER_PROVIDER + k
    let status = 0
    const sr = r()
    if (action.endsWith('failed') || action === 'releaseops.blocked' || action === 'audit.sync_failed') status = 2
    else if (cat === 'apply') status = sr < 0.8 ? 0 : sr < 0.93 ? 2 : sr < 0.97 ? 3 : 1
    else if (cat === 'plan' || cat === 'recommendation') status = sr < 0.6 ? 0 : 1
    else if (cat === 'rollback') status = 3
    else status = sr < 0.985 ? 0 : 2
    cols.status.data[i] = status
    let risk = 0
    const rr = r()
    if (cat === 'apply' || cat === 'rollback' || action === 'audit.integrity_alert' || action.startsWith('audit.break_glass')) risk = rr < 0.45 ? 2 : 1
    else if (cat === 'finding' || cat === 'approval' || cat === 'plan' || cat === 'releaseops') risk = rr < 0.12 ? 2 : rr < 0.45 ? 1 : 0
    else risk = rr < 0.04 ? 1 : 0
    cols.riskLevel.data[i] = risk
    const ur = r()
    cols.userId.data[i] = cat === 'user' || cat === 'approval' ? (userCodes[3 + Math.floor(ur * 6)] ?? 0)
      : cat === 'audit' ? (userCodes[9] ?? 0) : (userCodes[Math.floor(ur * USERS.length)] ?? 0)
  }

  function ensure(i: number): void {
    if (i >= count) return
    const b = i >> BLOCK_BITS
    if (ready[b]) return
    const r = mulberry32(seed * 1000003 + b)
    const hi = Math.min(count, (b + 1) * BLOCK)
    for (let j = b * BLOCK; j < hi; j++) {
      fill(j, r)
      times[j] = timeOf(j)
    }
    ready[b] = 1
  }

  const liveRnd = mulberry32(seed ^ 0x9e3779b9)
  const ds: Dataset = {
    org,
    size: () => size,
    time: (i) => (i >= count || ready[i >> BLOCK_BITS] ? (times[i] ?? 0) : timeOf(i)),
    code: (f, i) => {
      ensure(i)
      return cols[f].data[i] ?? 0
    },
    dict: (f) => dicts[f].values,
    resources: (i) => {
      ensure(i)
      const r = res[i] ?? 0
      const p = Math.floor(r / RESOURCES_PER_PROVIDER)
      return [resourceName(['aws', 'azure', 'gcp', 'system'][p] ?? 'system', r % RESOURCES_PER_PROVIDER)]
    },
    planId: (i) => {
      ensure(i)
      const cat = dicts.category.values[cols.category.data[i] ?? 0]
      return cat === 'plan' || cat === 'approval' || cat === 'apply' || cat === 'rollback' || cat === 'terraform_export'
        ? `pln_${hashHex(Math.floor(i / PLAN_BLOCK), seed).slice(0, 10)}`
        : undefined
    },
    resourceMatcher: (pred) => {
      const pool = RESOURCES_PER_PROVIDER * 4
      const hit = new Uint8Array(pool)
      for (let r = 0; r < pool; r++) hit[r] = pred(resourceName(['aws', 'azure', 'gcp', 'system'][Math.floor(r / RESOURCES_PER_PROVIDER)] ?? 'system', r % RESOURCES_PER_PROVIDER)) ? 1 : 0
      return (i) => {
        ensure(i)
        return hit[res[i] ?? 0] === 1
      }
    },
    planMatcher: (pred) => {
      // A plan id is a function of the event's block; test each block once.
      const blocks = Math.ceil(Math.max(size, 1) / PLAN_BLOCK)
      const hit = new Uint8Array(blocks + 1)
      for (let b = 0; b <= blocks; b++) hit[b] = pred(`pln_${hashHex(b, seed).slice(0, 10)}`) ? 1 : 0
      return (i) => hit[Math.floor(i / PLAN_BLOCK)] === 1 && ds.planId(i) !== undefined
    },
    id: (i) => eventId(org, i + 1),
    event: (i) => {
      ensure(i)
      return buildEvent(ds, i, seed)
    },
    append: (at, r = liveRnd) => {
      const i = size
      for (const f of COLUMN_FIELDS) cols[f].ensure(i + 1)
      if (i >= times.length) {
        const nt = new Float64Array(times.length * 2)
        nt.set(times)
        times = nt
        const nr = new Uint32Array(res.length * 2)
        nr.set(res)
        res = nr
      }
      fill(i, r)
      times[i] = Math.max(at, size > 0 ? ds.time(size - 1) : 0)
      size++
      return ds.event(i)
    },
  }
  return ds
}

// ---------------------------------------------------------------------------
// Building one EventDTO.

function iso(ms: number): string {
  return new Date(ms).toISOString()
}

function resourceType(r: string): string {
  if (r.includes(':s3:')) return 's3.bucket'
  if (r.includes(':ec2:')) return 'ec2.instance'
  if (r.includes(':rds:')) return 'rds.instance'
  if (r.includes(':iam:')) return 'iam.role'
  if (r.includes('virtualMachines')) return 'azure.vm'
  if (r.includes('compute.googleapis')) return 'gce.instance'
  return 'axiom.setting'
}

/** Before/after states of a mutation: mostly the same, with a few paths changed. */
export function statesFor(kind: string, i: number): { before: unknown; after: unknown } {
  const r = mulberry32(i * 31 + 7)
  const env = r() < 0.7 ? 'prod' : 'staging'
  switch (kind) {
    case 's3.bucket': {
      const before = {
        versioning: { status: 'Suspended', mfaDelete: 'Disabled' },
        publicAccessBlock: { blockPublicAcls: false, blockPublicPolicy: false, ignorePublicAcls: true, restrictPublicBuckets: false },
        encryption: { sseAlgorithm: 'AES256' },
        tags: { env, owner: 'data-platform', costCenter: 'cc-' + (100 + (i % 40)) },
        lifecycleRules: [{ id: 'expire-tmp', prefix: 'tmp/', expirationDays: 30 }],
      }
      const after = {
        versioning: { status: 'Enabled', mfaDelete: 'Disabled' },
        publicAccessBlock: { blockPublicAcls: true, blockPublicPolicy: true, ignorePublicAcls: true, restrictPublicBuckets: true },
        encryption: { sseAlgorithm: 'aws:kms', kmsKeyId: 'alias/acme-s3' },
        tags: { env, owner: 'data-platform', costCenter: 'cc-' + (100 + (i % 40)), managedBy: 'axiom' },
        lifecycleRules: [
          { id: 'expire-tmp', prefix: 'tmp/', expirationDays: 14 },
          { id: 'glacier-archive', prefix: 'archive/', transitionDays: 90, storageClass: 'GLACIER' },
        ],
      }
      return { before, after }
    }
    case 'ec2.instance':
    case 'azure.vm':
    case 'gce.instance': {
      const sizes = kind === 'ec2.instance' ? ['m5.2xlarge', 'm5.xlarge', 'm6g.large'] : kind === 'azure.vm' ? ['Standard_D8s_v5', 'Standard_D4s_v5'] : ['n2-standard-8', 'n2-standard-4']
      const before = { instanceType: sizes[0], state: 'running', monitoring: { detailed: false }, tags: { env, team: 'checkout' }, securityGroups: ['sg-web', 'sg-ssh-open'], cpuUtilizationP95: 11 }
      const after = { instanceType: sizes[1], state: 'running', monitoring: { detailed: true }, tags: { env, team: 'checkout', rightsizedBy: 'axiom' }, securityGroups: ['sg-web'], cpuUtilizationP95: 11 }
      return { before, after }
    }
    case 'rds.instance':
      return {
        before: { instanceClass: 'db.r5.2xlarge', multiAZ: false, backupRetentionDays: 1, storageEncrypted: true, deletionProtection: false },
        after: { instanceClass: 'db.r6g.xlarge', multiAZ: true, backupRetentionDays: 7, storageEncrypted: true, deletionProtection: true },
      }
    case 'iam.role':
      return {
        before: { policies: ['AdministratorAccess'], maxSessionDuration: 43200, trust: { principal: 'arn:aws:iam::123456789012:root' } },
        after: { policies: ['ReadOnlyAccess', 'deploy-scoped'], maxSessionDuration: 3600, trust: { principal: 'arn:aws:iam::123456789012:role/ci', externalId: true } },
      }
    default:
      return { before: { retentionDays: 90, syncEnabled: false }, after: { retentionDays: 365, syncEnabled: true, syncTarget: 's3' } }
  }
}

function buildEvent(ds: Dataset, i: number, seed: number): EventDTO {
  const r = mulberry32(i * 2654435761 + seed)
  const action = ds.dict('actionType')[ds.code('actionType', i)] ?? 'custom.event'
  const category = ds.dict('category')[ds.code('category', i)] ?? 'custom'
  const provider = ds.dict('provider')[ds.code('provider', i)] ?? 'system'
  const status = ds.dict('status')[ds.code('status', i)] ?? 'applied'
  const riskLevel = ds.dict('riskLevel')[ds.code('riskLevel', i)] ?? 'low'
  const userId = ds.dict('userId')[ds.code('userId', i)] ?? 'system'
  const resourceIds = ds.resources(i)
  const resource = resourceIds[0] ?? ''
  const kind = resourceType(resource)
  const planId = ds.planId(i)
  const ts = ds.time(i)
  const region = resource.split(':')[3] || (provider === 'azure' ? 'westeurope' : provider === 'gcp' ? 'us-central1' : 'global')
  let metadata: Record<string, unknown>
  let states: { before: unknown; after: unknown } | undefined
  switch (category) {
    case 'apply':
      states = statesFor(kind, i)
      metadata = { planId, change: 'update', resourceType: kind, region, durationMs: 800 + Math.floor(r() * 9000), approvedBy: 'carol@acme.io', driftChecked: true }
      if (status === 'failed') metadata.error = { code: 'AccessDenied', message: 'User is not authorized to perform: s3:PutBucketVersioning' }
      break
    case 'rollback':
      states = statesFor(kind, i)
      states = { before: states.after, after: states.before }
      metadata = { planId, reason: 'post-apply health check failed', trigger: action === 'rollback.triggered' ? 'automatic' : 'manual' }
      break
    case 'plan':
      metadata = { planId, steps: 1 + Math.floor(r() * 6), resourceType: kind, estimatedMonthlySavings: { amount: (r() * 4000).toFixed(2), currency: 'USD' }, generator: { model: 'axiom-planner', version: '3.4.1' } }
      break
    case 'approval':
      metadata = {
        planId,
        policy: 'two-person-rule',
        chain: [
          { approver: 'alice@acme.io', decision: 'approved', at: iso(ts - 3600_000) },
          { approver: userId, decision: action === 'approval.rejected' ? 'rejected' : 'approved', at: iso(ts), note: action === 'approval.rejected' ? 'needs a maintenance window' : 'LGTM' },
        ],
      }
      break
    case 'finding':
      metadata = {
        findingId: 'fnd_' + hashHex(i, 3).slice(0, 10),
        severity: ['informational', 'low', 'medium', 'high', 'critical'][riskLevel === 'high' ? 3 + Math.floor(r() * 2) : riskLevel === 'medium' ? 2 : Math.floor(r() * 2)],
        rule: { id: ['S3.8', 'EC2.19', 'RDS.3', 'IAM.1', 'CIS-2.1.5'][i % 5], framework: 'CIS AWS Foundations 3.0' },
        resourceType: kind,
        region,
      }
      break
    case 'scan':
      metadata = { scanId: 'scn_' + hashHex(Math.floor(i / 12), 5).slice(0, 10), resourcesScanned: Math.floor(r() * 12000), durationMs: Math.floor(r() * 600000), regions: [region] }
      break
    case 'user':
      metadata = { ip: `10.${i % 250}.${(i >> 3) % 250}.${(i >> 7) % 250}`, method: r() < 0.7 ? 'sso' : 'passkey', userAgent: 'Axiom Desktop 2.3' }
      break
    case 'workflow':
      metadata = { runId: 'run_' + hashHex(i, 9).slice(0, 8), phases: ['discover', 'evaluate', 'report'], durationMs: Math.floor(r() * 120000) }
      break
    case 'audit':
      metadata = action === 'audit.checkpoint_heartbeat' ? { treeSize: i + 1 } : { actor: userId, detail: action.replace('audit.', '').replace(/_/g, ' ') }
      break
    default:
      metadata = { resourceType: kind, region }
  }
  const leaf = hashHex(i, seed)
  return {
    id: eventId(ds.org, i + 1),
    seq: i + 1,
    timestamp: iso(ts),
    recordedAt: iso(ts + 3 + Math.floor(r() * 400)),
    organizationId: ds.org,
    userId,
    provider,
    actionType: action,
    category,
    resourceIds,
    status,
    riskLevel,
    metadata,
    ...(states
      ? { beforeState: states.before, afterState: states.after, beforeStateCommitment: hashHex(i, 11), afterStateCommitment: hashHex(i, 12) }
      : {}),
    prevHash: i === 0 ? '0'.repeat(64) : hashHex(i - 1, seed),
    leafHash: leaf,
    retention: ['plan', 'approval', 'apply', 'rollback', 'terraform_export', 'connection', 'releaseops', 'audit'].includes(category) ? 'material' : 'operational',
    soc2: category === 'apply' || category === 'rollback' ? ['CC8.1', 'CC7.1'] : ['CC7.2'],
    iso27001: category === 'apply' || category === 'rollback' ? ['A.8.32', 'A.8.9'] : ['A.8.15'],
  }
}

export function proofHashes(i: number, size: number): string[] {
  const n = Math.max(1, Math.ceil(Math.log2(Math.max(2, size))))
  return Array.from({ length: n }, (_, k) => hexToBase64(hashHex(i + k * 1_000_003, 77)))
}

export { hashHex, hexToBase64 }

// ---------------------------------------------------------------------------
// A log from explicit events (tests).

export function datasetFromEvents(org: string, events: EventDTO[]): Dataset {
  const list = events.filter((e) => e.organizationId === org || !e.organizationId).slice().sort((a, b) => a.seq - b.seq)
  const dicts: Record<ColumnField, Dict> = {
    category: new Dict(), actionType: new Dict(), provider: new Dict(), status: new Dict(), riskLevel: new Dict(), userId: new Dict(),
  }
  const codes = (f: ColumnField, i: number) => dicts[f].code(list[i]?.[f] ?? '')
  const ds: Dataset = {
    org,
    size: () => list.length,
    time: (i) => Date.parse(list[i]?.timestamp ?? ''),
    code: codes,
    dict: (f) => dicts[f].values,
    resources: (i) => list[i]?.resourceIds ?? [],
    planId: (i) => {
      const m = list[i]?.metadata
      return m && typeof m === 'object' && 'planId' in m ? String((m as { planId: unknown }).planId) : undefined
    },
    resourceMatcher: (pred) => (i) => (list[i]?.resourceIds ?? []).some(pred),
    planMatcher: (pred) => (i) => {
      const p = ds.planId(i)
      return p !== undefined && pred(p)
    },
    id: (i) => list[i]?.id ?? '',
    event: (i) => {
      const e = list[i]
      if (!e) throw new Error(`no event ${i}`)
      return e
    },
    append: (at) => {
      const last = list[list.length - 1]
      const seq = (last?.seq ?? 0) + 1
      const e: EventDTO = {
        ...(last ?? ({} as EventDTO)),
        id: eventId(org, seq),
        seq,
        timestamp: iso(at),
        recordedAt: iso(at),
        organizationId: org,
      }
      list.push(e)
      return e
    },
  }
  for (let i = 0; i < list.length; i++) for (const f of COLUMN_FIELDS) codes(f, i)
  return ds
}
