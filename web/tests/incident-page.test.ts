import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { flushPromises, mount } from '@vue/test-utils'
import { createPinia, setActivePinia } from 'pinia'
import { defineComponent, h } from 'vue'
import { i18n } from '@/i18n'
import { router } from '@/router'
import { useAuthStore } from '@/stores/auth'
import { useEventsStore } from '@/stores/events'
import { setCsrfToken } from '@/api/client'
import IncidentView from '@/views/incidents/IncidentView.vue'

vi.mock('@/components/incident/IncidentMap.vue', () => ({
  default: defineComponent({ name: 'IncidentMap', setup: () => () => h('div', 'map') }),
}))

const ID = 'inc-1'
const INCIDENT = {
  id: ID,
  number: '20261201-0001',
  title: '半源村民房火灾',
  category_code: 'accident.fire',
  level: 'IV',
  level_reason: null,
  state: 'responding',
  division_adcode: null,
  lon: 118.8,
  lat: 27.6,
  address: '半源村',
  first_reported_at: '2026-12-01T10:00:00Z',
  last_reported_at: '2026-12-01T10:00:00Z',
  report_count: 1,
  dead: 0,
  injured: 0,
  missing: 0,
  trapped: 0,
  verified_at: '2026-12-01T10:01:00Z',
  closed_at: null,
  cancel_reason: null,
  merged_into_id: null,
  first_report_due_at: null,
  first_report_at: null,
}
const far = new Date(Date.now() + 3600_000).toISOString()
function order(stage: string) {
  return {
    id: 'o-1',
    incident_id: ID,
    unit_id: 'u-1',
    responsible_unit_id: 'u-1',
    role: 'lead',
    stage,
    chosen_by: 'routing rule 1: 火灾：消防救援大队主办',
    needs_presence: true,
    issued_at: '2026-12-01T10:02:00Z',
    sign_due_at: far,
    arrive_due_at: far,
    feedback_due_at: null,
    complete_due_at: far,
    signed_at: stage === 'issued' ? null : '2026-12-01T10:03:00Z',
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
  }
}

function json(status: number, body: unknown) {
  return new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } })
}

type Handler = (method: string, init?: RequestInit) => Response
let routes: Record<string, Handler>
let calls: string[]

function installFetch() {
  calls = []
  vi.stubGlobal(
    'fetch',
    vi.fn(async (url: RequestInfo | URL, init?: RequestInit) => {
      const method = init?.method ?? 'GET'
      const path = new URL(String(url), 'http://x').pathname.replace('/api/v1', '')
      calls.push(`${method} ${path}`)
      const handler = routes[`${method} ${path}`]
      return handler ? handler(method, init) : json(404, { error: { code: 'not_found', message: 'x' } })
    }),
  )
}

async function mountPage() {
  const pinia = createPinia()
  setActivePinia(pinia)
  const auth = useAuthStore()
  auth.me = {
    id: 'me',
    username: 'duty_officer',
    display_name: '值班员',
    roles: ['duty_officer'],
    permissions: ['incident.read', 'incident.write', 'dispatch.write', 'org.read'],
    scope: { everything: false, division_path: '330000/', unit_id: null },
    unit_id: null,
  }
  auth.loaded = true
  // Settle the router on this page first: left to itself, installing it starts the initial
  // navigation, whose lazy route chunk may still be loading when the test file ends.
  await router.push(`/incidents/${ID}`)
  await router.isReady()
  const w = mount(IncidentView, {
    props: { id: ID },
    global: { plugins: [pinia, i18n, router] },
    attachTo: document.body,
  })
  await flushPromises()
  return w
}

const count = (call: string) => calls.filter((c) => c === call).length

beforeEach(() => {
  i18n.global.locale.value = 'zh-CN'
  setCsrfToken('t')
  let stage = 'issued'
  routes = {
    [`GET /incidents/${ID}`]: () => json(200, INCIDENT),
    [`GET /incidents/${ID}/timeline`]: () => json(200, []),
    [`GET /incidents/${ID}/reports`]: () => json(200, { items: [], total: 0 }),
    [`GET /incidents/${ID}/orders`]: () => {
      const answer = json(200, [order(stage)])
      stage = 'signed' // the next read sees the liaison's signature
      return answer
    },
    'GET /units': () =>
      json(200, { items: [{ id: 'u-1', code: 'D003', name: '县消防救援大队', kind: 'department', tier: 1, active: true }], total: 1 }),
    'GET /intake/categories': () => json(200, []),
  }
  installFetch()
})
afterEach(() => {
  vi.unstubAllGlobals()
  document.body.innerHTML = ''
})

describe('incident page', () => {
  it('shows the order stage change from a live event without reloading the rest', async () => {
    const w = await mountPage()
    const row = () => w.get('[data-testid="order-o-1"]')
    expect(row().attributes('data-stage')).toBe('issued')
    expect(row().text()).toContain('县消防救援大队')
    expect(row().get('[data-testid="order-countdown"]').text()).toContain('待签收')

    useEventsStore().ingest({
      id: 'e-1',
      type: 'dispatch.order_signed',
      subject_type: 'order',
      subject_id: 'o-1',
      payload: { incident_id: ID, order: { stage: 'signed' } },
      occurred_at: new Date().toISOString(),
    })
    await flushPromises()
    expect(row().attributes('data-stage')).toBe('signed')
    expect(row().get('[data-testid="order-countdown"]').text()).toContain('待到场')
    expect(count(`GET /incidents/${ID}/orders`)).toBe(2)
    expect(count(`GET /incidents/${ID}`)).toBe(1) // the incident itself was not reloaded
  })

  it('ignores live events about other incidents', async () => {
    await mountPage()
    useEventsStore().ingest({
      id: 'e-2',
      type: 'dispatch.order_signed',
      subject_type: 'order',
      subject_id: 'o-9',
      payload: { incident_id: 'another' },
      occurred_at: new Date().toISOString(),
    })
    await flushPromises()
    expect(count(`GET /incidents/${ID}/orders`)).toBe(1)
  })

  it('shows a failed level change as a translated message and changes nothing', async () => {
    routes[`POST /incidents/${ID}/level`] = () =>
      json(422, { error: { code: 'level_unchanged', message: 'the incident is already level IV', details: null } })
    const w = await mountPage()
    await w.get('[data-testid="action-level"]').trigger('click')
    await flushPromises()
    const reason = document.body.querySelector<HTMLInputElement>('input[data-testid="level-reason"], [data-testid="level-reason"] input')!
    reason.value = '复核'
    reason.dispatchEvent(new Event('input'))
    document.body.querySelector<HTMLButtonElement>('[data-testid="dialog-submit"]')!.click()
    await flushPromises()
    const error = document.body.querySelector('[data-testid="dialog-error"]')
    expect(error?.textContent).toContain('级别未变化')
    expect(error?.textContent).not.toContain('{')
    expect(w.get('[data-testid="incident-level"]').text()).toContain('Ⅳ级')
    expect(count(`GET /incidents/${ID}/timeline`)).toBe(1)
  })

  it('labels the reason input of the level dialog', async () => {
    const w = await mountPage()
    await w.get('[data-testid="action-level"]').trigger('click')
    await flushPromises()
    const input = document.body.querySelector<HTMLInputElement>('input[data-testid="level-reason"], [data-testid="level-reason"] input')!
    const label = document.body.querySelector(`label[for="${input.id}"]`)
    expect(label?.textContent).toContain('原因')
  })

  it('asks before closing an incident with open orders, lists them, then ends them with it', async () => {
    const bodies: unknown[] = []
    routes[`POST /incidents/${ID}/close`] = (_method, init) => {
      const body = JSON.parse(String(init?.body ?? '{}'))
      bodies.push(body)
      if (!body.confirm_end_orders)
        return json(409, {
          error: {
            code: 'incident_has_live_orders',
            message: '1 orders of this incident are still open',
            details: { orders: [{ order_id: 'o-1', unit_id: 'u-1', unit_name: '县消防救援大队', stage: 'issued' }] },
          },
        })
      return json(200, { ...INCIDENT, state: 'closed', closed_at: '2026-12-01T11:00:00Z' })
    }
    const w = await mountPage()
    await w.get('[data-testid="action-close"]').trigger('click')
    await flushPromises()
    const submit = () => document.body.querySelector<HTMLButtonElement>('[data-testid="dialog-submit"]')!
    submit().click()
    await flushPromises()
    const listed = [...document.body.querySelectorAll('[data-testid="live-order"]')].map((e) => e.textContent?.trim())
    expect(listed).toEqual(['县消防救援大队：待签收'])
    expect(document.body.querySelector('[data-testid="dialog-error"]')).toBeNull()
    expect(w.get('[data-testid="incident-state"]').text()).toContain('处置中')
    expect(submit().textContent).toContain('结束派单并办结')
    submit().click()
    await flushPromises()
    expect(bodies).toEqual([{}, { confirm_end_orders: true }])
    expect(w.get('[data-testid="incident-state"]').text()).toContain('已办结')
  })
})
