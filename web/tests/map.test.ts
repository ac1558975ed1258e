import { describe, expect, it } from 'vitest'
import { buildStyle, chosenBaseLayer, styleUrls, tileTemplate } from '@/map/style'
import { bboxOf, labelPoint } from '@/map/geometry'
import { clusterExtent, pointExtent } from '@/map/incidents'
import { LABEL_GAP, labelOffset } from '@/map/labels'

describe('map style', () => {
  it('refers to no URL at all when no base layer is configured (offline)', () => {
    const style = buildStyle([])
    expect(styleUrls(style)).toEqual([])
    expect(style.glyphs).toBeUndefined()
    expect(style.sprite).toBeUndefined()
    expect(style.layers.some((l) => l.type === 'symbol')).toBe(false)
    expect(style.layers.some((l) => l.type === 'raster')).toBe(false)
    expect(style.layers[0].type).toBe('background')
  })

  it('adds configured raster layers below the boundaries', () => {
    const style = buildStyle([
      { name: 'tdt', type: 'wmts', url: 'https://t0.example/vec_w/wmts?TILEMATRIX={TileMatrix}&TILEROW={TileRow}&TILECOL={TileCol}', attribution: '天地图' },
    ])
    expect(styleUrls(style)).toEqual(['https://t0.example/vec_w/wmts?TILEMATRIX={z}&TILEROW={y}&TILECOL={x}'])
    const ids = style.layers.map((l) => l.id)
    expect(ids.indexOf('base-0')).toBeLessThan(ids.indexOf('towns-fill'))
    expect(tileTemplate({ name: 'x', type: 'xyz', url: 'http://h/{z}/{x}/{y}.png' })).toBe('http://h/{z}/{x}/{y}.png')
  })
})

describe('the base layer shown', () => {
  it('is the one chosen on the board, none if none was, else the first', () => {
    expect(chosenBaseLayer(2, '1')).toBe(1)
    expect(chosenBaseLayer(2, '-1')).toBe(-1)
    expect(chosenBaseLayer(2, null)).toBe(0)
    expect(chosenBaseLayer(2, '5')).toBe(0) // a layer since removed from the configuration
    expect(chosenBaseLayer(2, 'x')).toBe(0)
    expect(chosenBaseLayer(0, '1')).toBe(-1)
  })
})

describe('geometry', () => {
  const square = {
    type: 'Polygon',
    coordinates: [[[0, 0], [2, 0], [2, 2], [0, 2], [0, 0]]],
  }
  it('puts a label at the centroid of the largest part', () => {
    expect(labelPoint(square)).toEqual([1, 1])
    const multi = {
      type: 'MultiPolygon',
      coordinates: [
        [[[10, 10], [10.1, 10], [10.1, 10.1], [10, 10]]],
        [[[0, 0], [4, 0], [4, 4], [0, 4], [0, 0]]],
      ],
    }
    expect(labelPoint(multi)).toEqual([2, 2])
  })
  it('computes a bbox over all features', () => {
    const fc = {
      type: 'FeatureCollection' as const,
      features: [
        { type: 'Feature' as const, geometry: square, properties: { adcode: '1', name: 'a', level: 'town' as const } },
        {
          type: 'Feature' as const,
          geometry: { type: 'Polygon', coordinates: [[[-1, 5], [3, 5], [3, 6], [-1, 5]]] },
          properties: { adcode: '2', name: 'b', level: 'town' as const },
        },
      ],
    }
    expect(bboxOf(fc)).toEqual([-1, 0, 3, 6])
    expect(bboxOf({ type: 'FeatureCollection', features: [] })).toBeNull()
  })
})

describe('division labels beside incidents', () => {
  const label = { x: 100, y: 100, w: 40, h: 18 }

  it('stay in place when they cover no incident', () => {
    expect(labelOffset(label, [{ x: 300, y: 300, r: 8 }])).toEqual([0, 0])
    expect(labelOffset(label, [])).toEqual([0, 0])
  })

  it('step aside from an incident at their centre, the shortest way, leaving it free', () => {
    const incident = { x: 100, y: 100, r: 7.5 }
    const [dx, dy] = labelOffset(label, [incident])!
    expect(dx).toBe(0) // a wide label moves up or down, not sideways
    expect(Math.abs(dy)).toBeGreaterThanOrEqual(label.h / 2 + incident.r + LABEL_GAP)
    expect(Math.abs(dy)).toBeLessThan(label.h / 2 + incident.r + LABEL_GAP + 2)
  })

  it('take another side when one is taken by a second incident', () => {
    const offset = labelOffset(label, [
      { x: 100, y: 100, r: 7.5 },
      { x: 100, y: 125, r: 7.5 }, // below
    ])
    expect(offset![1]).toBeLessThan(0) // above
  })

  it('are not shown when every side of the incident is taken', () => {
    const around = [
      { x: 100, y: 100, r: 8 },
      { x: 100, y: 125, r: 15 },
      { x: 100, y: 75, r: 15 },
      { x: 140, y: 100, r: 15 },
      { x: 60, y: 100, r: 15 },
    ]
    expect(labelOffset(label, around)).toBeNull()
  })

  it('keep clusters free by their drawn size', () => {
    expect(clusterExtent(3)).toBe(15)
    expect(clusterExtent(1200)).toBe(32)
    expect(pointExtent('I')).toBeGreaterThan(pointExtent('IV'))
    expect(pointExtent(null)).toBe(pointExtent('IV'))
  })
})
