import type { AuditApi } from './client'
import { ApiError, parseErrorDTO, toApiError } from './errors'
import { queryToSearchParams } from './params'
import { exportId, pollExport } from './exports'
import type {
  AppInfo, AuditCopyDTO, CheckpointDTO, EventDTO, EventPageDTO, ExpiringDTO, ExportJobDTO, RetentionDTO, FacetsDTO, HistogramDTO, HistogramQueryDTO, InclusionProofDTO,
  OrganizationDTO, OverviewDTO, SyncStatusDTO, VerifyResultDTO, ReportResultDTO,
} from './types'

type FetchFn = typeof fetch
type EventSourceCtor = new (url: string, init?: EventSourceInit) => EventSource

export interface RestOptions {
  /** Prefix of every path; '' for the same origin. */
  base?: string
  fetch?: FetchFn
  EventSource?: EventSourceCtor
  /** The session key; by default sessionKey(). */
  sessionKey?: string
}

const sessionKeyItem = 'axiom-audit-session'

/**
 * The key of `axiom-audit serve`'s browser session. The login link
 * redirects to the app with it in the fragment (never sent to a server);
 * it is kept in this origin's localStorage, which pages on other ports of
 * 127.0.0.1 cannot read though the session cookie reaches them, and the
 * fragment is taken out of the address bar.
 */
export function sessionKey(): string {
  if (typeof window === 'undefined') return ''
  const fromLink = /(?:^#|&)session=([^&]+)/.exec(window.location.hash)?.[1]
  if (fromLink) {
    try {
      window.localStorage.setItem(sessionKeyItem, fromLink)
    } catch {
      // without storage the key lasts as long as the page
    }
    window.history.replaceState(null, '', window.location.pathname + window.location.search)
    return fromLink
  }
  try {
    return window.localStorage.getItem(sessionKeyItem) ?? ''
  } catch {
    return ''
  }
}

/**
 * The browser transport: `axiom-audit serve` at the same origin, signed in
 * by a cookie and the session key, which every request carries.
 */
export function createRestApi(opts: RestOptions = {}): AuditApi {
  const base = opts.base ?? ''
  const doFetch: FetchFn = opts.fetch ?? ((...a) => fetch(...a))
  const ES: EventSourceCtor | undefined = opts.EventSource ?? (typeof EventSource === 'undefined' ? undefined : EventSource)
  const key = opts.sessionKey ?? sessionKey()
  const keyHeader: Record<string, string> = key ? { 'X-Axiom-Session': key } : {}
  // EventSource sends no headers of its own: the key goes as a parameter.
  const keyParam = key ? '&session=' + encodeURIComponent(key) : ''

  async function call<T>(method: 'GET' | 'POST', path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
    let res: Response
    try {
      res = await doFetch(base + path, {
        method,
        ...(signal ? { signal } : {}),
        headers: body === undefined
          ? { Accept: 'application/json', ...keyHeader }
          : { Accept: 'application/json', 'Content-Type': 'application/json', ...keyHeader },
        credentials: 'same-origin',
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      })
    } catch (err) {
      if (signal?.aborted) throw new ApiError({ code: 'cancelled', message: `${path}: cancelled` })
      throw toApiError(err)
    }
    const text = await res.text()
    if (!res.ok) {
      const dto = parseErrorDTO(text)
      throw new ApiError(dto ?? { code: res.status === 401 ? 'unauthorized' : 'http_' + res.status, message: `${path}: ${res.status} ${res.statusText}`.trim() }, res.status)
    }
    try {
      return JSON.parse(text) as T
    } catch {
      throw new ApiError({ code: 'bad_response', message: `${path}: the response is not JSON` }, res.status)
    }
  }
  const get = <T>(path: string, signal?: AbortSignal) => call<T>('GET', path, undefined, signal)
  const org = (o: string) => 'org=' + encodeURIComponent(o)
  const qs = (q: HistogramQueryDTO) => queryToSearchParams(q).toString()

  return {
    transport: 'http',
    info: () => get<AppInfo>('/api/info'),
    ready: () => Promise.resolve(),
    organizations: () => get<OrganizationDTO[]>('/api/organizations'),
    listEvents: async (q, signal) => {
      const page = await get<EventPageDTO>('/api/operations/events?' + qs(q), signal)
      return { events: page.events ?? [], nextCursor: page.nextCursor || undefined }
    },
    getEvent: (o, id) => get<EventDTO>(`/api/operations/events/${encodeURIComponent(id)}?${org(o)}`),
    eventProof: (o, id) => get<InclusionProofDTO>(`/api/operations/events/${encodeURIComponent(id)}/proof?${org(o)}`),
    facets: (q, signal) => get<FacetsDTO>('/api/operations/facets?' + qs(q), signal),
    histogram: (q, signal) => get<HistogramDTO>('/api/operations/histogram?' + qs(q), signal),
    overview: (q, signal) => get<OverviewDTO>('/api/operations/overview?' + qs(q), signal),
    latestCheckpoint: (o) => get<CheckpointDTO>('/api/checkpoints/latest?' + org(o)),
    verify: (o, onProgress) => {
      // Progress comes over SSE while the POST runs; the POST's answer is the result.
      let es: EventSource | undefined
      if (onProgress && ES) {
        es = new ES(`${base}/api/verify/stream?${org(o)}${keyParam}`, { withCredentials: true })
        es.addEventListener('progress', (m) => {
          try {
            const p = JSON.parse((m as MessageEvent<string>).data) as { done: number; total: number }
            onProgress({ org: o, done: p.done, total: p.total })
          } catch {
            // a malformed progress message is not worth failing verification for
          }
        })
      }
      return call<VerifyResultDTO>('POST', '/api/verify?' + org(o)).finally(() => es?.close())
    },
    canPickFolder: false,
    chooseExportFolder: () => Promise.resolve(undefined),
    startExport: (req, onProgress) => {
      // An export is a job resource: started by POST, polled for progress and its end.
      const id = exportId()
      const path = '/api/exports/' + encodeURIComponent(id)
      return pollExport(
        id,
        call<ExportJobDTO>('POST', '/api/exports', { ...req, id }),
        () => get<ExportJobDTO>(path),
        () => call<ExportJobDTO>('POST', path + '/cancel').then(() => {}),
        onProgress,
      )
    },
    // The server cancels the report when its request is abandoned.
    writeReport: (req, signal) => call<ReportResultDTO>('POST', '/api/reports', req, signal).then((r) => ({ ...r, files: r.files ?? [] })),
    // The server copies the log only for the CLI on its machine.
    canCopyForAudit: false,
    copyForAudit: (dir, orgs) => call<AuditCopyDTO>('POST', '/api/audit-copies', { dir, orgs }),
    syncStatus: (o) => get<SyncStatusDTO>('/api/sync/status?' + org(o)),
    syncRunNow: (o) => call<SyncStatusDTO>('POST', '/api/sync/run-now?' + org(o)),
    retention: (o) => get<RetentionDTO>('/api/retention?' + org(o)),
    // The server answers changes only to the CLI on its machine.
    canSetRetention: false,
    setRetention: (req) => call<RetentionDTO>('POST', '/api/retention/policy', req),
    expiringEvents: (o, days) => get<ExpiringDTO>('/api/retention/expiring?' + org(o) + '&days=' + encodeURIComponent(String(days))),
    subscribe: (q, onEvent, onError, onOpen) => {
      if (!ES) {
        onError?.(new ApiError({ code: 'unsupported', message: 'This browser cannot stream events (no EventSource).' }))
        return () => {}
      }
      const { cursor: _c, limit: _l, ...filter } = q
      const es = new ES(`${base}/api/operations/stream?${qs(filter)}${keyParam}`, { withCredentials: true })
      es.addEventListener('event', (m) => {
        try {
          onEvent(JSON.parse((m as MessageEvent<string>).data) as EventDTO)
        } catch (err) {
          onError?.(toApiError(err))
        }
      })
      es.onopen = () => onOpen?.()
      es.onerror = () => {
        // EventSource reconnects by itself after a dropped connection, but
        // gives up on an answer that is no stream (CLOSED). Either way the
        // window is not live meanwhile, and must say so.
        onError?.(es.readyState === 2
          ? new ApiError({ code: 'stream_closed', message: 'The live stream closed.' })
          : new ApiError({ code: 'unreachable', message: 'The live stream lost its connection; reconnecting.' }))
      }
      return () => es.close()
    },
  }
}
