/** The words of the warning screens that depend on data: a type's name, a state, a channel. */
import type { WarningType } from '@/api/warnings'

export interface Words {
  t: (key: string, params?: Record<string, unknown>) => string
  te: (key: string) => boolean
  locale: string
}

/** A type's name in the reader's language; a received warning's own event text as sent. */
export function typeName(type: WarningType | string | null | undefined, w: Words): string {
  if (!type) return w.t('warning.type.none')
  if (typeof type === 'string') return type
  return w.locale === 'en' ? type.name_en : type.name_zh
}

function worded(prefix: string, code: string | null | undefined, w: Words): string {
  if (!code) return '—'
  const key = `${prefix}.${code}`
  return w.te(key) ? w.t(key) : code
}

export const stateLabel = (code: string | null | undefined, w: Words) => worded('warning.state', code, w)
export const channelLabel = (code: string | null | undefined, w: Words) => worded('warning.channel', code, w)
export const deliveryStateLabel = (code: string | null | undefined, w: Words) => worded('warning.deliveryState', code, w)
export const reasonLabel = (code: string | null | undefined, w: Words) => worded('warning.reason', code, w)
export const positionLabel = (code: string | null | undefined, w: Words) => worded('warning.position', code, w)
export const callStateLabel = (code: string | null | undefined, w: Words) => worded('warning.callState', code, w)

const CHANNEL_ERROR = /^(app|email|dingtalk|wecom|sms|voice|loudspeaker|led)_(.+)$/

/** Why a delivery failed, in words: `sms_unavailable` → 短信：暂时无法送达; an unknown code → 其他原因. */
export function deliveryErrorLabel(code: string | null | undefined, w: Words): string {
  if (!code) return ''
  if (w.te(`warning.deliveryError.${code}`)) return w.t(`warning.deliveryError.${code}`)
  const m = CHANNEL_ERROR.exec(code)
  if (m && w.te(`warning.deliveryError.${m[2]}`)) {
    return w.t('warning.deliveryError.ofChannel', { channel: channelLabel(m[1], w), reason: w.t(`warning.deliveryError.${m[2]}`) })
  }
  return w.t('warning.deliveryError.other')
}
