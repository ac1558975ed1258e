/**
 * 值班 · the duty desk: who is on duty now and next (`/duty/now`, the roster's), the reports
 * owed up (`/duty/reports/due`, reporting's), the duty log, handovers and the daily report.
 *
 * The routes of the roster and of reporting may not be on this server yet: their readers answer
 * `null` on 404 and the duty home shows them as not set up.
 */
import { api, isApiError } from '@/api/client'
import type { components } from '@/api/schema'

type S = components['schemas']

export type LogKind = 'call_received' | 'instruction_passed' | 'report_sent' | 'visit' | 'other'
export const LOG_KINDS: readonly LogKind[] = ['call_received', 'instruction_passed', 'report_sent', 'visit', 'other']

export type HandoverState = 'open' | 'signed_out' | 'signed'
export type LogEntry = Omit<S['LogEntryRead'], 'kind'> & { kind: LogKind }
export type Handover = Omit<S['HandoverRead'], 'state' | 'open_items'> & {
  state: HandoverState
  open_items: OpenItems
}

export interface OpenItems {
  listed_at: string
  counts: Record<OpenSection, number>
  incidents: { id: string; number: string; title: string; state: string; level: string }[]
  orders: {
    id: string
    incident_id: string
    incident_number: string | null
    incident_title: string | null
    unit_name: string
    overdue_stage: string
    due_at: string | null
  }[]
  reports_due: { id: string; incident_number: string | null; incident_title: string | null; kind: string; seq: number; due_at: string; state: string }[]
  warnings: { id: string; number: string; headline: string; level: string | null; expires_at: string | null }[]
  instructions: { id: string; incident_number: string | null; text: string; author_name: string; issued_at: string }[]
}
export type OpenSection = 'incidents' | 'orders' | 'reports_due' | 'warnings' | 'instructions'
export const OPEN_SECTIONS: readonly OpenSection[] = ['incidents', 'orders', 'reports_due', 'warnings', 'instructions']

/** A seat of `GET /duty/now` (the roster's contract). */
export interface Seat {
  shift_id: string
  position: 'leader' | 'chief' | 'officer' | 'professional'
  label: string
  seat: number
  person_id: string | null
  person_name: string | null
  starts_at: string
  ends_at: string
  state: string
  checked_in_at: string | null
}
export interface OnDutyNow {
  division_adcode: string
  at: string
  current: Seat[]
  next: Seat[]
}

/** A report owed up (`GET /duty/reports/due`, reporting's contract). */
export interface DueReport {
  id: string
  incident_id: string
  incident_number: string
  incident_title: string
  kind: 'phone' | 'first' | 'followup' | 'final'
  seq: number
  due_at: string
  state: 'due' | 'late' | 'missing'
  report_id: string | null
}

async function orNullWhenAbsent<T>(read: Promise<T>): Promise<T | null> {
  try {
    return await read
  } catch (e) {
    if (isApiError(e) && e.status === 404 && e.code.startsWith('http_')) return null
    throw e
  }
}

export const duty = {
  now: (division: string) => orNullWhenAbsent(api.get<OnDutyNow>('/duty/now', { division })),
  reportsDue: (division: string) =>
    orNullWhenAbsent(api.get<{ items: DueReport[] }>('/duty/reports/due', { division })),
  log: (division: string, limit = 50) =>
    api.get<{ items: LogEntry[]; total: number }>('/duty/log', { division, limit }),
  addLog: (body: { division_adcode: string; kind: LogKind; text: string; incident_id?: string | null }) =>
    api.post<LogEntry>('/duty/log', body),
  currentHandover: (division: string) =>
    api.get<{ handover: Handover | null; last_signed: Handover | null }>('/duty/handovers/current', { division }),
  openHandover: (division: string) => api.post<Handover>('/duty/handovers', { division_adcode: division }),
  notes: (id: string, side: 'out' | 'in', text: string, version: number) =>
    api.post<Handover>(`/duty/handovers/${id}/notes`, { side, text, version }),
  signOut: (id: string, notes: string | null, version: number) =>
    api.post<Handover>(`/duty/handovers/${id}/sign-out`, { notes, version }),
  signIn: (id: string, notes: string | null, version: number) =>
    api.post<Handover>(`/duty/handovers/${id}/sign-in`, { notes, version }),
}

/** What the signed-in person can do next with a handover. */
export type HandoverStep = 'sign_out' | 'sign_in' | 'wait_other' | 'done'

export function handoverStep(handover: Pick<Handover, 'state' | 'signed_out_by'>, me: string): HandoverStep {
  if (handover.state === 'signed') return 'done'
  if (handover.state === 'open') return 'sign_out'
  return handover.signed_out_by === me ? 'wait_other' : 'sign_in'
}

/** The adcode a desk works for: the last one of its division path. */
export function deskDivision(path: string | null | undefined): string | null {
  const parts = (path ?? '').split('/').filter(Boolean)
  return parts.length ? parts[parts.length - 1]! : null
}
