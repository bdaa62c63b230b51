import { Button, Tooltip } from '@mantine/core'
import type { ReactNode } from 'react'

/**
 * A button of the timeline's toolbar: its icon and words, or only its icon
 * where the toolbar has no room for the words (compact), named by them for
 * screen readers and explained by the tooltip either way, on hover and on
 * keyboard focus. It stays one element across the two, so that a resize
 * neither drops its focus nor leaves its dialog nowhere to return focus to.
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
    <Tooltip label={tooltip} events={{ hover: true, focus: true, touch: false }}>
      <Button
        size="compact-sm"
        variant="default"
        leftSection={compact ? undefined : icon}
        w={compact ? 26 : undefined}
        px={compact ? 0 : undefined}
        aria-label={compact ? label : undefined}
        onClick={onClick}
        disabled={disabled}
        data-testid={testId}
      >
        {compact ? icon : label}
      </Button>
    </Tooltip>
  )
}
