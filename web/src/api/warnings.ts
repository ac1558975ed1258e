/**
 * 预警发布 · 叫应: warnings and their workflow, received CAP warnings, the recipients frozen at
 * publication, deliveries, the 叫应 board, acknowledgements (also the public phone page's),
 * call plans, 六问 spot checks and the evidence exports.
 *
 * The shapes are the OpenAPI document's (`schema.d.ts`, `make api-types`), with the codes the
 * console knows narrowed where the server sends them as strings.
 */
import { api, buildUrl, CSRF_HEADER, errorFromResponse, getCsrfToken } from '@/api/client'
import type { Page } from '@/api/types'
import type { components } from '@/api/schema'

type S = components['schemas']

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
export type WarningType = Omit<S['WarningTypeRead'], 'levels'> & { levels: Level[] }

/**
 * A warning as `GET /warnings/{id}` sends it, with its codes narrowed to the ones the console
 * knows (the server's `WarningState`, `WarningLevel`, origin, CAP msgType).
 */
export type Warning = Omit<S['WarningRead'], 'state' | 'level' | 'origin' | 'msg_type' | 'area'> & {
  state: WarningState
  level: Level | null
  origin: 'authored' | 'received'
  msg_type: MsgType
  area: AreaGeometry | null
}

/** What the editor sends (`POST /warnings`; `PATCH` adds the version read). */
export type WarningDraft = Required<Pick<S['WarningCreate'], 'headline' | 'issuer'>> & {
  type_code: string | null
  level: Level | null
  description: string
  instruction: string
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

/** One recipient frozen at publication (`GET /warnings/{id}/recipients`). */
export type Recipient = S['RecipientRead']

/** One delivery (one person, channel and call round); `error` is a code. */
export type Delivery = S['DeliveryRead']

/** One person row of the 叫应 board. */
export type BoardPerson = S['BoardPersonRead']
/** One town of the 叫应 board: how many were called, answered, overdue, escalated. */
export type BoardTown = S['BoardTownRead']
export type BoardCounts = S['BoardTotals']
export type Board = S['BoardRead']
export type Ack = S['AckRead']

/** The warning as the public phone page shows it. */
export type AckWarning = S['AckWarning']
/** What the public phone page shows (`GET /warnings/ack/{token}`, no sign-in). */
export type AckInfo = S['AckPage']
/** The answer of an acknowledgement: the first counts, a second says so. */
export type AckResult = S['AckResult']

/** 叫应方案 steps (frozen into a warning at publication). */
export type CallPlanSteps = Required<S['CallSteps']>

export type CallPlan = Omit<S['CallPlanRead'], 'level' | 'steps'> & { level: Level; steps: CallPlanSteps }

export type CallPlanWrite = Omit<S['CallPlanCreate'], 'division_adcode' | 'type_code' | 'steps'> & {
  division_adcode: string | null
  type_code: string | null
  level: Level
  steps: CallPlanSteps
}

/** A plan's change: what changed, with the version read (its division stays). */
export type CallPlanChange = S['CallPlanUpdate']

/** 六问: six question codes, each answered ok or not with a note. */
export const SPOT_QUESTIONS = ['q1', 'q2', 'q3', 'q4', 'q5', 'q6'] as const
export type SpotQuestion = (typeof SPOT_QUESTIONS)[number]
export type SpotAnswer = S['SpotAnswerIn']
export type SpotCheckWrite = S['SpotCheckCreate']
export type SpotCheck = Omit<S['SpotCheckRead'], 'answers'> & { answers: SpotAnswer[] }

export const warnings = {
  types: async (signal?: AbortSignal) =>
    rowsOf(await api.get<{ items: WarningType[] }>('/warnings/types', undefined, { signal })),
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
    api.get<{ items: SpotCheck[] }>(`/warnings/${id}/spot-checks`, undefined, { signal }),
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
  list: (signal?: AbortSignal) => api.get<{ items: CallPlan[] }>('/warnings/call-plans', undefined, { signal }),
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

export type Notification = S['NotificationRead']

export const notifications = {
  list: (query: { unread?: boolean; offset?: number; limit?: number }, signal?: AbortSignal) =>
    api.get<Page<Notification>>('/notifications', { ...query }, { signal }),
  read: (id: string) => api.post<Notification>(`/notifications/${id}/read`),
}
