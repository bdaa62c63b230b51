import type { AuditApi } from './client'
import { ApiError, toApiError } from './errors'
import { exportId } from './exports'
import type {
  AppInfo, AuditCopyDTO, CheckpointDTO, EventDTO, EventPageDTO, ExpiringDTO, ExportProgress, RetentionDTO, RetentionSetRequest, ExportRequest, ExportResultDTO, FacetsDTO,
  HistogramDTO, HistogramQueryDTO, InclusionProofDTO, OrganizationDTO, OverviewDTO, QueryDTO, SyncStatusDTO, VerifyProgress, VerifyResultDTO, ReportRequest, ReportResultDTO,
} from './types'

/** The methods app.App binds (see app/ in the Go module). */
export interface WailsBindings {
  Info(): Promise<AppInfo>
  Ready(): Promise<void>
  Organizations(): Promise<OrganizationDTO[]>
  ListEvents(q: QueryDTO): Promise<EventPageDTO>
  GetEvent(org: string, id: string): Promise<EventDTO>
  EventProof(org: string, id: string): Promise<InclusionProofDTO>
  Facets(q: QueryDTO): Promise<FacetsDTO>
  Histogram(q: HistogramQueryDTO): Promise<HistogramDTO>
  Overview(q: HistogramQueryDTO): Promise<OverviewDTO>
  LatestCheckpoint(org: string): Promise<CheckpointDTO>
  Verify(org: string): Promise<VerifyResultDTO>
  Subscribe(q: QueryDTO): Promise<void>
  Unsubscribe(): Promise<void>
  ChooseExportFolder(): Promise<string>
  ChooseFolder(title: string): Promise<string>
  Export(req: ExportRequest & { id: string }): Promise<ExportResultDTO>
  CancelExport(id: string): Promise<void>
  WriteReport(req: ReportRequest & { id: string }): Promise<ReportResultDTO>
  CopyForAudit(dir: string, orgs: string[] | null): Promise<AuditCopyDTO>
  CancelReport(id: string): Promise<void>
  SyncStatus(org: string): Promise<SyncStatusDTO>
  SyncRunNow(org: string): Promise<SyncStatusDTO>
  ExpiringEvents(org: string, days: number): Promise<ExpiringDTO>
  RetentionPolicy(org: string): Promise<RetentionDTO>
  SetRetention(req: RetentionSetRequest): Promise<RetentionDTO>
}

export interface WailsRuntime {
  EventsOn(name: string, cb: (...data: never[]) => void): () => void
  LogError?(message: string): void
}

declare global {
  interface Window {
    go?: { app?: { App?: Partial<WailsBindings> } }
    runtime?: WailsRuntime
  }
}

/** The bindings, when this page runs inside the desktop window. */
export function wailsBindings(w: Window = window): WailsBindings | undefined {
  const app = w.go?.app?.App
  return app && typeof app.Info === 'function' ? (app as WailsBindings) : undefined
}

function wrap<T>(p: () => Promise<T>): Promise<T> {
  try {
    return p().catch((err: unknown) => {
      throw toApiError(err)
    })
  } catch (err) {
    return Promise.reject(toApiError(err))
  }
}

/** The desktop transport: calls into Go through the Wails bindings. */
export function createWailsApi(app: WailsBindings, runtime: WailsRuntime | undefined): AuditApi {
  // The app keeps one subscription and a new Subscribe replaces it, so only
  // the newest subscription may Unsubscribe: Go runs bound calls
  // concurrently, and an old Unsubscribe could otherwise land after the new Subscribe.
  let newest = 0
  return {
    transport: 'wails',
    info: () => wrap(() => app.Info()),
    ready: () => wrap(() => app.Ready()),
    organizations: () => wrap(() => app.Organizations()),
    listEvents: (q) => wrap(() => app.ListEvents(q)).then((p) => ({ events: p.events ?? [], nextCursor: p.nextCursor || undefined })),
    getEvent: (o, id) => wrap(() => app.GetEvent(o, id)),
    eventProof: (o, id) => wrap(() => app.EventProof(o, id)),
    facets: (q) => wrap(() => app.Facets(q)),
    histogram: (q) => wrap(() => app.Histogram(q)),
    overview: (q) => wrap(() => app.Overview(q)),
    latestCheckpoint: (o) => wrap(() => app.LatestCheckpoint(o)),
    verify: (o, onProgress) => {
      const off = onProgress && runtime
        ? runtime.EventsOn('audit:verify-progress', ((p: VerifyProgress) => {
            if (p.org === o) onProgress(p)
          }) as (...d: never[]) => void)
        : undefined
      return wrap(() => app.Verify(o)).finally(() => off?.())
    },
    canPickFolder: true,
    chooseExportFolder: (title) => wrap(() => (title ? app.ChooseFolder(title) : app.ChooseExportFolder())).then((d) => d || undefined),
    startExport: (req, onProgress) => {
      // The id is ours, so that Cancel works before Export returns.
      const id = exportId()
      const off = onProgress && runtime
        ? runtime.EventsOn('audit:export-progress', ((p: ExportProgress & { id: string }) => {
            if (p.id === id) onProgress({ events: p.events, total: p.total, bytes: p.bytes, etaSeconds: p.etaSeconds })
          }) as (...d: never[]) => void)
        : undefined
      const result = wrap(() => app.Export({ ...req, id })).then((r) => ({ ...r, files: r.files ?? [] })).finally(() => off?.())
      return { id, result, cancel: () => wrap(() => app.CancelExport(id)) }
    },
    writeReport: (req, signal) => {
      // The id is ours, so that the report can be cancelled while WriteReport runs.
      const id = exportId()
      const cancel = () => void wrap(() => app.CancelReport(id)).catch(() => {}) // it may have just finished
      signal?.addEventListener('abort', cancel, { once: true })
      return wrap(() => app.WriteReport({ ...req, id }))
        .then((r) => ({ ...r, files: r.files ?? [] }))
        .finally(() => signal?.removeEventListener('abort', cancel))
    },
    canCopyForAudit: true,
    copyForAudit: (dir, orgs) => wrap(() => app.CopyForAudit(dir, orgs ?? null)),
    syncStatus: (o) => wrap(() => app.SyncStatus(o)).then(syncStatus),
    syncRunNow: (o) => wrap(() => app.SyncRunNow(o)).then(syncStatus),
    retention: (o) => wrap(() => app.RetentionPolicy(o)),
    canSetRetention: true,
    setRetention: (req) => wrap(() => app.SetRetention(req)),
    expiringEvents: (o, days) => wrap(() => app.ExpiringEvents(o, days)).then((e) => ({ ...e, groups: e.groups ?? [] })),
    subscribe: (q, onEvent, onError) => {
      // The desktop app keeps one subscription: the newest filter replaces the last.
      const { cursor: _c, limit: _l, ...filter } = q
      const mine = ++newest
      const off = runtime?.EventsOn('audit:event', ((e: EventDTO) => mine === newest && onEvent(e)) as (...d: never[]) => void)
      // The app drops a subscription that falls behind (a burst of appends)
      // and says so with audit:reset: a closed stream, to be opened again
      // and what it missed read again, not a window that silently stops.
      const offReset = runtime?.EventsOn('audit:reset', (() => {
        if (mine === newest) onError?.(new ApiError({ code: 'stream_closed', message: 'The live stream fell behind and was dropped.' }))
      }) as (...d: never[]) => void)
      wrap(() => app.Subscribe(filter)).catch((err: Error) => onError?.(err))
      return () => {
        off?.()
        offReset?.()
        if (mine === newest) void wrap(() => app.Unsubscribe()).catch(() => {})
      }
    },
  }
}

/** Go encodes a nil slice as null. */
function syncStatus(s: SyncStatusDTO): SyncStatusDTO {
  return { ...s, destinations: s.destinations ?? [] }
}
