import { Button, Group, Loader, NativeSelect, Popover, SegmentedControl, Tooltip } from '@mantine/core'
import { useMediaQuery } from '@mantine/hooks'
import { IconCalendar } from '@tabler/icons-react'
import { Suspense, useState } from 'react'
import { useCloseOnEscape } from '../lib/escape'
import { lazyRetry } from '../lib/lazyRetry'
import { formatShort, type TimeZoneMode } from '../lib/time'
import { useStores, useView } from '../store/context'
import { PRESETS, rangeBounds, type Preset } from '../store/view'

const AbsoluteRangeForm = lazyRetry(() => import('./AbsoluteRangeForm').then((m) => ({ default: m.AbsoluteRangeForm })))

/** Presets (15 m … 90 d), an absolute from–to, and whether times show in UTC or local time. */
export function TimeRangePicker() {
  const { view } = useStores()
  const range = useView((s) => s.range)
  const tz = useView((s) => s.tz)
  const now = useView((s) => s.now)
  const [open, setOpen] = useState(false)
  // Also while the form's chunk loads, before focus is in the popover.
  useCloseOnEscape(open, () => setOpen(false))
  const b = rangeBounds(range, now)
  // Below 1000 pixels the six presets take half the toolbar and leave the
  // query a few words: they fold into a list there, as narrow as one of them.
  const narrow = useMediaQuery('(max-width: 999px)', false, { getInitialValueInEffect: false })
  const preset = range.kind === 'relative' ? range.preset : ''
  const choose = (v: string) => v && view.getState().set({ range: { kind: 'relative', preset: v as Preset } })

  return (
    <Group gap="xs" wrap="nowrap">
      {narrow ? (
        <NativeSelect
          size="sm"
          w={84}
          aria-label="Time range"
          data-testid="range-presets"
          value={preset}
          onChange={(e) => choose(e.currentTarget.value)}
          data={[...(preset ? [] : [{ label: '–', value: '', disabled: true }]), ...PRESETS.map((p) => ({ label: p, value: p }))]}
        />
      ) : (
        <SegmentedControl
          size="sm"
          aria-label="Time range"
          data-testid="range-presets"
          value={preset}
          onChange={choose}
          data={PRESETS.map((p) => ({ label: p, value: p }))}
        />
      )}
      <Popover opened={open} onChange={setOpen} position="bottom-end" shadow="md" trapFocus returnFocus withArrow>
        <Popover.Target>
          <Button
            variant={range.kind === 'absolute' ? 'light' : 'default'}
            size="sm"
            fw={500}
            leftSection={<IconCalendar size={16} />}
            onClick={() => setOpen((o) => !o)}
            data-testid="range-absolute"
          >
            {range.kind === 'absolute' ? `${formatShort(b.since, tz)} – ${formatShort(b.until ?? now, tz)}` : 'Custom'}
          </Button>
        </Popover.Target>
        <Popover.Dropdown>
          {open && (
            <Suspense fallback={<Loader size="xs" />}>
              <AbsoluteRangeForm
                since={b.since}
                until={b.until ?? now}
                tz={tz}
                onCancel={() => setOpen(false)}
                onApply={(f, t) => {
                  view.getState().set({ range: { kind: 'absolute', from: new Date(f).toISOString(), to: new Date(t).toISOString() } })
                  setOpen(false)
                }}
              />
            </Suspense>
          )}
        </Popover.Dropdown>
      </Popover>
      <Tooltip label="Show times in UTC or in local time">
        <SegmentedControl
          size="sm"
          aria-label="Time zone"
          value={tz}
          onChange={(v) => view.getState().set({ tz: v as TimeZoneMode }, 'replace')}
          data={[
            { label: 'Local', value: 'local' },
            { label: 'UTC', value: 'utc' },
          ]}
          data-testid="tz-toggle"
        />
      </Tooltip>
    </Group>
  )
}
