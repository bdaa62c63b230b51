import { expect, test } from '@playwright/test'

// Browser-mode smoke: the built frontend loads and renders its shell. Later
// suites run against `axiom-audit serve` over a demo profile.
test('the app shell renders', async ({ page }) => {
  await page.goto('/')
  await expect(page.getByRole('heading', { name: 'Axiom Audit' })).toBeVisible()
  await page.screenshot({ path: '../build/artifacts/e2e/app-shell.png' })
})
