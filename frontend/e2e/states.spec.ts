import { expect, test } from '@playwright/test'
import { FAKE, appUrl, open, shot } from './helpers'

test('a filter that matches nothing says so and offers a way out', async ({ page }) => {
  await open(page, { range: '15m' })
  await page.goto(appUrl({ range: '15m', q: 'user:nobody@nowhere.example' }))
  await expect(page.getByTestId('empty-state')).toContainText('No events match')
  await shot(page, 'empty-filter')
  await page.getByRole('button', { name: 'Clear the query' }).last().click()
  await expect(page.getByTestId('timeline-row').first()).toBeVisible()
})

test('a locked keychain is explained with how to unlock it', async ({ page }) => {
  test.skip(!FAKE, 'needs the demo log to simulate a locked keychain')
  await page.goto(appUrl({ fail: 'keychain_unavailable' }))
  const state = page.getByTestId('error-state')
  await expect(state).toHaveAttribute('data-code', 'keychain_unavailable')
  await expect(state).toContainText('The keychain is locked')
  await expect(state).toContainText('Passwords and Keys')
  await expect(page.getByTestId('profile')).toHaveText('demo')
  await shot(page, 'keychain-locked')
})
