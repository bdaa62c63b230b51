import { Group, Kbd, Modal, Stack, Text } from '@mantine/core'
import { useCloseOnEscape } from '../lib/escape'

export const SHORTCUTS: [string[], string][] = [
  [['/'], 'Focus the search'],
  [['j'], 'Next event'],
  [['k'], 'Previous event'],
  [['Enter'], 'Open the selected event'],
  [['Esc'], 'Close the event / leave the search'],
  [['g'], 'First event'],
  [['G'], 'Last loaded event'],
  [['e'], 'Next failed or high-risk event'],
  [['E'], 'Previous failed or high-risk event'],
  [['?'], 'Show these shortcuts'],
]

export function ShortcutsDialog({ opened, onClose }: { opened: boolean; onClose(): void }) {
  useCloseOnEscape(opened, onClose)
  return (
    <Modal opened={opened} onClose={onClose} title="Keyboard shortcuts" centered data-testid="shortcuts-dialog">
      <Stack gap={6}>
        {SHORTCUTS.map(([keys, what]) => (
          <Group key={what} justify="space-between">
            <Text size="sm">{what}</Text>
            <Group gap={4}>
              {keys.map((k) => (
                <Kbd key={k}>{k}</Kbd>
              ))}
            </Group>
          </Group>
        ))}
        <Text size="xs" c="dimmed" mt="xs">
          In the facets, Alt/⌥-click a value to filter it out.
        </Text>
      </Stack>
    </Modal>
  )
}
