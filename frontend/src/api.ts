// The one module that knows how the UI reaches the application: Wails
// bindings inside the desktop app, the local REST API in the browser.
// Components import from here and never learn which transport is in use.

export interface AppInfo {
  name: string
  version: string
  profile: string
  dataDir: string
}

interface WailsApp {
  Info(): Promise<AppInfo>
  Ready(): Promise<void>
}

declare global {
  interface Window {
    go?: { app?: { App?: WailsApp } }
  }
}

function wails(): WailsApp | undefined {
  return window.go?.app?.App
}

/** Which transport this build talks through. */
export function transport(): 'wails' | 'http' {
  return wails() ? 'wails' : 'http'
}

async function getJSON<T>(path: string): Promise<T> {
  const res = await fetch(path, { headers: { Accept: 'application/json' } })
  if (!res.ok) {
    throw new Error(`${path}: ${res.status} ${res.statusText}`)
  }
  return (await res.json()) as T
}

export async function getInfo(): Promise<AppInfo> {
  const w = wails()
  if (w) return w.Info()
  return getJSON<AppInfo>('/api/info')
}

/** Tells the application the first screen has rendered. */
export async function reportReady(): Promise<void> {
  const w = wails()
  if (w) await w.Ready()
}
