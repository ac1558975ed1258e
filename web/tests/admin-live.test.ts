/** The administration screens reload when another administrator changes what they show. */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { flushPromises, mount } from '@vue/test-utils'
import { createPinia, setActivePinia } from 'pinia'
import { defineComponent, h } from 'vue'
import { i18n } from '@/i18n'
import { setCsrfToken } from '@/api/client'
import type { LiveEvent } from '@/api/types'
import { useAuthStore } from '@/stores/auth'
import { useEventsStore } from '@/stores/events'
import { LIVE_RELOAD_MAX_WAIT_MS, LIVE_RELOAD_MS, matchesType, useLiveReload } from '@/composables/useLiveReload'
import UnitsView from '@/views/admin/UnitsView.vue'
import UsersView from '@/views/admin/UsersView.vue'
import RoutingView from '@/views/admin/RoutingView.vue'
import DivisionsView from '@/views/admin/DivisionsView.vue'
import StageDeadlines from '@/components/admin/StageDeadlines.vue'
import ReportingDeadlines from '@/components/admin/ReportingDeadlines.vue'

let seq = 0
function ev(type: string, subject = 'x'): LiveEvent {
  seq += 1
  return { id: String(1000 + seq), type, subject_type: 'thing', subject_id: subject, payload: {}, occurred_at: '2026-12-01T08:00:00Z' }
}

function json(status: number, body: unknown) {
  return new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } })
}

interface Call {
  method: string
  path: string
  query: URLSearchParams
}
let routes: Record<string, (call: Call) => Response>
let calls: Call[]

function installFetch() {
  calls = []
  vi.stubGlobal(
    'fetch',
    vi.fn(async (url: RequestInfo | URL, init?: RequestInit) => {
      const method = init?.method ?? 'GET'
      const parsed = new URL(String(url), 'http://x')
      const call = { method, path: parsed.pathname.replace('/api/v1', ''), query: parsed.searchParams }
      calls.push(call)
      const handler = routes[`${method} ${call.path}`]
      return handler ? handler(call) : json(404, { error: { code: 'not_found', message: 'x', details: null } })
    }),
  )
}
const gets = (path: string) => calls.filter((c) => c.method === 'GET' && c.path === path)

function signIn() {
  const auth = useAuthStore()
  auth.me = {
    id: 'me',
    username: 'admin',
    display_name: '管理员',
    roles: ['admin'],
    permissions: ['org.read', 'org.write', 'user.manage', 'incident.read', 'events.read'],
    scope: { everything: true, division_path: null, unit_id: null },
    unit_id: null,
  }
  auth.loaded = true
}

async function mountScreen(component: unknown, props: Record<string, unknown> = {}) {
  const w = mount(component as never, { props: props as never, global: { plugins: [i18n] }, attachTo: document.body })
  await flushPromises()
  return w
}

/** Let the debounce run out and the reload answer. */
async function settle(ms = LIVE_RELOAD_MS) {
  await flushPromises() // the store's watchers run before the next render
  vi.advanceTimersByTime(ms)
  await flushPromises()
}

beforeEach(() => {
  // only the clock the screens debounce with is fake: promises and element-plus run as usual
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] })
  i18n.global.locale.value = 'zh-CN'
  setCsrfToken('t')
  setActivePinia(createPinia())
  signIn()
  routes = {}
  installFetch()
})
afterEach(() => {
  vi.useRealTimers()
  vi.unstubAllGlobals()
  document.body.innerHTML = ''
})

describe('useLiveReload', () => {
  it('matches exact types and prefixes ending in a dot or an underscore', () => {
    expect(matchesType('org.unit.updated', ['org.unit.'])).toBe(true)
    expect(matchesType('org.units', ['org.unit.'])).toBe(false)
    expect(matchesType('dispatch.routing_rule_changed', ['dispatch.routing_rule_'])).toBe(true)
    expect(matchesType('dispatch.routing_rules_imported', ['dispatch.routing_rule_'])).toBe(false)
    expect(matchesType('dispatch.stage_deadline_set', ['dispatch.stage_deadline_set'])).toBe(true)
  })

  it('reloads once per burst, at the latest after the longest wait, and not for other events', async () => {
    const events = useEventsStore()
    events.ingest(ev('org.unit.updated')) // before the screen opened: its first load has it
    const reload = vi.fn()
    const w = mount(defineComponent({ setup: () => (useLiveReload(['org.unit.'], reload), () => h('div')) }))
    await settle()
    expect(reload).not.toHaveBeenCalled()

    events.ingest(ev('incident.created'))
    await settle()
    expect(reload).not.toHaveBeenCalled()

    for (let i = 0; i < 5; i++) {
      events.ingest(ev('org.unit.created', `u${i}`))
      await settle(LIVE_RELOAD_MS / 2)
    }
    expect(reload).not.toHaveBeenCalled()
    await settle()
    expect(reload).toHaveBeenCalledTimes(1)
    expect(reload.mock.calls[0]![0].map((e: LiveEvent) => e.subject_id)).toEqual(['u0', 'u1', 'u2', 'u3', 'u4'])

    // a steady stream still reloads after the longest wait
    reload.mockClear()
    for (let t = 0; t < LIVE_RELOAD_MAX_WAIT_MS + LIVE_RELOAD_MS; t += LIVE_RELOAD_MS / 2) {
      events.ingest(ev('org.unit.updated'))
      await settle(LIVE_RELOAD_MS / 2)
    }
    expect(reload).toHaveBeenCalled()

    reload.mockClear()
    w.unmount()
    events.ingest(ev('org.unit.updated'))
    await settle()
    expect(reload).not.toHaveBeenCalled()
  })
})

const unit = (i: number) => ({
  id: `u-${i}`,
  code: `U${i}`,
  name: `单位${i}`,
  kind: 'department',
  tier: 1,
  division_adcode: '331126',
  parent_id: null,
  phone: null,
  address: null,
  lon: null,
  lat: null,
  active: true,
})

describe('the administration screens', () => {
  it('units: another administrator’s change reloads the same page with the same filter', async () => {
    let name = '单位60'
    routes['GET /units'] = (call) => {
      const offset = Number(call.query.get('offset') ?? 0)
      return json(200, { items: [{ ...unit(offset + 10), name }], total: 120 })
    }
    routes['GET /divisions'] = () => json(200, { items: [], total: 0 })
    const w = await mountScreen(UnitsView)
    const search = w.get('input[placeholder="名称或编码"]')
    await search.setValue('单位')
    await settle(300) // the search box's own debounce
    w.findAll('.el-pager li').find((li) => li.text() === '2')!.trigger('click')
    await flushPromises()
    const before = gets('/units').length
    expect(gets('/units').at(-1)!.query.get('offset')).toBe('50')

    name = '单位六十（已改名）'
    useEventsStore().ingest(ev('org.unit.updated', 'u-60'))
    await settle()
    expect(gets('/units')).toHaveLength(before + 1)
    const reloaded = gets('/units').at(-1)!
    expect([reloaded.query.get('offset'), reloaded.query.get('q')]).toEqual(['50', '单位'])
    expect(w.get('[data-testid="units-table"]').text()).toContain('单位六十（已改名）')
  })

  it('users: a change to an account reloads the list', async () => {
    let display = '甲镇联络员'
    routes['GET /users'] = () =>
      json(200, {
        items: [{ id: 'a', username: 'town_a', display_name: display, roles: ['unit_liaison'], division_adcode: null, unit_id: null, active: true, last_login_at: null }],
        total: 1,
      })
    const w = await mountScreen(UsersView)
    display = '甲镇联络员（新）'
    useEventsStore().ingest(ev('org.unit.updated')) // not about users
    await settle()
    expect(gets('/users')).toHaveLength(1)
    useEventsStore().ingest(ev('org.user.updated', 'a'))
    await settle()
    expect(gets('/users')).toHaveLength(2)
    expect(w.get('[data-testid="users-table"]').text()).toContain('甲镇联络员（新）')
  })

  it('routing: a rule added, changed or imported elsewhere reloads the table; other events do not', async () => {
    const rule = { id: 1, category_prefix: 'accident.fire', levels: [], division_path: null, role: 'lead', selector: 'town', unit_id: null, priority: 100, note: '属地乡镇', active: true }
    let rules = [rule]
    routes['GET /routing-rules'] = () => json(200, rules)
    routes['GET /intake/categories'] = () => json(200, [])
    routes['GET /units'] = () => json(200, { items: [], total: 0 })
    routes['GET /divisions'] = () => json(200, { items: [], total: 0 })
    const w = await mountScreen(RoutingView)
    expect(w.get('[data-testid="rule-count"]').text()).toContain('1')
    rules = [rule, { ...rule, id: 2, role: 'co', note: '另一位管理员加的' }]
    for (const type of ['dispatch.routing_rule_added', 'dispatch.routing_rule_changed', 'dispatch.routing_rules_imported']) {
      useEventsStore().ingest(ev(type))
      await settle()
    }
    expect(gets('/routing-rules')).toHaveLength(4)
    expect(w.get('[data-testid="rules-table"]').text()).toContain('另一位管理员加的')
    useEventsStore().ingest(ev('dispatch.stage_deadline_set'))
    await settle()
    expect(gets('/routing-rules')).toHaveLength(4)
  })

  it('deadlines: a change elsewhere reloads the table but leaves a row being edited here as typed', async () => {
    const row = (id: number, prefix: string, sign: number) => ({
      id,
      category_prefix: prefix,
      level: '',
      tier: 0,
      sign_minutes: sign,
      arrive_minutes: 60,
      feedback_minutes: 120,
      complete_minutes: 2880,
      remind_share: 0.8,
    })
    let server = [row(1, 'accident', 10), row(2, 'natural', 15)]
    routes['GET /stage-deadlines'] = () => json(200, server)
    const w = await mountScreen(StageDeadlines, { canEdit: true, categories: [] })
    const mine = w.get('[data-testid="stage-1-sign_minutes"] input')
    await mine.setValue('12')
    await mine.trigger('blur')
    await flushPromises()
    expect(w.find('[data-testid="stage-save-1"]').exists()).toBe(true)

    server = [row(1, 'accident', 10), row(2, 'natural', 25)]
    useEventsStore().ingest(ev('dispatch.stage_deadline_set', '2'))
    await settle()
    expect(gets('/stage-deadlines')).toHaveLength(2)
    expect((w.get('[data-testid="stage-2-sign_minutes"] input').element as HTMLInputElement).value).toBe('25')
    expect((w.get('[data-testid="stage-1-sign_minutes"] input').element as HTMLInputElement).value).toBe('12')
    expect(w.find('[data-testid="stage-save-1"]').exists()).toBe(true)
  })

  it('reporting deadlines: reload on their own event only', async () => {
    routes['GET /reporting-deadlines'] = () => json(200, [])
    await mountScreen(ReportingDeadlines, { canEdit: true, categories: [] })
    useEventsStore().ingest(ev('dispatch.stage_deadline_set'))
    await settle()
    expect(gets('/reporting-deadlines')).toHaveLength(1)
    useEventsStore().ingest(ev('incidents.reporting_deadline_set'))
    await settle()
    expect(gets('/reporting-deadlines')).toHaveLength(2)
  })

  it('divisions: a change elsewhere rebuilds the tree with the same nodes open and the detail read again', async () => {
    let townName = '甲镇'
    const county = { adcode: '331126', name: '庆元县', level: 'county', parent_adcode: '330000', path: '330000/331126/', centroid_lon: null, centroid_lat: null }
    const town = () => ({ adcode: '331126101000', name: townName, level: 'town', parent_adcode: '331126', path: '330000/331126/331126101000/', centroid_lon: null, centroid_lat: null })
    routes['GET /divisions'] = (call) => json(200, { items: call.query.get('parent') === '331126' ? [town()] : [county], total: 1 })
    routes['GET /divisions/331126101000'] = () => json(200, { ...town(), boundary: null })
    const w = await mountScreen(DivisionsView)
    const tree = () => w.get('[data-testid="division-tree"]')
    await tree().find('.el-tree-node__expand-icon').trigger('click')
    await flushPromises()
    await tree().findAll('.el-tree-node__content').find((n) => n.text().includes('甲镇'))!.trigger('click')
    await flushPromises()
    expect(w.get('[data-testid="division-detail"]').text()).toContain('甲镇')

    townName = '甲镇（更名）'
    useEventsStore().ingest(ev('org.division.updated', '331126101000'))
    await settle()
    expect(calls.filter((c) => c.path === '/divisions' && c.query.get('parent') === '331126')).toHaveLength(2)
    expect(tree().text()).toContain('甲镇（更名）')
    expect(w.get('[data-testid="division-detail"]').text()).toContain('甲镇（更名）')
  })
})
