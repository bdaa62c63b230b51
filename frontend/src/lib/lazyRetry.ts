import { lazy, type ComponentType } from 'react'

/**
 * load, and when it fails (a chunk that cannot be fetched while the app is
 * out of reach) again every delayMs until it succeeds: the promise stays
 * pending meanwhile, so a Suspense boundary shows its fallback instead of
 * the error taking the whole window down.
 */
export function retrying<T>(load: () => Promise<T>, delayMs = 3000): Promise<T> {
  return load().catch(() => new Promise<T>((resolve) => setTimeout(() => resolve(retrying(load, delayMs)), delayMs)))
}

/** React.lazy whose chunk is fetched again until it loads (retrying). */
export function lazyRetry<T extends ComponentType<any>>(load: () => Promise<{ default: T }>, delayMs = 3000) {
  return lazy(() => retrying(load, delayMs))
}
