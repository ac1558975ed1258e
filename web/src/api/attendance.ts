/**
 * 到岗签到 · 查岗: shifts with their check-ins, the signed-in person's shifts, spot checks of the
 * divisions below, the month's grid (.xlsx) out and in, a person's iCalendar.
 *
 * The shapes are the OpenAPI document's (`schema.d.ts`, `make api-types`).
 */
import { api, buildUrl, CSRF_HEADER, errorFromResponse, getCsrfToken } from '@/api/client'
import type { components } from '@/api/schema'

type S = components['schemas']

export type ShiftState = 'scheduled' | 'checked_in' | 'missed'
export type Shift = Omit<S['ShiftAttendanceRead'], 'state'> & { state: ShiftState }
export type SpotCheck = S['DutySpotCheckRead']
export type SpotCheckWrite = S['DutySpotCheckCreate']
export type ImportResult = S['RosterImportRead']

/** One problem of a refused import (`roster_import_invalid`'s `details.errors`). */
export interface ImportProblem {
  line: number
  field: string | null
  code: string
  params: Record<string, unknown>
}

export const attendance = {
  shifts: (query: { division: string; state?: ShiftState; from?: string; to?: string }, signal?: AbortSignal) =>
    api.get<{ items: Shift[] }>('/duty/shifts', { ...query }, { signal }),
  mine: (signal?: AbortSignal) => api.get<{ items: Shift[] }>('/duty/my-shifts', undefined, { signal }),
  checkIn: (shift: Shift) => api.post<Shift>(`/duty/shifts/${shift.id}/check-in`, { version: shift.version }),
  spotChecks: (division: string, signal?: AbortSignal) =>
    api.get<{ items: SpotCheck[] }>('/duty/spot-checks', { division }, { signal }),
  addSpotCheck: (body: SpotCheckWrite) => api.post<SpotCheck>('/duty/spot-checks', body),
  /** Where the browser downloads the month's grid (same-origin, with the session cookie). */
  exportUrl: (division: string, month: string) => buildUrl('/duty/roster.xlsx', { division, month }),
  icsUrl: (personId: string) => buildUrl(`/duty/people/${personId}/roster.ics`),
  /** Upload the month's grid; a refused file rejects with the ApiError carrying every row's problem. */
  async importGrid(division: string, file: File): Promise<ImportResult> {
    const form = new FormData()
    form.append('file', file, file.name)
    const headers: Record<string, string> = { Accept: 'application/json' }
    const token = getCsrfToken()
    if (token) headers[CSRF_HEADER] = token
    const response = await fetch(buildUrl('/duty/roster.xlsx', { division }), {
      method: 'POST',
      body: form,
      headers,
      credentials: 'same-origin',
    })
    if (!response.ok) throw await errorFromResponse(response)
    return (await response.json()) as ImportResult
  },
}

/** The problems of a refused import, if the error carries them. */
export function importProblems(details: unknown): ImportProblem[] {
  if (!details || typeof details !== 'object' || !('errors' in details)) return []
  const errors = (details as { errors: unknown }).errors
  return Array.isArray(errors) ? (errors as ImportProblem[]) : []
}

/** The adcode of the division a scope's path ends in (`330000/331126/` → `331126`). */
export function ownDivision(path: string | null | undefined): string | null {
  const parts = (path ?? '').split('/').filter(Boolean)
  return parts.length ? parts[parts.length - 1] : null
}
