import '@testing-library/jest-dom/vitest'
import { cleanup, configure } from '@testing-library/react'
import { afterEach } from 'vitest'

afterEach(() => cleanup())

// The machine running the suite may be busy; give async UI more than a second.
configure({ asyncUtilTimeout: 5000 })

// jsdom lacks what Mantine and TanStack Virtual use for layout. The suite
// asks for reduced motion, which the theme respects: Mantine's transitions
// then complete at once instead of leaving timers that could fire after a
// test file's environment is gone.
if (!window.matchMedia) {
  Object.defineProperty(window, 'matchMedia', {
    writable: true,
    value: (query: string) => ({
      matches: query.includes('prefers-reduced-motion: reduce'), media: query, onchange: null,
      addListener: () => {}, removeListener: () => {}, addEventListener: () => {}, removeEventListener: () => {}, dispatchEvent: () => false,
    }),
  })
}
class ResizeObserverStub {
  observe() {}
  unobserve() {}
  disconnect() {}
}
if (!('ResizeObserver' in window)) Object.defineProperty(window, 'ResizeObserver', { writable: true, value: ResizeObserverStub })
window.HTMLElement.prototype.scrollIntoView = function scrollIntoView() {}
if (!window.HTMLElement.prototype.scrollTo) window.HTMLElement.prototype.scrollTo = function scrollTo() {}

// Give elements a size so the virtualised timeline renders rows in jsdom.
Object.defineProperty(window.HTMLElement.prototype, 'offsetHeight', { configurable: true, get: () => 800 })
Object.defineProperty(window.HTMLElement.prototype, 'offsetWidth', { configurable: true, get: () => 1000 })
Object.defineProperty(window.HTMLElement.prototype, 'clientHeight', { configurable: true, get: () => 800 })
Object.defineProperty(window.HTMLElement.prototype, 'clientWidth', { configurable: true, get: () => 1000 })
