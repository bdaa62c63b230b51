import { describe, expect, it, vi } from 'vitest'
import { createRestApi } from './rest'
import type { ReportResultDTO } from './types'
import { createWailsApi, type WailsBindings } from './wails'

// Both transports' writeReport: the same request, the same result (files
// never null), and errors with the app's codes.

const result = { dir: '/r/axiom-audit-report-acme-2026-Q3-x', pdf: false, integrity: 'verified', events: 3, evidenceEvents: 1, files: null, bytes: 9, sha256: 'a' } as unknown as ReportResultDTO
const req = { org: 'acme', period: '2026-Q3', outDir: '/r' }

describe('writeReport over REST', () => {
  it('POSTs /api/reports with the request and reads the result', async () => {
    const fetch = vi.fn((_u: RequestInfo | URL, _i?: RequestInit) => Promise.resolve(new Response(JSON.stringify(result), { status: 200 })))
    const api = createRestApi({ fetch })
    await expect(api.writeReport(req)).resolves.toMatchObject({ dir: result.dir, files: [] })
    const [url, init] = fetch.mock.calls[0]!
    expect(url).toBe('/api/reports')
    expect(init).toMatchObject({ method: 'POST' })
    expect(JSON.parse(init!.body as string)).toEqual(req)
  })
  it('rejects with the code and fields of the error', async () => {
    const body = { code: 'invalid_request', message: 'outDir: "x" is not an absolute path', fields: [{ field: 'outDir', reason: 'is not an absolute path' }] }
    const api = createRestApi({ fetch: () => Promise.resolve(new Response(JSON.stringify(body), { status: 400 })) })
    await expect(api.writeReport({ ...req, outDir: 'x' })).rejects.toMatchObject({ code: 'invalid_request', status: 400, fields: body.fields })
  })
  it('abandons the request when cancelled (the server then cancels the report), rejecting with code cancelled', async () => {
    const fetch = vi.fn((_u: RequestInfo | URL, init?: RequestInit) =>
      new Promise<Response>((_res, rej) => init?.signal?.addEventListener('abort', () => rej(new DOMException('aborted', 'AbortError')))))
    const api = createRestApi({ fetch })
    const ac = new AbortController()
    const p = api.writeReport(req, ac.signal)
    ac.abort()
    await expect(p).rejects.toMatchObject({ code: 'cancelled' })
    expect(fetch.mock.calls[0]![1]!.signal).toBe(ac.signal)
  })
})

describe('writeReport over Wails', () => {
  it('calls WriteReport and reads its ErrorDTO errors', async () => {
    const WriteReport = vi.fn(() => Promise.resolve(result))
    const api = createWailsApi({ WriteReport } as unknown as WailsBindings, undefined)
    await expect(api.writeReport(req)).resolves.toMatchObject({ files: [] })
    expect(WriteReport).toHaveBeenCalledWith({ ...req, id: expect.any(String) })
    const failing = createWailsApi({ WriteReport: () => Promise.reject('{"code":"folder_not_found","message":"cannot export to /nope: no such file"}') } as unknown as WailsBindings, undefined)
    await expect(failing.writeReport(req)).rejects.toMatchObject({ code: 'folder_not_found' })
  })
})

describe('cancelling a report over Wails', () => {
  it('calls CancelReport with the id WriteReport was given; WriteReport then fails with code cancelled', async () => {
    let fail!: (e: unknown) => void
    const WriteReport = vi.fn((_r: unknown) => new Promise((_res, rej) => { fail = rej }))
    const CancelReport = vi.fn((_id: string) => {
      fail('{"code":"cancelled","message":"context canceled"}')
      return Promise.resolve()
    })
    const api = createWailsApi({ WriteReport, CancelReport } as unknown as WailsBindings, undefined)
    const ac = new AbortController()
    const p = api.writeReport(req, ac.signal)
    await Promise.resolve()
    expect(CancelReport).not.toHaveBeenCalled()
    ac.abort()
    await expect(p).rejects.toMatchObject({ code: 'cancelled' })
    const { id } = WriteReport.mock.calls[0]![0] as { id: string }
    expect(CancelReport).toHaveBeenCalledWith(id)
  })
})
