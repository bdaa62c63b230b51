import { Group, Text, Tree, getTreeExpandedState, useTree, type TreeNodeData } from '@mantine/core'
import { IconChevronRight } from '@tabler/icons-react'
import { useMemo } from 'react'

function preview(v: unknown): string {
  if (Array.isArray(v)) return `[${v.length}]`
  if (v && typeof v === 'object') return `{${Object.keys(v).length}}`
  return JSON.stringify(v) ?? String(v)
}

/** JSON as Mantine Tree data: each node's value is its path. */
export function jsonToTree(v: unknown, path = '$'): TreeNodeData[] {
  if (!v || typeof v !== 'object') return [{ value: path, label: preview(v) }]
  const entries: [string, unknown][] = Array.isArray(v) ? v.map((x, i) => [String(i), x]) : Object.entries(v)
  return entries.map(([k, x]) => {
    const p = Array.isArray(v) ? `${path}[${k}]` : `${path}.${k}`
    const isObj = x !== null && typeof x === 'object'
    return {
      value: p,
      label: k,
      nodeProps: { preview: preview(x), leaf: !isObj },
      children: isObj ? jsonToTree(x, p) : undefined,
    }
  })
}

function valueColor(s: string): string {
  if (s.startsWith('"')) return 'var(--mantine-color-teal-text, var(--mantine-color-teal-7))'
  if (s === 'true' || s === 'false' || s === 'null') return 'var(--mantine-color-violet-6)'
  return 'var(--mantine-color-orange-7)'
}

/** Metadata as a collapsible tree, expanded two levels deep. */
export function MetadataTree({ value }: { value: unknown }) {
  const data = useMemo(() => jsonToTree(value), [value])
  const tree = useTree({ initialExpandedState: getTreeExpandedState(data, '*') })
  if (!value || typeof value !== 'object' || data.length === 0) {
    return (
      <Text size="sm" c="dimmed">
        No metadata.
      </Text>
    )
  }
  return (
    <Tree
      data={data}
      tree={tree}
      levelOffset={18}
      data-testid="metadata-tree"
      aria-label="Metadata"
      renderNode={({ node, expanded, hasChildren, elementProps }) => {
        const p = (node.nodeProps ?? {}) as { preview?: string; leaf?: boolean }
        return (
          <Group gap={4} wrap="nowrap" {...elementProps} style={{ ...elementProps.style, padding: '1px 0', cursor: hasChildren ? 'pointer' : 'default' }}>
            {hasChildren ? (
              <IconChevronRight size={13} style={{ transform: expanded ? 'rotate(90deg)' : 'none', transition: 'transform 120ms', flex: 'none' }} />
            ) : (
              <span style={{ width: 13, flex: 'none' }} />
            )}
            <Text size="xs" ff="monospace" fw={600} style={{ flex: 'none' }}>
              {node.label}
            </Text>
            <Text size="xs" ff="monospace" c={hasChildren ? 'dimmed' : undefined} style={{ color: hasChildren ? undefined : valueColor(p.preview ?? ''), wordBreak: 'break-all' }}>
              {hasChildren ? (expanded ? '' : p.preview) : p.preview}
            </Text>
          </Group>
        )
      }}
    />
  )
}
