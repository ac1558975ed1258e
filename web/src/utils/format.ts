/** Dates are shown in China Standard Time whatever the browser's zone. */
export const TIME_ZONE = 'Asia/Shanghai'

const cache = new Map<string, Intl.DateTimeFormat>()

function formatter(locale: string, kind: 'datetime' | 'time'): Intl.DateTimeFormat {
  const key = `${locale}|${kind}`
  let f = cache.get(key)
  if (!f) {
    f = new Intl.DateTimeFormat(locale, {
      timeZone: TIME_ZONE,
      hour12: false,
      ...(kind === 'datetime' ? { year: 'numeric', month: '2-digit', day: '2-digit' } : {}),
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    })
    cache.set(key, f)
  }
  return f
}

function toDate(value: string | number | Date | null | undefined): Date | null {
  if (value === null || value === undefined || value === '') return null
  const d = value instanceof Date ? value : new Date(value)
  return Number.isNaN(d.getTime()) ? null : d
}

export function formatDateTime(value: string | number | Date | null | undefined, locale: string): string {
  const d = toDate(value)
  return d ? formatter(locale, 'datetime').format(d) : '—'
}

export function formatTime(value: string | number | Date | null | undefined, locale: string): string {
  const d = toDate(value)
  return d ? formatter(locale, 'time').format(d) : '—'
}
