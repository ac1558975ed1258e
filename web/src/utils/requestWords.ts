/**
 * Words of resources and requests shared by the incident page and the requests screen:
 * distances, travel minutes, a request's subject, and a refusal's reason.
 */
import { useI18n } from 'vue-i18n'
import { availableOf, type ResourceRequest } from '@/api/requests'
import { distanceParts } from '@/map/resources'
import { errorText } from '@/utils/errors'

export function useRequestWords() {
  const { t, te } = useI18n()

  function distance(metres: number | null | undefined): string {
    if (metres === null || metres === undefined) return ''
    const { km, value } = distanceParts(metres)
    return t(km ? 'allocation.distance.km' : 'allocation.distance.m', { n: value })
  }

  function minutes(value: number | null | undefined): string {
    if (value === null || value === undefined) return ''
    return t('allocation.minutes', { n: Math.max(1, Math.round(value)) })
  }

  function kindName(kind: string | null | undefined): string {
    if (!kind) return ''
    return te(`resources.kinds.${kind}`) ? t(`resources.kinds.${kind}`) : kind
  }

  function statusName(kind: string | null | undefined, status: string | null | undefined): string {
    if (!status) return ''
    const key = `resources.statuses.${kind ?? ''}.${status}`
    return te(key) ? t(key) : status
  }

  function stateName(state: string): string {
    return te(`allocation.state.${state}`) ? t(`allocation.state.${state}`) : state
  }

  /** What a request asks for: the resource by name, or the item with its quantity. */
  function subject(r: ResourceRequest): string {
    if (r.target === 'supply') {
      return t('allocation.requests.quantity', { item: r.item_name ?? '', n: r.quantity, unit: r.unit_of_measure ?? '' })
    }
    return [r.resource_name ?? '', kindName(r.kind)].filter(Boolean).join(' · ')
  }

  /** A failure in words; "only N left" when the stock ran short. */
  function failure(error: unknown): string {
    const available = availableOf(error)
    return available !== null ? t('allocation.insufficient', { n: available }) : errorText(error)
  }

  return { distance, minutes, kindName, statusName, stateName, subject, failure }
}
