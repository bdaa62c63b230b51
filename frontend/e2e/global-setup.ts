import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { createWriteStream, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { request } from '@playwright/test'
import { ARTIFACTS, AUTH_STATE, BINARY, SERVER_FILE, type Server } from './server'

/**
 * Starts the real application for the browser tests: a demo profile written
 * by `axiom-audit demo` into a fresh data directory, served by `axiom-audit
 * serve` on a free loopback port, signed in once through the one-time login
 * link it prints. The session cookie is saved as storageState for every spec.
 * It builds nothing: `make e2e` builds build/bin/axiom-audit first.
 *
 * Environment:
 *   AXIOM_E2E_EVENTS    demo events to write (default 100000)
 *   AXIOM_E2E_ORGS      organizations they are spread over (default 3)
 *   AXIOM_E2E_DATA_DIR  serve this existing data directory instead (no demo run,
 *                       kept afterwards), e.g. a 1,000,000-event profile for perf
 *   AXIOM_E2E_KEYSTORE  keychain or file: where that directory's keys are
 *   AXIOM_E2E_BINARY    the binary (default ../build/bin/axiom-audit)
 *
 * Keys live in the OS keychain when run under build/scripts/with-keychain.sh
 * (AXIOM_TEST_KEYCHAIN=1, what `make e2e` does), else in the file keystore, so
 * a developer's own keychain never receives demo keys.
 */
export default async function globalSetup(): Promise<() => Promise<void>> {
  if (!existsSync(BINARY)) throw new Error(`${BINARY} does not exist: build it first (make e2e does)`)
  mkdirSync(ARTIFACTS, { recursive: true })
  const keystore = (process.env.AXIOM_E2E_KEYSTORE ?? (process.env.AXIOM_TEST_KEYCHAIN === '1' ? 'keychain' : 'file')) as Server['keystore']
  const given = process.env.AXIOM_E2E_DATA_DIR
  const tmp = given ? undefined : mkdtempSync(path.join(tmpdir(), 'axiom-e2e-'))
  const dataDir = given ?? path.join(tmp!, 'data')
  const cli = (...args: string[]) => ['--data-dir', dataDir, '--keystore', keystore, ...args]
  const run = (...args: string[]) => {
    const r = spawnSync(BINARY, cli(...args), { encoding: 'utf8', timeout: 30 * 60_000 })
    if (r.status !== 0) throw new Error(`axiom-audit ${args.join(' ')} failed (${r.status ?? r.signal}): ${r.stderr}`)
    return r.stdout
  }

  if (!given) {
    const events = process.env.AXIOM_E2E_EVENTS ?? '100000'
    const orgs = process.env.AXIOM_E2E_ORGS ?? '3'
    const t0 = Date.now()
    const said = run('demo', '--events', events, '--orgs', orgs).trim()
    process.stdout.write(`e2e: ${said} (${keystore} keystore, ${Date.now() - t0} ms)\n`)
  }
  // A token for appending the live spec's events through the API, as another
  // program would; made before serve takes the profile's lock.
  const appendToken = run('token', 'create', '--org', 'acme-prod', '--scope', 'append').trim().split('\n').pop()!

  const log = createWriteStream(path.join(ARTIFACTS, 'serve.log'))
  const serve = spawn(BINARY, cli('serve', '--addr', '127.0.0.1:0'), { stdio: ['ignore', 'pipe', 'pipe'] })
  serve.stderr.pipe(log)
  const loginUrl = await new Promise<string>((resolve, reject) => {
    let out = ''
    const timer = setTimeout(() => reject(new Error(`axiom-audit serve printed no login link within 60 s:\n${out}`)), 60_000)
    serve.on('exit', (code) => reject(new Error(`axiom-audit serve exited (${code}) before it printed a login link:\n${out}`)))
    serve.stdout.on('data', (b: Buffer) => {
      out += b.toString()
      log.write(b)
      const m = /(http:\/\/127\.0\.0\.1:\d+)\/login\?token=\S+/.exec(out)
      if (m) {
        clearTimeout(timer)
        resolve(m[0])
      }
    })
  })
  const baseURL = new URL(loginUrl).origin

  // Sign in once; every spec starts with this session: its cookie, and
  // its key, which the login redirect hands the app's page in the URL
  // fragment and the page keeps in localStorage.
  const ctx = await request.newContext({ baseURL })
  const res = await ctx.get(loginUrl, { maxRedirects: 0 })
  const location = res.headers()['location'] ?? ''
  const key = /#session=([^&]+)/.exec(location)?.[1]
  if (res.status() !== 302 || !key) throw new Error(`login through ${baseURL}/login failed: ${res.status()} ${location}`)
  const info = await ctx.get('/api/info', { headers: { 'X-Axiom-Session': key } })
  if (!info.ok()) throw new Error(`the login did not give a session: /api/info answered ${info.status()}`)
  mkdirSync(path.dirname(AUTH_STATE), { recursive: true })
  const state = await ctx.storageState()
  state.origins = [{ origin: baseURL, localStorage: [{ name: 'axiom-audit-session', value: key }] }]
  writeFileSync(AUTH_STATE, JSON.stringify(state, null, 2))
  await ctx.dispose()

  const server: Server = { baseURL, dataDir, keystore, appendToken }
  writeFileSync(SERVER_FILE, JSON.stringify(server, null, 2))
  process.env.AXIOM_E2E_BASE_URL = baseURL
  process.stdout.write(`e2e: axiom-audit serve at ${baseURL} over ${dataDir}\n`)

  return async () => {
    await stop(serve)
    log.end()
    rmSync(SERVER_FILE, { force: true })
    rmSync(AUTH_STATE, { force: true })
    if (tmp) rmSync(tmp, { recursive: true, force: true })
  }
}

/** SIGTERM, as a user's Ctrl-C; SIGKILL if it does not exit within 10 s. */
async function stop(p: ChildProcess): Promise<void> {
  if (p.exitCode !== null || p.signalCode !== null) return
  const exited = new Promise<void>((resolve) => p.once('exit', () => resolve()))
  p.kill('SIGTERM')
  const timer = setTimeout(() => p.kill('SIGKILL'), 10_000)
  await exited
  clearTimeout(timer)
}
