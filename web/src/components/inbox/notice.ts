/**
 * 新派单提醒 — the words of the notification for an order that has just reached the unit, built
 * from the event's fields (the incident's number and title, the unit's role, the sign deadline,
 * who handed it over and why) in the user's language, never from the server's Chinese summary.
 */
import type { LiveEvent } from '@/api/types'
import { formatTime } from '@/utils/format'

type Translate = (key: string, params?: Record<string, unknown>) => string

interface NewOrderPayload {
  order?: { role?: unknown }
  incident?: { number?: unknown; title?: unknown }
  sign_due_at?: unknown
  from_unit?: unknown
  reason?: unknown
}

const ROLES = new Set(['lead', 'co'])

function text(value: unknown): string | null {
  return typeof value === 'string' && value.trim() ? value.trim() : null
}

export interface Notice {
  title: string
  message: string
}

export function newOrderNotice(event: LiveEvent, t: Translate, locale: string): Notice {
  const p = (event.payload && typeof event.payload === 'object' ? event.payload : {}) as NewOrderPayload
  const transfer = event.type === 'dispatch.order_transfer_requested'
  const title = transfer ? t('inbox.transferredToUs') : t('inbox.newOrder')
  const incident = [text(p.incident?.number), text(p.incident?.title)].filter(Boolean).join(' ')
  if (!incident) return { title, message: t('inbox.newOrderFallback') }
  const parts: string[] = []
  if (transfer) {
    const from = text(p.from_unit)
    parts.push(from ? t('inbox.notice.transfer', { from, incident }) : t('inbox.notice.transferNoFrom', { incident }))
    const reason = text(p.reason)
    if (reason) parts.push(t('inbox.notice.reason', { reason }))
  } else {
    const role = text(p.order?.role)
    parts.push(
      role && ROLES.has(role)
        ? t('inbox.notice.order', { incident, role: t(`inbox.role.${role}`) })
        : t('inbox.notice.orderNoRole', { incident }),
    )
  }
  const due = text(p.sign_due_at)
  if (due && !Number.isNaN(Date.parse(due))) parts.push(t('inbox.notice.signBy', { time: formatTime(due, locale) }))
  return { title, message: parts.join(t('inbox.notice.join')) }
}
