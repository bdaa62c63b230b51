import { useEffect, useState } from 'react'
import { getInfo, reportReady, type AppInfo } from './api'

type State =
  | { kind: 'loading' }
  | { kind: 'ready'; info: AppInfo }
  | { kind: 'error'; message: string }

/** The first screen: which log this window shows and where it lives. */
export function App() {
  const [state, setState] = useState<State>({ kind: 'loading' })

  useEffect(() => {
    let cancelled = false
    getInfo()
      .then((info) => !cancelled && setState({ kind: 'ready', info }))
      .catch((err: unknown) =>
        !cancelled && setState({ kind: 'error', message: err instanceof Error ? err.message : String(err) }),
      )
    return () => {
      cancelled = true
    }
  }, [])

  useEffect(() => {
    if (state.kind !== 'loading') void reportReady()
  }, [state.kind])

  return (
    <main className="shell">
      <header className="brand">
        <span className="logo" aria-hidden="true">◆</span>
        <h1>Axiom Audit</h1>
      </header>
      <p className="tagline">An immutable, encrypted, verifiable local audit log.</p>
      {state.kind === 'loading' && <p role="status">Opening the log…</p>}
      {state.kind === 'error' && (
        <p role="alert" className="error">
          Could not reach the application: {state.message}
        </p>
      )}
      {state.kind === 'ready' && <ProfileCard info={state.info} />}
    </main>
  )
}

function ProfileCard({ info }: { info: AppInfo }) {
  return (
    <dl className="card" aria-label="Profile">
      <dt>Profile</dt>
      <dd data-testid="profile">{info.profile}</dd>
      <dt>Data directory</dt>
      <dd data-testid="data-dir">
        <code>{info.dataDir}</code>
      </dd>
      <dt>Version</dt>
      <dd>{info.version}</dd>
    </dl>
  )
}
