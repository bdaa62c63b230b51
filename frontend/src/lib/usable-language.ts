// Imported first by main.tsx, so that it runs before any other module is
// evaluated: module-level Intl formatters (uPlot has one) see a usable tag.
import { ensureUsableLanguage } from './locale'

ensureUsableLanguage()
