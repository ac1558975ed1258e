import { describe, expect, it } from 'vitest'
import {
  LAYER_KINDS,
  clusterRadius,
  covers,
  distanceParts,
  kindOfLayer,
  paddedBBox,
  resourceLayers,
  storedKinds,
} from '@/map/resources'
import { availableOf, stepsFor } from '@/api/requests'
import { ApiError } from '@/api/client'
import { FEATURES } from '@/i18n/features'
import allocation from '@/i18n/features/allocation'

describe('resource layers', () => {
  it('offers every kind with a place (a plan has none) and keeps only known stored kinds', () => {
    expect(LAYER_KINDS).toHaveLength(9)
    expect(LAYER_KINDS).not.toContain('plan')
    expect(storedKinds('warehouse,nonsense,shelter,warehouse')).toEqual(['warehouse', 'shelter'])
    expect(storedKinds(null)).toEqual([])
  })

  it('draws server clusters and single resources apart, without symbol layers (offline: no glyphs)', () => {
    const [clusters, points] = resourceLayers('warehouse')
    expect(clusters!.id).toBe('res-warehouse-clusters')
    expect(points!.id).toBe('res-warehouse-points')
    expect(clusters!.filter).toEqual(['==', ['get', 'cluster'], true])
    expect(points!.filter).toEqual(['!=', ['get', 'cluster'], true])
    expect(kindOfLayer('res-rescue_team-points')).toEqual({ kind: 'rescue_team', cluster: false })
    expect(kindOfLayer('res-video_point-clusters')).toEqual({ kind: 'video_point', cluster: true })
    expect(kindOfLayer('incident-points')).toBeNull()
    expect(clusterRadius(3)).toBeLessThan(clusterRadius(150))
  })

  it('asks again only when the view leaves what was fetched', () => {
    const fetched = paddedBBox([119, 27.5, 119.2, 27.7])
    expect(covers(fetched, [119.02, 27.52, 119.18, 27.68])).toBe(true)
    expect(covers(fetched, [119.3, 27.52, 119.4, 27.68])).toBe(false)
    expect(covers(null, [0, 0, 1, 1])).toBe(false)
    expect(paddedBBox([179, 89, 180, 90])).toEqual([178.75, 88.75, 180, 90])
  })

  it('says metres under a kilometre and kilometres above', () => {
    expect(distanceParts(420.4)).toEqual({ km: false, value: '420' })
    expect(distanceParts(2345)).toEqual({ km: true, value: '2.3' })
    expect(distanceParts(23456)).toEqual({ km: true, value: '23' })
  })
})

describe('request steps', () => {
  it('offers the deciders approve, reject and forward, the requester withdrawal', () => {
    expect(stepsFor({ state: 'requested', target: 'unit' }, 'incoming')).toEqual(['approve', 'reject', 'forward'])
    expect(stepsFor({ state: 'requested', target: 'unit' }, 'outgoing')).toEqual(['cancel'])
  })

  it('dispatches teams and issues supplies once approved', () => {
    expect(stepsFor({ state: 'approved', target: 'unit' }, 'incoming')).toEqual(['dispatch'])
    expect(stepsFor({ state: 'approved', target: 'supply' }, 'incoming')).toEqual(['issue'])
    expect(stepsFor({ state: 'dispatched', target: 'unit' }, 'outgoing')).toEqual(['arrive', 'return'])
    expect(stepsFor({ state: 'issued', target: 'supply' }, 'outgoing')).toEqual(['receive'])
    expect(stepsFor({ state: 'closed', target: 'supply' }, 'incoming')).toEqual([])
  })

  it('reads the quantity still available from a refusal for lack of stock', () => {
    expect(availableOf(new ApiError(409, 'insufficient_stock', 'x', { params: { available: 40 } }))).toBe(40)
    expect(availableOf(new ApiError(409, 'insufficient_stock', 'x', { available: 0 }))).toBe(0)
    expect(availableOf(new ApiError(409, 'stale_version', 'x', { available: 3 }))).toBeNull()
  })
})

describe('allocation messages', () => {
  function keys(value: unknown, prefix = ''): string[] {
    if (!value || typeof value !== 'object') return [prefix]
    return Object.entries(value).flatMap(([k, v]) => keys(v, prefix ? `${prefix}.${k}` : k))
  }

  it('are registered and say the same things in zh-CN and en', () => {
    expect(FEATURES).toContain(allocation)
    expect(keys(allocation.en).sort()).toEqual(keys(allocation['zh-CN']).sort())
  })
})
