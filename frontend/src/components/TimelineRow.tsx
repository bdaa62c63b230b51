import { memo } from 'react'
import type { EventDTO } from '../api/types'
import { formatTimestamp, type TimeZoneMode } from '../lib/time'
import { CategoryIcon } from './EventChips'
import classes from './Timeline.module.css'

/**
 * Shortens a resource id to the part people recognise: its last segment
 * (bucket, instance, VM), with the segments before it while that is a bare
 * number, under four characters or a name many resources share ("rg/0",
 * not "0"; "123456789012:root", not "root"), which says little alone.
 */
const GENERIC_NAMES = new Set(['root', 'default', 'main', 'master', 'latest', 'current', 'index'])

export function shortResource(r: string): string {
  const id = r.replace(/[/:]+$/, '')
  const isSep = (c: string | undefined) => c === '/' || c === ':'
  // Where the segment that ends before end starts (runs of separators, as
  // in arn:aws:s3:::name, count as one).
  const segmentStart = (end: number) => {
    let i = end
    while (i > 0 && isSep(id[i - 1])) i--
    while (i > 0 && !isSep(id[i - 1])) i--
    return i
  }
  let start = segmentStart(id.length)
  for (let more = 0; more < 2 && start > 0; more++) {
    const tail = id.slice(start)
    if (tail.length >= 4 && !/^\d+$/.test(tail) && !GENERIC_NAMES.has(tail)) break
    start = segmentStart(start)
  }
  return id.slice(start) || r
}

export interface TimelineRowProps {
  event: EventDTO
  index: number
  selected: boolean
  fresh: boolean
  tz: TimeZoneMode
  onOpen(index: number): void
}

/**
 * One event in the timeline: time, category, action, user, provider,
 * resources, status and risk. Plain elements styled by CSS, not component
 * library widgets: a fast scroll renders thousands of these.
 */
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
      <span className={classes.time}>{formatTimestamp(e.timestamp, tz)}</span>
      <span className={classes.icon} data-category={e.category}>
        <CategoryIcon category={e.category} />
      </span>
      <span className={classes.action}>{e.actionType}</span>
      <span className={classes.user}>{e.userId}</span>
      <span className={classes.provider}>{e.provider}</span>
      {/* The id and the count in elements of their own: a long id is cut, never the count after it. */}
      <span className={classes.resource} title={resources.join('\n')}>
        <span className={classes.resourceId}>{resources.length ? shortResource(resources[0] ?? '') : '—'}</span>
        {/* A space for copying and screen readers; flex layout spaces them by its gap. */}
        {resources.length > 1 && ' '}
        {resources.length > 1 && <span className={classes.resourceMore} data-testid="resource-more">+{resources.length - 1}</span>}
      </span>
      <span className={classes.chips}>
        <span className={classes.chip} data-status={e.status}>
          {e.status.replace('_', ' ')}
        </span>
        <span className={classes.chip} data-risk={e.riskLevel}>
          {e.riskLevel}
        </span>
      </span>
    </div>
  )
})
