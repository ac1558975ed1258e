/** 五个100%: the KPI figures per unit and per tier, and the monthly bulletin (通报). */
import { api, buildUrl, errorFromResponse, ApiError } from '@/api/client'

/** A rate as its numerator and denominator; `rate` is null when there was nothing to rate. */
export interface Ratio {
  numerator: number
  denominator: number
  rate: number | null
}

export const RATES = ['acceptance', 'turnout', 'punctuality', 'feedback', 'callback'] as const
export type RateName = (typeof RATES)[number]

export interface KpiFigures extends Record<RateName, Ratio> {
  orders: number
  returned: number
  transferred: number
  cancelled: number
  /** ended because the incident was closed or cancelled first */
  closed_with_incident: number
  score: number | null
}

export interface UnitKpi extends KpiFigures {
  unit_id: string
  code: string
  name: string
  tier: number
}

export interface TierKpi extends KpiFigures {
  tier: number
  units: number
}

export interface Period {
  from: string
  to: string
}

/** Orders of emergency incidents or of service cases (服务类事务): the KPIs never mix them. */
export const CASE_KINDS = ['emergency', 'service'] as const
export type CaseKind = (typeof CASE_KINDS)[number]

export function fetchUnitKpis(period: Period, kind: CaseKind = 'emergency'): Promise<UnitKpi[]> {
  return api.get<UnitKpi[]>('/kpi/units', { from: period.from, to: period.to, kind })
}

export function fetchTierKpis(period: Period, kind: CaseKind = 'emergency'): Promise<TierKpi[]> {
  return api.get<TierKpi[]>('/kpi/tiers', { from: period.from, to: period.to, kind })
}

export type BulletinFormat = 'docx' | 'html'

/** The monthly bulletin as a file (errors become ApiError, never a downloaded JSON). */
export async function fetchBulletin(month: string, format: BulletinFormat): Promise<Blob> {
  let response: Response
  try {
    response = await fetch(buildUrl('/reports/bulletin', { month, format }), { credentials: 'same-origin' })
  } catch (e) {
    throw new ApiError(0, 'network_error', e instanceof Error ? e.message : String(e))
  }
  if (!response.ok) throw await errorFromResponse(response)
  return response.blob()
}
