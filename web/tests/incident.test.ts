import { describe, expect, it } from 'vitest'
import type { Incident, Order, PlannedUnit, TimelineEntry } from '@/api/incident'
import type { LiveEvent } from '@/api/types'
import {
  addUnit,
  affectedParts,
  allOrdersCompleted,
  allowedActions,
  chosenUnits,
  elapsed,
  levelDirection,
  needsFirstReport,
  nextDeadline,
  ordersToEnd,
  planRows,
  refreshRows,
  selectionIsPlan,
} from '@/components/incident/logic'

const ID = 'inc-1'

function incident(over: Partial<Incident> = {}): Incident {
  return {
    id: ID,
    number: '20261201-0001',
    title: '火灾',
    kind: 'emergency',
    category_code: 'accident.fire',
    level: 'IV',
    level_reason: null,
    level_why: null,
    state: 'reported',
    division_adcode: null,
    lon: 118.8,
    lat: 27.6,
    address: null,
    first_reported_at: '2026-12-01T10:00:00Z',
    last_reported_at: '2026-12-01T10:00:00Z',
    report_count: 1,
    dead: 0,
    injured: 0,
    missing: 0,
    trapped: 0,
    verified_at: null,
    closed_at: null,
    cancel_reason: null,
    merged_into_id: null,
    first_report_due_at: null,
    first_report_at: null,
    ...over,
  }
}

function order(over: Partial<Order> = {}): Order {
  return {
    id: 'o-1',
    incident_id: ID,
    unit_id: 'u-1',
    responsible_unit_id: 'u-1',
    role: 'lead',
    stage: 'issued',
    chosen_by: 'routing rule 1',
    chosen_why: null,
    needs_presence: true,
    issued_at: '2026-12-01T10:00:00Z',
    sign_due_at: '2026-12-01T10:03:00Z',
    arrive_due_at: '2026-12-01T10:15:00Z',
    feedback_due_at: null,
    complete_due_at: '2026-12-01T12:00:00Z',
    signed_at: null,
    arrived_at: null,
    arrive_lon: null,
    arrive_lat: null,
    last_feedback_at: null,
    feedback_count: 0,
    completed_at: null,
    returned_at: null,
    return_reason: null,
    transferred_from_id: null,
    sign_late: null,
    arrive_late: null,
    complete_late: null,
    next_deadline: null,
    ...over,
  } as Order
}

function event(over: Partial<LiveEvent>): LiveEvent {
  return { id: '1', type: 'x', subject_type: null, subject_id: null, payload: {}, occurred_at: '', ...over }
}

const everything = () => true
const readOnly = (p: string) => p === 'incident.read'

describe('allowed actions', () => {
  it('offers verify and cancel, not dispatch, on a reported incident', () => {
    const a = allowedActions(incident(), everything)
    expect(a.verify && a.cancel && a.level && a.note).toBe(true)
    expect(a.dispatch || a.close || a.callback || a.control).toBe(false)
  })

  it('offers dispatch, control and close once verified, and no more verify', () => {
    const a = allowedActions(incident({ state: 'verified', verified_at: '2026-12-01T10:01:00Z' }), everything)
    expect(a.dispatch && a.control && a.close && a.cancel).toBe(true)
    expect(a.verify).toBe(false)
  })

  it('offers cancelling a dispatched incident (a false report found on arrival)', () => {
    expect(allowedActions(incident({ state: 'responding' }), everything).cancel).toBe(true)
    expect(allowedActions(incident({ state: 'closed' }), everything).cancel).toBe(false)
  })

  it('reads the open orders a refused close names, and nothing from another shape', () => {
    const named = { order_id: 'o-1', unit_id: 'u-1', unit_name: '县消防救援大队', stage: 'issued' }
    expect(ordersToEnd({ orders: [named, { stage: 1 }, null] })).toEqual([named])
    expect(ordersToEnd(null)).toEqual([])
    expect(ordersToEnd({ orders: 'x' })).toEqual([])
  })

  it('offers nothing that writes to a user who may only read', () => {
    const a = allowedActions(incident({ state: 'responding' }), readOnly)
    expect(Object.values(a).some(Boolean)).toBe(false)
  })

  it('offers the callback after closing until the timeline records it', () => {
    const closed = incident({ state: 'closed', closed_at: '2026-12-01T11:00:00Z' })
    expect(allowedActions(closed, everything).callback).toBe(true)
    expect(allowedActions(closed, everything).level).toBe(false)
    const done: TimelineEntry[] = [
      { id: 9, at: '2026-12-01T11:05:00Z', kind: 'callback_done', actor_name: 'x', code: 'legacy', params: null, summary: '回访', data: null },
    ]
    expect(allowedActions(closed, everything, done).callback).toBe(false)
  })

  it('asks for the first report only for verified level III and above until it is sent', () => {
    const verified = { state: 'verified', verified_at: '2026-12-01T10:01:00Z' }
    expect(needsFirstReport(incident({ ...verified, level: 'IV' }))).toBe(false)
    expect(needsFirstReport(incident({ ...verified, level: 'III' }))).toBe(true)
    expect(needsFirstReport(incident({ ...verified, level: 'I' }))).toBe(true)
    expect(needsFirstReport(incident({ level: 'II' }))).toBe(false) // not verified yet
    expect(
      needsFirstReport(incident({ ...verified, level: 'II', first_report_at: '2026-12-01T10:30:00Z' })),
    ).toBe(false)
  })
})

describe('levels', () => {
  it('calls a move towards I a raise and towards IV a lowering', () => {
    expect(levelDirection('IV', 'III')).toBe('raise')
    expect(levelDirection('II', 'IV')).toBe('lower')
    expect(levelDirection('III', 'III')).toBe('same')
  })
})

describe('orders', () => {
  it('owes signing, then arriving, then completing', () => {
    expect(nextDeadline(order())).toEqual({ stage: 'sign', dueAt: '2026-12-01T10:03:00Z' })
    expect(nextDeadline(order({ stage: 'signed' }))?.stage).toBe('arrive')
    expect(nextDeadline(order({ stage: 'signed', arrive_due_at: null }))?.stage).toBe('complete')
    expect(nextDeadline(order({ stage: 'arrived' }))?.stage).toBe('complete')
    expect(nextDeadline(order({ stage: 'completed' }))).toBeNull()
  })

  it('prompts to close only when every live order is completed', () => {
    expect(allOrdersCompleted([])).toBe(false)
    expect(allOrdersCompleted([order({ stage: 'completed' }), order({ stage: 'signed' })])).toBe(false)
    expect(allOrdersCompleted([order({ stage: 'completed' }), order({ stage: 'returned' })])).toBe(true)
    expect(allOrdersCompleted([order({ stage: 'transferred' })])).toBe(false)
  })
})

describe('live events', () => {
  it('refreshes the incident and timeline for its own incident events', () => {
    const parts = affectedParts(
      event({ type: 'incidents.level_changed', subject_type: 'incident', subject_id: ID }),
      ID,
    )
    expect([...parts].sort()).toEqual(['incident', 'plan', 'timeline'])
  })

  it('refreshes the orders when an order of this incident changes', () => {
    const parts = affectedParts(
      event({ type: 'dispatch.order_signed', subject_type: 'order', subject_id: 'o-1', payload: { incident_id: ID } }),
      ID,
    )
    expect(parts.has('orders') && parts.has('timeline')).toBe(true)
    expect(parts.has('incident')).toBe(false)
  })

  it('refreshes the reports when a report joins the incident', () => {
    expect([
      ...affectedParts(
        event({ type: 'incidents.report_added', subject_type: 'incident', subject_id: ID }),
        ID,
      ),
    ]).toContain('reports')
    expect([
      ...affectedParts(
        event({ type: 'intake.report_received', subject_type: 'report', payload: { incident_id: ID } }),
        ID,
      ),
    ]).toEqual(['reports'])
  })

  it('ignores other incidents, their orders and notifications', () => {
    expect(affectedParts(event({ subject_type: 'incident', subject_id: 'other' }), ID).size).toBe(0)
    expect(
      affectedParts(event({ subject_type: 'order', payload: { incident_id: 'other' } }), ID).size,
    ).toBe(0)
    expect(
      affectedParts(event({ type: 'notify.created', subject_type: 'incident', subject_id: ID }), ID).size,
    ).toBe(0)
  })
})

describe('dispatch selection', () => {
  const plan: PlannedUnit[] = [
    { unit_id: 'f', unit_code: 'D003', unit_name: '消防', kind: 'department', tier: 1, role: 'lead', reason: 'rule 1', why: { code: 'routing.rule', params: {} }, has_open_order: false },
    { unit_id: 't', unit_code: 'T101', unit_name: '竹口镇', kind: 'town', tier: 1, role: 'co', reason: 'rule 2', why: { code: 'routing.rule', params: {} }, has_open_order: false },
    { unit_id: 'b', unit_code: 'D001', unit_name: '应急局', kind: 'department', tier: 1, role: 'co', reason: 'rule 9', why: { code: 'routing.rule', params: {} }, has_open_order: true },
  ]

  it('selects every suggested unit except those already holding an order', () => {
    const rows = planRows(plan)
    expect(rows.map((r) => r.selected)).toEqual([true, true, false])
    expect(selectionIsPlan(rows)).toBe(true)
    expect(chosenUnits(rows)).toEqual([
      { unit_id: 'f', role: 'lead' },
      { unit_id: 't', role: 'co' },
    ])
  })

  it('is no longer the table once a unit is unticked or added', () => {
    const unticked = planRows(plan).map((r) => (r.unit_id === 't' ? { ...r, selected: false } : r))
    expect(selectionIsPlan(unticked)).toBe(false)
    expect(chosenUnits(unticked)).toEqual([{ unit_id: 'f', role: 'lead' }])
    const added = addUnit(planRows(plan), { id: 'w', name: '水利局' })
    expect(selectionIsPlan(added)).toBe(false)
    expect(added.at(-1)).toMatchObject({ unit_id: 'w', role: 'co', reason: null, added: true })
  })

  it('adds a unit as lead when no lead is selected', () => {
    const noLead = planRows(plan).map((r) => (r.unit_id === 'f' ? { ...r, selected: false } : r))
    expect(addUnit(noLead, { id: 'w', name: '水利局' }).at(-1)?.role).toBe('lead')
  })

  it('keeps the officer\'s edits when the plan refreshes live', () => {
    const edited = addUnit(
      planRows(plan).map((r) => (r.unit_id === 't' ? { ...r, selected: false } : r)),
      { id: 'w', name: '水利局' },
    )
    const fresh = plan.map((u) => (u.unit_id === 'f' ? { ...u, has_open_order: true } : u))
    const rows = refreshRows(edited, fresh)
    expect(rows.map((r) => [r.unit_id, r.selected])).toEqual([
      ['f', false], // became busy
      ['t', false], // still unticked
      ['b', false],
      ['w', true], // still added
    ])
  })
})

describe('elapsed time', () => {
  it('splits days from hours, minutes and seconds', () => {
    const from = '2026-12-01T10:00:00Z'
    expect(elapsed(from, Date.parse('2026-12-01T10:01:05Z'))).toEqual({ days: 0, hms: '00:01:05' })
    expect(elapsed(from, Date.parse('2026-12-03T12:00:00Z'))).toEqual({ days: 2, hms: '02:00:00' })
    expect(elapsed(from, Date.parse('2026-12-01T09:00:00Z'))).toEqual({ days: 0, hms: '00:00:00' })
  })
})
