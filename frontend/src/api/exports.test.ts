import { describe, expect, it, vi } from 'vitest'
import { ApiError } from './errors'
import { createRestApi } from './rest'
import type { ExportJobDTO, ExportProgress, ExportRequest } from './types'
import { createWailsApi, type WailsBindings, type WailsRuntime } from './wails'

const REQ: ExportRequest = { query: { org: 'acme', statuses: ['failed'] }, format: 'jsonl', outDir: '/tmp/ev', includeSensitive: false }
const RESULT = { dir: '/tmp/ev/axiom-audit-export-acme-20261120T120000Z', format: 'jsonl', count: 2, firstSeq: 1, lastSeq: 2, bytes: 10, includeSensitive: false, files: [] }

function job(over: Partial<ExportJobDTO>): ExportJobDTO {
  return {
    id: 'x', state: 'running', org: 'acme', format: 'jsonl', outDir: '/tmp/ev', includeSensitive: false, startedAt: '2026-11-20T12:00:00Z',
    progress: { events: 0, total: 2, bytes: 0, etaSeconds: 0 }, ...over,
  }
}

function json(body: unknown, status = 200) {
  return new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } })
}

describe('REST exports', () => {
  it('POSTs the request with its id, polls the job for progress and returns the bundle', async () => {
    const answers = [job({ progress: { events: 1, total: 2, bytes: 5, etaSeconds: 1 } }), job({ state: 'done', progress: { events: 2, total: 2, bytes: 10, etaSeconds: 0 }, result: RESULT })]
    const fetch = vi.fn(async (_url: string, init?: RequestInit) => (init?.method === 'POST' ? json(job({}), 202) : json(answers.shift())))
    const api = createRestApi({ fetch: fetch as unknown as typeof globalThis.fetch })
    const seen: ExportProgress[] = []
    const h = api.startExport(REQ, (p) => seen.push(p))
    await expect(h.result).resolves.toEqual(RESULT)
    const [url, init] = fetch.mock.calls[0]!
    expect(url).toBe('/api/exports')
    expect(JSON.parse(String(init?.body))).toEqual({ ...REQ, id: h.id })
    expect(fetch.mock.calls[1]![0]).toBe('/api/exports/' + h.id)
    expect(seen.map((p) => p.events)).toEqual([0, 1, 2])
  })

  it('rejects with the job error code, and the start error code', async () => {
    const failed = job({ state: 'failed', error: { code: 'disk_full', message: 'no space left on device' } })
    let api = createRestApi({ fetch: (async () => json(failed, 202)) as unknown as typeof fetch })
    await expect(api.startExport(REQ).result).rejects.toMatchObject({ code: 'disk_full', message: 'no space left on device' })
    api = createRestApi({ fetch: (async () => json({ code: 'folder_not_found', message: 'cannot export to /nope' }, 422)) as unknown as typeof fetch })
    const err = await api.startExport(REQ).result.catch((e: unknown) => e)
    expect(err).toBeInstanceOf(ApiError)
    expect(err).toMatchObject({ code: 'folder_not_found', status: 422 })
  })

  it('cancels through the job resource', async () => {
    let state: ExportJobDTO['state'] = 'running'
    const fetch = vi.fn(async (url: string, init?: RequestInit) => {
      if (url.endsWith('/cancel')) state = 'cancelled'
      if (init?.method === 'POST') return json(job({ state }), url.endsWith('/cancel') ? 200 : 202)
      return json(job({ state, error: state === 'cancelled' ? { code: 'cancelled', message: 'export cancelled' } : undefined }))
    })
    const api = createRestApi({ fetch: fetch as unknown as typeof globalThis.fetch })
    const h = api.startExport(REQ)
    await h.cancel()
    await expect(h.result).rejects.toMatchObject({ code: 'cancelled' })
    expect(fetch.mock.calls.some(([u, i]) => u === `/api/exports/${h.id}/cancel` && i?.method === 'POST')).toBe(true)
  })
})

describe('Wails exports', () => {
  it('passes its id to Export, keeps only its progress events and cancels by id', async () => {
    let handler: ((p: unknown) => void) | undefined
    const off = vi.fn()
    const rt: WailsRuntime = {
      EventsOn: (name, cb) => {
        if (name === 'audit:export-progress') handler = cb as (p: unknown) => void
        return off
      },
    }
    let finish!: () => void
    const app = {
      Info: vi.fn(),
      ChooseExportFolder: vi.fn(async () => ''),
      Export: vi.fn((req: ExportRequest & { id: string }) => new Promise((res) => (finish = () => res({ ...RESULT, files: null, format: req.format })))),
      CancelExport: vi.fn(async () => {}),
    } as unknown as WailsBindings
    const api = createWailsApi(app, rt)
    expect(api.canPickFolder).toBe(true)
    await expect(api.chooseExportFolder()).resolves.toBeUndefined()
    const seen: ExportProgress[] = []
    const h = api.startExport(REQ, (p) => seen.push(p))
    expect(app.Export).toHaveBeenCalledWith({ ...REQ, id: h.id })
    handler?.({ id: 'someone-else', events: 9, total: 9, bytes: 9, etaSeconds: 0 })
    handler?.({ id: h.id, events: 1, total: 2, bytes: 5, etaSeconds: 1 })
    expect(seen).toEqual([{ events: 1, total: 2, bytes: 5, etaSeconds: 1 }])
    await h.cancel()
    expect(app.CancelExport).toHaveBeenCalledWith(h.id)
    finish()
    await expect(h.result).resolves.toMatchObject({ dir: RESULT.dir, files: [] })
    expect(off).toHaveBeenCalled()
  })

  it('reads the code out of a binding error', async () => {
    const app = {
      Info: vi.fn(),
      Export: vi.fn(async () => {
        throw '{"code":"folder_not_writable","message":"cannot write in /srv: permission denied"}'
      }),
    } as unknown as WailsBindings
    await expect(createWailsApi(app, undefined).startExport(REQ).result).rejects.toMatchObject({ code: 'folder_not_writable' })
  })
})
