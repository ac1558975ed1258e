/** Small helpers of the stock page, kept apart so they can be tested without a browser. */
import type { SupplyItem } from '@/api/resources'

const DAY_MS = 24 * 60 * 60 * 1000

/** Whole days from `today` (local) to an ISO date (`2026-12-31`); negative when past; null when none. */
export function daysUntil(isoDate: string | null | undefined, today: Date = new Date()): number | null {
  if (!isoDate) return null
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(isoDate)
  if (!m) return null
  const day = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]))
  const now = Date.UTC(today.getFullYear(), today.getMonth(), today.getDate())
  return Math.round((day - now) / DAY_MS)
}

/** An item's name with its unit of measure, or its id when the catalogue does not hold it. */
export function itemName(item: SupplyItem | undefined, id: string): string {
  return item ? item.name : id
}
