import { render, screen } from '@testing-library/react'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { App } from './App'

afterEach(() => {
  vi.unstubAllGlobals()
  delete window.go
})

describe('App', () => {
  it('shows the profile and data directory from the Wails binding', async () => {
    window.go = {
      app: {
        App: {
          Info: () => Promise.resolve({ name: 'Axiom Audit', version: '1.2.3', profile: 'work', dataDir: '/d/axiom' }),
          Ready: vi.fn(() => Promise.resolve()),
        },
      },
    }
    render(<App />)
    expect(await screen.findByTestId('profile')).toHaveTextContent('work')
    expect(screen.getByTestId('data-dir')).toHaveTextContent('/d/axiom')
    expect(window.go.app?.App?.Ready).toHaveBeenCalled()
  })

  it('falls back to the REST API and says so when it fails', async () => {
    vi.stubGlobal('fetch', vi.fn(() => Promise.resolve(new Response('nope', { status: 503, statusText: 'Service Unavailable' }))))
    render(<App />)
    expect(await screen.findByRole('alert')).toHaveTextContent('/api/info: 503')
  })
})
