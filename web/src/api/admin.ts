/**
 * Administration calls (系统管理): divisions, units and their people, users, the routing table and
 * the deadline tables — with file imports (upload progress, line-level problems) and exports.
 * Types come from the backend's OpenAPI document (`schema.d.ts`).
 */
import type { components } from '@/api/schema'
import type { Me, Page } from '@/api/types'
import { api, ApiError, buildUrl, CSRF_HEADER, errorFromResponse, getCsrfToken, isApiError } from '@/api/client'

type S = components['schemas']
export type DivisionRead = S['DivisionRead']
export type DivisionDetail = S['DivisionDetail']
export type DivisionCreate = S['DivisionCreate']
export type DivisionUpdate = S['DivisionUpdate']
export type UnitRead = S['UnitRead']
export type UnitCreate = S['UnitCreate']
export type UnitUpdate = S['UnitUpdate']
export type UnitKind = UnitCreate['kind']
export type PersonRead = S['PersonRead']
export type PersonCreate = S['PersonCreate']
export type PersonUpdate = S['PersonUpdate']
export type UserRead = S['UserRead']
export type UserCreate = S['UserCreate']
export type UserUpdate = S['UserUpdate']
export type RoutingRule = S['RoutingRuleRead']
export type RoutingRuleIn = S['RoutingRuleIn']
export type RoutingRuleUpdate = S['RoutingRuleUpdate']
export type StageDeadline = S['StageDeadlineRead']
export type StageDeadlineIn = S['StageDeadlineIn']
export type ReportingDeadline = S['ReportingDeadlineRead']
/** A rule as the table edits it; the jurisdiction (`division_adcode`, "" everywhere) may be left out. */
export type ReportingDeadlineIn = Omit<S['ReportingDeadlineIn'], 'division_adcode'> & { division_adcode?: string }
export type ImportReport = S['ImportReport']
export type ImportProblem = S['ImportProblem']
export type Category = S['CategoryRead']

export const ROLES = [
  'admin',
  'commander',
  'duty_leader',
  'duty_officer',
  'unit_liaison',
  'field_worker',
  'expert',
  'viewer',
] as const
export const LEVELS = ['I', 'II', 'III', 'IV'] as const
export const DIVISION_LEVELS = ['province', 'city', 'county', 'town', 'village'] as const
export const UNIT_KINDS = ['department', 'town', 'village', 'rescue_team'] as const
export const TIERS = [1, 2, 3] as const

// ---- divisions --------------------------------------------------------------------------------

export const divisions = {
  list: (query: { parent?: string; q?: string; level?: string; limit?: number } = {}, signal?: AbortSignal) =>
    api.get<Page<DivisionRead>>('/divisions', { limit: 1000, ...query }, { signal }),
  get: (adcode: string) => api.get<DivisionDetail>(`/divisions/${encodeURIComponent(adcode)}`),
  create: (body: DivisionCreate) => api.post<DivisionDetail>('/divisions', body),
  update: (adcode: string, body: DivisionUpdate) =>
    api.patch<DivisionDetail>(`/divisions/${encodeURIComponent(adcode)}`, body),
}

// ---- units and people -------------------------------------------------------------------------

export const units = {
  list: (
    query: { division?: string; tier?: number; kind?: string; q?: string; offset?: number; limit?: number } = {},
    signal?: AbortSignal,
  ) => api.get<Page<UnitRead>>('/units', query, { signal }),
  get: (id: string) => api.get<UnitRead>(`/units/${id}`),
  create: (body: UnitCreate) => api.post<UnitRead>('/units', body),
  update: (id: string, body: UnitUpdate) => api.patch<UnitRead>(`/units/${id}`, body),
}

export const people = {
  list: (unitId: string) => api.get<Page<PersonRead>>('/people', { unit_id: unitId, limit: 1000 }),
  create: (body: PersonCreate) => api.post<PersonRead>('/people', body),
  update: (id: string, body: PersonUpdate) => api.patch<PersonRead>(`/people/${id}`, body),
}

// ---- users ------------------------------------------------------------------------------------

export const users = {
  list: (query: { offset?: number; limit?: number }, signal?: AbortSignal) =>
    api.get<Page<UserRead>>('/users', query, { signal }),
  create: (body: UserCreate) => api.post<UserRead>('/users', body),
  update: (id: string, body: UserUpdate) => api.patch<UserRead>(`/users/${id}`, body),
  /** End every session and token of the account (强制下线). */
  logoutAll: (id: string) => api.post<void>(`/users/${id}/logout-all`),
}

// ---- routing and deadlines --------------------------------------------------------------------

export const routing = {
  list: () => api.get<RoutingRule[]>('/routing-rules'),
  add: (body: RoutingRuleIn) => api.post<RoutingRule>('/routing-rules', body),
  update: (id: number, body: RoutingRuleUpdate) => api.patch<RoutingRule>(`/routing-rules/${id}`, body),
  remove: (id: number) => api.delete<void>(`/routing-rules/${id}`),
}

export const deadlines = {
  stage: () => api.get<StageDeadline[]>('/stage-deadlines'),
  setStage: (body: StageDeadlineIn) => api.put<StageDeadline>('/stage-deadlines', body),
  reporting: () => api.get<ReportingDeadline[]>('/reporting-deadlines'),
  setReporting: (body: ReportingDeadlineIn) => api.put<ReportingDeadline>('/reporting-deadlines', body),
}

export const categories = {
  list: () => api.get<Category[]>('/intake/categories'),
}

// ---- files ------------------------------------------------------------------------------------

/**
 * Upload one file as multipart form data, reporting progress (0–100). Resolves with the import
 * report; rejects with an {@link ApiError} like every other call (an `import_failed` error
 * carries the problems by line, see {@link importProblems}).
 */
export function uploadFile(
  path: string,
  file: File,
  onProgress: (percent: number) => void = () => {},
  query?: Record<string, string | boolean | undefined>,
): Promise<ImportReport> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest()
    xhr.open('POST', buildUrl(path, query))
    xhr.withCredentials = true
    xhr.setRequestHeader('Accept', 'application/json')
    const token = getCsrfToken()
    if (token) xhr.setRequestHeader(CSRF_HEADER, token)
    xhr.upload.onprogress = (e) => {
      if (e.lengthComputable && e.total > 0) onProgress(Math.round((e.loaded / e.total) * 100))
    }
    xhr.onerror = () => reject(new ApiError(0, 'network_error', 'the upload did not reach the server'))
    xhr.onload = () => {
      onProgress(100) // the upload is complete whatever the answer
      const response = new Response(xhr.responseText || null, {
        status: xhr.status,
        headers: { 'content-type': xhr.getResponseHeader('content-type') ?? 'application/json' },
      })
      if (xhr.status >= 200 && xhr.status < 300) {
        try {
          resolve(JSON.parse(xhr.responseText) as ImportReport)
        } catch {
          reject(new ApiError(xhr.status, 'bad_response', 'the server sent malformed JSON'))
        }
      } else {
        void errorFromResponse(response).then(reject)
      }
    }
    const form = new FormData()
    form.append('file', file, file.name)
    xhr.send(form)
  })
}

/** The problems by line of a failed all-or-nothing import, or null for any other failure. */
export function importProblems(error: unknown): { problems: ImportProblem[]; count: number } | null {
  if (!isApiError(error) || error.code !== 'import_failed') return null
  const details = error.details as { errors?: unknown; error_count?: unknown } | null
  const raw = Array.isArray(details?.errors) ? details.errors : []
  const problems: ImportProblem[] = raw
    .filter((p): p is Record<string, unknown> => !!p && typeof p === 'object')
    .map((p) => ({
      line: Number(p.line) || 0,
      field: typeof p.field === 'string' ? p.field : null,
      message: typeof p.message === 'string' ? p.message : String(p.message ?? ''),
      code: typeof p.code === 'string' ? p.code : '',
      params: p.params && typeof p.params === 'object' ? (p.params as Record<string, unknown>) : {},
    }))
  const count = Number(details?.error_count)
  return { problems, count: Number.isFinite(count) && count > 0 ? count : problems.length }
}

/** The file name a download response asks for, else the fallback. */
export function filenameOf(disposition: string | null, fallback: string): string {
  const match = disposition?.match(/filename\*?=(?:UTF-8'')?"?([^";]+)"?/i)
  return match?.[1] ? decodeURIComponent(match[1]) : fallback
}

/** Fetch an export and hand it to the browser as a download; a failure rejects with ApiError. */
export async function downloadFile(path: string, fallbackName: string, query?: Record<string, string>): Promise<string> {
  let response: Response
  try {
    response = await fetch(buildUrl(path, query), { credentials: 'same-origin' })
  } catch (e) {
    throw new ApiError(0, 'network_error', e instanceof Error ? e.message : String(e))
  }
  if (!response.ok) throw await errorFromResponse(response)
  const name = filenameOf(response.headers.get('content-disposition'), fallbackName)
  const blob = await response.blob()
  const url = URL.createObjectURL(blob)
  const a = document.createElement('a')
  a.href = url
  a.download = name
  document.body.appendChild(a)
  a.click()
  a.remove()
  setTimeout(() => URL.revokeObjectURL(url), 10_000)
  return name
}

// ---- table logic ------------------------------------------------------------------------------

/** The adcode at the end of a division path (`330000/331126/` → `331126`), or null. */
export function adcodeOfPath(path: string | null | undefined): string | null {
  if (!path) return null
  const parts = path.split('/').filter(Boolean)
  return parts.length ? parts[parts.length - 1]! : null
}

/** What an administrator of an area may change: rows of its area. Shared tables and rows for
 * everywhere need `reference.write`, which only an administrator of everything holds (the server
 * checks again; this only hides what would be refused). */
export const REFERENCE_WRITE = 'reference.write'
export const ORG_WRITE = 'org.write'

/** Whether `me` may change, move or delete this routing rule. */
export function canEditRule(rule: { division_path?: string | null }, me: Me | null): boolean {
  if (!me || !me.permissions.includes(ORG_WRITE)) return false
  if (me.scope.everything) return true
  if (!rule.division_path) return me.permissions.includes(REFERENCE_WRITE)
  const area = me.scope.division_path
  return !!area && rule.division_path.startsWith(area)
}

/** Whether `me` may redraw this division's boundary: an area's own boundary is drawn above. */
export function canDrawBoundary(division: { path: string }, me: Me | null): boolean {
  if (!me || !me.permissions.includes(ORG_WRITE)) return false
  if (me.scope.everything) return true
  const area = me.scope.division_path
  return !!area && division.path !== area && division.path.startsWith(area)
}

export interface RuleFilter {
  category?: string
  level?: string
  role?: string
  selector?: string
  unitId?: string
  division?: string
}

/**
 * Rules matching the filters: category by prefix in either direction (a filter `accident.fire`
 * shows rules for `accident` and for `accident.fire.x`), a level shows rules for that level or for
 * every level, a division shows rules scoped to it or everywhere.
 */
export function filterRules(rules: readonly RoutingRule[], f: RuleFilter): RoutingRule[] {
  const cat = (f.category ?? '').trim()
  return rules.filter((r) => {
    const prefix = r.category_prefix ?? ''
    if (cat && !(prefix.startsWith(cat) || cat.startsWith(prefix))) return false
    if (f.level && (r.levels ?? []).length > 0 && !(r.levels ?? []).includes(f.level as never)) return false
    if (f.role && r.role !== f.role) return false
    if (f.selector && (r.selector ?? 'unit') !== f.selector) return false
    if (f.unitId && r.unit_id !== f.unitId) return false
    if (f.division && r.division_path && adcodeOfPath(r.division_path) !== f.division) return false
    return true
  })
}

export type Problems = Record<string, string>

/** Minutes must be whole numbers within the server's limits; keys are the field names. */
export function checkMinutes(
  row: Record<string, unknown>,
  limits: Record<string, number>,
): Problems {
  const problems: Problems = {}
  for (const [field, max] of Object.entries(limits)) {
    const v = row[field]
    if (typeof v !== 'number' || !Number.isInteger(v)) problems[field] = 'integer'
    else if (v < 1 || v > max) problems[field] = 'range'
  }
  return problems
}

export const STAGE_LIMITS = {
  sign_minutes: 10_080,
  arrive_minutes: 10_080,
  feedback_minutes: 10_080,
  complete_minutes: 100_000,
} as const
export const REPORTING_LIMITS = { phone_minutes: 10_080, written_minutes: 10_080 } as const

export function checkStage(row: StageDeadlineIn): Problems {
  const p = checkMinutes(row as unknown as Record<string, unknown>, STAGE_LIMITS)
  const share = row.remind_share ?? 0.8
  if (!(share > 0 && share < 1)) p.remind_share = 'share'
  return p
}

export function checkReporting(row: ReportingDeadlineIn): Problems {
  const p = checkMinutes(row as unknown as Record<string, unknown>, REPORTING_LIMITS)
  if (!p.phone_minutes && !p.written_minutes && row.written_minutes < row.phone_minutes) {
    p.written_minutes = 'writtenBeforePhone'
  }
  return p
}

/** Stable identity of a deadline row (the server keys rows by these). */
export const stageKey = (r: { category_prefix?: string; level?: string; tier?: number }) =>
  `${r.category_prefix ?? ''}|${r.level ?? ''}|${r.tier ?? 0}`
export const reportingKey = (r: { category_prefix?: string; level: string }) =>
  `${r.category_prefix ?? ''}|${r.level}`

/** Only the fields a form changed, so a PATCH touches nothing else. */
export function changedFields<T extends Record<string, unknown>>(before: T, after: T): Partial<T> {
  const out: Partial<T> = {}
  for (const key of Object.keys(after) as (keyof T)[]) {
    if (JSON.stringify(after[key] ?? null) !== JSON.stringify(before[key] ?? null)) out[key] = after[key]
  }
  return out
}

/**
 * One import problem in the reader's language: its `code` under `admin.import.msg` (a value
 * that fails a column's rule, a repeated key, an unreadable file) or `errors` (a row the server
 * refused, e.g. a boundary reaching into a neighbour), with its `params`; the server's English
 * `message` for a code without words.
 */
export function problemText(
  problem: ImportProblem,
  { t, te }: { t: (key: string, named?: Record<string, unknown>) => string; te: (key: string) => boolean },
): string {
  const code = problem.code ?? ''
  const params = Object.fromEntries(Object.entries(problem.params ?? {}).map(([k, v]) => [k, String(v ?? '')]))
  if (code && te(`admin.import.msg.${code}`)) return t(`admin.import.msg.${code}`, params)
  if (code && te(`errors.${code}`)) {
    // the division a boundary check names, whichever side of it
    const adcode = params.parent_adcode ?? params.sibling_adcode ?? params.child_adcode ?? params.adcode ?? ''
    return t(`errors.${code}`, { ...params, adcode })
  }
  return problem.message
}
