/**
 * Division labels that never cover an incident. The labels are HTML markers (no glyph server
 * offline), and HTML lies above the map's canvas: a label at a town's centre would hide an
 * incident placed there (the gazetteer places a call that names only the town at its centre).
 * So a label that would cover an incident steps aside (below, above, right or left of it, the
 * shortest move first) or, where every side is taken, is not shown: the incident wins.
 */

/** Something drawn on the map that a label must leave free: a circle in screen pixels. */
export interface Obstacle {
  x: number
  y: number
  r: number
}

/** A label centred at (x, y) in screen pixels, w × h pixels large. */
export interface LabelBox {
  x: number
  y: number
  w: number
  h: number
}

/** Pixels kept free between a label and an incident. */
export const LABEL_GAP = 2
/** The farthest a label moves from its place: farther, it would name the wrong spot. */
export const LABEL_MAX_SHIFT = 40

function covers(label: LabelBox, dx: number, dy: number, o: Obstacle): boolean {
  const left = label.x + dx - label.w / 2
  const top = label.y + dy - label.h / 2
  const nearestX = Math.min(Math.max(o.x, left), left + label.w)
  const nearestY = Math.min(Math.max(o.y, top), top + label.h)
  const reach = o.r + LABEL_GAP
  return (o.x - nearestX) ** 2 + (o.y - nearestY) ** 2 < reach * reach
}

function free(label: LabelBox, dx: number, dy: number, obstacles: Obstacle[]): boolean {
  return !obstacles.some((o) => covers(label, dx, dy, o))
}

/**
 * Where to draw a label so that it covers no obstacle: its offset from its place in pixels
 * (`[0, 0]` when it covers nothing there), or `null` when no side of the obstacles it would
 * cover is free within {@link LABEL_MAX_SHIFT} pixels (then the label is not shown).
 */
export function labelOffset(label: LabelBox, obstacles: Obstacle[]): [number, number] | null {
  const near = obstacles.filter((o) => covers(label, 0, 0, o))
  if (!near.length) return [0, 0]
  const candidates: [number, number][] = []
  for (const o of near) {
    const clear = o.r + LABEL_GAP + 1
    candidates.push(
      [0, o.y - label.y + clear + label.h / 2], // below
      [0, o.y - label.y - clear - label.h / 2], // above
      [o.x - label.x + clear + label.w / 2, 0], // right
      [o.x - label.x - clear - label.w / 2, 0], // left
    )
  }
  const nearEnough = candidates.filter(([dx, dy]) => Math.hypot(dx, dy) <= LABEL_MAX_SHIFT)
  nearEnough.sort((a, b) => Math.hypot(...a) - Math.hypot(...b))
  return nearEnough.find(([dx, dy]) => free(label, dx, dy, obstacles)) ?? null
}
