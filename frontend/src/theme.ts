import { createTheme, localStorageColorSchemeManager } from '@mantine/core'

export const theme = createTheme({
  primaryColor: 'indigo',
  defaultRadius: 'md',
  fontFamily: 'Inter, "Segoe UI", system-ui, -apple-system, Roboto, "Helvetica Neue", Arial, sans-serif',
  fontFamilyMonospace: '"JetBrains Mono", "SFMono-Regular", ui-monospace, Menlo, Consolas, "DejaVu Sans Mono", monospace',
  headings: { fontWeight: '650' },
  // No animated transitions (popovers, menus, drawers) for users who ask
  // their system for reduced motion.
  respectReducedMotion: true,
  colors: {
    dark: ['#C9CDD4', '#A6ABB5', '#7C828D', '#5C616B', '#3A3E46', '#2C3038', '#22252C', '#1A1C22', '#141519', '#0E0F12'],
  },
})

/** Light, dark or system, remembered in localStorage. */
export const colorSchemeManager = localStorageColorSchemeManager({ key: 'axiom-audit:color-scheme' })
