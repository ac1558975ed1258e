import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { flushPromises, mount } from '@vue/test-utils'
import { defineComponent } from 'vue'
import { createPinia, setActivePinia } from 'pinia'
import IntakeDeskView from '@/views/intake/IntakeDeskView.vue'
import { router } from '@/router'
import { i18n } from '@/i18n'
import { setCsrfToken } from '@/api/client'
import { PREVIEW_DELAY_MS } from '@/views/intake/draft'
import { useEventsStore } from '@/stores/events'

type Handler = (body: unknown) => [number, unknown]

function jsonResponse(status: number, body: unknown) {
  return new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } })
}

const CANDIDATE = {
  incident_id: 'inc-A',
  number: '20261201-AAAAAA',
  title: '火灾 · 官塘中心学校',
  category_code: 'accident.fire',
  level: 'IV',
  state: 'reported',
  address: '官塘中心学校',
  lon: 119.21,
  lat: 27.76,
  first_reported_at: '2026-12-01T03:00:00Z',
  last_reported_at: '2026-12-01T03:00:00Z',
  report_count: 1,
  score: 0.61,
  distance_m: 140,
  minutes: 6,
  text_similarity: 0.4,
  suggested: true,
  reason: 'same category within 140 m and 6 min; text 0.40',
}

function receipt(extra: Record<string, unknown>) {
  return {
    report_id: 'rep-1',
    incident_id: 'inc-B',
    created: true,
    duplicate: false,
    reason: 'no open incident of a related category in the window',
    status: 'accepted',
    suggestions: [],
    ...extra,
  }
}

/** A fake backend: `routes['POST /intake/reports']` etc.; every call is recorded. */
function backend(routes: Record<string, Handler>) {
  const calls: { key: string; body: unknown }[] = []
  const fetchMock = vi.fn(async (input: RequestInfo | URL, init?: RequestInit) => {
    const url = new URL(String(input), 'http://desk.test')
    const key = `${init?.method ?? 'GET'} ${url.pathname.replace('/api/v1', '')}`
    const body = init?.body ? JSON.parse(String(init.body)) : undefined
    calls.push({ key, body })
    const defaults: Record<string, Handler> = {
      'GET /intake/categories': () => [200, []],
      'POST /intake/classify': () => [
        200,
        {
          category_code: 'accident.fire',
          name_zh: '火灾',
          score: 5,
          words: [{ word: '着火', weight: 3.5 }],
          runner_up: null,
          suggested_level: 'IV',
          level_reason: 'default',
        },
      ],
      'POST /intake/candidates': () => [
        200,
        {
          category_code: 'accident.fire',
          lon: 119.21,
          lat: 27.76,
          division_adcode: null,
          outcome: 'suggest',
          incident_id: null,
          reason: 'possible duplicate',
          candidates: [CANDIDATE],
        },
      ],
      'GET /incidents/inc-B': () => [200, { id: 'inc-B', number: '20261201-BBBBBB' }],
    }
    const handler = routes[key] ?? defaults[key]
    if (!handler) return jsonResponse(404, { error: { code: 'not_found', message: key, details: null } })
    const [status, answer] = handler(body)
    return jsonResponse(status, answer)
  })
  vi.stubGlobal('fetch', fetchMock)
  return calls
}

const reloadWaiting = vi.fn()
const WaitingStub = defineComponent({
  setup(_, { expose }) {
    expose({ reload: reloadWaiting, placeAt: vi.fn() })
    return () => null
  },
})

async function mountDesk() {
  reloadWaiting.mockClear()
  const pinia = createPinia()
  setActivePinia(pinia)
  await router.push('/login')
  await router.isReady()
  return mount(IntakeDeskView, {
    global: {
      plugins: [pinia, i18n, router],
      stubs: { IntakeMap: true, WaitingReports: WaitingStub },
    },
    attachTo: document.body,
  })
}

async function settle() {
  await new Promise((resolve) => setTimeout(resolve, PREVIEW_DELAY_MS + 50))
  await flushPromises()
}

beforeEach(() => {
  i18n.global.locale.value = 'zh-CN'
  setCsrfToken('t')
})
afterEach(() => {
  vi.unstubAllGlobals()
  document.body.innerHTML = ''
})

describe('intake desk', () => {
  it('shows a possible duplicate with distance and time, and one click files the call into it', async () => {
    const calls = backend({
      'POST /intake/reports': () => [201, receipt({})],
      'POST /intake/reports/rep-1/join': () => [
        200,
        receipt({ incident_id: 'inc-A', created: false, duplicate: true, reason: 'joined by duty_officer', why: { code: 'match.joined_by', params: { person: '王芳' } } }),
      ],
    })
    const w = await mountDesk()
    await w.get('textarea').setValue('学校那边有间房子着火了')
    await settle()
    const card = w.get('[data-testid="duplicate-candidate"]')
    expect(card.text()).toContain('20261201-AAAAAA')
    expect(card.get('[data-testid="candidate-distance"]').text()).toBe('相距 140 米')
    expect(card.get('[data-testid="candidate-minutes"]').text()).toBe('相差 6 分钟')
    expect(w.get('[data-testid="deciding-word"]').text()).toContain('着火')

    await card.get('[data-testid="join-candidate"]').trigger('click')
    await flushPromises()
    const join = calls.find((c) => c.key === 'POST /intake/reports/rep-1/join')
    expect(join?.body).toEqual({ incident_id: 'inc-A' })
    const shown = w.get('[data-testid="intake-receipt"]')
    expect(shown.get('[data-testid="receipt-incident"]').text()).toBe('20261201-AAAAAA')
    expect(shown.get('[data-testid="receipt-judgement"]').text()).toBe('重复来电，已并入已有事件')
    expect(shown.get('[data-testid="receipt-reason"]').text()).toBe('由 王芳 并入')
    expect((w.get('textarea').element as HTMLTextAreaElement).value).toBe('')
  })

  it('shows the casualties the words state with their words; they count once the officer takes them', async () => {
    const calls = backend({
      'POST /intake/classify': () => [
        200,
        {
          category_code: 'accident.fire',
          name_zh: '火灾',
          score: 5,
          words: [{ word: '着火', weight: 3.5 }],
          runner_up: null,
          suggested_level: 'IV',
          level_reason: 'default',
          level_why: { code: 'level.default', params: { level: 'IV', below: [], counts: 'extracted' } },
          casualties: { dead: 0, injured: 0, missing: 0, trapped: 1 },
          casualty_words: [{ kind: 'trapped', count: 1, words: '有人被困', at_least: false }],
          place: { name: '官塘中心学校', adcode: '331126', level: 'place', lon: 119.21, lat: 27.76 },
          outside: null,
          homophones: [],
        },
      ],
      'POST /intake/reports': () => [201, receipt({})],
    })
    const w = await mountDesk()
    await w.get('textarea').setValue('官塘中心学校旁民房着火，有人被困')
    await settle()
    await settle()
    const trappedField = () => w.get('input[aria-label="被困"]').element as HTMLInputElement
    expect(trappedField().value).toBe('0') // shown, not filled in
    expect(w.get('[data-testid="casualty-word"]').text()).toContain('被困 1')
    expect(w.get('[data-testid="casualty-word"]').text()).toContain('有人被困')
    expect(w.get('[data-testid="intake-suggestion"]').text()).toContain('据描述提取，未经确认')
    const asked = calls.filter((c) => c.key === 'POST /intake/classify')
    expect(asked[asked.length - 1].body).toEqual({ text: '官塘中心学校旁民房着火，有人被困' })
    expect(w.get('[data-testid="intake-point"]').text()).toContain('119.21000, 27.76000')

    await w.get('[data-testid="take-casualties"]').trigger('click')
    await settle()
    await settle()
    expect(trappedField().value).toBe('1')
    expect(w.find('[data-testid="casualties-confirmed"]').exists()).toBe(true)
    const again = calls.filter((c) => c.key === 'POST /intake/classify')
    expect((again[again.length - 1].body as { casualties: { trapped: number } }).casualties.trapped).toBe(1)
    await w.get('[data-testid="intake-form"]').trigger('submit')
    await flushPromises()
    const sent = calls.find((c) => c.key === 'POST /intake/reports')?.body as {
      casualties: { trapped: number }
      address: string
    }
    expect(sent.casualties.trapped).toBe(1)
    expect(sent.address).toBe('官塘中心学校')
  })

  it('sends no casualties the officer did not confirm, and offers a homophone only as a suggestion', async () => {
    const calls = backend({
      'POST /intake/classify': () => [
        200,
        {
          category_code: 'accident.drowning',
          name_zh: '溺水',
          score: 3.5,
          words: [{ word: '落水', weight: 3.5 }],
          runner_up: null,
          suggested_level: 'IV',
          level_reason: 'default',
          casualties: { dead: 0, injured: 0, missing: 0, trapped: 0 },
          casualty_words: [],
          place: null,
          outside: null,
          homophones: [{ written: '竺口镇', name: '竹口镇', adcode: '331126101000', level: 'town' }],
        },
      ],
      'POST /intake/reports': () => [201, receipt({})],
    })
    const w = await mountDesk()
    await w.get('textarea').setValue('竺口镇有人落水了')
    await settle()
    await settle()
    expect(w.get('[data-testid="homophone"]').text()).toContain('竹口镇')
    expect(w.find('[data-testid="take-casualties"]').exists()).toBe(false)
    await w.get('[data-testid="use-homophone"]').trigger('click')
    await w.get('[data-testid="intake-form"]').trigger('submit')
    await flushPromises()
    const sent = calls.find((c) => c.key === 'POST /intake/reports')?.body as Record<string, unknown>
    expect(sent.address).toBe('竹口镇')
    expect('casualties' in sent).toBe(false)
  })

  it('does not join again when the server already filed the call into the chosen incident', async () => {
    const calls = backend({
      'POST /intake/reports': () => [201, receipt({ incident_id: 'inc-A', duplicate: true, reason: 'same category' })],
    })
    const w = await mountDesk()
    await w.get('textarea').setValue('学校那边有间房子着火了')
    await settle()
    await w.get('[data-testid="join-candidate"]').trigger('click')
    await flushPromises()
    expect(calls.some((c) => c.key.endsWith('/join'))).toBe(false)
    expect(w.get('[data-testid="receipt-incident"]').text()).toBe('20261201-AAAAAA')
  })

  it('keeps the form after a refused submit, and the retry sends the same external_id', async () => {
    let attempt = 0
    const calls = backend({
      'POST /intake/reports': () =>
        ++attempt === 1
          ? [422, { error: { code: 'unknown_category', message: 'no category x', details: null } }]
          : [201, receipt({})],
    })
    const w = await mountDesk()
    await w.get('textarea').setValue('路边有辆车着火了')
    await w.get('[data-testid="intake-form"]').trigger('submit')
    await flushPromises()
    expect(w.get('[data-testid="intake-error"]').text()).toBe('未知的事件类别')
    expect((w.get('textarea').element as HTMLTextAreaElement).value).toBe('路边有辆车着火了')
    expect(w.find('[data-testid="intake-receipt"]').exists()).toBe(false)

    await w.get('[data-testid="intake-form"]').trigger('submit')
    await flushPromises()
    const sent = calls.filter((c) => c.key === 'POST /intake/reports').map((c) => c.body as { external_id: string })
    expect(sent).toHaveLength(2)
    expect(sent[1].external_id).toBe(sent[0].external_id)
    expect(w.get('[data-testid="receipt-incident"]').text()).toBe('20261201-BBBBBB')

    // the next call is a new form fill with a new id
    await w.get('textarea').setValue('又一起火情')
    await w.get('[data-testid="intake-form"]').trigger('submit')
    await flushPromises()
    const third = calls.filter((c) => c.key === 'POST /intake/reports').map((c) => c.body as { external_id: string })
    expect(third[2].external_id).not.toBe(sent[0].external_id)
  })

  it('looks for duplicates again when a live event says an incident changed (no polling)', async () => {
    const calls = backend({})
    const w = await mountDesk()
    await w.get('textarea').setValue('学校那边有间房子着火了')
    await settle()
    const asked = () => calls.filter((c) => c.key === 'POST /intake/candidates').length
    expect(asked()).toBe(1)
    await new Promise((resolve) => setTimeout(resolve, 1500))
    expect(asked()).toBe(1) // nothing happens on its own
    const events = useEventsStore()
    events.ingest({
      id: 'e-1',
      type: 'orders.signed',
      subject_type: 'order',
      subject_id: 'o',
      payload: {},
      occurred_at: '2026-12-01T03:00:00Z',
    })
    await settle()
    expect(asked()).toBe(1) // unrelated to incidents
    events.ingest({
      id: 'e-2',
      type: 'incidents.opened',
      subject_type: 'incident',
      subject_id: 'inc-C',
      payload: {},
      occurred_at: '2026-12-01T03:01:00Z',
    })
    await settle()
    expect(asked()).toBe(2)
    expect(reloadWaiting).toHaveBeenCalledTimes(1) // the side list too
  })
})
