/** Small geometry helpers for label placement and fitting (no turf: keep the bundle small). */
import type { GeoFeature, GeoFeatureCollection } from '@/api/types'

export type BBox = [number, number, number, number] // west, south, east, north
type Ring = number[][]

function walk(coords: unknown, visit: (x: number, y: number) => void): void {
  if (!Array.isArray(coords)) return
  if (typeof coords[0] === 'number' && typeof coords[1] === 'number') {
    visit(coords[0], coords[1])
    return
  }
  for (const c of coords) walk(c, visit)
}

export function bboxOf(fc: GeoFeatureCollection | GeoFeature[]): BBox | null {
  const features = Array.isArray(fc) ? fc : fc.features
  let w = Infinity
  let s = Infinity
  let e = -Infinity
  let n = -Infinity
  for (const f of features) {
    walk(f.geometry?.coordinates, (x, y) => {
      if (x < w) w = x
      if (x > e) e = x
      if (y < s) s = y
      if (y > n) n = y
    })
  }
  return Number.isFinite(w) ? [w, s, e, n] : null
}

function ringCentroid(ring: Ring): { x: number; y: number; area: number } | null {
  let a = 0
  let cx = 0
  let cy = 0
  for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
    const [x0, y0] = ring[j]
    const [x1, y1] = ring[i]
    const f = x0 * y1 - x1 * y0
    a += f
    cx += (x0 + x1) * f
    cy += (y0 + y1) * f
  }
  if (Math.abs(a) < 1e-15) return null
  return { x: cx / (3 * a), y: cy / (3 * a), area: Math.abs(a / 2) }
}

/** Where to put a polygon's label: the centroid of its largest outer ring. */
export function labelPoint(geometry: GeoFeature['geometry']): [number, number] | null {
  if (!geometry) return null
  let rings: Ring[] = []
  if (geometry.type === 'Polygon') rings = [(geometry.coordinates as Ring[])[0]]
  else if (geometry.type === 'MultiPolygon') rings = (geometry.coordinates as Ring[][]).map((p) => p[0])
  else if (geometry.type === 'Point') return geometry.coordinates as [number, number]
  let best: { x: number; y: number; area: number } | null = null
  for (const ring of rings) {
    const c = ring && ring.length >= 3 ? ringCentroid(ring) : null
    if (c && (!best || c.area > best.area)) best = c
  }
  if (best) return [best.x, best.y]
  const box = bboxOf([{ type: 'Feature', geometry, properties: { adcode: '', name: '', level: 'town' } }])
  return box ? [(box[0] + box[2]) / 2, (box[1] + box[3]) / 2] : null
}
