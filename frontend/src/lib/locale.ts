/**
 * Makes navigator.language usable by Intl.
 *
 * A webview started without a locale (LANG unset or "C", as on CI machines
 * and in some desktop sessions) reports navigator.language as "C", which is
 * not a BCP 47 tag: `new Intl.NumberFormat('C')` throws a RangeError, and
 * uPlot builds such a formatter when its module loads, so the histogram
 * (and, in the desktop window, the whole first screen) would never render.
 * When the tag is unusable this reports "en-US" instead, the language the UI
 * is written in. Returns the language in effect.
 */
export function ensureUsableLanguage(nav: Navigator = navigator): string {
  if (usable(nav.language)) return nav.language
  const fallback = 'en-US'
  Object.defineProperty(nav, 'language', { value: fallback, configurable: true })
  Object.defineProperty(nav, 'languages', { value: Object.freeze([fallback]), configurable: true })
  return fallback
}

function usable(tag: string | undefined): boolean {
  if (!tag) return false
  try {
    new Intl.NumberFormat(tag)
    new Intl.DateTimeFormat(tag)
    return true
  } catch {
    return false
  }
}
