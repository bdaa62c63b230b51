import { defineConfig } from '@playwright/test'
import { ARTIFACTS, AUTH_STATE } from './e2e/server'

// Browser tests on Debian's Chromium (never a downloaded browser) against the
// real application: e2e/global-setup.ts writes a demo profile with
// build/bin/axiom-audit, serves it with `axiom-audit serve`, signs in once
// and stops the server afterwards. `make e2e` builds the binary and runs this
// under build/scripts/with-keychain.sh, so the keys live in a real keychain.
//
// Projects:
//   app   every spec, against the served demo profile
//   fake  states only the in-memory demo log can produce (a locked keychain),
//         loaded with ?fake=1 from the same server; tagged @fake
//   perf  timings over 1,000,000 events (tagged @perf), only with
//         AXIOM_E2E_PERF=1: `make bench-ui`
// Screenshots and perf.json land in build/artifacts/e2e/.
const perf = process.env.AXIOM_E2E_PERF === '1'
const chromium = {
  viewport: { width: 1440, height: 900 },
  launchOptions: {
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update'],
  },
}
export default defineConfig({
  testDir: 'e2e',
  outputDir: `${ARTIFACTS}/test-results`,
  globalSetup: './e2e/global-setup.ts',
  timeout: 45_000,
  expect: { timeout: 10_000 },
  retries: 0,
  workers: 1,
  reporter: [['list']],
  use: {
    ...chromium,
    storageState: AUTH_STATE,
    screenshot: 'only-on-failure',
  },
  projects: perf
    ? [{ name: 'perf', grep: /@perf/, timeout: 300_000 }]
    : [
        { name: 'app', grepInvert: /@fake|@perf/ },
        { name: 'fake', grep: /@fake/ },
      ],
})
