import { createServer, connect, type Server as NetServer, type Socket } from 'node:net'
import { readFileSync } from 'node:fs'
import { AUTH_STATE, server } from './server'
import { expect, rows, shot, test } from './helpers'

/**
 * A TCP relay to the served app that can be taken away and brought back on
 * the same port: to the page, the app is gone (connection refused) and back,
 * without stopping the server every spec shares (its sessions live in memory).
 */
async function relay(port = 0) {
  const target = new URL(server().baseURL)
  const sockets = new Set<Socket>()
  let srv: NetServer | undefined
  const listen = (p: number) =>
    new Promise<number>((resolve, reject) => {
      srv = createServer((client) => {
        const upstream = connect(Number(target.port), target.hostname)
        for (const s of [client, upstream]) {
          sockets.add(s)
          s.on('close', () => sockets.delete(s))
          s.on('error', () => s.destroy())
        }
        client.pipe(upstream).pipe(client)
      })
      srv.once('error', reject)
      srv.listen(p, '127.0.0.1', () => resolve((srv!.address() as { port: number }).port))
    })
  const bound = await listen(port)
  return {
    url: `http://127.0.0.1:${bound}`,
    down: () =>
      new Promise<void>((resolve) => {
        srv?.close(() => resolve())
        for (const s of sockets) s.destroy()
      }),
    up: () => listen(bound),
  }
}

test('says it is offline while the app is gone, keeps the checkpoint it knew, and recovers by itself', async ({ page }) => {
  test.setTimeout(90_000)
  const r = await relay()
  // The session key lives in the origin's storage, and the relay is another origin (port).
  const state = JSON.parse(readFileSync(AUTH_STATE, 'utf8')) as { origins: { localStorage: { name: string; value: string }[] }[] }
  const key = state.origins[0]!.localStorage[0]!.value
  await page.addInitScript((k) => window.localStorage.setItem('axiom-audit-session', k), key)
  await page.clock.install()
  await page.goto(`${r.url}/?org=acme-prod`)
  await expect(rows(page).first()).toBeVisible()
  const badge = page.getByTestId('live-badge')
  await expect(badge).toHaveText('Live')
  const integrity = page.getByTestId('integrity-badge')
  await expect(integrity).toContainText(/Checkpoint [\d,]+/)
  const checkpoint = /Checkpoint [\d,]+/.exec((await integrity.textContent()) ?? '')![0]

  await r.down()
  await expect(badge).toHaveText('Offline — reconnecting', { timeout: 20_000 })
  await expect(badge).not.toHaveClass(/liveDot/)
  // The periodic checkpoint refresh fails: the checkpoint known stays.
  await page.clock.fastForward('00:31')
  await page.clock.fastForward('00:31')
  await expect(integrity).toContainText(checkpoint)
  await expect(integrity).not.toContainText('No checkpoint yet')
  await shot(page, 'offline-reconnecting')

  await r.up()
  await expect(badge).toHaveText('Live', { timeout: 30_000 })
  await expect(integrity).toContainText(checkpoint)
  await r.down()
})
