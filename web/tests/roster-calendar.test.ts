import { describe, expect, it } from 'vitest'
import type { RosterConflict, RosterShift } from '@/api/roster'
import { conflictsByShift, localDay, localTime, monthWeeks, shiftMonth, shiftsByDay, swapVerdict } from '@/views/duty/roster'

function shift(id: string, starts: string, extra: Partial<RosterShift> = {}): RosterShift {
  return {
    id,
    division_adcode: '331126',
    position: 'leader',
    label: '',
    seat: 1,
    shift_code: 'day',
    starts_at: starts,
    ends_at: starts,
    person_id: `p-${id}`,
    person_name: id,
    state: 'scheduled',
    checked_in_at: null,
    version: 1,
    ...extra,
  }
}

describe('the roster calendar', () => {
  it('lays a month out in weeks from Monday, padded with the days around it', () => {
    const weeks = monthWeeks('2026-08') // 1 August 2026 is a Saturday
    expect(weeks[0].map((d) => d.key)).toEqual([
      '2026-07-27', '2026-07-28', '2026-07-29', '2026-07-30', '2026-07-31', '2026-08-01', '2026-08-02',
    ])
    expect(weeks[0].filter((d) => d.inMonth).map((d) => d.day)).toEqual([1, 2])
    expect(weeks.at(-1)?.at(-1)?.key).toBe('2026-09-06')
    expect(weeks.flat().filter((d) => d.inMonth)).toHaveLength(31)
    expect(monthWeeks('2027-02')).toHaveLength(4) // February 2027 starts on a Monday
  })
  it('moves a month forward and back across years', () => {
    expect(shiftMonth('2026-12', 1)).toBe('2027-01')
    expect(shiftMonth('2026-01', -1)).toBe('2025-12')
  })
  it('puts a shift on the Beijing day it starts, leader first', () => {
    // 20:00 on 31 July in Beijing is 12:00 UTC; 08:00 on 1 August is midnight UTC
    expect(localDay('2026-07-31T16:30:00Z')).toBe('2026-08-01')
    expect(localTime('2026-08-01T00:00:00Z')).toBe('08:00')
    const days = shiftsByDay([
      shift('night', '2026-08-01T12:00:00Z'),
      shift('chief', '2026-08-01T00:00:00Z', { position: 'chief' }),
      shift('leader', '2026-08-01T00:00:00Z'),
    ])
    expect(days.get('2026-08-01')?.map((s) => s.id)).toEqual(['leader', 'chief', 'night'])
  })
  it('marks each shift with the conflicts it is part of, once each', () => {
    const conflicts: RosterConflict[] = [
      { code: 'short_rest', shift_ids: ['a', 'b'], person_id: 'p', person_name: '甲', starts_at: '', rest_hours: 0, min_rest_hours: 8 },
      { code: 'double_booked', shift_ids: ['b', 'c'], person_id: 'p', person_name: '甲', starts_at: '', rest_hours: null, min_rest_hours: null },
      { code: 'short_rest', shift_ids: ['b', 'd'], person_id: 'p', person_name: '甲', starts_at: '', rest_hours: 4, min_rest_hours: 8 },
    ]
    const marks = conflictsByShift(conflicts)
    expect(marks.get('b')).toEqual(['short_rest', 'double_booked'])
    expect(marks.get('a')).toEqual(['short_rest'])
    expect(marks.has('e')).toBe(false)
  })
  it('asks a swap only between two future shifts of one seat type', () => {
    const now = Date.parse('2026-08-01T00:00:00Z')
    const a = shift('a', '2026-08-02T00:00:00Z')
    expect(swapVerdict(a, shift('b', '2026-08-03T00:00:00Z'), now)).toBe('ok')
    expect(swapVerdict(a, a, now)).toBe('same')
    expect(swapVerdict(a, shift('c', '2026-08-03T00:00:00Z', { position: 'chief' }), now)).toBe('seat')
    expect(swapVerdict(a, shift('d', '2026-08-03T00:00:00Z', { label: '水利' }), now)).toBe('seat')
    expect(swapVerdict(a, shift('e', '2026-07-31T00:00:00Z'), now)).toBe('started')
    expect(swapVerdict(shift('f', '2026-08-02T00:00:00Z', { person_id: null }), a, now)).toBe('empty')
  })
})
