/**
 * `<input type="datetime-local">` values read as Asia/Shanghai wall time (UTC+8, no daylight
 * saving), whatever the browser's own zone is.
 */
const OFFSET = '+08:00'
const OFFSET_MS = 8 * 3600_000

/** "2026-12-01T09:30" (Shanghai) → "2026-12-01T09:30:00+08:00"; "" → null. */
export function fromShanghaiLocal(value: string): string | null {
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?$/.test(value)) return null
  return `${value.length === 16 ? `${value}:00` : value}${OFFSET}`
}

/** An instant → the Shanghai wall time for a datetime-local input; null/invalid → "". */
export function toShanghaiLocal(iso: string | null | undefined): string {
  if (!iso) return ''
  const ms = Date.parse(iso)
  if (Number.isNaN(ms)) return ''
  return new Date(ms + OFFSET_MS).toISOString().slice(0, 16)
}
