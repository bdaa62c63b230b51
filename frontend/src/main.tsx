import { StrictMode } from 'react'
import { createRoot } from 'react-dom/client'
import { App } from './App'
import { createApi } from './api'
import './styles.css'

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
