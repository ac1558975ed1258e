/** What the 服务类事务 list shows of each case: its orders' progress, its 回访 and its town. */
import type { IncidentOrder, TimelineEntry } from '@/api/incident'
import { liveOrders } from '@/components/incident/logic'

export interface Progress {
  /** orders that still count (not returned, transferred, cancelled or ended with the case) */
  total: number
  completed: number
  /** the stage most of the open ones are at, for a glance (null when all are completed) */
  signed: number
}

/** The orders' progress, or null when none was issued yet. */
export function orderProgress(orders: readonly IncidentOrder[]): Progress | null {
  const live = liveOrders(orders)
  if (!live.length) return null
  return {
    total: live.length,
    completed: live.filter((o) => o.stage === 'completed').length,
    signed: live.filter((o) => o.stage !== 'issued').length,
  }
}

/**
 * The 回访 state: `notYet` until the case is closed (the callback opens on closing), then
 * `pending` until recorded, then what the reporter said. `unknown` when the timeline of a
 * closed case could not be read.
 */
export type CallbackState = 'notYet' | 'pending' | 'satisfied' | 'unsatisfied' | 'unrated' | 'unreached' | 'unknown'

const CLOSED = new Set(['closed', 'archived'])

export function callbackState(state: string, timeline: readonly TimelineEntry[] | null | undefined): CallbackState {
  if (!CLOSED.has(state)) return 'notYet'
  if (!timeline) return 'unknown'
  const done = [...timeline].reverse().find((e) => e.kind === 'callback_done')
  if (!done) return 'pending'
  const data = (done.data ?? {}) as { reached?: boolean; satisfied?: boolean | null }
  if (data.reached === false) return 'unreached'
  if (data.satisfied === true) return 'satisfied'
  if (data.satisfied === false) return 'unsatisfied'
  return 'unrated'
}

/** The town a case lies in: a town's code, or a village's first nine digits + 000. */
export function townAdcode(adcode: string | null | undefined): string | null {
  if (!adcode || adcode.length !== 12) return null
  return `${adcode.slice(0, 9)}000`
}

export function placeName(adcode: string | null | undefined, towns: ReadonlyMap<string, string>): string | null {
  if (!adcode) return null
  const town = townAdcode(adcode)
  return (town && towns.get(town)) ?? towns.get(adcode) ?? null
}
