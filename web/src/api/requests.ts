/**
 * The calls of the map and of requests for resources (申请调派): the resource layers of the
 * situation board (`:layer`, `:counts`), what is around an incident (`surroundings`), the
 * nearest of a kind (`:nearest`), requests with their steps, and what an incident holds
 * (`allocations`). Words are never sent by the server: states and reasons are codes, worded by
 * `@/i18n/features/allocation`.
 */
import { api, isApiError } from '@/api/client'

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

/** A resource as the lists and the surroundings name it. */
export interface ResourceBrief {
  id: string
  kind: string
  code: string
  name: string
  status: string
  division_adcode?: string | null
  division_name?: string | null
  owner_unit_name?: string | null
  address?: string | null
  lon: number | null
  lat: number | null
  contact_name?: string | null
  contact_phone?: string | null
  attrs?: Record<string, unknown>
}

export interface Nearby {
  resource: ResourceBrief
  distance_m: number
  travel_minutes?: number | null
  available_quantity?: number | null
}

export interface Travel {
  method: string
  speed_kmh?: number | null
}

export interface NearestPage {
  items: Nearby[]
  travel: Travel
}

/** A supply item a warehouse holds, with what is free of it (quantity − reserved). */
export interface HeldItem {
  item_id: string
  code?: string | null
  name: string
  unit?: string | null
  available: number
  quantity?: number | null
}

export interface NearbyWarehouse extends Nearby {
  items: HeldItem[]
}

export interface NearbyShelter extends Nearby {
  capacity?: number | null
  occupancy?: number | null
  free_capacity?: number | null
}

/** `GET /incidents/{id}/surroundings`: each group nearest first. */
export interface Surroundings {
  radius_m: number
  hazard_sources: Nearby[]
  protection_targets: Nearby[]
  teams: Nearby[]
  warehouses: NearbyWarehouse[]
  shelters: NearbyShelter[]
  video_points: Nearby[]
  medical_facilities: Nearby[]
  travel?: Travel
}

/** A feature of `:layer`: one resource, or a grid cluster of `count` of them. */
export interface LayerProperties {
  id?: string
  kind?: string
  name?: string
  status?: string
  code?: string
  cluster?: boolean
  count?: number
}

export interface LayerCollection {
  type: 'FeatureCollection'
  features: {
    type: 'Feature'
    geometry: { type: 'Point'; coordinates: [number, number] }
    properties: LayerProperties
  }[]
}

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

/** A reason as data (`yingji.core.reasons`). */
export interface Coded {
  code: string
  params?: Record<string, unknown>
}

export interface ResourceRequest {
  id: string
  number: string
  incident_id: string | null
  incident_title?: string | null
  target: RequestTarget
  kind?: string | null
  resource_id: string | null
  resource_name?: string | null
  item_id: string | null
  item_name?: string | null
  unit_of_measure?: string | null
  warehouse_id?: string | null
  warehouse_name?: string | null
  quantity: number
  incident_number?: string | null
  state: RequestState
  from_division_adcode: string
  from_division_name?: string | null
  to_division_adcode: string
  to_division_name?: string | null
  forwarded_from_id?: string | null
  forwarded_to_id?: string | null
  lon?: number | null
  lat?: number | null
  note?: string | null
  why?: Coded | null
  version?: number
  created_at: string
  updated_at: string
  /** The steps the reader may take on it now (the server's word; the buttons follow it). */
  actions?: RequestAction[]
}

export interface RequestPage {
  items: ResourceRequest[]
  total?: number
}

export interface RequestCreate {
  incident_id?: string | null
  target: RequestTarget
  resource_id?: string
  item_id?: string
  quantity?: number
  warehouse_id?: string
  note?: string
  lon?: number
  lat?: number
}

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

/** A resource named with its place. */
export interface Place {
  id: string
  kind: string
  name: string
  lon: number | null
  lat: number | null
}

/** What is promised to or out for an incident: the team or the warehouse it comes from. */
export interface IncidentAllocation {
  id: string
  request_id: string
  request_number?: string | null
  request_state?: string | null
  target?: string
  state: string
  quantity: number
  resource?: Place | null
  warehouse?: Place | null
  item_name?: string | null
  unit_of_measure?: string | null
  /** the place of need */
  lon?: number | null
  lat?: number | null
}

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
  request: Pick<ResourceRequest, 'state' | 'target' | 'actions'>,
  direction: Direction,
): RequestAction[] {
  if (request.actions) return request.actions
  const side = direction === 'incoming' ? DECIDER_STEPS : REQUESTER_STEPS
  return (STEPS[request.state] ?? []).filter((action) => {
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
    api.get<IncidentAllocation[] | { items: IncidentAllocation[] }>(
      `/incidents/${encodeURIComponent(incidentId)}/allocations`,
      undefined,
      { signal },
    ).then((answer) => (Array.isArray(answer) ? answer : answer.items)),
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
    api.get<Record<string, number> | { counts: Record<string, number> }>(
      '/resources:counts',
      bbox ? { bbox: bbox.map((n) => n.toFixed(5)).join(',') } : undefined,
      { signal },
    ).then((answer) => ('counts' in answer && typeof answer.counts === 'object' ? answer.counts : answer) as Record<string, number>),
}

/** The quantity still available that a refused request names (409 `insufficient_stock`), if any. */
export function availableOf(error: unknown): number | null {
  if (!isApiError(error) || error.code !== 'insufficient_stock') return null
  const d = error.details as { available?: unknown; params?: { available?: unknown } } | null
  const n = Number(d?.params?.available ?? d?.available)
  return d && Number.isFinite(n) ? n : null
}
