import { describe, expect, it } from 'vitest'
import { countdown, formatDuration } from '@/utils/countdown'

const NOW = Date.parse('2026-10-01T08:00:00Z')

describe('order countdowns', () => {
  it('shows minutes and seconds, hours when needed', () => {
    expect(formatDuration(65)).toBe('1:05')
    expect(formatDuration(3723)).toBe('1:02:03')
  })
  it('is ok with time to spare, soon near the deadline, overdue after it', () => {
    expect(countdown('2026-10-01T08:30:00Z', NOW)).toMatchObject({ seconds: 1800, state: 'ok' })
    expect(countdown('2026-10-01T08:04:00Z', NOW)).toMatchObject({ seconds: 240, state: 'soon' })
    expect(countdown('2026-10-01T07:59:15Z', NOW)).toEqual({ seconds: -45, state: 'overdue', text: '−0:45' })
  })
  it('has nothing to show without a deadline', () => {
    expect(countdown(null, NOW)).toBeNull()
    expect(countdown('not a date', NOW)).toBeNull()
  })
})
