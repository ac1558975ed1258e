/**
 * What the server says as data, in the reader's language: reasons and timeline entries come as
 * `{code, params}` (`yingji.core.reasons`), live events and audit rows as their action names and
 * payloads. The words are in `@/i18n/features/words`. A code without words falls back to the
 * text the caller passes (the server's Chinese summary, or a person's own words).
 */
import { useI18n } from 'vue-i18n'
import type { components } from '@/api/schema'

/** A reason or an event as the server sends it (`yingji.core.reasons.Reason`). */
export type Coded = components['schemas']['Reason']

type Params = Record<string, unknown>

function isCoded(value: unknown): value is Coded {
  return !!value && typeof value === 'object' && typeof (value as Coded).code === 'string'
}

function str(value: unknown): string {
  return value === null || value === undefined ? '' : String(value)
}

function signed(value: unknown): string {
  const n = Number(value ?? 0)
  return `${n > 0 ? '+' : ''}${n.toFixed(1)}`
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

/** What the words need of vue-i18n (a component's `useI18n()`, or `i18n.global`). */
export interface Translator {
  t: (key: string, named?: Record<string, unknown>) => string
  te: (key: string) => boolean
  locale: { value: string }
}

export function useWords() {
  return wordsOf(useI18n() as unknown as Translator)
}

export function wordsOf({ t, te, locale }: Translator) {

  const suffix = (text: unknown): string => (str(text) ? t('words.suffix', { text: str(text) }) : '')
  const level = (l: unknown): string => (te(`incidentLevel.${str(l)}`) ? t(`incidentLevel.${str(l)}`) : str(l))
  const measure = (m: unknown): string =>
    (Array.isArray(m) ? m : [m]).map((x) => (te(`words.measure.${x}`) ? t(`words.measure.${x}`) : str(x))).join('+')
  const channel = (c: unknown): string => (te(`channel.${str(c)}`) ? t(`channel.${str(c)}`) : str(c))

  function finding(f: Params): string {
    const kind = str(f.kind)
    if (kind === 'both_name') {
      const names = Array.isArray(f.names) ? f.names.map(str).join(t('words.nameSep')) : ''
      return t('words.match.both_name', { names })
    }
    return te(`words.match.${kind}`) ? t(`words.match.${kind}`, { ours: str(f.ours), theirs: str(f.theirs) }) : ''
  }

  function evidence(p: Params): string {
    const parts: string[] = []
    const affinity = str(p.affinity)
    if (te(`words.match.affinity.${affinity}`)) parts.push(t(`words.match.affinity.${affinity}`))
    if (p.distance_m !== undefined && p.distance_m !== null) {
      parts.push(t(p.named_place ? 'words.match.namedPlace' : 'words.match.distance', { distance: str(p.distance_m) }))
    } else if (p.division) {
      parts.push(t(`words.match.division.${str(p.division)}`))
    }
    if (p.minutes !== undefined) parts.push(t('words.match.minutes', { minutes: str(p.minutes) }))
    if (p.text !== undefined) parts.push(t('words.match.text', { text: Number(p.text).toFixed(2) }))
    for (const f of Array.isArray(p.names) ? (p.names as Params[]) : []) {
      const phrase = finding(f)
      if (phrase) parts.push(phrase)
    }
    const weights = p.evidence as Params | undefined
    if (weights && typeof weights === 'object') {
      parts.push(
        t('words.match.evidence', {
          text: signed(weights.text),
          place: signed(weights.place),
          time: signed(weights.time),
          names: signed(weights.names),
          category: signed(weights.category),
          prior: signed(weights.prior),
        }),
      )
    }
    return parts.join(t('words.listSep'))
  }

  /** A level resting on casualty counts read from the text says so (intake, issue 21). */
  function extracted(p: Params): string {
    return p.counts === 'extracted' ? t('intake.countsExtracted') : ''
  }

  /** A reason (`level.*`, `match.*`, `routing.*`, `legacy`) in words; `fallback` without one. */
  function reasonText(reason: Coded | null | undefined, fallback: string | null = null): string {
    if (!isCoded(reason)) return fallback ?? ''
    const p: Params = reason.params ?? {}
    switch (reason.code) {
      case 'legacy':
      case 'level.manual':
        return str(p.text)
      case 'level.reached':
      case 'level.below_default':
        return (
          t(`words.${reason.code}`, {
            measure: measure(p.measure),
            value: str(p.value),
            minimum: str(p.minimum),
            level: level(p.level),
          }) + extracted(p)
        )
      case 'level.default': {
        const below = (Array.isArray(p.below) ? (p.below as Params[]) : [])
          .map((b) => t('words.level.below', { measure: measure(b.measure), value: str(b.value), minimum: str(b.minimum) }))
          .join(t('words.listSep'))
        return t('words.level.default', { below, level: level(p.level) }) + extracted(p)
      }
      case 'match.join':
      case 'match.suggest':
      case 'match.ambiguous': {
        const inner = isCoded(p.evidence) ? reasonText(p.evidence) : ''
        return t(`words.${reason.code}`, { score: str(p.score), runner: str(p.runner), evidence: inner })
      }
      case 'match.evidence':
        return evidence(p)
      case 'match.out_of_reach':
        return [evidence(p), t('words.match.out_of_reach')].filter(Boolean).join(t('words.listSep'))
      case 'routing.rule':
        return t('words.routing.rule', { note: str(p.note) || str(p.category) || '*' })
      default:
        return te(`words.${reason.code}`) ? t(`words.${reason.code}`, stringParams(p)) : (fallback ?? '')
    }
  }

  function stringParams(p: Params): Record<string, string> {
    return Object.fromEntries(Object.entries(p).map(([k, v]) => [k, str(v)]))
  }

  /** A timeline entry's words from its code and params; its summary for `legacy` or unknown codes. */
  function timelineText(entry: { code?: string | null; params?: Params | null; summary: string }): string {
    const code = entry.code ?? 'legacy'
    const key = `words.timeline.${code}`
    if (code === 'legacy' || !te(key)) return entry.summary
    const p: Params = entry.params ?? {}
    const late = p.late ? t('words.late') : ''
    const words: Record<string, string> = {
      ...stringParams(p),
      channel: channel(p.channel),
      external_id: str(p.external_id),
      why: isCoded(p.why) ? suffix(reasonText(p.why)) : '',
      note: suffix(p.note),
      text: code === 'incidents.noted' ? str(p.text) : suffix(p.text),
      reason: suffix(p.reason),
      role: te(`words.role.${str(p.role)}`) ? t(`words.role.${str(p.role)}`) : str(p.role),
      from: level(p.from),
      to: level(p.to),
      late: code === 'incidents.first_reported' ? (p.late ? t('words.lateReport') : '') : late,
      kind: te(`words.cancelKind.${str(p.kind)}`) ? t(`words.cancelKind.${str(p.kind)}`) : str(p.kind),
      stage: te(`deadlineStage.${str(p.stage)}`) ? t(`deadlineStage.${str(p.stage)}`) : str(p.stage),
      ending: te(`incidentState.${str(p.incident_state)}`)
        ? t(`incidentState.${str(p.incident_state)}`)
        : str(p.incident_state),
      due: p.due_at ? new Date(str(p.due_at)).toLocaleString(locale.value) : '',
      result: !p.reached
        ? t('words.callback.unreached')
        : t(`words.callback.${p.satisfied === true ? 'satisfied' : p.satisfied === false ? 'unsatisfied' : 'unrated'}`),
    }
    return t(key, words)
  }

  /** An action name (`incidents.verified`, `org.user.updated` …) in words; null if unknown. */
  function actionText(action: string): string | null {
    const key = `words.action.${action}`
    return te(key) ? t(key) : null
  }

  function subjectText(subjectType: string | null | undefined): string {
    if (!subjectType) return ''
    return te(`words.subject.${subjectType}`) ? t(`words.subject.${subjectType}`) : ''
  }

  function valueText(field: string, value: unknown, subjectType?: string | null): string {
    if (value === null || value === undefined || value === '') return t('words.none')
    if (typeof value === 'boolean') return t(value ? 'words.yes' : 'words.no')
    if (Array.isArray(value)) return value.map((v) => valueText(field, v, subjectType)).join(t('words.nameSep'))
    const text = str(value)
    // a subject's own words first (a warning's `signed` is 已签发, an order's 已签收)
    if (subjectType && te(`words.value.${subjectType}.${field}.${text}`)) return t(`words.value.${subjectType}.${field}.${text}`)
    if (te(`words.value.${field}.${text}`)) return t(`words.value.${field}.${text}`)
    if (field === 'state' && te(`incidentState.${text}`)) return t(`incidentState.${text}`)
    if (field === 'state' && te(`orderStage.${text}`)) return t(`orderStage.${text}`)
    if (field === 'stage' && te(`orderStage.${text}`)) return t(`orderStage.${text}`)
    if ((field === 'level' || field === 'levels') && te(`incidentLevel.${text}`)) return t(`incidentLevel.${text}`)
    if (field === 'roles' && te(`roles.${text}`)) return t(`roles.${text}`)
    if (field === 'role' && te(`words.role.${text}`)) return t(`words.role.${text}`)
    if (field === 'channel') return channel(text)
    if (field.endsWith('_at') && !Number.isNaN(Date.parse(text))) return new Date(text).toLocaleString(locale.value)
    if (UUID.test(text) || typeof value === 'object') return t('words.valueChanged')
    return text
  }

  function fieldText(field: string): string {
    return te(`words.field.${field}`) ? t(`words.field.${field}`) : field
  }

  /** What changed between two snapshots of a `subjectType`, field by field, in words. */
  function changesText(before: unknown, after: unknown, subjectType?: string | null): string[] {
    const b = (before && typeof before === 'object' ? before : {}) as Params
    const a = (after && typeof after === 'object' ? after : {}) as Params
    const fields = [...new Set([...Object.keys(b), ...Object.keys(a)])].filter((f) => te(`words.field.${f}`))
    const lines: string[] = []
    for (const f of fields) {
      if (JSON.stringify(b[f]) === JSON.stringify(a[f])) continue
      const [was, now] = [valueText(f, b[f], subjectType), valueText(f, a[f], subjectType)]
      if (!(f in b)) lines.push(t('words.set', { field: fieldText(f), after: now }))
      else lines.push(t('words.changed', { field: fieldText(f), before: was, after: now }))
    }
    return lines
  }

  /** A live event in words: what happened, with the incident's number and the unit's name. */
  function eventText(type: string, payload: unknown): string {
    const what = actionText(type) ?? (te(`eventTypes.${type.replace(/\./g, '_')}`) ? t(`eventTypes.${type.replace(/\./g, '_')}`) : t('words.event.other'))
    const p = (payload && typeof payload === 'object' ? payload : {}) as Params
    const incident = (p.incident && typeof p.incident === 'object' ? p.incident : {}) as Params
    const number = str(incident.number ?? p.number)
    const params = (p.params && typeof p.params === 'object' ? p.params : {}) as Params
    const changed = (p.after && typeof p.after === 'object' ? p.after : p.before ?? {}) as Params
    // an order's unit, or the name of what an administration change touched (a unit, an account)
    const unit = str(params.unit ?? p.unit ?? p.unit_name ?? changed.name ?? changed.display_name)
    if (number && unit) return t('words.event.withBoth', { what, number, unit })
    if (number) return t('words.event.withNumber', { what, number })
    if (unit) return t('words.event.withUnit', { what, unit })
    return what
  }

  return { reasonText, timelineText, actionText, subjectText, changesText, eventText }
}
