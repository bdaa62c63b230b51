import { Alert, Button, Code, Group, Modal, Radio, Stack, Text, TextInput } from '@mantine/core'
import { IconFolder, IconShieldCheck, IconShieldLock } from '@tabler/icons-react'
import { useEffect, useState } from 'react'
import { ApiError, adviceFor, folderAdvice, toApiError } from '../api/errors'
import type { AuditCopyDTO } from '../api/types'
import { useSession, useStores, useView } from '../store/context'
import { CopyPath, joinPath } from './ReportDialog'
import { AdviceAlert } from './StatusStates'
import { useFolderPicker } from './useFolderPicker'
import { ToolbarButton } from './ToolbarButton'
import { useCloseOnEscape } from '../lib/escape'

/** The name the copy's folder gets unless the person changes it: the day, in UTC. */
export function defaultCopyName(now: number): string {
  return `axiom-audit-copy-${new Date(now).toISOString().slice(0, 10)}`
}

/**
 * A path as a shell word: as it is when it has nothing a shell reads;
 * otherwise in double quotes for a Windows path (cmd and PowerShell), in
 * single quotes for a POSIX shell.
 */
export function shellWord(p: string): string {
  if (/^[\w@%+=:,./-]+$/.test(p)) return p
  if (/^[A-Za-z]:\\/.test(p) && !p.includes('"')) return `"${p}"`
  return `'${p.replace(/'/g, `'\\''`)}'`
}

/** The auditor's command for a copy: no keychain, the owner's key pinned. */
export function auditorCommand(copy: AuditCopyDTO): string {
  return `axiom-audit verify --data-dir ${shellWord(copy.dir)} --read-key ${shellWord(copy.readKeyFile)} --public-key owner.pub`
}

/** What the person sees for a copy that failed, and what they can do. */
export function copyAdvice(err: ApiError): { title: string; steps: string[] } {
  const folder = folderAdvice(err, 'copy again')
  if (folder) return folder
  if (err.code === 'integrity_alert') {
    return { title: 'The copy cannot be recorded', steps: ['The log records every copy in its own organization, which has an integrity alert: nothing was copied.', err.message] }
  }
  return adviceFor(err)
}

/**
 * "Copy for an auditor": the whole log, as of now, into a new folder with
 * a read key of its own, which an auditor verifies with no keychain; then
 * the command the auditor runs and the verifier key to hand over with it.
 */
export function AuditCopyDialog({ opened, onClose, now = Date.now }: { opened: boolean; onClose(): void; now?: () => number }) {
  const { api } = useStores()
  const publicKey = useSession((s) => s.checkpoint?.publicKey)
  const org = useView((s) => s.org)
  // The organization in view alone, unless the person asks for every
  // one: an auditor of one organization gets nothing of the others.
  const [scope, setScope] = useState<'org' | 'all'>('org')
  const [folder, setFolder] = useState('')
  const [name, setName] = useState(() => defaultCopyName(now()))
  const [folderError, setFolderError] = useState<string>()
  const [nameError, setNameError] = useState<string>()
  const [error, setError] = useState<ApiError>()
  const [busy, setBusy] = useState(false)
  useCloseOnEscape(opened && !busy, onClose)
  const [result, setResult] = useState<AuditCopyDTO>()

  // A new opening starts from the form (a copy being made keeps going).
  useEffect(() => {
    if (opened && !busy) {
      setResult(undefined)
      setError(undefined)
      setFolderError(undefined)
      setNameError(undefined)
      setName(defaultCopyName(now()))
    }
  }, [opened])

  const { choose, picking } = useFolderPicker('Choose the folder to make the auditor’s copy in', (dir) => {
    setFolder(dir)
    setFolderError(undefined)
  }, setError)

  const copy = () => {
    setError(undefined)
    const parent = folder.trim()
    const leaf = name.trim()
    const noFolder = !parent ? (api.canPickFolder ? 'Choose the folder to make the copy in.' : 'Type the absolute path of the folder to make the copy in.') : undefined
    const badName = !leaf || /[\\/]/.test(leaf) ? 'Name the new folder of the copy (no / or \\ in it).' : undefined
    setFolderError(noFolder)
    setNameError(badName)
    if (noFolder || badName) return
    setBusy(true)
    api.copyForAudit(joinPath(parent, leaf), scope === 'org' && org ? [org] : undefined).then(setResult, (err: unknown) => {
      const e = toApiError(err)
      const f = e.fields.find((x) => x.field === 'dir')
      // A copy is never made into a folder that exists: the name is what
      // to change. Anything else about the path is the folder's.
      if (e.code === 'invalid_request' && f && / exists: /.test(f.reason)) setNameError(f.reason)
      else if (e.code === 'invalid_request' && f) setFolderError(f.reason)
      else setError(e)
    }).finally(() => setBusy(false))
  }

  const advice = error && copyAdvice(error)
  return (
    <Modal
      opened={opened}
      onClose={onClose}
      title={<Text fw={600}>Copy for an auditor</Text>}
      size="lg"
      closeOnClickOutside={!busy}
      closeOnEscape={!busy}
      withCloseButton={!busy}
      data-testid="audit-copy-dialog"
    >
      {result ? (
        <Stack gap="xs" data-testid="audit-copy-done">
          <Alert color="teal" variant="light" icon={<IconShieldCheck size={18} />} title="Copy made">
            {result.events.toLocaleString('en-US')} events of {result.organizations === 1 ? '1 organization' : `${result.organizations} organizations`}, as of now. The log records the copy.
          </Alert>
          <Group gap="xs" wrap="nowrap" align="center">
            <Code block style={{ flex: 1, whiteSpace: 'pre-wrap', wordBreak: 'break-all' }} data-testid="audit-copy-dir">
              {result.dir}
            </Code>
            <CopyPath value={result.dir} label="Copy the copy's path" />
          </Group>
          <Text size="sm">
            Hand the folder to the auditor. Its <Text span ff="monospace">read-key</Text> file opens the copy, and nothing of this log; states
            stay sealed. The auditor verifies it on any machine, with no keychain:
          </Text>
          <Group gap="xs" wrap="nowrap" align="center">
            <Code block style={{ flex: 1, whiteSpace: 'pre-wrap', wordBreak: 'break-all' }} data-testid="audit-copy-command">
              {auditorCommand(result)}
            </Code>
            <CopyPath value={auditorCommand(result)} label="Copy the auditor's command" />
          </Group>
          <Text size="sm">
            <Text span ff="monospace">owner.pub</Text> is this log's verifier key. Give it to the auditor another way (or publish it), so
            that a copy signed with another key cannot pass:
          </Text>
          {publicKey ? (
            <Group gap="xs" wrap="nowrap" align="center">
              <Code block style={{ flex: 1, whiteSpace: 'pre-wrap', wordBreak: 'break-all' }} data-testid="audit-copy-public-key">
                {publicKey}
              </Code>
              <CopyPath value={publicKey} label="Copy the verifier key" />
            </Group>
          ) : (
            <Text size="sm" c="dimmed">
              Print it with <Text span ff="monospace">axiom-audit checkpoint --org ORG --public-key</Text>.
            </Text>
          )}
          <Group justify="flex-end" mt="sm">
            <Button onClick={onClose}>Done</Button>
          </Group>
        </Stack>
      ) : (
        <Stack gap="md">
          <Text size="sm">
            Copies the log, as of now, into a new folder: its records, checkpoints and integrity alerts, encrypted with a read key of its own.
            States stay sealed, and the copy holds no token or sync setting. An auditor verifies it without the keychain.
          </Text>
          <Radio.Group value={org ? scope : 'all'} onChange={(v) => setScope(v as 'org' | 'all')} label="Organizations" data-testid="audit-copy-scope">
            <Stack gap={6} mt={4}>
              {org && <Radio value="org" label={`${org} only`} disabled={busy} data-testid="audit-copy-scope-org" />}
              <Radio value="all" label="Every organization of this profile" disabled={busy} data-testid="audit-copy-scope-all" />
            </Stack>
          </Radio.Group>
          <Group gap="xs" align="flex-end" wrap="nowrap">
            <TextInput
              label="Folder"
              description={api.canPickFolder ? undefined : 'An absolute path on this machine'}
              placeholder={api.canPickFolder ? 'Choose a folder…' : '/home/you/audits'}
              value={folder}
              onChange={(e) => setFolder(e.currentTarget.value)}
              readOnly={api.canPickFolder}
              disabled={busy}
              style={{ flex: 1 }}
              error={folderError}
              data-testid="audit-copy-folder"
            />
            {api.canPickFolder && (
              <Button variant="default" leftSection={<IconFolder size={14} />} onClick={() => void choose()} loading={picking} disabled={busy}>
                Choose…
              </Button>
            )}
          </Group>
          <TextInput
            label="New folder"
            value={name}
            onChange={(e) => setName(e.currentTarget.value)}
            disabled={busy}
            error={nameError}
            data-testid="audit-copy-name"
          />
          {error && advice && <AdviceAlert error={error} advice={advice} testId="audit-copy-error" />}
          <Group justify="flex-end">
            <Button variant="default" onClick={onClose} disabled={busy}>
              Cancel
            </Button>
            <Button onClick={copy} loading={busy} leftSection={<IconShieldLock size={14} />} data-testid="audit-copy-start">
              Make copy
            </Button>
          </Group>
        </Stack>
      )}
    </Modal>
  )
}

/** The timeline toolbar's button for the dialog, where the app can make copies. */
export function AuditCopyButton({ compact }: { compact?: boolean }) {
  const { api } = useStores()
  const [opened, setOpened] = useState(false)
  if (!api.canCopyForAudit) return null
  return (
    <>
      <ToolbarButton
        compact={compact}
        icon={<IconShieldLock size={14} />}
        label="Copy for auditor…"
        tooltip="Copy the log for an auditor, who verifies it without the keychain"
        onClick={() => setOpened(true)}
        testId="audit-copy-button"
      />
      <AuditCopyDialog opened={opened} onClose={() => setOpened(false)} />
    </>
  )
}
