import { Popover, Stack, Text, UnstyledButton } from '@mantine/core'
import { IconCloud, IconCloudCheck, IconCloudExclamation, IconCloudOff, IconCloudUp } from '@tabler/icons-react'
import { useCallback, useEffect, useRef, useState } from 'react'
import { toApiError, type ApiError } from '../api/errors'
import type { SyncStatusDTO } from '../api/types'
import { useApi, useView } from '../store/context'
import classes from './Header.module.css'
import { SyncPanel, summarize, type SyncSummaryState } from './SyncPanel'
import { useCloseOnEscape } from '../lib/escape'

const ICON: Record<SyncSummaryState, typeof IconCloud> = {
  loading: IconCloud,
  unavailable: IconCloud,
  off: IconCloudOff,
  synced: IconCloudCheck,
  behind: IconCloudUp,
  retrying: IconCloudExclamation,
  stopped: IconCloudExclamation,
}

interface SyncState {
  status?: SyncStatusDTO
  error?: ApiError
  running: boolean
  runError?: string
}

/** The organization's sync status, refreshed every pollMs and on demand. */
function useSyncStatus(org: string, pollMs: number) {
  const api = useApi()
  const [state, setState] = useState<SyncState>({ running: false })
  const current = useRef(org)
  current.current = org

  const refresh = useCallback(() => {
    if (!org) return
    api.syncStatus(org).then(
      (status) => current.current === org && setState((s) => ({ ...s, status, error: undefined })),
      (err: unknown) => current.current === org && setState((s) => ({ ...s, error: toApiError(err) })),
    )
  }, [api, org])

  useEffect(() => {
    // No organization yet (an empty log): nothing can be synced.
    setState(org ? { running: false } : { running: false, status: { org, destinations: [] } })
    refresh()
    if (!pollMs) return
    const t = setInterval(refresh, pollMs)
    return () => clearInterval(t)
  }, [refresh, pollMs])

  const runNow = useCallback(() => {
    if (!org) return
    setState((s) => ({ ...s, running: true, runError: undefined }))
    api.syncRunNow(org).then(
      (status) => current.current === org && setState({ status, running: false, runError: status.error || undefined }),
      (err: unknown) => current.current === org && setState((s) => ({ ...s, running: false, runError: toApiError(err).message })),
    )
  }, [api, org])

  return { ...state, refresh, runNow }
}

/** A small "Sync" status next to the integrity badge; opens the destinations panel. */
export function SyncIndicator({ pollMs = 30_000 }: { pollMs?: number }) {
  const org = useView((s) => s.org)
  const tz = useView((s) => s.tz)
  const sync = useSyncStatus(org, pollMs)
  const summary = summarize(sync.status, sync.error)
  const Icon = ICON[summary.state]
  const [opened, setOpened] = useState(false)
  useCloseOnEscape(opened, () => setOpened(false))
  return (
    // trapFocus: focus moves into the popover as it opens; Esc closes it
    // also before then (useCloseOnEscape).
    <Popover opened={opened} onChange={setOpened} position="bottom-end" shadow="md" width={400} withArrow trapFocus returnFocus onOpen={sync.refresh}>
      <Popover.Target>
        <UnstyledButton className={classes.integrity} data-testid="sync-indicator" onClick={() => setOpened((o) => !o)} aria-label={`Sync: ${summary.line}`}>
          <Icon size={18} color={`var(--mantine-color-${summary.color}-6)`} />
          <Stack gap={0}>
            <Text size="xs" fw={600} lh={1.2}>
              Sync
            </Text>
            <Text size="xs" c="dimmed" lh={1.2} data-testid="sync-line">
              {sync.running ? 'Syncing…' : summary.line}
            </Text>
          </Stack>
        </UnstyledButton>
      </Popover.Target>
      <Popover.Dropdown>
        <SyncPanel
          org={org}
          tz={tz}
          status={sync.status}
          error={sync.error}
          running={sync.running}
          runError={sync.runError}
          onRunNow={sync.runNow}
        />
      </Popover.Dropdown>
    </Popover>
  )
}
