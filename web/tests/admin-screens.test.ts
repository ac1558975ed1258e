/** The administration screens mounted with a fake server: what they send, and what they show. */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { flushPromises, mount } from '@vue/test-utils'
import { createPinia, setActivePinia } from 'pinia'
import { i18n } from '@/i18n'
import { setCsrfToken } from '@/api/client'
import type { RoutingRule, UnitRead } from '@/api/admin'
import RuleDialog from '@/components/admin/RuleDialog.vue'
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

beforeEach(() => {
  i18n.global.locale.value = 'zh-CN'
  setCsrfToken('t')
  setActivePinia(createPinia())
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
