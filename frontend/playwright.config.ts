import { defineConfig } from '@playwright/test'

// Browser tests run on Debian's Chromium (never a downloaded browser).
//
// AXIOM_E2E_BASE_URL points them at an already running server, e.g.
// `axiom-audit serve` over a demo profile. Without it they build the
// frontend with the in-memory demo log (`npm run build:e2e`, VITE_FAKE_API=1,
// into dist-e2e/ so the app's own dist/ is untouched) and serve that with
// `vite preview`. Screenshots land in ../build/artifacts/e2e/.
const port = 4173
const external = process.env.AXIOM_E2E_BASE_URL
export default defineConfig({
  testDir: 'e2e',
  outputDir: '../build/artifacts/e2e/test-results',
  timeout: 45_000,
  expect: { timeout: 10_000 },
  retries: 0,
  workers: 1,
  reporter: [['list']],
  webServer: external
    ? undefined
    : {
        command: `npm run build:e2e && npx vite preview --outDir dist-e2e --port ${port} --strictPort --host 127.0.0.1`,
        url: `http://127.0.0.1:${port}`,
        reuseExistingServer: false,
        timeout: 240_000,
        stdout: 'ignore',
      },
  use: {
    baseURL: external ?? `http://127.0.0.1:${port}`,
    viewport: { width: 1440, height: 900 },
    screenshot: 'only-on-failure',
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update'],
    },
  },
})
