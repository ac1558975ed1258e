/**
 * 预警发布 · 叫应: warnings and their workflow, received CAP warnings, the recipients frozen at
 * publication, deliveries, the 叫应 board, acknowledgements (also the public phone page's),
 * call plans, 六问 spot checks and the evidence exports.
 *
 * The shapes follow the contracts of issue 19 (helper brief, parts B and D); where the OpenAPI
 * document does not describe a route yet they are written out here, and `make api-types` makes
 * `schema.d.ts` the judge once the routes land.
 */
import { api, buildUrl, CSRF_HEADER, errorFromResponse, getCsrfToken } from '@/api/client'
import type { Page } from '@/api/types'
import type { components } from '@/api/schema'

export type Level = 'red' | 'orange' | 'yellow' | 'blue'
export const LEVELS: readonly Level[] = ['red', 'orange', 'yellow', 'blue']

export type WarningState =
  | 'draft'
  | 'submitted'
  | 'returned'
  | 'approved'
  | 'signed'
  | 'published'
  | 'cancelled'
  | 'superseded'
  | 'expired'
  | 'received'
  | 'relayed'
  | 'dismissed'

export type MsgType = 'Alert' | 'Update' | 'Cancel'

/** GeoJSON (Multi)Polygon in WGS-84 (lon, lat). */
export interface AreaGeometry {
  type: 'Polygon' | 'MultiPolygon'
  coordinates: number[][][] | number[][][][]
}

/** 预警类型 with the colours it allows (`GET /warnings/types`). */
export interface WarningType {
  code: string
  name_zh: string
  name_en: string
  family: string
  levels: Level[]
  cap_category: string
  authority_zh: string
}

export interface Warning {
  id: string
  number: string
  identifier: string | null
  sender: string | null
  origin: 'authored' | 'received'
  state: WarningState
  cap_status: string
  msg_type: MsgType
  replaces_id: string | null
  references: string[]
  relayed_from_id: string | null
  type_code: string | null
  event_text: string | null
  level: Level | null
  headline: string
  description: string
  instruction: string
  headline_en: string | null
  description_en: string | null
  instruction_en: string | null
  issuer: string
  division_adcode: string
  area_desc: string
  area: AreaGeometry | null
  area_adcodes: string[]
  onset_at: string | null
  expires_at: string | null
  sent_at: string | null
  call_plan: Record<string, unknown> | null
  source: string | null
  created_by: string | null
  submitted_by: string | null
  submitted_at: string | null
  approved_by: string | null
  approved_at: string | null
  signed_by: string | null
  signed_at: string | null
  published_by: string | null
  published_at: string | null
  cancelled_by: string | null
  cancelled_at: string | null
  state_reason: string | null
  recipient_count: number
  version: number
  created_at: string
  updated_at: string
}

export interface WarningDraft {
  type_code: string | null
  level: Level | null
  headline: string
  description: string
  instruction: string
  issuer: string
  area_desc: string
  area: AreaGeometry | null
  area_adcodes: string[]
  onset_at: string | null
  expires_at: string | null
  division_adcode?: string | null
}

export type WarningPatch = Partial<WarningDraft> & { version: number }

export interface WarningQuery {
  state?: string
  origin?: string
  level?: string
  type?: string
  q?: string
  offset?: number
  limit?: number
}

export type WorkflowStep = 'submit' | 'approve' | 'return' | 'sign' | 'publish' | 'cancel' | 'update' | 'relay' | 'dismiss'

export interface Recipient {
  id: string
  recipient_key: string
  reason: string
  name: string
  position: string | null
  unit_id?: string | null
  division_adcode: string | null
  town_adcode: string | null
  channels: { channel: string; address: string }[]
  must_ack: boolean
  call_state: string
  call_step: number
  escalated_from_id: string | null
  acked_at: string | null
  created_at?: string
}

export interface Delivery {
  id: number | string
  recipient_ref: string
  name: string
  channel: string
  address: string
  state: string
  step: number
  tries: number
  /** why it failed: a code (`channel_not_configured`, `sms_unavailable`, …) */
  error: string | null
  created_at: string
  sent_at: string | null
  delivered_at: string | null
}

/** One person row of the 叫应 board. */
export interface BoardPerson {
  recipient_id: string
  name: string
  position: string | null
  reason: string
  call_state: string
  call_step: number
  acked_at: string | null
  escalated_from_id: string | null
  overdue: boolean
}

/** One town of the 叫应 board: how many were called, answered, overdue, escalated. */
export interface BoardTown {
  town_adcode: string | null
  town_name?: string | null
  called: number
  answered: number
  overdue: number
  escalated: number
  exhausted: number
  people: BoardPerson[]
}

export interface BoardCounts {
  called: number
  answered: number
  overdue: number
  escalated: number
  exhausted: number
}

export interface Board {
  warning_id: string
  state: string
  totals: BoardCounts
  towns: BoardTown[]
}

export interface Ack {
  id: string
  recipient_id: string
  name: string
  via: string
  at: string
}

/** The warning as the public phone page shows it. */
export interface AckWarning {
  id: string
  number: string
  state: string
  msg_type: MsgType | string
  type_code: string | null
  event_text: string | null
  level: Level | null
  headline: string
  description: string
  instruction: string
  issuer: string
  area_desc: string
  onset_at: string | null
  expires_at: string | null
  sent_at: string | null
}

/** What the public phone page shows (`GET /warnings/ack/{token}`, no sign-in). */
export interface AckInfo {
  warning: AckWarning
  name: string
  must_ack: boolean
  acknowledged: boolean
  acked_at: string | null
}

/** The answer of an acknowledgement: the first counts, a second says so. */
export interface AckResult {
  status: 'acknowledged' | 'already_acknowledged'
  warning_id: string
  recipient_id: string
  acked_at: string
}

/** 叫应方案 steps (frozen into a warning at publication). */
export interface CallPlanSteps {
  positions: string[]
  channels: string[]
  wait_minutes: number
  repeats: number
  escalate_to: string[]
}

export interface CallPlan {
  id: string
  division_adcode: string | null
  type_code: string | null
  level: Level
  name: string
  steps: CallPlanSteps
  active: boolean
  version: number
}

export interface CallPlanWrite {
  division_adcode: string | null
  type_code: string | null
  level: Level
  name: string
  steps: CallPlanSteps
  active: boolean
}

/** A plan's change: what changed, with the version read (its division stays). */
export type CallPlanChange = Partial<Omit<CallPlanWrite, 'division_adcode'>> & { version: number }

/** 六问: six question codes, each answered ok or not with a note. */
export const SPOT_QUESTIONS = ['q1', 'q2', 'q3', 'q4', 'q5', 'q6'] as const
export type SpotQuestion = (typeof SPOT_QUESTIONS)[number]
export interface SpotAnswer {
  question: SpotQuestion
  ok: boolean
  note: string
}
export interface SpotCheckWrite {
  village_adcode: string
  /** the village responsible person asked */
  person_name: string
  answers: SpotAnswer[]
}
export interface SpotCheck extends SpotCheckWrite {
  id: string
  warning_id: string
  passed: boolean
  checked_by: string | null
  at: string
}

export const warnings = {
  types: async (signal?: AbortSignal) =>
    rowsOf(await api.get<{ items: WarningType[] } | WarningType[]>('/warnings/types', undefined, { signal })),
  list: (query: WarningQuery, signal?: AbortSignal) => api.get<Page<Warning>>('/warnings', { ...query }, { signal }),
  get: (id: string, signal?: AbortSignal) => api.get<Warning>(`/warnings/${id}`, undefined, { signal }),
  create: (body: WarningDraft) => api.post<Warning>('/warnings', body),
  update: (id: string, body: WarningPatch) => api.patch<Warning>(`/warnings/${id}`, body),
  /**
   * A workflow step with the version read (compare-and-set) and, where asked, a reason. 更新 and
   * 转发 make a new draft from the warning (no version: the original does not change by them).
   */
  step: (id: string, step: WorkflowStep, body: { version: number; reason?: string }) =>
    api.post<Warning>(`/warnings/${id}/${step}`, step === 'update' || step === 'relay' ? {} : body),
  recipients: (id: string, query: { offset: number; limit: number; reason?: string; q?: string }, signal?: AbortSignal) =>
    api.get<Page<Recipient>>(`/warnings/${id}/recipients`, { ...query }, { signal }),
  deliveries: (id: string, query: { offset: number; limit: number; state?: string }, signal?: AbortSignal) =>
    api.get<Page<Delivery>>(`/warnings/${id}/deliveries`, { ...query }, { signal }),
  board: (id: string, signal?: AbortSignal) => api.get<Board>(`/warnings/${id}/board`, undefined, { signal }),
  acks: (id: string, signal?: AbortSignal) => api.get<Page<Ack>>(`/warnings/${id}/acks`, undefined, { signal }),
  ackSignedIn: (id: string) => api.post<AckResult>(`/warnings/${id}/ack`, {}),
  spotChecks: (id: string, signal?: AbortSignal) =>
    api.get<Page<SpotCheck> | SpotCheck[]>(`/warnings/${id}/spot-checks`, undefined, { signal }),
  addSpotCheck: (id: string, body: SpotCheckWrite) => api.post<SpotCheck>(`/warnings/${id}/spot-checks`, body),
  /** Where the browser downloads an export (same-origin, with the session cookie). */
  exportUrl: (id: string, what: 'evidence.docx' | 'evidence.xlsx' | 'recipients.xlsx' | 'cap') =>
    buildUrl(`/warnings/${id}/${what}`),
}

export const publicAck = {
  info: (token: string, signal?: AbortSignal) =>
    api.get<AckInfo>(`/warnings/ack/${encodeURIComponent(token)}`, undefined, { signal, quiet401: true }),
  confirm: (token: string) =>
    api.post<AckResult>(`/warnings/ack/${encodeURIComponent(token)}`, {}, { quiet401: true }),
}

export const callPlans = {
  list: (signal?: AbortSignal) => api.get<Page<CallPlan> | CallPlan[]>('/warnings/call-plans', undefined, { signal }),
  create: (body: CallPlanWrite) => api.post<CallPlan>('/warnings/call-plans', body),
  update: (id: string, body: CallPlanChange) => api.patch<CallPlan>(`/warnings/call-plans/${id}`, body),
  remove: (id: string) => api.delete<void>(`/warnings/call-plans/${id}`),
}

/** The largest CAP message the console sends (the server has its own bound). */
export const CAP_MAX_BYTES = 1024 * 1024

/**
 * Take a CAP 1.2 message (a file from a bureau) as a received warning: `POST /warnings:cap`
 * with the XML as it is. The same message twice answers the same warning.
 */
export async function receiveCap(file: Blob): Promise<Warning> {
  const headers: Record<string, string> = { Accept: 'application/json', 'Content-Type': 'application/cap+xml' }
  const token = getCsrfToken()
  if (token) headers[CSRF_HEADER] = token
  const response = await fetch(buildUrl('/warnings:cap'), { method: 'POST', headers, body: file, credentials: 'same-origin' })
  if (!response.ok) throw await errorFromResponse(response)
  return (await response.json()) as Warning
}

/** A list route may answer `{items, total}` or a bare list: the rows either way. */
export function rowsOf<T>(answer: { items: T[] } | T[]): T[] {
  return Array.isArray(answer) ? answer : (answer.items ?? [])
}

export type Notification = components['schemas']['NotificationRead']

export const notifications = {
  list: (query: { unread?: boolean; offset?: number; limit?: number }, signal?: AbortSignal) =>
    api.get<Page<Notification>>('/notifications', { ...query }, { signal }),
  read: (id: string) => api.post<Notification>(`/notifications/${id}/read`),
}
