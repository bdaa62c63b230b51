import { Button, Group, Stack, Text } from '@mantine/core'
import { DateTimePicker } from '@mantine/dates'
import '@mantine/dates/styles.css'
import { useState } from 'react'
import { dayjs, type TimeZoneMode } from '../lib/time'

// The picker works in wall-clock strings; convert them in the chosen zone.
function toPicker(ms: number, tz: TimeZoneMode): string {
  return (tz === 'utc' ? dayjs(ms).utc() : dayjs(ms)).format('YYYY-MM-DD HH:mm:ss')
}
function fromPicker(s: string, tz: TimeZoneMode): number {
  return (tz === 'utc' ? dayjs.utc(s) : dayjs(s)).valueOf()
}

/** From and to pickers for an absolute range, in UTC or local time. */
export function AbsoluteRangeForm({ since, until, tz, onApply, onCancel }: {
  since: number
  until: number
  tz: TimeZoneMode
  onApply(from: number, to: number): void
  onCancel(): void
}) {
  const [from, setFrom] = useState<string | null>(toPicker(since, tz))
  const [to, setTo] = useState<string | null>(toPicker(until, tz))
  const apply = () => {
    if (!from || !to) return
    const f = fromPicker(from, tz)
    const t = fromPicker(to, tz)
    onApply(Math.min(f, t), Math.max(f, t))
  }
  return (
    <Stack gap="xs" w={300}>
      <Text size="sm" fw={600}>
        Absolute range ({tz === 'utc' ? 'UTC' : 'local time'})
      </Text>
      <DateTimePicker label="From" value={from} onChange={setFrom} withSeconds valueFormat="YYYY-MM-DD HH:mm:ss" data-testid="range-from" popoverProps={{ withinPortal: false }} />
      <DateTimePicker label="To" value={to} onChange={setTo} withSeconds valueFormat="YYYY-MM-DD HH:mm:ss" data-testid="range-to" popoverProps={{ withinPortal: false }} />
      <Group justify="flex-end" gap="xs">
        <Button variant="default" size="xs" onClick={onCancel}>
          Cancel
        </Button>
        <Button size="xs" onClick={apply} data-testid="range-apply">
          Apply
        </Button>
      </Group>
    </Stack>
  )
}
