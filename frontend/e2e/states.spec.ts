import { appUrl, expect, open, shot, test } from './helpers'

test('a filter that matches nothing says so and offers a way out', async ({ page }) => {
  await open(page, { range: '7d' })
  await page.goto(appUrl({ range: '7d', q: 'user:nobody@nowhere.example' }))
  await expect(page.getByTestId('empty-state')).toContainText('No events match')
  await shot(page, 'empty-filter')
  await page.getByRole('button', { name: 'Clear the query' }).last().click()
  await expect(page.getByTestId('timeline-row').first()).toBeVisible()
})

// The fake project: `serve` opens the profile's keys when it starts and fails
// to start without them, so a real server never answers with a locked
// keychain. The in-memory demo log (?fake=1, from the same server's build)
// simulates that answer to show the state the desktop app shows.
test('a locked keychain is explained with how to unlock it @fake', async ({ page }) => {
  await page.goto(appUrl({ fake: '1', live: '0', fail: 'keychain_unavailable' }))
  const state = page.getByTestId('error-state')
  await expect(state).toHaveAttribute('data-code', 'keychain_unavailable')
  await expect(state).toContainText('The keychain is locked')
  await expect(state).toContainText('Passwords and Keys')
  await expect(page.getByTestId('profile')).toHaveText('demo')
  await shot(page, 'keychain-locked')
})
