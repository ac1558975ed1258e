/**
 * Reload a screen when someone else changes what it shows: watch the live events (`/ws`) for
 * the given event types and call `reload` once a burst of them pauses — a file import of a
 * thousand rows reloads once, not a thousand times — and at the latest `maxWaitMs` after the
 * first one, so a steady stream cannot hold the screen stale. `reload` reads the screen's own
 * page and filters, so they are kept. Events already received when the screen opened are
 * skipped (its first load includes them); when events may have been missed (a reconnect), it
 * reloads with no events.
 */
import { onBeforeUnmount } from 'vue'
import type { LiveEvent } from '@/api/types'
import { useLiveEvents } from '@/composables/useLiveEvents'

export const LIVE_RELOAD_MS = 400
export const LIVE_RELOAD_MAX_WAIT_MS = 3000

export interface LiveReloadOptions {
  delayMs?: number
  maxWaitMs?: number
}

/** Whether an event type is one of `types` (a type ending in `.` or `_` is a prefix). */
export function matchesType(type: string, types: readonly string[]): boolean {
  return types.some((t) => (t.endsWith('.') || t.endsWith('_') ? type.startsWith(t) : type === t))
}

export function useLiveReload(
  types: readonly string[],
  reload: (events: LiveEvent[]) => unknown,
  { delayMs = LIVE_RELOAD_MS, maxWaitMs = LIVE_RELOAD_MAX_WAIT_MS }: LiveReloadOptions = {},
) {
  let timer: ReturnType<typeof setTimeout> | null = null
  let pendingSince: number | null = null
  let pending: LiveEvent[] = []

  function fire() {
    timer = null
    pendingSince = null
    const batch = pending
    pending = []
    void reload(batch)
  }

  function schedule(events: LiveEvent[]) {
    pending.push(...events)
    const now = Date.now()
    pendingSince ??= now
    if (timer) clearTimeout(timer)
    timer = setTimeout(fire, Math.max(0, Math.min(delayMs, pendingSince + maxWaitMs - now)))
  }

  const live = useLiveEvents(
    (fresh) => {
      const wanted = fresh.filter((e) => matchesType(e.type, types))
      if (wanted.length) schedule(wanted)
    },
    { onGap: () => schedule([]) },
  )

  onBeforeUnmount(() => {
    live.stop()
    if (timer) clearTimeout(timer)
    timer = null
  })
}
