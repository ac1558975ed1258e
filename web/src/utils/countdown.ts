/** Time left before a deadline, as the countdowns on orders show it. */

/** Under this share of the allowed time left, a countdown turns amber (the reminder share). */
export const SOON_SECONDS = 5 * 60

export type CountdownState = 'ok' | 'soon' | 'overdue'

export interface Countdown {
  /** Seconds left; negative when overdue. */
  seconds: number
  state: CountdownState
  /** `12:04`, `1:02:03`, `−0:45` (overdue), `2天3小时` style is left to the caller. */
  text: string
}

function pad(n: number): string {
  return n < 10 ? `0${n}` : String(n)
}

export function formatDuration(totalSeconds: number): string {
  const sign = totalSeconds < 0 ? '−' : ''
  let s = Math.floor(Math.abs(totalSeconds))
  const h = Math.floor(s / 3600)
  s -= h * 3600
  const m = Math.floor(s / 60)
  s -= m * 60
  return h > 0 ? `${sign}${h}:${pad(m)}:${pad(s)}` : `${sign}${m}:${pad(s)}`
}

export function countdown(
  due: string | number | Date | null | undefined,
  nowMs: number,
  soonSeconds: number = SOON_SECONDS,
): Countdown | null {
  if (due === null || due === undefined || due === '') return null
  const dueMs = due instanceof Date ? due.getTime() : new Date(due).getTime()
  if (Number.isNaN(dueMs)) return null
  const seconds = Math.floor((dueMs - nowMs) / 1000)
  const state: CountdownState = seconds < 0 ? 'overdue' : seconds <= soonSeconds ? 'soon' : 'ok'
  return { seconds, state, text: formatDuration(seconds) }
}
