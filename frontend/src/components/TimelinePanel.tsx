import { Badge, Button, Group, Paper, Text, Tooltip } from '@mantine/core'
import { useElementSize } from '@mantine/hooks'
import { IconArrowUp, IconPlayerPause, IconPlayerPlay } from '@tabler/icons-react'
import { useRef } from 'react'
import { parseQuery, textTerms } from '../query/parse'
import { useResults, useSession, useStores, useView } from '../store/context'
import { EmptyState, ErrorState, LoadingState } from './StatusStates'
import { ExportButton } from './ExportDialog'
import { ReportButton } from './ReportDialog'
import { AuditCopyButton } from './AuditCopyDialog'
import { ToolbarButton } from './ToolbarButton'
import { Timeline } from './Timeline'
import classes from './TimelinePanel.module.css'
import { counted } from '../lib/count'

/**
 * The panel's width below which the toolbar's buttons show only their
 * icons, so that they stay on the count's row: with their words they take
 * about 400 pixels, 600 with Copy for auditor… (the desktop app's).
 */
export function compactToolbarBelow(canCopyForAudit: boolean): number {
  return canCopyForAudit ? 940 : 760
}

/** The timeline with its toolbar (count, live mode) and its empty, loading and error states. */
export function TimelinePanel() {
  const { api, results, view } = useStores()
  // Unmeasured (0, as in tests without layout) means wide.
  const { ref: panelRef, width } = useElementSize()
  const compact = width > 0 && width < compactToolbarBelow(api.canCopyForAudit)
  const scrollRef = useRef<HTMLDivElement | null>(null)
  const loading = useResults((s) => s.loading)
  const error = useResults((s) => s.error)
  const rowsCount = useResults((s) => s.rows.length)
  const hasMore = useResults((s) => !!s.nextCursor)
  const paused = useResults((s) => s.paused)
  const pending = useResults((s) => s.pending.length)
  // While a new query's histogram loads, the last query's total (say 0) is
  // not this one's: it is kept only while the last query's rows are still
  // what the list shows (the first page not in yet). Once this query's
  // rows are in, the header counts them until its histogram answers.
  const total = useResults((s) =>
    s.histogramLoading && !(s.loading && s.rows.length > 0) ? undefined : s.histogram?.buckets.reduce((n, b) => n + b.count, 0),
  )
  const range = useView((s) => s.range)
  const q = useView((s) => s.q)
  const live = range.kind === 'relative'
  const offline = useSession((s) => s.offline)

  const showNew = () => {
    results.getState().showPending()
    scrollRef.current?.scrollTo({ top: 0 })
    results.getState().setAtTop(true)
  }

  let body
  if (error && rowsCount === 0) body = <ErrorState error={error} onRetry={() => view.getState().refresh()} />
  else if (loading && rowsCount === 0) body = <LoadingState label="Loading events…" />
  else if (!loading && rowsCount === 0)
    body = (
      <EmptyState
        title="No events match"
        actions={
          <Group gap="xs">
            {q && (
              <Button size="xs" variant="light" onClick={() => view.getState().set({ q: '' })}>
                Clear the query
              </Button>
            )}
            {!(range.kind === 'relative' && range.preset === '90d') && (
              <Button size="xs" variant="default" onClick={() => view.getState().set({ range: { kind: 'relative', preset: '90d' } })}>
                Search the last 90 days
              </Button>
            )}
          </Group>
        }
      >
        {q ? (
          <>
            Nothing in this time range matches
            {/* On a line of its own, and cut anywhere when too long: a break at a hyphen would read as two terms. */}
            <code style={{ display: 'block', margin: '4px 0', overflowWrap: 'anywhere', wordBreak: 'break-all' }} data-testid="empty-query">
              {q}
            </code>
          </>
        ) : (
          'Nothing in this time range matches the filters. '
        )}
        Widen the range or remove a term.
        {textTerms(parseQuery(q).filter.text ?? '').length > 1 && ' Every word without a field must be in the event, so try fewer of them (or "quote a phrase").'}
      </EmptyState>
    )
  else body = <Timeline scrollRef={scrollRef} />

  return (
    <Paper withBorder radius="md" className={classes.panel} ref={panelRef}>
      <Group className={classes.toolbar} justify="space-between" wrap="wrap" style={{ rowGap: 6 }} data-testid="timeline-toolbar" data-compact={compact || undefined}>
        <Group gap="xs" wrap="nowrap">
          <Text size="sm" fw={600}>
            Events
          </Text>
          <Text size="sm" c="dimmed" data-testid="event-count" style={{ whiteSpace: 'nowrap' }}>
            {total !== undefined ? `${total.toLocaleString('en-US')} in range` : rowsCount ? `${rowsCount.toLocaleString('en-US')}${hasMore ? '+' : ''}` : ''}
            {rowsCount > 0 && ` · ${rowsCount.toLocaleString('en-US')} loaded`}
          </Text>
          {loading && rowsCount > 0 && (
            <Badge size="xs" variant="light" color="gray">
              updating
            </Badge>
          )}
        </Group>
        <Group gap={compact ? 'xs' : 'sm'} wrap="wrap" justify="flex-end" ml="auto" style={{ rowGap: 6 }}>
          <ExportButton compact={compact} />
          <ReportButton compact={compact} />
          <AuditCopyButton compact={compact} />
          {offline && !live && (
            <Tooltip label={`Cannot reach Axiom Audit (${offline.message}); trying again.`} multiline w={300}>
              <Badge variant="dot" color="red" size="md" data-testid="offline-badge" role="status">
                {compact ? 'Offline' : 'Offline — reconnecting'}
              </Badge>
            </Tooltip>
          )}
          {live ? (
            <Group gap="xs" wrap="nowrap">
              {offline ? (
                // Not live while the app is out of reach: the rows may miss events, and the badge must not say otherwise.
                <Tooltip label={`Cannot reach Axiom Audit (${offline.message}); new events will load when it answers again.`} multiline w={300}>
                  <Badge variant="dot" color="red" size="md" data-testid="live-badge" data-offline="true" role="status">
                    {compact ? 'Offline' : 'Offline — reconnecting'}
                  </Badge>
                </Tooltip>
              ) : (
                <Badge variant="dot" color={paused ? 'gray' : 'teal'} size="md" data-testid="live-badge" className={paused ? undefined : classes.liveDot}>
                  {paused ? 'Paused' : 'Live'}
                </Badge>
              )}
              <ToolbarButton
                compact={compact}
                icon={paused ? <IconPlayerPlay size={14} /> : <IconPlayerPause size={14} />}
                label={paused ? 'Resume' : 'Pause'}
                tooltip={paused ? 'Resume live updates' : 'Pause live updates; new events are counted, not shown'}
                onClick={() => results.getState().setPaused(!paused)}
                testId="live-toggle"
              />
            </Group>
          ) : (
            // Said briefly beside the live badge's place; why, on hover or focus.
            <Tooltip
              label="Live updates are off for a fixed time range. Choose a relative range, such as 24h, to see new events as they arrive."
              multiline
              w={280}
              events={{ hover: true, focus: true, touch: true }}
            >
              <Badge variant="dot" color="gray" size="md" tabIndex={0} data-testid="live-off">
                Not live
              </Badge>
            </Tooltip>
          )}
        </Group>
      </Group>
      <div className={classes.body}>
        {pending > 0 && (
          <Button
            className={classes.pill}
            radius="xl"
            size="compact-sm"
            leftSection={<IconArrowUp size={14} />}
            onClick={showNew}
            data-testid="new-events-pill"
          >
            {counted(pending, 'new event')}
          </Button>
        )}
        {body}
      </div>
    </Paper>
  )
}
