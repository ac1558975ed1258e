import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { createPinia, setActivePinia } from 'pinia'
import { defineComponent, h, nextTick } from 'vue'
import { mount } from '@vue/test-utils'
import type { LiveEvent } from '@/api/types'
import { eventsSince, useLiveEvents, type LiveEventsOptions } from '@/composables/useLiveEvents'
import { MAX_EVENTS, useEventsStore, type SocketLike } from '@/stores/events'

let counter = 0
function ev(type = 'incidents.updated'): LiveEvent {
  counter += 1
  return { id: String(counter), type, subject_type: 'incident', subject_id: `s${counter}`, payload: {}, occurred_at: '2026-12-01T00:00:00Z' }
}

class FakeSocket implements SocketLike {
  static all: FakeSocket[] = []
  readyState = 0
  onopen: ((ev: Event) => unknown) | null = null
  onclose: ((ev: CloseEvent) => unknown) | null = null
  onerror: ((ev: Event) => unknown) | null = null
  onmessage: ((ev: MessageEvent) => unknown) | null = null
  constructor() {
    FakeSocket.all.push(this)
  }
  send() {}
  close() {
    this.readyState = 3
  }
  open() {
    this.readyState = 1
    this.onopen?.(new Event('open'))
  }
  drop() {
    this.readyState = 3
    this.onclose?.({ code: 1006 } as CloseEvent)
  }
}

/** A screen that follows the live events; what it was handed, batch by batch. */
function screen(options: LiveEventsOptions = {}) {
  const batches: string[][] = []
  const w = mount(
    defineComponent({
      setup: () => {
        useLiveEvents((fresh) => batches.push(fresh.map((e) => e.id)), options)
        return () => h('div')
      },
    }),
  )
  return { batches, w }
}

beforeEach(() => {
  setActivePinia(createPinia())
  FakeSocket.all = []
})
afterEach(() => {
  vi.useRealTimers()
})

describe('useLiveEvents', () => {
  it('hands each event after the last one seen once, oldest first, skipping those before it started', async () => {
    const events = useEventsStore()
    events.ingest(ev()) // already in the screen's first load
    const { batches } = screen()

    const [a, b, c] = [ev(), ev(), ev()]
    events.ingest(a)
    events.ingest(b)
    await nextTick()
    events.ingest(c)
    events.ingest(b) // a duplicate the server sent again
    await nextTick()
    await nextTick()

    expect(batches).toEqual([[a.id, b.id], [c.id]])
  })

  it('takes the events received so far as seen when told so (before a fresh load)', async () => {
    const events = useEventsStore()
    let live!: ReturnType<typeof useLiveEvents>
    const batches: string[][] = []
    mount(
      defineComponent({
        setup: () => {
          live = useLiveEvents((fresh) => batches.push(fresh.map((e) => e.id)), { flush: 'sync' })
          return () => h('div')
        },
      }),
    )
    live.stop()
    events.ingest(ev())
    live = useLiveEvents((fresh) => batches.push(fresh.map((e) => e.id)), { flush: 'sync' })
    live.markSeen()
    const next = ev()
    events.ingest(next)
    expect(batches).toEqual([[next.id]])
    live.stop()
  })

  it('says events may be missing when more arrived than the store keeps', async () => {
    const events = useEventsStore()
    events.ingest(ev())
    const onGap = vi.fn()
    const { batches } = screen({ onGap })
    const burst = Array.from({ length: MAX_EVENTS + 5 }, () => ev())
    for (const e of burst) events.ingest(e)
    await nextTick()

    expect(onGap).toHaveBeenCalledTimes(1)
    expect(batches[0]).toEqual(burst.slice(-MAX_EVENTS).map((e) => e.id))

    events.ingest(ev()) // caught up again
    await nextTick()
    expect(onGap).toHaveBeenCalledTimes(1)
  })

  it('fetches again when the connection comes back after a break, not on the first connect', async () => {
    vi.useFakeTimers()
    const events = useEventsStore()
    const onGap = vi.fn()
    screen({ onGap })
    events.connect({ url: 'ws://x/ws', factory: () => new FakeSocket() })
    FakeSocket.all[0]!.open()
    await nextTick()
    expect(onGap).not.toHaveBeenCalled()

    FakeSocket.all[0]!.drop()
    await vi.advanceTimersByTimeAsync(60_000)
    FakeSocket.all[1]!.open()
    await nextTick()
    expect(onGap).toHaveBeenCalledTimes(1)
    events.disconnect()
  })

  it('stops following when the screen is left', async () => {
    const events = useEventsStore()
    const { batches, w } = screen()
    w.unmount()
    events.ingest(ev())
    await nextTick()
    expect(batches).toEqual([])
  })
})

describe('eventsSince', () => {
  it('returns the newer events oldest first and no gap while the last one seen is there', () => {
    const list = [ev(), ev(), ev()].reverse() // newest first, as the store keeps them
    const [newest, middle, oldest] = list
    expect(eventsSince(list, oldest!.id)).toEqual({ fresh: [middle, newest], gap: false })
    expect(eventsSince(list, newest!.id)).toEqual({ fresh: [], gap: false })
    expect(eventsSince(list, null)).toEqual({ fresh: [oldest, middle, newest], gap: false })
    expect(eventsSince(list, 'gone')).toEqual({ fresh: [oldest, middle, newest], gap: false }) // cleared
  })
})
