import { describe, expect, it } from 'vitest'
import { exportQuery, importPercent, type KindSpec, type Resource, type ResourceField } from '@/api/resources'
import { ApiError } from '@/api/client'
import { i18n } from '@/i18n'
import { FEATURES } from '@/i18n/features'
import resourcesMessages from '@/i18n/features/resources'
import {
  attrText,
  blankForm,
  canonical,
  checkValue,
  createBody,
  formOf,
  importErrorColumn,
  importErrorText,
  kindLabel,
  parseArea,
  resourceSaveError,
  statusLabel,
  updateBody,
  type Words,
} from '@/views/resources/logic'
import { daysUntil } from '@/views/resources/stock'
import { visibleNav } from '@/router/nav'
import { routes } from '@/router'

const field = (over: Partial<ResourceField>): ResourceField => ({
  key: 'x',
  zh: '字段',
  en: 'Field',
  type: 'text',
  required: false,
  choices: null,
  max_length: 200,
  minimum: null,
  maximum: null,
  tag: false,
  pattern: null,
  ...over,
})

const team: KindSpec = {
  kind: 'rescue_team',
  zh: '救援队伍',
  en: 'Rescue teams',
  statuses: { standby: '在岗待命', deployed: '出动中', resting: '休整' },
  usable: ['standby'],
  fields: [
    field({ key: 'members', zh: '队员人数', en: 'Members', type: 'int', minimum: 0, maximum: 100000 }),
    field({
      key: 'capabilities',
      zh: '救援能力',
      en: 'Capabilities',
      type: 'list',
      choices: { water_rescue: '水上救援', mountain: '山地救援' },
      tag: true,
    }),
    field({ key: 'base', zh: '驻地', en: 'Base', max_length: 300 }),
  ],
  area: false,
  requestable: true,
  speed_kmh: 50,
}

const words = (locale: 'zh-CN' | 'en'): Words => {
  i18n.global.locale.value = locale
  return { t: i18n.global.t as Words['t'], te: i18n.global.te as Words['te'], locale }
}

const resource = (over: Partial<Resource> = {}): Resource => ({
  id: 'r1',
  kind: 'rescue_team',
  code: 'T01',
  name: '竹口水上救援队',
  status: 'standby',
  division_adcode: '331126101000',
  division_name: '竹口镇',
  owner_unit_id: null,
  owner_unit_name: null,
  unit_id: null,
  address: null,
  lon: 119.1,
  lat: 27.6,
  area: null,
  contact_name: null,
  contact_phone: null,
  attrs: { members: 12, capabilities: ['water_rescue'] },
  tags: ['water_rescue'],
  version: 3,
  created_at: '2026-12-07T00:00:00Z',
  updated_at: '2026-12-07T00:00:00Z',
  ...over,
})

describe('resources words', () => {
  it('has the same keys in zh-CN and en, choices aside (the catalogue words them in Chinese)', () => {
    const keys = (o: unknown, prefix = ''): string[] =>
      Object.entries(o as Record<string, unknown>).flatMap(([k, v]) =>
        v && typeof v === 'object' ? keys(v, `${prefix}${k}.`) : [`${prefix}${k}`],
      )
    const en = keys(resourcesMessages.en).filter((k) => !k.startsWith('resources.choices.'))
    expect(keys(resourcesMessages['zh-CN']).sort()).toEqual(en.sort())
    expect(FEATURES).toContain(resourcesMessages)
  })
  it('words kinds, statuses and choices in the chosen language, the catalogue’s Chinese otherwise', () => {
    const zh = words('zh-CN')
    expect(kindLabel('rescue_team', zh, team)).toBe('救援队伍')
    expect(statusLabel(team, 'standby', zh)).toBe('在岗待命')
    expect(attrText(team.fields[1]!, ['water_rescue', 'mountain'], zh)).toBe('水上救援、山地救援')
    const en = words('en')
    expect(kindLabel('rescue_team', en, team)).toBe('Rescue teams')
    expect(statusLabel(team, 'standby', en)).toBe('On standby')
    expect(attrText(team.fields[1]!, ['water_rescue', 'mountain'], en)).toBe('Water rescue, Mountain rescue')
    // a status the console has no words for shows the catalogue's
    expect(statusLabel({ ...team, statuses: { ...team.statuses, drilling: '演练中' } }, 'drilling', en)).toBe('演练中')
    i18n.global.locale.value = 'zh-CN'
  })
  it('words an import problem by its code with params, the server message for an unknown code', () => {
    const zh = words('zh-CN')
    const problem = { line: 3, field: 'members', column: '队员人数', code: 'not_a_number', params: { value: '十二' }, message: 'not_a_number' }
    expect(importErrorText(problem, zh)).toBe('“十二”不是数字')
    expect(importErrorText({ ...problem, code: 'something_new', message: 'server words' }, zh)).toBe('server words')
    expect(importErrorColumn({ ...problem, column: null }, team.fields, zh)).toBe('队员人数')
    expect(importErrorColumn({ ...problem, column: '人数' }, team.fields, zh)).toBe('人数')
    const en = words('en')
    expect(importErrorText({ ...problem, code: 'above_maximum', params: { max: 100000 } }, en)).toBe('Must not be above 100000')
    i18n.global.locale.value = 'zh-CN'
  })
  it('names the field of a refused save', () => {
    const zh = words('zh-CN')
    const e = new ApiError(422, 'field_invalid', 'bad', { field: 'attrs.capabilities', problem: 'not_a_choice', params: { value: 'flying' } })
    expect(resourceSaveError(e, team.fields, zh)).toBe('救援能力：“flying”不是可选值')
    expect(resourceSaveError(new ApiError(409, 'stale_version', 'stale'), team.fields, zh)).toBe('该记录已被他人修改，请刷新后重试')
    expect(resourceSaveError(new ApiError(409, 'resource_exists', 'exists'), team.fields, zh)).toBe('该类型下已有相同编号的资源')
  })
})

describe('resource form', () => {
  it('checks values as the server converts them', () => {
    const members = team.fields[0]!
    expect(checkValue(members, null)).toBeNull()
    expect(checkValue({ ...members, required: true }, null)).toEqual({ code: 'required', params: {} })
    expect(checkValue(members, 1.5)?.code).toBe('not_an_integer')
    expect(checkValue(members, -1)).toEqual({ code: 'below_minimum', params: { min: 0 } })
    expect(checkValue(members, 12)).toBeNull()
    expect(checkValue(team.fields[1]!, ['flying'])?.code).toBe('not_a_choice')
    const code = field({ key: 'code', pattern: '[0-9A-Za-z_\\-.]{1,64}' })
    expect(checkValue(code, 'T-01')).toBeNull()
    expect(checkValue(code, 'T 01')?.code).toBe('bad_format')
    expect(checkValue(field({ type: 'url' }), 'ftp://x')?.code).toBe('not_a_url')
    expect(checkValue(field({ type: 'url' }), 'rtsp://cam/1')).toBeNull()
    expect(checkValue(field({ max_length: 3 }), 'abcd')).toEqual({ code: 'too_long', params: { max: 3 } })
  })
  it('sends a new resource with its own fields in attrs, empty ones left out', () => {
    const form = blankForm(team)
    expect(form.common.status).toBe('standby')
    Object.assign(form.common, { code: ' T02 ', name: '山地队', division_adcode: '331126101000', lon: 119.2, lat: 27.5 })
    form.attrs.members = 8
    form.attrs.base = '   '
    expect(createBody(team, form)).toEqual({
      kind: 'rescue_team',
      code: 'T02',
      name: '山地队',
      division_adcode: '331126101000',
      status: 'standby',
      address: null,
      lon: 119.2,
      lat: 27.5,
      contact_name: null,
      contact_phone: null,
      owner_unit_id: null,
      attrs: { members: 8 },
    })
  })
  it('sends only what an edit changed, with the version it was read at', () => {
    const before = resource()
    const form = formOf(team, before)
    expect(updateBody(team, before, form)).toEqual({ version: 3 })
    form.common.name = '竹口水上救援队（一分队）'
    form.attrs.capabilities = ['water_rescue', 'mountain']
    expect(updateBody(team, before, form)).toEqual({
      version: 3,
      name: '竹口水上救援队（一分队）',
      attrs: { members: 12, capabilities: ['water_rescue', 'mountain'] },
    })
    expect(canonical({ b: 1, a: { d: 2, c: 3 } })).toBe(canonical({ a: { c: 3, d: 2 }, b: 1 }))
  })
  it('takes an area as a polygon or a feature holding one, and refuses anything else', () => {
    const ring = [[119, 27], [119.1, 27], [119.1, 27.1], [119, 27]]
    expect(parseArea('')).toBeNull()
    expect(parseArea(JSON.stringify({ type: 'Polygon', coordinates: [ring] }))).toEqual({ type: 'Polygon', coordinates: [ring] })
    expect(parseArea(JSON.stringify({ type: 'Feature', geometry: { type: 'Polygon', coordinates: [ring] } }))?.type).toBe('Polygon')
    expect(() => parseArea('{"type":"Point","coordinates":[1,2]}')).toThrow(SyntaxError)
    expect(() => parseArea('not json')).toThrow()
  })
})

describe('imports, exports and stock', () => {
  it('shows an import job’s progress, finished jobs full', () => {
    expect(importPercent({ state: 'queued', total: 0, done: 0 })).toBe(0)
    expect(importPercent({ state: 'checking', total: 200, done: 50 })).toBe(25)
    expect(importPercent({ state: 'writing', total: 200, done: 200 })).toBe(99)
    expect(importPercent({ state: 'failed', total: 200, done: 10 })).toBe(100)
  })
  it('exports with the list’s filters, empty ones left out', () => {
    expect(exportQuery('shelter', 'xlsx', { q: ' 学校 ', status: '', division: '331126' })).toEqual({
      kind: 'shelter',
      format: 'xlsx',
      q: '学校',
      division: '331126',
    })
  })
  it('counts the days to a batch’s expiry', () => {
    const today = new Date(2026, 11, 7)
    expect(daysUntil('2026-12-07', today)).toBe(0)
    expect(daysUntil('2027-01-06', today)).toBe(30)
    expect(daysUntil('2026-12-01', today)).toBe(-6)
    expect(daysUntil(null, today)).toBeNull()
    expect(daysUntil('soon', today)).toBeNull()
  })
})

describe('the menu 资源', () => {
  it('shows the registry to whoever may read resources, and its routes demand that permission', () => {
    const groups = visibleNav((p) => p === 'resource.read')
    expect(groups.map((g) => g.labelKey)).toEqual(['nav.resourcesGroup'])
    expect(groups[0]!.items.map((i) => i.path)).toEqual(['/resources'])
    expect(visibleNav((p) => p === 'org.read').flatMap((g) => g.items.map((i) => i.path))).not.toContain('/resources')
    const children = routes.find((r) => r.path === '/')!.children!
    for (const path of ['resources', 'resources/:kind', 'resources/warehouse/:id/stock']) {
      expect(children.find((c) => c.path === path)?.meta?.permission, path).toBe('resource.read')
    }
  })
})
