import { Badge, Box, Code, Group, Stack, Switch, Text } from '@mantine/core'
import { create, type Delta } from 'jsondiffpatch'
import * as htmlFormatter from 'jsondiffpatch/formatters/html'
import 'jsondiffpatch/formatters/styles/html.css'
import { useMemo, useState } from 'react'
import classes from './StateDiff.module.css'

export interface Change {
  path: string
  kind: 'added' | 'removed' | 'changed'
  before?: unknown
  after?: unknown
}

const differ = create({
  // Match array items by a stable key when they have one, so a changed rule is "changed", not removed and re-added.
  objectHash: (o: object, i?: number) => {
    const r = o as Record<string, unknown>
    return String(r.id ?? r.name ?? r.key ?? `$$index:${i}`)
  },
  arrays: { detectMove: true },
})

export function diffStates(before: unknown, after: unknown): { delta: Delta; changes: Change[] } {
  const delta = differ.diff(before, after)
  const changes: Change[] = []
  walk(delta, '', changes, before)
  return { delta, changes }
}

function join(path: string, key: string, isArray: boolean): string {
  if (isArray) return `${path}[${key}]`
  return path ? `${path}.${key}` : key
}

function walk(delta: Delta, path: string, out: Change[], before: unknown): void {
  if (delta === undefined || delta === null) return
  if (Array.isArray(delta)) {
    if (delta.length === 1) out.push({ path: path || '(root)', kind: 'added', after: delta[0] })
    else if (delta.length === 2) out.push({ path: path || '(root)', kind: 'changed', before: delta[0], after: delta[1] })
    else if (delta.length === 3 && delta[2] === 0) out.push({ path: path || '(root)', kind: 'removed', before: delta[0] })
    else if (delta.length === 3 && delta[2] === 2) out.push({ path: path || '(root)', kind: 'changed', before: '(text)', after: '(text diff)' })
    return
  }
  if (typeof delta !== 'object') return
  const obj = delta as unknown as Record<string, Delta>
  const isArray = (delta as unknown as Record<string, unknown>)._t === 'a'
  for (const key of Object.keys(obj)) {
    if (key === '_t') continue
    const d = obj[key]
    if (isArray && key.startsWith('_')) {
      // _n: an item removed (or moved) from old index n
      if (Array.isArray(d) && d[2] === 3) continue
      walk(d, join(path, key.slice(1), true), out, undefined)
      continue
    }
    const child = before && typeof before === 'object' ? (before as Record<string, unknown>)[key] : undefined
    walk(d, join(path, key, isArray), out, child)
  }
}

function show(v: unknown): string {
  return JSON.stringify(v) ?? 'undefined'
}

/** Before/after as a structural diff: the changed paths, and the annotated states. */
export function StateDiff({ before, after }: { before: unknown; after: unknown }) {
  const { delta, changes } = useMemo(() => diffStates(before, after), [before, after])
  const [full, setFull] = useState(false)
  const html = useMemo(() => (delta ? htmlFormatter.format(delta, before) ?? '' : ''), [delta, before])
  if (!delta) {
    return (
      <Text size="sm" c="dimmed">
        The before and after states are identical.
      </Text>
    )
  }
  const counts = { added: 0, removed: 0, changed: 0 }
  for (const c of changes) counts[c.kind]++
  return (
    <Stack gap="xs" data-testid="state-diff">
      <Group gap="xs">
        <Badge color="teal" variant="light">
          {counts.added} added
        </Badge>
        <Badge color="red" variant="light">
          {counts.removed} removed
        </Badge>
        <Badge color="yellow" variant="light">
          {counts.changed} changed
        </Badge>
        <Switch size="xs" ml="auto" label="Show unchanged fields" checked={full} onChange={(e) => setFull(e.currentTarget.checked)} />
      </Group>
      <Stack gap={2} className={classes.paths} role="list" aria-label="Changed paths">
        {changes.map((c) => (
          <Group key={c.path + c.kind} gap={8} wrap="nowrap" className={classes.change} data-kind={c.kind} role="listitem" data-testid="diff-change">
            <Text span size="xs" fw={700} className={classes.sign}>
              {c.kind === 'added' ? '+' : c.kind === 'removed' ? '−' : '~'}
            </Text>
            <Code className={classes.path}>{c.path}</Code>
            <Text size="xs" ff="monospace" className={classes.values}>
              {c.kind !== 'added' && <span className={classes.before}>{show(c.before)}</span>}
              {c.kind === 'changed' && ' → '}
              {c.kind !== 'removed' && <span className={classes.after}>{show(c.after)}</span>}
            </Text>
          </Group>
        ))}
      </Stack>
      <Box
        className={classes.annotated}
        data-unchanged={full ? 'show' : 'hide'}
        aria-label="Annotated before and after"
        // jsondiffpatch's HTML formatter escapes every value it prints.
        dangerouslySetInnerHTML={{ __html: html }}
      />
    </Stack>
  )
}
