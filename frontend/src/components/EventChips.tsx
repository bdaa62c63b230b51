import { Badge } from '@mantine/core'
import {
  IconAlertTriangle, IconArrowBackUp, IconBolt, IconBulb, IconFileCode, IconListCheck, IconPlugConnected,
  IconPuzzle, IconRadar, IconRocket, IconRoute, IconShieldCheck, IconUser, IconUserCheck, type Icon,
} from '@tabler/icons-react'

export const RISK_COLORS: Record<string, string> = { low: 'gray', medium: 'yellow', high: 'red' }
export const STATUS_COLORS: Record<string, string> = { applied: 'teal', pending: 'blue', failed: 'red', rolled_back: 'orange' }
/** Chart colours (hex, for the canvas) matching the chips. */
export const RISK_HEX: Record<string, string> = { low: '#91a7ff', medium: '#fcc419', high: '#fa5252' }
export const STATUS_HEX: Record<string, string> = { applied: '#12b886', pending: '#4c6ef5', failed: '#fa5252', rolled_back: '#fd7e14' }

const CATEGORY_ICONS: Record<string, Icon> = {
  connection: IconPlugConnected, scan: IconRadar, finding: IconAlertTriangle, recommendation: IconBulb, plan: IconListCheck,
  approval: IconUserCheck, terraform_export: IconFileCode, apply: IconBolt, rollback: IconArrowBackUp, user: IconUser,
  workflow: IconRoute, releaseops: IconRocket, audit: IconShieldCheck, custom: IconPuzzle,
}

export function CategoryIcon({ category, size = 16 }: { category: string; size?: number }) {
  const I = CATEGORY_ICONS[category] ?? IconPuzzle
  return <I size={size} stroke={1.7} aria-label={category} role="img" />
}

export function StatusChip({ status }: { status: string }) {
  return (
    <Badge size="sm" variant="light" color={STATUS_COLORS[status] ?? 'gray'} radius="sm" data-status={status}>
      {status.replace('_', ' ')}
    </Badge>
  )
}

export function RiskChip({ risk }: { risk: string }) {
  return (
    <Badge size="sm" variant={risk === 'high' ? 'filled' : 'light'} color={RISK_COLORS[risk] ?? 'gray'} radius="sm" data-risk={risk}>
      {risk}
    </Badge>
  )
}

/** Failed or high-risk: the events `e`/`E` jump between. */
export function needsAttention(e: { status: string; riskLevel: string }): boolean {
  return e.status === 'failed' || e.riskLevel === 'high'
}
