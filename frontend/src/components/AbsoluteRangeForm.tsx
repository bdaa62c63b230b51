import { Button, Group, Stack, Text } from '@mantine/core'
import { DateTimePicker } from '@mantine/dates'
import '@mantine/dates/styles.css'
import { useState } from 'react'
import { pickedRange, shownRange } from '../lib/customRange'
import type { TimeZoneMode } from '../lib/time'

/** From and to pickers for an absolute range, to the second, in UTC or local time; To includes its whole second. */
export function AbsoluteRangeForm({ since, until, tz, onApply, onCancel }: {
  since: number
  until: number
  tz: TimeZoneMode
  onApply(from: number, to: number): void
  onCancel(): void
}) {
  const shown = shownRange({ since, until }, tz)
  const [from, setFrom] = useState<string | null>(shown.from)
  const [to, setTo] = useState<string | null>(shown.to)
  const apply = () => {
    if (!from || !to) return
    const r = pickedRange({ from, to }, { since, until }, tz)
    onApply(r.since, r.until)
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
