/**
 * 排班: a division's duty positions (1+1+X+X), shift patterns, the month's roster with its
 * conflicts, edits, swaps (换班) and who is on duty now. Shapes are the OpenAPI document's
 * (`schema.d.ts`, `make api-types`), with the codes the console knows narrowed.
 */
import { api } from '@/api/client'
import type { components } from '@/api/schema'

type S = components['schemas']

export type DutyPositionCode = 'leader' | 'chief' | 'officer' | 'professional'
export const POSITION_CODES: readonly DutyPositionCode[] = ['leader', 'chief', 'officer', 'professional']
export type ConflictCode = 'empty_seat' | 'double_booked' | 'short_rest'
export type SwapState = 'requested' | 'approved' | 'rejected' | 'cancelled'

export type RosterShift = Omit<S['RosterShiftRead'], 'position'> & { position: DutyPositionCode }
export type RosterConflict = Omit<S['RosterConflictRead'], 'code'> & { code: ConflictCode }
export type Roster = { division_adcode: string; month: string; shifts: RosterShift[]; conflicts: RosterConflict[] }
export type ShiftSwap = Omit<S['ShiftSwapRead'], 'state'> & { state: SwapState }
export type DutyPosition = S['DutyPositionRead']
export type ShiftPattern = S['ShiftPatternRead']
export type RosterCandidate = S['RosterCandidate']
export type DutyNow = S['DutyNow']
export type SwapAsk = S['ShiftSwapCreate']
export type DutyPositionIn = S['DutyPositionIn']
export type PatternKind = 'day_night' | 'full_day' | 'weekly'
export const PATTERN_KINDS: readonly PatternKind[] = ['day_night', 'full_day', 'weekly']
export type ShiftPatternCreate = S['ShiftPatternCreate']
export type RosterRotation = S['RosterRotationIn']
export type RosterGenerate = S['RosterGenerateIn']
export type RosterGenerated = Omit<S['RosterGenerateRead'], 'conflicts'> & { conflicts: RosterConflict[] }

export const roster = {
  month: (division: string, month: string, signal?: AbortSignal) =>
    api.get<Roster>('/duty/roster', { division, month }, { signal }),
  positions: (division: string) => api.get<{ items: DutyPosition[] }>('/duty/positions', { division }),
  /** Replace a division's positions (1 leader seat, 1 chief seat, at least one officer). */
  setPositions: (division: string, positions: DutyPositionIn[]) =>
    api.put<{ items: DutyPosition[] }>('/duty/positions', { positions }, { query: { division } }),
  patterns: (division: string) => api.get<{ items: ShiftPattern[] }>('/duty/patterns', { division }),
  addPattern: (body: ShiftPatternCreate) => api.post<ShiftPattern>('/duty/patterns', body),
  generate: (body: RosterGenerate) => api.post<RosterGenerated>('/duty/roster/generate', body),
  candidates: (division: string) => api.get<{ items: RosterCandidate[] }>('/duty/candidates', { division }),
  assign: (shiftId: string, version: number, personId: string | null) =>
    api.patch<RosterShift>(`/duty/shifts/${shiftId}`, { version, person_id: personId }),
  swaps: (division: string, state?: SwapState) =>
    api.get<{ items: ShiftSwap[] }>('/duty/swaps', { division, state }),
  askSwap: (body: SwapAsk) => api.post<ShiftSwap>('/duty/swaps', body),
  approve: (swapId: string, note?: string) => api.post<ShiftSwap>(`/duty/swaps/${swapId}/approve`, { note: note || null }),
  reject: (swapId: string, note?: string) => api.post<ShiftSwap>(`/duty/swaps/${swapId}/reject`, { note: note || null }),
  now: (division: string) => api.get<DutyNow>('/duty/now', { division }),
}
