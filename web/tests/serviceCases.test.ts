import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { flushPromises, mount } from '@vue/test-utils'
import { createPinia, setActivePinia } from 'pinia'
import { defineComponent, h } from 'vue'
import { i18n } from '@/i18n'
import { router } from '@/router'
import { visibleNav } from '@/router/nav'
import { useAuthStore } from '@/stores/auth'
import { setCsrfToken } from '@/api/client'
import { fetchTierKpis, fetchUnitKpis } from '@/api/kpi'
import { allowedActions } from '@/components/incident/logic'
import IncidentHeader from '@/components/incident/IncidentHeader.vue'
import ServiceCasesView from '@/views/service/ServiceCasesView.vue'
import KpiView from '@/views/kpi/KpiView.vue'
import { callbackState, orderProgress, placeName } from '@/views/service/logic'
import messages from '@/i18n/features/serviceCases'

vi.mock('@/components/kpi/KpiChart.vue', () => ({
  default: defineComponent({ name: 'KpiChart', setup: () => () => h('div', 'chart') }),
}))

function incident(over: Record<string, unknown>) {
  return {
    id: 'c-1',
    number: '20261207-5A1B2C',
    title: '幸福小区停水',
    kind: 'service',
    category_code: 'service.water_supply',
    level: 'IV',
    level_reason: null,
    level_why: null,
    state: 'responding',
    division_adcode: '331126101001',
    lon: 119.05,
    lat: 27.55,
    address: '幸福小区',
    first_reported_at: '2026-12-07T02:00:00Z',
    last_reported_at: '2026-12-07T02:00:00Z',
    report_count: 1,
    dead: 0,
    injured: 0,
    missing: 0,
    trapped: 0,
    verified_at: '2026-12-07T02:01:00Z',
    closed_at: null,
    cancel_reason: null,
    merged_into_id: null,
    first_report_due_at: '2026-12-07T03:00:00Z',
    first_report_at: null,
    ...over,
  }
}
function order(id: string, stage: string) {
  return { id, incident_id: 'c-1', unit_id: 'u-1', responsible_unit_id: 'u-1', role: 'lead', stage, unit_name: '供排水公司' }
}
const OPEN = incident({})
const CLOSED = incident({
  id: 'c-2',
  number: '20261206-0A0B0C',
  title: '人民路井盖丢失',
  category_code: 'service.road_damage',
  state: 'closed',
  closed_at: '2026-12-06T09:00:00Z',
  division_adcode: '331126102000',
})

function json(status: number, body: unknown) {
  return new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } })
}
let routes: Record<string, (url: URL) => Response>
let calls: URL[]

function installFetch() {
  calls = []
  vi.stubGlobal(
    'fetch',
    vi.fn(async (url: RequestInfo | URL, init?: RequestInit) => {
      const u = new URL(String(url), 'http://x')
      calls.push(u)
      const key = `${init?.method ?? 'GET'} ${u.pathname.replace('/api/v1', '')}`
      const handler = routes[key]
      return handler ? handler(u) : json(404, { error: { code: 'not_found', message: 'x' } })
    }),
  )
}
const listCalls = () => calls.filter((u) => u.pathname.endsWith('/api/v1/incidents'))

async function signIn(permissions: string[]) {
  const pinia = createPinia()
  setActivePinia(pinia)
  const auth = useAuthStore()
  auth.me = {
    id: 'me',
    username: 'duty_officer',
    display_name: '值班员',
    roles: ['duty_officer'],
    permissions,
    scope: { everything: false, division_path: '330000/', unit_id: null },
    unit_id: null,
  }
  auth.loaded = true
  return pinia
}

async function mountList() {
  const pinia = await signIn(['incident.read', 'incident.write', 'dispatch.write', 'org.read', 'kpi.read'])
  await router.push('/service-cases')
  await router.isReady()
  const w = mount(ServiceCasesView, { global: { plugins: [pinia, i18n, router] }, attachTo: document.body })
  await flushPromises()
  return w
}

beforeEach(() => {
  i18n.global.locale.value = 'zh-CN'
  setCsrfToken('t')
  routes = {
    'GET /incidents': () => json(200, { items: [OPEN, CLOSED], total: 2 }),
    'GET /incidents/c-1/orders': () => json(200, [order('o-1', 'completed'), order('o-2', 'signed'), order('o-3', 'returned')]),
    'GET /incidents/c-2/orders': () => json(200, [order('o-4', 'completed')]),
    'GET /incidents/c-2/timeline': () =>
      json(200, [
        { id: 1, at: '2026-12-06T10:00:00Z', kind: 'callback_done', actor_name: '值班员', code: 'dispatch.callback_done', params: null, summary: '回访', data: { reachable: true, reached: true, satisfied: true } },
      ]),
    'GET /intake/categories': () =>
      json(200, [
        { code: 'service.water_supply', name_zh: '居民停水/供水服务', name_en: 'Water supply', parent_code: 'service' },
        { code: 'service.road_damage', name_zh: '道路损坏', name_en: 'Road damage', parent_code: 'service' },
      ]),
    'GET /divisions': () =>
      json(200, {
        items: [
          { adcode: '331126101000', name: '松源街道', level: 'town' },
          { adcode: '331126102000', name: '屏都街道', level: 'town' },
        ],
        total: 2,
      }),
  }
  installFetch()
})
afterEach(() => {
  vi.unstubAllGlobals()
  document.body.innerHTML = ''
})

describe('服务类事务 list', () => {
  it('lists only service cases, with the category, town, progress and 回访 in Chinese', async () => {
    const w = await mountList()
    const asked = listCalls()
    expect(asked).toHaveLength(1)
    expect(asked[0]!.searchParams.get('kind')).toBe('service')
    const text = w.get('[data-testid="service-case-list"]').text()
    expect(text).toContain('幸福小区停水')
    expect(text).toContain('居民停水/供水服务')
    expect(text).toContain('道路损坏')
    expect(text).toContain('松源街道') // a village's case shows its town
    expect(text).toContain('屏都街道')
    expect(text).toContain('处置中')
    // the returned order no longer counts: one of two done, both signed
    const progress = w.findAll('[data-testid="service-progress"]').map((x) => x.text())
    expect(progress).toEqual(['已签收 2/2 · 已办结 1/2', '已签收 1/1 · 已办结 1/1'])
    const callbacks = w.findAll('[data-testid="service-callback"]').map((x) => x.attributes('data-callback'))
    expect(callbacks).toEqual(['notYet', 'satisfied'])
    expect(text).toContain('满意')
    // an open case's timeline is not read: its 回访 cannot be due yet
    expect(calls.some((u) => u.pathname.endsWith('/incidents/c-1/timeline'))).toBe(false)
    expect(text).not.toMatch(/service\.|water_supply|responding|satisfied/)
  })

  it('sends the state filter and goes back to the first page', async () => {
    const w = await mountList()
    const vm = w.findComponent({ name: 'ElSelect' })
    vm.vm.$emit('update:modelValue', ['closed'])
    vm.vm.$emit('change', ['closed'])
    await flushPromises()
    const last = listCalls().at(-1)!
    expect(last.searchParams.getAll('state')).toEqual(['closed'])
    expect(last.searchParams.get('kind')).toBe('service')
    expect(last.searchParams.get('offset')).toBe('0')
  })

  it('sends a date range as Beijing days, the end day included', async () => {
    const w = await mountList()
    const picker = w.findComponent({ name: 'ElDatePicker' })
    picker.vm.$emit('update:modelValue', ['2026-12-01', '2026-12-07'])
    picker.vm.$emit('change', ['2026-12-01', '2026-12-07'])
    await flushPromises()
    const last = listCalls().at(-1)!
    expect(last.searchParams.get('since')).toBe('2026-12-01T00:00:00+08:00')
    expect(last.searchParams.get('until')).toBe('2026-12-08T00:00:00+08:00')
  })

  it('opens the case page from a row', async () => {
    const w = await mountList()
    await w.findAll('.el-table__row')[1]!.findAll('td')[1]!.trigger('click')
    await vi.waitFor(() => expect(router.currentRoute.value.fullPath).toBe('/incidents/c-2'), { timeout: 5000 })
  })

  it('shows a failed list as an error, not as an empty list of cases', async () => {
    routes['GET /incidents'] = () => json(403, { error: { code: 'forbidden', message: 'no' } })
    const w = await mountList()
    expect(w.find('.el-alert').exists()).toBe(true)
  })
})

describe('service case rules', () => {
  it('reads the 回访 from the timeline once the case is closed', () => {
    const done = (data: unknown) => [{ kind: 'callback_done', data }] as never
    expect(callbackState('responding', null)).toBe('notYet')
    expect(callbackState('closed', [])).toBe('pending')
    expect(callbackState('closed', null)).toBe('unknown')
    expect(callbackState('archived', done({ reached: true, satisfied: false }))).toBe('unsatisfied')
    expect(callbackState('closed', done({ reached: false, satisfied: null }))).toBe('unreached')
    expect(callbackState('closed', done({ reached: true, satisfied: null }))).toBe('unrated')
  })
  it('counts no progress before any order and names towns from village codes', () => {
    expect(orderProgress([])).toBeNull()
    const towns = new Map([['331126101000', '松源街道']])
    expect(placeName('331126101007', towns)).toBe('松源街道')
    expect(placeName('331126101000', towns)).toBe('松源街道')
    expect(placeName(null, towns)).toBeNull()
  })
  it('is in the side menu for those who read incidents', () => {
    const paths = (perms: string[]) => visibleNav((p) => !p || perms.includes(p)).flatMap((g) => g.items.map((i) => i.path))
    expect(paths(['incident.read'])).toContain('/service-cases')
    expect(paths(['order.act', 'kpi.read'])).not.toContain('/service-cases')
  })
  it('has every message in both languages', () => {
    const keys = (o: object): string[] =>
      Object.entries(o).flatMap(([k, v]) => (v && typeof v === 'object' ? keys(v).map((x) => `${k}.${x}`) : [k]))
    expect(keys(messages.en).sort()).toEqual(keys(messages['zh-CN']).sort())
  })
})

describe('a service case on the incident page', () => {
  it('shows no level, no 首报 and offers neither a level change nor a 首报', async () => {
    const pinia = await signIn(['incident.read'])
    const w = mount(IncidentHeader, {
      props: { incident: OPEN as never, categoryName: '居民停水/供水服务', divisionName: '松源街道' },
      global: { plugins: [pinia, i18n] },
    })
    expect(w.find('[data-testid="incident-level"]').exists()).toBe(false)
    expect(w.get('[data-testid="incident-kind-service"]').text()).toBe('服务类')
    expect(w.text()).not.toContain('首报')
    const can = () => true
    const service = allowedActions({ ...OPEN, level: 'III' } as never, can)
    expect(service.level).toBe(false)
    expect(service.firstReport).toBe(false)
    expect(service.dispatch).toBe(true)
    const emergency = allowedActions({ ...OPEN, kind: 'emergency', level: 'III' } as never, can)
    expect(emergency.level).toBe(true)
    expect(emergency.firstReport).toBe(true)
  })
})

describe('KPI switch 应急类 / 服务类', () => {
  it('passes the kind to both KPI calls', async () => {
    routes['GET /kpi/units'] = () => json(200, [])
    routes['GET /kpi/tiers'] = () => json(200, [])
    await fetchUnitKpis({ from: 'a', to: 'b' }, 'service')
    await fetchTierKpis({ from: 'a', to: 'b' })
    expect(calls.map((u) => `${u.pathname} ${u.searchParams.get('kind')}`)).toEqual([
      '/api/v1/kpi/units service',
      '/api/v1/kpi/tiers emergency',
    ])
  })

  it('starts on 应急类, keeps the chosen kind in the URL and reloads with it', async () => {
    routes['GET /kpi/units'] = (u) =>
      json(200, u.searchParams.get('kind') === 'service' ? [unitRow('供排水公司')] : [unitRow('县消防救援大队')])
    routes['GET /kpi/tiers'] = () => json(200, [])
    const pinia = await signIn(['kpi.read'])
    await router.push('/kpi')
    await router.isReady()
    const w = mount(KpiView, { global: { plugins: [pinia, i18n, router] }, attachTo: document.body })
    await flushPromises()
    const kinds = () => calls.filter((u) => u.pathname.startsWith('/api/v1/kpi/')).map((u) => u.searchParams.get('kind'))
    expect(kinds()).toEqual(['emergency', 'emergency'])
    expect(w.get('[data-testid="kpi-units"]').text()).toContain('县消防救援大队')
    await w.get('[data-testid="kpi-kind-service"] input').setValue(true)
    await flushPromises()
    expect(router.currentRoute.value.query.kind).toBe('service')
    expect(kinds().slice(2)).toEqual(['service', 'service'])
    expect(w.get('[data-testid="kpi-units"]').text()).toContain('供排水公司')
    expect(w.get('[data-testid="kpi-units"]').text()).not.toContain('县消防救援大队')
  })
})

function unitRow(name: string) {
  const r = { numerator: 1, denominator: 1, rate: 1 }
  return {
    unit_id: name,
    code: 'D038',
    name,
    tier: 2,
    orders: 1,
    returned: 0,
    transferred: 0,
    cancelled: 0,
    closed_with_incident: 0,
    score: 1,
    acceptance: r,
    turnout: r,
    punctuality: r,
    feedback: r,
    callback: r,
  }
}
