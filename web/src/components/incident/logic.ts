/**
 * The incident page's rules, kept apart from the components so they can be tested: which
 * actions the state and the user's permissions allow, which stage an order owes next, which
 * parts of the page a live event touches, and the dispatch selection.
 */
import type { LiveEvent } from '@/api/types'
import type { DispatchChoice, Incident, Order, PlannedUnit, Reason, TimelineEntry } from '@/api/incident'

export const OPEN_STATES = ['reported', 'verified', 'responding', 'controlled'] as const
export const DISPATCHABLE = ['verified', 'responding', 'controlled'] as const
export const OPEN_STAGES = ['issued', 'signed', 'arrived'] as const
export const LEVELS = ['I', 'II', 'III', 'IV'] as const

const has = (list: readonly string[], value: string) => list.includes(value)

/** I is the highest level; `levelRank('I') > levelRank('IV')`. */
export function levelRank(level: string): number {
  const i = LEVELS.indexOf(level as (typeof LEVELS)[number])
  return i < 0 ? 0 : LEVELS.length - i
}

export type LevelDirection = 'raise' | 'lower' | 'same'
export function levelDirection(from: string, to: string): LevelDirection {
  const a = levelRank(from)
  const b = levelRank(to)
  return b > a ? 'raise' : b < a ? 'lower' : 'same'
}

/** 首报 is owed: open, verified, level III or above, not yet recorded (the backend's rule). */
export function needsFirstReport(incident: Incident): boolean {
  return (
    has(OPEN_STATES, incident.state) &&
    incident.verified_at !== null &&
    incident.first_report_at === null &&
    levelRank(incident.level) >= levelRank('III')
  )
}

/** Whether the 回访 was already recorded (its trace is on the timeline). */
export function callbackDone(timeline: readonly TimelineEntry[]): boolean {
  return timeline.some((e) => e.kind === 'callback_done')
}

export interface Allowed {
  verify: boolean
  control: boolean
  close: boolean
  cancel: boolean
  level: boolean
  note: boolean
  dispatch: boolean
  firstReport: boolean
  callback: boolean
  merge: boolean
}

/** The actions the incident's state and the user's permissions allow. */
export function allowedActions(
  incident: Incident,
  can: (permission: string) => boolean,
  timeline: readonly TimelineEntry[] = [],
): Allowed {
  const write = can('incident.write')
  const dispatch = can('dispatch.write')
  const s = incident.state
  const open = has(OPEN_STATES, s)
  // a service case (服务类事务) has no level to change and owes no 首报 (decision 0031)
  const emergency = incident.kind !== 'service'
  return {
    verify: write && s === 'reported',
    control: write && (s === 'verified' || s === 'responding'),
    close: write && has(DISPATCHABLE, s),
    cancel: write && open,
    level: write && open && emergency,
    note: write && s !== 'archived',
    dispatch: dispatch && has(DISPATCHABLE, s),
    firstReport: write && emergency && needsFirstReport(incident),
    callback: dispatch && (s === 'closed' || s === 'archived') && !callbackDone(timeline),
    merge: write && open,
  }
}

export interface NextDeadline {
  stage: 'sign' | 'arrive' | 'complete'
  dueAt: string
}

/** The stage an open order owes next and its deadline (mirrors `OrderRead.next_deadline`). */
export function nextDeadline(order: Order): NextDeadline | null {
  if (order.stage === 'issued') return { stage: 'sign', dueAt: order.sign_due_at }
  if (order.stage === 'signed' && order.arrive_due_at)
    return { stage: 'arrive', dueAt: order.arrive_due_at }
  if (order.stage === 'signed' || order.stage === 'arrived')
    return { stage: 'complete', dueAt: order.complete_due_at }
  return null
}

/** Orders that still count: not returned, transferred, cancelled or ended with the incident. */
export function liveOrders(orders: readonly Order[]): Order[] {
  return orders.filter(
    (o) => !['returned', 'transferred', 'cancelled', 'closed_with_incident'].includes(o.stage),
  )
}

/** An open order named by the server when it refuses to end an incident unconfirmed. */
export interface OrderToEnd {
  order_id: string
  unit_id: string
  unit_name: string
  stage: string
}

/** The orders of a 409 `incident_has_live_orders` (an empty list for anything else). */
export function ordersToEnd(details: unknown): OrderToEnd[] {
  if (!details || typeof details !== 'object') return []
  const orders = (details as { orders?: unknown }).orders
  if (!Array.isArray(orders)) return []
  return orders.filter(
    (o): o is OrderToEnd =>
      !!o && typeof o === 'object' && typeof o.order_id === 'string' && typeof o.stage === 'string',
  )
}

/** Every live order is completed (and there is at least one): time to close the incident. */
export function allOrdersCompleted(orders: readonly Order[]): boolean {
  const live = liveOrders(orders)
  return live.length > 0 && live.every((o) => o.stage === 'completed')
}

export type Part = 'incident' | 'timeline' | 'reports' | 'orders' | 'plan'

function payloadOf(event: LiveEvent): Record<string, unknown> {
  return event.payload && typeof event.payload === 'object'
    ? (event.payload as Record<string, unknown>)
    : {}
}

/**
 * The parts of the page a live event touches, or an empty set when it is about something else.
 * Incident events carry the incident as their subject; order events carry `incident_id`;
 * intake events carry the report's `incident_id`.
 */
export function affectedParts(event: LiveEvent, incidentId: string): Set<Part> {
  const parts = new Set<Part>()
  const payload = payloadOf(event)
  const type = event.type
  if (event.subject_type === 'incident' && event.subject_id === incidentId) {
    if (type === 'notify.created') return parts
    parts.add('incident').add('timeline')
    if (/report_added|report_split|merged|opened/.test(type)) parts.add('reports')
    if (/level_changed|verified|responding|cancelled|merged/.test(type)) parts.add('plan')
    return parts
  }
  if (event.subject_type === 'order' && payload.incident_id === incidentId) {
    parts.add('orders').add('timeline').add('plan')
    return parts
  }
  if (event.subject_type === 'report' && payload.incident_id === incidentId) parts.add('reports')
  return parts
}

/** A live event of a resource request (`resource.request.*`) made for this incident. */
export function isRequestOf(event: LiveEvent, incidentId: string): boolean {
  if (!event.type.startsWith('resource.request')) return false
  const incident = payloadOf(event).incident as { id?: unknown } | undefined
  return incident?.id === incidentId
}

export interface PlanRow {
  unit_id: string
  name: string
  role: 'lead' | 'co'
  reason: string | null
  /** Why the routing table chose it, as `{code, params}` (words: `@/utils/words`). */
  why: Reason | null
  /** Already holds an open order for this incident: dispatching skips it. */
  busy: boolean
  selected: boolean
  added: boolean
}

/** The plan as rows the officer edits: everything selected except units already busy. */
export function planRows(units: readonly PlannedUnit[]): PlanRow[] {
  return units.map((u) => ({
    unit_id: u.unit_id,
    name: u.unit_name,
    role: u.role === 'lead' ? 'lead' : 'co',
    reason: u.reason,
    why: u.why ?? null,
    busy: u.has_open_order,
    selected: !u.has_open_order,
    added: false,
  }))
}

/**
 * A fresh plan (it changed live while the dialog was open) merged with the officer's edits:
 * ticks, roles and added units are kept; a unit that became busy is unticked.
 */
export function refreshRows(rows: readonly PlanRow[], units: readonly PlannedUnit[]): PlanRow[] {
  const before = new Map(rows.map((r) => [r.unit_id, r]))
  const fresh = planRows(units).map((r) => {
    const old = before.get(r.unit_id)
    if (!old) return r
    return { ...r, role: old.role, selected: old.selected && !r.busy }
  })
  const named = new Set(fresh.map((r) => r.unit_id))
  return [...fresh, ...rows.filter((r) => r.added && !named.has(r.unit_id))]
}

/** Add a unit the table did not name (as co-handling unless there is no lead yet). */
export function addUnit(rows: readonly PlanRow[], unit: { id: string; name: string }): PlanRow[] {
  if (rows.some((r) => r.unit_id === unit.id)) {
    return rows.map((r) => (r.unit_id === unit.id && !r.busy ? { ...r, selected: true } : r))
  }
  const lead = rows.some((r) => r.selected && r.role === 'lead')
  return [
    ...rows,
    { unit_id: unit.id, name: unit.name, role: lead ? 'co' : 'lead', reason: null, why: null, busy: false, selected: true, added: true },
  ]
}

/** True when the selection is exactly what the routing table would dispatch. */
export function selectionIsPlan(rows: readonly PlanRow[]): boolean {
  return rows.every((r) => (r.added ? !r.selected : r.selected === !r.busy))
}

/** The body of a dispatch to the chosen list. */
export function chosenUnits(rows: readonly PlanRow[]): DispatchChoice[] {
  return rows.filter((r) => r.selected && !r.busy).map((r) => ({ unit_id: r.unit_id, role: r.role }))
}

/** Seconds since `from` and a `1天 02:03:04` style split for the header's ticking clock. */
export function elapsed(from: string, nowMs: number): { days: number; hms: string } {
  const total = Math.max(0, Math.floor((nowMs - new Date(from).getTime()) / 1000))
  const days = Math.floor(total / 86400)
  let s = total - days * 86400
  const h = Math.floor(s / 3600)
  s -= h * 3600
  const m = Math.floor(s / 60)
  s -= m * 60
  const pad = (n: number) => String(n).padStart(2, '0')
  return { days, hms: `${pad(h)}:${pad(m)}:${pad(s)}` }
}
