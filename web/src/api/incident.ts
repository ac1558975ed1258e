/**
 * The incident page's calls: one incident, its timeline, reports, orders, the dispatch plan and
 * every action on it. Types come from the generated OpenAPI schema.
 */
import { api, buildUrl } from '@/api/client'
import type { components } from '@/api/schema'

type S = components['schemas']
export type Incident = S['IncidentRead']
export type TimelineEntry = S['TimelineRead']
export type Report = S['ReportRead']
export type Order = S['OrderRead']
/** An order on the incident's list, with the names of its units. */
export type IncidentOrder = S['InboxOrder']
export type Attachment = S['AttachmentRead']
export type OrderDetail = S['OrderDetail']
export type DispatchPlan = S['DispatchPlan']
export type PlannedUnit = S['PlannedUnit']
export type Unit = S['UnitRead']
export type Category = S['CategoryRead']
export type Callback = S['CallbackRead']
/** Why, as data: a code and its parameters, worded by `@/utils/words`. */
export type Reason = S['Reason']
export type Level = 'I' | 'II' | 'III' | 'IV'
export type CancelKind = 'false_report' | 'duplicate' | 'other'
export type DispatchChoice = S['UnitChoice']
export type CallbackBody = S['CallbackRequest']

const base = (id: string) => `/incidents/${encodeURIComponent(id)}`

export const incidentApi = {
  get: (id: string, signal?: AbortSignal) => api.get<Incident>(base(id), undefined, { signal }),
  timeline: (id: string, signal?: AbortSignal) =>
    api.get<TimelineEntry[]>(`${base(id)}/timeline`, undefined, { signal }),
  reports: (id: string, signal?: AbortSignal) =>
    api.get<S['ReportPage']>(`${base(id)}/reports`, undefined, { signal }),
  orders: (id: string, signal?: AbortSignal) =>
    api.get<IncidentOrder[]>(`${base(id)}/orders`, undefined, { signal }),
  /** A report's photos and recordings. */
  attachments: (reportId: string, signal?: AbortSignal) =>
    api.get<Attachment[]>(`/intake/reports/${encodeURIComponent(reportId)}/attachments`, undefined, {
      signal,
    }),
  order: (orderId: string, signal?: AbortSignal) =>
    api.get<OrderDetail>(`/orders/${encodeURIComponent(orderId)}`, undefined, { signal }),
  dispatchPlan: (id: string, signal?: AbortSignal) =>
    api.get<DispatchPlan>(`${base(id)}/dispatch-plan`, undefined, { signal }),
  units: (signal?: AbortSignal) =>
    api.get<S['UnitPage']>('/units', { limit: 1000 }, { signal }),
  categories: (signal?: AbortSignal) => api.get<Category[]>('/intake/categories', undefined, { signal }),
  division: (adcode: string, signal?: AbortSignal) =>
    api.get<S['DivisionDetail']>(`/divisions/${encodeURIComponent(adcode)}`, undefined, { signal }),

  verify: (id: string, reason?: string) =>
    api.post<Incident>(`${base(id)}/verify`, reason ? { reason } : undefined),
  control: (id: string, reason?: string) =>
    api.post<Incident>(`${base(id)}/control`, reason ? { reason } : undefined),
  /** `confirmEndOrders`: end the incident's open orders with it (else 409 incident_has_live_orders). */
  close: (id: string, reason?: string, confirmEndOrders = false) =>
    api.post<Incident>(`${base(id)}/close`, {
      ...(reason ? { reason } : {}),
      ...(confirmEndOrders ? { confirm_end_orders: true } : {}),
    }),
  cancel: (id: string, kind: CancelKind, reason: string, confirmEndOrders = false) =>
    api.post<Incident>(`${base(id)}/cancel`, {
      kind,
      reason,
      ...(confirmEndOrders ? { confirm_end_orders: true } : {}),
    }),
  changeLevel: (id: string, level: Level, reason: string) =>
    api.post<Incident>(`${base(id)}/level`, { level, reason }),
  /** A note on the timeline; `forUnits`: the units holding orders on the incident read it too. */
  note: (id: string, text: string, forUnits = false) =>
    api.post<Incident>(`${base(id)}/notes`, { text, for_units: forUnits }),
  firstReport: (id: string, text: string) =>
    api.post<Incident>(`${base(id)}/first-report`, { text }),
  merge: (id: string, into: string, reason?: string, confirmEndOrders = false) =>
    api.post<Incident>(`${base(id)}/merge`, {
      into_incident_id: into,
      reason: reason || null,
      ...(confirmEndOrders ? { confirm_end_orders: true } : {}),
    }),
  split: (id: string, reportId: string) =>
    api.post<Incident>(`${base(id)}/split`, { report_id: reportId }),
  /** 派单: by the routing table (no units) or to the chosen units. */
  dispatch: (id: string, units?: DispatchChoice[]) =>
    api.post<Order[]>(`${base(id)}/dispatch`, units ? { units } : undefined),
  callback: (id: string, body: CallbackBody) =>
    api.post<Callback>(`${base(id)}/callback`, body),
}

/** Where a report's attachment is served (same origin: the session cookie signs the request). */
export function attachmentUrl(reportId: string, attachmentId: string): string {
  return buildUrl(
    `/intake/reports/${encodeURIComponent(reportId)}/attachments/${encodeURIComponent(attachmentId)}`,
  )
}
