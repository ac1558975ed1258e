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

/** Rows of the board at `nowMs`: the stage each order owes, its state, overdue ones first. */
export function boardRows(orders: SupervisedOrder[], nowMs: number): BoardRow[] {
  const rows: BoardRow[] = []
  for (const order of orders) {
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
