/**
 * Read calls of the situation board: the incident list, the map's GeoJSON and one incident.
 * (Actions on an incident live in `incident.ts`.)
 */
import { api } from './client'
import type { components, operations } from './schema'

export type Incident = components['schemas']['IncidentRead']
export type IncidentPage = components['schemas']['IncidentPage']
export type IncidentState = NonNullable<
  NonNullable<operations['list_incidents_api_v1_incidents_get']['parameters']['query']>['state']
>[number]
export type IncidentLevel = 'I' | 'II' | 'III' | 'IV'

export const INCIDENT_STATES: IncidentState[] = [
  'reported',
  'verified',
  'responding',
  'controlled',
  'closed',
  'archived',
  'cancelled',
]
/** The states of an incident still being handled: the board's default. */
export const ACTIVE_STATES: IncidentState[] = ['reported', 'verified', 'responding', 'controlled']
export const INCIDENT_LEVELS: IncidentLevel[] = ['I', 'II', 'III', 'IV']

/** The board's filters, as the backend takes them (`GET /incidents`, `/incidents.geojson`). */
export interface IncidentFilters {
  states: IncidentState[]
  levels: IncidentLevel[]
  category: string | null
  division: string | null
  /** ISO instants (with zone) */
  since: string | null
  until: string | null
  /** title, address or number (list only) */
  q: string | null
}

export function emptyFilters(): IncidentFilters {
  return { states: [...ACTIVE_STATES], levels: [], category: null, division: null, since: null, until: null, q: null }
}

/** The properties of one incident point on the map (see `incidents_geojson` in the backend). */
export interface IncidentPointProps {
  id: string
  number: string
  title: string
  level: string
  state: string
  category_code: string | null
  last_reported_at: string
  report_count: number
}

export interface IncidentPoint {
  type: 'Feature'
  id: string
  geometry: { type: 'Point'; coordinates: [number, number] }
  properties: IncidentPointProps
}

export interface IncidentCollection {
  type: 'FeatureCollection'
  features: IncidentPoint[]
}

/** The query string of the filters; repeated keys for several states or levels. */
export function filterParams(f: IncidentFilters, withText: boolean): URLSearchParams {
  const p = new URLSearchParams()
  for (const s of f.states) p.append('state', s)
  for (const l of f.levels) p.append('level', l)
  if (f.category) p.set('category', f.category)
  if (f.division) p.set('division', f.division)
  if (f.since) p.set('since', f.since)
  if (f.until) p.set('until', f.until)
  if (withText && f.q?.trim()) p.set('q', f.q.trim())
  return p
}

export function listIncidents(
  filters: IncidentFilters,
  page: { offset: number; limit: number },
  signal?: AbortSignal,
) {
  const p = filterParams(filters, true)
  p.set('offset', String(page.offset))
  p.set('limit', String(page.limit))
  return api.get<IncidentPage>(`/incidents?${p}`, undefined, { signal })
}

/** Up to the backend's maximum of points: the map shows all of them, clustered. */
export const MAP_LIMIT = 20_000

export function incidentsGeojson(filters: IncidentFilters, signal?: AbortSignal) {
  const p = filterParams(filters, false)
  p.set('limit', String(MAP_LIMIT))
  return api.get<IncidentCollection>(`/incidents.geojson?${p}`, undefined, { signal })
}

export function getIncident(id: string, signal?: AbortSignal) {
  return api.get<Incident>(`/incidents/${encodeURIComponent(id)}`, undefined, { signal })
}
