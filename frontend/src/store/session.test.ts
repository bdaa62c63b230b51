import { describe, expect, it } from 'vitest'
import { createFakeApi } from '../api/fake'
import type { OrganizationDTO } from '../api/types'
import { createSessionStore } from './session'

describe('session.refreshOrgs', () => {
  it('keeps the newest call\'s answer when an older one answers late', async () => {
    const api = createFakeApi([])
    const pending: ((orgs: OrganizationDTO[]) => void)[] = []
    api.organizations = () => new Promise((resolve) => pending.push(resolve))
    const session = createSessionStore(api, undefined)
    const first = session.getState().refreshOrgs()
    const second = session.getState().refreshOrgs()
    pending[1]?.([{ id: 'acme', size: 7 }])
    await second
    pending[0]?.([{ id: 'acme', size: 5 }])
    await first
    expect(session.getState().orgs).toEqual([{ id: 'acme', size: 7 }])
  })

  it('keeps the list shown when a refresh fails', async () => {
    const api = createFakeApi([])
    const session = createSessionStore(api, undefined)
    await session.getState().refreshOrgs()
    const shown = session.getState().orgs
    api.organizations = () => Promise.reject(new Error('gone'))
    await session.getState().refreshOrgs()
    expect(session.getState().orgs).toBe(shown)
  })

  it('a newer refresh that fails does not throw away an older answer', async () => {
    const api = createFakeApi([])
    const calls: { resolve: (o: OrganizationDTO[]) => void; reject: (e: unknown) => void }[] = []
    api.organizations = () => new Promise((resolve, reject) => calls.push({ resolve, reject }))
    const session = createSessionStore(api, undefined)
    const start = session.getState().start()
    const refresh = session.getState().refreshOrgs()
    calls[1]!.reject(new Error('busy'))
    await refresh
    calls[0]!.resolve([{ id: 'acme', size: 7 }])
    await start
    expect(session.getState().orgs).toEqual([{ id: 'acme', size: 7 }])
  })
})
