/** The two deadline tables are one component (`DeadlineTable.vue`): each row saves on its own. */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { flushPromises, mount } from '@vue/test-utils'
import { createPinia, setActivePinia } from 'pinia'
import { i18n } from '@/i18n'
import { setCsrfToken } from '@/api/client'
import type { ReportingDeadline, StageDeadline } from '@/api/admin'
import StageDeadlines from '@/components/admin/StageDeadlines.vue'
import ReportingDeadlines from '@/components/admin/ReportingDeadlines.vue'

function json(status: number, body: unknown) {
  return new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } })
}

const stage = (id: number, prefix: string, sign: number): StageDeadline => ({
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
const reporting = (id: number, prefix: string, phone: number): ReportingDeadline => ({
  id,
  division_adcode: '',
  category_prefix: prefix,
  level: 'IV',
  phone_minutes: phone,
  written_minutes: 60,
  followup_hours: 4,
  final_days: 10,
  basis: null,
})

const TABLES = [
  {
    name: 'stage',
    component: StageDeadlines,
    path: '/stage-deadlines',
    rows: () => [stage(1, 'accident', 10), stage(2, 'natural', 15)],
    field: 'sign_minutes',
  },
  {
    name: 'reporting',
    component: ReportingDeadlines,
    path: '/reporting-deadlines',
    rows: () => [reporting(1, 'accident', 10), reporting(2, 'natural', 15)],
    field: 'phone_minutes',
  },
] as const

let puts: Record<string, unknown>[]
let answerPut: (body: Record<string, unknown>) => Response

beforeEach(() => {
  i18n.global.locale.value = 'zh-CN'
  setCsrfToken('t')
  setActivePinia(createPinia())
  puts = []
})
afterEach(() => {
  vi.unstubAllGlobals()
  document.body.innerHTML = ''
})

function serve(path: string, rows: unknown[]) {
  vi.stubGlobal(
    'fetch',
    vi.fn(async (url: RequestInfo | URL, init?: RequestInit) => {
      const method = init?.method ?? 'GET'
      if (String(url).endsWith('/divisions/331126')) return json(200, { adcode: '331126', name: '庆元县' })
      if (!String(url).endsWith(path)) return json(404, { error: { code: 'not_found', message: 'x', details: null } })
      if (method === 'GET') return json(200, rows)
      const body = JSON.parse(String(init?.body)) as Record<string, unknown>
      puts.push(body)
      return answerPut(body)
    }),
  )
}

async function mountTable(component: unknown) {
  const w = mount(component as never, {
    props: { canEdit: true, categories: [] } as never,
    global: { plugins: [i18n] },
    attachTo: document.body,
  })
  await flushPromises()
  return w
}

describe.each(TABLES)('the $name deadline table', ({ name, component, path, rows, field }) => {
  it('saves an edited row on its own and shows what the server kept', async () => {
    serve(path, rows())
    answerPut = (body) => json(200, { ...rows()[0], ...body, id: 1 })
    const w = await mountTable(component)
    const cell = w.get(`[data-testid="${name}-1-${field}"] input`)
    await cell.setValue('12')
    await cell.trigger('blur')
    await flushPromises()
    expect(w.find(`[data-testid="${name}-save-2"]`).exists()).toBe(false) // the other row is untouched

    await w.get(`[data-testid="${name}-save-1"]`).trigger('click')
    await flushPromises()
    expect(puts).toHaveLength(1)
    expect(puts[0]).toMatchObject({ category_prefix: 'accident', [field]: 12 })
    expect(w.find(`[data-testid="${name}-save-1"]`).exists()).toBe(false)
    expect((w.get(`[data-testid="${name}-1-${field}"] input`).element as HTMLInputElement).value).toBe('12')
  })

  it('puts a row the server refused back as it was and says why', async () => {
    serve(path, rows())
    answerPut = () => json(409, { error: { code: 'conflict', message: 'no', details: null } })
    const w = await mountTable(component)
    const cell = w.get(`[data-testid="${name}-1-${field}"] input`)
    await cell.setValue('12')
    await cell.trigger('blur')
    await flushPromises()
    await w.get(`[data-testid="${name}-save-1"]`).trigger('click')
    await flushPromises()

    expect(puts).toHaveLength(1)
    expect((w.get(`[data-testid="${name}-1-${field}"] input`).element as HTMLInputElement).value).toBe('10')
    expect(w.find('[role="alert"]').exists()).toBe(true)
  })

  it('refuses to add a row whose category and level are already in the table', async () => {
    serve(path, [{ ...rows()[0], category_prefix: '' }])
    answerPut = () => json(200, {})
    const w = await mountTable(component)
    await w.get(`[data-testid="${name}-add"]`).trigger('click')
    await flushPromises()
    await w.get(`[data-testid="${name}-add-form"]`).trigger('submit')
    await flushPromises()
    expect(puts).toHaveLength(0)
    expect(w.text()).toContain('该组合已存在')
  })
})

describe('the reporting deadline table', () => {
  it('sends the basis without surrounding spaces', async () => {
    serve('/reporting-deadlines', [reporting(1, 'accident', 10)])
    answerPut = (body) => json(200, { ...reporting(1, 'accident', 10), ...body, id: 1 })
    const w = await mountTable(ReportingDeadlines)
    const basis = w.get(`input[aria-label^="${i18n.global.t('admin.deadlines.basis')} — "]`)
    await basis.setValue('  《办法》第五条 ')
    await flushPromises()
    await w.get('[data-testid="reporting-save-1"]').trigger('click')
    await flushPromises()
    expect(puts[0]).toMatchObject({ basis: '《办法》第五条' })
  })

  it('shows the jurisdiction, 续报 cadence and 终报 days and saves them with the row', async () => {
    const local = { ...reporting(2, 'accident', 10), division_adcode: '331126', followup_hours: 6, final_days: 7 }
    serve('/reporting-deadlines', [reporting(1, 'accident', 10), local])
    answerPut = (body) => json(200, { ...local, ...body, id: 2 })
    const w = await mountTable(ReportingDeadlines)
    expect(w.get('[data-testid="reporting-1-division"]').text()).toBe('全部辖区')
    expect(w.get('[data-testid="reporting-2-division"]').text()).toBe('庆元县331126')
    expect((w.get('[data-testid="reporting-2-followup_hours"] input').element as HTMLInputElement).value).toBe('6')

    const cadence = w.get('[data-testid="reporting-2-followup_hours"] input')
    await cadence.setValue('3')
    await cadence.trigger('blur')
    const final = w.get('[data-testid="reporting-2-final_days"] input')
    await final.setValue('')
    await final.trigger('blur')
    await flushPromises()
    await w.get('[data-testid="reporting-save-2"]').trigger('click')
    await flushPromises()
    // the whole rule goes back, so the jurisdiction's row is the one that changes
    expect(puts).toEqual([
      {
        division_adcode: '331126',
        category_prefix: 'accident',
        level: 'IV',
        phone_minutes: 10,
        written_minutes: 60,
        followup_hours: 3,
        final_days: null,
        basis: null,
      },
    ])
  })

  it('keeps the cadence and the 终报 within the server bounds', async () => {
    serve('/reporting-deadlines', [reporting(1, 'accident', 10)])
    answerPut = (body) => json(200, { ...reporting(1, 'accident', 10), ...body, id: 1 })
    const w = await mountTable(ReportingDeadlines)
    const cadence = w.get('[data-testid="reporting-1-followup_hours"] input')
    await cadence.setValue('721')
    await cadence.trigger('blur')
    const final = w.get('[data-testid="reporting-1-final_days"] input')
    await final.setValue('400')
    await final.trigger('blur')
    await flushPromises()
    await w.get('[data-testid="reporting-save-1"]').trigger('click')
    await flushPromises()
    expect(puts[0]).toMatchObject({ followup_hours: 720, final_days: 365 })
  })

  it('takes a rule of the same category and level in another jurisdiction as a new row', async () => {
    serve('/reporting-deadlines', [{ ...reporting(1, '', 10), division_adcode: '331126' }])
    answerPut = (body) => json(200, { ...reporting(2, '', 30), ...body, id: 2 })
    const w = await mountTable(ReportingDeadlines)
    await w.get('[data-testid="reporting-add"]').trigger('click')
    await flushPromises()
    await w.get('[data-testid="reporting-add-form"]').trigger('submit')
    await flushPromises()
    expect(w.text()).not.toContain('该组合已存在')
    expect(puts).toEqual([
      {
        division_adcode: '',
        category_prefix: '',
        level: 'IV',
        phone_minutes: 30,
        written_minutes: 60,
        followup_hours: null,
        final_days: null,
        basis: null,
      },
    ])
  })
})
