import { Alert, Button, Group, Text } from '@mantine/core'
import { useId, useMediaQuery } from '@mantine/hooks'
import { IconChevronDown, IconChevronUp, IconHourglassLow } from '@tabler/icons-react'
import { useEffect, useState } from 'react'
import type { ExpiringDTO } from '../api/types'
import { formatDateTime } from '../lib/time'
import { useStores, useView } from '../store/context'
import type { TimeRange } from '../store/view'
import { ExportDialog } from './ExportDialog'

/** How far ahead the banner warns (the app's ExpiringWarningDays). */
export const EXPIRING_WARNING_DAYS = 7

/**
 * Where the banner is one line, its explanation behind "Details": the
 * desktop window's smallest sizes and small laptop screens, where three
 * lines of it would leave the timeline a row or two.
 */
export const COMPACT_BANNER_MEDIA = '(max-width: 1099px), (max-height: 820px)'

/**
 * The view (query and absolute range) that selects the expiring events:
 * their categories, from the oldest to the latest cutoff. With one window
 * for all of them (the usual case) that is exactly those events; with
 * different windows per category it is a superset, never less.
 */
export function expiringView(e: ExpiringDTO): { q: string; range: { kind: 'absolute'; from: string; to: string } } | undefined {
  if (!e.count || !e.oldest || e.groups.length === 0) return undefined
  const to = e.groups.map((g) => g.until).sort().at(-1) ?? e.horizon
  return { q: e.groups.map((g) => `category:${g.category}`).join(' '), range: { kind: 'absolute', from: e.oldest, to } }
}

/**
 * Warns when retention will prune events of the organization within the
 * next week, and offers an archive export of exactly those first.
 */
export function RetentionBanner({ days = EXPIRING_WARNING_DAYS, pollMs = 10 * 60_000 }: { days?: number; pollMs?: number }) {
  const { api, view } = useStores()
  const org = useView((s) => s.org)
  const tz = useView((s) => s.tz)
  const [expiring, setExpiring] = useState<ExpiringDTO>()
  const [dismissed, setDismissed] = useState<string>()
  const [exporting, setExporting] = useState(false)
  // The view before "Export them…" set the expiring selection, put back
  // when the dialog closes unless the user changed the view meanwhile.
  const [before, setBefore] = useState<{ q: string; range: TimeRange; set: { q: string; range: TimeRange } }>()

  useEffect(() => {
    if (!org) return
    let live = true
    // A failure only hides the warning: it must never get in the way of the log.
    const load = () => api.expiringEvents(org, days).then((e) => live && setExpiring(e), () => live && setExpiring(undefined))
    load()
    const t = pollMs ? setInterval(load, pollMs) : undefined
    return () => {
      live = false
      if (t) clearInterval(t)
    }
  }, [api, org, days, pollMs])

  // Read at once, so that the full banner does not flash first.
  const compact = useMediaQuery(COMPACT_BANNER_MEDIA, undefined, { getInitialValueInEffect: false })
  const [details, setDetails] = useState(false)
  const detailId = useId()

  const target = expiring && expiring.org === org ? expiringView(expiring) : undefined
  const show = expiring && target && dismissed !== org
  const title = show ? `${expiring.count.toLocaleString()} ${expiring.count === 1 ? 'event expires' : 'events expire'} within ${days} days` : ''
  const detail = show && (
    <Text size="sm" data-testid="retention-banner-detail" id={detailId} style={{ minWidth: 0 }}>
      The retention policy removes the {expiring.groups.map((g) => g.category).join(', ')} events dated from{' '}
      {formatDateTime(expiring.oldest ?? expiring.horizon, tz)} to {formatDateTime(expiring.newest ?? expiring.horizon, tz)}. Their tombstones keep the log
      verifiable; export them first to keep their content.
    </Text>
  )
  // Keyed, so that it stays the same button (its focus, and the focus the
  // export dialog returns to it) when a resize changes the banner's layout.
  const exportThem = show && (
    <Button
      key="export"
      size="compact-sm"
      variant="default"
      style={{ flexShrink: 0 }}
      data-testid="retention-export"
      onClick={() => {
        const { q, range } = view.getState()
        setBefore({ q, range, set: target })
        view.getState().set(target)
        setExporting(true)
      }}
    >
      Export them…
    </Button>
  )
  return (
    <>
      {show &&
        (compact ? (
          <Alert
            color="yellow"
            variant="light"
            radius={0}
            py={6}
            icon={<IconHourglassLow size={18} />}
            withCloseButton
            closeButtonLabel="Dismiss"
            onClose={() => setDismissed(org)}
            data-testid="retention-banner"
            data-compact
            styles={{ icon: { marginTop: 4 }, closeButton: { marginTop: 3 } }}
          >
            <Group gap="xs" wrap="nowrap">
              <Text size="sm" fw={700} truncate title={title} style={{ color: 'var(--alert-color)', minWidth: 0 }}>
                {title}
              </Text>
              <Button
                size="compact-sm"
                variant="subtle"
                color="yellow"
                style={{ flexShrink: 0 }}
                rightSection={details ? <IconChevronUp size={14} /> : <IconChevronDown size={14} />}
                aria-expanded={details}
                aria-controls={details ? detailId : undefined}
                onClick={() => setDetails((d) => !d)}
                data-testid="retention-banner-toggle"
              >
                Details
              </Button>
              <span style={{ flex: 1 }} />
              {exportThem}
            </Group>
            {details && <div style={{ marginTop: 4 }}>{detail}</div>}
          </Alert>
        ) : (
          <Alert
            color="yellow"
            variant="light"
            radius={0}
            icon={<IconHourglassLow size={18} />}
            title={title}
            withCloseButton
            closeButtonLabel="Dismiss"
            onClose={() => setDismissed(org)}
            data-testid="retention-banner"
          >
            <Group justify="space-between" wrap="nowrap" gap="sm">
              {detail}
              {exportThem}
            </Group>
          </Alert>
        ))}
      <ExportDialog
        opened={exporting}
        onClose={() => {
          setExporting(false)
          const cur = view.getState()
          if (before && cur.q === before.set.q && JSON.stringify(cur.range) === JSON.stringify(before.set.range)) {
            view.getState().set({ q: before.q, range: before.range })
          }
          setBefore(undefined)
        }}
      />
    </>
  )
}
