import type {
  AppInfo, AuditCopyDTO, CheckpointDTO, EventDTO, EventPageDTO, ExpiringDTO, ExportHandle, RetentionDTO, RetentionSetRequest, ExportProgress, ExportRequest, FacetsDTO,
  HistogramDTO, HistogramQueryDTO, InclusionProofDTO, OrganizationDTO, OverviewDTO, QueryDTO, SyncStatusDTO, VerifyProgress, VerifyResultDTO, ReportRequest, ReportResultDTO,
} from './types'

/** Stops a subscription. */
export type Unsubscribe = () => void

/**
 * What the UI can ask of the application. Three implementations: Wails
 * bindings (desktop), REST (browser) and an in-memory fake (tests, demo).
 * Every method rejects with an ApiError.
 */
export interface AuditApi {
  readonly transport: 'wails' | 'http' | 'fake'
  info(): Promise<AppInfo>
  /** Tells the application the first screen has rendered. */
  ready(): Promise<void>
  organizations(): Promise<OrganizationDTO[]>
  /**
   * Queries take an optional AbortSignal: the timeline aborts the answers it
   * no longer wants (a newer filter), so the server stops scanning for them.
   */
  listEvents(q: QueryDTO, signal?: AbortSignal): Promise<EventPageDTO>
  getEvent(org: string, id: string): Promise<EventDTO>
  eventProof(org: string, id: string): Promise<InclusionProofDTO>
  facets(q: QueryDTO, signal?: AbortSignal): Promise<FacetsDTO>
  histogram(q: HistogramQueryDTO, signal?: AbortSignal): Promise<HistogramDTO>
  /** The facets and the histogram at once: where the server scans for them, one scan counts both. */
  overview(q: HistogramQueryDTO, signal?: AbortSignal): Promise<OverviewDTO>
  latestCheckpoint(org: string): Promise<CheckpointDTO>
  verify(org: string, onProgress?: (p: VerifyProgress) => void): Promise<VerifyResultDTO>
  /**
   * Whether chooseExportFolder opens a native folder picker (the desktop
   * app); otherwise the folder is typed as a path on the serving machine.
   */
  readonly canPickFolder: boolean
  /** Opens the native folder picker (titled, when given); undefined when closed without choosing. */
  chooseExportFolder(title?: string): Promise<string | undefined>
  /** Starts writing an evidence bundle; progress comes at most ten times a second. */
  startExport(req: ExportRequest, onProgress?: (p: ExportProgress) => void): ExportHandle
  /**
   * Verifies the log and writes a compliance report folder; settles when it
   * is complete. Aborting signal cancels it: it rejects with code
   * "cancelled" and nothing is left in the folder.
   */
  writeReport(req: ReportRequest, signal?: AbortSignal): Promise<ReportResultDTO>
  /** Whether copyForAudit is offered: the desktop app; the local API answers it to the CLI only. */
  readonly canCopyForAudit: boolean
  /**
   * Copies the log for an auditor into dir, a new folder: dir/log and its
   * read key dir/read-key, to verify without the keychain
   * (`axiom-audit verify --data-dir dir --read-key dir/read-key`).
   */
  /** orgs: those organizations only; absent: every one. */
  copyForAudit(dir: string, orgs?: string[]): Promise<AuditCopyDTO>
  /** The organization's sync destinations; none means sync is off. */
  syncStatus(org: string): Promise<SyncStatusDTO>
  /** Delivers what is pending now; a destination that failed is in the answer's error and its status. */
  syncRunNow(org: string): Promise<SyncStatusDTO>
  /** The events retention prunes within `days` days, per category, so the UI can warn and offer an export first. */
  expiringEvents(org: string, days: number): Promise<ExpiringDTO>
  /** The organization's retention policy, what expires soon and what was pruned. */
  retention(org: string): Promise<RetentionDTO>
  /** Whether setRetention may succeed here: the desktop app; a browser session may only read. */
  readonly canSetRetention: boolean
  /** Changes one window (recorded as audit.settings_changed) and answers the policy after. */
  setRetention(req: RetentionSetRequest): Promise<RetentionDTO>
  /**
   * Streams new events that match q until the returned function is called.
   * onError hears of a stream that dropped: code "unreachable" while it
   * reconnects by itself, "stream_closed" when it gave up (subscribe again).
   * onOpen hears that it is (again) connected.
   */
  subscribe(q: QueryDTO, onEvent: (e: EventDTO) => void, onError?: (err: Error) => void, onOpen?: () => void): Unsubscribe
}
