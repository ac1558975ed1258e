/**
 * Live events from `/ws`: the last {@link MAX_EVENTS} (newest first, deduplicated by id) and
 * the connection status. Reconnects with exponential backoff and jitter.
 */
import { defineStore } from 'pinia'
import { computed, ref, shallowRef } from 'vue'
import type { LiveEvent, ServerMessage } from '@/api/types'

export const MAX_EVENTS = 200
/** Ids remembered for dedup, beyond those still in the list (the server may replay on reconnect). */
const SEEN_LIMIT = 2000
const PING_EVERY_MS = 25_000
const BACKOFF_MIN_MS = 1_000
const BACKOFF_MAX_MS = 30_000
/** The server closes a live connection with this code when its session has ended (sign-out
 * elsewhere, a new password, the account deactivated, expiry): reconnecting cannot help. */
export const SESSION_ENDED_CODE = 4401

export type ConnectionStatus = 'idle' | 'connecting' | 'open' | 'reconnecting' | 'closed'

/** What the store needs from a WebSocket (lets tests pass a fake). */
export interface SocketLike {
  readonly readyState: number
  onopen: ((ev: Event) => unknown) | null
  onclose: ((ev: CloseEvent) => unknown) | null
  onerror: ((ev: Event) => unknown) | null
  onmessage: ((ev: MessageEvent) => unknown) | null
  send(data: string): void
  close(code?: number, reason?: string): void
}
export type SocketFactory = (url: string) => SocketLike

export function defaultWsUrl(): string {
  const { protocol, host } = window.location
  return `${protocol === 'https:' ? 'wss' : 'ws'}://${host}/ws`
}

export function backoffDelay(attempt: number, random: () => number = Math.random): number {
  const base = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** Math.max(0, attempt))
  // full jitter in [base/2, base]
  return Math.round(base / 2 + (random() * base) / 2)
}

function isLiveEvent(value: unknown): value is LiveEvent {
  return (
    !!value &&
    typeof value === 'object' &&
    'id' in value &&
    (typeof (value as LiveEvent).id === 'string' || typeof (value as LiveEvent).id === 'number') &&
    typeof (value as LiveEvent).type === 'string'
  )
}

export const useEventsStore = defineStore('events', () => {
  const events = ref<LiveEvent[]>([])
  const status = ref<ConnectionStatus>('idle')
  const helloUser = shallowRef<unknown>(null)
  const lastMessageAt = ref<number | null>(null)
  const attempts = ref(0)
  /** True once the server said the session behind the connection has ended. */
  const sessionEnded = ref(false)

  const seen = new Set<string>()
  const seenOrder: string[] = []
  let socket: SocketLike | null = null
  let factory: SocketFactory = (url) => new WebSocket(url) as unknown as SocketLike
  let url: string | null = null
  let wanted = false
  let reconnectTimer: ReturnType<typeof setTimeout> | null = null
  let pingTimer: ReturnType<typeof setInterval> | null = null

  const connected = computed(() => status.value === 'open')

  function remember(id: string) {
    seen.add(id)
    seenOrder.push(id)
    while (seenOrder.length > SEEN_LIMIT) seen.delete(seenOrder.shift()!)
  }

  /** Add one event (newest first). Returns false when it was a duplicate or malformed. */
  function ingest(event: LiveEvent): boolean {
    if (!isLiveEvent(event)) return false
    const id = String(event.id)
    if (seen.has(id)) return false
    remember(id)
    const next = [event, ...events.value]
    if (next.length > MAX_EVENTS) next.length = MAX_EVENTS
    events.value = next
    return true
  }

  function handleMessage(data: unknown) {
    let msg: ServerMessage
    try {
      msg = typeof data === 'string' ? JSON.parse(data) : (data as ServerMessage)
    } catch {
      return
    }
    if (!msg || typeof msg !== 'object') return
    lastMessageAt.value = Date.now()
    switch (msg.type) {
      case 'hello':
        helloUser.value = msg.user
        break
      case 'event':
        ingest(msg.event)
        break
      default:
        break
    }
  }

  function clearTimers() {
    if (reconnectTimer) clearTimeout(reconnectTimer)
    if (pingTimer) clearInterval(pingTimer)
    reconnectTimer = null
    pingTimer = null
  }

  function open() {
    if (!url) return
    status.value = attempts.value > 0 ? 'reconnecting' : 'connecting'
    let ws: SocketLike
    try {
      ws = factory(url)
    } catch {
      scheduleReconnect()
      return
    }
    socket = ws
    ws.onopen = () => {
      if (socket !== ws) return
      status.value = 'open'
      attempts.value = 0
      pingTimer = setInterval(() => {
        if (socket === ws && ws.readyState === 1) ws.send(JSON.stringify({ type: 'ping' }))
      }, PING_EVERY_MS)
    }
    ws.onmessage = (ev) => {
      if (socket === ws) handleMessage(ev.data)
    }
    ws.onerror = () => {
      /* a close follows */
    }
    ws.onclose = (ev) => {
      if (socket !== ws) return
      socket = null
      if (pingTimer) clearInterval(pingTimer)
      pingTimer = null
      if (ev?.code === SESSION_ENDED_CODE) {
        wanted = false
        sessionEnded.value = true
      }
      if (wanted) scheduleReconnect()
      else status.value = 'closed'
    }
  }

  function scheduleReconnect() {
    if (!wanted) return
    status.value = 'reconnecting'
    const delay = backoffDelay(attempts.value)
    attempts.value += 1
    reconnectTimer = setTimeout(() => {
      reconnectTimer = null
      if (wanted) open()
    }, delay)
  }

  /** Open the live connection (idempotent). */
  function connect(options: { url?: string; factory?: SocketFactory } = {}) {
    if (options.factory) factory = options.factory
    url = options.url ?? url ?? defaultWsUrl()
    wanted = true
    sessionEnded.value = false
    if (socket || reconnectTimer) return
    attempts.value = 0
    open()
  }

  /** Close the connection and stop reconnecting (sign-out). */
  function disconnect() {
    wanted = false
    clearTimers()
    const ws = socket
    socket = null
    if (ws) {
      ws.onclose = null
      ws.onmessage = null
      ws.close(1000, 'bye')
    }
    status.value = 'closed'
  }

  /** Forget all events (on sign-out, so the next user doesn't see them). */
  function clear() {
    events.value = []
    seen.clear()
    seenOrder.length = 0
    helloUser.value = null
  }

  return {
    events,
    status,
    connected,
    sessionEnded,
    helloUser,
    lastMessageAt,
    attempts,
    ingest,
    handleMessage,
    connect,
    disconnect,
    clear,
  }
})
