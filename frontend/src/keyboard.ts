// Timeline keyboard navigation, as pure moves over the loaded rows so it can
// be tested without a browser.

import type { EventDTO } from './api/types'
import { needsAttention } from './components/EventChips'

export type Move = 'next' | 'prev' | 'top' | 'bottom' | 'nextAttention' | 'prevAttention'

/** The row index a move lands on, or undefined if there is none among the loaded rows. */
export function moveSelection(rows: readonly EventDTO[], selected: number, move: Move): number | undefined {
  const n = rows.length
  if (n === 0) return undefined
  switch (move) {
    case 'next':
      return Math.min(n - 1, selected + 1)
    case 'prev':
      return Math.max(0, selected - 1)
    case 'top':
      return 0
    case 'bottom':
      return n - 1
    case 'nextAttention':
      for (let i = selected + 1; i < n; i++) if (needsAttention(rows[i] as EventDTO)) return i
      return undefined
    case 'prevAttention':
      for (let i = Math.min(selected, n) - 1; i >= 0; i--) if (needsAttention(rows[i] as EventDTO)) return i
      return undefined
  }
}
