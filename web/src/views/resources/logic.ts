/**
 * What the resources screens compute without the DOM: words of kinds, statuses, choices and
 * field problems in the user's language, the form's values checked the way the server checks
 * them (`yingji.resources.kinds.convert`), and the body a form sends.
 */
import { isApiError } from '@/api/client'
import { saveError } from '@/components/admin/feedback'
import type { ImportError, KindSpec, Resource, ResourceCreate, ResourceField, ResourceUpdate } from '@/api/resources'

type T = (key: string, named?: Record<string, unknown>) => string
type TE = (key: string) => boolean
export interface Words {
  t: T
  te: TE
  locale: string
}

/** The ten kinds in the order of the menu (the catalogue's own order when it has loaded). */
export const KINDS = [
  'rescue_team',
  'warehouse',
  'equipment',
  'expert',
  'shelter',
  'hazard_source',
  'protection_target',
  'medical_facility',
  'video_point',
  'plan',
] as const

/** The fields the list and the form show for every kind, before the kind's own (`attrs`). */
export const COMMON_FORM_KEYS = [
  'code',
  'name',
  'division_adcode',
  'status',
  'address',
  'lon',
  'lat',
  'contact_name',
  'contact_phone',
] as const

const isEnglish = (locale: string) => locale.startsWith('en')

export function kindLabel(kind: string, words: Words, spec?: KindSpec): string {
  if (words.te(`resources.kinds.${kind}`)) return words.t(`resources.kinds.${kind}`)
  if (spec) return isEnglish(words.locale) ? spec.en : spec.zh
  return kind
}

/** One of a kind, for titles ("新增救援队伍", "New rescue team"). */
export function kindOneLabel(kind: string, words: Words, spec?: KindSpec): string {
  if (words.te(`resources.kindOne.${kind}`)) return words.t(`resources.kindOne.${kind}`)
  return kindLabel(kind, words, spec)
}

/** A field's name: the catalogue carries it in both languages (its Chinese one is the header). */
export function fieldLabel(field: Pick<ResourceField, 'key' | 'zh' | 'en'>, words: Words): string {
  return isEnglish(words.locale) ? field.en : field.zh
}

export function statusLabel(spec: KindSpec | undefined, status: string, words: Words): string {
  const key = `resources.statuses.${spec?.kind ?? ''}.${status}`
  if (words.te(key)) return words.t(key)
  return spec?.statuses[status] ?? status
}

/** A choice's word: the console's (per field key) first, else the catalogue's Chinese word. */
export function choiceLabel(field: Pick<ResourceField, 'key' | 'choices'>, code: string, words: Words): string {
  const key = `resources.choices.${field.key}.${code}`
  if (words.te(key)) return words.t(key)
  return field.choices?.[code] ?? code
}

/** A value of a kind's own field as the list shows it. */
export function attrText(field: ResourceField, value: unknown, words: Words): string {
  if (value === null || value === undefined || value === '') return ''
  if (Array.isArray(value)) {
    const parts = value.map((v) => (field.choices ? choiceLabel(field, String(v), words) : String(v)))
    return parts.join(words.t('resources.listSep'))
  }
  if (field.type === 'choice') return choiceLabel(field, String(value), words)
  if (field.type === 'bool') return value ? words.t('resources.yes') : words.t('resources.no')
  return String(value)
}

const paramsOf = (params: Record<string, unknown> | undefined | null) =>
  Object.fromEntries(
    Object.entries(params ?? {}).map(([k, v]) => [k, Array.isArray(v) ? v.join(', ') : String(v ?? '')]),
  )

/** The words of a field problem (`resource.field.<code>`), or null when the console has none. */
export function fieldProblemText(code: string, params: Record<string, unknown> | null | undefined, words: Words): string | null {
  if (!code) return null
  const named = paramsOf(params)
  if (words.te(`resource.field.${code}`)) return words.t(`resource.field.${code}`, named)
  if (words.te(`resources.import.msg.${code}`)) return words.t(`resources.import.msg.${code}`, named)
  return null
}

/** An import problem in the user's language; the server's own message for a code without words. */
export function importErrorText(problem: ImportError, words: Words): string {
  return fieldProblemText(problem.code, problem.params, words) ?? problem.message
}

/** The column an import problem names: the file's header, else the field's header in the catalogue. */
export function importErrorColumn(problem: ImportError, fields: ResourceField[], words: Words): string {
  if (problem.column) return problem.column
  const field = fields.find((f) => f.key === problem.field)
  if (field) return field.zh
  return problem.field ?? words.t('resources.import.wholeRow')
}

// ---- the form -----------------------------------------------------------------------------

export type FormValue = string | number | boolean | string[] | null

/**
 * A value checked as `kinds.convert` checks it: the problem code and params, or null when good.
 * Empty values are good unless required.
 */
export function checkValue(field: ResourceField, value: FormValue): { code: string; params: Record<string, unknown> } | null {
  const empty = value === null || value === undefined || (typeof value === 'string' && value.trim() === '') || (Array.isArray(value) && value.length === 0)
  if (empty) return field.required ? { code: 'required', params: {} } : null
  if (field.type === 'int' || field.type === 'number') {
    const n = typeof value === 'number' ? value : Number(String(value).trim())
    if (!Number.isFinite(n)) return { code: 'not_a_number', params: { value: String(value) } }
    if (field.type === 'int' && !Number.isInteger(n)) return { code: 'not_an_integer', params: { value: String(value) } }
    if (field.minimum !== null && n < field.minimum) return { code: 'below_minimum', params: { min: field.minimum } }
    if (field.maximum !== null && n > field.maximum) return { code: 'above_maximum', params: { max: field.maximum } }
    return null
  }
  if (field.type === 'list') {
    const items = Array.isArray(value) ? value : [String(value)]
    if (field.choices && items.some((i) => !(i in field.choices!))) {
      return { code: 'not_a_choice', params: { value: items.find((i) => !(i in field.choices!)) } }
    }
    if (!field.choices && items.some((i) => i.length > 50)) return { code: 'too_long', params: { max: 50 } }
    return null
  }
  const text = String(value).trim()
  if (field.type === 'choice') {
    return field.choices && !(text in field.choices) ? { code: 'not_a_choice', params: { value: text } } : null
  }
  if (text.length > field.max_length) return { code: 'too_long', params: { max: field.max_length } }
  if (field.type === 'url' && !/^(https?|rtsp|rtmp):\/\//i.test(text)) {
    return { code: 'not_a_url', params: { schemes: 'http://, https://, rtsp://, rtmp://' } }
  }
  if (field.type === 'date' && !/^\d{4}-\d{2}-\d{2}$/.test(text)) return { code: 'not_a_date', params: { value: text } }
  if (field.pattern && !new RegExp(`^(?:${field.pattern})$`).test(text)) return { code: 'bad_format', params: { value: text } }
  return null
}

export interface ResourceForm {
  common: Record<string, FormValue>
  attrs: Record<string, FormValue>
  owner_unit_id: string | null
  /** rescue teams: the existing rescue_team unit to link (none: the server creates one) */
  unit_id: string | null
  /** a GeoJSON Polygon / MultiPolygon typed or pasted (kinds with an area) */
  area: string
}

export function blankForm(spec: KindSpec): ResourceForm {
  const common: Record<string, FormValue> = {}
  for (const key of COMMON_FORM_KEYS) common[key] = key === 'lon' || key === 'lat' ? null : ''
  common.status = Object.keys(spec.statuses)[0] ?? ''
  const attrs: Record<string, FormValue> = {}
  for (const f of spec.fields) attrs[f.key] = f.type === 'list' ? [] : f.type === 'bool' ? false : f.type === 'int' || f.type === 'number' ? null : ''
  return { common, attrs, owner_unit_id: null, unit_id: null, area: '' }
}

export function formOf(spec: KindSpec, r: Resource): ResourceForm {
  const form = blankForm(spec)
  for (const key of COMMON_FORM_KEYS) {
    const v = (r as unknown as Record<string, unknown>)[key]
    form.common[key] = v === undefined || v === null ? (key === 'lon' || key === 'lat' ? null : '') : (v as FormValue)
  }
  for (const f of spec.fields) {
    const v = r.attrs?.[f.key]
    if (v !== undefined && v !== null) form.attrs[f.key] = Array.isArray(v) ? v.map(String) : (v as FormValue)
  }
  form.owner_unit_id = r.owner_unit_id
  form.unit_id = r.unit_id
  form.area = r.area ? JSON.stringify(r.area) : ''
  return form
}

const trimmed = (v: FormValue): FormValue => (typeof v === 'string' ? (v.trim() === '' ? null : v.trim()) : v)

function attrsOf(spec: KindSpec, form: ResourceForm): Record<string, unknown> {
  const attrs: Record<string, unknown> = {}
  for (const f of spec.fields) {
    const v = trimmed(form.attrs[f.key] ?? null)
    if (v === null || (Array.isArray(v) && v.length === 0)) continue
    attrs[f.key] = (f.type === 'int' || f.type === 'number') && typeof v === 'string' ? Number(v) : v
  }
  return attrs
}

/** The area as GeoJSON, null when empty; throws `SyntaxError` for text that is not a polygon. */
export function parseArea(text: string): ResourceCreate['area'] {
  if (!text.trim()) return null
  const value = JSON.parse(text) as { type?: unknown; coordinates?: unknown; geometry?: unknown }
  const geometry = (value.type === 'Feature' ? value.geometry : value) as { type?: unknown; coordinates?: unknown }
  if ((geometry?.type !== 'Polygon' && geometry?.type !== 'MultiPolygon') || !Array.isArray(geometry.coordinates)) {
    throw new SyntaxError('not a polygon')
  }
  return { type: geometry.type, coordinates: geometry.coordinates }
}

export function createBody(spec: KindSpec, form: ResourceForm): ResourceCreate {
  const c = form.common
  return {
    kind: spec.kind as ResourceCreate['kind'],
    code: String(trimmed(c.code) ?? ''),
    name: String(trimmed(c.name) ?? ''),
    division_adcode: String(trimmed(c.division_adcode) ?? ''),
    status: (trimmed(c.status) as string | null) ?? null,
    address: trimmed(c.address) as string | null,
    lon: c.lon === null || c.lon === '' ? null : Number(c.lon),
    lat: c.lat === null || c.lat === '' ? null : Number(c.lat),
    contact_name: trimmed(c.contact_name) as string | null,
    contact_phone: trimmed(c.contact_phone) as string | null,
    owner_unit_id: form.owner_unit_id || null,
    ...(spec.kind === 'rescue_team' && form.unit_id ? { unit_id: form.unit_id } : {}),
    ...(spec.area ? { area: parseArea(form.area) } : {}),
    attrs: attrsOf(spec, form),
  }
}

/** JSON with object keys sorted, so two equal values compare equal whatever their key order. */
export function canonical(value: unknown): string {
  return JSON.stringify(value ?? null, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : v,
  )
}

/** What an edit changed (and the version it was read at); `attrs` is sent whole when changed. */
export function updateBody(spec: KindSpec, before: Resource, form: ResourceForm): ResourceUpdate {
  const full = createBody(spec, form)
  const out: ResourceUpdate = { version: before.version }
  const b = before as unknown as Record<string, unknown>
  const same = (x: unknown, y: unknown) => canonical(x) === canonical(y)
  for (const key of ['name', 'division_adcode', 'status', 'address', 'lon', 'lat', 'contact_name', 'contact_phone', 'owner_unit_id'] as const) {
    if (!same(full[key], b[key])) (out as Record<string, unknown>)[key] = full[key]
  }
  if (spec.area && !same(full.area, before.area)) out.area = full.area ?? null
  if (!same(full.attrs, before.attrs ?? {})) out.attrs = full.attrs
  return out
}

/**
 * The words of a refused save: a field problem names its field (`details.field`) in the user's
 * language; any other refusal as the rest of the console words it.
 */
export function resourceSaveError(error: unknown, fields: ResourceField[], words: Words): string {
  if (isApiError(error) && error.code === 'field_invalid') {
    const d = (error.details && typeof error.details === 'object' ? error.details : {}) as { field?: unknown; problem?: unknown; params?: unknown }
    const key = String(d.field ?? '').replace(/^attrs\./, '')
    const text = fieldProblemText(String(d.problem ?? ''), d.params as Record<string, unknown> | null, words)
    if (text) {
      const field = fields.find((f) => f.key === key)
      return field ? words.t('resources.fieldProblem', { field: fieldLabel(field, words), text }) : text
    }
  }
  return saveError(error)
}
