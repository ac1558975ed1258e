/** KPI periods in China Standard Time (UTC+8, no daylight saving): months and day ranges. */

const OFFSET = '+08:00'
const SHANGHAI_MS = 8 * 3600 * 1000

function pad(n: number): string {
  return n < 10 ? `0${n}` : String(n)
}

/** `YYYY-MM` of the month `nowMs` falls in, in Asia/Shanghai. */
export function currentMonth(nowMs: number): string {
  const d = new Date(nowMs + SHANGHAI_MS)
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}`
}

/** `[first day 00:00, first day of the next month 00:00)` of `YYYY-MM`, in +08:00. */
export function monthRange(month: string): { from: string; to: string } {
  const [y, m] = month.split('-').map(Number) as [number, number]
  const nextY = m === 12 ? y + 1 : y
  const nextM = m === 12 ? 1 : m + 1
  return { from: `${y}-${pad(m)}-01T00:00:00${OFFSET}`, to: `${nextY}-${pad(nextM)}-01T00:00:00${OFFSET}` }
}

/** `[start 00:00, the day after end 00:00)` for days `YYYY-MM-DD` (end included), in +08:00. */
export function dayRange(start: string, end: string): { from: string; to: string } {
  const [y, m, d] = end.split('-').map(Number) as [number, number, number]
  const next = new Date(Date.UTC(y, m - 1, d + 1))
  const to = `${next.getUTCFullYear()}-${pad(next.getUTCMonth() + 1)}-${pad(next.getUTCDate())}`
  return { from: `${start}T00:00:00${OFFSET}`, to: `${to}T00:00:00${OFFSET}` }
}

/** A rate as a percentage with one decimal, or null without data. */
export function percent(rate: number | null | undefined): number | null {
  return rate === null || rate === undefined ? null : Math.round(rate * 1000) / 10
}
