import { Group, Text, Tooltip } from '@mantine/core'
import { memo } from 'react'
import type { EventDTO } from '../api/types'
import { formatTimestamp, type TimeZoneMode } from '../lib/time'
import { CategoryIcon, RiskChip, StatusChip } from './EventChips'
import classes from './Timeline.module.css'

/** Shortens a resource id to the part people recognise (bucket, instance, VM). */
export function shortResource(r: string): string {
  const slash = r.lastIndexOf('/')
  if (slash >= 0 && slash < r.length - 1) return r.slice(slash + 1)
  const colon = r.lastIndexOf(':')
  return colon >= 0 ? r.slice(colon + 1) : r
}

export interface TimelineRowProps {
  event: EventDTO
  index: number
  selected: boolean
  fresh: boolean
  tz: TimeZoneMode
  onOpen(index: number): void
}

/** One event in the timeline: time, category, action, user, provider, resources, status and risk. */
export const TimelineRow = memo(function TimelineRow({ event: e, index, selected, fresh, tz, onOpen }: TimelineRowProps) {
  const resources = e.resourceIds ?? []
  return (
    <div
      role="option"
      id={`row-${index}`}
      aria-selected={selected}
      data-testid="timeline-row"
      data-index={index}
      data-id={e.id}
      className={classes.row}
      data-selected={selected || undefined}
      data-fresh={fresh || undefined}
      data-attention={e.status === 'failed' || e.riskLevel === 'high' || undefined}
      onClick={() => onOpen(index)}
    >
      <Text className={classes.time} ff="monospace" size="xs" c="dimmed">
        {formatTimestamp(e.timestamp, tz)}
      </Text>
      <span className={classes.icon} data-category={e.category}>
        <CategoryIcon category={e.category} />
      </span>
      <Text className={classes.action} size="sm" fw={500} truncate>
        {e.actionType}
      </Text>
      <Text className={classes.user} size="sm" c="dimmed" truncate>
        {e.userId}
      </Text>
      <Text className={classes.provider} size="xs" tt="uppercase" fw={600} c="dimmed">
        {e.provider}
      </Text>
      <Tooltip label={resources.join('\n') || 'no resource'} openDelay={500} multiline maw={520} style={{ whiteSpace: 'pre-wrap', wordBreak: 'break-all' }}>
        <Text className={classes.resource} size="xs" ff="monospace" truncate>
          {resources.length ? shortResource(resources[0] ?? '') : '—'}
          {resources.length > 1 ? ` +${resources.length - 1}` : ''}
        </Text>
      </Tooltip>
      <Group gap={6} className={classes.chips} wrap="nowrap" justify="flex-end">
        <StatusChip status={e.status} />
        <RiskChip risk={e.riskLevel} />
      </Group>
    </div>
  )
})
