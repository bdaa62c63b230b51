import { Alert, Badge, Button, Code, Group, List, Popover, Progress, Stack, Text, UnstyledButton } from '@mantine/core'
import { IconShieldCheck, IconShieldExclamation, IconShieldQuestion } from '@tabler/icons-react'
import { useState } from 'react'
import { adviceFor } from '../api/errors'
import { counted } from '../lib/count'
import { formatDateTime, fromNow } from '../lib/time'
import { useSession, useStores, useView } from '../store/context'
import classes from './Header.module.css'
import { useCloseOnEscape } from '../lib/escape'

/** The newest checkpoint and the last verification; opens a panel that runs verification with progress. */
export function IntegrityBadge() {
  const { session } = useStores()
  const org = useView((s) => s.org)
  const tz = useView((s) => s.tz)
  const checkpoint = useSession((s) => s.checkpoint)
  // Set when the newest checkpoint could not be read: checkpoint is then the last one known.
  const checkpointError = useSession((s) => s.checkpointError)
  const last = useSession((s) => s.lastVerify)
  const verifying = useSession((s) => s.verifying)
  const progress = useSession((s) => s.progress)
  const verifyError = useSession((s) => s.verifyError)

  const orgs = useSession((s) => s.orgs)
  // An organization whose log is missing has no checkpoint to carry its
  // alert: the organization list does.
  const alert = checkpoint?.alert ?? orgs?.find((o) => o.id === org)?.alert
  const state = verifying ? 'running' : alert ? 'alert' : verifyError ? 'error' : last ? (last.clean ? 'clean' : 'problems') : 'unverified'
  const bad = state === 'problems' || state === 'error' || state === 'alert'
  const color = state === 'clean' ? 'teal' : bad ? 'red' : state === 'running' ? 'blue' : 'gray'
  const Icon = state === 'clean' ? IconShieldCheck : bad ? IconShieldExclamation : IconShieldQuestion
  const pct = progress && progress.total ? Math.round((progress.done / progress.total) * 100) : 0

  const [opened, setOpened] = useState(false)
  useCloseOnEscape(opened, () => setOpened(false))
  return (
    // trapFocus: focus moves into the popover as it opens; Esc closes it
    // also before then (useCloseOnEscape).
    <Popover opened={opened} onChange={setOpened} position="bottom-end" shadow="md" width={380} withArrow trapFocus returnFocus>
      <Popover.Target>
        <UnstyledButton className={classes.integrity} data-testid="integrity-badge" onClick={() => setOpened((o) => !o)} aria-label="Log integrity">
          <Icon size={18} color={`var(--mantine-color-${color}-6)`} />
          <Stack gap={0}>
            <Text size="xs" fw={600} lh={1.2}>
              {checkpoint ? `Checkpoint ${checkpoint.size.toLocaleString('en-US')}` : checkpointError ? 'Checkpoint unavailable' : 'No checkpoint yet'}
            </Text>
            <Text size="xs" c="dimmed" lh={1.2}>
              {state === 'running' ? `Verifying… ${pct}%` : alert ? 'Integrity alert: appends refused' : last ? `${last.clean ? `Verified ${counted(last.events, 'event')}` : 'Problems found'} ${fromNow(last.finishedAt)}` : verifyError ? 'Verification failed' : 'Not verified yet'}
            </Text>
          </Stack>
        </UnstyledButton>
      </Popover.Target>
      <Popover.Dropdown>
        <Stack gap="sm">
          <Group justify="space-between">
            <Text fw={600}>Log integrity</Text>
            <Badge color={color} variant="light">
              {state === 'running' ? 'verifying' : state}
            </Badge>
          </Group>
          {alert && (
            <Alert color="red" variant="light" title="Integrity alert" data-testid="integrity-alert">
              <Text size="sm">{alert.message}</Text>
              <Text size="xs" c="dimmed" mt={4}>
                Detected {formatDateTime(alert.detectedAt, tz)}. New events for {org} are refused until then.
              </Text>
            </Alert>
          )}
          {checkpointError && (
            <Text size="sm" c="orange" data-testid="checkpoint-error">
              {adviceFor(checkpointError).title}: {checkpoint ? 'this is the last checkpoint read, a newer one may exist.' : 'the newest checkpoint cannot be read now.'}
            </Text>
          )}
          {checkpoint ? (
            <Text size="sm">
              The newest signed checkpoint covers <b>{checkpoint.size.toLocaleString('en-US')}</b> events, made {formatDateTime(checkpoint.time, tz)}.
              <br />
              <Text span size="xs" c="dimmed">
                Root <Code>{checkpoint.root.slice(0, 24)}…</Code>
              </Text>
            </Text>
          ) : checkpointError ? null : (
            <Text size="sm" c="dimmed">
              No checkpoint has been signed for {org || 'this organization'} yet.
            </Text>
          )}
          {last && !verifying && (
            <Text size="sm" data-testid="verify-result">
              {last.clean ? 'Clean: ' : `${counted(last.problemCount ?? last.problems.length, 'problem')}: `}
              {counted(last.events, 'event')} of {last.org || org} checked {fromNow(last.finishedAt)}
              {last.keyless ? ' (without keys: hashes and signatures only)' : ''}.
            </Text>
          )}
          {last && !verifying && (last.pruned ?? 0) > 0 && (
            <Text size="xs" c="dimmed" data-testid="verify-pruned">
              {(last.pruned ?? 0).toLocaleString('en-US')} events pruned by retention policy
              {last.prunedRanges?.length ? ` (newest: ${last.prunedRanges[last.prunedRanges.length - 1]?.policy} at ${formatDateTime(last.prunedRanges[last.prunedRanges.length - 1]!.prunedAt, tz)})` : ''}
              ; their tombstones verify.
            </Text>
          )}
          {last && !last.clean && (
            <List size="xs" spacing={2}>
              {last.problems.slice(0, 5).map((p, i) => (
                <List.Item key={i}>
                  <b>{p.kind}</b> {p.seq ? `at #${p.seq}` : ''}: {p.detail}
                </List.Item>
              ))}
            </List>
          )}
          {verifying && (
            <Stack gap={4}>
              <Progress value={pct} animated aria-label="Verification progress" data-testid="verify-progress" />
              <Text size="xs" c="dimmed">
                {progress ? `${progress.done.toLocaleString('en-US')} of ${progress.total.toLocaleString('en-US')} events` : 'Starting…'}
              </Text>
            </Stack>
          )}
          {verifyError && (
            <Alert color="red" variant="light" title={adviceFor(verifyError).title}>
              {verifyError.message}
            </Alert>
          )}
          <Button onClick={() => void session.getState().verify(org)} loading={verifying} disabled={!org} data-testid="verify-run">
            Verify {org ? `${org}'s` : 'this organization\'s'} log now
          </Button>
          <Text size="xs" c="dimmed">
            Recomputes every event's hash, the Merkle tree and the checkpoint signatures of this organization, and records the check in
            its log as one more event (audit.verified). <Code>axiom-audit verify</Code> checks every organization.
          </Text>
        </Stack>
      </Popover.Dropdown>
    </Popover>
  )
}
