import { readFileSync } from 'node:fs'
import path from 'node:path'

// Where the tests find the application that global-setup.ts started. Paths
// are resolved from the frontend directory, where Playwright runs.
const frontend = path.resolve(import.meta.dirname, '..')

export const ARTIFACTS = path.resolve(frontend, '../build/artifacts/e2e')
export const BINARY = path.resolve(frontend, process.env.AXIOM_E2E_BINARY ?? '../build/bin/axiom-audit')
/** The signed-in session every spec starts with. */
export const AUTH_STATE = path.join(ARTIFACTS, '.auth', 'state.json')
export const SERVER_FILE = path.join(ARTIFACTS, '.auth', 'server.json')

/** The running `axiom-audit serve`. */
export interface Server {
  baseURL: string
  dataDir: string
  keystore: 'keychain' | 'file'
  /** A bearer token with append scope for organization acme-prod. */
  appendToken: string
}

let cached: Server | undefined

export function server(): Server {
  cached ??= JSON.parse(readFileSync(SERVER_FILE, 'utf8')) as Server
  return cached
}
