/**
 * The warning screens' rules, kept out of the components so they can be tested alone: level
 * colours, which workflow steps a user may take on a warning, the list's tabs, the area drawn on
 * the map as one MultiPolygon, the 叫应 board's totals and a live event's warning.
 */
import type { LiveEvent } from '@/api/types'
import type {
  AreaGeometry,
  Board,
  BoardTown,
  Level,
  Warning,
  WarningQuery,
  WarningState,
  WarningType,
  WorkflowStep,
} from '@/api/warnings'

/** 预警颜色 as the signals are printed (GB/T 27962 hues), and a readable text colour on each. */
export const LEVEL_COLOURS: Record<Level, { bg: string; fg: string }> = {
  red: { bg: '#d7000f', fg: '#ffffff' },
  orange: { bg: '#f08200', fg: '#ffffff' },
  yellow: { bg: '#f5d300', fg: '#303133' },
  blue: { bg: '#0066cc', fg: '#ffffff' },
}
export const LEVEL_ROMAN: Record<Level, string> = { red: 'I', orange: 'II', yellow: 'III', blue: 'IV' }

export function levelColour(level: string | null | undefined): { bg: string; fg: string } {
  return (level && LEVEL_COLOURS[level as Level]) || { bg: '#909399', fg: '#ffffff' }
}

/** The permissions of the warning domain (`core.security.Permission`). */
export const WARNING_PERMISSIONS = {
  read: 'warning.read',
  draft: 'warning.draft',
  review: 'warning.review',
  sign: 'warning.sign',
  publish: 'warning.publish',
  manage: 'warning.manage',
  check: 'warning.check',
} as const

/** Which permission each workflow step needs (as `warning/domain.py` declares them). */
export const STEP_PERMISSION: Record<WorkflowStep, string> = {
  submit: WARNING_PERMISSIONS.draft,
  approve: WARNING_PERMISSIONS.review,
  return: WARNING_PERMISSIONS.review,
  sign: WARNING_PERMISSIONS.sign,
  publish: WARNING_PERMISSIONS.publish,
  cancel: WARNING_PERMISSIONS.publish,
  update: WARNING_PERMISSIONS.publish,
  relay: WARNING_PERMISSIONS.draft,
  dismiss: WARNING_PERMISSIONS.draft,
}

/** The steps each state allows (the backend's `WARNING_TRANSITIONS`, seen from the buttons). */
const STEPS_BY_STATE: Partial<Record<WarningState, WorkflowStep[]>> = {
  draft: ['submit', 'cancel'],
  returned: ['submit', 'cancel'],
  submitted: ['approve', 'return'],
  approved: ['sign', 'return'],
  signed: ['publish', 'return'],
  published: ['update', 'cancel'],
  received: ['relay', 'dismiss'],
}
/** Steps that ask for a reason. */
export const STEPS_WITH_REASON: ReadonlySet<WorkflowStep> = new Set(['return', 'cancel', 'dismiss'])
/** Steps that are refused to the author (审核 and 签发 are done by someone else). */
const NOT_BY_AUTHOR: ReadonlySet<WorkflowStep> = new Set(['approve', 'sign'])

/** A draft may be edited (PATCH) while it is a draft or came back. */
export function isEditable(w: Pick<Warning, 'state' | 'origin'>): boolean {
  return w.origin === 'authored' && (w.state === 'draft' || w.state === 'returned')
}

/**
 * The workflow buttons a user sees on a warning: the steps its state allows that the user's
 * permissions cover; 审核 and 签发 are not offered to the warning's author.
 */
export function workflowSteps(
  w: Pick<Warning, 'state' | 'created_by'>,
  can: (permission: string) => boolean,
  me: string | null | undefined,
): WorkflowStep[] {
  const steps = STEPS_BY_STATE[w.state] ?? []
  return steps.filter((s) => can(STEP_PERMISSION[s]) && !(NOT_BY_AUTHOR.has(s) && me && w.created_by === me))
}

/** The list's tabs: our own warnings, received CAP warnings, those in force. */
export type ListTab = 'ours' | 'received' | 'in_force'
export const LIST_TABS: readonly ListTab[] = ['ours', 'received', 'in_force']

export function tabQuery(tab: ListTab): Pick<WarningQuery, 'origin' | 'state'> {
  if (tab === 'received') return { origin: 'received' }
  if (tab === 'in_force') return { state: 'published' }
  return { origin: 'authored' }
}

/** The levels a type allows, most severe first (all four when no type is chosen). */
export function allowedLevels(types: readonly WarningType[], code: string | null | undefined): Level[] {
  const order: Level[] = ['red', 'orange', 'yellow', 'blue']
  const type = types.find((t) => t.code === code)
  return type ? order.filter((l) => type.levels.includes(l)) : order
}

interface FeatureLike {
  geometry: { type: string; coordinates: unknown }
}

/** The polygons drawn on the map as one MultiPolygon (null when none is drawn). */
export function drawnArea(features: readonly FeatureLike[]): AreaGeometry | null {
  const polygons: number[][][][] = []
  for (const f of features) {
    if (f.geometry.type === 'Polygon') polygons.push(f.geometry.coordinates as number[][][])
    else if (f.geometry.type === 'MultiPolygon') polygons.push(...(f.geometry.coordinates as number[][][][]))
  }
  return polygons.length ? { type: 'MultiPolygon', coordinates: polygons } : null
}

/** A stored area as the polygons to put back on the map (one per polygon). */
export function areaPolygons(area: AreaGeometry | null | undefined): number[][][][] {
  if (!area) return []
  return area.type === 'Polygon' ? [area.coordinates as number[][][]] : (area.coordinates as number[][][][])
}

/** [west, south, east, north] of an area, or null when it has no points. */
export function areaBounds(area: AreaGeometry | null | undefined): [number, number, number, number] | null {
  let w = Infinity
  let s = Infinity
  let e = -Infinity
  let n = -Infinity
  for (const polygon of areaPolygons(area)) {
    for (const ring of polygon) {
      for (const [lon, lat] of ring as unknown as [number, number][]) {
        w = Math.min(w, lon)
        e = Math.max(e, lon)
        s = Math.min(s, lat)
        n = Math.max(n, lat)
      }
    }
  }
  return Number.isFinite(w) ? [w, s, e, n] : null
}

/** Add or remove a division code from the picked ones (kept sorted). */
export function togglePicked(picked: readonly string[], adcode: string): string[] {
  const next = picked.includes(adcode) ? picked.filter((c) => c !== adcode) : [...picked, adcode]
  return next.sort()
}

export interface BoardTotals {
  called: number
  answered: number
  overdue: number
  escalated: number
}

export function boardTotals(board: { towns: Board['towns']; totals?: Board['totals'] | null } | null | undefined): BoardTotals {
  if (board?.totals) {
    const { called, answered, overdue, escalated } = board.totals
    return { called, answered, overdue, escalated }
  }
  const totals: BoardTotals = { called: 0, answered: 0, overdue: 0, escalated: 0 }
  for (const town of board?.towns ?? []) {
    totals.called += town.called
    totals.answered += town.answered
    totals.overdue += town.overdue
    totals.escalated += town.escalated
  }
  return totals
}

/** Towns with someone still not answering first, then by name; the county level (no town) last. */
export function sortTowns(towns: readonly BoardTown[]): BoardTown[] {
  const open = (t: BoardTown) => t.called - t.answered
  return [...towns].sort(
    (a, b) =>
      Number(!a.town_adcode) - Number(!b.town_adcode) ||
      open(b) - open(a) ||
      (a.town_name ?? '').localeCompare(b.town_name ?? '', 'zh-CN'),
  )
}

/** Live events that change what a warning's page shows. */
export const WARNING_EVENTS = [
  'warning.',
  'notify.deliveries.progress',
  'notify.delivery.failed',
  'notify.delivery.answered',
] as const

/** The id of the warning a live event is about, whichever payload shape it has. */
export function eventWarningId(event: LiveEvent): string | null {
  const p = event.payload
  if (p && typeof p === 'object') {
    const o = p as Record<string, unknown>
    if (typeof o.warning_id === 'string') return o.warning_id
    if (typeof o.subject_id === 'string') return o.subject_id
    const w = o.warning
    if (w && typeof w === 'object' && typeof (w as { id?: unknown }).id === 'string') return (w as { id: string }).id
  }
  if (event.subject_type === 'warning' && event.subject_id) return event.subject_id
  return null
}

/** `datetime-local` value (local time, minutes) ↔ ISO instant. */
export function toLocalInput(iso: string | null | undefined): string {
  if (!iso) return ''
  const d = new Date(iso)
  if (Number.isNaN(d.getTime())) return ''
  const pad = (n: number) => String(n).padStart(2, '0')
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`
}

export function fromLocalInput(value: string | null | undefined): string | null {
  if (!value) return null
  const d = new Date(value)
  return Number.isNaN(d.getTime()) ? null : d.toISOString()
}

/** What the editor checks before sending (the server checks again): codes for the form. */
export function draftProblems(d: {
  type_code: string | null
  level: Level | null
  headline: string
  issuer: string
  area: AreaGeometry | null
  area_adcodes: readonly string[]
  onset_at: string | null
  expires_at: string | null
}, types: readonly WarningType[]): string[] {
  const problems: string[] = []
  if (!d.type_code) problems.push('type_required')
  if (!d.level) problems.push('level_required')
  else if (d.type_code && !allowedLevels(types, d.type_code).includes(d.level)) problems.push('level_not_allowed')
  if (!d.headline.trim()) problems.push('headline_required')
  if (!d.issuer.trim()) problems.push('issuer_required')
  if (!d.area && !d.area_adcodes.length) problems.push('area_required')
  if (d.onset_at && d.expires_at && new Date(d.expires_at) <= new Date(d.onset_at)) problems.push('times_order')
  return problems
}
