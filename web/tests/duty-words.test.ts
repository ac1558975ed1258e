import { describe, expect, it } from 'vitest'
import { i18n } from '@/i18n'
import { wordsOf } from '@/utils/words'

function words(locale: 'zh-CN' | 'en') {
  i18n.global.locale.value = locale
  const { t, te } = i18n.global
  return wordsOf({ t, te, locale: i18n.global.locale } as unknown as Parameters<typeof wordsOf>[0])
}

describe('the duty desk in the audit log', () => {
  it('words a shift’s state, a pattern’s kind and a swap’s state, never the stored values', () => {
    const w = words('zh-CN')
    expect(w.changesText({ state: 'scheduled' }, { state: 'missed' }, 'duty_shift')[0]).toMatch(/待签到.*未到岗/)
    expect(w.changesText({}, { kind: 'full_day' }, 'shift_pattern')[0]).toContain('24小时')
    expect(w.changesText({ state: 'requested' }, { state: 'approved' }, 'duty_swap')[0]).toMatch(/待审批.*已批准/)
    expect(w.changesText({ state: 'due' }, { state: 'missing' }, 'duty_report_due')[0]).toMatch(/待报.*漏报/)
    expect(w.changesText({ state: 'open' }, { state: 'signed' }, 'duty_handover')[0]).toMatch(/待交班.*已交接/)
    const en = words('en')
    expect(en.changesText({ state: 'scheduled' }, { state: 'missed' }, 'duty_shift')[0]).toMatch(/awaiting check-in.*missed/)
    i18n.global.locale.value = 'zh-CN'
  })
})
