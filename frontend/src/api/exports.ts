// Helpers the transports share for evidence exports.

import { ApiError } from './errors'
import type { ExportHandle, ExportJobDTO, ExportProgress, ExportResultDTO } from './types'

/** A fresh export id (the app accepts 8 to 64 letters, digits or dashes). */
export function exportId(): string {
  const c = globalThis.crypto
  if (c && typeof c.randomUUID === 'function') return c.randomUUID()
  const b = new Uint8Array(16)
  if (c && typeof c.getRandomValues === 'function') c.getRandomValues(b)
  else for (let i = 0; i < b.length; i++) b[i] = Math.floor(Math.random() * 256)
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('')
}

/** How often a REST export job is polled; the server keeps the newest progress. */
export const EXPORT_POLL_MS = 200

/**
 * Follows an export job resource until it ends: progress from each poll,
 * the result when done, an ApiError with the job's code when it failed or
 * was cancelled.
 */
export function pollExport(
  id: string,
  started: Promise<ExportJobDTO>,
  get: () => Promise<ExportJobDTO>,
  cancel: () => Promise<void>,
  onProgress?: (p: ExportProgress) => void,
  intervalMs = EXPORT_POLL_MS,
): ExportHandle {
  const settle = (job: ExportJobDTO): ExportResultDTO | undefined => {
    onProgress?.(job.progress)
    if (job.state === 'running') return undefined
    if (job.state === 'done' && job.result) return { ...job.result, files: job.result.files ?? [] }
    throw new ApiError(job.error ?? { code: job.state === 'cancelled' ? 'cancelled' : 'internal', message: `The export ${job.state === 'cancelled' ? 'was cancelled' : 'failed'}.` })
  }
  const result = started.then(async (job) => {
    for (;;) {
      const done = settle(job)
      if (done) return done
      await new Promise((r) => setTimeout(r, intervalMs))
      job = await get()
    }
  })
  return {
    id,
    result,
    // Cancelling before the job exists waits for it to.
    cancel: () => started.then(() => cancel()),
  }
}
