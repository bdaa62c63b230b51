// The session: which application this is (profile, version), its
// organizations, the newest checkpoint and the last verification.

import { createStore, type StoreApi } from 'zustand/vanilla'
import type { AuditApi } from '../api/client'
import { toApiError, type ApiError } from '../api/errors'
import type { AppInfo, CheckpointDTO, OrganizationDTO, VerifyProgress, VerifyResultDTO } from '../api/types'

export interface SessionState {
  info: AppInfo | undefined
  orgs: OrganizationDTO[] | undefined
  error: ApiError | undefined
  checkpoint: CheckpointDTO | undefined
  verifying: boolean
  progress: VerifyProgress | undefined
  lastVerify: VerifyResultDTO | undefined
  verifyError: ApiError | undefined

  start(): Promise<void>
  loadCheckpoint(org: string): Promise<void>
  verify(org: string): Promise<void>
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
  return createStore<SessionState>((set, get) => ({
    info: undefined,
    orgs: undefined,
    error: undefined,
    checkpoint: undefined,
    verifying: false,
    progress: undefined,
    lastVerify: undefined,
    verifyError: undefined,

    start: async () => {
      try {
        const [info, orgs] = await Promise.all([api.info(), api.organizations()])
        if (typeof performance !== 'undefined') performance.mark('axiom:orgs')
        set({ info, orgs, error: undefined })
      } catch (err) {
        set({ error: toApiError(err) })
        // Info alone still tells the user which profile this is.
        api.info().then((info) => set({ info }), () => {})
      }
    },

    loadCheckpoint: async (org) => {
      set({ lastVerify: remembered(org) })
      try {
        set({ checkpoint: await api.latestCheckpoint(org) })
      } catch {
        set({ checkpoint: undefined })
      }
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
  }))
}
