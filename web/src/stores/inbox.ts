/**
 * 单位待办: the orders of the signed-in liaison's unit, kept fresh by live events, and the
 * actions on them. An action that fails leaves the list as it was (the error is thrown to the
 * screen, which shows it translated).
 */
import { defineStore } from 'pinia'
import { computed, ref } from 'vue'
import type { LiveEvent } from '@/api/types'
import * as orders from '@/api/orders'
import type { FeedbackPhoto, InboxOrder, Order, Position } from '@/api/orders'

export type OrderAction = 'sign' | 'arrive' | 'feedback' | 'complete' | 'return' | 'transfer'

const OPEN_STAGES = new Set(['issued', 'signed', 'arrived'])
/** Events after which the inbox reloads (every change of an order it may hold). */
const ORDER_EVENT = /^dispatch\.(order_|remind|supervise_)/
/** Events that bring a unit a new order. */
const NEW_ORDER_EVENTS = new Set(['dispatch.order_issued', 'dispatch.order_transfer_requested'])
/** Live events arrive in bursts (a dispatch to three units): reload once per burst. */
export const RELOAD_DEBOUNCE_MS = 250

export function isOpen(order: Pick<Order, 'stage'>): boolean {
  return OPEN_STAGES.has(order.stage)
}

/** 首接负责制: an order handed to another unit that my unit still answers for until it is signed. */
export function isFirstContact(order: Order, myUnit: string | null): boolean {
  return !!myUnit && order.unit_id !== myUnit && order.responsible_unit_id === myUnit && isOpen(order)
}

/** The deadline the unit owes next (the stage and when), or null once the order is over. */
export function owedDeadline(order: Order): { stage: string; due: string } | null {
  if (!isOpen(order)) return null
  if (order.stage === 'issued') return { stage: 'sign', due: order.sign_due_at }
  if (order.stage === 'signed' && order.arrive_due_at) return { stage: 'arrive', due: order.arrive_due_at }
  return { stage: 'complete', due: order.complete_due_at }
}

/**
 * What the unit may do with the order now (as the backend allows it): only the order's own unit
 * signs; a transfer waiting to be signed blocks another one; a first-contact unit acts on its
 * own order, not on the one it handed over.
 */
export function orderActions(order: Order, myUnit: string | null, pendingTransfer = false): OrderAction[] {
  if (!isOpen(order)) return []
  if (myUnit && order.unit_id !== myUnit) return []
  const actions: OrderAction[] = []
  if (order.stage === 'issued') actions.push('sign')
  if (order.stage === 'signed' && order.needs_presence && !order.arrived_at) actions.push('arrive')
  if (order.stage === 'signed' || order.stage === 'arrived') actions.push('feedback', 'complete')
  if (order.stage === 'issued' || order.stage === 'signed') actions.push('return')
  if (!pendingTransfer) actions.push('transfer')
  return actions
}

/** Open orders first, the most pressing deadline first; then the rest, newest first. */
export function sortInbox<T extends Order>(list: T[]): T[] {
  const due = (o: Order) => {
    const owed = owedDeadline(o)
    return owed ? new Date(owed.due).getTime() : Number.POSITIVE_INFINITY
  }
  return [...list].sort((a, b) => {
    const open = Number(isOpen(b)) - Number(isOpen(a))
    if (open !== 0) return open
    if (isOpen(a)) return due(a) - due(b)
    return new Date(b.issued_at).getTime() - new Date(a.issued_at).getTime()
  })
}

function eventOrder(event: LiveEvent): Record<string, unknown> | null {
  const payload = event.payload
  if (!payload || typeof payload !== 'object') return null
  const order = (payload as { order?: unknown }).order
  return order && typeof order === 'object' ? (order as Record<string, unknown>) : null
}

/** Whether the event brings `myUnit` a new order (dispatched to it, or transferred to it). */
export function isNewOrderFor(event: LiveEvent, myUnit: string | null): boolean {
  if (!NEW_ORDER_EVENTS.has(event.type)) return false
  const order = eventOrder(event)
  return !!order && (!myUnit || String(order.unit_id) === myUnit)
}

export function isOrderEvent(event: LiveEvent): boolean {
  return ORDER_EVENT.test(event.type)
}

export const useInboxStore = defineStore('inbox', () => {
  const items = ref<InboxOrder[]>([])
  const unitId = ref<string | null>(null)
  const loading = ref(false)
  const loaded = ref(false)
  const error = ref<unknown>(null)
  let reloadTimer: ReturnType<typeof setTimeout> | null = null
  let generation = 0

  const sorted = computed(() => sortInbox(items.value))
  const openCount = computed(() => items.value.filter((o) => isOpen(o) && !isFirstContact(o, unitId.value)).length)
  /** Orders with a transfer waiting to be signed, by the id of the order they came from. */
  const pendingTransfers = computed(() => {
    const map = new Map<string, InboxOrder>()
    for (const o of items.value) if (o.transferred_from_id && o.stage === 'issued') map.set(o.transferred_from_id, o)
    return map
  })

  async function load(myUnit: string | null = unitId.value): Promise<void> {
    unitId.value = myUnit
    const mine = generation + 1
    generation = mine
    loading.value = true
    try {
      const page = await orders.fetchInbox(!!myUnit)
      if (mine !== generation) return // a newer load answered first
      items.value = page.items
      error.value = null
      loaded.value = true
    } catch (e) {
      if (mine === generation) error.value = e
    } finally {
      if (mine === generation) loading.value = false
    }
  }

  /**
   * Take in newly received live events (`useLiveEvents`): reload (once per burst) when an order
   * changed, and return the events that bring this unit a new order (to notify the user).
   */
  function takeEvents(fresh: LiveEvent[]): LiveEvent[] {
    if (fresh.some(isOrderEvent)) scheduleReload()
    const known = new Set(items.value.map((o) => o.id))
    return fresh.filter((e) => isNewOrderFor(e, unitId.value) && !known.has(String(e.subject_id)))
  }

  function scheduleReload() {
    if (reloadTimer) clearTimeout(reloadTimer)
    reloadTimer = setTimeout(() => {
      reloadTimer = null
      void load()
    }, RELOAD_DEBOUNCE_MS)
  }

  function stop() {
    if (reloadTimer) clearTimeout(reloadTimer)
    reloadTimer = null
  }

  /** Put the server's answer in place of the order (keeping its incident). */
  function replace(order: Order) {
    items.value = items.value.map((o) =>
      o.id === order.id
        ? { ...o, ...order, incident: o.incident, unit_name: o.unit_name, responsible_unit_name: o.responsible_unit_name }
        : o,
    )
  }

  async function sign(id: string) {
    replace(await orders.signOrder(id))
  }
  async function arrive(id: string, position: Position | null) {
    replace(await orders.arriveOrder(id, position))
  }
  async function feedback(id: string, text: string, photo: File | null) {
    const photos: FeedbackPhoto[] = []
    if (photo) photos.push(await orders.uploadPhoto(id, photo, photo.name || 'photo.jpg'))
    replace(await orders.sendFeedback(id, text, photos))
  }
  async function complete(id: string, note?: string) {
    replace(await orders.completeOrder(id, note))
  }
  async function giveBack(id: string, reason: string) {
    replace(await orders.returnOrder(id, reason))
  }
  async function transfer(id: string, toUnitId: string, reason: string, toUnitName: string | null = null) {
    const created = await orders.transferOrder(id, toUnitId, reason)
    const from = items.value.find((o) => o.id === id)
    items.value = [
      ...items.value,
      {
        ...created,
        incident: from?.incident ?? null,
        unit_name: toUnitName,
        responsible_unit_name: from?.unit_name ?? null,
      },
    ]
  }

  function reset() {
    stop()
    items.value = []
    loaded.value = false
    error.value = null
  }

  return {
    items,
    sorted,
    unitId,
    loading,
    loaded,
    error,
    openCount,
    pendingTransfers,
    load,
    takeEvents,
    stop,
    reset,
    sign,
    arrive,
    feedback,
    complete,
    giveBack,
    transfer,
  }
})
