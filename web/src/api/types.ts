/** Shapes of the backend's JSON (see /openapi.json). Kept by hand until we generate them. */

export interface Scope {
  everything: boolean
  division_path: string | null
  unit_id: string | null
}

export interface Me {
  id: string
  username: string
  display_name: string
  roles: string[]
  permissions: string[]
  scope: Scope
  unit_id: string | null
  csrf_token?: string
}

export interface LoginResponse {
  user: Me
  csrf_token: string
}

export interface Page<T> {
  items: T[]
  total: number
}

export type DivisionLevel = 'province' | 'city' | 'county' | 'town' | 'village'

/** 行政区划 */
export interface Division {
  adcode: string
  name: string
  level: DivisionLevel
  parent_adcode: string | null
  path: string
  centroid_lon: number | null
  centroid_lat: number | null
}

export interface BaseLayer {
  name: string
  type: 'xyz' | 'wmts'
  url: string
  attribution?: string
}

export interface MapConfig {
  base_layers: BaseLayer[]
  center: [number, number] | null
  zoom: number | null
}

export type UnitKind = 'department' | 'town' | 'village' | 'rescue_team'

/** 联动单位 */
export interface LinkageUnit {
  id: string
  code: string
  name: string
  kind: UnitKind
  tier: 1 | 2 | 3
  division_adcode: string | null
  parent_id: string | null
  phone: string | null
}

export interface UserAccount {
  id: string
  username: string
  display_name: string
  roles: string[]
  division_adcode: string | null
  unit_id: string | null
  active: boolean
}

/** 痕迹化管理: one audit record. */
export interface AuditEntry {
  id: string | number
  at: string
  actor_name: string | null
  ip: string | null
  action: string
  subject_type: string | null
  subject_id: string | null
  before: unknown
  after: unknown
}

export interface LiveEvent {
  id: string
  type: string
  subject_type: string | null
  subject_id: string | null
  payload: unknown
  occurred_at: string
}

export type ServerMessage =
  | { type: 'hello'; user: unknown }
  | { type: 'event'; event: LiveEvent }
  | { type: 'pong' }
  | { type: 'error'; error?: { code: string; message: string } }

export interface GeoFeature {
  type: 'Feature'
  geometry: { type: string; coordinates: unknown } | null
  properties: { adcode: string; name: string; level: DivisionLevel } & Record<string, unknown>
  id?: string | number
}

export interface GeoFeatureCollection {
  type: 'FeatureCollection'
  features: GeoFeature[]
}
