// TypeScript mirrors of the Go DTOs in app/dto.go: the one contract the
// desktop bindings, the REST API and this frontend share. Times are RFC 3339
// strings in UTC.

/** One recorded event as the UI and API show it. */
export interface EventDTO {
  id: string
  seq: number
  timestamp: string
  recordedAt: string
  organizationId: string
  userId: string
  provider: string
  actionType: string
  category: string
  resourceIds: string[]
  status: string
  riskLevel: string
  metadata: unknown
  /** Present only when the keys are available and the caller may see them. */
  beforeState?: unknown
  afterState?: unknown
  beforeStateCommitment?: string
  afterStateCommitment?: string
  /** The states were recorded but their keys are not at hand here. */
  statesSealed?: boolean
  prevHash: string
  leafHash: string
  retention: string
  soc2: string[]
  iso27001: string[]
}

/** A timeline filter: OR within a list field, AND across fields; Not* exclude. */
export interface QueryDTO {
  org: string
  since?: string
  until?: string
  categories?: string[]
  actionTypes?: string[]
  providers?: string[]
  userIds?: string[]
  statuses?: string[]
  riskLevels?: string[]
  resourceId?: string
  resourceIdPrefix?: string
  notCategories?: string[]
  notActionTypes?: string[]
  notProviders?: string[]
  notUserIds?: string[]
  notStatuses?: string[]
  notRiskLevels?: string[]
  text?: string
  order?: 'newest' | 'oldest'
  limit?: number
  cursor?: string
}

export interface EventPageDTO {
  events: EventDTO[]
  /** Empty or absent: no more pages. */
  nextCursor?: string
}

export interface FacetCountDTO {
  value: string
  count: number
}

/** Counts per value for category, provider, status, riskLevel and userId, by count descending. */
export type FacetsDTO = Record<string, FacetCountDTO[]>

/** A timeline filter and the time zone whose clock its histogram's buckets follow. */
export interface HistogramQueryDTO extends QueryDTO {
  /** An IANA name ("Asia/Kolkata"); absent: UTC. A day's bucket starts at midnight there, an hour's on a whole hour. */
  timeZone?: string
}

/** Counts the events in [start, end). */
export interface HistogramBucketDTO {
  start: string
  end: string
  count: number
  byRisk: Record<string, number>
  byStatus?: Record<string, number>
}

export interface HistogramDTO {
  /** The buckets' length on the time zone's clock: across a daylight-saving change a day's bucket is an hour shorter or longer (its end says so). */
  bucketSeconds: number
  buckets: HistogramBucketDTO[]
}

/** What the timeline shows beside a query's rows: its facets and its histogram, counted on one snapshot of the log. */
export interface OverviewDTO {
  facets: FacetsDTO
  histogram: HistogramDTO
}

export interface OrganizationDTO {
  id: string
  size: number
  lastRecordedAt?: string
  /** Its active integrity alert; an organization whose log is missing from the database but anchored is listed with size 0 and its alert. */
  alert?: IntegrityAlertDTO
}

export interface CheckpointDTO {
  origin: string
  size: number
  root: string
  time: string
  note: string
  publicKey: string
  /** The organization's active integrity alert: appends are refused until it is acknowledged. */
  alert?: IntegrityAlertDTO
}

export interface IntegrityAlertDTO {
  kind: string
  detectedAt: string
  /** What happened and what to do. */
  message: string
}

export interface InclusionProofDTO {
  leafIndex: number
  treeSize: number
  leafHash: string
  hashes: string[]
  verified: boolean
}

export interface VerifyProblemDTO {
  org: string
  seq?: number
  id?: string
  kind: string
  detail: string
  checkpoint?: number
}

export interface VerifyResultDTO {
  org: string
  events: number
  checkpoints?: number
  /** States decrypted and checked against their commitments (0 when keyless). */
  states?: number
  /** The first 1,000 problems; problemCount counts them all. */
  problems: VerifyProblemDTO[]
  problemCount?: number
  truncated?: boolean
  /** Events retention pruned under a policy in force: not problems. */
  pruned?: number
  /** The pruned events as runs: "pruned by policy NAME at TIME". */
  prunedRanges?: { org: string; fromSeq: number; toSeq: number; count: number; policy: string; prunedAt: string }[]
  clean: boolean
  startedAt: string
  finishedAt: string
  keyless: boolean
}

export interface FieldError {
  index?: number
  line?: number
  field: string
  reason: string
}

export interface ErrorDTO {
  code: string
  message: string
  fields?: FieldError[]
}

export interface AppInfo {
  name: string
  version: string
  profile: string
  dataDir: string
}

export interface VerifyProgress {
  org: string
  done: number
  total: number
}

/** Facet field names as FacetsDTO keys them. */
export const FACET_FIELDS = ['category', 'provider', 'status', 'riskLevel', 'userId'] as const
export type FacetField = (typeof FACET_FIELDS)[number]

// Closed vocabularies from storage/event.go and the catalogue.
export const PROVIDERS = ['aws', 'azure', 'gcp', 'system'] as const
export const STATUSES = ['pending', 'applied', 'failed', 'rolled_back'] as const
export const RISK_LEVELS = ['low', 'medium', 'high'] as const
export const CATEGORIES = [
  'connection', 'scan', 'finding', 'recommendation', 'plan', 'approval', 'terraform_export',
  'apply', 'rollback', 'user', 'workflow', 'releaseops', 'audit', 'custom',
] as const

/** Evidence bundle formats (app/export). */
export const EXPORT_FORMATS = ['csv', 'jsonl', 'json', 'ocsf', 'cef', 'splunk-hec', 'ecs'] as const
export type ExportFormat = (typeof EXPORT_FORMATS)[number]

/** An export as the Export dialog asks for it (app.ExportRequest). */
export interface ExportRequest {
  /** The timeline's filter: what is exported. */
  query: QueryDTO
  format: ExportFormat
  /** The folder the bundle folder is created in, on the machine running the app. */
  outDir: string
  /** Reveal before/after states (salt and plaintext). */
  includeSensitive: boolean
}

/** How far a running export got; total and etaSeconds are 0 when unknown. */
export interface ExportProgress {
  events: number
  total: number
  bytes: number
  etaSeconds: number
}

export interface ExportFileDTO {
  name: string
  bytes: number
  sha256: string
}

/** A written evidence bundle (app.ExportResultDTO). */
export interface ExportResultDTO {
  dir: string
  format: string
  count: number
  firstSeq: number
  lastSeq: number
  bytes: number
  includeSensitive: boolean
  files: ExportFileDTO[]
  /** The bundle's pruned.json: what retention had pruned of the filter before the export. */
  pruned?: PrunedDTO
}

/** What retention had pruned of an export's filter (export.Pruned). */
export interface PrunedDTO {
  /** false when the filter looks at fields a pruned event no longer has: count is then an upper bound */
  exact: boolean
  count: number
  rules: PrunedRuleDTO[]
}

export interface PrunedRuleDTO {
  policy: string
  policyVersion: number
  windowDays: number
  count: number
  categories: Record<string, number>
  firstSeq: number
  lastSeq: number
  oldestTimestamp: string
  newestTimestamp: string
  firstPrunedAt: string
  lastPrunedAt: string
  /** When the policy version was made, by whom, and when it took effect (absent for the built-in default). */
  policyChangedAt?: string
  policyChangedBy?: string
  policyEffectiveFrom?: string
}

/** A running export: result settles when it ends (rejecting with code 'cancelled' after cancel). */
export interface ExportHandle {
  readonly id: string
  readonly result: Promise<ExportResultDTO>
  cancel(): Promise<void>
}

/** The REST API's export job (GET /api/exports/{id}). */
export interface ExportJobDTO {
  id: string
  state: 'running' | 'done' | 'failed' | 'cancelled'
  org: string
  format: string
  outDir: string
  includeSensitive: boolean
  startedAt: string
  finishedAt?: string
  progress: ExportProgress
  result?: ExportResultDTO
  error?: ErrorDTO
}

/** A compliance report of one organization and period (app.ReportRequest). */
export interface ReportRequest {
  org: string
  /** 2026-Q3, 2026-09 or FROM..TO (dates, TO included), in UTC. */
  period: string
  /** An absolute path: the report folder is created inside. */
  outDir: string
}

/** A written report folder (app.ReportResultDTO). */
export interface ReportResultDTO {
  dir: string
  /** Whether report.pdf was printed; when not, note says why. */
  pdf: boolean
  note?: string
  /** verified | problems | checkpoint-only | unavailable */
  integrity: string
  events: number
  evidenceEvents: number
  /** Every file with its size and SHA-256, evidence/… included (SHA256SUMS is not listed). */
  files: ExportFileDTO[]
  bytes: number
  /** The SHA-256 of SHA256SUMS: one hash for the whole folder. */
  sha256: string
}

/** A copy of the log made for an auditor (app.AuditCopyDTO): dir/log and its read key. */
export interface AuditCopyDTO {
  dir: string
  /** dir/read-key: the key the copy is encrypted with. */
  readKeyFile: string
  organizations: number
  events: number
}

/** One sync destination's status (app.SyncDestinationDTO). */
export interface SyncDestinationDTO {
  kind: 'tenant' | 's3' | 'azure' | 'webhook'
  /**
   * Where it delivers: a URL without credentials or query, s3://bucket/prefix, or for azure the
   * container's URL and prefix (https://ACCOUNT.blob.core.windows.net/CONTAINER/PREFIX).
   */
  target: string
  enabled: boolean
  /** stopped needs the user: `stopped` says why. */
  state: 'healthy' | 'retrying' | 'stopped' | 'disabled'
  format?: string
  includes: 'commitments' | 'states'
  deliveredSeq: number
  headSeq: number
  lagEvents: number
  lagSeconds: number
  /** null: nothing delivered yet. */
  lastSuccess: string | null
  /** '': none. */
  lastError: string
  lastErrorAt?: string | null
  failures: number
  stopped?: string
  enabledAt: string
  /** Events retention pruned before the destination received them: holes in its copy. */
  prunedBeforeDelivery?: number
}

/** One organization's sync (app.SyncStatusDTO); no destinations: sync is off. */
export interface SyncStatusDTO {
  org: string
  destinations: SyncDestinationDTO[]
  /** run-now only: what failed, destination by destination. */
  error?: string
}

/** A retention window: days, or indefinitely. */
export interface RetentionWindowDTO {
  days?: number
  indefinite?: boolean
}

/** The events of one category that retention prunes before `until` (app: storage.ExpiringGroup). */
export interface ExpiringGroupDTO {
  category: string
  class: 'operational' | 'material'
  window: RetentionWindowDTO
  /** The category's events with a timestamp before this expire within the horizon. */
  until: string
  count: number
  oldest: string
  newest: string
}

/** What retention prunes of an organization before `horizon` (GET /api/retention/expiring). */
export interface ExpiringDTO {
  org: string
  horizon: string
  count: number
  oldest?: string
  newest?: string
  groups: ExpiringGroupDTO[]
}

/** One window of a retention policy (app.RetentionRuleDTO). */
export interface RetentionRuleDTO {
  class: 'operational' | 'material'
  category?: string
  days?: number
  indefinite: boolean
  /** As tombstones and verification name the rule: "operational 90 days (v2)". */
  name: string
}

/** A run of pruned seqs (storage.PrunedRun). */
export interface PrunedRunDTO {
  org: string
  fromSeq: number
  toSeq: number
  count: number
  class: string
  policy: string
  prunedAt: string
  /** The pruned events' timestamps: the oldest and the newest of the run. */
  oldest: string
  newest: string
}

/** An organization's retention policy (GET /api/retention): the version in force, and those that take effect later. */
export interface RetentionDTO {
  org: string
  version: number
  effectiveFrom?: string
  changedBy?: string
  rules: RetentionRuleDTO[]
  /** Versions that take effect later: a shortened window waits a week after the change. */
  pending?: RetentionPendingDTO[]
  expiring: ExpiringDTO
  /** The newest runs of pruned events; prunedRuns and prunedEvents count them all. */
  pruned: PrunedRunDTO[]
  prunedRuns?: number
  prunedEvents?: number
}

export interface RetentionPendingDTO {
  version: number
  changedAt: string
  effectiveFrom: string
  changedBy?: string
  rules: RetentionRuleDTO[]
}

/** A change of one retention window: days, or indefinite. */
export interface RetentionSetRequest {
  org: string
  class: 'operational' | 'material'
  category?: string
  days?: number
  indefinite?: boolean
  /** Apply a shorter window now, not a week after the change. */
  atOnce?: boolean
}
