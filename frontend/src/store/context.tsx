// The app's stores, created once per App with the api they talk to and
// handed down by context (no module-level singletons, so tests get their own).

import { createContext, useContext, type ReactNode } from 'react'
import { useStore } from 'zustand'
import type { StoreApi } from 'zustand/vanilla'
import type { AuditApi } from '../api/client'
import { createResultsStore, type ResultsState } from './results'
import { createSessionStore, type SessionState } from './session'
import { createViewStore, type ViewState } from './view'

export interface Stores {
  api: AuditApi
  view: StoreApi<ViewState>
  results: StoreApi<ResultsState>
  session: StoreApi<SessionState>
}

export function createStores(api: AuditApi, view: StoreApi<ViewState> = createViewStore()): Stores {
  return { api, view, results: createResultsStore(api), session: createSessionStore(api) }
}

const StoresContext = createContext<Stores | null>(null)

export function StoresProvider({ stores, children }: { stores: Stores; children: ReactNode }) {
  return <StoresContext.Provider value={stores}>{children}</StoresContext.Provider>
}

export function useStores(): Stores {
  const s = useContext(StoresContext)
  if (!s) throw new Error('useStores outside StoresProvider')
  return s
}

export const useApi = () => useStores().api
export const useView = <T,>(sel: (s: ViewState) => T): T => useStore(useStores().view, sel)
export const useResults = <T,>(sel: (s: ResultsState) => T): T => useStore(useStores().results, sel)
export const useSession = <T,>(sel: (s: SessionState) => T): T => useStore(useStores().session, sel)
