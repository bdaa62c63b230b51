import {
  Alert, Button, Code, CopyButton, Group, Loader, Modal, SegmentedControl, Stack, Table, Text, TextInput, Tooltip,
} from '@mantine/core'
import { DateInput } from '@mantine/dates'
import '@mantine/dates/styles.css'
import { IconAlertTriangle, IconCheck, IconCopy, IconFileAnalytics, IconFolder, IconShieldCheck, IconShieldX } from '@tabler/icons-react'
import { useEffect, useRef, useState } from 'react'
import { ApiError, adviceFor, folderAdvice, toApiError } from '../api/errors'
import type { ReportResultDTO } from '../api/types'
import { customPeriod, describePeriod, quickPeriod, type CustomPeriodError, type PeriodChoice } from '../lib/period'
import { useStores, useView } from '../store/context'
import { formatBytes } from './ExportDialog'
import { AdviceAlert } from './StatusStates'
import { useFolderPicker } from './useFolderPicker'
import { ToolbarButton } from './ToolbarButton'
import { useCloseOnEscape } from '../lib/escape'

const CHOICES: { value: PeriodChoice; label: string }[] = [
  { value: 'this-quarter', label: 'This quarter' },
  { value: 'last-quarter', label: 'Last quarter' },
  { value: 'this-month', label: 'This month' },
  { value: 'last-month', label: 'Last month' },
  { value: 'custom', label: 'Custom' },
]

/** What the person sees for a report that failed, and what they can do. */
export function reportAdvice(err: ApiError): { title: string; steps: string[] } {
  const folder = folderAdvice(err, 'generate again')
  if (folder) return folder
  switch (err.code) {
    case 'cancelled':
      return { title: 'Report cancelled', steps: ['Nothing was written: the folder holds no part of the report.'] }
    case 'conflict':
      return { title: 'A report of that name exists', steps: ['A report of this organization and period was written in the same second; nothing was overwritten. Generate again in a moment.'] }
    case 'invalid_request':
      return { title: 'The report request is not valid', steps: err.fields.length ? err.fields.map((f) => `${f.field}: ${f.reason}`) : [err.message] }
    default:
      return adviceFor(err)
  }
}

const FOLDER_KEY = 'axiom-audit.report-folder'
const EXPORT_FOLDER_KEY = 'axiom-audit.export-folder'

function rememberedFolder(): string {
  try {
    return localStorage.getItem(FOLDER_KEY) ?? localStorage.getItem(EXPORT_FOLDER_KEY) ?? ''
  } catch {
    return ''
  }
}

/** dir/name with the separator dir already uses. */
export function joinPath(dir: string, name: string): string {
  const sep = dir.includes('\\') && !dir.includes('/') ? '\\' : '/'
  return dir.replace(/[\\/]+$/, '') + sep + name
}

/**
 * The Reports dialog: the organization's compliance report for a period
 * (a quarter, a month or a custom range of days, in UTC) written to a
 * folder; then the folder, its files, the integrity status and how an
 * auditor checks the evidence.
 */
export function ReportDialog({ opened, onClose, now = Date.now }: { opened: boolean; onClose(): void; now?: () => number }) {
  const { api, session } = useStores()
  const org = useView((s) => s.org)
  const [choice, setChoice] = useState<PeriodChoice>('last-quarter')
  const [from, setFrom] = useState<string | null>(null)
  const [to, setTo] = useState<string | null>(null)
  const [customError, setCustomError] = useState<CustomPeriodError>()
  const [folder, setFolder] = useState(() => (api.canPickFolder ? '' : rememberedFolder()))
  const [folderError, setFolderError] = useState<string>()
  const [error, setError] = useState<ApiError>()
  const [busy, setBusy] = useState(false)
  useCloseOnEscape(opened && !busy, onClose)
  const [result, setResult] = useState<ReportResultDTO>()
  const abort = useRef<AbortController>(undefined)

  // A new opening starts from the form (a report being written keeps going).
  useEffect(() => {
    if (opened && !busy) {
      setResult(undefined)
      setError(undefined)
    }
  }, [opened])

  const quick = choice === 'custom' ? undefined : quickPeriod(choice, now())

  const { choose, picking } = useFolderPicker('Choose the folder for the report', (dir) => {
    setFolder(dir)
    setFolderError(undefined)
  }, setError)

  const generate = () => {
    // An alert from the last attempt no longer applies to this one.
    setError(undefined)
    let period = quick
    if (choice === 'custom') {
      const c = customPeriod(from, to, now())
      if ('error' in c) {
        setCustomError(c.error)
        return
      }
      period = c.period
    }
    setCustomError(undefined)
    const outDir = folder.trim()
    if (!outDir) {
      setFolderError(api.canPickFolder ? 'Choose the folder to write the report in.' : 'Type the absolute path of the folder to write the report in.')
      return
    }
    if (!api.canPickFolder && !/^(\/|~|[A-Za-z]:[\\/])/.test(outDir)) {
      setFolderError('Give the whole path, starting with / (or ~/ for your home folder), e.g. /home/you/reports.')
      return
    }
    setFolderError(undefined)
    if (!api.canPickFolder) {
      try {
        localStorage.setItem(FOLDER_KEY, outDir)
      } catch {
        // private mode: not remembering is fine
      }
    }
    setError(undefined)
    setBusy(true)
    const ac = new AbortController()
    abort.current = ac
    api.writeReport({ org, period: period!, outDir }, ac.signal).then(
      (r) => {
        setResult(r)
        // The report verified the log: the integrity badge shows it.
        void session.getState().loadCheckpoint(org)
      },
      (err: unknown) => {
        const e = toApiError(err)
        // A field the form shows gets its error there; anything else is an alert.
        const f = e.fields.find((x) => x.field === 'outDir' || x.field === 'period')
        if (e.code === 'invalid_request' && f?.field === 'outDir') setFolderError(f.reason)
        else if (e.code === 'invalid_request' && f?.field === 'period') setCustomError({ field: 'from', message: f.reason })
        else setError(e)
      },
    ).finally(() => setBusy(false))
  }

  const advice = error && reportAdvice(error)
  const described = quick ? describePeriod(quick) : undefined
  return (
    <Modal
      opened={opened}
      onClose={onClose}
      title={<Text fw={600}>Compliance report</Text>}
      size="lg"
      closeOnClickOutside={!busy}
      closeOnEscape={!busy}
      withCloseButton={!busy}
      data-testid="report-dialog"
    >
      <Stack gap="md">
        <div>
          <Text size="sm" fw={600} mb={4}>
            Organization
          </Text>
          <Text size="sm" data-testid="report-org">
            {org || 'No organization chosen'}
          </Text>
        </div>

        {result ? (
          <ReportDone result={result} />
        ) : (
          <>
            <div>
              <Text size="sm" fw={600} mb={4} id="report-period-label">
                Period
              </Text>
              <SegmentedControl
                fullWidth
                value={choice}
                onChange={(v) => {
                  setChoice(v as PeriodChoice)
                  setCustomError(undefined)
                }}
                data={CHOICES}
                disabled={busy}
                aria-labelledby="report-period-label"
                data-testid="report-period"
              />
              {quick ? (
                <Text size="xs" c="dimmed" mt={4} data-testid="report-period-text">
                  {quick}: {described}
                </Text>
              ) : (
                <Group grow mt="xs" align="flex-start">
                  <DateInput
                    label="From (UTC)"
                    placeholder="YYYY-MM-DD"
                    valueFormat="YYYY-MM-DD"
                    dateParser={(v) => (/^\d{4}-\d{2}-\d{2}$/.test(v.trim()) ? v.trim() : null)}
                    value={from}
                    onChange={(v) => {
                      setFrom(v)
                      setCustomError(undefined)
                    }}
                    clearable
                    disabled={busy}
                    error={customError?.field === 'from' ? customError.message : undefined}
                    data-testid="report-from"
                    popoverProps={{ withinPortal: true }}
                  />
                  <DateInput
                    label="To (UTC, included)"
                    placeholder="YYYY-MM-DD"
                    valueFormat="YYYY-MM-DD"
                    dateParser={(v) => (/^\d{4}-\d{2}-\d{2}$/.test(v.trim()) ? v.trim() : null)}
                    value={to}
                    onChange={(v) => {
                      setTo(v)
                      setCustomError(undefined)
                    }}
                    clearable
                    disabled={busy}
                    error={customError?.field === 'to' ? customError.message : undefined}
                    data-testid="report-to"
                    popoverProps={{ withinPortal: true }}
                  />
                </Group>
              )}
            </div>

            {api.canPickFolder ? (
              <Group align="flex-start" gap="xs" wrap="nowrap">
                <TextInput
                  label="Destination folder"
                  description="A new folder axiom-audit-report-<organization>-<period>-<time> is created inside."
                  value={folder}
                  readOnly
                  placeholder="Choose a folder…"
                  style={{ flex: 1 }}
                  error={folderError}
                  data-testid="report-folder"
                />
                <Button mt={42} variant="default" leftSection={<IconFolder size={16} />} onClick={choose} loading={picking} disabled={busy} data-testid="report-choose-folder">
                  Choose…
                </Button>
              </Group>
            ) : (
              <TextInput
                label="Destination folder"
                description="The absolute path of a folder on the machine running axiom-audit serve (~/ is your home folder). A new folder axiom-audit-report-<organization>-<period>-<time> is created inside."
                placeholder="/home/you/reports"
                value={folder}
                onChange={(e) => {
                  setFolder(e.currentTarget.value)
                  setFolderError(undefined)
                }}
                disabled={busy}
                error={folderError}
                data-testid="report-folder"
                onKeyDown={(e) => {
                  if (e.key === 'Enter' && !busy) generate()
                }}
              />
            )}

            {busy && (
              <Group gap="xs" data-testid="report-busy" role="status">
                <Loader size="sm" />
                <Text size="sm">Verifying the log and writing the report… a large log takes a minute or two.</Text>
              </Group>
            )}
            {error && advice && <AdviceAlert error={error} advice={advice} testId="report-error" />}
          </>
        )}

        <Group justify="flex-end" gap="xs">
          {result ? (
            <>
              <Button variant="default" onClick={() => setResult(undefined)}>
                Another report
              </Button>
              {/* Keyed: not the Generate button re-rendered, whose loader would still be fading out. */}
              <Button key="done" onClick={onClose} data-testid="report-close">
                Done
              </Button>
            </>
          ) : (
            <>
              {busy ? (
                <Button color="red" variant="light" onClick={() => abort.current?.abort()} data-testid="report-cancel">
                  Cancel
                </Button>
              ) : (
                <Button variant="default" onClick={onClose}>
                  Close
                </Button>
              )}
              <Button key="generate" leftSection={<IconFileAnalytics size={16} />} onClick={generate} loading={busy} disabled={!org} data-testid="report-generate">
                Generate
              </Button>
            </>
          )}
        </Group>
      </Stack>
    </Modal>
  )
}

const INTEGRITY: Record<string, { color: string; words: string }> = {
  verified: { color: 'teal', words: 'verified: the whole log was checked against its signed checkpoint, with no problems.' },
  problems: { color: 'red', words: 'problems found: verification reported problems; the report lists them. Investigate before handing it over.' },
  'checkpoint-only': { color: 'yellow', words: 'not verified: the report shows the newest checkpoint, but verification could not run (see report.html).' },
  unavailable: { color: 'yellow', words: 'unavailable: there is no checkpoint and the log could not be verified (see report.html).' },
}

export function CopyPath({ value, label }: { value: string; label: string }) {
  return (
    <CopyButton value={value}>
      {({ copied, copy }) => (
        <Tooltip label={copied ? 'Copied' : label}>
          <Button variant="default" size="xs" onClick={copy} aria-label={label} leftSection={copied ? <IconCheck size={14} /> : <IconCopy size={14} />}>
            {copied ? 'Copied' : 'Copy'}
          </Button>
        </Tooltip>
      )}
    </CopyButton>
  )
}

function ReportDone({ result }: { result: ReportResultDTO }) {
  const integrity = INTEGRITY[result.integrity] ?? { color: 'yellow', words: result.integrity }
  const evidence = result.files.filter((f) => f.name.startsWith('evidence/'))
  const file = (name: string) => result.files.find((f) => f.name === name)
  const html = file('report.html')
  const pdf = file('report.pdf')
  const json = file('report.json')
  const verify = `axiom-audit verify-export ${/\s/.test(result.dir) ? `"${result.dir}"` : result.dir}`
  return (
    <Stack gap="xs" data-testid="report-done">
      <Alert color="teal" variant="light" icon={<IconShieldCheck size={18} />} title="Report written">
        {result.events.toLocaleString('en-US')} events in the period; {result.evidenceEvents.toLocaleString('en-US')} material events in the evidence bundle;{' '}
        {formatBytes(result.bytes)} in all.
      </Alert>
      <Group gap="xs" wrap="nowrap" align="center">
        <Code block style={{ flex: 1, whiteSpace: 'pre-wrap', wordBreak: 'break-all' }} data-testid="report-result-dir">
          {result.dir}
        </Code>
        <CopyPath value={result.dir} label="Copy the report folder's path" />
      </Group>
      <Group gap={6} wrap="nowrap" align="flex-start" data-testid="report-integrity">
        {result.integrity === 'verified' ? <IconShieldCheck size={18} color="var(--mantine-color-teal-6)" /> : <IconShieldX size={18} color={`var(--mantine-color-${integrity.color}-6)`} />}
        <Text size="sm">
          <Text span fw={600}>
            Integrity
          </Text>{' '}
          {integrity.words}
        </Text>
      </Group>
      <Table withRowBorders={false} verticalSpacing={2} fz="sm" data-testid="report-files" layout="fixed">
        <colgroup>
          <col style={{ width: 128 }} />
          <col />
          <col style={{ width: 84 }} />
        </colgroup>
        <Table.Tbody>
          <Table.Tr>
            <Table.Td ff="monospace">report.html</Table.Td>
            <Table.Td>The report: self-contained and printable, with charts. Open it in a browser.</Table.Td>
            <Table.Td ta="right" style={{ whiteSpace: 'nowrap' }}>{html ? formatBytes(html.bytes) : ''}</Table.Td>
          </Table.Tr>
          <Table.Tr>
            <Table.Td ff="monospace">report.pdf</Table.Td>
            {result.pdf && pdf ? (
              <>
                <Table.Td>The same, printed to PDF.</Table.Td>
                <Table.Td ta="right" style={{ whiteSpace: 'nowrap' }}>{formatBytes(pdf.bytes)}</Table.Td>
              </>
            ) : (
              <Table.Td colSpan={2} data-testid="report-pdf-note">
                <Group gap={4} wrap="nowrap" align="flex-start">
                  <IconAlertTriangle size={16} color="var(--mantine-color-yellow-6)" style={{ flexShrink: 0, marginTop: 2 }} />
                  <Text size="sm">
                    {result.note || 'report.pdf was not produced: the PDF needs Chromium on the machine that writes the report. Open report.html in a browser and print it to PDF.'}
                  </Text>
                </Group>
              </Table.Td>
            )}
          </Table.Tr>
          <Table.Tr>
            <Table.Td ff="monospace">report.json</Table.Td>
            <Table.Td>The same figures, for tools.</Table.Td>
            <Table.Td ta="right" style={{ whiteSpace: 'nowrap' }}>{json ? formatBytes(json.bytes) : ''}</Table.Td>
          </Table.Tr>
          <Table.Tr>
            <Table.Td ff="monospace">evidence/</Table.Td>
            <Table.Td>
              The evidence bundle of the period’s material events ({evidence.length} files).
            </Table.Td>
            <Table.Td ta="right" style={{ whiteSpace: 'nowrap' }}>{formatBytes(evidence.reduce((n, f) => n + f.bytes, 0))}</Table.Td>
          </Table.Tr>
          <Table.Tr>
            <Table.Td ff="monospace">SHA256SUMS</Table.Td>
            <Table.Td colSpan={2}>
              Every file’s hash; its own SHA-256 is{' '}
              <Text span ff="monospace" size="xs" data-testid="report-sha256" style={{ wordBreak: 'break-all' }}>
                {result.sha256}
              </Text>
            </Table.Td>
          </Table.Tr>
          <Table.Tr>
            <Table.Td ff="monospace">SHA256SUMS.sig</Table.Td>
            <Table.Td colSpan={2}>The log’s key signs SHA256SUMS: the report’s figures cannot be changed unnoticed.</Table.Td>
          </Table.Tr>
        </Table.Tbody>
      </Table>
      <Text size="xs" c="dimmed">
        An auditor checks the report, its signature and its evidence offline, with no keys:
      </Text>
      <Group gap="xs" wrap="nowrap" align="center">
        <Code block style={{ flex: 1, whiteSpace: 'pre-wrap', wordBreak: 'break-all' }} data-testid="report-verify-command">
          {verify}
        </Code>
        <CopyPath value={verify} label="Copy the verify command" />
      </Group>
    </Stack>
  )
}

/** The timeline toolbar's Reports button and its dialog. */
export function ReportButton({ compact }: { compact?: boolean }) {
  const org = useView((s) => s.org)
  const [opened, setOpened] = useState(false)
  return (
    <>
      <ToolbarButton
        compact={compact}
        icon={<IconFileAnalytics size={14} />}
        label="Reports…"
        tooltip="Write a compliance report of this organization for a period"
        onClick={() => setOpened(true)}
        disabled={!org}
        testId="report-button"
      />
      <ReportDialog opened={opened} onClose={() => setOpened(false)} />
    </>
  )
}
