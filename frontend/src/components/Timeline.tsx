import { Skeleton } from '@mantine/core'
import { useVirtualizer } from '@tanstack/react-virtual'
import { useCallback, useEffect } from 'react'
import { localZone, localZoneShort } from '../lib/time'
import { useResults, useStores, useView } from '../store/context'
import classes from './Timeline.module.css'
import { TimelineRow } from './TimelineRow'

export const ROW_HEIGHT = 36
/** Placeholder rows after the last loaded one while more pages exist. */
const TAIL_SKELETONS = 40
/** Fetch the next page when the view is this many rows from the end. */
const PREFETCH_ROWS = 150

/**
 * The event list: virtualised, so only the visible rows exist in the DOM,
 * and paged by cursor: the next page is fetched well before the end comes
 * into view, so scrolling does not hit blank gaps.
 */
export function Timeline({ scrollRef }: { scrollRef: React.RefObject<HTMLDivElement | null> }) {
  const { results, view } = useStores()
  const rows = useResults((s) => s.rows)
  const nextCursor = useResults((s) => s.nextCursor)
  const selected = useResults((s) => s.selected)
  const fresh = useResults((s) => s.fresh)
  const tz = useView((s) => s.tz)
  const count = rows.length + (nextCursor ? TAIL_SKELETONS : 0)

  const virtualizer = useVirtualizer({
    count,
    getScrollElement: () => scrollRef.current,
    estimateSize: () => ROW_HEIGHT,
    overscan: 12,
    getItemKey: (i) => rows[i]?.id ?? `skeleton-${i}`,
    initialRect: { width: 1000, height: 800 },
  })
  const items = virtualizer.getVirtualItems()
  const last = items[items.length - 1]?.index ?? 0

  useEffect(() => {
    if (nextCursor && last >= rows.length - PREFETCH_ROWS) void results.getState().loadMore()
  }, [last, rows.length, nextCursor, results])

  useEffect(() => {
    if (selected >= 0) virtualizer.scrollToIndex(selected, { align: 'auto' })
  }, [selected, virtualizer])

  const onOpen = useCallback(
    (i: number) => {
      results.getState().select(i)
      const e = results.getState().rows[i]
      if (e) view.getState().set({ event: e.id })
    },
    [results, view],
  )

  const onScroll = useCallback(() => {
    const el = scrollRef.current
    if (el) results.getState().setAtTop(el.scrollTop < ROW_HEIGHT / 2)
  }, [results, scrollRef])

  return (
    <>
      <div className={classes.header} aria-hidden="true">
        <span data-testid="time-zone-heading" title={tz === 'utc' ? 'Times in UTC' : `Times in this computer's zone, ${localZone()}`}>
          Time · {tz === 'utc' ? 'UTC' : localZoneShort()}
        </span>
        <span />
        <span>Action</span>
        <span>User</span>
        <span>Cloud</span>
        <span>Resource</span>
        <span style={{ textAlign: 'right' }}>Status · Risk</span>
      </div>
      <div
        ref={scrollRef}
        className={classes.viewport}
        role="listbox"
        aria-label="Events, newest first"
        tabIndex={0}
        aria-activedescendant={selected >= 0 ? `row-${selected}` : undefined}
        onScroll={onScroll}
        onKeyDown={(ev) => {
          // Arrow keys move the selection while the list has focus (j/k work anywhere).
          const s = results.getState()
          const to = ev.key === 'ArrowDown' ? s.selected + 1 : ev.key === 'ArrowUp' ? s.selected - 1 : ev.key === 'Home' ? 0 : ev.key === 'End' ? s.rows.length - 1 : undefined
          if (to === undefined) return
          ev.preventDefault()
          s.select(to)
        }}
        data-testid="timeline"
      >
        <div style={{ height: virtualizer.getTotalSize(), position: 'relative', width: '100%' }}>
          {items.map((it) => {
            const e = rows[it.index]
            if (!e)
              return (
                <div key={it.key} className={classes.skeleton} style={{ transform: `translateY(${it.start}px)` }} data-testid="row-skeleton" aria-hidden="true">
                  <Skeleton h={10} w={120} />
                  <Skeleton h={14} w={14} circle />
                  <Skeleton h={10} w="70%" />
                  <Skeleton h={10} w="60%" />
                  <Skeleton h={10} w={30} />
                  <Skeleton h={10} w="80%" />
                  <Skeleton h={14} w={110} ml="auto" />
                </div>
              )
            return (
              <div key={it.key} style={{ transform: `translateY(${it.start}px)`, position: 'absolute', top: 0, left: 0, right: 0 }}>
                <TimelineRow event={e} index={it.index} selected={it.index === selected} fresh={fresh.has(e.id)} tz={tz} onOpen={onOpen} />
              </div>
            )
          })}
        </div>
      </div>
    </>
  )
}
