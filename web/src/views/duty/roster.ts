/**
 * The roster calendar's logic, kept apart from the page so vitest can check it: the month's
 * weeks (Monday first) in Beijing time, shifts grouped by the local day they start, the
 * conflicts each shift is part of, and whether a shift dropped on another makes a swap.
 */
import type { ConflictCode, DutyPositionCode, RosterConflict, RosterShift } from '@/api/roster'
import { TIME_ZONE } from '@/utils/format'

const dayKeyFormat = new Intl.DateTimeFormat('en-CA', { timeZone: TIME_ZONE, year: 'numeric', month: '2-digit', day: '2-digit' })
const hourFormat = new Intl.DateTimeFormat('en-GB', { timeZone: TIME_ZONE, hour: '2-digit', minute: '2-digit', hour12: false })

/** `YYYY-MM-DD` of the local (Beijing) day an instant falls on. */
export function localDay(instant: string | Date): string {
  return dayKeyFormat.format(instant instanceof Date ? instant : new Date(instant))
}

/** `HH:MM` local. */
export function localTime(instant: string | Date): string {
  return hourFormat.format(instant instanceof Date ? instant : new Date(instant))
}

export interface CalendarDay {
  key: string // YYYY-MM-DD
  day: number
  inMonth: boolean
}

/** The weeks of `month` (`YYYY-MM`), Monday to Sunday, padded with the days around it. */
export function monthWeeks(month: string): CalendarDay[][] {
  const [year, mon] = month.split('-').map(Number)
  const first = new Date(Date.UTC(year, mon - 1, 1))
  const lead = (first.getUTCDay() + 6) % 7 // days before the 1st back to Monday
  const start = new Date(first.getTime() - lead * 86_400_000)
  const weeks: CalendarDay[][] = []
  let cursor = start
  do {
    const week: CalendarDay[] = []
    for (let i = 0; i < 7; i++) {
      week.push({
        key: cursor.toISOString().slice(0, 10),
        day: cursor.getUTCDate(),
        inMonth: cursor.getUTCMonth() === mon - 1,
      })
      cursor = new Date(cursor.getTime() + 86_400_000)
    }
    weeks.push(week)
  } while (cursor.getUTCMonth() === mon - 1)
  return weeks
}

/** The month after (or before, with -1) `YYYY-MM`. */
export function shiftMonth(month: string, by: number): string {
  const [year, mon] = month.split('-').map(Number)
  const d = new Date(Date.UTC(year, mon - 1 + by, 1))
  return `${d.getUTCFullYear()}-${String(d.getUTCMonth() + 1).padStart(2, '0')}`
}

/** The local month an instant falls in. */
export function monthOf(instant: Date): string {
  return localDay(instant).slice(0, 7)
}

const ORDER: Record<DutyPositionCode, number> = { leader: 0, chief: 1, officer: 2, professional: 3 }

/** Shifts by the local day they start, each day in seat order (leader first), then by start. */
export function shiftsByDay(shifts: RosterShift[]): Map<string, RosterShift[]> {
  const days = new Map<string, RosterShift[]>()
  for (const shift of shifts) {
    const key = localDay(shift.starts_at)
    const list = days.get(key) ?? []
    list.push(shift)
    days.set(key, list)
  }
  for (const list of days.values()) {
    list.sort(
      (a, b) =>
        a.starts_at.localeCompare(b.starts_at) ||
        ORDER[a.position] - ORDER[b.position] ||
        a.label.localeCompare(b.label) ||
        a.seat - b.seat,
    )
  }
  return days
}

/** The conflict codes each shift is part of. */
export function conflictsByShift(conflicts: RosterConflict[]): Map<string, ConflictCode[]> {
  const found = new Map<string, ConflictCode[]>()
  for (const conflict of conflicts) {
    for (const id of conflict.shift_ids) {
      const codes = found.get(id) ?? []
      if (!codes.includes(conflict.code)) codes.push(conflict.code)
      found.set(id, codes)
    }
  }
  return found
}

export type SwapVerdict = 'ok' | 'same' | 'seat' | 'started' | 'empty'

/**
 * Whether dropping shift `from` on shift `to` asks a swap the server would take: two different
 * shifts of one position (and label), neither started, someone on the dragged one.
 */
export function swapVerdict(from: RosterShift, to: RosterShift, now: number): SwapVerdict {
  if (from.id === to.id) return 'same'
  if (from.position !== to.position || from.label !== to.label) return 'seat'
  if (Date.parse(from.starts_at) <= now || Date.parse(to.starts_at) <= now) return 'started'
  if (from.state !== 'scheduled' || to.state !== 'scheduled') return 'started'
  if (!from.person_id) return 'empty'
  return 'ok'
}
