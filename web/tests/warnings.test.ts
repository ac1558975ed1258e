import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { flushPromises, mount } from '@vue/test-utils'
import { createPinia, setActivePinia } from 'pinia'
import { i18n } from '@/i18n'
import warningMessages from '@/i18n/features/warning'
import { FEATURES } from '@/i18n/features'
import { router, routes } from '@/router'
import { visibleNav } from '@/router/nav'
import { useAuthStore } from '@/stores/auth'
import { useEventsStore } from '@/stores/events'
import type { LiveEvent, Me } from '@/api/types'
import type { AckInfo, AckResult, Board, Warning, WarningType } from '@/api/warnings'
import {
  allowedLevels,
  areaBounds,
  boardTotals,
  draftProblems,
  drawnArea,
  eventWarningId,
  isEditable,
  levelColour,
  sortTowns,
  tabQuery,
  togglePicked,
  workflowSteps,
} from '@/components/warning/logic'
import AckView from '@/views/AckView.vue'
import CallBoard from '@/components/warning/CallBoard.vue'
import WarningActions from '@/components/warning/WarningActions.vue'

function jsonResponse(status: number, body: unknown) {
  return new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } })
}

const TYPES: WarningType[] = [
  { code: 'rainstorm', name_zh: '暴雨', name_en: 'Rainstorm', family: 'meteorological', levels: ['blue', 'yellow', 'orange', 'red'], cap_category: 'Met', authority_zh: '气象局' },
  { code: 'frost', name_zh: '霜冻', name_en: 'Frost', family: 'meteorological', levels: ['blue', 'yellow', 'orange'], cap_category: 'Met', authority_zh: '气象局' },
]

const AUTHOR = '00000000-0000-0000-0000-0000000000a1'
const REVIEWER = '00000000-0000-0000-0000-0000000000b2'

function warningFixture(over: Partial<Warning> = {}): Warning {
  return {
    id: '11111111-1111-1111-1111-111111111111',
    number: 'YJ-W-20261207-0001',
    identifier: null,
    sender: null,
    origin: 'authored',
    state: 'draft',
    cap_status: 'Actual',
    msg_type: 'Alert',
    replaces_id: null,
    references: [],
    relayed_from_id: null,
    type_code: 'rainstorm',
    event_text: null,
    level: 'orange',
    headline: '庆元县气象台发布暴雨橙色预警',
    description: '',
    instruction: '',
    headline_en: null,
    description_en: null,
    instruction_en: null,
    issuer: '庆元县应急管理局',
    division_adcode: '331126000000',
    area_desc: '',
    area: null,
    area_adcodes: ['331126101000', '331126102000'],
    onset_at: null,
    expires_at: null,
    sent_at: null,
    call_plan: null,
    source: null,
    created_by: AUTHOR,
    submitted_by: null,
    submitted_at: null,
    approved_by: null,
    approved_at: null,
    signed_by: null,
    signed_at: null,
    published_by: null,
    published_at: null,
    cancelled_by: null,
    cancelled_at: null,
    state_reason: null,
    recipient_count: 0,
    version: 3,
    created_at: '2026-12-07T01:00:00Z',
    updated_at: '2026-12-07T01:00:00Z',
    ...over,
  }
}

function me(id: string, permissions: string[]): Me {
  return {
    id,
    username: 'u',
    display_name: 'U',
    roles: [],
    permissions,
    unit_id: null,
    scope: { division_path: '/33/3311/331126/', everything: false, unit_id: null },
  }
}

beforeEach(() => {
  i18n.global.locale.value = 'zh-CN'
  setActivePinia(createPinia())
})
afterEach(() => {
  vi.unstubAllGlobals()
  document.body.innerHTML = ''
})

describe('warning rules', () => {
  it('colours levels as the signals are printed, grey for none', () => {
    expect(levelColour('orange').bg).toBe('#f08200')
    expect(levelColour('yellow').fg).toBe('#303133')
    expect(levelColour(null).bg).toBe('#909399')
    expect(levelColour('purple').bg).toBe('#909399')
  })

  it('offers only the levels a type allows, most severe first', () => {
    expect(allowedLevels(TYPES, 'frost')).toEqual(['orange', 'yellow', 'blue'])
    expect(allowedLevels(TYPES, null)).toEqual(['red', 'orange', 'yellow', 'blue'])
  })

  it('gives each step to its permission and never 审核/签发 to the author', () => {
    const all = () => true
    const draft = warningFixture()
    expect(workflowSteps(draft, all, AUTHOR)).toEqual(['submit', 'cancel'])
    const submitted = warningFixture({ state: 'submitted' })
    expect(workflowSteps(submitted, all, AUTHOR)).toEqual(['return'])
    expect(workflowSteps(submitted, all, REVIEWER)).toEqual(['approve', 'return'])
    const approved = warningFixture({ state: 'approved' })
    expect(workflowSteps(approved, (p) => p === 'warning.review', REVIEWER)).toEqual(['return'])
    expect(workflowSteps(approved, (p) => p === 'warning.sign', REVIEWER)).toEqual(['sign'])
    expect(workflowSteps(warningFixture({ state: 'signed' }), (p) => p === 'warning.publish', AUTHOR)).toEqual(['publish'])
    expect(workflowSteps(warningFixture({ state: 'published' }), all, AUTHOR)).toEqual(['update', 'cancel'])
    expect(workflowSteps(warningFixture({ state: 'received', origin: 'received' }), all, REVIEWER)).toEqual(['relay', 'dismiss'])
    expect(workflowSteps(warningFixture({ state: 'cancelled' }), all, REVIEWER)).toEqual([])
    expect(workflowSteps(draft, () => false, AUTHOR)).toEqual([])
  })

  it('edits only our own drafts and returned ones', () => {
    expect(isEditable(warningFixture())).toBe(true)
    expect(isEditable(warningFixture({ state: 'returned' }))).toBe(true)
    expect(isEditable(warningFixture({ state: 'submitted' }))).toBe(false)
    expect(isEditable(warningFixture({ state: 'draft', origin: 'received' }))).toBe(false)
  })

  it('filters the list tabs by origin or state', () => {
    expect(tabQuery('ours')).toEqual({ origin: 'authored' })
    expect(tabQuery('received')).toEqual({ origin: 'received' })
    expect(tabQuery('in_force')).toEqual({ state: 'published' })
  })

  it('makes the drawn polygons one MultiPolygon and bounds it', () => {
    const square = [[[119, 27], [119.1, 27], [119.1, 27.1], [119, 27.1], [119, 27]]]
    const area = drawnArea([
      { geometry: { type: 'Polygon', coordinates: square } },
      { geometry: { type: 'Point', coordinates: [1, 2] } },
      { geometry: { type: 'Polygon', coordinates: [[[118.9, 27.5], [119, 27.5], [119, 27.6], [118.9, 27.5]]] } },
    ])
    expect(area?.type).toBe('MultiPolygon')
    expect(area?.coordinates).toHaveLength(2)
    expect(areaBounds(area)).toEqual([118.9, 27, 119.1, 27.6])
    expect(drawnArea([])).toBeNull()
    expect(areaBounds(null)).toBeNull()
  })

  it('toggles picked towns, kept sorted', () => {
    expect(togglePicked(['331126102000'], '331126101000')).toEqual(['331126101000', '331126102000'])
    expect(togglePicked(['331126101000', '331126102000'], '331126101000')).toEqual(['331126102000'])
  })

  it('checks a draft before it is sent', () => {
    const base = { type_code: 'frost', level: 'red' as const, headline: ' ', issuer: '', area: null, area_adcodes: [], onset_at: '2026-12-07T02:00:00Z', expires_at: '2026-12-07T01:00:00Z' }
    expect(draftProblems(base, TYPES)).toEqual(['level_not_allowed', 'headline_required', 'issuer_required', 'area_required', 'times_order'])
    expect(draftProblems({ ...base, level: 'orange', headline: '霜冻', issuer: '庆元县应急管理局', area_adcodes: ['331126101000'], expires_at: null }, TYPES)).toEqual([])
  })

  it('totals the board, from the server when it sends them, and puts unanswered towns first', () => {
    const board: Board = {
      warning_id: 'w',
      state: 'published',
      totals: { called: 5, answered: 3, overdue: 1, escalated: 1, exhausted: 0 },
      towns: [
        { town_adcode: '1', town_name: '甲镇', called: 2, answered: 2, overdue: 0, escalated: 0, exhausted: 0, people: [] },
        { town_adcode: '2', town_name: '乙镇', called: 3, answered: 1, overdue: 1, escalated: 1, exhausted: 0, people: [] },
      ],
    }
    expect(boardTotals(board)).toEqual({ called: 5, answered: 3, overdue: 1, escalated: 1 })
    expect(boardTotals({ towns: board.towns })).toEqual({ called: 5, answered: 3, overdue: 1, escalated: 1 })
    expect(boardTotals({ ...board, totals: { called: 9, answered: 8, overdue: 1, escalated: 0, exhausted: 0 } }).called).toBe(9)
    expect(sortTowns(board.towns).map((t) => t.town_name)).toEqual(['乙镇', '甲镇'])
    const county = { town_adcode: null, town_name: null, called: 9, answered: 0, overdue: 0, escalated: 0, exhausted: 0, people: [] }
    expect(sortTowns([county, ...board.towns]).map((t) => t.town_name)).toEqual(['乙镇', '甲镇', null])
  })

  it('finds the warning a live event is about, whatever its payload', () => {
    const ev = (payload: unknown, subject: Partial<LiveEvent> = {}): LiveEvent => ({
      id: '1',
      type: 'warning.acknowledged',
      subject_type: null,
      subject_id: null,
      payload,
      occurred_at: '',
      ...subject,
    })
    expect(eventWarningId(ev({ warning_id: 'a' }))).toBe('a')
    expect(eventWarningId(ev({ warning: { id: 'b' } }))).toBe('b')
    expect(eventWarningId(ev({ subject_id: 'c', counts: {} }))).toBe('c')
    expect(eventWarningId(ev(null, { subject_type: 'warning', subject_id: 'd' }))).toBe('d')
    expect(eventWarningId(ev({}))).toBeNull()
  })
})

describe('warning words', () => {
  function keys(value: unknown, prefix = ''): string[] {
    if (!value || typeof value !== 'object') return [prefix]
    return Object.entries(value).flatMap(([k, v]) => keys(v, prefix ? `${prefix}.${k}` : k))
  }
  it('says every warning word in Chinese and English', () => {
    expect(FEATURES).toContain(warningMessages)
    expect(keys(warningMessages.en).sort()).toEqual(keys(warningMessages['zh-CN']).sort())
  })
  it('names every shipped type', async () => {
    const shipped = await import('../../src/yingji/data/warning_types.json')
    const codes = (shipped.default.types as { code: string }[]).map((t) => t.code).sort()
    expect(Object.keys(warningMessages['zh-CN'].warning.typeName).sort()).toEqual(codes)
  })
})

describe('warning navigation', () => {
  it('shows the warnings to readers and the call plans to managers only', () => {
    const paths = (perms: string[]) => visibleNav((p) => !p || perms.includes(p)).flatMap((g) => g.items.map((i) => i.path))
    expect(paths(['warning.read'])).toEqual(['/warnings'])
    expect(paths(['warning.read', 'warning.manage'])).toEqual(['/warnings', '/warnings/call-plans'])
  })
  it('opens the phone page without signing in', () => {
    const ack = routes.find((r) => r.path === '/ack/:token')
    expect(ack?.meta?.public).toBe(true)
  })
})

describe('the phone page', () => {
  const info: AckInfo = {
    warning: {
      id: 'w1',
      number: 'YJ-W-20261207-0001',
      state: 'published',
      msg_type: 'Alert',
      type_code: 'rainstorm',
      event_text: null,
      level: 'orange',
      headline: '暴雨橙色预警',
      description: '',
      instruction: '请立即组织转移',
      issuer: '庆元县应急管理局',
      area_desc: '竹口镇、黄田镇',
      onset_at: null,
      expires_at: null,
      sent_at: '2026-12-07T01:00:00Z',
    },
    name: '张三',
    must_ack: true,
    acknowledged: false,
    acked_at: null,
  }

  async function mountAck(answers: { post: () => Response }) {
    const calls: { method: string; url: string }[] = []
    vi.stubGlobal(
      'fetch',
      vi.fn(async (url: RequestInfo | URL, init?: RequestInit) => {
        const method = init?.method ?? 'GET'
        calls.push({ method, url: String(url) })
        if (method === 'POST') return answers.post()
        return jsonResponse(200, info)
      }),
    )
    useAuthStore().loaded = true
    const w = mount(AckView, { props: { token: 'tok-123' }, global: { plugins: [i18n, router] } })
    await flushPromises()
    return { w, calls }
  }

  it('shows the warning in its colour and acknowledges with one press', async () => {
    const result: AckResult = { status: 'acknowledged', warning_id: 'w1', recipient_id: 'r1', acked_at: '2026-12-07T01:05:00Z' }
    const { w, calls } = await mountAck({ post: () => jsonResponse(200, result) })
    expect(w.get('[data-testid=ack-headline]').text()).toBe('暴雨橙色预警')
    expect(w.text()).toContain('暴雨橙色预警')
    expect(w.get('.band').attributes('style')).toContain('rgb(240, 130, 0)')
    await w.get('[data-testid=ack-button]').trigger('click')
    await flushPromises()
    expect(calls.at(-1)).toEqual({ method: 'POST', url: '/api/v1/warnings/ack/tok-123' })
    expect(w.get('[data-testid=ack-done]').text()).toContain('已确认收到')
    expect(w.find('[data-testid=ack-button]').exists()).toBe(false)
  })

  it('says so when it was acknowledged before', async () => {
    const result: AckResult = { status: 'already_acknowledged', warning_id: 'w1', recipient_id: 'r1', acked_at: '2026-12-07T01:05:00Z' }
    const { w } = await mountAck({ post: () => jsonResponse(200, result) })
    await w.get('[data-testid=ack-button]').trigger('click')
    await flushPromises()
    expect(w.get('[data-testid=ack-done]').text()).toContain('此前已确认收到')
  })

  it('says a wrong link is not valid, in words', async () => {
    vi.stubGlobal('fetch', vi.fn(async () => jsonResponse(404, { error: { code: 'ack_not_found', message: 'x' } })))
    const w = mount(AckView, { props: { token: 'nope' }, global: { plugins: [i18n, router] } })
    await flushPromises()
    expect(w.text()).toContain('链接无效或已过期')
    expect(w.find('[data-testid=ack-button]').exists()).toBe(false)
  })
})

describe('the 叫应 board', () => {
  const board: Board = {
    warning_id: 'w1',
    state: 'published',
    totals: { called: 2, answered: 1, overdue: 1, escalated: 0, exhausted: 0 },
    towns: [
      {
        town_adcode: '331126101000',
        town_name: '竹口镇',
        called: 2,
        answered: 1,
        overdue: 1,
        escalated: 0,
        exhausted: 0,
        people: [
          { recipient_id: 'r1', name: '张三', position: '镇长', reason: 'town_head', call_state: 'answered', call_step: 0, acked_at: '2026-12-07T01:05:00Z', escalated_from_id: null, overdue: false },
          { recipient_id: 'r2', name: '李四', position: null, reason: 'village_head', call_state: 'waiting', call_step: 1, acked_at: null, escalated_from_id: null, overdue: true },
        ],
      },
    ],
  }

  it('shows the counts and people, and reloads on this warning’s acknowledgement', async () => {
    vi.useFakeTimers()
    let answered = 1
    const fetchMock = vi.fn(async () =>
      jsonResponse(200, { ...board, totals: { ...board.totals, answered }, towns: [{ ...board.towns[0]!, answered }] }),
    )
    vi.stubGlobal('fetch', fetchMock)
    const w = mount(CallBoard, { props: { warningId: 'w1' }, global: { plugins: [i18n] } })
    await flushPromises()
    expect(w.get('[data-testid=board-called]').text()).toBe('2')
    expect(w.get('[data-testid=board-answered]').text()).toBe('1')
    expect(w.text()).toContain('李四')
    expect(w.text()).toContain('村（社区）责任人')
    expect(w.text()).toContain('等待应答')

    answered = 2
    const events = useEventsStore()
    events.ingest({ id: 'e1', type: 'warning.acknowledged', subject_type: 'warning', subject_id: 'other', payload: { warning_id: 'other' }, occurred_at: '' })
    await vi.advanceTimersByTimeAsync(500)
    expect(fetchMock).toHaveBeenCalledTimes(1) // another warning's event: nothing to do
    events.ingest({ id: 'e2', type: 'warning.acknowledged', subject_type: 'warning', subject_id: 'w1', payload: { warning_id: 'w1' }, occurred_at: '' })
    await vi.advanceTimersByTimeAsync(500)
    await flushPromises()
    expect(fetchMock).toHaveBeenCalledTimes(2)
    expect(w.get('[data-testid=board-answered]').text()).toBe('2')
    vi.useRealTimers()
  })
})

describe('the workflow buttons', () => {
  it('shows a reviewer 审核通过 and 退回, the author only 退回, and sends the version read', async () => {
    const auth = useAuthStore()
    auth.me = me(REVIEWER, ['warning.read', 'warning.review'])
    auth.loaded = true
    const submitted = warningFixture({ state: 'submitted' })
    const fetchMock = vi.fn(async (_url: RequestInfo | URL, _init?: RequestInit) => jsonResponse(200, { ...submitted, state: 'approved', version: 4 }))
    vi.stubGlobal('fetch', fetchMock)
    const w = mount(WarningActions, { props: { warning: submitted }, global: { plugins: [i18n] } })
    expect(w.findAll('button').map((b) => b.text())).toEqual(['审核通过', '退回'])
    await w.get('[data-testid=step-approve]').trigger('click')
    await flushPromises()
    const [url, init] = fetchMock.mock.calls[0]!
    expect(String(url)).toBe(`/api/v1/warnings/${submitted.id}/approve`)
    expect(JSON.parse(String(init?.body))).toEqual({ version: 3 })
    expect(w.emitted('done')?.[0]?.[1]).toBe('approve')

    auth.me = me(AUTHOR, ['warning.read', 'warning.review'])
    const mine = mount(WarningActions, { props: { warning: submitted }, global: { plugins: [i18n] } })
    expect(mine.findAll('button').map((b) => b.text())).toEqual(['退回'])
  })
})

describe('a CAP message taken from a file', () => {
  it('is posted as it is, as application/cap+xml with the CSRF token, and a refusal keeps its code', async () => {
    const { receiveCap } = await import('@/api/warnings')
    const { setCsrfToken } = await import('@/api/client')
    setCsrfToken('csrf-1')
    const xml = '<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"/>'
    const fetchMock = vi.fn(async (_url: RequestInfo | URL, _init?: RequestInit) => jsonResponse(201, warningFixture({ origin: 'received', state: 'received' })))
    vi.stubGlobal('fetch', fetchMock)
    const file = new Blob([xml])
    const w = await receiveCap(file)
    expect(w.state).toBe('received')
    const [url, init] = fetchMock.mock.calls[0]!
    expect(String(url)).toBe('/api/v1/warnings:cap')
    const headers = init?.headers as Record<string, string>
    expect(headers['Content-Type']).toBe('application/cap+xml')
    expect(headers['X-CSRF-Token']).toBe('csrf-1')
    expect(init?.body).toBe(file) // the bytes as they are, not re-encoded

    vi.stubGlobal('fetch', vi.fn(async () => jsonResponse(422, { error: { code: 'cap_version_unsupported', message: 'x' } })))
    await expect(receiveCap(new Blob([xml]))).rejects.toMatchObject({ code: 'cap_version_unsupported', status: 422 })
    setCsrfToken(null)
  })
})

describe('delivery failures in words', () => {
  it('words a known code, a channel’s code and an unknown one', async () => {
    const { deliveryErrorLabel } = await import('@/views/warnings/words')
    const { t, te } = i18n.global
    const w = { t: (k: string, p?: Record<string, unknown>) => (p ? t(k, p) : t(k)), te: (k: string) => te(k), locale: 'zh-CN' }
    expect(deliveryErrorLabel('channel_not_configured', w)).toBe('该渠道未配置')
    expect(deliveryErrorLabel('sms_unavailable', w)).toBe('短信：暂时无法送达')
    expect(deliveryErrorLabel('wecom_webhook_not_allowed', w)).toBe('企业微信：机器人地址不在允许范围内')
    expect(deliveryErrorLabel('something_new', w)).toBe('其他原因')
    expect(deliveryErrorLabel(null, w)).toBe('')
  })
})

describe('a warning in the audit log', () => {
  it('words a warning’s state and level by its own words, an order’s by the order’s', async () => {
    const { wordsOf } = await import('@/utils/words')
    const { t, te, locale } = i18n.global
    const words = wordsOf({ t, te, locale } as unknown as Parameters<typeof wordsOf>[0])
    expect(words.changesText({ state: 'approved', level: 'orange' }, { state: 'signed', level: 'red' }, 'warning')).toEqual([
      expect.stringContaining('待签发'),
      expect.stringContaining('红色'),
    ])
    expect(words.changesText({ state: 'approved' }, { state: 'signed' }, 'warning')[0]).toContain('待发布')
    expect(words.changesText({ stage: 'issued' }, { stage: 'signed' }, 'order')[0]).toContain('已签收')
    expect(words.actionText('warning.published')).toBe('发布预警')
    expect(words.subjectText('warning')).toBe('预警')
  })
})

describe('my notifications', () => {
  it('offers 确认收到 on a warning sent to me, not on a workflow notice, and acknowledges in the app', async () => {
    const { default: NotificationsView } = await import('@/views/NotificationsView.vue')
    const note = (id: string, kind: string) => ({
      id,
      kind,
      title: '预警',
      body: '竹口镇暴雨橙色预警',
      subject_type: 'warning',
      subject_id: 'w1',
      created_at: '2026-12-07T01:00:00Z',
      read_at: null,
    })
    const calls: string[] = []
    vi.stubGlobal(
      'fetch',
      vi.fn(async (url: RequestInfo | URL, init?: RequestInit) => {
        calls.push(`${init?.method ?? 'GET'} ${String(url)}`)
        if (String(url).includes('/warnings/w1/ack')) return jsonResponse(200, { status: 'acknowledged', warning_id: 'w1', recipient_id: 'r1', acked_at: '2026-12-07T01:05:00Z' })
        if (String(url).includes('/read')) return jsonResponse(200, { ...note('n1', 'warning.publish'), read_at: '2026-12-07T01:05:00Z' })
        return jsonResponse(200, { items: [note('n1', 'warning.publish'), note('n2', 'warning_publish')], total: 2 })
      }),
    )
    const w = mount(NotificationsView, { global: { plugins: [i18n, router] } })
    await flushPromises()
    const buttons = w.findAll('[data-testid=notification-ack]')
    expect(buttons).toHaveLength(1)
    await buttons[0]!.trigger('click')
    await flushPromises()
    expect(calls).toContain('POST /api/v1/warnings/w1/ack')
    expect(calls).toContain('POST /api/v1/notifications/n1/read')
  })
})
