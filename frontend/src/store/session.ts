// The session: which application this is (profile, version), its
// organizations, the newest checkpoint and the last verification.

import { createStore, type StoreApi } from 'zustand/vanilla'
import type { AuditApi } from '../api/client'
import { toApiError, type ApiError } from '../api/errors'
import type { AppInfo, CheckpointDTO, EventDTO, OrganizationDTO, VerifyProgress, VerifyResultDTO } from '../api/types'

export interface SessionState {
  info: AppInfo | undefined
  orgs: OrganizationDTO[] | undefined
  error: ApiError | undefined
  checkpoint: CheckpointDTO | undefined
  /**
   * Why the newest checkpoint could not be read (the app is out of reach):
   * checkpoint is then the last one known of this organization, if any.
   */
  checkpointError: ApiError | undefined
  /** Set while the app cannot be reached (its calls or the live stream fail); cleared when it answers again. */
  offline: ApiError | undefined
  verifying: boolean
  progress: VerifyProgress | undefined
  lastVerify: VerifyResultDTO | undefined
  verifyError: ApiError | undefined
  /** An organization the URL named that this profile does not have (another one is shown instead). */
  missingOrg: string | undefined

  start(): Promise<void>
  /** Reads the organizations again: new ones, their sizes and their alerts. */
  refreshOrgs(): Promise<void>
  /** The newest checkpoint and the newest verification of org, whoever ran it. */
  loadCheckpoint(org: string): Promise<void>
  verify(org: string): Promise<void>
  /** Records whether the app answered: err with code "unreachable" or "stream_closed" means it did not. */
  reached(err?: unknown): void
}

/** Whether an error means the app did not answer at all. */
export function isUnreachable(err: unknown): boolean {
  const code = toApiError(err).code
  return code === 'unreachable' || code === 'stream_closed'
}

export function createSessionStore(api: AuditApi, storage: Pick<Storage, 'getItem' | 'setItem'> | undefined = globalThis.localStorage): StoreApi<SessionState> {
  const key = (org: string) => `axiom-audit:last-verify:${org}`
  const remembered = (org: string): VerifyResultDTO | undefined => {
    try {
      const s = storage?.getItem(key(org))
      return s ? (JSON.parse(s) as VerifyResultDTO) : undefined
    } catch {
      return undefined
    }
  }
  let loads = 0 // loadCheckpoint calls so far
  // organizations() calls so far, and the newest whose answer was shown: an
  // older answer arriving later never replaces a newer one.
  let orgLoads = 0
  let orgShown = 0
  const showOrgs = (call: number) => {
    if (call < orgShown) return false
    orgShown = call
    return true
  }
  let checkpointOrg = '' // whose checkpoint the state holds
  return createStore<SessionState>((set, get) => ({
    info: undefined,
    missingOrg: undefined,
    orgs: undefined,
    error: undefined,
    checkpoint: undefined,
    checkpointError: undefined,
    offline: undefined,
    verifying: false,
    progress: undefined,
    lastVerify: undefined,
    verifyError: undefined,

    start: async () => {
      const call = ++orgLoads
      try {
        const [info, orgs] = await Promise.all([api.info(), api.organizations()])
        if (typeof performance !== 'undefined') performance.mark('axiom:orgs')
        set(showOrgs(call) ? { info, orgs, error: undefined } : { info, error: undefined })
        get().reached()
      } catch (err) {
        set({ error: toApiError(err) })
        get().reached(err)
        // Info alone still tells the user which profile this is.
        api.info().then((info) => set({ info }), () => {})
      }
    },

    refreshOrgs: async () => {
      const call = ++orgLoads
      try {
        const orgs = await api.organizations()
        if (showOrgs(call)) set({ orgs })
        get().reached()
      } catch (err) {
        // The list shown stays; the next refresh tries again.
        get().reached(err)
      }
    },

    loadCheckpoint: async (org) => {
      const call = ++loads
      const current = get().lastVerify
      const mine = current?.org === org ? current : remembered(org)
      if (current !== mine) set({ lastVerify: mine })
      const [read, logged] = await Promise.all([
        api.latestCheckpoint(org).then(
          (checkpoint) => ({ checkpoint, error: undefined }),
          (err: unknown) => ({ checkpoint: undefined, error: toApiError(err) }),
        ),
        // Every verification is in the log (audit.verified): a report's, the
        // CLI's, another window's. This window's own result has the details.
        api.listEvents({ org, actionTypes: ['audit.verified'], order: 'newest', limit: 1 }).then(
          (p) => (p.events[0] ? verifiedFromEvent(p.events[0]) : undefined),
          () => undefined,
        ),
      ])
      // A later call (another organization chosen meanwhile) has the last word.
      if (call !== loads) return
      // So does a verification this window finished meanwhile.
      const now = get().lastVerify
      // Only not_found means there is no checkpoint; any other failure (the
      // app out of reach) keeps the last one known of this organization.
      const failed = read.error && read.error.code !== 'not_found' ? read.error : undefined
      const known = checkpointOrg === org ? get().checkpoint : undefined
      const checkpoint = failed ? known : read.checkpoint
      checkpointOrg = org
      set({ checkpoint, checkpointError: failed, lastVerify: newer(now?.org === org ? now : mine, logged) })
      get().reached(read.error)
    },

    verify: async (org) => {
      if (get().verifying) return
      set({ verifying: true, progress: undefined, verifyError: undefined })
      try {
        const res = await api.verify(org, (progress) => set({ progress }))
        set({ lastVerify: res, verifying: false })
        try {
          storage?.setItem(key(org), JSON.stringify({ ...res, problems: res.problems.slice(0, 50) }))
        } catch {
          // remembering is a convenience
        }
      } catch (err) {
        set({ verifying: false, verifyError: toApiError(err) })
      }
    },

    reached: (err) => {
      if (err !== undefined && isUnreachable(err)) set({ offline: toApiError(err) })
      else if (get().offline) set({ offline: undefined })
    },
  }))
}

/** A verification as the log records it (the audit.verified event's metadata). */
export function verifiedFromEvent(e: EventDTO): VerifyResultDTO {
  const m = (e.metadata ?? {}) as { result?: string; problems?: number; keyless?: boolean; records?: number; treeSize?: number }
  return {
    org: e.organizationId,
    events: m.records ?? m.treeSize ?? 0,
    problems: [],
    problemCount: m.problems ?? 0,
    clean: m.result === 'ok',
    startedAt: e.timestamp,
    finishedAt: e.timestamp,
    keyless: m.keyless ?? false,
  }
}

/**
 * The newer of this window's remembered verification and the log's newest:
 * the log records this window's own a moment after it finishes, so the log's
 * counts as newer only when it is more than a few seconds newer.
 */
function newer(mine: VerifyResultDTO | undefined, logged: VerifyResultDTO | undefined): VerifyResultDTO | undefined {
  if (!mine || !logged) return mine ?? logged
  return Date.parse(logged.finishedAt) - Date.parse(mine.finishedAt) > 5000 ? logged : mine
}
