/**
 * The map style: a plain background, the configured raster base layers (if any), and the
 * jurisdiction's own boundaries from `/divisions.geojson`.
 *
 * No `glyphs` and no `sprite`: offline there is no font or sprite server, so there are no symbol
 * layers; labels are HTML markers (see MapView). With no base layer configured the style refers
 * to no URL at all, so the map makes no external request.
 */
import type { LayerSpecification, SourceSpecification, StyleSpecification } from 'maplibre-gl'
import type { BaseLayer } from '@/api/types'

export const TOWN_SOURCE = 'towns'
export const VILLAGE_SOURCE = 'villages'
export const VILLAGE_MIN_ZOOM = 11
export const EMPTY_FC = { type: 'FeatureCollection' as const, features: [] }

const PALETTE = ['#dbe8f5', '#e3f0dc', '#f6ead7', '#ece0f2', '#f7dede', '#dff1ef']

/** Normalise the WMTS KVP / REST placeholders to MapLibre's {z}/{x}/{y}. */
export function tileTemplate(layer: BaseLayer): string {
  if (layer.type !== 'wmts') return layer.url
  return layer.url
    .replace(/\{TileMatrix\}/gi, '{z}')
    .replace(/\{TileCol\}/gi, '{x}')
    .replace(/\{TileRow\}/gi, '{y}')
}

function rasterSource(layer: BaseLayer): SourceSpecification {
  return {
    type: 'raster',
    tiles: [tileTemplate(layer)],
    tileSize: 256,
    ...(layer.attribution ? { attribution: layer.attribution } : {}),
  }
}

/** Where the resource layers switched on on the board are kept (`map/resources`). */
export const LAYERS_KEY = 'yingji.board.resourceLayers'

/** Where the base layer chosen on the board is kept (the incident page's map follows it). */
export const BASE_CHOICE_KEY = 'yingji.board.base'

/**
 * The base layer to show of `count` configured: the one chosen on the board (`stored`, -1 for
 * none: boundaries only), else the first; -1 when none is configured.
 */
export function chosenBaseLayer(count: number, stored: string | null): number {
  if (!count) return -1
  const index = Number(stored ?? '0')
  return Number.isInteger(index) && index >= -1 && index < count ? index : 0
}

/** Minimal surface of a map that {@link addBaseLayers} touches. */
export interface LayerTarget {
  addSource(id: string, source: SourceSpecification): unknown
  addLayer(layer: LayerSpecification, beforeId?: string): unknown
}

/** Add the configured base layers to a running map, below `beforeId` (the boundaries). */
export function addBaseLayers(map: LayerTarget, baseLayers: BaseLayer[], beforeId: string): void {
  baseLayers.forEach((layer, i) => {
    map.addSource(`base-${i}`, rasterSource(layer))
    map.addLayer({ id: `base-${i}`, type: 'raster', source: `base-${i}` }, beforeId)
  })
}

export function buildStyle(baseLayers: BaseLayer[] = []): StyleSpecification {
  const hasBase = baseLayers.length > 0
  const sources: Record<string, SourceSpecification> = {}
  const layers: LayerSpecification[] = [
    { id: 'background', type: 'background', paint: { 'background-color': hasBase ? '#ffffff' : '#eef2f6' } },
  ]

  baseLayers.forEach((layer, i) => {
    const id = `base-${i}`
    sources[id] = rasterSource(layer)
    layers.push({ id, type: 'raster', source: id })
  })

  sources[TOWN_SOURCE] = { type: 'geojson', data: EMPTY_FC, promoteId: 'adcode' }
  sources[VILLAGE_SOURCE] = { type: 'geojson', data: EMPTY_FC, promoteId: 'adcode' }

  layers.push(
    {
      id: 'towns-fill',
      type: 'fill',
      source: TOWN_SOURCE,
      paint: {
        // a calm patchwork so neighbouring towns differ: palette picked by adcode
        'fill-color': [
          'match',
          ['%', ['to-number', ['slice', ['to-string', ['get', 'adcode']], 6, 9], 0], PALETTE.length],
          ...PALETTE.slice(1).flatMap((c, i) => [i + 1, c]),
          PALETTE[0],
        ] as unknown as string,
        'fill-opacity': townFillOpacity(hasBase) as unknown as number,
      },
    },
    {
      id: 'villages-fill',
      type: 'fill',
      source: VILLAGE_SOURCE,
      minzoom: VILLAGE_MIN_ZOOM,
      paint: {
        'fill-color': '#3a6ea5',
        'fill-opacity': ['case', ['boolean', ['feature-state', 'hover'], false], 0.18, 0],
      },
    },
    {
      id: 'villages-line',
      type: 'line',
      source: VILLAGE_SOURCE,
      minzoom: VILLAGE_MIN_ZOOM,
      paint: { 'line-color': '#7d8da1', 'line-width': 0.8, 'line-dasharray': [2, 2] },
    },
    {
      id: 'towns-line',
      type: 'line',
      source: TOWN_SOURCE,
      paint: {
        'line-color': '#3a4f66',
        'line-width': ['interpolate', ['linear'], ['zoom'], 8, 0.8, 12, 1.8, 15, 2.5],
      },
    },
  )

  return { version: 8, name: 'yingji-offline', sources, layers }
}

/** The opacity of the town fills: light over a base map, stronger on the plain background. */
function townFillOpacity(hasBase: boolean) {
  return [
    'case',
    ['boolean', ['feature-state', 'hover'], false],
    hasBase ? 0.45 : 0.95,
    hasBase ? 0.15 : 0.75,
  ]
}

/** Minimal surface of a map that {@link setBaseLayer} touches (lets tests pass a fake). */
export interface StyleTarget {
  getLayer(id: string): unknown
  setLayoutProperty(layer: string, name: string, value: unknown): unknown
  setPaintProperty(layer: string, name: string, value: unknown): unknown
}

/**
 * Show base layer `index` of `count` (or none, -1: the offline map of boundaries only) without
 * rebuilding the style, so the sources' data stay.
 */
export function setBaseLayer(map: StyleTarget, count: number, index: number): void {
  for (let i = 0; i < count; i++) {
    if (map.getLayer(`base-${i}`)) map.setLayoutProperty(`base-${i}`, 'visibility', i === index ? 'visible' : 'none')
  }
  const hasBase = index >= 0 && index < count
  map.setPaintProperty('background', 'background-color', hasBase ? '#ffffff' : '#eef2f6')
  map.setPaintProperty('towns-fill', 'fill-opacity', townFillOpacity(hasBase))
}

/** Every URL a style would make MapLibre fetch (used by tests to prove the offline style is silent). */
export function styleUrls(style: StyleSpecification): string[] {
  const urls: string[] = []
  if (style.glyphs) urls.push(style.glyphs)
  if (style.sprite) urls.push(...(typeof style.sprite === 'string' ? [style.sprite] : style.sprite.map((s) => s.url)))
  for (const src of Object.values(style.sources)) {
    if ('url' in src && typeof src.url === 'string') urls.push(src.url)
    if ('tiles' in src && Array.isArray(src.tiles)) urls.push(...src.tiles)
    if (src.type === 'geojson' && typeof src.data === 'string') urls.push(src.data)
  }
  return urls
}
