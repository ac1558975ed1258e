/** The administration screens mounted with a fake server: what they send, and what they show. */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { flushPromises, mount } from '@vue/test-utils'
import { createPinia, setActivePinia } from 'pinia'
import { i18n } from '@/i18n'
import { setCsrfToken } from '@/api/client'
import type { DivisionDetail, RoutingRule, UnitRead } from '@/api/admin'
import { useAuthStore } from '@/stores/auth'
import DivisionDialog from '@/components/admin/DivisionDialog.vue'
import RuleDialog from '@/components/admin/RuleDialog.vue'
import DeadlinesView from '@/views/admin/DeadlinesView.vue'
import RoutingView from '@/views/admin/RoutingView.vue'
import UnitDialog from '@/components/admin/UnitDialog.vue'

function json(status: number, body: unknown) {
  return new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } })
}

interface Call {
  method: string
  path: string
  query: URLSearchParams
  body: unknown
}
type Handler = (call: Call) => Response
let routes: Record<string, Handler>
let calls: Call[]

function installFetch() {
  calls = []
  vi.stubGlobal(
    'fetch',
    vi.fn(async (url: RequestInfo | URL, init?: RequestInit) => {
      const method = init?.method ?? 'GET'
      const parsed = new URL(String(url), 'http://x')
      const path = parsed.pathname.replace('/api/v1', '')
      const call = { method, path, query: parsed.searchParams, body: init?.body ? JSON.parse(String(init.body)) : null }
      calls.push(call)
      const handler = routes[`${method} ${path}`]
      return handler ? handler(call) : json(404, { error: { code: 'not_found', message: 'x', details: null } })
    }),
  )
}

const UNIT: UnitRead = {
  id: 'u-1',
  code: 'TA',
  name: '甲镇人民政府',
  kind: 'town',
  tier: 1,
  division_adcode: '331126101000',
  parent_id: null,
  phone: null,
  address: null,
  lon: null,
  lat: null,
  active: true,
}

/** Open an Element Plus select inside `root` and click the option with this text. */
async function choose(root: Element, option: string) {
  root.querySelector<HTMLElement>('.el-select__wrapper')!.click()
  await flushPromises()
  const item = [...document.body.querySelectorAll<HTMLElement>('.el-select-dropdown__item')].find(
    (el) => el.textContent?.trim().startsWith(option),
  )
  if (!item) throw new Error(`no option ${option}`)
  item.click()
  await flushPromises()
}

const TOWN = '330000/331126/331126101000/'

/** Sign in an administrator of everything, or of town A (甲镇). */
function signIn(everything: boolean) {
  const auth = useAuthStore()
  auth.me = {
    id: 'me',
    username: everything ? 'admin' : 'admin_a',
    display_name: '管理员',
    roles: ['admin'],
    permissions: ['org.read', 'org.write', 'user.manage', ...(everything ? ['reference.write', 'system.admin'] : [])],
    scope: { everything, division_path: everything ? null : TOWN, unit_id: null },
    unit_id: null,
  }
  auth.loaded = true
}

beforeEach(() => {
  i18n.global.locale.value = 'zh-CN'
  setCsrfToken('t')
  setActivePinia(createPinia())
  signIn(true)
  routes = {
    'GET /divisions': () => json(200, { items: [], total: 0 }),
    'GET /divisions/331126101000': () =>
      json(200, { adcode: '331126101000', name: '甲镇', level: 'town', parent_adcode: '331126', path: '331126/331126101000/' }),
  }
  installFetch()
})
afterEach(() => {
  vi.unstubAllGlobals()
  document.body.innerHTML = ''
})

describe('the unit dialog', () => {
  it('lets the administrator change the kind of an existing unit and sends only that', async () => {
    routes['PATCH /units/u-1'] = (call) => json(200, { ...UNIT, ...(call.body as object) })
    const w = mount(UnitDialog, {
      props: { modelValue: false, unit: UNIT },
      global: { plugins: [i18n] },
      attachTo: document.body,
    })
    await w.setProps({ modelValue: true })
    await flushPromises()
    const kind = document.body.querySelector('[data-testid="unit-kind"]')!
    expect(kind.querySelector('.is-disabled')).toBeNull()
    await choose(kind, '救援队伍')
    document.body.querySelector<HTMLButtonElement>('[data-testid="unit-save"]')!.click()
    await flushPromises()
    const patch = calls.find((c) => c.method === 'PATCH')
    expect(patch?.body).toEqual({ kind: 'rescue_team' })
    expect(w.emitted('saved')?.[0]?.[0]).toMatchObject({ kind: 'rescue_team' })
  })

  it('keeps the dialog open with the translated refusal when the server refuses the kind', async () => {
    routes['PATCH /units/u-1'] = () =>
      json(422, { error: { code: 'validation_failed', message: 'the request is not valid', details: null } })
    const w = mount(UnitDialog, {
      props: { modelValue: false, unit: UNIT },
      global: { plugins: [i18n] },
      attachTo: document.body,
    })
    await w.setProps({ modelValue: true })
    await flushPromises()
    await choose(document.body.querySelector('[data-testid="unit-kind"]')!, '部门')
    document.body.querySelector<HTMLButtonElement>('[data-testid="unit-save"]')!.click()
    await flushPromises()
    expect(w.emitted('saved')).toBeUndefined()
    const error = document.body.querySelector('[data-testid="form-error"]')
    expect(error?.textContent).toBeTruthy()
    expect(error?.textContent).not.toContain('{')
  })
})

const RULE: RoutingRule = {
  id: 7,
  category_prefix: 'accident.fire',
  levels: ['III', 'IV'],
  division_path: '331126/331126101000/',
  role: 'lead',
  selector: 'unit',
  unit_id: 'u-1',
  priority: 100,
  note: '甲镇主办',
  active: true,
  when_trapped: false,
}

async function openRuleDialog(rule: RoutingRule | null) {
  routes['GET /units'] = () => json(200, { items: [UNIT], total: 1 })
  routes['GET /units/u-1'] = () => json(200, UNIT)
  const w = mount(RuleDialog, {
    props: { modelValue: false, categories: [], rule },
    global: { plugins: [i18n] },
    attachTo: document.body,
  })
  await w.setProps({ modelValue: true })
  await flushPromises()
  return w
}

function typeInto(testid: string, value: string) {
  const input = document.body.querySelector<HTMLInputElement>(`input[data-testid="${testid}"], [data-testid="${testid}"] input`)!
  input.value = value
  input.dispatchEvent(new Event('input'))
}

describe('the routing rule dialog', () => {
  it('edits a rule by sending only what changed', async () => {
    routes['PATCH /routing-rules/7'] = (call) => json(200, { ...RULE, ...(call.body as object) })
    const w = await openRuleDialog(RULE)
    expect(document.body.querySelector('.el-dialog__title')?.textContent).toBe('修改规则')
    typeInto('rule-note', '甲镇主办（夜间）')
    await flushPromises()
    document.body.querySelector<HTMLButtonElement>('[data-testid="rule-save"]')!.click()
    await flushPromises()
    const patch = calls.filter((c) => c.method === 'PATCH')
    expect(patch.map((c) => [c.path, c.body])).toEqual([['/routing-rules/7', { note: '甲镇主办（夜间）' }]])
    expect(calls.some((c) => c.method === 'POST')).toBe(false)
    expect(w.emitted('saved')?.[0]?.[0]).toMatchObject({ id: 7, note: '甲镇主办（夜间）' })
  })

  it('shows the translated refusal and stays open when the server refuses the change', async () => {
    routes['PATCH /routing-rules/7'] = () =>
      json(422, { error: { code: 'unit_not_found', message: 'no linkage unit', details: null } })
    const w = await openRuleDialog(RULE)
    typeInto('rule-note', '改')
    await flushPromises()
    document.body.querySelector<HTMLButtonElement>('[data-testid="rule-save"]')!.click()
    await flushPromises()
    expect(w.emitted('saved')).toBeUndefined()
    const error = document.body.querySelector('[data-testid="form-error"]')?.textContent ?? ''
    expect(error).toBeTruthy()
    expect(error).not.toContain('{')
  })

  it('still adds a new rule with the whole body', async () => {
    routes['POST /routing-rules'] = (call) => json(201, { id: 8, ...(call.body as object) })
    const w = await openRuleDialog(null)
    expect(document.body.querySelector('.el-dialog__title')?.textContent).toBe('添加规则')
    await choose(document.body.querySelector('[data-testid="rule-unit"]')!, '甲镇人民政府')
    document.body.querySelector<HTMLButtonElement>('[data-testid="rule-save"]')!.click()
    await flushPromises()
    const post = calls.find((c) => c.method === 'POST')
    expect(post?.body).toMatchObject({ role: 'lead', selector: 'unit', unit_id: 'u-1', levels: [], division_path: null })
    expect(w.emitted('saved')).toHaveLength(1)
  })
})

describe('an administrator of a town', () => {
  it('must give a new routing rule an area inside its town: a rule for everywhere is not offered', async () => {
    signIn(false)
    routes['POST /routing-rules'] = (call) => json(201, { id: 8, ...(call.body as object) })
    const w = await openRuleDialog(null)
    await choose(document.body.querySelector('[data-testid="rule-unit"]')!, '甲镇人民政府')
    document.body.querySelector<HTMLButtonElement>('[data-testid="rule-save"]')!.click()
    await flushPromises()
    expect(calls.some((c) => c.method === 'POST')).toBe(false)
    expect(document.body.querySelector('[data-testid="rule-form"]')?.textContent).toContain('请选择本辖区内的适用区域')
    expect(w.emitted('saved')).toBeUndefined()
  })

  it('cannot redraw its own town, and is told which neighbour a village it draws reaches into', async () => {
    signIn(false)
    const town: DivisionDetail = {
      adcode: '331126101000',
      name: '甲镇',
      level: 'town',
      parent_adcode: '331126',
      path: TOWN,
      centroid_lon: 119.05,
      centroid_lat: 27.55,
      boundary: null,
    }
    const own = mount(DivisionDialog, {
      props: { modelValue: false, mode: 'edit', division: town },
      global: { plugins: [i18n] },
      attachTo: document.body,
    })
    await own.setProps({ modelValue: true })
    await flushPromises()
    const boundary = document.body.querySelector<HTMLTextAreaElement>('textarea[data-testid="division-boundary"]')!
    expect(boundary.disabled).toBe(true)
    expect(boundary.placeholder).toBe('本辖区的边界由上级管理员绘制')
    own.unmount()
    document.body.innerHTML = ''

    routes['POST /divisions'] = () =>
      json(422, {
        error: {
          code: 'boundary_overlaps_sibling',
          message: 'the boundary reaches more than 10 m into 331126101201',
          details: { sibling_adcode: '331126101201', tolerance_m: 10 },
        },
      })
    const child = mount(DivisionDialog, {
      props: { modelValue: false, mode: 'child', division: town },
      global: { plugins: [i18n] },
      attachTo: document.body,
    })
    await child.setProps({ modelValue: true })
    await flushPromises()
    const drawn = document.body.querySelector<HTMLTextAreaElement>('textarea[data-testid="division-boundary"]')!
    expect(drawn.disabled).toBe(false)
    drawn.value = JSON.stringify({ type: 'Polygon', coordinates: [] })
    drawn.dispatchEvent(new Event('input'))
    const adcode = document.body.querySelector<HTMLInputElement>('[data-testid="division-form"] input')!
    adcode.value = '331126101202'
    adcode.dispatchEvent(new Event('input'))
    const name = document.body.querySelectorAll<HTMLInputElement>('[data-testid="division-form"] input')[1]!
    name.value = '甲二村'
    name.dispatchEvent(new Event('input'))
    await flushPromises()
    document.body.querySelector<HTMLButtonElement>('[data-testid="division-save"]')!.click()
    await flushPromises()
    expect(calls.some((c) => c.method === 'POST' && c.path === '/divisions')).toBe(true)
    const error = document.body.querySelector('[data-testid="form-error"]')?.textContent ?? ''
    expect(error).toContain('边界伸入了同级区划 331126101201')
    expect(child.emitted('saved')).toBeUndefined()
  })
})

describe('the shared tables, seen by an administrator of a town', () => {
  it('offers to change only the routing rules inside its town', async () => {
    signIn(false)
    const everywhere = { ...RULE, id: 1, division_path: null, note: '全县' }
    const mine = { ...RULE, id: 2, division_path: TOWN, note: '甲镇' }
    routes['GET /routing-rules'] = () => json(200, [everywhere, mine])
    routes['GET /intake/categories'] = () => json(200, [])
    routes['GET /units'] = () => json(200, { items: [UNIT], total: 1 })
    const w = mount(RoutingView, { global: { plugins: [i18n] }, attachTo: document.body })
    await flushPromises()
    const edits = [...document.body.querySelectorAll('[data-testid="rules-table"] button')].map((b) => b.getAttribute('aria-label'))
    expect(edits).toEqual(['编辑 2', '删除 2'])
    expect(w.find('[data-testid="rules-area-only"]').exists()).toBe(true)
    expect(w.find('[data-testid="rule-add"]').exists()).toBe(true)
  })

  it('shows the deadline tables read only, and says why', async () => {
    signIn(false)
    routes['GET /intake/categories'] = () => json(200, [])
    routes['GET /stage-deadlines'] = () => json(200, [])
    const w = mount(DeadlinesView, { global: { plugins: [i18n] }, attachTo: document.body })
    await flushPromises()
    expect(w.get('[data-testid="deadlines-read-only"]').text()).toContain('只有全局系统管理员可以修改')
    signIn(true)
    await flushPromises()
    expect(w.find('[data-testid="deadlines-read-only"]').exists()).toBe(false)
  })
})
