/**
 * The resource layers of the situation board: one GeoJSON source per kind, filled from
 * `GET /resources:layer` for the view (the server sends points when few, else grid clusters
 * with `cluster: true` and `count`, never more than about 2 000 features). A kind is fetched
 * only once it is switched on, so the board's first render carries none of it.
 *
 * No symbol layers (no glyph server offline): kinds differ by colour, clusters by size, and the
 * counts are HTML markers drawn by the view, as for the incidents.
 */
import type { CircleLayerSpecification, GeoJSONSourceSpecification } from 'maplibre-gl'
import { RESOURCE_KINDS, type ResourceKind } from '@/api/requests'

/** Colours far from the incident levels' red, orange, yellow and blue. */
export const KIND_COLORS: Record<ResourceKind, string> = {
  rescue_team: '#2f7d32',
  warehouse: '#8d5524',
  equipment: '#5b6b7a',
  expert: '#7b3fa0',
  shelter: '#12a1a1',
  hazard_source: '#b3261e',
  protection_target: '#c2185b',
  medical_facility: '#00897b',
  video_point: '#37474f',
  plan: '#6d4c41',
}

/** The kinds a layer may show (a plan has no place of its own: it is not a layer). */
export const LAYER_KINDS: ResourceKind[] = RESOURCE_KINDS.filter((k) => k !== 'plan')

/** Where the kinds switched on are kept between visits. */
export { LAYERS_KEY } from '@/map/style'

export const sourceId = (kind: string) => `res-${kind}`
export const clusterLayerId = (kind: string) => `res-${kind}-clusters`
export const pointLayerId = (kind: string) => `res-${kind}-points`

/** The kind of one of our layer ids, else null. */
export function kindOfLayer(layerId: string): { kind: string; cluster: boolean } | null {
  const m = /^res-([a-z_]+)-(clusters|points)$/.exec(layerId)
  return m ? { kind: m[1]!, cluster: m[2] === 'clusters' } : null
}

/** Kinds stored as switched on: only known layer kinds, each once. */
export function storedKinds(raw: string | null): ResourceKind[] {
  if (!raw) return []
  const wanted = new Set(raw.split(','))
  return LAYER_KINDS.filter((k) => wanted.has(k))
}

export function resourceSource(): GeoJSONSourceSpecification {
  return { type: 'geojson', data: { type: 'FeatureCollection', features: [] } }
}

/** A grid cluster's radius in pixels, by its count. */
const CLUSTER_RADII: [number, number][] = [
  [0, 11],
  [10, 14],
  [100, 18],
  [1000, 23],
]

export function clusterRadius(count: number): number {
  let radius = CLUSTER_RADII[0]![1]
  for (const [from, r] of CLUSTER_RADII) if (count >= from) radius = r
  return radius
}

/** The two layers of a kind: clusters (rounded squares of colour) and single resources. */
export function resourceLayers(kind: ResourceKind): CircleLayerSpecification[] {
  const color = KIND_COLORS[kind]
  return [
    {
      id: clusterLayerId(kind),
      type: 'circle',
      source: sourceId(kind),
      filter: ['==', ['get', 'cluster'], true],
      paint: {
        'circle-color': color,
        'circle-opacity': 0.75,
        'circle-radius': [
          'step',
          ['get', 'count'],
          CLUSTER_RADII[0]![1],
          ...CLUSTER_RADII.slice(1).flat(),
        ] as unknown as number,
        'circle-stroke-color': '#ffffff',
        'circle-stroke-width': 1.5,
      },
    } as CircleLayerSpecification,
    {
      id: pointLayerId(kind),
      type: 'circle',
      source: sourceId(kind),
      filter: ['!=', ['get', 'cluster'], true],
      paint: {
        'circle-color': color,
        'circle-radius': 5.5,
        'circle-stroke-color': '#ffffff',
        'circle-stroke-width': 2,
      },
    } as CircleLayerSpecification,
  ]
}

/** Round a view's bounds outwards, so small pans inside it ask nothing new. */
export function paddedBBox(
  bounds: [number, number, number, number],
  fraction = 0.25,
): [number, number, number, number] {
  const [w, s, e, n] = bounds
  const dx = (e - w) * fraction
  const dy = (n - s) * fraction
  const clamp = (v: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, v))
  return [clamp(w - dx, -180, 180), clamp(s - dy, -90, 90), clamp(e + dx, -180, 180), clamp(n + dy, -90, 90)]
}

/** Whether `inner` lies inside `outer` (the data fetched for `outer` still covers the view). */
export function covers(outer: [number, number, number, number] | null, inner: [number, number, number, number]): boolean {
  if (!outer) return false
  return outer[0] <= inner[0] && outer[1] <= inner[1] && outer[2] >= inner[2] && outer[3] >= inner[3]
}

/** Distance in words' numbers: metres under 1 km, else km with one decimal. */
export function distanceParts(metres: number): { km: boolean; value: string } {
  if (metres < 1000) return { km: false, value: String(Math.round(metres)) }
  return { km: true, value: (metres / 1000).toFixed(metres < 10_000 ? 1 : 0) }
}
