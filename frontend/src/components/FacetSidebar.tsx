import { ActionIcon, Box, Button, Group, ScrollArea, Skeleton, Stack, Text, Tooltip, UnstyledButton } from '@mantine/core'
import { IconArrowUp, IconCheck, IconFilterOff, IconMinus } from '@tabler/icons-react'
import type { MouseEvent } from 'react'
import type { FacetCountDTO } from '../api/types'
import { counted } from '../lib/count'
import { FIELD_KEYS, parseQuery, setFieldTerms, toggledValues, toggleTerm, type QueryField, type QueryFilter } from '../query/parse'
import { useResults, useStores, useView } from '../store/context'
import classes from './FacetSidebar.module.css'

type FacetField = Exclude<QueryField, 'resource'>

const SECTIONS: { key: string; field: FacetField; title: string }[] = [
  { key: 'category', field: 'category', title: 'Category' },
  { key: 'provider', field: 'provider', title: 'Provider' },
  { key: 'status', field: 'status', title: 'Status' },
  { key: 'riskLevel', field: 'risk', title: 'Risk' },
  { key: 'userId', field: 'user', title: 'User' },
]

/** The values a filter filters a field for, and out. */
function fieldValues(filter: QueryFilter, field: FacetField): [string[], string[]] {
  const [inc, exc] = FIELD_KEYS[field]
  return [filter[inc] ?? [], filter[exc] ?? []]
}

/** Counts per value for the current filter; click filters for a value, Alt/⌥-click filters it out. */
export function FacetSidebar() {
  const facets = useResults((s) => s.facets)
  const failed = useResults((s) => s.error !== undefined && s.rows.length === 0)
  // A new query's facets are loading: an empty list of the last query's
  // must not read as "none in range" for this one. They answer on their
  // own, usually after the first page: the page's loading is not theirs.
  const loading = useResults((s) => s.loading || s.facetsLoading)
  const q = useView((s) => s.q)
  const { results, view } = useStores()
  const { filter } = parseQuery(q)
  // The query matches no event in range (its rows and facets are in): one
  // empty state for the whole sidebar, rather than "none in range" under
  // each field as if their data were missing. The fields the query filters
  // stay, with the values it filters on first, so that each can be undone.
  const nothing = useResults((s) => !s.loading && !s.facetsLoading && s.error === undefined && s.facets !== undefined && s.rows.length === 0 && !s.nextCursor)
  // Live events held above the timeline (paused, or scrolled away) do
  // match, but count here only once shown, as in the timeline: the sidebar
  // then says they wait instead, its fields laid out as when nothing matches.
  const waiting = useResults((s) => s.pending.length)
  // As the timeline's "N new events" does: the list shows from its top.
  const showWaiting = () => {
    results.getState().showPending()
    results.getState().setAtTop(true)
  }

  // A query being typed in the bar is not thrown away: the facet is added to
  // it and both are applied. A draft that does not parse yet cannot be
  // applied whole. The click then edits that field's terms in it (gcp joins
  // the provider:aws typed there, replaces an unfinished "provider:", and
  // excluding aws takes provider:aws out rather than contradict it), and
  // the field as the draft then reads is applied to the last query, so that
  // the bar and the timeline agree on it; the bar says what the timeline
  // shows until the rest is fixed.
  const apply = (field: FacetField, value: string, negated: boolean) => {
    const v = view.getState()
    const draft = v.draft
    if (draft === undefined || parseQuery(draft).errors.length === 0) {
      v.set({ q: toggleTerm(draft ?? v.q, field, value, negated) })
      return
    }
    const [inc, exc] = toggledValues(...fieldValues(parseQuery(draft).filter, field), value, negated)
    const next = setFieldTerms(draft, field, inc, exc)
    // The click may have finished the draft ("provider:" became provider:gcp).
    if (parseQuery(next).errors.length === 0) {
      v.set({ q: next })
      return
    }
    v.set({ q: setFieldTerms(v.q, field, inc, exc) })
    v.setDraft(next)
  }

  return (
    <ScrollArea h="100%" type="hover" offsetScrollbars>
      <Stack gap="md" p="xs" pr={4} component="nav" aria-label="Facets">
        {nothing && waiting > 0 && <Waiting count={waiting} onShow={showWaiting} />}
        {nothing && waiting === 0 && (
          <NoMatch
            filtered={q.trim() !== ''}
            listed={SECTIONS.some((s) => fieldValues(filter, s.field).some((values) => values.length > 0))}
          />
        )}
        {SECTIONS.map((s) => {
          const [inc, exc] = fieldValues(filter, s.field)
          const values = facets?.[s.key]
          // Each field is counted without the query's own conditions on it,
          // so its other values can be added. The values the query filters
          // for or out are always listed, even past the top ones or without
          // events in range, so that they can be undone.
          const keep = [...inc, ...exc]
          const list = visibleValues(values ?? [], keep, s.field === 'user' ? 8 : 14, nothing)
          if (nothing && list.length === 0) return null
          return (
            <Box key={s.key} data-testid={`facet-${s.key}`}>
              <Text size="xs" fw={700} tt="uppercase" c="dimmed" mb={4} className={classes.title}>
                {s.title}
              </Text>
              {failed ? (
                <Text size="xs" c="dimmed" px={6}>
                  unavailable
                </Text>
              ) : !facets || (loading && list.length === 0) ? (
                <Stack gap={6}>
                  {[0, 1, 2].map((i) => (
                    <Skeleton key={i} h={14} />
                  ))}
                </Stack>
              ) : list.length === 0 ? (
                <Text size="xs" c="dimmed">
                  none in range
                </Text>
              ) : (
                <FacetValues list={list} field={s.field} included={inc} excluded={exc} onApply={apply} />
              )}
            </Box>
          )
        })}
        <Text size="xs" c="dimmed" px={4}>
          Click to filter for a value; Alt/⌥-click or <IconMinus size={10} /> to filter it out. A field you filter lists its other values with what each would add.
        </Text>
      </Stack>
    </ScrollArea>
  )
}

/** Instead of the empty state: live events that match wait above the timeline, to be counted once shown. */
function Waiting({ count, onShow }: { count: number; onShow(): void }) {
  return (
    <Group gap={8} wrap="nowrap" align="flex-start" px={6} data-testid="facets-waiting" role="status">
      <IconArrowUp size={16} style={{ flex: 'none', marginTop: 2, color: 'var(--mantine-color-dimmed)' }} aria-hidden />
      <Box>
        <Text size="sm" fw={600}>
          {counted(count, 'new event')} {count === 1 ? 'is' : 'are'} waiting
        </Text>
        <Text size="xs" c="dimmed">
          They are counted here once shown.
        </Text>
        <Button size="compact-xs" variant="light" mt={6} onClick={onShow}>
          Show them
        </Button>
      </Box>
    </Group>
  )
}

/** The sidebar's one empty state, above the fields the query filters (listed: some value of them). */
function NoMatch({ filtered, listed }: { filtered: boolean; listed: boolean }) {
  return (
    <Group gap={8} wrap="nowrap" align="flex-start" px={6} data-testid="facets-empty" role="status">
      <IconFilterOff size={16} style={{ flex: 'none', marginTop: 2, color: 'var(--mantine-color-dimmed)' }} aria-hidden />
      <Box>
        <Text size="sm" fw={600}>
          {filtered ? 'No events match this filter' : 'No events in this time range'}
        </Text>
        <Text size="xs" c="dimmed">
          {listed ? 'Remove a value below or widen the time range.' : filtered ? 'Change the search or widen the time range.' : 'Widen the time range.'}
        </Text>
      </Box>
    </Group>
  )
}

/**
 * The top `top` values by count, then any value of `keep` not among them
 * (with count 0 when it has none); with `keepFirst`, the values of `keep`
 * come first, as when nothing matches and they are what to undo.
 */
export function visibleValues(values: FacetCountDTO[], keep: string[], top: number, keepFirst = false): FacetCountDTO[] {
  const list = values.slice(0, top)
  for (const v of keep) {
    if (list.some((x) => x.value === v)) continue
    list.push(values.find((x) => x.value === v) ?? { value: v, count: 0 })
  }
  if (keepFirst) return [...list.filter((x) => keep.includes(x.value)), ...list.filter((x) => !keep.includes(x.value))]
  return list
}

function FacetValues({
  list, field, included, excluded, onApply,
}: {
  list: FacetCountDTO[]
  field: FacetField
  included: string[]
  excluded: string[]
  onApply(field: FacetField, value: string, negated: boolean): void
}) {
  const max = Math.max(1, ...list.map((x) => x.count))
  // With values filtered for, another value's count is what filtering
  // for it too would add: "+N", so that it does not read as part of the
  // result.
  const adding = included.length > 0
  return (
    <Stack gap={1}>
      {list.map(({ value, count }) => {
        const on = included.includes(value)
        const off = excluded.includes(value)
        const adds = adding && !on && !off
        const n = count.toLocaleString('en-US')
        const events = count === 1 ? 'event' : 'events'
        const label = adds
          ? `${field} ${value}: adds ${n} ${events}`
          : `${field} ${value}: ${n} ${events}${on ? ', filtered for' : off ? ', filtered out' : ''}`
        const click = (e: MouseEvent) => onApply(field, value, e.altKey)
        return (
          <Group key={value} gap={2} wrap="nowrap" className={classes.item} data-active={on || undefined} data-excluded={off || undefined}>
            <UnstyledButton
              className={classes.value}
              onClick={click}
              aria-pressed={on}
              aria-label={label}
              title={adds ? `Filtering for ${value} too adds ${n} ${events}` : off ? `${n} ${events} of ${value} filtered out` : undefined}
              data-testid={`facet-value-${field}-${value}`}
            >
              <span className={classes.bar} style={{ width: `${(count / max) * 100}%` }} />
              {on && <IconCheck size={12} className={classes.check} aria-hidden />}
              <Text size="sm" truncate className={classes.label}>
                {value}
              </Text>
              <Text size="xs" c="dimmed" ff="monospace" className={classes.count}>
                {adds ? `+${n}` : n}
              </Text>
            </UnstyledButton>
            <Tooltip label={off ? `Stop excluding ${value}` : `Exclude ${value}`} openDelay={400}>
              <ActionIcon size="sm" variant="subtle" color="gray" className={classes.exclude} aria-label={`Exclude ${field} ${value}`} onClick={() => onApply(field, value, true)}>
                <IconMinus size={12} />
              </ActionIcon>
            </Tooltip>
          </Group>
        )
      })}
    </Stack>
  )
}
