/**
 * Start what the situation board needs as soon as the router knows it is going there — MapLibre's
 * chunk and the incidents — in parallel with the board's own chunk, instead of after the view has
 * mounted. The view then finds MapLibre loaded and the incidents (being) fetched.
 */
import type * as ML from 'maplibre-gl'
import { useIncidentsStore } from '@/stores/incidents'

let maplibre: Promise<typeof ML> | null = null

/**
 * MapLibre's module, fetched once; a failed fetch is tried again on the next call. Its web
 * worker (which parses and clusters the GeoJSON) is started at once, before any map exists.
 */
export function loadMaplibre(): Promise<typeof ML> {
  maplibre ??= import('maplibre-gl').then(
    (module) => {
      module.prewarm()
      return module
    },
    (e: unknown) => {
      maplibre = null
      throw e
    },
  )
  return maplibre
}

/** Router hook for the board: never blocks the navigation. */
export function preloadBoard(): void {
  void loadMaplibre().catch(() => undefined) // the view reports the failure when it loads it
  const board = useIncidentsStore()
  board.startLive()
  void board.load({ reuse: true })
}
