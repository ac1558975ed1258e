/**
 * The intake desk's form logic, without Vue: the draft a duty officer types during a call, the
 * bodies sent for it, the per-fill idempotency key, and the small formatting rules.
 */
import { forgetKind, readUserItem, removeUserItem, writeUserItem } from '@/utils/userStorage'
import type {
  CandidateRequest,
  Casualties,
  Channel,
  ReportCreate,
  ReportReceipt,
} from '@/api/intake'

/** Channels an officer at the desk takes calls from: typed in by hand, or one of the hotlines. */
export const DESK_CHANNELS: Channel[] = [
  'manual',
  'hotline_110',
  'hotline_119',
  'hotline_120',
  'hotline_12122',
  'hotline_12345',
  'hotline_96345',
]

/** Fewer characters than this say too little to classify or to look for duplicates. */
export const MIN_PREVIEW_CHARS = 2
/** Wait this long after the last key stroke before asking the server. */
export const PREVIEW_DELAY_MS = 350
/** At most this many possible duplicates are shown. */
export const CANDIDATE_LIMIT = 5
/** The backend's phone pattern (ReportCreate.reporter_phone). */
export const PHONE_PATTERN = /^[0-9+\-() ]{3,40}$/

export interface DraftForm {
  channel: Channel
  reporterName: string
  reporterPhone: string
  text: string
  address: string
  lon: number | null
  lat: number | null
  categoryCode: string | null
  casualties: Casualties
}

export function emptyCasualties(): Casualties {
  return { dead: 0, injured: 0, missing: 0, trapped: 0 }
}

export function emptyForm(channel: Channel = 'manual'): DraftForm {
  return {
    channel,
    reporterName: '',
    reporterPhone: '',
    text: '',
    address: '',
    lon: null,
    lat: null,
    categoryCode: null,
    casualties: emptyCasualties(),
  }
}

/**
 * A fresh `external_id` for one form fill: a retry of the same fill sends the same id (the
 * server then answers with the report it stored), the next call gets a new one.
 */
export function newExternalId(now: number = Date.now(), random: () => number = Math.random): string {
  const tail = Array.from({ length: 8 }, () => Math.floor(random() * 36).toString(36)).join('')
  return `desk-${now.toString(36)}-${tail}`
}

function clean(value: string): string | null {
  const v = value.trim()
  return v ? v : null
}

function hasPoint(form: DraftForm): boolean {
  return form.lon !== null && form.lat !== null
}

/** What the server does with a report in no category that names no place (see ReportCreate). */
export type IfUnclear = ReportCreate['if_unclear']

/**
 * The body of `POST /intake/reports` for the form as it stands. `casualtiesConfirmed`: the
 * officer took or typed the counts; otherwise none are sent, and the server reads them from the
 * text and marks the level as resting on extracted counts.
 */
export function toReportBody(
  form: DraftForm,
  externalId: string,
  ifUnclear: IfUnclear = 'ask',
  casualtiesConfirmed = true,
): ReportCreate {
  const body: ReportCreate = {
    channel: form.channel,
    if_unclear: ifUnclear,
    external_id: externalId,
    text: form.text.trim(),
    reporter_name: clean(form.reporterName),
    reporter_phone: clean(form.reporterPhone),
    address: clean(form.address),
    category_code: form.categoryCode || null,
    casualties: { ...form.casualties },
    crs: 'wgs84',
  }
  if (!casualtiesConfirmed) delete body.casualties
  if (hasPoint(form)) {
    body.lon = form.lon
    body.lat = form.lat
  }
  return body
}

/** Whether the text says enough to classify it and look for duplicates. */
export function canPreview(form: DraftForm): boolean {
  return form.text.trim().length >= MIN_PREVIEW_CHARS
}

/** The body of `POST /intake/candidates` (nothing stored), or null while the text is too short. */
export function toCandidateRequest(form: DraftForm): CandidateRequest | null {
  if (!canPreview(form)) return null
  const body: CandidateRequest = {
    text: form.text.trim(),
    address: clean(form.address),
    category_code: form.categoryCode || null,
    limit: CANDIDATE_LIMIT,
  }
  if (hasPoint(form)) {
    body.lon = form.lon
    body.lat = form.lat
  }
  return body
}

/** The parts of the draft each preview depends on: the preview is asked again only when they change. */
export function classifyKey(form: DraftForm): string {
  return JSON.stringify([form.text.trim(), form.casualties])
}

export function candidatesKey(form: DraftForm): string {
  return JSON.stringify(toCandidateRequest(form))
}

/** Whether the officer has typed or set anything (the channel and category alone do not count). */
export function isBlank(form: DraftForm): boolean {
  const c = form.casualties
  return (
    !form.text.trim() &&
    !form.reporterName.trim() &&
    !form.reporterPhone.trim() &&
    !form.address.trim() &&
    !hasPoint(form) &&
    !(c.dead || c.injured || c.missing || c.trapped)
  )
}

// ---- the draft kept in the browser, per user -----------------------------------------------------

/** The storage kind of the desk's draft (`yingji.intake-draft.<user id>`); forgotten at sign-out. */
export const DRAFT_KIND = 'intake-draft'

export interface KeptDraft {
  form: DraftForm
  /** The fill's idempotency key: a submit after a reload is still the same report. */
  externalId: string
}

function str(v: unknown, max: number): string {
  return typeof v === 'string' ? v.slice(0, max) : ''
}

function num(v: unknown): number | null {
  return typeof v === 'number' && Number.isFinite(v) ? v : null
}

function count(v: unknown): number {
  const n = num(v)
  return n !== null && n >= 0 && n <= 100000 ? Math.floor(n) : 0
}

/** A kept draft read back, field by field (anything else in storage is ignored). */
export function parseKeptDraft(raw: unknown): KeptDraft | null {
  if (!raw || typeof raw !== 'object') return null
  const { form: f, externalId } = raw as { form?: Record<string, unknown>; externalId?: unknown }
  if (!f || typeof f !== 'object' || typeof externalId !== 'string' || !externalId.startsWith('desk-')) return null
  const channel = DESK_CHANNELS.includes(f.channel as Channel) ? (f.channel as Channel) : 'manual'
  const cas = (f.casualties ?? {}) as Record<string, unknown>
  const lon = num(f.lon)
  const lat = num(f.lat)
  const form: DraftForm = {
    channel,
    reporterName: str(f.reporterName, 100),
    reporterPhone: str(f.reporterPhone, 40),
    text: str(f.text, 4000),
    address: str(f.address, 300),
    lon: lon !== null && lat !== null ? lon : null,
    lat: lon !== null && lat !== null ? lat : null,
    categoryCode: typeof f.categoryCode === 'string' && f.categoryCode ? f.categoryCode : null,
    casualties: { dead: count(cas.dead), injured: count(cas.injured), missing: count(cas.missing), trapped: count(cas.trapped) },
  }
  return isBlank(form) ? null : { form, externalId: externalId.slice(0, 128) }
}

export function readDraft(userId: string): KeptDraft | null {
  return parseKeptDraft(readUserItem(DRAFT_KIND, userId))
}

/** Keep the draft as it stands (a blank form removes it). */
export function keepDraft(userId: string, form: DraftForm, externalId: string): void {
  if (isBlank(form)) removeUserItem(DRAFT_KIND, userId)
  else writeUserItem(DRAFT_KIND, userId, { form, externalId })
}

/** Every draft kept in this browser goes (at sign-out: a shared desk keeps no caller's details). */
export function forgetDrafts(): void {
  forgetKind(DRAFT_KIND)
}

/** What the form still lacks before it may be sent (message keys under `intake.invalid`). */
export function problems(form: DraftForm): string[] {
  const out: string[] = []
  if (!form.text.trim()) out.push('text')
  if (form.reporterPhone.trim() && !PHONE_PATTERN.test(form.reporterPhone.trim())) out.push('phone')
  return out
}

export type Judgement = 'joined' | 'suggested' | 'new' | 'pending' | 'filed'

/** How the server judged a submitted report: joined an incident, opened one (maybe a duplicate). */
export function judgementOf(receipt: ReportReceipt): Judgement {
  if (receipt.status === 'pending_verification') return 'pending'
  if (receipt.outcome === 'filed') return 'filed'
  if (receipt.duplicate) return 'joined'
  if ((receipt.suggestions ?? []).length > 0) return 'suggested'
  return 'new'
}

/** A distance for people: metres below a kilometre, else kilometres with one decimal. */
export function distanceParts(metres: number | null | undefined): { unit: 'm' | 'km'; n: string } | null {
  if (metres === null || metres === undefined || !Number.isFinite(metres)) return null
  if (metres < 1000) return { unit: 'm', n: String(Math.round(metres)) }
  return { unit: 'km', n: (metres / 1000).toFixed(1) }
}

/** Minutes apart for people: under one minute, minutes, or hours and minutes. */
export function minutesParts(minutes: number): { key: 'now' | 'min' | 'hour'; h: number; m: number } {
  const whole = Math.round(Math.max(0, minutes))
  if (whole < 1) return { key: 'now', h: 0, m: 0 }
  if (whole < 60) return { key: 'min', h: 0, m: whole }
  return { key: 'hour', h: Math.floor(whole / 60), m: whole % 60 }
}

/**
 * Runs one request at a time for a changing input: a new run aborts the one before, and a
 * result that arrives after a newer run started is dropped (`undefined`), so an old, slow
 * answer never replaces a newer one on screen.
 */
export function latestOnly() {
  let current: AbortController | null = null
  let generation = 0
  return {
    async run<T>(task: (signal: AbortSignal) => Promise<T>): Promise<{ value: T } | undefined> {
      current?.abort()
      const controller = new AbortController()
      current = controller
      const mine = ++generation
      try {
        const value = await task(controller.signal)
        return mine === generation ? { value } : undefined
      } catch (e) {
        if (mine !== generation || (e instanceof DOMException && e.name === 'AbortError')) return undefined
        throw e
      }
    },
    cancel() {
      generation++
      current?.abort()
      current = null
    },
  }
}
