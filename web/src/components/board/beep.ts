/**
 * A short two-tone beep with WebAudio (no audio file). Browsers start an AudioContext only after
 * a user gesture, so {@link unlockAudio} is called from the first click or key press; before
 * that (or without WebAudio) a beep is silently skipped. Beeps closer than
 * {@link MIN_GAP_MS} apart are merged into one.
 */
export const MIN_GAP_MS = 1500

type Ctx = AudioContext
let ctx: Ctx | null = null
let lastAt = -Infinity

function context(): Ctx | null {
  if (ctx) return ctx
  const Ctor =
    typeof window !== 'undefined'
      ? (window.AudioContext ?? (window as unknown as { webkitAudioContext?: typeof AudioContext }).webkitAudioContext)
      : undefined
  if (!Ctor) return null
  try {
    ctx = new Ctor()
  } catch {
    ctx = null
  }
  return ctx
}

export function unlockAudio(): void {
  const c = context()
  if (c && c.state === 'suspended') void c.resume().catch(() => undefined)
}

/** Returns whether a beep was scheduled. */
export function beep(now: number = Date.now()): boolean {
  if (now - lastAt < MIN_GAP_MS) return false
  const c = context()
  if (!c || c.state !== 'running') return false
  lastAt = now
  const t0 = c.currentTime
  for (const [i, freq] of [880, 660].entries()) {
    const osc = c.createOscillator()
    const gain = c.createGain()
    osc.type = 'sine'
    osc.frequency.value = freq
    const start = t0 + i * 0.18
    gain.gain.setValueAtTime(0.0001, start)
    gain.gain.exponentialRampToValueAtTime(0.25, start + 0.02)
    gain.gain.exponentialRampToValueAtTime(0.0001, start + 0.16)
    osc.connect(gain).connect(c.destination)
    osc.start(start)
    osc.stop(start + 0.17)
  }
  return true
}
