/**
 * The incidents on the situation board: one clustered GeoJSON source, coloured by level with the
 * warning colours of the glossary (Ⅰ red, Ⅱ orange, Ⅲ yellow, Ⅳ blue). No symbol layers (no glyph
 * server offline): the counts of clusters are HTML markers drawn by the view.
 */
import type { CircleLayerSpecification, GeoJSONSourceSpecification } from 'maplibre-gl'

export const INCIDENT_SOURCE = 'incidents'
export const CLUSTER_LAYER = 'incident-clusters'
export const POINT_LAYER = 'incident-points'
export const CLUSTER_MAX_ZOOM = 14
/** Incidents changed since the board loaded (HTML markers), at most this many before they are folded back. */
export const LIVE_MAX = 300

export const LEVEL_COLORS: Record<string, string> = {
  I: '#d9001b',
  II: '#f56c00',
  III: '#f2c200',
  IV: '#1e6fd9',
}
export const UNKNOWN_COLOR = '#909399'

/** Severity as a number (Ⅰ = 4 … Ⅳ = 1): clusters take their colour from their most severe point. */
export function severity(level: string | null | undefined): number {
  switch (level) {
    case 'I':
      return 4
    case 'II':
      return 3
    case 'III':
      return 2
    case 'IV':
      return 1
    default:
      return 0
  }
}

/** Level Ⅲ and above (较大, 重大, 特别重大) ring a bell and get a highlight. */
export function isAlerting(level: string | null | undefined): boolean {
  return severity(level) >= 2
}

export function levelColor(level: string | null | undefined): string {
  return (level && LEVEL_COLORS[level]) || UNKNOWN_COLOR
}

/** A cluster's radius in pixels by its count: from each count on, this radius. */
const CLUSTER_RADII: [number, number][] = [
  [0, 13],
  [10, 16],
  [50, 20],
  [200, 25],
  [1000, 30],
]
const CLUSTER_STROKE = 2
/** A point's radius in pixels by its level (others: the last). */
const POINT_RADII: Record<string, number> = { I: 9, II: 8, III: 7 }
const POINT_RADIUS = 6
const POINT_STROKE = 1.5

/** How far from its centre a cluster of `count` incidents is drawn (stroke included). */
export function clusterExtent(count: number): number {
  let radius = CLUSTER_RADII[0][1]
  for (const [from, r] of CLUSTER_RADII) if (count >= from) radius = r
  return radius + CLUSTER_STROKE
}

/** How far from its centre an incident of `level` is drawn (stroke included). */
export function pointExtent(level: string | null | undefined): number {
  return ((level && POINT_RADII[level]) || POINT_RADIUS) + POINT_STROKE
}

const SEVERITY_EXPR = ['match', ['get', 'level'], 'I', 4, 'II', 3, 'III', 2, 'IV', 1, 0]

export function incidentSource(): GeoJSONSourceSpecification {
  return {
    type: 'geojson',
    data: { type: 'FeatureCollection', features: [] },
    promoteId: 'id',
    cluster: true,
    clusterRadius: 44,
    clusterMaxZoom: CLUSTER_MAX_ZOOM,
    clusterProperties: { sev: ['max', SEVERITY_EXPR] },
  } as GeoJSONSourceSpecification
}

export function incidentLayers(): CircleLayerSpecification[] {
  return [
    {
      id: CLUSTER_LAYER,
      type: 'circle',
      source: INCIDENT_SOURCE,
      filter: ['has', 'point_count'],
      paint: {
        'circle-color': [
          'match',
          ['get', 'sev'],
          4,
          LEVEL_COLORS.I,
          3,
          LEVEL_COLORS.II,
          2,
          LEVEL_COLORS.III,
          1,
          LEVEL_COLORS.IV,
          UNKNOWN_COLOR,
        ],
        'circle-opacity': 0.85,
        'circle-radius': [
          'step',
          ['get', 'point_count'],
          CLUSTER_RADII[0][1],
          ...CLUSTER_RADII.slice(1).flat(),
        ] as unknown as number,
        'circle-stroke-color': '#ffffff',
        'circle-stroke-width': CLUSTER_STROKE,
      },
    } as CircleLayerSpecification,
    {
      id: POINT_LAYER,
      type: 'circle',
      source: INCIDENT_SOURCE,
      filter: ['!', ['has', 'point_count']],
      paint: {
        'circle-color': [
          'match',
          ['get', 'level'],
          'I',
          LEVEL_COLORS.I,
          'II',
          LEVEL_COLORS.II,
          'III',
          LEVEL_COLORS.III,
          'IV',
          LEVEL_COLORS.IV,
          UNKNOWN_COLOR,
        ],
        'circle-radius': [
          'match',
          ['get', 'level'],
          ...Object.entries(POINT_RADII).flat(),
          POINT_RADIUS,
        ] as unknown as number,
        'circle-stroke-color': '#ffffff',
        'circle-stroke-width': POINT_STROKE,
      },
    } as CircleLayerSpecification,
  ]
}

/** A short label for a cluster's count: 1234 → "1.2k". */
export function clusterLabel(count: number): string {
  if (count < 1000) return String(count)
  if (count < 10_000) return `${(count / 1000).toFixed(1).replace(/\.0$/, '')}k`
  return `${Math.round(count / 1000)}k`
}
