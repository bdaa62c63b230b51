import { Alert, Button, Center, Code, List, Loader, Stack, Text, ThemeIcon, Title } from '@mantine/core'
import { IconFilterOff, IconLock, IconPlugConnectedX, IconShieldX, IconAlertCircle } from '@tabler/icons-react'
import type { ReactNode } from 'react'
import { adviceFor, type ApiError } from '../api/errors'

/**
 * A dialog's failed request: the advice's title, the app's message when the
 * steps do not already say it, and the steps. A cancellation the person
 * asked for is grey news, not a red error.
 */
export function AdviceAlert({ error, advice, testId }: { error: ApiError; advice: { title: string; steps: string[] }; testId: string }) {
  const cancelled = error.code === 'cancelled'
  return (
    <Alert color={cancelled ? 'gray' : 'red'} variant="light" title={advice.title} role="alert" data-testid={testId}>
      <Stack gap={4}>
        {!cancelled && error.message && !advice.steps.includes(error.message) && (
          <Text size="sm" ff="monospace" style={{ wordBreak: 'break-word' }}>
            {error.message}
          </Text>
        )}
        {advice.steps.map((s) => (
          <Text size="sm" key={s}>
            {s}
          </Text>
        ))}
      </Stack>
    </Alert>
  )
}

/** Says what failed and what the user can do about it. */
export function ErrorState({ error, onRetry, compact }: { error: ApiError; onRetry?: () => void; compact?: boolean }) {
  const advice = adviceFor(error)
  const icon =
    error.code === 'keychain_unavailable' || error.code === 'unauthorized' ? <IconLock />
    : error.code === 'integrity_alert' ? <IconShieldX />
    : error.code === 'unreachable' ? <IconPlugConnectedX />
    : <IconAlertCircle />
  if (compact) {
    return (
      <Alert color="red" variant="light" title={advice.title} icon={icon} role="alert">
        {error.message}
      </Alert>
    )
  }
  return (
    <Center h="100%" p="xl" role="alert" data-testid="error-state" data-code={error.code}>
      <Stack align="center" maw={560} gap="sm">
        <ThemeIcon size={48} radius="xl" variant="light" color={error.code === 'integrity_alert' ? 'red' : 'orange'}>
          {icon}
        </ThemeIcon>
        <Title order={3}>{advice.title}</Title>
        {error.code !== 'unauthorized' && (
          // The server's own words to a program ("a bearer token is
          // required") are not what a person in a browser needs.
          <Text c="dimmed" ta="center" size="sm">
            {error.message} <Code>{error.code}</Code>
          </Text>
        )}
        <List size="sm" spacing={6} maw={520}>
          {advice.steps.map((s) => (
            <List.Item key={s}>{s}</List.Item>
          ))}
        </List>
        {onRetry && (
          <Button variant="light" onClick={onRetry} mt="xs">
            Try again
          </Button>
        )}
      </Stack>
    </Center>
  )
}

export function EmptyState({ title, children, actions }: { title: string; children?: ReactNode; actions?: ReactNode }) {
  return (
    <Center h="100%" p="xl" data-testid="empty-state">
      <Stack align="center" gap="xs" maw={460}>
        <ThemeIcon size={48} radius="xl" variant="light" color="gray">
          <IconFilterOff />
        </ThemeIcon>
        <Title order={4}>{title}</Title>
        {children && (
          <Text size="sm" c="dimmed" ta="center">
            {children}
          </Text>
        )}
        {actions}
      </Stack>
    </Center>
  )
}

export function LoadingState({ label }: { label: string }) {
  return (
    <Center h="100%" role="status" aria-live="polite">
      <Stack align="center" gap="xs">
        <Loader size="sm" type="dots" />
        <Text size="sm" c="dimmed">
          {label}
        </Text>
      </Stack>
    </Center>
  )
}
