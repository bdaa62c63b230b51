import { Alert, Badge, Button, Code, Group, Paper, Stack, Text, Tooltip } from '@mantine/core'
import { IconRefresh } from '@tabler/icons-react'
import type { ApiError } from '../api/errors'
import type { SyncDestinationDTO, SyncStatusDTO } from '../api/types'
import { formatDateTime, fromNow, type TimeZoneMode } from '../lib/time'
import { counted } from '../lib/count'

/** What the header shows for an organization's sync as a whole. */
export type SyncSummaryState = 'loading' | 'unavailable' | 'off' | 'synced' | 'behind' | 'retrying' | 'stopped'

export interface SyncSummary {
  state: SyncSummaryState
  color: string
  /** One short line under "Sync" in the header. */
  line: string
}

export const KIND_LABEL: Record<SyncDestinationDTO['kind'], string> = {
  tenant: 'Cloud tenant',
  s3: 'S3 bucket',
  azure: 'Azure Blob container',
  webhook: 'SIEM webhook',
}

const STATE_COLOR: Record<SyncDestinationDTO['state'], string> = {
  healthy: 'teal',
  retrying: 'orange',
  stopped: 'red',
  disabled: 'gray',
}

/** The worst state among the enabled destinations. */
export function summarize(status: SyncStatusDTO | undefined, error?: ApiError): SyncSummary {
  if (!status) return error ? { state: 'unavailable', color: 'gray', line: 'Unavailable' } : { state: 'loading', color: 'gray', line: '…' }
  const on = status.destinations.filter((d) => d.enabled)
  if (on.length === 0) return { state: 'off', color: 'gray', line: 'Off' }
  if (on.some((d) => d.state === 'stopped')) return { state: 'stopped', color: 'red', line: 'Stopped' }
  if (on.some((d) => d.state === 'retrying')) return { state: 'retrying', color: 'orange', line: 'Failing, retrying' }
  const lag = Math.max(...on.map((d) => d.lagEvents))
  if (lag > 0) return { state: 'behind', color: 'blue', line: `${lag.toLocaleString('en-US')} behind` }
  return { state: 'synced', color: 'teal', line: 'Up to date' }
}

/** "42 s", "5 min", "3 h", "2 d". */
export function formatWait(seconds: number): string {
  const s = Math.max(0, Math.round(seconds))
  if (s < 60) return `${s} s`
  if (s < 3600) return `${Math.floor(s / 60)} min`
  if (s < 86400) return `${Math.floor(s / 3600)} h`
  return `${Math.floor(s / 86400)} d`
}

function lagLine(d: SyncDestinationDTO): string {
  if (d.lagEvents === 0) return 'Up to date'
  const n = `${counted(d.lagEvents, 'event')} behind`
  return d.lagSeconds >= 1 ? `${n}, oldest waiting ${formatWait(d.lagSeconds)}` : n
}

function Destination({ d, tz, org }: { d: SyncDestinationDTO; tz: TimeZoneMode; org: string }) {
  return (
    <Paper withBorder radius="sm" p="xs" data-testid={`sync-destination-${d.kind}`}>
      <Stack gap={4}>
        <Group justify="space-between" wrap="nowrap" gap="xs">
          <Text size="sm" fw={600}>
            {KIND_LABEL[d.kind] ?? d.kind}
            {d.format ? (
              <Text span size="xs" c="dimmed" fw={400}>
                {' '}
                · {d.format}
              </Text>
            ) : null}
          </Text>
          <Badge size="sm" variant="light" color={STATE_COLOR[d.state] ?? 'gray'}>
            {d.state}
          </Badge>
        </Group>
        <Text size="xs" c="dimmed" truncate="end" title={d.target}>
          {d.target}
        </Text>
        {d.enabled && (
          <Text size="xs" data-testid="sync-lag">
            {lagLine(d)}
          </Text>
        )}
        <Text size="xs">
          Last success:{' '}
          {d.lastSuccess ? (
            <Tooltip label={formatDateTime(d.lastSuccess, tz)}>
              <span data-testid="sync-last-success">{fromNow(d.lastSuccess)}</span>
            </Tooltip>
          ) : (
            <span data-testid="sync-last-success">never</span>
          )}
          {d.includes === 'states' ? ' · sends decrypted states' : ''}
        </Text>
        {d.stopped ? (
          <Text size="xs" c="red" data-testid="sync-stopped" style={{ overflowWrap: 'anywhere' }}>
            Stopped: {d.stopped}
          </Text>
        ) : d.lastError ? (
          <Text size="xs" c={d.state === 'healthy' ? 'dimmed' : 'red'} data-testid="sync-last-error" lineClamp={3} title={d.lastError} style={{ overflowWrap: 'anywhere' }}>
            Last error{d.lastErrorAt ? ` ${fromNow(d.lastErrorAt)}` : ''}
            {d.failures > 1 ? ` (${d.failures} in a row)` : ''}: {d.lastError}
          </Text>
        ) : null}
        {(d.prunedBeforeDelivery ?? 0) > 0 && (
          <Text size="xs" c="orange" data-testid="sync-pruned">
            {counted(d.prunedBeforeDelivery ?? 0, 'event')} pruned by retention before delivery: this destination&apos;s copy lacks
            them.
          </Text>
        )}
        {d.stopped?.startsWith('integrity alert') && <WitnessAdvice org={org} />}
      </Stack>
    </Paper>
  )
}

/** What to do when a destination witnessed a checkpoint the local log does not extend. */
function WitnessAdvice({ org }: { org: string }) {
  return (
    <Alert color="red" variant="light" p="xs" title="Integrity alert" data-testid="sync-witness-advice">
      <Text size="xs">
        The destination holds a checkpoint of this log that the log on this machine does not extend: it may have been rolled back,
        truncated or rewritten. New events for {org || 'this organization'} are refused until the alert is acknowledged. Run{' '}
        <Code fz="xs">axiom-audit verify --org {org || 'ORG'}</Code>; if this database is the right one, close the app and run{' '}
        <Code fz="xs">axiom-audit recover --acknowledge --org {org || 'ORG'}</Code>, then enable the destination again.
      </Text>
    </Alert>
  )
}

/** Tells how to opt in: sync is a deliberate, audited choice made from a terminal. */
function SyncOff({ org }: { org: string }) {
  const o = org || 'ORG'
  return (
    <Stack gap="xs" data-testid="sync-off">
      <Text size="sm">
        Sync is off for <b>{org || 'this organization'}</b>: nothing leaves this machine.
      </Text>
      <Text size="sm">To send this organization&apos;s log to your cloud tenant, your own S3 bucket or Azure Blob container, or a SIEM, opt in from a terminal:</Text>
      <Code block fz="xs" data-testid="sync-enable-command" style={{ whiteSpace: 'pre-wrap', overflowWrap: 'anywhere' }}>
        {[
          `axiom-audit sync enable --org ${o} \\\n  --to tenant --url URL --token-file FILE`,
          `axiom-audit sync enable --org ${o} \\\n  --to s3 --bucket BUCKET [--prefix P]`,
          `axiom-audit sync enable --org ${o} \\\n  --to azure --account-url https://ACCOUNT.blob.core.windows.net \\\n  --container C --credentials-file FILE`,
          `axiom-audit sync enable --org ${o} \\\n  --to webhook --url URL --format jsonl \\\n  --secret-file FILE`,
        ].join('\n')}
      </Code>
      <Text size="xs" c="dimmed">
        Secrets go to the OS keychain. Only commitments of the before/after states are sent unless you add{' '}
        <Code fz="xs" style={{ whiteSpace: 'nowrap' }}>
          --include-sensitive
        </Code>
        . Opting in and out is recorded in the log.
      </Text>
    </Stack>
  )
}

export interface SyncPanelProps {
  org: string
  tz: TimeZoneMode
  status: SyncStatusDTO | undefined
  error: ApiError | undefined
  running: boolean
  /** The error of the last run-now, per destination. */
  runError: string | undefined
  onRunNow(): void
}

/** The destinations of one organization with their lag, last success and last error, and "Sync now". */
export function SyncPanel({ org, tz, status, error, running, runError, onRunNow }: SyncPanelProps) {
  const summary = summarize(status, error)
  const enabled = status?.destinations.some((d) => d.enabled) ?? false
  return (
    <Stack gap="sm" data-testid="sync-panel">
      <Group justify="space-between">
        <Text fw={600}>Sync</Text>
        <Badge color={summary.color} variant="light" data-testid="sync-state">
          {summary.state}
        </Badge>
      </Group>
      {error && (
        <Alert color="red" variant="light" title="Sync status is unavailable" data-testid="sync-error">
          {error.message}
        </Alert>
      )}
      {status && !enabled && <SyncOff org={org} />}
      {status?.destinations.map((d) => <Destination key={d.kind} d={d} tz={tz} org={org} />)}
      {runError && (
        <Alert color="red" variant="light" title="Some deliveries failed" data-testid="sync-run-error">
          <Text size="xs" style={{ whiteSpace: 'pre-wrap', overflowWrap: 'anywhere' }}>
            {runError}
          </Text>
        </Alert>
      )}
      {enabled && (
        <>
          <Button leftSection={<IconRefresh size={16} />} onClick={onRunNow} loading={running} data-testid="sync-run-now">
            Sync now
          </Button>
          <Text size="xs" c="dimmed">
            Delivers every pending event now. A destination stopped by a rejection is tried again; one stopped by an integrity alert is not.
          </Text>
        </>
      )}
    </Stack>
  )
}
