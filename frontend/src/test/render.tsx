// Rendering helpers for component tests: Mantine, and stores over a fake api
// with an in-memory URL, so each test starts from a clean view.

import { MantineProvider } from '@mantine/core'
import { render } from '@testing-library/react'
import type { ReactNode } from 'react'
import type { AuditApi } from '../api/client'
import { createFakeApi } from '../api/fake'
import type { EventDTO } from '../api/types'
import { createStores, StoresProvider, type Stores } from '../store/context'
import { createViewStore } from '../store/view'
import { theme } from '../theme'

export const NOW = Date.parse('2026-11-20T12:00:00Z')

export function memoryLocation(search = '') {
  const loc = { search, pathname: '/', hash: '' }
  const entries: string[] = [search]
  const history = {
    pushState: (_d: unknown, _u: string, url?: string) => {
      loc.search = new URL(url ?? '/', 'http://x').search
      entries.push(loc.search)
    },
    replaceState: (_d: unknown, _u: string, url?: string) => {
      loc.search = new URL(url ?? '/', 'http://x').search
      entries[entries.length - 1] = loc.search
    },
  }
  return { loc, history, entries }
}

export function makeEvent(seq: number, over: Partial<EventDTO> = {}): EventDTO {
  return {
    id: `evt_${seq}`, seq, timestamp: new Date(NOW - (1000 - seq) * 60_000).toISOString(), recordedAt: new Date(NOW - (1000 - seq) * 60_000 + 5).toISOString(),
    organizationId: 'acme', userId: 'alice@acme.io', provider: 'aws', actionType: 'scan.completed', category: 'scan',
    resourceIds: ['arn:aws:s3:::acme-logs'], status: 'applied', riskLevel: 'low', metadata: { scanId: 'scn_1', nested: { depth: 2 } },
    prevHash: 'a'.repeat(64), leafHash: 'b'.repeat(64), retention: 'operational', soc2: ['CC7.2'], iso27001: ['A.8.15'],
    ...over,
  }
}

export function sampleEvents(): EventDTO[] {
  return [
    makeEvent(1),
    makeEvent(2, { status: 'failed', riskLevel: 'high', category: 'apply', actionType: 'apply.mutation', metadata: { planId: 'pln_1' }, beforeState: { size: 'm5.2xlarge', tags: { env: 'prod' }, ports: [22, 443] }, afterState: { size: 'm5.xlarge', tags: { env: 'prod', owner: 'axiom' }, ports: [443] } }),
    makeEvent(3, { provider: 'gcp', userId: 'bob@acme.io' }),
    makeEvent(4, { status: 'pending', category: 'plan', actionType: 'plan.generated', metadata: { planId: 'pln_1' } }),
    makeEvent(5, { riskLevel: 'medium', provider: 'azure' }),
    makeEvent(6, { riskLevel: 'high', category: 'finding', actionType: 'finding.created' }),
  ]
}

export function setup(opts: { api?: AuditApi; search?: string; events?: EventDTO[] } = {}) {
  const api = opts.api ?? createFakeApi(opts.events ?? sampleEvents(), { now: () => NOW })
  const mem = memoryLocation(opts.search ?? '?org=acme&range=90d')
  const stores = createStores(api, createViewStore(mem.loc, mem.history, () => NOW))
  return { api, stores, mem }
}

export function renderWith(stores: Stores, ui: ReactNode) {
  return render(
    <MantineProvider env="test" theme={theme}>
      <StoresProvider stores={stores}>{ui}</StoresProvider>
    </MantineProvider>,
  )
}
