import { ActionIcon, Badge, Group, Select, Stack, Text, Tooltip, UnstyledButton } from '@mantine/core'
import { IconKeyboard, IconShieldExclamation } from '@tabler/icons-react'
import { useSession, useStores, useView } from '../store/context'
import classes from './Header.module.css'
import { IntegrityBadge } from './IntegrityBadge'
import { RetentionIndicator } from './RetentionPanel'
import { SyncIndicator } from './SyncIndicator'
import { ThemeToggle } from './ThemeToggle'

export function Logo() {
  return (
    <Group gap={8} wrap="nowrap">
      <svg width="22" height="22" viewBox="0 0 24 24" aria-hidden="true">
        <path d="M12 2 3 7v10l9 5 9-5V7z" fill="var(--mantine-color-indigo-6)" />
        <path d="m12 7-4.5 2.5v5L12 17l4.5-2.5v-5z" fill="var(--mantine-color-body)" opacity="0.9" />
      </svg>
      <Text fw={700} size="md" className={classes.brand} style={{ whiteSpace: 'nowrap' }}>
        Axiom Audit
      </Text>
    </Group>
  )
}

/**
 * Integrity alerts of organizations other than the one shown: the badge
 * speaks for the shown one only, and an alert must not go unseen. A click
 * shows the (first) organization with an alert.
 */
export function OtherAlerts() {
  const { view } = useStores()
  const org = useView((s) => s.org)
  const orgs = useSession((s) => s.orgs)
  const others = (orgs ?? []).filter((o) => o.alert && o.id !== org)
  if (!others.length) return null
  const names = others.map((o) => o.id)
  const label = others.length === 1 ? `Integrity alert: ${names[0]}` : `Integrity alerts: ${others.length} organizations`
  return (
    <Tooltip label={`Integrity alert on ${names.join(', ')}: appends refused. Click to show ${names[0]}.`} multiline w={320}>
      <UnstyledButton className={classes.integrity} data-testid="other-alerts" aria-label={label}
        onClick={() => view.getState().set({ org: names[0], event: undefined })}>
        <IconShieldExclamation size={18} color="var(--mantine-color-red-6)" />
        <Stack gap={0} maw={96}>
          <Text size="xs" fw={600} c="red" lh={1.2}>
            {others.length === 1 ? 'Alert' : `${others.length} alerts`}
          </Text>
          <Text size="xs" c="red" lh={1.2} truncate="end">
            {names.join(', ')}
          </Text>
        </Stack>
      </UnstyledButton>
    </Tooltip>
  )
}

/** Organization, profile, integrity, sync and theme. */
export function Header({ onShortcuts }: { onShortcuts(): void }) {
  const { view } = useStores()
  const org = useView((s) => s.org)
  const orgs = useSession((s) => s.orgs)
  const info = useSession((s) => s.info)
  // Without the session (signed out, a locked keychain) nothing is known of
  // the log: no organization, integrity, sync or retention to show, and
  // "No checkpoint yet" or "Sync off" would be claims about it.
  const blocked = useSession((s) => s.error !== undefined && !s.orgs)
  const data = (orgs ?? []).map((o) => ({ value: o.id, label: `${o.id} · ${o.size.toLocaleString('en-US')}${o.alert ? ' · integrity alert' : ''}` }))
  const shown = data.find((d) => d.value === org)?.label
  return (
    <Group className={classes.header} justify="space-between" wrap="nowrap" component="header">
      <Group gap="lg" wrap="nowrap" className={classes.left}>
        <Logo />
        {/* The room the right side leaves, up to a cap: a long name is
            cut with an ellipsis, and said whole on hover. */}
        {!blocked && <Select
          size="sm"
          className={classes.org}
          classNames={{ input: classes.orgInput }}
          title={shown}
          aria-label="Organization"
          data-testid="org-switcher"
          value={org || null}
          allowDeselect={false}
          placeholder={orgs ? 'No organizations yet' : 'Loading…'}
          data={data}
          onChange={(v) => v && view.getState().set({ org: v, event: undefined })}
          comboboxProps={{ withinPortal: true }}
        />}
      </Group>
      <Group gap="md" wrap="nowrap" className={classes.right}>
        {!blocked && (
          <>
            <OtherAlerts />
            <IntegrityBadge />
            <SyncIndicator />
            <RetentionIndicator />
          </>
        )}
        {(!blocked || info) && <Tooltip label={info ? `${info.dataDir} · ${info.version}` : ''} disabled={!info}>
          <Badge variant="outline" color="gray" size="lg" radius="sm" tt="none" fw={500} maw={{ base: 110, lg: 220 }} style={{ flexShrink: 0 }} className={classes.profile}
            aria-label={`profile ${info?.profile ?? ''}`}>
            <Text span visibleFrom="lg" inherit>
              profile{' '}
            </Text>
            <span data-testid="profile">{info?.profile ?? '…'}</span>
          </Badge>
        </Tooltip>}
        <ThemeToggle />
        <Tooltip label="Keyboard shortcuts (?)">
          <ActionIcon variant="default" size="lg" aria-label="Keyboard shortcuts" onClick={onShortcuts}>
            <IconKeyboard size={18} />
          </ActionIcon>
        </Tooltip>
      </Group>
    </Group>
  )
}
