import { defineConfig } from '@playwright/test'

// Browser tests run on Debian's Chromium (never a downloaded browser) against
// the built frontend (npm run build first). AXIOM_E2E_BASE_URL points at an
// already running server instead of starting one.
const port = 4173
export default defineConfig({
  testDir: 'e2e',
  outputDir: '../build/artifacts/e2e',
  timeout: 30_000,
  retries: 0,
  workers: 1,
  reporter: [['list']],
  webServer: process.env.AXIOM_E2E_BASE_URL
    ? undefined
    : {
        command: `npx vite preview --port ${port} --strictPort --host 127.0.0.1`,
        url: `http://127.0.0.1:${port}`,
        reuseExistingServer: false,
        timeout: 60_000,
      },
  use: {
    baseURL: process.env.AXIOM_E2E_BASE_URL ?? `http://127.0.0.1:${port}`,
    screenshot: 'only-on-failure',
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
      ],
    },
  },
})
