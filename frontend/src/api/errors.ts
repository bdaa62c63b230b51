import type { ErrorDTO, FieldError } from './types'

/** An error the application reported, with its stable code. */
export class ApiError extends Error {
  readonly code: string
  readonly fields: FieldError[]
  readonly status: number | undefined

  constructor(dto: ErrorDTO, status?: number) {
    super(dto.message || dto.code)
    this.name = 'ApiError'
    this.code = dto.code
    this.fields = dto.fields ?? []
    this.status = status
  }
}

/** Turns anything thrown by a transport into an ApiError. */
export function toApiError(err: unknown): ApiError {
  if (err instanceof ApiError) return err
  // Wails rejects with the Go error's text; the app encodes ErrorDTO as JSON there.
  if (typeof err === 'string') {
    const dto = parseErrorDTO(err)
    return new ApiError(dto ?? { code: 'internal', message: err })
  }
  if (err && typeof err === 'object' && 'code' in err && 'message' in err) {
    const o = err as { code: unknown; message: unknown; fields?: unknown }
    return new ApiError({ code: String(o.code), message: String(o.message), fields: Array.isArray(o.fields) ? (o.fields as FieldError[]) : undefined })
  }
  if (err instanceof TypeError) {
    return new ApiError({ code: 'unreachable', message: err.message })
  }
  if (err instanceof Error) {
    const dto = parseErrorDTO(err.message)
    return new ApiError(dto ?? { code: 'internal', message: err.message })
  }
  return new ApiError({ code: 'internal', message: String(err) })
}

export function parseErrorDTO(text: string): ErrorDTO | undefined {
  try {
    const v: unknown = JSON.parse(text)
    if (v && typeof v === 'object' && typeof (v as ErrorDTO).code === 'string') {
      const e = v as ErrorDTO
      return { code: e.code, message: typeof e.message === 'string' ? e.message : e.code, fields: e.fields }
    }
  } catch {
    // not JSON
  }
  return undefined
}

/** What an error means for the user and what they can do about it. */
export interface ErrorAdvice {
  title: string
  steps: string[]
}

/**
 * Advice for the errors of writing into a chosen folder, shared by the
 * Export and Reports dialogs; `again` ends a step ("export again").
 */
export function folderAdvice(err: ApiError, again: string): ErrorAdvice | undefined {
  switch (err.code) {
    case 'folder_not_writable':
      return { title: 'Cannot write in this folder', steps: ['Axiom Audit may not create files there (permission denied or a read-only disk).', `Choose another folder, or change the folder’s permissions, and ${again}.`] }
    case 'folder_not_found':
      return { title: 'The folder does not exist', steps: ['Create the folder first, or choose one that exists.'] }
    case 'disk_full':
      return { title: 'The disk is full', steps: [`Nothing was left behind. Free some space or choose a folder on another disk, then ${again}.`] }
  }
  return undefined
}

export function adviceFor(err: ApiError): ErrorAdvice {
  switch (err.code) {
    case 'keychain_unavailable':
    case 'keychain_locked':
      return {
        title: 'The keychain is locked',
        steps: [
          'Axiom Audit keeps its encryption keys in your OS keychain and could not open it.',
          'Linux: unlock the "Login" keyring (Passwords and Keys / seahorse), or log in to a desktop session with gnome-keyring running.',
          'macOS: open Keychain Access and unlock the login keychain. Windows: sign in to your account again.',
          'Then reload this view. Headless servers can start with --keystore file instead.',
        ],
      }
    case 'unauthorized':
      return {
        title: 'This browser is not signed in',
        steps: [
          'Open the login link that axiom-audit serve printed when it started: it signs this browser in.',
          'The link works once, for one browser. To sign in another browser, or this one again after its data was cleared, restart axiom-audit serve and open the new link it prints.',
        ],
      }
    case 'integrity_alert':
    case 'tampered':
      return {
        title: 'The log failed an integrity check',
        steps: [
          'An event or checkpoint does not match its recorded hash: the log may have been altered on disk.',
          'Run `axiom-audit verify` for the full report, and keep a copy of the data directory before changing anything.',
        ],
      }
    case 'unreachable':
      return {
        title: 'Cannot reach Axiom Audit',
        steps: ['Is `axiom-audit serve` still running? Start it again and reload this page.'],
      }
    case 'invalid_query':
    case 'invalid_argument':
      return { title: 'The filter is not valid', steps: err.fields.map((f) => `${f.field}: ${f.reason}`) }
    case 'not_found':
      return { title: 'Not found', steps: ['It may belong to another organization, or retention may have removed it.'] }
    default:
      return { title: 'Something went wrong', steps: ['Try again. If it keeps happening, run with --verbose and check the output.'] }
  }
}
