/** Typed calls of the intake desk (接警台); shapes come from the generated OpenAPI types. */
import { api } from './client'
import type { components } from './schema'

type S = components['schemas']
export type Channel = S['ReportCreate']['channel']
export type ReportCreate = S['ReportCreate']
export type ReportReceipt = S['ReportReceipt']
export type ReportRead = S['ReportRead']
export type ReportPage = S['ReportPage']
export type ClassifyResult = S['ClassifyResult']
export type CandidateRequest = S['CandidateRequest']
export type CandidateAnswer = S['CandidateAnswer']
export type Candidate = S['Candidate']
export type Suggestion = S['Suggestion']
export type Place = S['PlaceRead']
export type Category = S['CategoryRead']
export type Incident = S['IncidentRead']
export type Casualties = S['Casualties']

export function receiveReport(body: ReportCreate) {
  return api.post<ReportReceipt>('/intake/reports', body)
}

export function joinReport(reportId: string, incidentId: string) {
  return api.post<ReportReceipt>(`/intake/reports/${reportId}/join`, { incident_id: incidentId })
}

/**
 * The category, level, place and casualties the words suggest. `casualties`: the counts the
 * officer confirmed; null when none are, so the level uses the counts read from the text (and
 * its reason says they are extracted).
 */
export function classify(text: string, casualties: Casualties | null, signal?: AbortSignal) {
  const body = casualties ? { text, casualties } : { text }
  return api.post<ClassifyResult>('/intake/classify', body, { signal })
}

export function draftCandidates(body: CandidateRequest, signal?: AbortSignal) {
  return api.post<CandidateAnswer>('/intake/candidates', body, { signal })
}

export function suggestPlaces(q: string, signal?: AbortSignal) {
  return api.get<Place[]>('/intake/gazetteer', { q, limit: 10 }, { signal })
}

export function listCategories(signal?: AbortSignal) {
  return api.get<Category[]>('/intake/categories', undefined, { signal })
}

export function getIncident(id: string, signal?: AbortSignal) {
  return api.get<Incident>(`/incidents/${id}`, undefined, { signal })
}

export function listReports(
  query: { located?: boolean; status?: string; limit?: number },
  signal?: AbortSignal,
) {
  return api.get<ReportPage>('/intake/reports', query, { signal })
}

export function locateReport(reportId: string, lon: number, lat: number) {
  return api.post<ReportRead>(`/intake/reports/${reportId}/locate`, { lon, lat })
}

export function acceptReport(reportId: string) {
  return api.post<ReportReceipt>(`/intake/reports/${reportId}/accept`)
}

export function rejectReport(reportId: string, reason: string) {
  return api.post<ReportRead>(`/intake/reports/${reportId}/reject`, { reason })
}
