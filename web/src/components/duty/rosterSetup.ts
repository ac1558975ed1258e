/**
 * 排班设置's rules, kept apart from the form so vitest can check them: the positions a division
 * may have (the server's 1+1+X+X: exactly one leader seat and one chief seat, at least one
 * officer, a position and label never twice), the shifts a pattern of each kind is made of, and
 * the seats a month's rotations name. Bounds are the server schema's (`roster_api.py`).
 */
import type { DutyPosition, DutyPositionCode, DutyPositionIn, PatternKind, RosterRotation } from '@/api/roster'

export const LIMITS = {
  label: 60,
  seats: 20,
  positions: 40,
  patternName: 60,
  minRest: 72,
  rotationPeople: 62,
  rotations: 80,
  offset: 1000,
} as const

/** A position row as the form edits it (`unit_id` kept as the server had it). */
export interface PositionDraft {
  position: DutyPositionCode
  label: string
  seats: number
  unit_id: string | null
}

export const draftOf = (p: DutyPosition): PositionDraft => ({
  position: p.position as DutyPositionCode,
  label: p.label,
  seats: p.seats,
  unit_id: p.unit_id,
})

/** The 1+1+X+X a new division starts from. */
export const defaultPositions = (): PositionDraft[] => [
  { position: 'leader', label: '', seats: 1, unit_id: null },
  { position: 'chief', label: '', seats: 1, unit_id: null },
  { position: 'officer', label: '', seats: 2, unit_id: null },
]

/** What is wrong with the positions as typed: codes under `roster.setup.problem`. */
export function checkPositions(rows: readonly PositionDraft[]): string[] {
  const problems = new Set<string>()
  const seen = new Set<string>()
  const seats: Record<DutyPositionCode, number> = { leader: 0, chief: 0, officer: 0, professional: 0 }
  for (const row of rows) {
    const label = row.label.trim()
    if (label.length > LIMITS.label) problems.add('labelLong')
    if (!Number.isInteger(row.seats) || row.seats < 1 || row.seats > LIMITS.seats) problems.add('seats')
    const key = `${row.position}|${label}`
    if (seen.has(key)) problems.add('repeated')
    seen.add(key)
    seats[row.position] += Number.isInteger(row.seats) ? row.seats : 0
  }
  if (seats.leader !== 1) problems.add('oneLeader')
  if (seats.chief !== 1) problems.add('oneChief')
  if (seats.officer < 1) problems.add('anOfficer')
  if (rows.length > LIMITS.positions) problems.add('tooMany')
  return [...problems]
}

export const positionsBody = (rows: readonly PositionDraft[]): DutyPositionIn[] =>
  rows.map((r) => ({ position: r.position, label: r.label.trim(), seats: r.seats, unit_id: r.unit_id || null }))

export interface PatternShift {
  code: string
  start: string
  hours: number
}

function addHours(start: string, hours: number): string {
  const [h, m] = start.split(':').map(Number)
  const total = (h * 60 + m + hours * 60) % (24 * 60)
  return `${String(Math.floor(total / 60)).padStart(2, '0')}:${String(total % 60).padStart(2, '0')}`
}

/**
 * The shifts of a pattern: day and night tile a day (the night starts when the day ends), 24 h
 * is one shift a day, a weekly rotation one shift of 168 hours (from Mondays, at `start`).
 */
export function patternShifts(kind: PatternKind, start: string, dayHours: number): PatternShift[] {
  if (kind === 'day_night') {
    return [
      { code: 'day', start, hours: dayHours },
      { code: 'night', start: addHours(start, dayHours), hours: 24 - dayHours },
    ]
  }
  if (kind === 'weekly') return [{ code: 'week', start, hours: 168 }]
  return [{ code: 'day', start, hours: 24 }]
}

export interface PatternDraft {
  name: string
  kind: PatternKind
  start: string
  dayHours: number
  minRest: number
}

/** What is wrong with a pattern as typed: codes under `roster.setup.problem`. */
export function checkPattern(p: PatternDraft): string[] {
  const problems: string[] = []
  const name = p.name.trim()
  if (!name) problems.push('nameRequired')
  else if (name.length > LIMITS.patternName) problems.push('nameLong')
  if (!/^([01]\d|2[0-3]):[0-5]\d$/.test(p.start)) problems.push('start')
  if (p.kind === 'day_night' && (!Number.isInteger(p.dayHours) || p.dayHours < 1 || p.dayHours > 23)) problems.push('dayHours')
  if (!Number.isInteger(p.minRest) || p.minRest < 0 || p.minRest > LIMITS.minRest) problems.push('minRest')
  return problems
}

/** One seat of the division: a position's label and its number (1…seats). */
export interface Seat {
  key: string
  position: DutyPositionCode
  label: string
  seat: number
}

export function seatsOf(positions: readonly DutyPosition[]): Seat[] {
  return positions.flatMap((p) =>
    Array.from({ length: p.seats }, (_, i) => ({
      key: `${p.position}|${p.label}|${i + 1}`,
      position: p.position as DutyPositionCode,
      label: p.label,
      seat: i + 1,
    })),
  )
}

/** The rotations to send: each seat that has people, in the order they were chosen. */
export function rotationsOf(seats: readonly Seat[], people: Record<string, string[]>, offset = 0): RosterRotation[] {
  return seats
    .filter((s) => (people[s.key] ?? []).length > 0)
    .map((s) => ({ position: s.position, label: s.label, seat: s.seat, people: [...people[s.key]!], offset }))
}

/** What is wrong with the rotations: codes under `roster.setup.problem`. */
export function checkRotations(rotations: readonly RosterRotation[]): string[] {
  const problems: string[] = []
  if (rotations.length > LIMITS.rotations) problems.push('tooManyRotations')
  if (rotations.some((r) => (r.people?.length ?? 0) > LIMITS.rotationPeople)) problems.push('tooManyPeople')
  return problems
}
