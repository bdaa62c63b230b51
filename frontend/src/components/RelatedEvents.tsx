import { Badge, Group, Loader, Stack, Text, UnstyledButton } from '@mantine/core'
import { useEffect, useState } from 'react'
import type { EventDTO } from '../api/types'
import { formatTimestamp, type TimeZoneMode } from '../lib/time'
import { useApi, useStores } from '../store/context'
import { CategoryIcon, StatusChip } from './EventChips'

interface Related {
  event: EventDTO
  why: string[]
}

function planIdOf(e: EventDTO): string | undefined {
  const m = e.metadata
  return m && typeof m === 'object' && 'planId' in m && typeof (m as { planId: unknown }).planId === 'string' ? (m as { planId: string }).planId : undefined
}

/** Events on the same resource, or of the same plan and its approval chain. */
export function RelatedEvents({ event, tz }: { event: EventDTO; tz: TimeZoneMode }) {
  const api = useApi()
  const { view } = useStores()
  const [related, setRelated] = useState<Related[] | undefined>()

  useEffect(() => {
    let cancelled = false
    setRelated(undefined)
    const org = event.organizationId
    const resource = event.resourceIds?.[0]
    const plan = planIdOf(event)
    const asks: Promise<[string, EventDTO[]]>[] = []
    if (resource) asks.push(api.listEvents({ org, resourceId: resource, limit: 25 }).then((p) => ['same resource', p.events]))
    if (plan) asks.push(api.listEvents({ org, text: plan, limit: 25 }).then((p) => ['same plan', p.events.filter((e) => planIdOf(e) === plan)]))
    Promise.allSettled(asks).then((results) => {
      if (cancelled) return
      const byId = new Map<string, Related>()
      for (const r of results) {
        if (r.status !== 'fulfilled') continue
        const [why, events] = r.value
        for (const e of events) {
          if (e.id === event.id) continue
          const x = byId.get(e.id) ?? { event: e, why: [] }
          x.why.push(why)
          byId.set(e.id, x)
        }
      }
      setRelated([...byId.values()].sort((a, b) => b.event.seq - a.event.seq).slice(0, 20))
    })
    return () => {
      cancelled = true
    }
  }, [api, event])

  if (!related) return <Loader size="xs" />
  if (related.length === 0)
    return (
      <Text size="sm" c="dimmed">
        No other events share this event's resource or plan.
      </Text>
    )
  return (
    <Stack gap={2} data-testid="related-events">
      {related.map(({ event: e, why }) => (
        <UnstyledButton
          key={e.id}
          onClick={() => view.getState().set({ event: e.id })}
          style={{ borderRadius: 6, padding: '4px 6px' }}
          className="related-row"
          aria-label={`Open ${e.actionType} at ${e.timestamp}`}
        >
          <Group gap="sm" wrap="nowrap">
            <CategoryIcon category={e.category} size={14} />
            <Text size="xs" ff="monospace" c="dimmed" w={140} style={{ flex: 'none' }}>
              {formatTimestamp(e.timestamp, tz)}
            </Text>
            <Text size="sm" truncate style={{ flex: 1 }}>
              {e.actionType}
            </Text>
            {why.map((w) => (
              <Badge key={w} size="xs" variant="outline" color={w === 'same plan' ? 'indigo' : 'gray'}>
                {w}
              </Badge>
            ))}
            <StatusChip status={e.status} />
          </Group>
        </UnstyledButton>
      ))}
    </Stack>
  )
}
