import { describe, expect, it } from 'vitest'
import { currentMonth, dayRange, monthRange, percent } from '@/components/kpi/period'
import messages from '@/i18n/features/kpi'

describe('KPI periods in China Standard Time', () => {
  it('takes the month as it is in Shanghai, not in UTC', () => {
    expect(currentMonth(Date.parse('2026-11-30T17:00:00Z'))).toBe('2026-12')
    expect(currentMonth(Date.parse('2026-11-30T15:59:59Z'))).toBe('2026-11')
  })
  it('runs a month from its first midnight to the next month, across a year end', () => {
    expect(monthRange('2026-12')).toEqual({ from: '2026-12-01T00:00:00+08:00', to: '2027-01-01T00:00:00+08:00' })
    expect(monthRange('2026-02')).toEqual({ from: '2026-02-01T00:00:00+08:00', to: '2026-03-01T00:00:00+08:00' })
  })
  it('includes the last day of a custom range', () => {
    expect(dayRange('2026-11-15', '2026-11-30')).toEqual({
      from: '2026-11-15T00:00:00+08:00',
      to: '2026-12-01T00:00:00+08:00',
    })
    expect(dayRange('2026-12-31', '2026-12-31').to).toBe('2027-01-01T00:00:00+08:00')
  })
  it('shows rates as percentages with one decimal and no number without data', () => {
    expect(percent(0.5)).toBe(50)
    expect(percent(2 / 3)).toBe(66.7)
    expect(percent(null)).toBeNull()
  })
  it('names the five rates in both languages', () => {
    expect(Object.keys(messages.en.kpi.rates).sort()).toEqual(
      ['acceptance', 'callback', 'feedback', 'punctuality', 'turnout'].sort(),
    )
    expect(Object.keys(messages.en.kpi).sort()).toEqual(Object.keys(messages['zh-CN'].kpi).sort())
  })
})
