/**
 * Shapes of the backend's JSON that the OpenAPI document does not describe (the live events on
 * `/ws`, GeoJSON, the map configuration) and the API's own shapes under the names the app uses.
 * Everything the OpenAPI document describes comes from `schema.d.ts` (`make api-types`).
 */
import type { components } from './schema'

type S = components['schemas']

export type Me = S['Me']
export type LoginResponse = S['LoginResponse']
/** 行政区划 */
export type Division = S['DivisionRead']
/** 痕迹化管理: one audit record. */
export type AuditEntry = S['AuditEntryRead']

export interface Page<T> {
  items: T[]
  total: number
}

export type DivisionLevel = 'province' | 'city' | 'county' | 'town' | 'village'

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
