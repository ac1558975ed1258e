import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { createPinia, setActivePinia } from 'pinia'
import { backoffDelay, MAX_EVENTS, useEventsStore, type SocketLike } from '@/stores/events'
import type { LiveEvent } from '@/api/types'

function ev(id: string | number, type = 'incident.created'): LiveEvent {
  return {
    id: String(id),
    type,
    subject_type: 'incident',
    subject_id: `s${id}`,
    payload: {},
    occurred_at: '2026-01-01T00:00:00Z',
  }
}

class FakeSocket implements SocketLike {
  static all: FakeSocket[] = []
  readyState = 0
  sent: string[] = []
  closed = false
  onopen: ((ev: Event) => unknown) | null = null
  onclose: ((ev: CloseEvent) => unknown) | null = null
  onerror: ((ev: Event) => unknown) | null = null
  onmessage: ((ev: MessageEvent) => unknown) | null = null
  constructor(public url: string) {
    FakeSocket.all.push(this)
  }
  send(data: string) {
    this.sent.push(data)
  }
  close() {
    this.closed = true
    this.readyState = 3
  }
  // test helpers
  open() {
    this.readyState = 1
    this.onopen?.(new Event('open'))
  }
  receive(data: unknown) {
    this.onmessage?.({ data: typeof data === 'string' ? data : JSON.stringify(data) } as MessageEvent)
  }
  drop(code = 1006) {
    this.readyState = 3
    this.onclose?.({ code } as CloseEvent)
  }
}

beforeEach(() => {
  setActivePinia(createPinia())
  FakeSocket.all = []
})
afterEach(() => {
  vi.useRealTimers()
})

describe('events store: list', () => {
  it('keeps only the last 200, newest first', () => {
    const store = useEventsStore()
    for (let i = 1; i <= 250; i++) store.ingest(ev(i))
    expect(MAX_EVENTS).toBe(200)
    expect(store.events).toHaveLength(200)
    expect(store.events[0].id).toBe('250')
    expect(store.events[199].id).toBe('51')
    expect(store.events.some((e) => e.id === '50')).toBe(false)
  })

  it('drops duplicates by id', () => {
    const store = useEventsStore()
    expect(store.ingest(ev('a'))).toBe(true)
    expect(store.ingest(ev('b'))).toBe(true)
    expect(store.ingest({ ...ev('a'), type: 'changed' })).toBe(false)
    expect(store.events.map((e) => e.id)).toEqual(['b', 'a'])
    expect(store.events[1].type).toBe('incident.created')
  })

  it('does not re-add an event that scrolled out when the server replays it', () => {
    const store = useEventsStore()
    for (let i = 1; i <= 210; i++) store.ingest(ev(i))
    expect(store.ingest(ev(3))).toBe(false)
    expect(store.events[0].id).toBe('210')
  })

  it('parses server messages and ignores junk', () => {
    const store = useEventsStore()
    store.handleMessage(JSON.stringify({ type: 'hello', user: { username: 'zhang' } }))
    store.handleMessage(JSON.stringify({ type: 'event', event: ev(1) }))
    store.handleMessage(JSON.stringify({ type: 'event', event: ev(1) }))
    store.handleMessage('not json')
    store.handleMessage(JSON.stringify({ type: 'event', event: { nope: true } }))
    store.handleMessage(JSON.stringify({ type: 'pong' }))
    expect(store.helloUser).toEqual({ username: 'zhang' })
    expect(store.events.map((e) => e.id)).toEqual(['1'])
  })

  it('clear() forgets events and ids', () => {
    const store = useEventsStore()
    store.ingest(ev(1))
    store.clear()
    expect(store.events).toHaveLength(0)
    expect(store.ingest(ev(1))).toBe(true)
  })
})

describe('events store: connection', () => {
  it('tracks status, pings, and reconnects with backoff after a drop', () => {
    vi.useFakeTimers()
    const store = useEventsStore()
    store.connect({ url: 'ws://test/ws', factory: (u) => new FakeSocket(u) })
    expect(FakeSocket.all).toHaveLength(1)
    expect(store.status).toBe('connecting')
    const first = FakeSocket.all[0]
    first.open()
    expect(store.status).toBe('open')
    first.receive({ type: 'event', event: ev('x') })
    expect(store.events.map((e) => e.id)).toEqual(['x'])

    vi.advanceTimersByTime(25_000)
    expect(first.sent.map((s) => JSON.parse(s))).toEqual([{ type: 'ping' }])

    first.drop()
    expect(store.status).toBe('reconnecting')
    expect(FakeSocket.all).toHaveLength(1)
    vi.advanceTimersByTime(1_000) // first backoff is 0.5–1 s
    expect(FakeSocket.all).toHaveLength(2)
    FakeSocket.all[1].open()
    expect(store.status).toBe('open')
    expect(store.attempts).toBe(0)
    // connecting again while open is a no-op
    store.connect()
    expect(FakeSocket.all).toHaveLength(2)
  })

  it('stops reconnecting and says so when the server ends the session (4401)', () => {
    vi.useFakeTimers()
    const store = useEventsStore()
    store.connect({ url: 'ws://test/ws', factory: (u) => new FakeSocket(u) })
    FakeSocket.all[0].open()
    expect(store.sessionEnded).toBe(false)
    FakeSocket.all[0].drop(4401)
    expect(store.sessionEnded).toBe(true)
    expect(store.status).toBe('closed')
    vi.advanceTimersByTime(120_000)
    expect(FakeSocket.all).toHaveLength(1) // a reconnect could not help
    // signing in again connects afresh
    store.connect()
    expect(store.sessionEnded).toBe(false)
    expect(FakeSocket.all).toHaveLength(2)
  })

  it('disconnect() closes and stops reconnecting', () => {
    vi.useFakeTimers()
    const store = useEventsStore()
    store.connect({ url: 'ws://test/ws', factory: (u) => new FakeSocket(u) })
    FakeSocket.all[0].open()
    store.disconnect()
    expect(FakeSocket.all[0].closed).toBe(true)
    expect(store.status).toBe('closed')
    vi.advanceTimersByTime(120_000)
    expect(FakeSocket.all).toHaveLength(1)
  })

  it('backoff grows and is capped', () => {
    const mid = () => 0.5
    expect(backoffDelay(0, mid)).toBe(750)
    expect(backoffDelay(1, mid)).toBe(1500)
    expect(backoffDelay(3, mid)).toBe(6000)
    expect(backoffDelay(20, () => 1)).toBe(30_000)
    expect(backoffDelay(20, () => 0)).toBe(15_000)
  })
})
