/** 排班设置 mounted with a fake server: positions, shift patterns and generating a month. */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { flushPromises, mount } from '@vue/test-utils'
import { createPinia, setActivePinia } from 'pinia'
import { i18n } from '@/i18n'
import { setCsrfToken } from '@/api/client'
import type { DutyPosition } from '@/api/roster'
import { useAuthStore } from '@/stores/auth'
import RosterSetup from '@/components/duty/RosterSetup.vue'
import RosterView from '@/views/duty/RosterView.vue'
import rosterMessages from '@/i18n/features/roster'
import adminMessages from '@/i18n/features/admin'
import { checkPattern, checkPositions, defaultPositions, patternShifts, rotationsOf, seatsOf } from '@/components/duty/rosterSetup'

function json(status: number, body: unknown) {
  return new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } })
}
const refusal = (status: number, code: string) => json(status, { error: { code, message: 'english prose', details: null } })

interface Call {
  method: string
  path: string
  query: URLSearchParams
  body: Record<string, unknown> | null
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
      const path = parsed.pathname.replace('/api/v1', '')
      const call = { method, path, query: parsed.searchParams, body: init?.body ? JSON.parse(String(init.body)) : null }
      calls.push(call)
      const handler = routes[`${method} ${path}`]
      return handler ? handler(call) : refusal(404, 'not_found')
    }),
  )
}

const TOWN = '331126101000'
const position = (id: string, code: string, seats: number, label = ''): DutyPosition => ({
  id,
  division_adcode: TOWN,
  position: code,
  label,
  seats,
  unit_id: null,
})
const POSITIONS = [position('a', 'leader', 1), position('b', 'chief', 1), position('c', 'officer', 1)]
const PATTERN = {
  id: 'pat-1',
  division_adcode: TOWN,
  name: '24小时值班',
  kind: 'full_day',
  shifts: [{ code: 'day', start: '08:30', hours: 24 }],
  min_rest_hours: 8,
}
const PEOPLE = [
  { id: 'p1', name: '张三', position: '镇长', unit_id: 'u' },
  { id: 'p2', name: '李四', position: null, unit_id: 'u' },
  { id: 'p3', name: '王五', position: null, unit_id: 'u' },
]

function signIn(permissions: string[]) {
  const auth = useAuthStore()
  auth.me = {
    id: 'me',
    username: 'someone',
    display_name: '某人',
    roles: [],
    permissions,
    scope: { everything: false, division_path: `330000/331126/${TOWN}/`, unit_id: null },
    unit_id: null,
  }
  auth.loaded = true
}

// Element Plus selects opened in jsdom are slow on a shared machine
vi.setConfig({ testTimeout: 30_000 })

beforeEach(() => {
  i18n.global.locale.value = 'zh-CN'
  setCsrfToken('t')
  setActivePinia(createPinia())
  routes = {
    'GET /duty/positions': () => json(200, { items: POSITIONS }),
    'GET /duty/patterns': () => json(200, { items: [PATTERN] }),
    'GET /duty/candidates': () => json(200, { items: PEOPLE }),
    'GET /duty/roster': (c) => json(200, { division_adcode: TOWN, month: c.query.get('month'), shifts: [], conflicts: [] }),
    'GET /duty/swaps': () => json(200, { items: [] }),
    'GET /divisions': () => json(200, { items: [], total: 0 }),
    'GET /units': () =>
      json(200, { items: [{ id: 'unit-water', code: 'SL', name: '庆元县水利局', kind: 'department', tier: 1 }], total: 1 }),
    [`GET /divisions/${TOWN}`]: () =>
      json(200, { adcode: TOWN, name: '甲镇', level: 'town', parent_adcode: '331126', path: `331126/${TOWN}/` }),
  }
  installFetch()
})
afterEach(() => {
  vi.unstubAllGlobals()
  document.body.innerHTML = ''
})

async function mountSetup() {
  const w = mount(RosterSetup, {
    props: { division: TOWN, month: '2026-09' },
    global: { plugins: [i18n] },
    attachTo: document.body,
  })
  await flushPromises()
  return w
}

const shown = (el: HTMLElement) => !(el.closest('.el-popper') as HTMLElement | null)?.style.display.includes('none')

/** Open an Element Plus select inside `root`, click the options with these texts in order, close it. */
async function choose(root: Element, ...options: string[]) {
  const wrapper = root.matches('.el-select__wrapper') ? (root as HTMLElement) : root.querySelector<HTMLElement>('.el-select__wrapper')!
  wrapper.click()
  await flushPromises()
  for (const option of options) {
    const item = [...document.body.querySelectorAll<HTMLElement>('.el-select-dropdown__item')].find(
      (el) => shown(el) && el.textContent?.trim().startsWith(option),
    )
    if (!item) throw new Error(`no option ${option}`)
    item.click()
    await flushPromises()
  }
  if (options.length > 1 || root.querySelector('.el-select__tags, .is-multiple')) {
    document.body.dispatchEvent(new MouseEvent('mousedown', { bubbles: true }))
    document.body.dispatchEvent(new MouseEvent('mouseup', { bubbles: true }))
    document.body.click()
    await flushPromises()
  }
}

describe('the rules of roster setup', () => {
  it('holds the positions to one leader seat, one chief seat and at least one officer', () => {
    expect(checkPositions(defaultPositions())).toEqual([])
    const two = [...defaultPositions(), { position: 'leader' as const, label: '副', seats: 1, unit_id: null }]
    expect(checkPositions(two)).toEqual(['oneLeader'])
    const noOfficer = defaultPositions().filter((p) => p.position !== 'officer')
    expect(checkPositions(noOfficer)).toEqual(['anOfficer'])
    const repeated = [...defaultPositions(), { position: 'officer' as const, label: ' ', seats: 1, unit_id: null }]
    expect(checkPositions(repeated)).toContain('repeated')
    expect(checkPositions([...defaultPositions(), { position: 'professional' as const, label: '水利', seats: 21, unit_id: null }])).toEqual(['seats'])
  })
  it('makes the night shift start when the day shift ends, across midnight too', () => {
    expect(patternShifts('day_night', '08:00', 12)).toEqual([
      { code: 'day', start: '08:00', hours: 12 },
      { code: 'night', start: '20:00', hours: 12 },
    ])
    expect(patternShifts('day_night', '18:30', 10)[1]).toEqual({ code: 'night', start: '04:30', hours: 14 })
    expect(patternShifts('full_day', '08:30', 12)).toEqual([{ code: 'day', start: '08:30', hours: 24 }])
    expect(patternShifts('weekly', '09:00', 12)).toEqual([{ code: 'week', start: '09:00', hours: 168 }])
    expect(checkPattern({ name: ' ', kind: 'day_night', start: '08:00', dayHours: 24, minRest: 73 })).toEqual(['nameRequired', 'dayHours', 'minRest'])
  })
  it('sends a rotation only for the seats that have people, in the order chosen', () => {
    const seats = seatsOf([position('a', 'leader', 1), position('c', 'officer', 2)])
    expect(seats.map((s) => s.key)).toEqual(['leader||1', 'officer||1', 'officer||2'])
    expect(rotationsOf(seats, { 'officer||2': ['p3', 'p1'] }, 2)).toEqual([
      { position: 'officer', label: '', seat: 2, people: ['p3', 'p1'], offset: 2 },
    ])
  })
})

describe('the positions form', () => {
  it('will not save a second leader and replaces the positions once they are 1+1+X+X', async () => {
    routes['PUT /duty/positions'] = (c) =>
      json(200, { items: (c.body!.positions as DutyPosition[]).map((p, i) => ({ ...p, id: `n${i}`, division_adcode: TOWN })) })
    const w = await mountSetup()
    expect(w.findAll('[data-testid="positions-table"] tbody tr')).toHaveLength(3)

    await w.get('[data-testid="add-position"]').trigger('click')
    await choose(w.get('[data-testid="position-3"]').element, '带班领导')
    expect(w.get('[data-testid="position-problems"]').text()).toContain('须有且仅有 1 名带班领导')
    expect(w.get('[data-testid="save-positions"]').attributes('disabled')).toBeDefined()

    await choose(w.get('[data-testid="position-3"]').element, '专业值班')
    await w.get('input[data-testid="label-3"]').setValue('水利')
    await choose(w.get('[data-testid="unit-3"]').element, '庆元县水利局')
    expect(w.find('[data-testid="position-problems"]').exists()).toBe(false)
    await w.get('[data-testid="save-positions"]').trigger('click')
    await flushPromises()

    const put = calls.find((c) => c.method === 'PUT')!
    expect(put.query.get('division')).toBe(TOWN)
    expect(put.body!.positions).toEqual([
      { position: 'leader', label: '', seats: 1, unit_id: null },
      { position: 'chief', label: '', seats: 1, unit_id: null },
      { position: 'officer', label: '', seats: 1, unit_id: null },
      { position: 'professional', label: '水利', seats: 1, unit_id: 'unit-water' },
    ])
  })

  it('says in Chinese why the server refused the positions', async () => {
    routes['PUT /duty/positions'] = () => refusal(422, 'duty_positions_not_1_1_x_x')
    const w = await mountSetup()
    await w.get('[data-testid="save-positions"]').trigger('click')
    await flushPromises()
    expect(w.get('[data-testid="setup-error"]').text()).toContain('值班岗位须为 1 名带班领导、1 名值班长及若干值班员')
    expect(w.text()).not.toContain('english prose')
  })
})

describe('the shift pattern form', () => {
  it('adds a day and night pattern whose night follows the day', async () => {
    routes['POST /duty/patterns'] = (c) => json(201, { ...c.body, id: 'pat-2' })
    const w = await mountSetup()
    await w.get('input[data-testid="pattern-name"]').setValue('白夜班')
    await w.get('[data-testid="pattern-day-hours"] input').setValue('10')
    await w.get('[data-testid="pattern-day-hours"] input').trigger('blur')
    await flushPromises()
    expect(w.get('[data-testid="pattern-preview"]').text()).toBe('白班 08:00 起 10 小时、夜班 18:00 起 14 小时')
    await w.get('[data-testid="pattern-form"]').trigger('submit')
    await flushPromises()

    const post = calls.find((c) => c.method === 'POST')!
    expect(post.body).toEqual({
      division_adcode: TOWN,
      name: '白夜班',
      kind: 'day_night',
      shifts: [
        { code: 'day', start: '08:00', hours: 10 },
        { code: 'night', start: '18:00', hours: 14 },
      ],
      min_rest_hours: 8,
    })
    expect(w.get('[data-testid="patterns-table"]').text()).toContain('白夜班')
  })

  it('sends nothing without a name and says a repeated name in Chinese', async () => {
    routes['POST /duty/patterns'] = () => refusal(409, 'shift_pattern_exists')
    const w = await mountSetup()
    await w.get('[data-testid="pattern-form"]').trigger('submit')
    await flushPromises()
    expect(calls.filter((c) => c.method === 'POST')).toHaveLength(0)

    await w.get('input[data-testid="pattern-name"]').setValue('24小时值班')
    await w.get('[data-testid="pattern-form"]').trigger('submit')
    await flushPromises()
    expect(w.get('[data-testid="setup-error"]').text()).toContain('已有同名班次模式')
  })
})

describe('generating a month', () => {
  it('sends each seat its people in the order chosen and lists the conflicts in Chinese', async () => {
    routes['POST /duty/roster/generate'] = () =>
      json(201, {
        division_adcode: TOWN,
        month: '2026-09',
        created: 90,
        conflicts: [
          { code: 'empty_seat', shift_ids: ['s1'], person_id: null, person_name: null, starts_at: '2026-09-01T00:30:00Z', rest_hours: null, min_rest_hours: null },
          { code: 'short_rest', shift_ids: ['s2', 's3'], person_id: 'p2', person_name: '李四', starts_at: '2026-09-02T00:30:00Z', rest_hours: 0, min_rest_hours: 8 },
          { code: 'double_booked', shift_ids: ['s4', 's5'], person_id: 'p1', person_name: '张三', starts_at: '2026-09-03T00:30:00Z', rest_hours: null, min_rest_hours: null },
        ],
      })
    const w = await mountSetup()
    await choose(w.get('[data-testid="rotation-leader||1"]').element, '张三')
    await choose(w.get('[data-testid="rotation-officer||1"]').element, '王五', '李四')
    await w.get('[data-testid="generate-form"]').trigger('submit')
    await flushPromises()

    const post = calls.find((c) => c.path === '/duty/roster/generate')!
    expect(post.body).toEqual({
      division_adcode: TOWN,
      month: '2026-09',
      pattern_id: 'pat-1',
      replace: false,
      rotations: [
        { position: 'leader', label: '', seat: 1, people: ['p1'], offset: 0 },
        { position: 'officer', label: '', seat: 1, people: ['p3', 'p2'], offset: 0 },
      ],
    })
    const result = w.get('[data-testid="generate-result"]').text()
    expect(result).toContain('共生成 90 个班次')
    expect(result).toContain('空岗')
    expect(result).toContain('李四（间隔 0 小时，至少 8 小时）')
    expect(result).toContain('一人两岗')
    expect(w.emitted('generated')).toEqual([['2026-09']])
  })

  it('says a month that has a roster in Chinese and changes nothing on screen', async () => {
    routes['POST /duty/roster/generate'] = () => refusal(409, 'roster_month_exists')
    const w = await mountSetup()
    await w.get('[data-testid="generate-form"]').trigger('submit')
    await flushPromises()
    expect(w.get('[data-testid="setup-error"]').text()).toContain('该月已排班')
    expect(w.find('[data-testid="generate-result"]').exists()).toBe(false)
    expect(w.emitted('generated')).toBeUndefined()
  })

  it('asks for positions before a month can be generated', async () => {
    routes['GET /duty/positions'] = () => json(200, { items: [] })
    const w = await mountSetup()
    expect(w.get('[data-testid="generate-problems"]').text()).toContain('请先保存值班岗位')
    expect(w.get('[data-testid="run-generate"]').attributes('disabled')).toBeDefined()
  })
})

describe('the roster page', () => {
  it('offers roster setup to a roster manager only', async () => {
    signIn(['duty.read', 'duty.write'])
    const officer = mount(RosterView, { global: { plugins: [i18n] }, attachTo: document.body })
    await flushPromises()
    expect(officer.find('[data-testid="roster-setup-open"]').exists()).toBe(false)
    officer.unmount()

    signIn(['duty.read', 'duty.write', 'duty.roster'])
    const manager = mount(RosterView, { global: { plugins: [i18n] }, attachTo: document.body })
    await flushPromises()
    await manager.get('[data-testid="roster-setup-open"]').trigger('click')
    await flushPromises()
    expect(document.body.querySelector('[data-testid="roster-setup"]')).not.toBeNull()
    expect(calls.some((c) => c.path === '/duty/positions' && c.query.get('division') === TOWN)).toBe(true)
  })
})

describe('the words of roster setup and the deadline tables', () => {
  it('has the same keys in zh-CN and en', () => {
    const keys = (o: unknown, prefix = ''): string[] =>
      Object.entries(o as Record<string, unknown>).flatMap(([k, v]) =>
        v && typeof v === 'object' ? keys(v, `${prefix}${k}.`) : [`${prefix}${k}`],
      )
    for (const messages of [rosterMessages, adminMessages]) {
      expect(keys(messages['zh-CN']).sort()).toEqual(keys(messages.en).sort())
    }
  })
})
