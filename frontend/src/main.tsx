import './lib/usable-language'
import { StrictMode } from 'react'
import { createRoot } from 'react-dom/client'
import { App } from './App'
import { createApi } from './api'
import './styles.css'

// In the desktop window nobody sees the console: send uncaught errors to the
// app's log (stderr), so a window that failed to render says why.
const logError = (msg: string) => window.runtime?.LogError?.(msg)
window.addEventListener('error', (e) => logError(`frontend: ${e.message} (${e.filename}:${e.lineno})`))
window.addEventListener('unhandledrejection', (e) => {
  const r: unknown = e.reason
  logError(`frontend: unhandled rejection: ${r instanceof Error ? (r.stack ?? r.message) : String(r)}`)
})

// Choose the transport (and load the demo log, if asked for) while React
// renders the first frame, not after it.
performance.mark('axiom:start')
const api = createApi()
void api.then(() => performance.mark('axiom:api'))

const root = document.getElementById('root')
if (!root) throw new Error('missing #root element')
createRoot(root).render(
  <StrictMode>
    <App api={api} />
  </StrictMode>,
)
