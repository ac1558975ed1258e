/** The new-order notification speaks the user's language, from the order's fields. */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { flushPromises, mount } from '@vue/test-utils'
import { createPinia, setActivePinia } from 'pinia'
import { i18n } from '@/i18n'
import type { LiveEvent } from '@/api/types'
import { newOrderNotice } from '@/components/inbox/notice'
import { useAuthStore } from '@/stores/auth'
import { useEventsStore } from '@/stores/events'
import InboxView from '@/views/inbox/InboxView.vue'

const MINE = 'unit-mine'
const t = (key: string, params?: Record<string, unknown>) => i18n.global.t(key, params ?? {})

function issued(over: Record<string, unknown> = {}): LiveEvent {
  return {
    id: 'e1',
    type: 'dispatch.order_issued',
    subject_type: 'order',
    subject_id: 'o-new',
    occurred_at: '2026-12-01T00:00:00Z',
    payload: {
      order: { unit_id: MINE, role: 'co', stage: 'issued' },
      incident_id: 'i1',
      incident: { id: 'i1', number: '20261201-000123', title: '火灾 · 竹口镇' },
      summary: '派单 竹口镇人民政府（协办）：routing rule 2: 属地乡镇',
      unit: '竹口镇人民政府',
      role: 'co',
      sign_due_at: '2026-12-01T00:10:00+00:00',
      ...over,
    },
  }
}

function transferred(): LiveEvent {
  return {
    ...issued(),
    id: 'e2',
    type: 'dispatch.order_transfer_requested',
    payload: {
      order: { unit_id: MINE, role: 'lead', stage: 'issued' },
      incident: { id: 'i1', number: '20261201-000123', title: '火灾 · 竹口镇' },
      summary: '移交 县消防救援大队 → 县水利局：涉及水利设施（签收前由 县消防救援大队 负责）',
      from_unit: '县消防救援大队',
      reason: '涉及水利设施',
      sign_due_at: '2026-12-01T00:10:00+00:00',
    },
  }
}

afterEach(() => {
  i18n.global.locale.value = 'zh-CN'
})

describe('the new-order notice', () => {
  it('reads in Chinese for a Chinese user', () => {
    i18n.global.locale.value = 'zh-CN'
    expect(newOrderNotice(issued(), t, 'zh-CN')).toEqual({
      title: '新派单',
      message: '20261201-000123 火灾 · 竹口镇（协办）；请于 08:10:00 前签收',
    })
    expect(newOrderNotice(transferred(), t, 'zh-CN')).toEqual({
      title: '移交来的派单',
      message: '县消防救援大队移交：20261201-000123 火灾 · 竹口镇；原因：涉及水利设施；请于 08:10:00 前签收',
    })
  })

  it('reads in English for an English user, whatever the server wrote in its summary', () => {
    i18n.global.locale.value = 'en'
    const notice = newOrderNotice(issued(), t, 'en')
    expect(notice).toEqual({ title: 'New order', message: '20261201-000123 火灾 · 竹口镇 (Co-handling); sign by 08:10:00' })
    expect(notice.message).not.toContain('派单')
    expect(newOrderNotice(transferred(), t, 'en').message).toBe(
      'Handed over by 县消防救援大队: 20261201-000123 火灾 · 竹口镇; reason: 涉及水利设施; sign by 08:10:00',
    )
  })

  it('falls back to a plain sentence for an event without the incident, never to the summary', () => {
    i18n.global.locale.value = 'en'
    const bare = issued({ incident: undefined, sign_due_at: 'not a time' })
    expect(newOrderNotice(bare, t, 'en')).toEqual({ title: 'New order', message: 'A new order arrived' })
    const odd = issued({ order: { role: 'boss' }, sign_due_at: undefined })
    expect(newOrderNotice(odd, t, 'en').message).toBe('20261201-000123 火灾 · 竹口镇')
  })
})

describe('the inbox', () => {
  beforeEach(() => {
    setActivePinia(createPinia())
    const auth = useAuthStore()
    auth.me = {
      id: 'me',
      username: 'liaison',
      display_name: '联络员',
      roles: ['unit_liaison'],
      permissions: ['order.act', 'events.read', 'incident.read'],
      scope: { everything: false, division_path: null, unit_id: MINE },
      unit_id: MINE,
    }
    auth.loaded = true
    vi.stubGlobal(
      'fetch',
      vi.fn(async () => new Response(JSON.stringify({ items: [], total: 0 }), { status: 200, headers: { 'content-type': 'application/json' } })),
    )
  })
  afterEach(() => {
    vi.unstubAllGlobals()
    document.body.innerHTML = ''
  })

  it('announces a new order to an English user in English', async () => {
    i18n.global.locale.value = 'en'
    const w = mount(InboxView, { global: { plugins: [i18n], stubs: { 'router-link': true } }, attachTo: document.body })
    await flushPromises()
    useEventsStore().ingest(issued())
    await flushPromises()
    const notice = document.body.querySelector('.inbox-new-order')
    expect(notice?.textContent).toContain('New order')
    expect(notice?.textContent).toContain('20261201-000123 火灾 · 竹口镇 (Co-handling); sign by 08:10:00')
    expect(notice?.textContent).not.toContain('派单')
    w.unmount()
  })
})
