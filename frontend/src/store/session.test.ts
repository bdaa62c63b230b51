import { describe, expect, it } from 'vitest'
import { ApiError } from '../api/errors'
import { createFakeApi } from '../api/fake'
import { makeEvent, NOW } from '../test/render'
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

describe('session.loadCheckpoint', () => {
  it('keeps the last checkpoint known when the app is out of reach, and says so', async () => {
    const api = createFakeApi([makeEvent(1), makeEvent(2)], { now: () => NOW })
    const session = createSessionStore(api, undefined)
    await session.getState().loadCheckpoint('acme')
    const known = session.getState().checkpoint
    expect(known?.size).toBe(2)
    api.latestCheckpoint = () => Promise.reject(new TypeError('Failed to fetch'))
    api.listEvents = () => Promise.reject(new TypeError('Failed to fetch'))
    await session.getState().loadCheckpoint('acme')
    expect(session.getState().checkpoint).toBe(known)
    expect(session.getState().checkpointError?.code).toBe('unreachable')
    expect(session.getState().offline?.code).toBe('unreachable')
  })

  it('shows no checkpoint only when the app says there is none', async () => {
    const api = createFakeApi([makeEvent(1)], { now: () => NOW })
    const session = createSessionStore(api, undefined)
    await session.getState().loadCheckpoint('acme')
    api.latestCheckpoint = () => Promise.reject(new ApiError({ code: 'not_found', message: 'no checkpoint' }, 404))
    await session.getState().loadCheckpoint('acme')
    expect(session.getState().checkpoint).toBeUndefined()
    expect(session.getState().checkpointError).toBeUndefined()
    expect(session.getState().offline).toBeUndefined()
  })

  it('does not show another organization\'s checkpoint when it cannot read this one\'s', async () => {
    const api = createFakeApi([makeEvent(1)], { now: () => NOW })
    const session = createSessionStore(api, undefined)
    await session.getState().loadCheckpoint('acme')
    api.latestCheckpoint = () => Promise.reject(new TypeError('Failed to fetch'))
    await session.getState().loadCheckpoint('other')
    expect(session.getState().checkpoint).toBeUndefined()
    expect(session.getState().checkpointError?.code).toBe('unreachable')
  })
})
