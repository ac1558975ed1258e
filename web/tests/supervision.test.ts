import { describe, expect, it } from 'vitest'
import type { SupervisedOrder } from '@/api/orders'
import { boardCounts, boardRows, dueWithin, touchesBoard } from '@/components/supervision/board'
import messages from '@/i18n/features/supervision'

const NOW = Date.parse('2026-12-01T08:10:00Z')

function order(id: string, over: Partial<SupervisedOrder>): SupervisedOrder {
  return {
    id,
    incident_id: 'i1',
    unit_id: 'u1',
    responsible_unit_id: 'u1',
    role: 'lead',
    stage: 'issued',
    chosen_by: 'rule',
    chosen_why: null,
    needs_presence: true,
    issued_at: '2026-12-01T08:00:00Z',
    sign_due_at: '2026-12-01T08:03:00Z',
    arrive_due_at: '2026-12-01T08:15:00Z',
    feedback_due_at: null,
    complete_due_at: '2026-12-01T20:00:00Z',
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
    incident: null,
    escalations: [],
    ...over,
  }
}

describe('the supervision board', () => {
  it('lists the stage each order owes, overdue first, then by time left', () => {
    const rows = boardRows(
      [
        order('later', { stage: 'signed', arrive_due_at: '2026-12-01T08:40:00Z' }),
        order('late', {}),
        order('soon', { stage: 'signed', arrive_due_at: '2026-12-01T08:12:00Z' }),
        order('over', { stage: 'completed' }),
      ],
      NOW,
    )
    expect(rows.map((r) => [r.order.id, r.stage, r.state])).toEqual([
      ['late', 'sign', 'overdue'],
      ['soon', 'arrive', 'soon'],
      ['later', 'arrive', 'ok'],
    ])
    expect(boardCounts(rows)).toEqual({ overdue: 1, soon: 2 })
  })
  it('keeps to the horizon as the server does: any open deadline passed or within it', () => {
    const hour = 3600_000
    const signed = order('signed', { stage: 'signed', arrive_due_at: '2026-12-01T09:00:00Z' })
    expect(dueWithin(signed, NOW, hour)).toBe(true) // arrive due 08:10 + 50 min
    expect(dueWithin(signed, NOW, 30 * 60_000)).toBe(false)
    // a feedback deadline counts even while the order owes its arrival
    expect(dueWithin({ ...signed, feedback_due_at: '2026-12-01T08:20:00Z' }, NOW, 30 * 60_000)).toBe(true)
    // the sign deadline of an order already signed does not
    expect(dueWithin({ ...signed, sign_due_at: '2026-12-01T08:00:00Z' }, NOW, 30 * 60_000)).toBe(false)
    const rows = boardRows([signed, order('late', {})], NOW, 30 * 60_000)
    expect(rows.map((r) => r.order.id)).toEqual(['late'])
  })
  it('reloads on order changes, reminders and supervision, not on other events', () => {
    expect(touchesBoard('dispatch.order_signed')).toBe(true)
    expect(touchesBoard('dispatch.remind')).toBe(true)
    expect(touchesBoard('dispatch.reminded')).toBe(true)
    expect(touchesBoard('dispatch.supervise_center')).toBe(true)
    expect(touchesBoard('dispatch.callback_done')).toBe(false)
    expect(touchesBoard('incident.created')).toBe(false)
  })
  it('has every message in both languages', () => {
    expect(Object.keys(messages.en.supervision).sort()).toEqual(Object.keys(messages['zh-CN'].supervision).sort())
  })
})
