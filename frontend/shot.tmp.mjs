import { chromium } from '@playwright/test'
const url = process.argv[2], out = process.argv[3], scheme = process.argv[4] || 'light'
const b = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--headless', '--no-sandbox', '--disable-gpu'] })
const p = await b.newPage({ viewport: { width: 1440, height: 900 }, colorScheme: scheme })
p.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') console.log('console:', m.text().slice(0, 300)) })
p.on('pageerror', (e) => console.log('pageerror:', e.message))
const t0 = Date.now()
await p.goto(url)
await p.waitForSelector('[data-testid=timeline-row]', { timeout: 15000 }).catch((e) => console.log('no rows', e.message))
console.log('rows after', Date.now() - t0, 'ms')
await p.waitForTimeout(800)
if (process.argv[5]) { await p.click(process.argv[5]); await p.waitForTimeout(1200) }
await p.screenshot({ path: out })
await b.close()
