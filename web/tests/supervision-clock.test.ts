/** The supervision board moves orders with the clock, not only when an event arrives. */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { flushPromises, mount, type VueWrapper } from '@vue/test-utils'
import { createPinia, setActivePinia } from 'pinia'
import { i18n } from '@/i18n'
import type { SupervisedOrder } from '@/api/orders'
import SupervisionView from '@/views/supervision/SupervisionView.vue'

const T0 = Date.parse('2026-12-01T08:00:00Z')
const at = (minutes: number) => new Date(T0 + minutes * 60_000).toISOString()

function order(id: string, over: Partial<SupervisedOrder>): SupervisedOrder {
  return {
    id,
    incident_id: 'i1',
    unit_id: 'u1',
    responsible_unit_id: 'u1',
    role: 'lead',
    stage: 'issued',
    chosen_by: 'rule',
    needs_presence: true,
    issued_at: at(-5),
    sign_due_at: at(2),
    arrive_due_at: at(40),
    feedback_due_at: null,
    complete_due_at: at(600),
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
    incident: { id: 'i1', number: '20261201-0001', title: '半源村民房火灾', category_code: 'accident.fire', level: 'IV', state: 'responding', address: null, lon: null, lat: null },
    escalations: [],
    unit_name: '县消防救援大队',
    responsible_unit_name: null,
    ...over,
  } as SupervisedOrder
}

let server: SupervisedOrder[]
let asked: number[]
let w: VueWrapper | null = null

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] })
  vi.setSystemTime(T0)
  i18n.global.locale.value = 'zh-CN'
  setActivePinia(createPinia())
  asked = []
  vi.stubGlobal(
    'fetch',
    vi.fn(async (url: RequestInfo | URL) => {
      const within = Number(new URL(String(url), 'http://x').searchParams.get('within_minutes'))
      asked.push(within)
      // what the server answers: open orders with a deadline passed or within the horizon
      const soon = Date.now() + within * 60_000
      const due = (o: SupervisedOrder) =>
        [o.stage === 'issued' ? o.sign_due_at : null, o.stage === 'signed' ? o.arrive_due_at : null, o.complete_due_at, o.feedback_due_at]
          .filter((d): d is string => !!d)
          .some((d) => Date.parse(d) <= soon)
      return new Response(JSON.stringify(server.filter(due)), { status: 200, headers: { 'content-type': 'application/json' } })
    }),
  )
})
afterEach(() => {
  w?.unmount()
  w = null
  vi.useRealTimers()
  vi.unstubAllGlobals()
})

async function mountBoard() {
  w = mount(SupervisionView, { global: { plugins: [i18n], stubs: { 'router-link': { template: '<a><slot /></a>' } } } })
  await flushPromises()
  return w
}
const count = (name: string) => Number(w!.get(`[data-testid="count-${name}"] strong`).text())
const states = () => w!.findAll('[data-testid="countdown"]').map((c) => c.attributes('data-state'))
async function tick(ms: number) {
  vi.advanceTimersByTime(ms)
  await flushPromises()
}

describe('the supervision board keeps time', () => {
  it('turns an order overdue at its deadline, without any event', async () => {
    server = [order('o1', {})]
    await mountBoard()
    expect([count('overdue'), count('soon')]).toEqual([0, 1])
    expect(states()).toEqual(['soon'])
    await tick(2 * 60_000 - 2000)
    expect(count('overdue')).toBe(0)
    await tick(3000)
    expect([count('overdue'), count('soon')]).toEqual([1, 0])
    expect(states()).toEqual(['overdue'])
    expect(w!.get('[data-testid="supervision-table"] .state-overdue').text()).toContain('县消防救援大队')
  })

  it('shows an order when it comes due within the horizon, from what it fetched ahead', async () => {
    // the board's horizon is 60 minutes; this order owes its signature in 90
    server = [order('later', { sign_due_at: at(90), complete_due_at: at(900) })]
    await mountBoard()
    expect(asked).toEqual([120]) // fetched twice the horizon ahead
    expect(states()).toEqual([])
    await tick(30 * 60_000 - 1000)
    expect(states()).toEqual([])
    await tick(2000)
    expect(states()).toEqual(['ok'])
    expect(count('soon')).toBe(1)
    await tick(60 * 60_000)
    expect(states()).toEqual(['overdue'])
    expect(count('overdue')).toBe(1)
  })

  it('fetches again when the look-ahead is used up, so a far order still arrives on time', async () => {
    server = [order('far', { sign_due_at: at(150), complete_due_at: at(900) })]
    await mountBoard()
    expect(states()).toEqual([])
    await tick(60 * 60_000) // the look-ahead (60 minutes beyond the horizon) is used up
    expect(asked).toEqual([120, 120])
    expect(states()).toEqual([])
    await tick(30 * 60_000 + 1000)
    expect(states()).toEqual(['ok'])
    await tick(60 * 60_000)
    expect(states()).toEqual(['overdue'])
    expect(asked).toHaveLength(3)
  })
})
