import { SegmentedControl, Tooltip, VisuallyHidden, useMantineColorScheme, type MantineColorScheme } from '@mantine/core'
import { IconDeviceDesktop, IconMoon, IconSun } from '@tabler/icons-react'

/** Light, dark or follow the system; Mantine keeps the choice in localStorage. */
export function ThemeToggle() {
  const { colorScheme, setColorScheme } = useMantineColorScheme()
  const item = (value: MantineColorScheme, label: string, icon: React.ReactNode) => ({
    value,
    label: (
      <Tooltip label={label} withArrow>
        <span style={{ display: 'inline-flex' }}>
          {icon}
          <VisuallyHidden>{label}</VisuallyHidden>
        </span>
      </Tooltip>
    ),
  })
  return (
    <SegmentedControl
      size="xs"
      aria-label="Colour theme"
      data-testid="theme-toggle"
      value={colorScheme}
      onChange={(v) => setColorScheme(v as MantineColorScheme)}
      data={[item('light', 'Light', <IconSun size={15} />), item('dark', 'Dark', <IconMoon size={15} />), item('auto', 'System', <IconDeviceDesktop size={15} />)]}
    />
  )
}
