/**
 * The incident page's calls: one incident, its timeline, reports, orders, the dispatch plan and
 * every action on it. Types come from the generated OpenAPI schema.
 */
import { api } from '@/api/client'
import type { components } from '@/api/schema'

type S = components['schemas']
export type Incident = S['IncidentRead']
export type TimelineEntry = S['TimelineRead']
export type Report = S['ReportRead']
export type Order = S['OrderRead']
export type OrderDetail = S['OrderDetail']
export type DispatchPlan = S['DispatchPlan']
export type PlannedUnit = S['PlannedUnit']
export type Unit = S['UnitRead']
export type Category = S['CategoryRead']
export type Callback = S['CallbackRead']
export type Level = 'I' | 'II' | 'III' | 'IV'
export type CancelKind = 'false_report' | 'duplicate' | 'other'
export interface DispatchChoice {
  unit_id: string
  role: 'lead' | 'co'
}
export interface CallbackBody {
  reachable: boolean
  reached: boolean
  satisfied: boolean | null
  note: string | null
}

const base = (id: string) => `/incidents/${encodeURIComponent(id)}`

export const incidentApi = {
  get: (id: string, signal?: AbortSignal) => api.get<Incident>(base(id), undefined, { signal }),
  timeline: (id: string, signal?: AbortSignal) =>
    api.get<TimelineEntry[]>(`${base(id)}/timeline`, undefined, { signal }),
  reports: (id: string, signal?: AbortSignal) =>
    api.get<S['ReportPage']>(`${base(id)}/reports`, undefined, { signal }),
  orders: (id: string, signal?: AbortSignal) =>
    api.get<Order[]>(`${base(id)}/orders`, undefined, { signal }),
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
  close: (id: string, reason?: string) =>
    api.post<Incident>(`${base(id)}/close`, reason ? { reason } : undefined),
  cancel: (id: string, kind: CancelKind, reason: string) =>
    api.post<Incident>(`${base(id)}/cancel`, { kind, reason }),
  changeLevel: (id: string, level: Level, reason: string) =>
    api.post<Incident>(`${base(id)}/level`, { level, reason }),
  note: (id: string, text: string) => api.post<Incident>(`${base(id)}/notes`, { text }),
  firstReport: (id: string, text: string) =>
    api.post<Incident>(`${base(id)}/first-report`, { text }),
  merge: (id: string, into: string, reason?: string) =>
    api.post<Incident>(`${base(id)}/merge`, { into_incident_id: into, reason: reason || null }),
  split: (id: string, reportId: string) =>
    api.post<Incident>(`${base(id)}/split`, { report_id: reportId }),
  /** 派单: by the routing table (no units) or to the chosen units. */
  dispatch: (id: string, units?: DispatchChoice[]) =>
    api.post<Order[]>(`${base(id)}/dispatch`, units ? { units } : undefined),
  callback: (id: string, body: CallbackBody) =>
    api.post<Callback>(`${base(id)}/callback`, body),
}
