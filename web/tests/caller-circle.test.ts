import { describe, expect, it } from 'vitest'
import { callerCircleOf, circleFeatures, circleRing } from '@/map/circle'

function metres(a: [number, number], b: [number, number]): number {
  const r = 6_371_008.8
  const p1 = (a[1] * Math.PI) / 180
  const p2 = (b[1] * Math.PI) / 180
  const dp = p2 - p1
  const dl = ((b[0] - a[0]) * Math.PI) / 180
  const h = Math.sin(dp / 2) ** 2 + Math.cos(p1) * Math.cos(p2) * Math.sin(dl / 2) ** 2
  return 2 * r * Math.asin(Math.sqrt(h))
}

describe('caller location circle', () => {
  it('draws a closed ring whose every point lies at the accuracy radius', () => {
    const ring = circleRing(119.06, 27.62, 1500, 32)
    expect(ring).toHaveLength(33)
    expect(ring[0]).toEqual(ring[32])
    for (const p of ring) expect(Math.abs(metres([119.06, 27.62], p) - 1500)).toBeLessThan(1)
  })

  it('is empty without a caller location and one polygon with it', () => {
    expect(circleFeatures(null).features).toHaveLength(0)
    const report = { caller_lon: 119.1, caller_lat: 27.5, caller_accuracy_m: 40, caller_source: 'handset' }
    const circle = callerCircleOf(report)
    expect(circle).toEqual({ lon: 119.1, lat: 27.5, accuracy_m: 40, source: 'handset' })
    const fc = circleFeatures(circle)
    expect(fc.features[0].geometry.type).toBe('Polygon')
    expect(callerCircleOf({ caller_lon: null, caller_lat: null, caller_accuracy_m: null })).toBeNull()
  })
})
