import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { createPinia, setActivePinia } from 'pinia'
import type { InboxOrder } from '@/api/orders'
import type { LiveEvent } from '@/api/types'
import {
  RELOAD_DEBOUNCE_MS,
  isFirstContact,
  isNewOrderFor,
  orderActions,
  owedDeadline,
  sortInbox,
  useInboxStore,
} from '@/stores/inbox'
import inboxMessages from '@/i18n/features/inbox'

const MINE = 'unit-mine'
const OTHER = 'unit-other'

function order(over: Partial<InboxOrder> = {}): InboxOrder {
  return {
    id: 'o1',
    incident_id: 'i1',
    unit_id: MINE,
    responsible_unit_id: MINE,
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
    unit_name: '县消防救援大队',
    responsible_unit_name: '县消防救援大队',
    incident: {
      id: 'i1',
      number: '20261201-AAAAAA',
      title: '火灾 · 竹口镇',
      category_code: 'accident.fire',
      level: 'IV',
      state: 'responding',
      address: '竹口镇竹口村',
      lon: 119.06,
      lat: 27.6,
      dead: 0,
      injured: 0,
      missing: 0,
      trapped: 0,
    },
    ...over,
  }
}

function event(id: string, type: string, payload: unknown = {}, subject = 'o9'): LiveEvent {
  return { id, type, subject_type: 'order', subject_id: subject, payload, occurred_at: '2026-12-01T08:00:00Z' }
}

function json(status: number, body: unknown) {
  return new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } })
}

describe('what a unit may do with an order', () => {
  it('signs, returns or transfers an order that is only issued', () => {
    expect(orderActions(order(), MINE)).toEqual(['sign', 'return', 'transfer'])
  })
  it('arrives, reports, completes after signing; arrival only where presence is needed', () => {
    expect(orderActions(order({ stage: 'signed' }), MINE)).toEqual([
      'arrive',
      'feedback',
      'complete',
      'return',
      'transfer',
    ])
    expect(orderActions(order({ stage: 'signed', needs_presence: false }), MINE)).toEqual([
      'feedback',
      'complete',
      'return',
      'transfer',
    ])
    expect(orderActions(order({ stage: 'arrived' }), MINE)).toEqual(['feedback', 'complete', 'transfer'])
  })
  it('does nothing with an order that is over or that waits for another transfer', () => {
    expect(orderActions(order({ stage: 'completed' }), MINE)).toEqual([])
    expect(orderActions(order({ stage: 'returned' }), MINE)).toEqual([])
    expect(orderActions(order(), MINE, true)).toEqual(['sign', 'return'])
  })
  it('shows a handed-over order as first contact, without acting on it', () => {
    const handed = order({ unit_id: OTHER, responsible_unit_id: MINE, transferred_from_id: 'o0' })
    expect(isFirstContact(handed, MINE)).toBe(true)
    expect(orderActions(handed, MINE)).toEqual([])
    expect(isFirstContact(order(), MINE)).toBe(false)
    expect(isFirstContact({ ...handed, stage: 'signed' }, MINE)).toBe(true)
    expect(isFirstContact({ ...handed, stage: 'transferred' }, MINE)).toBe(false)
  })
})

describe('the deadline owed next and the order of the inbox', () => {
  it('owes signing, then arrival, then completion', () => {
    expect(owedDeadline(order())).toEqual({ stage: 'sign', due: '2026-12-01T08:03:00Z' })
    expect(owedDeadline(order({ stage: 'signed' }))?.stage).toBe('arrive')
    expect(owedDeadline(order({ stage: 'arrived' }))?.stage).toBe('complete')
    expect(owedDeadline(order({ stage: 'completed' }))).toBeNull()
  })
  it('puts the most pressing open order first and finished ones last', () => {
    const late = order({ id: 'late', sign_due_at: '2026-12-01T07:00:00Z' })
    const soon = order({ id: 'soon' })
    const done = order({ id: 'done', stage: 'completed', issued_at: '2026-12-01T09:00:00Z' })
    const older = order({ id: 'older', stage: 'completed', issued_at: '2026-11-30T09:00:00Z' })
    expect(sortInbox([done, soon, older, late]).map((o) => o.id)).toEqual(['late', 'soon', 'done', 'older'])
  })
})

describe('live events', () => {
  it('recognises an order dispatched or transferred to my unit, not to another', () => {
    expect(isNewOrderFor(event('1', 'dispatch.order_issued', { order: { unit_id: MINE } }), MINE)).toBe(true)
    expect(isNewOrderFor(event('1', 'dispatch.order_transfer_requested', { order: { unit_id: MINE } }), MINE)).toBe(
      true,
    )
    expect(isNewOrderFor(event('1', 'dispatch.order_issued', { order: { unit_id: OTHER } }), MINE)).toBe(false)
    expect(isNewOrderFor(event('1', 'dispatch.order_signed', { order: { unit_id: MINE } }), MINE)).toBe(false)
    expect(isNewOrderFor(event('1', 'dispatch.order_issued', null), MINE)).toBe(false)
  })
})

describe('the inbox store', () => {
  beforeEach(() => {
    setActivePinia(createPinia())
    vi.useFakeTimers()
  })
  afterEach(() => {
    vi.useRealTimers()
  })

  it('loads my unit inbox and reloads once per burst of order events, announcing new orders', async () => {
    const urls: string[] = []
    vi.stubGlobal(
      'fetch',
      vi.fn(async (url: string) => {
        urls.push(String(url))
        return json(200, { items: urls.length === 1 ? [order()] : [order(), order({ id: 'o9' })], total: 1 })
      }),
    )
    const store = useInboxStore()
    await store.load(MINE)
    expect(urls[0]).toContain('/api/v1/orders?mine=true')
    expect(store.items.map((o) => o.id)).toEqual(['o1'])

    const burst = [
      event('2', 'dispatch.order_issued', { order: { unit_id: MINE } }, 'o9'),
      event('3', 'dispatch.order_issued', { order: { unit_id: OTHER } }, 'o8'),
    ]
    const announced = store.takeEvents(burst)
    expect(announced.map((e) => e.id)).toEqual(['2'])
    expect(store.takeEvents([event('4', 'dispatch.order_signed', { order: { unit_id: MINE } }, 'o1')])).toEqual([])
    expect(urls).toHaveLength(1)
    await vi.advanceTimersByTimeAsync(RELOAD_DEBOUNCE_MS + 10)
    expect(urls).toHaveLength(2)
    expect(store.items.map((o) => o.id)).toEqual(['o1', 'o9'])
  })

  it('ignores events that change no order', async () => {
    const fetch = vi.fn(async () => json(200, { items: [], total: 0 }))
    vi.stubGlobal('fetch', fetch)
    const store = useInboxStore()
    await store.load(MINE)
    store.takeEvents([event('5', 'org.unit.updated')])
    await vi.advanceTimersByTimeAsync(RELOAD_DEBOUNCE_MS + 10)
    expect(fetch).toHaveBeenCalledTimes(1)
  })

  it('puts the signed order in place and keeps its incident', async () => {
    const signed = { ...order({ stage: 'signed', signed_at: '2026-12-01T08:01:00Z' }), incident: undefined }
    const responses = [json(200, { items: [order()], total: 1 }), json(200, signed)]
    vi.stubGlobal('fetch', vi.fn(async () => responses.shift()!))
    const store = useInboxStore()
    await store.load(MINE)
    await store.sign('o1')
    expect(store.items[0]!.stage).toBe('signed')
    expect(store.items[0]!.incident?.title).toBe('火灾 · 竹口镇')
    expect(store.items[0]!.unit_name).toBe('县消防救援大队')
  })

  it('changes nothing when the server refuses an action', async () => {
    const responses = [
      json(200, { items: [order()], total: 1 }),
      json(422, { error: { code: 'invalid_stage', message: 'the order is completed', details: null } }),
    ]
    vi.stubGlobal('fetch', vi.fn(async () => responses.shift()!))
    const store = useInboxStore()
    await store.load(MINE)
    const before = JSON.stringify(store.items)
    await expect(store.sign('o1')).rejects.toMatchObject({ code: 'invalid_stage' })
    expect(JSON.stringify(store.items)).toBe(before)
  })

  it('uploads the photo first and sends it with the feedback', async () => {
    const calls: { url: string; init: RequestInit }[] = []
    const photo = { kind: 'photo', sha256: 'a'.repeat(64), filename: 'scene.png', content_type: 'image/png', size: 3 }
    const responses = [
      json(200, { items: [order({ stage: 'signed' })], total: 1 }),
      json(201, photo),
      json(200, order({ stage: 'signed', feedback_count: 1 })),
    ]
    vi.stubGlobal(
      'fetch',
      vi.fn(async (url: string, init: RequestInit = {}) => {
        calls.push({ url: String(url), init })
        return responses.shift()!
      }),
    )
    const store = useInboxStore()
    await store.load(MINE)
    const file = new File([new Uint8Array([1, 2, 3])], 'scene.png', { type: 'image/png' })
    await store.feedback('o1', '明火已扑灭', file)
    expect(calls[1]!.url).toBe('/api/v1/orders/o1/photos')
    expect(calls[1]!.init.body).toBeInstanceOf(FormData)
    expect((calls[1]!.init.body as FormData).get('file')).toBeInstanceOf(File)
    expect(calls[2]!.url).toBe('/api/v1/orders/o1/feedback')
    // the photo is named by its hash only: its type, name and size are the server's
    expect(JSON.parse(String(calls[2]!.init.body))).toEqual({
      text: '明火已扑灭',
      attachments: [{ sha256: photo.sha256 }],
    })
    expect(store.items[0]!.feedback_count).toBe(1)
  })

  it('sends no feedback when the photo is refused', async () => {
    const responses = [
      json(200, { items: [order({ stage: 'signed' })], total: 1 }),
      json(422, { error: { code: 'attachment_type_not_allowed', message: 'no', details: null } }),
    ]
    const fetch = vi.fn(async () => responses.shift()!)
    vi.stubGlobal('fetch', fetch)
    const store = useInboxStore()
    await store.load(MINE)
    const file = new File(['<svg/>'], 'x.png', { type: 'image/png' })
    await expect(store.feedback('o1', 'text', file)).rejects.toMatchObject({ code: 'attachment_type_not_allowed' })
    expect(fetch).toHaveBeenCalledTimes(2)
    expect(store.items[0]!.feedback_count).toBe(0)
  })

  it('adds the transferred order, which my unit answers for until it is signed', async () => {
    const created = order({ id: 'o2', unit_id: OTHER, responsible_unit_id: MINE, transferred_from_id: 'o1' })
    const responses = [
      json(200, { items: [order()], total: 1 }),
      json(201, { ...created, incident: undefined, unit_name: undefined, responsible_unit_name: undefined }),
    ]
    vi.stubGlobal('fetch', vi.fn(async () => responses.shift()!))
    const store = useInboxStore()
    await store.load(MINE)
    await store.transfer('o1', OTHER, '不属于本单位职责', '县应急管理局')
    expect(store.pendingTransfers.get('o1')?.id).toBe('o2')
    expect(store.pendingTransfers.get('o1')?.unit_name).toBe('县应急管理局')
    expect(store.items.find((o) => o.id === 'o2')?.incident?.title).toBe('火灾 · 竹口镇')
    expect(store.openCount).toBe(1) // the handed-over one is not my work
  })
})

function keys(value: unknown, prefix = ''): string[] {
  if (!value || typeof value !== 'object') return [prefix]
  return Object.entries(value).flatMap(([k, v]) => keys(v, prefix ? `${prefix}.${k}` : k))
}

describe('inbox messages', () => {
  it('has every message in both languages', () => {
    expect(keys(inboxMessages.en).sort()).toEqual(keys(inboxMessages['zh-CN']).sort())
  })
})
