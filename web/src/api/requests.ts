/**
 * The calls of the map and of requests for resources (申请调派): the resource layers of the
 * situation board (`:layer`, `:counts`), what is around an incident (`surroundings`), the
 * nearest of a kind (`:nearest`), requests with their steps, and what an incident holds
 * (`allocations`). Words are never sent by the server: states and reasons are codes, worded by
 * `@/i18n/features/allocation`.
 */
import { api, isApiError } from '@/api/client'
import type { components } from '@/api/schema'

/** The ten kinds, in the order of the layer switcher (`yingji.resources.models.ResourceKind`). */
export const RESOURCE_KINDS = [
  'rescue_team',
  'warehouse',
  'equipment',
  'expert',
  'shelter',
  'hazard_source',
  'protection_target',
  'medical_facility',
  'video_point',
  'plan',
] as const
export type ResourceKind = (typeof RESOURCE_KINDS)[number]

type S = components['schemas']

/** A resource as the surroundings and the nearest name it. */
export type ResourceBrief = S['ResourceRead']
/** A resource with its distance and straight-line travel time. */
export type Nearby = S['Nearby']
export type Travel = S['Travel']
export type NearestPage = S['NearestPage']
/** A supply item a warehouse holds, with what is free of it (quantity − reserved). */
export type HeldItem = S['HeldItem']
export type NearbyWarehouse = S['NearbyWarehouse']
export type NearbyShelter = S['NearbyShelter']
/** `GET /incidents/{id}/surroundings`: each group nearest first. */
export type Surroundings = S['SurroundingsRead']
/** A feature of `:layer`: one resource, or a grid cluster of `count` of them. */
export type LayerProperties = S['LayerProperties']
export type LayerCollection = S['LayerCollection']

export type RequestTarget = 'unit' | 'supply'
export type RequestState =
  | 'requested'
  | 'approved'
  | 'rejected'
  | 'forwarded'
  | 'dispatched'
  | 'arrived'
  | 'returned'
  | 'issued'
  | 'received'
  | 'closed'
  | 'cancelled'
export type RequestAction =
  | 'approve'
  | 'reject'
  | 'forward'
  | 'dispatch'
  | 'arrive'
  | 'return'
  | 'issue'
  | 'receive'
  | 'close'
  | 'cancel'
export type Direction = 'incoming' | 'outgoing'

/** A request with the steps the reader may take on it now (`actions`: the buttons follow it). */
export type ResourceRequest = S['RequestRead']
export type RequestPage = S['RequestPage']
export type RequestCreate = S['RequestCreate']

/** What the incident page asks for: a whole resource, or an item of a warehouse. */
export type RequestSubject =
  | { target: 'unit'; resourceId: string; name: string }
  | {
      target: 'supply'
      itemId: string
      item: string
      unit: string
      warehouseId: string
      warehouse: string
      available: number
    }

/** What is promised to or out for an incident: the team or the warehouse it comes from. */
export type IncidentAllocation = S['IncidentAllocation']

/** A step's body: the version read (409 `stale_version` if it moved on) and the words, if any. */
function stepBody(version?: number, note?: string): Record<string, string | number> {
  const text = note?.trim()
  return { ...(version ? { version } : {}), ...(text ? { note: text } : {}) }
}

/**
 * Which steps follow which (`yingji.resources.models.REQUEST_TRANSITIONS`), by the action's
 * name, and who takes each: the deciders of the request (`incoming`) or its requester
 * (`outgoing`). The server checks again.
 */
export const STEPS: Record<RequestState, RequestAction[]> = {
  requested: ['approve', 'reject', 'forward', 'cancel'],
  forwarded: ['approve', 'reject', 'cancel'],
  approved: ['dispatch', 'issue', 'cancel'],
  dispatched: ['arrive', 'return'],
  arrived: ['return'],
  issued: ['receive'],
  received: ['close'],
  rejected: [],
  returned: [],
  closed: [],
  cancelled: [],
}
const DECIDER_STEPS = new Set<RequestAction>(['approve', 'reject', 'forward', 'dispatch', 'issue', 'return'])
const REQUESTER_STEPS = new Set<RequestAction>(['cancel', 'arrive', 'receive', 'close', 'return'])

/**
 * The steps to offer on a request: the server's `actions` when it sent them, else those of the
 * side by its state (units are dispatched, supplies issued).
 */
export function stepsFor(
  request: { state: string; target: string; actions?: RequestAction[] },
  direction: Direction,
): RequestAction[] {
  if (request.actions) return request.actions
  const side = direction === 'incoming' ? DECIDER_STEPS : REQUESTER_STEPS
  return (STEPS[request.state as RequestState] ?? []).filter((action) => {
    if (!side.has(action)) return false
    if (action === 'dispatch') return request.target === 'unit'
    if (action === 'issue') return request.target === 'supply'
    return true
  })
}

/** Steps that need the decider's words (a rejection says why). */
export const STEPS_WITH_NOTE = new Set<RequestAction>(['reject', 'forward', 'cancel', 'return'])

const req = (id: string) => `/resource-requests/${encodeURIComponent(id)}`

export const requestsApi = {
  list: (
    query: { direction?: Direction; state?: string; incident_id?: string; limit?: number; offset?: number },
    signal?: AbortSignal,
  ) => api.get<RequestPage>('/resource-requests', query, { signal }),
  get: (id: string, signal?: AbortSignal) => api.get<ResourceRequest>(req(id), undefined, { signal }),
  create: (body: RequestCreate) => api.post<ResourceRequest>('/resource-requests', body),
  step: (id: string, action: RequestAction, version?: number, note?: string) =>
    api.post<ResourceRequest>(`${req(id)}/${action}`, stepBody(version, note)),
  allocations: (incidentId: string, signal?: AbortSignal) =>
    api.get<IncidentAllocation[]>(`/incidents/${encodeURIComponent(incidentId)}/allocations`, undefined, { signal }),
  surroundings: (incidentId: string, radiusM: number, signal?: AbortSignal) =>
    api.get<Surroundings>(
      `/incidents/${encodeURIComponent(incidentId)}/surroundings`,
      { radius_m: radiusM },
      { signal },
    ),
  nearest: (
    query: { kind: string; lon: number; lat: number; n?: number; status?: string; max_km?: number },
    signal?: AbortSignal,
  ) => api.get<NearestPage>('/resources:nearest', query, { signal }),
  layer: (kind: string, bbox: [number, number, number, number], zoom: number, signal?: AbortSignal) =>
    api.get<LayerCollection>(
      '/resources:layer',
      { kind, bbox: bbox.map((n) => n.toFixed(5)).join(','), zoom: Math.floor(zoom) },
      { signal },
    ),
  counts: (bbox: [number, number, number, number] | null, signal?: AbortSignal) =>
    api
      .get<S['KindCounts']>('/resources:counts', bbox ? { bbox: bbox.map((n) => n.toFixed(5)).join(',') } : undefined, {
        signal,
      })
      .then((answer) => answer.counts),
}

/** The quantity still available that a refused request names (409 `insufficient_stock`), if any. */
export function availableOf(error: unknown): number | null {
  if (!isApiError(error) || error.code !== 'insufficient_stock') return null
  const d = error.details as { available?: unknown; params?: { available?: unknown } } | null
  const n = Number(d?.params?.available ?? d?.available)
  return d && Number.isFinite(n) ? n : null
}
