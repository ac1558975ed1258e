import { afterEach, describe, expect, it, vi } from 'vitest'
import {
  adcodeOfPath,
  canDrawBoundary,
  canEditRule,
  changedFields,
  checkReporting,
  checkStage,
  filenameOf,
  filterRules,
  importProblems,
  problemText,
  uploadFile,
  type RoutingRule,
} from '@/api/admin'
import { ApiError, setCsrfToken } from '@/api/client'
import { i18n } from '@/i18n'
import type { Me } from '@/api/types'

const rule = (over: Partial<RoutingRule>): RoutingRule => ({
  id: 1,
  category_prefix: '',
  levels: [],
  division_path: null,
  role: 'lead',
  selector: 'unit',
  unit_id: null,
  priority: 100,
  note: null,
  active: true,
  when_trapped: false,
  ...over,
})

describe('routing table filters', () => {
  const rules = [
    rule({ id: 1, category_prefix: 'accident.fire', role: 'lead', unit_id: 'u-fire' }),
    rule({ id: 2, category_prefix: 'accident.fire', role: 'co', selector: 'town' }),
    rule({ id: 3, category_prefix: 'natural.flood', role: 'lead', levels: ['I', 'II'], unit_id: 'u-water' }),
    rule({ id: 4, category_prefix: '', role: 'co', selector: 'village', division_path: '330000/331126/331126101000/' }),
    rule({ id: 5, category_prefix: 'accident', role: 'co', unit_id: 'u-safety' }),
  ]
  const ids = (f: Parameters<typeof filterRules>[1]) => filterRules(rules, f).map((r) => r.id)

  it('a category shows the rules that apply to it: its own, its parents and every-category rules', () => {
    expect(ids({ category: 'accident.fire' })).toEqual([1, 2, 4, 5])
    expect(ids({ category: 'accident' })).toEqual([1, 2, 4, 5])
    expect(ids({ category: 'natural.flood' })).toEqual([3, 4])
  })

  it('a level keeps rules for that level and rules for every level', () => {
    expect(ids({ level: 'III' })).toEqual([1, 2, 4, 5])
    expect(ids({ level: 'I' })).toEqual([1, 2, 3, 4, 5])
  })

  it('role, selector, unit and division narrow the table', () => {
    expect(ids({ role: 'lead' })).toEqual([1, 3])
    expect(ids({ selector: 'town' })).toEqual([2])
    expect(ids({ unitId: 'u-water' })).toEqual([3])
    expect(ids({ division: '331126101000' })).toEqual([1, 2, 3, 4, 5])
    expect(ids({ division: '331126102000' })).toEqual([1, 2, 3, 5])
  })

  it('the division of a path is its last code', () => {
    expect(adcodeOfPath('330000/331126/331126101000/')).toBe('331126101000')
    expect(adcodeOfPath(null)).toBeNull()
  })
})

describe('deadline validation', () => {
  const stage = { category_prefix: '', level: '' as const, tier: 1, sign_minutes: 5, arrive_minutes: 30, feedback_minutes: 60, complete_minutes: 1440, remind_share: 0.8 }

  it('accepts whole minutes within the server limits', () => {
    expect(checkStage(stage)).toEqual({})
  })

  it('names each bad field: not whole, out of range, a reminder share outside (0, 1)', () => {
    expect(checkStage({ ...stage, sign_minutes: 0, arrive_minutes: 2.5, complete_minutes: 100_001, remind_share: 1 })).toEqual({
      sign_minutes: 'range',
      arrive_minutes: 'integer',
      complete_minutes: 'range',
      remind_share: 'share',
    })
    expect(checkStage({ ...stage, feedback_minutes: null as unknown as number })).toEqual({ feedback_minutes: 'integer' })
  })

  it('a written report cannot be due before the phone report', () => {
    const ok = { category_prefix: '', level: 'I' as const, phone_minutes: 30, written_minutes: 60 }
    expect(checkReporting(ok)).toEqual({})
    expect(checkReporting({ ...ok, written_minutes: 20 })).toEqual({ written_minutes: 'writtenBeforePhone' })
    expect(checkReporting({ ...ok, phone_minutes: 20_000 })).toEqual({ phone_minutes: 'range' })
  })
})

describe('forms send only what changed', () => {
  it('leaves untouched fields out of the patch', () => {
    const before = { name: 'A', tier: 1, phone: null as string | null, roles: ['viewer'] }
    expect(changedFields(before, { ...before, tier: 2 })).toEqual({ tier: 2 })
    expect(changedFields(before, { ...before, roles: ['viewer', 'expert'] })).toEqual({ roles: ['viewer', 'expert'] })
    expect(changedFields(before, { ...before })).toEqual({})
  })
})

describe('import problems', () => {
  it('reads the problems by line out of an import_failed error', () => {
    const error = new ApiError(422, 'import_failed', '2 problem(s) found', {
      errors: [
        { line: 3, field: 'adcode', message: "String should match pattern '^\\d{6}$'", code: 'pattern', params: {} },
        { line: 0, field: null, message: 'the file has no rows', code: 'empty' },
      ],
      error_count: 2,
    })
    expect(importProblems(error)).toEqual({
      count: 2,
      problems: [
        { line: 3, field: 'adcode', message: "String should match pattern '^\\d{6}$'", code: 'pattern', params: {} },
        { line: 0, field: null, message: 'the file has no rows', code: 'empty', params: {} },
      ],
    })
  })

  it('any other failure is not a list of problems', () => {
    expect(importProblems(new ApiError(403, 'permission_denied', 'no'))).toBeNull()
    expect(importProblems(new Error('x'))).toBeNull()
  })

  it('words each problem by its code, and shows the server wording for a code without words', () => {
    const say = (code: string, params: Record<string, unknown> = {}, message = 'server words') =>
      problemText({ line: 2, field: 'x', message, code, params }, i18n.global)
    i18n.global.locale.value = 'zh-CN'
    expect(say('pattern')).toBe('格式不正确')
    expect(say('parent_not_found')).toBe('未找到上级')
    expect(say('repeats', { value: '331126101000', line: 2 })).toBe('331126101000 与第 2 行重复')
    expect(say('max_length', { value: 50 })).toBe('最多 50 个字符')
    expect(say('one_of', { value: "'province', 'city' or 'town'" })).toContain("'province'")
    expect(say('something_new')).toBe('server words')
    expect(say('boundary_overlaps_sibling', { sibling_adcode: '331126101201', tolerance_m: 10 })).toBe(
      '边界伸入了同级区划 331126101201（重叠部分多于容差）',
    )
    i18n.global.locale.value = 'en'
    expect(say('required')).toBe('A value is required')
    i18n.global.locale.value = 'zh-CN'
  })

  it('takes the download name from Content-Disposition', () => {
    expect(filenameOf('attachment; filename="units.csv"', 'x')).toBe('units.csv')
    expect(filenameOf(null, 'fallback.csv')).toBe('fallback.csv')
  })
})

describe('uploadFile', () => {
  class FakeXhr {
    static last: FakeXhr
    headers: Record<string, string> = {}
    method = ''
    url = ''
    status = 0
    responseText = ''
    withCredentials = false
    body: unknown = null
    upload: { onprogress: ((e: { lengthComputable: boolean; loaded: number; total: number }) => void) | null } = { onprogress: null }
    onload: (() => void) | null = null
    onerror: (() => void) | null = null
    constructor() {
      FakeXhr.last = this
    }
    open(method: string, url: string) {
      this.method = method
      this.url = url
    }
    setRequestHeader(k: string, v: string) {
      this.headers[k] = v
    }
    getResponseHeader() {
      return 'application/json'
    }
    send(body: unknown) {
      this.body = body
    }
    answer(status: number, body: unknown) {
      this.status = status
      this.responseText = JSON.stringify(body)
      this.onload?.()
    }
  }

  afterEach(() => {
    vi.unstubAllGlobals()
    setCsrfToken(null)
  })

  it('posts the file with the CSRF token, reports progress and resolves with the counts', async () => {
    vi.stubGlobal('XMLHttpRequest', FakeXhr)
    setCsrfToken('tok')
    const progress: number[] = []
    const file = new File(['a,b\n'], 'rules.csv', { type: 'text/csv' })
    const pending = uploadFile('/routing-rules:import', file, (p) => progress.push(p), { replace: 'true' })
    const xhr = FakeXhr.last
    expect(xhr.method).toBe('POST')
    expect(xhr.url).toBe('/api/v1/routing-rules:import?replace=true')
    expect(xhr.headers['X-CSRF-Token']).toBe('tok')
    expect((xhr.body as FormData).get('file')).toBeInstanceOf(File)
    xhr.upload.onprogress?.({ lengthComputable: true, loaded: 50, total: 100 })
    xhr.answer(200, { created: 3, updated: 1, errors: [] })
    await expect(pending).resolves.toEqual({ created: 3, updated: 1, errors: [] })
    expect(progress).toEqual([50, 100])
  })

  it('a refused import rejects with the ApiError carrying its problems', async () => {
    vi.stubGlobal('XMLHttpRequest', FakeXhr)
    const pending = uploadFile('/divisions:import', new File(['x'], 'd.csv'))
    FakeXhr.last.answer(422, {
      error: { code: 'import_failed', message: '1 problem(s)', details: { errors: [{ line: 2, field: 'level', message: 'bad' }], error_count: 1 } },
    })
    const error = await pending.catch((e: unknown) => e)
    expect(error).toBeInstanceOf(ApiError)
    expect(importProblems(error)?.problems[0]).toEqual({ line: 2, field: 'level', message: 'bad', code: '', params: {} })
  })
})


describe('what an administrator of an area may change', () => {
  const TOWN = '330000/331126/331126101000/'
  const admin = (everything: boolean, extra: string[] = []): Me => ({
    id: 'me',
    username: 'a',
    display_name: 'a',
    roles: ['admin'],
    permissions: ['org.read', 'org.write', ...extra],
    scope: { everything, division_path: everything ? null : TOWN, unit_id: null },
    unit_id: null,
  })
  const everything = admin(true, ['reference.write', 'system.admin'])
  const town = admin(false)

  it('changes the routing rules inside its area, never those for everywhere or elsewhere', () => {
    expect(canEditRule(rule({ division_path: `${TOWN}331126101201/` }), town)).toBe(true)
    expect(canEditRule(rule({ division_path: TOWN }), town)).toBe(true)
    expect(canEditRule(rule({ division_path: null }), town)).toBe(false)
    expect(canEditRule(rule({ division_path: '330000/331126/' }), town)).toBe(false)
    expect(canEditRule(rule({ division_path: '330000/331126/331126102000/' }), town)).toBe(false)
    expect(canEditRule(rule({ division_path: null }), everything)).toBe(true)
    const reader = { ...town, permissions: ['org.read'] }
    expect(canEditRule(rule({ division_path: TOWN }), reader)).toBe(false)
    expect(canEditRule(rule({}), null)).toBe(false)
  })

  it('draws the boundaries below its area but not its own', () => {
    expect(canDrawBoundary({ path: `${TOWN}331126101201/` }, town)).toBe(true)
    expect(canDrawBoundary({ path: TOWN }, town)).toBe(false)
    expect(canDrawBoundary({ path: TOWN }, everything)).toBe(true)
  })
})
