/**
 * The browser tests read what a map has drawn (`queryRenderedFeatures`, `project`) through the
 * element that holds it: `document.querySelector('[data-testid=board-map]').yjMap`. Nothing in
 * the app reads it.
 */
export type MapElement = HTMLElement & { yjMap?: unknown }

export function exposeMap(element: HTMLElement, map: unknown): void {
  ;(element as MapElement).yjMap = map
}
