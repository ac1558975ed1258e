/** Typed calls to the backend. One function per endpoint the app uses. */
import { api, setCsrfToken } from './client'
import type {
  AuditEntry,
  Division,
  DivisionLevel,
  GeoFeatureCollection,
  LoginResponse,
  MapConfig,
  Me,
  Page,
} from './types'

export async function login(username: string, password: string): Promise<LoginResponse> {
  const res = await api.post<LoginResponse>('/auth/login', { username, password }, { quiet401: true })
  setCsrfToken(res.csrf_token ?? res.user?.csrf_token)
  return res
}

export async function fetchMe(): Promise<Me> {
  const me = await api.get<Me>('/auth/me', undefined, { quiet401: true })
  if (me.csrf_token) setCsrfToken(me.csrf_token)
  return me
}

export async function logout(): Promise<void> {
  try {
    await api.post<void>('/auth/logout', undefined, { quiet401: true })
  } finally {
    setCsrfToken(null)
  }
}

/** Sign out everywhere: every session and token of the account ends, this one too. */
export async function logoutAll(): Promise<void> {
  try {
    await api.post<void>('/auth/logout-all', undefined, { quiet401: true })
  } finally {
    setCsrfToken(null)
  }
}

export type PageQuery = {
  offset?: number
  limit?: number
}

export function listDivisions(
  query: { parent?: string; level?: DivisionLevel } & PageQuery = {},
  signal?: AbortSignal,
) {
  return api.get<Page<Division>>('/divisions', query, { signal })
}

export function divisionsGeojson(
  query: { level: DivisionLevel; parent?: string },
  signal?: AbortSignal,
) {
  return api.get<GeoFeatureCollection>('/divisions.geojson', query, { signal })
}

export function mapConfig(signal?: AbortSignal) {
  return api.get<MapConfig>('/config/map', undefined, { signal })
}

export function listAudit(query: PageQuery = {}, signal?: AbortSignal) {
  return api.get<Page<AuditEntry>>('/audit', query, { signal })
}
