import { describe, expect, it } from 'vitest'
import { ensureUsableLanguage } from './locale'

function fakeNavigator(language: string | undefined): Navigator {
  return { language, languages: language ? [language] : [] } as unknown as Navigator
}

describe('ensureUsableLanguage', () => {
  it.each([
    ['C', 'en-US'],
    ['', 'en-US'],
    [undefined, 'en-US'],
    ['en_US.UTF-8', 'en-US'],
    ['de-DE', 'de-DE'],
    ['en-GB', 'en-GB'],
  ])('navigator.language %j becomes %j', (given, want) => {
    const nav = fakeNavigator(given)
    expect(ensureUsableLanguage(nav)).toBe(want)
    expect(nav.language).toBe(want)
    // What uPlot does when its module loads must not throw any more.
    expect(() => new Intl.NumberFormat(nav.language)).not.toThrow()
  })

  it('replaces navigator.languages too when the language is unusable', () => {
    const nav = fakeNavigator('C')
    ensureUsableLanguage(nav)
    expect(nav.languages).toEqual(['en-US'])
  })
})
