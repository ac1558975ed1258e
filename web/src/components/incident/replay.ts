/** 回溯: which replay frames are shown at a moment, and how far the moment is along. */
export interface Frame {
  at: string
  kind: string
  lon: number | null
  lat: number | null
}

/** The frames at or before `moment` (ms), in their order. */
export function framesUntil<T extends Frame>(frames: readonly T[], moment: number): T[] {
  const shown: T[] = []
  for (const f of frames) {
    if (Date.parse(f.at) > moment) break
    shown.push(f)
  }
  return shown
}

/** The frames that have a place on the map. */
export function placed<T extends Frame>(frames: readonly T[]): T[] {
  return frames.filter((f) => f.lon !== null && f.lat !== null)
}

/**
 * The next moment of a playback: `step` frames further (at least one frame), or the end.
 * Playing by frames, not by clock time: a night without events is skipped, a busy hour is not
 * rushed.
 */
export function nextMoment(frames: readonly Frame[], moment: number, step = 1): number | null {
  let seen = 0
  for (const f of frames) {
    const at = Date.parse(f.at)
    if (at > moment) {
      seen += 1
      if (seen >= step) return at
    }
  }
  return null
}
