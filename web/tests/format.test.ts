import { describe, expect, it } from 'vitest'
import { formatDateTime, formatTime } from '@/utils/format'

describe('dates are shown in Asia/Shanghai', () => {
  it('whatever zone the browser is in', () => {
    const s = formatDateTime('2026-01-31T17:30:05Z', 'zh-CN')
    expect(s).toContain('2026')
    expect(s).toContain('02') // next day in Beijing (Feb 1)
    expect(s).toContain('01:30:05')
    expect(formatTime('2026-01-31T17:30:05Z', 'en')).toBe('01:30:05')
  })
  it('shows a dash for missing or bad values', () => {
    expect(formatDateTime(null, 'zh-CN')).toBe('—')
    expect(formatDateTime('not a date', 'en')).toBe('—')
  })
})
