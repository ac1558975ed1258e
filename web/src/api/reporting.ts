/**
 * 信息报送: statutory reports sent up (电话报告, 首报, 续报, 终报), the inbox of reports from below
 * with its receipt and acknowledgement, 领导批示, the reporting board, what is due and the
 * monthly counts by town (`/api/v1/duty/…`).
 */
import { api, buildUrl } from '@/api/client'
import type { components } from '@/api/schema'

type S = components['schemas']

export type ReportKind = 'phone' | 'first' | 'followup' | 'final'
export const REPORT_KINDS: readonly ReportKind[] = ['phone', 'first', 'followup', 'final']
export type ReportState = 'draft' | 'approved' | 'sent' | 'opened' | 'acknowledged' | 'corrected'
export type DueState = 'due' | 'met' | 'late' | 'missing' | 'waived'

export type Report = Omit<S['StatutoryReportRead'], 'kind' | 'state'> & { kind: ReportKind; state: ReportState }
export type ReportDetail = Omit<S['StatutoryReportDetail'], 'kind' | 'state'> & { kind: ReportKind; state: ReportState }
export type Due = Omit<S['ReportDueRead'], 'kind' | 'state'> & { kind: ReportKind; state: DueState }
export type Instruction = S['LeaderInstructionRead']
export interface Board {
  division_adcode: string
  due: Due[]
  late: Due[]
  missing: Due[]
  sent: Report[]
}
export type TownCount = S['ReportingTownCount']
export type Stats = S['ReportingStats']

/** The structured fields the editor sends (a field left out keeps its value). */
export interface ReportContent {
  title?: string
  place?: string | null
  level?: 'I' | 'II' | 'III' | 'IV' | null
  dead?: number
  injured?: number
  missing?: number
  trapped?: number
  loss_wan_yuan?: number | null
  cause?: string | null
  measures?: string | null
  next_steps?: string | null
  body?: string | null
}

const base = '/duty'

export const reporting = {
  board: (division?: string) => api.get<Board>(`${base}/reports/board`, { division }),
  due: (division?: string, state: 'due' | 'late' | 'missing' = 'due') =>
    api.get<{ items: Due[] }>(`${base}/reports/due`, { division, state }),
  stats: (month: string, division?: string) => api.get<Stats>(`${base}/reports/stats`, { month, division }),
  list: (query: { incident_id?: string; division?: string }) =>
    api.get<{ items: Report[] }>(`${base}/reports`, query),
  get: (id: string) => api.get<ReportDetail>(`${base}/reports/${id}`),
  create: (body: ReportContent & { incident_id: string; kind: ReportKind; corrects_id?: string; correction_reason?: string }) =>
    api.post<ReportDetail>(`${base}/reports`, body),
  update: (id: string, version: number, body: ReportContent) =>
    api.patch<ReportDetail>(`${base}/reports/${id}`, { ...body, version }),
  approve: (id: string, version: number) => api.post<ReportDetail>(`${base}/reports/${id}/approve`, { version }),
  send: (id: string, version: number) => api.post<ReportDetail>(`${base}/reports/${id}/send`, { version }),
  docxUrl: (id: string) => buildUrl(`${base}/reports/${id}/document.docx`),
  inbox: (division?: string) => api.get<{ items: Report[] }>(`${base}/inbox`, { division }),
  open: (id: string) => api.post<ReportDetail>(`${base}/inbox/${id}/open`),
  acknowledge: (id: string) => api.post<ReportDetail>(`${base}/inbox/${id}/acknowledge`),
  instruct: (id: string, text: string) => api.post<Instruction>(`${base}/reports/${id}/instructions`, { text }),
  instructions: (division?: string) => api.get<{ items: Instruction[] }>(`${base}/instructions`, { division }),
  carryOut: (id: string, note: string) => api.post<Instruction>(`${base}/instructions/${id}/carry-out`, { note }),
}

/** The casualty line of a report as the preview prints it. */
export function casualtyCounts(r: Pick<ReportContent, 'dead' | 'injured' | 'missing' | 'trapped'>) {
  return { dead: r.dead ?? 0, injured: r.injured ?? 0, missing: r.missing ?? 0, trapped: r.trapped ?? 0 }
}
