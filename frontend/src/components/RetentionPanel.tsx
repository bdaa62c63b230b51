import { Alert, Button, Code, Group, NumberInput, Popover, Select, Stack, Switch, Table, Text, UnstyledButton } from '@mantine/core'
import { IconHourglass } from '@tabler/icons-react'
import { useCallback, useEffect, useState } from 'react'
import { toApiError } from '../api/errors'
import type { EventDTO, ExpiringDTO, RetentionDTO, RetentionRuleDTO, RetentionSetRequest } from '../api/types'
import { formatDateTime } from '../lib/time'
import { useSession, useStores, useView } from '../store/context'
import classes from './Header.module.css'
import { EXPIRING_WARNING_DAYS } from './RetentionBanner'
import { useCloseOnEscape } from '../lib/escape'

function windowText(r: Pick<RetentionRuleDTO, 'days' | 'indefinite'>): string {
  if (r.indefinite) return 'indefinitely'
  return r.days === 1 ? '1 day' : `${r.days} days`
}

/**
 * The operational categories and the material ones (storage/catalogue.json)
 * that can have a window of their own: not audit, the log's own events,
 * which every policy keeps indefinitely.
 */
export const RETENTION_CATEGORIES: Record<'operational' | 'material', string[]> = {
  operational: ['scan', 'finding', 'recommendation', 'user', 'workflow', 'custom'],
  material: ['connection', 'plan', 'approval', 'terraform_export', 'apply', 'rollback', 'releaseops'],
}

/**
 * What retention does next and did last: the events it prunes within the
 * banner's horizon, and the newest recorded sweep (audit.retention_swept).
 * Either is left out when it cannot be read: it must never get in the way.
 */
function RetentionActivity({ org, prunedEvents }: { org: string; prunedEvents?: number }) {
  const { api } = useStores()
  const tz = useView((s) => s.tz)
  const [expiring, setExpiring] = useState<ExpiringDTO>()
  const [sweep, setSweep] = useState<EventDTO | null>()
  useEffect(() => {
    let live = true
    api.expiringEvents(org, EXPIRING_WARNING_DAYS).then((e) => live && setExpiring(e), () => {})
    api.listEvents({ org, actionTypes: ['audit.retention_swept'], order: 'newest', limit: 1 }).then(
      (p) => live && setSweep(p.events[0] ?? null),
      () => {},
    )
    return () => {
      live = false
    }
  }, [api, org])
  const pruned = sweep ? Number((sweep.metadata as { pruned?: number }).pruned ?? 0) : 0
  return (
    <Stack gap={2} data-testid="retention-activity">
      {expiring && expiring.org === org && (
        <Text size="xs" data-testid="retention-expiring">
          {expiring.count === 0
            ? `Nothing expires within ${EXPIRING_WARNING_DAYS} days.`
            : `${expiring.count.toLocaleString('en-US')} ${expiring.count === 1 ? 'event expires' : 'events expire'} within ${EXPIRING_WARNING_DAYS} days.`}
        </Text>
      )}
      {sweep !== undefined && (
        <Text size="xs" data-testid="retention-last-sweep">
          {sweep ? (
            <>
              {`Last recorded sweep: ${formatDateTime(sweep.timestamp, tz)}, ${pruned.toLocaleString('en-US')} ${pruned === 1 ? 'event' : 'events'} pruned.`}
              {prunedEvents !== undefined && prunedEvents > 0 && ` In all, ${prunedEvents.toLocaleString('en-US')} ${prunedEvents === 1 ? 'event was' : 'events were'} pruned.`}
            </>
          ) : (
            // Sweeps that prune nothing leave no record, so say what the
            // user wants to know: whether anything went, and when the app
            // looks again (RetentionInterval in app/retention.go).
            <>
              {prunedEvents ? `${prunedEvents.toLocaleString('en-US')} ${prunedEvents === 1 ? 'event was' : 'events were'} pruned in all.` : 'Nothing has been pruned yet.'}{' '}
              The app checks for expired events every hour.
            </>
          )}
        </Text>
      )}
    </Stack>
  )
}

/** The organization's retention policy; in the desktop app, a form changes one window. */
export function RetentionPanel({ org, policy, onChanged }: { org: string; policy: RetentionDTO; onChanged(p: RetentionDTO): void }) {
  const { api } = useStores()
  const tz = useView((s) => s.tz)
  const profile = useSession((s) => s.info?.profile)
  const [cls, setCls] = useState<'operational' | 'material'>('operational')
  const [category, setCategory] = useState<string | null>(null)
  const [days, setDays] = useState<number | string>(90)
  const [indefinite, setIndefinite] = useState(false)
  const [atOnce, setAtOnce] = useState(false)
  const [saving, setSaving] = useState(false)
  const [error, setError] = useState<string>()
  const save = () => {
    const req: RetentionSetRequest = {
      org, class: cls, category: category ?? undefined, ...(indefinite ? { indefinite: true } : { days: Number(days) }), ...(atOnce ? { atOnce: true } : {}),
    }
    setSaving(true)
    setError(undefined)
    api.setRetention(req).then(
      (p) => {
        setSaving(false)
        onChanged(p)
      },
      (err: unknown) => {
        setSaving(false)
        setError(toApiError(err).message)
      },
    )
  }
  return (
    <Stack gap="xs" data-testid="retention-panel">
      <Text size="sm" fw={600}>
        Retention of {org} · {policy.version > 0 ? `policy version ${policy.version}` : 'the default policy'}
      </Text>
      <Table withRowBorders={false} verticalSpacing={2} fz="sm" data-testid="retention-rules">
        <Table.Tbody>
          {policy.rules.map((r) => (
            <Table.Tr key={r.class + (r.category ?? '')}>
              <Table.Td>{r.category ? `${r.category} (${r.class})` : r.class}</Table.Td>
              <Table.Td>kept {windowText(r)}</Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
      {(policy.pending ?? []).map((p) => (
        <Alert key={p.version} color="yellow" variant="light" p="xs" data-testid="retention-pending">
          <Text size="xs" fw={600}>
            Version {p.version} takes effect {formatDateTime(p.effectiveFrom, tz)}
          </Text>
          <Text size="xs">
            {p.rules.map((r) => `${r.category ? `${r.category} (${r.class})` : r.class} kept ${windowText(r)}`).join(' · ')}. A change that shortens a window waits
            a week (or until a stricter pending change would have taken effect), so that the events it will prune are announced as expiring and can be exported first.
          </Text>
        </Alert>
      ))}
      <RetentionActivity org={org} prunedEvents={policy.prunedEvents} />
      <Text size="xs" c="dimmed">
        Expired events keep a tombstone, so the log and every proof still verify. Each change is recorded as audit.settings_changed, which is kept indefinitely.
      </Text>
      {api.canSetRetention ? (
        <Stack gap={6}>
          <Group gap="xs" grow>
            <Select size="xs" label="Class" value={cls} allowDeselect={false} data={['operational', 'material']} comboboxProps={{ withinPortal: false }}
              onChange={(v) => { setCls((v as 'operational' | 'material') ?? 'operational'); setCategory(null) }} data-testid="retention-class" />
            <Select size="xs" label="Category (optional)" value={category} clearable data={RETENTION_CATEGORIES[cls]} comboboxProps={{ withinPortal: false }}
              onChange={setCategory} data-testid="retention-category" />
          </Group>
          <Group gap="xs" align="flex-end">
            <NumberInput size="xs" label="Days (1 to 2557)" min={1} max={2557} value={days} onChange={setDays} disabled={indefinite} w={140} data-testid="retention-days" />
            <Switch size="xs" label="Indefinitely" checked={indefinite} onChange={(e) => setIndefinite(e.currentTarget.checked)} data-testid="retention-indefinite" />
            <Button size="compact-sm" onClick={save} loading={saving} data-testid="retention-save">
              Save
            </Button>
          </Group>
          <Switch size="xs" checked={atOnce} onChange={(e) => setAtOnce(e.currentTarget.checked)} data-testid="retention-at-once"
            label="Apply a shorter window now, not in a week: the next sweep prunes what it makes overdue" />
          {error && (
            <Alert color="red" variant="light" p="xs" data-testid="retention-error">
              {error}
            </Alert>
          )}
        </Stack>
      ) : (
        <Text size="xs">
          Change it on this machine with{' '}
          <Code>
            axiom-audit {profile && profile !== 'default' ? `--profile ${profile} ` : ''}retention set --org {org} --class operational --days N
          </Code>
          .
        </Text>
      )}
    </Stack>
  )
}

/** A small "Retention" entry in the header; opens the policy. */
export function RetentionIndicator() {
  const { api } = useStores()
  const org = useView((s) => s.org)
  const [policy, setPolicy] = useState<RetentionDTO>()
  const load = useCallback(() => {
    if (!org) return
    api.retention(org).then(setPolicy, () => setPolicy(undefined))
  }, [api, org])
  useEffect(() => setPolicy(undefined), [org])
  const line = policy
    ? policy.rules.filter((r) => !r.category).map((r) => `${r.class === 'operational' ? 'ops' : 'material'} ${r.indefinite ? '∞' : r.days + 'd'}`).join(' · ') +
      (policy.pending?.length ? ' · change pending' : '')
    : 'Policy'
  const [opened, setOpened] = useState(false)
  useCloseOnEscape(opened, () => setOpened(false))
  return (
    // trapFocus: focus moves into the popover as it opens; Esc closes it
    // also before then (useCloseOnEscape).
    <Popover opened={opened} onChange={setOpened} position="bottom-end" shadow="md" width={420} withArrow trapFocus returnFocus onOpen={load}>
      <Popover.Target>
        <UnstyledButton className={classes.integrity} data-testid="retention-indicator" onClick={() => setOpened((o) => !o)} aria-label="Retention policy" disabled={!org}>
          <IconHourglass size={18} />
          <Stack gap={0}>
            <Text size="xs" fw={600} lh={1.2}>
              Retention
            </Text>
            <Text size="xs" c="dimmed" lh={1.2} className={classes.retentionLine} title={line} data-testid="retention-line">
              {line}
            </Text>
          </Stack>
        </UnstyledButton>
      </Popover.Target>
      <Popover.Dropdown>{policy ? <RetentionPanel org={org} policy={policy} onChanged={setPolicy} /> : <Text size="sm">Loading…</Text>}</Popover.Dropdown>
    </Popover>
  )
}
