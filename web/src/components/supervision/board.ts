/** 督办看板 logic: which orders are overdue or soon due, most pressing first. */
import type { SupervisedOrder } from '@/api/orders'
import { owedDeadline } from '@/stores/inbox'
import { countdown, type CountdownState } from '@/utils/countdown'

export interface BoardRow {
  order: SupervisedOrder
  stage: string
  due: string
  state: CountdownState
  seconds: number
}

/**
 * Whether an open order has a deadline passed or due within `horizonMs` of `nowMs` — the server's
 * rule for the board (`/supervision?within_minutes=`), applied on the client as the clock runs.
 */
export function dueWithin(order: SupervisedOrder, nowMs: number, horizonMs: number): boolean {
  const limit = nowMs + horizonMs
  const deadlines = [
    order.stage === 'issued' ? order.sign_due_at : null,
    order.stage === 'signed' ? order.arrive_due_at : null,
    order.complete_due_at,
    order.feedback_due_at,
  ]
  return deadlines.some((d) => !!d && new Date(d).getTime() <= limit)
}

/**
 * Rows of the board at `nowMs`: the stage each order owes, its state, overdue ones first. With
 * `horizonMs`, only the orders due within it (the board fetches further ahead, so an order
 * enters the board when its time comes, not when something else makes it reload).
 */
export function boardRows(orders: SupervisedOrder[], nowMs: number, horizonMs = Number.POSITIVE_INFINITY): BoardRow[] {
  const rows: BoardRow[] = []
  for (const order of orders) {
    if (!dueWithin(order, nowMs, horizonMs)) continue
    const owed = owedDeadline(order)
    if (!owed) continue
    const left = countdown(owed.due, nowMs)
    if (!left) continue
    rows.push({ order, stage: owed.stage, due: owed.due, state: left.state, seconds: left.seconds })
  }
  return rows.sort((a, b) => a.seconds - b.seconds)
}

export function boardCounts(rows: BoardRow[]): { overdue: number; soon: number } {
  return {
    overdue: rows.filter((r) => r.state === 'overdue').length,
    soon: rows.filter((r) => r.state !== 'overdue').length,
  }
}

/** Live events that can change the board (any order change, reminder or supervision). */
export function touchesBoard(type: string): boolean {
  return /^dispatch\.(order_|remind|supervise_)/.test(type)
}
