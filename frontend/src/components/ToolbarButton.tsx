import { ActionIcon, Button, Tooltip } from '@mantine/core'
import type { ReactNode } from 'react'

/**
 * A button of the timeline's toolbar: its icon and words, or only its icon
 * where the toolbar has no room for the words (compact), named by them for
 * screen readers and explained by the tooltip either way.
 */
export function ToolbarButton({
  compact, icon, label, tooltip, onClick, disabled, testId,
}: {
  compact?: boolean
  icon: ReactNode
  label: string
  tooltip: string
  onClick(): void
  disabled?: boolean
  testId: string
}) {
  return (
    <Tooltip label={tooltip}>
      {compact ? (
        <ActionIcon size={26} variant="default" aria-label={label} onClick={onClick} disabled={disabled} data-testid={testId}>
          {icon}
        </ActionIcon>
      ) : (
        <Button size="compact-sm" variant="default" leftSection={icon} onClick={onClick} disabled={disabled} data-testid={testId}>
          {label}
        </Button>
      )}
    </Tooltip>
  )
}
