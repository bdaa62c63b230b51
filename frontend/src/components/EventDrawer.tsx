import {
  Accordion, ActionIcon, Alert, Badge, Button, Code, CopyButton, Drawer, Group, Loader, ScrollArea, Stack, Table, Text, Title, Tooltip,
} from '@mantine/core'
import { IconCheck, IconCopy, IconShieldCheck, IconShieldX } from '@tabler/icons-react'
import { useEffect, useState } from 'react'
import { toApiError, type ApiError } from '../api/errors'
import type { EventDTO, InclusionProofDTO } from '../api/types'
import { formatDateTime, type TimeZoneMode } from '../lib/time'
import { useApi, useResults, useStores, useView } from '../store/context'
import { CategoryIcon, RiskChip, StatusChip } from './EventChips'
import { MetadataTree } from './MetadataTree'
import { RelatedEvents } from './RelatedEvents'
import { StateDiff } from './StateDiff'
import { ErrorState } from './StatusStates'
import classes from './EventDrawer.module.css'

/** The event open in the URL (?event=…), in a drawer on the right. */
export function EventDrawer() {
  const { view } = useStores()
  const api = useApi()
  const id = useView((s) => s.event)
  const org = useView((s) => s.org)
  const tz = useView((s) => s.tz)
  const fromList = useResults((s) => (id ? s.rows.find((r) => r.id === id) : undefined))
  const [event, setEvent] = useState<EventDTO | undefined>()
  const [error, setError] = useState<ApiError | undefined>()

  useEffect(() => {
    setError(undefined)
    if (!id || !org) return setEvent(undefined)
    if (fromList) return setEvent(fromList)
    let cancelled = false
    setEvent(undefined)
    api.getEvent(org, id).then(
      (e) => !cancelled && setEvent(e),
      (err: unknown) => !cancelled && setError(toApiError(err)),
    )
    return () => {
      cancelled = true
    }
  }, [api, id, org, fromList])

  // Another event (a related one, the next with j) opens at its top, not
  // where the last one was scrolled to.
  useEffect(() => {
    document.querySelector('[data-testid=event-drawer] .mantine-ScrollArea-viewport')?.scrollTo?.({ top: 0 })
  }, [id])

  const close = () => view.getState().set({ event: undefined })
  return (
    <Drawer
      opened={!!id}
      onClose={close}
      position="right"
      size={720}
      padding={0}
      withCloseButton={false}
      scrollAreaComponent={ScrollArea.Autosize}
      aria-label="Event detail"
      data-testid="event-drawer"
      classNames={{ body: classes.body }}
      overlayProps={{ backgroundOpacity: 0.25, blur: 1 }}
    >
      {error ? (
        <Stack gap={0}>
          <Group justify="flex-end" p="xs">
            <ActionIcon variant="subtle" color="gray" onClick={close} aria-label="Close the event" data-testid="drawer-close">
              ✕
            </ActionIcon>
          </Group>
          <ErrorState error={error} />
        </Stack>
      ) : !event ? (
        <Group p="xl" justify="center">
          <Loader size="sm" />
        </Group>
      ) : (
        <EventDetail event={event} tz={tz} onClose={close} />
      )}
    </Drawer>
  )
}

function EventDetail({ event: e, tz, onClose }: { event: EventDTO; tz: TimeZoneMode; onClose(): void }) {
  const hasStates = e.beforeState !== undefined || e.afterState !== undefined
  const statesHidden = !hasStates && (e.beforeStateCommitment || e.afterStateCommitment)
  return (
    <Stack gap={0}>
      <Group justify="space-between" p="md" wrap="nowrap" style={{ borderBottom: '1px solid var(--mantine-color-default-border)', position: 'sticky', top: 0, zIndex: 3, background: 'var(--mantine-color-body)' }}>
        <Group gap="sm" wrap="nowrap" miw={0}>
          <CategoryIcon category={e.category} size={22} />
          <Stack gap={0} miw={0}>
            <Title order={4} ff="monospace" fz={16} data-testid="drawer-action">
              {e.actionType}
            </Title>
            <Text size="xs" c="dimmed" style={{ overflowWrap: 'anywhere' }}>
              {formatDateTime(e.timestamp, tz)} · #{e.seq.toLocaleString('en-US')} · {e.id}
            </Text>
          </Stack>
        </Group>
        {/* The chips and buttons keep their size; the title and the long id beside them wrap. */}
        <Group gap="xs" wrap="nowrap" style={{ flexShrink: 0 }}>
          <StatusChip status={e.status} />
          <RiskChip risk={e.riskLevel} />
          <CopyButton value={JSON.stringify(e, null, 2)}>
            {({ copied, copy }) => (
              <Button size="compact-sm" variant="default" onClick={copy} leftSection={copied ? <IconCheck size={14} /> : <IconCopy size={14} />} data-testid="copy-json">
                {copied ? 'Copied' : 'Copy JSON'}
              </Button>
            )}
          </CopyButton>
          <Tooltip label="Close (Esc)">
            <ActionIcon variant="subtle" color="gray" onClick={onClose} aria-label="Close the event">
              ✕
            </ActionIcon>
          </Tooltip>
        </Group>
      </Group>
      <Accordion multiple defaultValue={['fields', 'diff', 'metadata', 'proof', 'related']} variant="default" chevronPosition="left">
        {(hasStates || statesHidden) && (
          <Accordion.Item value="diff">
            <Accordion.Control>Before / after</Accordion.Control>
            <Accordion.Panel>
              {hasStates ? (
                <StateDiff before={e.beforeState ?? null} after={e.afterState ?? null} />
              ) : (
                <Alert variant="light" color="gray" title="The states are encrypted">
                  This event recorded before/after states, but they can only be shown with the log's keys. Their commitments are below.
                </Alert>
              )}
            </Accordion.Panel>
          </Accordion.Item>
        )}
        <Accordion.Item value="fields">
          <Accordion.Control>Fields</Accordion.Control>
          <Accordion.Panel>
            <EventFields event={e} tz={tz} />
          </Accordion.Panel>
        </Accordion.Item>
        <Accordion.Item value="metadata">
          <Accordion.Control>Metadata</Accordion.Control>
          <Accordion.Panel>
            <MetadataTree value={e.metadata} />
          </Accordion.Panel>
        </Accordion.Item>
        <Accordion.Item value="proof">
          <Accordion.Control>Inclusion proof</Accordion.Control>
          <Accordion.Panel>
            <ProofStatus event={e} />
          </Accordion.Panel>
        </Accordion.Item>
        <Accordion.Item value="related">
          <Accordion.Control>Related events</Accordion.Control>
          <Accordion.Panel>
            <RelatedEvents event={e} tz={tz} />
          </Accordion.Panel>
        </Accordion.Item>
      </Accordion>
    </Stack>
  )
}

function EventFields({ event: e, tz }: { event: EventDTO; tz: TimeZoneMode }) {
  const rows: [string, React.ReactNode][] = [
    ['ID', <Code key="id">{e.id}</Code>],
    ['Sequence', e.seq.toLocaleString('en-US')],
    ['Timestamp', formatDateTime(e.timestamp, tz)],
    ['Recorded at', formatDateTime(e.recordedAt, tz)],
    ['Organization', e.organizationId],
    ['User', e.userId],
    ['Provider', e.provider],
    ['Category', e.category],
    ['Action', <Code key="a">{e.actionType}</Code>],
    ['Status', <StatusChip key="s" status={e.status} />],
    ['Risk', <RiskChip key="r" risk={e.riskLevel} />],
    ['Resources', (e.resourceIds ?? []).length ? <Stack key="res" gap={2}>{e.resourceIds.map((r) => <Code key={r} style={{ wordBreak: 'break-all' }}>{r}</Code>)}</Stack> : '—'],
    ['Retention', e.retention],
    ['SOC 2', (e.soc2 ?? []).join(', ') || '—'],
    ['ISO 27001', (e.iso27001 ?? []).join(', ') || '—'],
    ['Leaf hash', <Code key="l" style={{ wordBreak: 'break-all' }}>{e.leafHash}</Code>],
    ['Previous hash', <Code key="p" style={{ wordBreak: 'break-all' }}>{e.prevHash}</Code>],
  ]
  if (e.beforeStateCommitment) rows.push(['Before commitment', <Code key="bc" style={{ wordBreak: 'break-all' }}>{e.beforeStateCommitment}</Code>])
  if (e.afterStateCommitment) rows.push(['After commitment', <Code key="ac" style={{ wordBreak: 'break-all' }}>{e.afterStateCommitment}</Code>])
  return (
    <Table withRowBorders={false} verticalSpacing={3} fz="sm" data-testid="event-fields">
      <Table.Tbody>
        {rows.map(([k, v]) => (
          <Table.Tr key={k}>
            <Table.Th w={150} fw={500} c="dimmed" style={{ verticalAlign: 'top' }}>
              {k}
            </Table.Th>
            <Table.Td>{v}</Table.Td>
          </Table.Tr>
        ))}
      </Table.Tbody>
    </Table>
  )
}

function ProofStatus({ event }: { event: EventDTO }) {
  const api = useApi()
  const [proof, setProof] = useState<InclusionProofDTO | undefined>()
  const [error, setError] = useState<ApiError | undefined>()
  useEffect(() => {
    let cancelled = false
    setProof(undefined)
    setError(undefined)
    api.eventProof(event.organizationId, event.id).then(
      (p) => !cancelled && setProof(p),
      (err: unknown) => !cancelled && setError(toApiError(err)),
    )
    return () => {
      cancelled = true
    }
  }, [api, event.organizationId, event.id])
  if (error) return <ErrorState error={error} compact />
  if (!proof) return <Loader size="xs" />
  return (
    <Group gap="sm" align="flex-start" wrap="nowrap" data-testid="proof-status">
      {proof.verified ? <IconShieldCheck color="var(--mantine-color-teal-6)" /> : <IconShieldX color="var(--mantine-color-red-6)" />}
      <Stack gap={2}>
        <Text size="sm" fw={600}>
          {proof.verified ? 'Included in the signed log' : 'The proof does not match the checkpoint'}
        </Text>
        <Text size="xs" c="dimmed">
          Event #{(proof.leafIndex + 1).toLocaleString('en-US')} (leaf index {proof.leafIndex.toLocaleString('en-US')}) of a tree of {proof.treeSize.toLocaleString('en-US')} events; {proof.hashes.length} hashes
          {proof.verified ? ' lead to the newest checkpoint root.' : '. Run `axiom-audit verify` for details.'}
        </Text>
        <Badge variant="light" color={proof.verified ? 'teal' : 'red'} size="sm">
          {proof.verified ? 'verified' : 'mismatch'}
        </Badge>
      </Stack>
    </Group>
  )
}
