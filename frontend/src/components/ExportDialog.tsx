import {
  Alert, Button, Code, CopyButton, Group, Modal, Progress, Select, Stack, Switch, Table, Text, TextInput, Tooltip,
} from '@mantine/core'
import { IconAlertTriangle, IconCheck, IconCopy, IconDownload, IconFolder, IconLock, IconShieldCheck } from '@tabler/icons-react'
import { useEffect, useRef, useState } from 'react'
import { ApiError, adviceFor, folderAdvice, toApiError } from '../api/errors'
import type { ExportFormat, ExportHandle, ExportProgress, ExportResultDTO, PrunedDTO, PrunedRunDTO, QueryDTO } from '../api/types'
import { formatDateTime, type TimeZoneMode } from '../lib/time'
import { parseQuery, textTerms, type QueryFilter } from '../query/parse'
import { useResults, useStores, useView } from '../store/context'
import { viewQuery, type View } from '../store/view'
import { AdviceAlert } from './StatusStates'
import { useFolderPicker } from './useFolderPicker'
import { ToolbarButton } from './ToolbarButton'
import { useCloseOnEscape } from '../lib/escape'

export const FORMAT_OPTIONS: { value: ExportFormat; label: string; description: string }[] = [
  { value: 'csv', label: 'CSV', description: 'A spreadsheet: one row per event, JSON in cells, formula prefixes escaped.' },
  { value: 'jsonl', label: 'JSON Lines', description: 'One event per line, as the app records it.' },
  { value: 'json', label: 'JSON', description: 'One array of events.' },
  { value: 'ocsf', label: 'OCSF 1.x', description: 'Open Cybersecurity Schema Framework events, one per line.' },
  { value: 'cef', label: 'CEF (ArcSight)', description: 'Common Event Format lines for ArcSight and other SIEMs.' },
  { value: 'splunk-hec', label: 'Splunk HEC', description: 'HTTP Event Collector envelopes, ready for /services/collector/event.' },
  { value: 'ecs', label: 'Elastic ECS', description: 'Elastic Common Schema NDJSON.' },
]

const FIELD_WORDS: [keyof QueryFilter, string, boolean][] = [
  ['categories', 'category', false], ['notCategories', 'category', true],
  ['actionTypes', 'action', false], ['notActionTypes', 'action', true],
  ['providers', 'provider', false], ['notProviders', 'provider', true],
  ['userIds', 'user', false], ['notUserIds', 'user', true],
  ['statuses', 'status', false], ['notStatuses', 'status', true],
  ['riskLevels', 'risk', false], ['notRiskLevels', 'risk', true],
]

const PRESET_WORDS: Record<string, string> = {
  '15m': 'the last 15 minutes', '1h': 'the last hour', '24h': 'the last 24 hours', '7d': 'the last 7 days', '30d': 'the last 30 days', '90d': 'the last 90 days',
}

/** The conditions of a filter in words: "status is failed or pending", "risk is not low". */
export function describeFilter(f: QueryFilter): string[] {
  const out: string[] = []
  for (const [key, word, not] of FIELD_WORDS) {
    const values = f[key] as string[] | undefined
    if (!values?.length) continue
    out.push(not ? `${word} is not ${values.join(' nor ')}` : `${word} is ${values.join(' or ')}`)
  }
  if (f.resourceId !== undefined) out.push(`resource is ${f.resourceId}`)
  if (f.resourceIdPrefix !== undefined) out.push(`resource starts with ${f.resourceIdPrefix}`)
  // Each word or phrase is searched on its own, as the log does.
  const terms = f.text ? textTerms(f.text).map((t) => `“${t}”`) : []
  if (terms.length) out.push(`the text contains ${terms.length > 1 ? terms.slice(0, -1).join(', ') + ' and ' + terms[terms.length - 1] : terms[0]}`)
  return out
}

/** What an export of this view holds, in one sentence. */
export function describeScope(v: Pick<View, 'org' | 'q' | 'range'>, tz: TimeZoneMode): string {
  const when = v.range.kind === 'relative'
    ? `in ${PRESET_WORDS[v.range.preset] ?? v.range.preset}`
    : `from ${formatDateTime(v.range.from, tz)} to ${formatDateTime(v.range.to, tz)}`
  const conds = describeFilter(parseQuery(v.q).filter)
  const where = conds.length ? `, where ${conds.join(' and ')}` : ''
  return `${conds.length ? 'Events' : 'All events'} of ${v.org} ${when}${where}.`
}

export function formatBytes(n: number): string {
  if (n >= 1 << 30) return `${(n / (1 << 30)).toFixed(1)} GiB`
  if (n >= 1 << 20) return `${(n / (1 << 20)).toFixed(1)} MiB`
  if (n >= 1 << 10) return `${(n / (1 << 10)).toFixed(1)} KiB`
  return `${n} B`
}

function formatETA(s: number): string {
  if (s >= 3600) return `about ${Math.floor(s / 3600)} h ${Math.round((s % 3600) / 60)} min left`
  if (s >= 60) return `about ${Math.floor(s / 60)} min ${s % 60} s left`
  return `about ${s} s left`
}

/** What the person sees for an export that failed, and what they can do. */
export function exportAdvice(err: ApiError): { title: string; steps: string[] } {
  const folder = folderAdvice(err, 'export again')
  if (folder) return folder
  switch (err.code) {
    case 'conflict':
      return { title: 'A bundle of that name exists', steps: ['An export of this organization was written in the same second; nothing was overwritten. Export again in a moment.'] }
    case 'too_many_exports':
      return { title: 'Too many exports are running', steps: [err.message, 'Wait for one of them to finish, or cancel it, then export again.'] }
    case 'cancelled':
      return { title: 'Export cancelled', steps: ['No bundle was written.'] }
    case 'invalid_request':
      return { title: 'The export request is not valid', steps: err.fields.length ? err.fields.map((f) => `${f.field}: ${f.reason}`) : [err.message] }
    default:
      return adviceFor(err)
  }
}

type Phase = { kind: 'form' } | { kind: 'running'; progress?: ExportProgress } | { kind: 'done'; result: ExportResultDTO }

const FOLDER_KEY = 'axiom-audit.export-folder'

function rememberedFolder(): string {
  try {
    return localStorage.getItem(FOLDER_KEY) ?? ''
  } catch {
    return ''
  }
}

/**
 * The pruned events whose runs overlap the timeline's time range, from the
 * organization's retention status: an upper bound (a run counts whole), so
 * that the person knows before exporting that part of the range is gone.
 */
function usePrunedInRange(opened: boolean, org: string): { count: number; oldest: string; newest: string } | undefined {
  const { api, view } = useStores()
  const [runs, setRuns] = useState<PrunedRunDTO[]>()
  useEffect(() => {
    if (!opened || !org) return
    let live = true
    api.retention(org).then((p) => live && setRuns(p.pruned), () => live && setRuns(undefined))
    return () => {
      live = false
    }
  }, [api, opened, org])
  if (!runs?.length) return undefined
  const q = viewQuery(view.getState(), Date.now())
  const since = q.since ? Date.parse(q.since) : -Infinity
  const until = q.until ? Date.parse(q.until) : Infinity
  let count = 0
  let oldest = Infinity
  let newest = -Infinity
  for (const r of runs) {
    const o = Date.parse(r.oldest)
    const n = Date.parse(r.newest)
    if (n < since || o >= until) continue
    count += r.count
    oldest = Math.min(oldest, Math.max(o, since))
    newest = Math.max(newest, Math.min(n, until))
  }
  return count > 0 ? { count, oldest: new Date(oldest).toISOString(), newest: new Date(newest).toISOString() } : undefined
}

/**
 * The Export dialog: format, scope (the timeline's current filter), whether
 * states leave the log, and the destination folder; then progress with
 * Cancel, and the bundle's path and counts.
 */
export function ExportDialog({ opened, onClose }: { opened: boolean; onClose(): void }) {
  const { api, view } = useStores()
  const v = useView((s) => s)
  const estimate = useResults((s) => s.histogram?.buckets.reduce((n, b) => n + b.count, 0))
  const [format, setFormat] = useState<ExportFormat>('csv')
  const [sensitive, setSensitive] = useState(false)
  const [folder, setFolder] = useState(() => (api.canPickFolder ? '' : rememberedFolder()))
  const [phase, setPhase] = useState<Phase>({ kind: 'form' })
  const [error, setError] = useState<ApiError>()
  const handle = useRef<ExportHandle | undefined>(undefined)
  const running = phase.kind === 'running'
  useCloseOnEscape(opened && !running, onClose)
  const prunedBefore = usePrunedInRange(opened, v.org)

  // A new opening starts from the form; a running export keeps running.
  useEffect(() => {
    if (opened && !handle.current) {
      setPhase({ kind: 'form' })
      setError(undefined)
    }
  }, [opened])

  const { choose, picking } = useFolderPicker(undefined, setFolder, setError)

  const start = () => {
    const q: QueryDTO = { ...viewQuery(view.getState(), Date.now()), order: 'oldest' }
    const outDir = folder.trim()
    if (!outDir) {
      setError(new ApiError({ code: 'invalid_request', message: 'Choose the folder to write the bundle in.', fields: [{ field: 'folder', reason: 'choose the folder to write the bundle in' }] }))
      return
    }
    if (!api.canPickFolder) {
      try {
        localStorage.setItem(FOLDER_KEY, outDir)
      } catch {
        // private mode: not remembering is fine
      }
    }
    setError(undefined)
    setPhase({ kind: 'running' })
    const h = api.startExport({ query: q, format, outDir, includeSensitive: sensitive }, (p) =>
      setPhase((cur) => (cur.kind === 'running' ? { kind: 'running', progress: p } : cur)),
    )
    handle.current = h
    h.result.then(
      (result) => setPhase({ kind: 'done', result }),
      (err: unknown) => {
        setError(toApiError(err))
        setPhase({ kind: 'form' })
      },
    ).finally(() => {
      handle.current = undefined
    })
  }

  const cancel = () => {
    void handle.current?.cancel().catch((err: unknown) => setError(toApiError(err)))
  }

  const advice = error && exportAdvice(error)
  const fmt = FORMAT_OPTIONS.find((f) => f.value === format)
  return (
    <Modal
      opened={opened}
      onClose={onClose}
      title={<Text fw={600}>Export evidence</Text>}
      size="lg"
      closeOnClickOutside={!running}
      closeOnEscape={!running}
      withCloseButton={!running}
      data-testid="export-dialog"
    >
      <Stack gap="md">
        <div>
          <Text size="sm" fw={600} mb={4}>
            Scope
          </Text>
          <Text size="sm" data-testid="export-scope">
            {describeScope(v, v.tz)}
          </Text>
          <Text size="xs" c="dimmed">
            {estimate !== undefined ? `About ${estimate.toLocaleString('en-US')} events, oldest first. ` : ''}
            Change the query or time range in the timeline to export something else.
          </Text>
          {phase.kind !== 'done' && prunedBefore && (
            <Text size="xs" c="yellow.8" mt={4} data-testid="export-pruned-before">
              Retention has pruned up to {prunedBefore.count.toLocaleString('en-US')} {prunedBefore.count === 1 ? 'event' : 'events'} of this time range
              (dated {formatDateTime(prunedBefore.oldest, v.tz)} to {formatDateTime(prunedBefore.newest, v.tz)}); they are not in the export, and its
              pruned.json counts those its filter selects.
            </Text>
          )}
        </div>

        {phase.kind === 'done' ? (
          <ExportDone result={phase.result} />
        ) : (
          <>
            <Select
              label="Format"
              data-testid="export-format"
              value={format}
              onChange={(x) => x && setFormat(x as ExportFormat)}
              allowDeselect={false}
              disabled={running}
              data={FORMAT_OPTIONS.map((f) => ({ value: f.value, label: f.label }))}
              description={fmt?.description}
              comboboxProps={{ withinPortal: true }}
            />
            <div>
              <Switch
                label="Include before/after states (sensitive)"
                checked={sensitive}
                disabled={running}
                onChange={(e) => setSensitive(e.currentTarget.checked)}
                data-testid="export-sensitive"
                color="red"
              />
              {sensitive ? (
                <Alert mt="xs" color="red" variant="light" icon={<IconAlertTriangle size={18} />} title="The bundle will hold sensitive data" data-testid="export-sensitive-warning">
                  Before/after states are written in plain text: resource configuration, tags and anything else the agent recorded,
                  possibly secrets. Anyone who can read the folder can read them. The audit log records that this export revealed them.
                </Alert>
              ) : (
                <Text size="xs" c="dimmed" mt={4}>
                  <IconLock size={12} style={{ verticalAlign: -1 }} /> States stay in the log; only their commitments are exported, which still verify.
                </Text>
              )}
            </div>
            {api.canPickFolder ? (
              <Group align="flex-end" gap="xs" wrap="nowrap">
                <TextInput
                  label="Destination folder"
                  description="A new folder axiom-audit-export-<organization>-<time> is created inside."
                  value={folder}
                  readOnly
                  placeholder="Choose a folder…"
                  style={{ flex: 1 }}
                  data-testid="export-folder"
                />
                <Button variant="default" leftSection={<IconFolder size={16} />} onClick={choose} loading={picking} disabled={running} data-testid="export-choose-folder">
                  Choose…
                </Button>
              </Group>
            ) : (
              <TextInput
                label="Destination folder"
                description="The absolute path of a folder on the machine running axiom-audit serve (~/ is your home folder). A new folder axiom-audit-export-<organization>-<time> is created inside."
                placeholder="/home/you/exports"
                value={folder}
                onChange={(e) => setFolder(e.currentTarget.value)}
                disabled={running}
                data-testid="export-folder"
                onKeyDown={(e) => {
                  if (e.key === 'Enter' && !running) start()
                }}
              />
            )}
            {running && <ExportProgressBar progress={phase.progress} />}
            {error && advice && <AdviceAlert error={error} advice={advice} testId="export-error" />}
          </>
        )}

        <Group justify="flex-end" gap="xs">
          {phase.kind === 'done' ? (
            <>
              <Button variant="default" onClick={() => setPhase({ kind: 'form' })}>
                Export another
              </Button>
              <Button onClick={onClose} data-testid="export-close">
                Done
              </Button>
            </>
          ) : running ? (
            <Button color="red" variant="light" onClick={cancel} data-testid="export-cancel">
              Cancel export
            </Button>
          ) : (
            <>
              <Button variant="default" onClick={onClose}>
                Close
              </Button>
              <Button leftSection={<IconDownload size={16} />} onClick={start} disabled={!v.org} data-testid="export-start">
                Export
              </Button>
            </>
          )}
        </Group>
      </Stack>
    </Modal>
  )
}

function ExportProgressBar({ progress }: { progress?: ExportProgress }) {
  const known = !!progress && progress.total > 0
  const pct = known ? Math.min(100, (progress.events / progress.total) * 100) : 100
  let words = 'Starting: signing a checkpoint…'
  if (progress) {
    words = `${progress.events.toLocaleString('en-US')}${known ? ` of ${progress.total.toLocaleString('en-US')}` : ''} events · ${formatBytes(progress.bytes)}`
    if (progress.etaSeconds > 0) words += ` · ${formatETA(progress.etaSeconds)}`
  }
  return (
    <div data-testid="export-progress">
      <Progress
        value={pct}
        animated={!known}
        striped={!known}
        size="lg"
        aria-label="Export progress"
        role="progressbar"
        aria-valuenow={known ? Math.round(pct) : undefined}
        aria-valuemin={0}
        aria-valuemax={100}
      />
      <Text size="xs" c="dimmed" mt={4} data-testid="export-progress-text">
        {words}
      </Text>
    </div>
  )
}

/** What retention had pruned of the export's filter, as the bundle's pruned.json says. */
function PrunedNote({ pruned, exported }: { pruned: PrunedDTO; exported: number }) {
  if (pruned.count === 0) {
    return (
      <Text size="xs" c="dimmed" data-testid="export-pruned">
        Retention had pruned none of the events this export selects (pruned.json).
      </Text>
    )
  }
  const n = pruned.count.toLocaleString('en-US')
  const events = pruned.count === 1 ? 'event' : 'events'
  const upTo = pruned.exact ? '' : 'up to '
  return (
    <Alert color="yellow" variant="light" icon={<IconAlertTriangle size={18} />} title={exported === 0 ? 'Retention had pruned what this export selects' : 'Retention had pruned part of this range'} data-testid="export-pruned">
      {pruned.exact
        ? `${n} ${events} this export selects ${pruned.count === 1 ? 'was' : 'were'} pruned`
        : `Up to ${n} ${events} this export may have selected ${pruned.count === 1 ? 'was' : 'were'} pruned (a pruned event keeps only its id, time, category and action type)`}{' '}
      before it was written, so the bundle holds what remains:{' '}
      {pruned.rules.map((r) => `${upTo}${r.count.toLocaleString('en-US')} by ${r.policy}`).join('; ')}. pruned.json counts them by rule, signed with the manifest.
    </Alert>
  )
}

function ExportDone({ result }: { result: ExportResultDTO }) {
  const seqs = result.count > 0 ? ` (seq ${result.firstSeq.toLocaleString('en-US')} to ${result.lastSeq.toLocaleString('en-US')})` : ''
  return (
    <Stack gap="xs" data-testid="export-done">
      <Alert color="teal" variant="light" icon={<IconShieldCheck size={18} />} title="Evidence bundle written">
        {result.count.toLocaleString('en-US')} events{seqs} as {result.format}, {formatBytes(result.bytes)} in {result.files.length} files; states{' '}
        {result.includeSensitive ? 'revealed' : 'withheld (commitments only)'}.
      </Alert>
      {result.pruned && <PrunedNote pruned={result.pruned} exported={result.count} />}
      <Group gap="xs" wrap="nowrap" align="center">
        <Code block style={{ flex: 1, whiteSpace: 'pre-wrap', wordBreak: 'break-all' }} data-testid="export-result-dir">
          {result.dir}
        </Code>
        <CopyButton value={result.dir}>
          {({ copied, copy }) => (
            <Tooltip label={copied ? 'Copied' : 'Copy the path'}>
              <Button variant="default" size="xs" onClick={copy} aria-label="Copy the bundle's path" leftSection={copied ? <IconCheck size={14} /> : <IconCopy size={14} />}>
                {copied ? 'Copied' : 'Copy'}
              </Button>
            </Tooltip>
          )}
        </CopyButton>
      </Group>
      <Text size="xs" c="dimmed">
        An auditor checks it offline, with no keys: <Code>axiom-audit verify-export {result.dir}</Code>
      </Text>
      <Table withRowBorders={false} verticalSpacing={2} fz="xs">
        <Table.Tbody>
          {result.files.map((f) => (
            <Table.Tr key={f.name}>
              <Table.Td>{f.name}</Table.Td>
              <Table.Td ta="right">{formatBytes(f.bytes)}</Table.Td>
              <Table.Td ff="monospace" c="dimmed">
                {f.sha256.slice(0, 16)}…
              </Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
    </Stack>
  )
}

/** The timeline toolbar's Export button and its dialog. */
export function ExportButton({ compact }: { compact?: boolean }) {
  const org = useView((s) => s.org)
  // A search that does not parse would export as if it had no filter.
  const badSearch = useView((s) => parseQuery(s.q).errors.length > 0)
  const [opened, setOpened] = useState(false)
  return (
    <>
      <ToolbarButton
        compact={compact}
        icon={<IconDownload size={14} />}
        label="Export…"
        tooltip={badSearch ? 'Fix the search first: the view shows no events while it has an error' : 'Export the events of this view as an evidence bundle'}
        onClick={() => setOpened(true)}
        disabled={!org || badSearch}
        testId="export-button"
      />
      <ExportDialog opened={opened} onClose={() => setOpened(false)} />
    </>
  )
}
