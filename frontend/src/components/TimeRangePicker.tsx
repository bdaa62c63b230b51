import { Button, Group, Popover, SegmentedControl, Stack, Text, Tooltip } from '@mantine/core'
import { DateTimePicker } from '@mantine/dates'
import { IconCalendar } from '@tabler/icons-react'
import { useState } from 'react'
import { dayjs, formatShort, type TimeZoneMode } from '../lib/time'
import { useStores, useView } from '../store/context'
import { PRESETS, rangeBounds, type Preset } from '../store/view'

// The picker works in wall-clock strings; convert them in the chosen zone.
function toPicker(ms: number, tz: TimeZoneMode): string {
  return (tz === 'utc' ? dayjs(ms).utc() : dayjs(ms)).format('YYYY-MM-DD HH:mm:ss')
}
function fromPicker(s: string, tz: TimeZoneMode): number {
  return (tz === 'utc' ? dayjs.utc(s) : dayjs(s)).valueOf()
}

/** Presets (15 m … 90 d), an absolute from–to, and whether times show in UTC or local time. */
export function TimeRangePicker() {
  const { view } = useStores()
  const range = useView((s) => s.range)
  const tz = useView((s) => s.tz)
  const now = useView((s) => s.now)
  const [open, setOpen] = useState(false)
  const b = rangeBounds(range, now)
  const [from, setFrom] = useState<string | null>(null)
  const [to, setTo] = useState<string | null>(null)

  const openPicker = () => {
    setFrom(toPicker(b.since, tz))
    setTo(toPicker(b.until ?? now, tz))
    setOpen(true)
  }
  const applyAbsolute = () => {
    if (!from || !to) return
    let f = fromPicker(from, tz)
    let t = fromPicker(to, tz)
    if (t < f) [f, t] = [t, f]
    view.getState().set({ range: { kind: 'absolute', from: new Date(f).toISOString(), to: new Date(t).toISOString() } })
    setOpen(false)
  }

  return (
    <Group gap="xs" wrap="nowrap">
      <SegmentedControl
        size="sm"
        aria-label="Time range"
        data-testid="range-presets"
        value={range.kind === 'relative' ? range.preset : ''}
        onChange={(v) => view.getState().set({ range: { kind: 'relative', preset: v as Preset } })}
        data={PRESETS.map((p) => ({ label: p, value: p }))}
      />
      <Popover opened={open} onChange={setOpen} position="bottom-end" shadow="md" trapFocus withArrow>
        <Popover.Target>
          <Button
            variant={range.kind === 'absolute' ? 'light' : 'default'}
            size="sm"
            leftSection={<IconCalendar size={16} />}
            onClick={() => (open ? setOpen(false) : openPicker())}
            data-testid="range-absolute"
          >
            {range.kind === 'absolute' ? `${formatShort(b.since, tz)} – ${formatShort(b.until ?? now, tz)}` : 'Custom'}
          </Button>
        </Popover.Target>
        <Popover.Dropdown>
          <Stack gap="xs" w={300}>
            <Text size="sm" fw={600}>
              Absolute range ({tz === 'utc' ? 'UTC' : 'local time'})
            </Text>
            <DateTimePicker label="From" value={from} onChange={setFrom} withSeconds valueFormat="YYYY-MM-DD HH:mm:ss" data-testid="range-from" popoverProps={{ withinPortal: false }} />
            <DateTimePicker label="To" value={to} onChange={setTo} withSeconds valueFormat="YYYY-MM-DD HH:mm:ss" data-testid="range-to" popoverProps={{ withinPortal: false }} />
            <Group justify="flex-end" gap="xs">
              <Button variant="default" size="xs" onClick={() => setOpen(false)}>
                Cancel
              </Button>
              <Button size="xs" onClick={applyAbsolute} data-testid="range-apply">
                Apply
              </Button>
            </Group>
          </Stack>
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
