/**
 * 派单 calls of the unit inbox and the supervision board. Shapes come from the generated
 * OpenAPI types (`schema.d.ts`).
 */
import type { components } from '@/api/schema'
import { api, buildUrl, errorFromResponse, getCsrfToken, ApiError, CSRF_HEADER } from '@/api/client'

export type Order = components['schemas']['OrderRead']
export type InboxOrder = components['schemas']['InboxOrder']
export type OrderIncident = components['schemas']['OrderIncident']
export type SupervisedOrder = components['schemas']['SupervisedOrder']
export type Escalation = components['schemas']['EscalationRead']
export type FeedbackPhoto = components['schemas']['FeedbackPhoto']
export type FeedbackAttachment = components['schemas']['FeedbackAttachment']
export type Unit = components['schemas']['UnitRead']
export type OrderPage = components['schemas']['OrderPage']

export interface Position {
  lon: number
  lat: number
}

/** 单位待办: my unit's orders (with those it still answers for), or all in scope without a unit. */
export function fetchInbox(mine: boolean): Promise<OrderPage> {
  return api.get<OrderPage>('/orders', { mine: mine || undefined, limit: 200 })
}

export function signOrder(id: string): Promise<Order> {
  return api.post<Order>(`/orders/${id}/sign`)
}

export function arriveOrder(id: string, position: Position | null): Promise<Order> {
  return api.post<Order>(`/orders/${id}/arrive`, position ? { ...position, crs: 'wgs84' } : undefined)
}

/**
 * 反馈, with photos uploaded for this order (`uploadPhoto`). A photo is named by its SHA-256 only:
 * the server keeps the type, name and size it found at upload.
 */
export function sendFeedback(id: string, text: string, photos: FeedbackPhoto[] = []): Promise<Order> {
  const attachments: FeedbackAttachment[] = photos.map((p) => ({ sha256: p.sha256 }))
  return api.post<Order>(`/orders/${id}/feedback`, {
    text,
    attachments: attachments.length ? attachments : undefined,
  })
}

export function completeOrder(id: string, note?: string): Promise<Order> {
  return api.post<Order>(`/orders/${id}/complete`, note ? { note } : undefined)
}

export function returnOrder(id: string, reason: string): Promise<Order> {
  return api.post<Order>(`/orders/${id}/return`, { reason })
}

export function transferOrder(id: string, toUnitId: string, reason: string): Promise<Order> {
  return api.post<Order>(`/orders/${id}/transfer`, { to_unit_id: toUnitId, reason })
}

export function fetchTransferUnits(id: string, q?: string): Promise<Unit[]> {
  return api.get<Unit[]>(`/orders/${id}/transfer-units`, { q })
}

export function remindOrder(id: string): Promise<Order> {
  return api.post<Order>(`/orders/${id}/remind`)
}

export function fetchSupervision(withinMinutes = 30): Promise<SupervisedOrder[]> {
  return api.get<SupervisedOrder[]>('/supervision', { within_minutes: withinMinutes })
}

/** The URL of a feedback photo (for `<img src>`; served as an image that runs nothing). */
export function photoUrl(orderId: string, sha256: string): string {
  return buildUrl(`/orders/${orderId}/photos/${sha256}`)
}

/** Upload one photo (multipart) to send with a feedback. */
export async function uploadPhoto(orderId: string, file: Blob, filename: string): Promise<FeedbackPhoto> {
  const form = new FormData()
  form.append('file', file, filename)
  const headers: Record<string, string> = { Accept: 'application/json' }
  const token = getCsrfToken()
  if (token) headers[CSRF_HEADER] = token
  let response: Response
  try {
    response = await fetch(buildUrl(`/orders/${orderId}/photos`), {
      method: 'POST',
      headers,
      body: form,
      credentials: 'same-origin',
    })
  } catch (e) {
    throw new ApiError(0, 'network_error', e instanceof Error ? e.message : String(e))
  }
  if (!response.ok) throw await errorFromResponse(response)
  return (await response.json()) as FeedbackPhoto
}
