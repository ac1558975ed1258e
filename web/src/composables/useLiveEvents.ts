/**
 * "Take the live events since the last one seen": the one place a screen or store follows `/ws`.
 *
 * The events store keeps the last {@link MAX_EVENTS} events, newest first. `useLiveEvents` hands
 * `onEvents` each event that arrived after the last one it saw, once and oldest first. When
 * events may have been missed — the last one seen fell out of the store's window, or the
 * connection came back after a break (the server does not replay) — it calls `onGap`, and the
 * caller fetches again what it shows. The events received before it started are taken as seen
 * (the caller's first load includes them); `markSeen()` says so again before a fresh load.
 */
import { getCurrentScope, onScopeDispose, watch, type WatchOptions } from 'vue'
import type { LiveEvent } from '@/api/types'
import { MAX_EVENTS, useEventsStore, type ConnectionStatus } from '@/stores/events'

export interface LiveEventsOptions {
  /** Events may have been missed: fetch what the screen shows again. */
  onGap?: () => void
  /** `'sync'` to take each event as it arrives (the board patches markers one by one). */
  flush?: WatchOptions['flush']
}

export interface LiveEvents {
  /** Take the events received so far as seen (call before a load that includes them). */
  markSeen(): void
  /** Stop following (done on its own when the calling component or scope ends). */
  stop(): void
}

/**
 * The events in `list` (newest first) after the one with id `lastSeen`, oldest first, and
 * whether some may be missing (`lastSeen` is no longer in a full list).
 */
export function eventsSince(
  list: readonly LiveEvent[],
  lastSeen: string | null,
): { fresh: LiveEvent[]; gap: boolean } {
  const fresh: LiveEvent[] = []
  for (const event of list) {
    if (lastSeen !== null && String(event.id) === lastSeen) return { fresh: fresh.reverse(), gap: false }
    fresh.push(event)
  }
  // the last one seen is gone: the list was cleared (sign-out), or more came than it holds
  return { fresh: fresh.reverse(), gap: lastSeen !== null && list.length >= MAX_EVENTS }
}

export function useLiveEvents(
  onEvents: (events: LiveEvent[]) => void,
  { onGap, flush = 'pre' }: LiveEventsOptions = {},
): LiveEvents {
  const store = useEventsStore()
  let lastSeen: string | null = null

  function markSeen() {
    lastSeen = store.events.length ? String(store.events[0]!.id) : null
  }
  markSeen()

  const stopEvents = watch(
    () => store.events,
    (list) => {
      const { fresh, gap } = eventsSince(list, lastSeen)
      lastSeen = list.length ? String(list[0]!.id) : null
      if (fresh.length) onEvents(fresh)
      if (gap) onGap?.()
    },
    { flush },
  )
  const stopStatus = watch(
    () => store.status,
    (now: ConnectionStatus, before: ConnectionStatus) => {
      // back after a break: what happened meanwhile was never sent
      if (now === 'open' && before === 'reconnecting') onGap?.()
    },
  )

  function stop() {
    stopEvents()
    stopStatus()
  }
  if (getCurrentScope()) onScopeDispose(stop)
  return { markSeen, stop }
}
