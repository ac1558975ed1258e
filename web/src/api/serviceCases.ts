/**
 * 服务类事务: service cases are incident rows of kind `service` (decision 0031). Their list is
 * `GET /incidents?kind=service`; each case's orders and its 回访 trace come from the incident's
 * own endpoints.
 */
import { api } from './client'
import { incidentApi, type IncidentOrder, type TimelineEntry } from './incident'
import type { IncidentPage, IncidentState } from './incidents'

/** The list's filters: states (none: all), a town, and when the case was reported. */
export interface ServiceCaseFilters {
  states: IncidentState[]
  division: string | null
  /** ISO instants (with zone) */
  since: string | null
  until: string | null
}

export function serviceCaseParams(f: ServiceCaseFilters, page: { offset: number; limit: number }): URLSearchParams {
  const p = new URLSearchParams()
  p.set('kind', 'service')
  for (const s of f.states) p.append('state', s)
  if (f.division) p.set('division', f.division)
  if (f.since) p.set('since', f.since)
  if (f.until) p.set('until', f.until)
  p.set('offset', String(page.offset))
  p.set('limit', String(page.limit))
  return p
}

export function listServiceCases(
  filters: ServiceCaseFilters,
  page: { offset: number; limit: number },
  signal?: AbortSignal,
) {
  return api.get<IncidentPage>(`/incidents?${serviceCaseParams(filters, page)}`, undefined, { signal })
}

/** What a row shows beside the case: its orders and (once closed) its timeline for the 回访. */
export interface CaseDetails {
  orders: IncidentOrder[] | null
  timeline: TimelineEntry[] | null
}

export async function caseDetails(id: string, closed: boolean, signal?: AbortSignal): Promise<CaseDetails> {
  const [orders, timeline] = await Promise.allSettled([
    incidentApi.orders(id, signal),
    closed ? incidentApi.timeline(id, signal) : Promise.resolve(null),
  ])
  return {
    orders: orders.status === 'fulfilled' ? orders.value : null,
    timeline: timeline.status === 'fulfilled' ? timeline.value : null,
  }
}
