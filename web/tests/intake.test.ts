import { beforeEach, describe, expect, it } from 'vitest'
import {
  candidatesKey,
  classifyKey,
  distanceParts,
  emptyForm,
  forgetDrafts,
  isBlank,
  judgementOf,
  keepDraft,
  latestOnly,
  minutesParts,
  newExternalId,
  parseKeptDraft,
  problems,
  readDraft,
  toCandidateRequest,
  toReportBody,
} from '@/views/intake/draft'
import type { ReportReceipt } from '@/api/intake'
import intake from '@/i18n/features/intake'
import { explainReason } from '@/views/intake/reasons'

function filled() {
  const form = emptyForm('hotline_119')
  form.reporterName = '  张三 '
  form.reporterPhone = '13800000000'
  form.text = ' 竹口中心学校旁民房着火，浓烟很大 '
  form.address = '竹口中心学校'
  form.lon = 118.839693
  form.lat = 27.674612
  return form
}

describe('intake draft → request bodies', () => {
  it('sends trimmed text, the chosen channel and the point when one is set', () => {
    const body = toReportBody(filled(), 'desk-1')
    expect(body).toMatchObject({
      channel: 'hotline_119',
      external_id: 'desk-1',
      text: '竹口中心学校旁民房着火，浓烟很大',
      reporter_name: '张三',
      address: '竹口中心学校',
      lon: 118.839693,
      lat: 27.674612,
      category_code: null,
    })
  })

  it('leaves lon/lat out and sends null for blank optional fields when nothing is placed', () => {
    const form = emptyForm()
    form.text = '有人打架'
    const body = toReportBody(form, 'desk-2')
    expect('lon' in body).toBe(false)
    expect('lat' in body).toBe(false)
    expect(body.reporter_name).toBeNull()
    expect(body.reporter_phone).toBeNull()
    expect(body.address).toBeNull()
    expect(body.channel).toBe('manual')
  })

  it('asks for candidates only once the text says something, with the point and category', () => {
    const form = filled()
    expect(toCandidateRequest(form)).toMatchObject({ text: form.text.trim(), lon: form.lon, lat: form.lat })
    form.categoryCode = 'accident.fire'
    expect(toCandidateRequest(form)?.category_code).toBe('accident.fire')
    form.text = ' 火 '
    expect(toCandidateRequest(form)).toBeNull()
  })

  it('keys the previews on what they depend on: the caller name changes neither', () => {
    const form = filled()
    const [c, d] = [classifyKey(form), candidatesKey(form)]
    form.reporterName = '李四'
    expect([classifyKey(form), candidatesKey(form)]).toEqual([c, d])
    form.casualties.trapped = 2
    expect(classifyKey(form)).not.toBe(c)
    expect(candidatesKey(form)).toBe(d)
    form.lon = 118.9
    expect(candidatesKey(form)).not.toBe(d)
  })

  it('refuses an empty description and a malformed phone, accepts the filled form', () => {
    const form = emptyForm()
    form.reporterPhone = 'call me'
    expect(problems(form)).toEqual(['text', 'phone'])
    expect(problems(filled())).toEqual([])
  })
})

describe('idempotency key', () => {
  it('is printable ASCII, and differs between two form fills', () => {
    const a = newExternalId(1_700_000_000_000, () => 0.1)
    const b = newExternalId(1_700_000_000_001, () => 0.1)
    expect(a).toMatch(/^[\x21-\x7e]{1,100}$/)
    expect(a).not.toBe(b)
    expect(newExternalId()).not.toBe(newExternalId())
  })
})

describe('receipt judgement', () => {
  const base: ReportReceipt = {
    report_id: 'r',
    incident_id: 'i',
    created: true,
    duplicate: false,
    reason: null,
    status: 'accepted',
    suggestions: [],
  }
  it('tells a joined duplicate, a new incident with suggestions, a new one and a public report apart', () => {
    expect(judgementOf({ ...base, duplicate: true })).toBe('joined')
    expect(
      judgementOf({ ...base, suggestions: [{ incident_id: 'x', score: 0.5, distance_m: 10, minutes: 3 }] }),
    ).toBe('suggested')
    expect(judgementOf(base)).toBe('new')
    expect(judgementOf({ ...base, incident_id: null, status: 'pending_verification' })).toBe('pending')
  })
})

describe('distance and time for people', () => {
  it('shows metres under a kilometre and kilometres above', () => {
    expect(distanceParts(123.4)).toEqual({ unit: 'm', n: '123' })
    expect(distanceParts(1540)).toEqual({ unit: 'km', n: '1.5' })
    expect(distanceParts(null)).toBeNull()
  })
  it('shows minutes under an hour and hours with minutes above', () => {
    expect(minutesParts(0.3).key).toBe('now')
    expect(minutesParts(7)).toEqual({ key: 'min', h: 0, m: 7 })
    expect(minutesParts(135)).toEqual({ key: 'hour', h: 2, m: 15 })
  })
  it('has every message key in both languages', () => {
    const zh = intake['zh-CN'].intake
    const en = intake.en.intake
    expect(Object.keys(en).sort()).toEqual(Object.keys(zh).sort())
    for (const k of ['distance', 'minutes', 'outcome', 'judgements'] as const) {
      expect(Object.keys(en[k]).sort()).toEqual(Object.keys(zh[k]).sort())
    }
    expect(Object.keys(intake.en.errors).sort()).toEqual(Object.keys(intake['zh-CN'].errors).sort())
  })
})

describe('latestOnly', () => {
  it('drops an older answer that arrives after a newer run started, and aborts it', async () => {
    const runner = latestOnly()
    let releaseFirst: (v: string) => void = () => {}
    let firstSignal: AbortSignal | null = null
    const first = runner.run(
      (signal) =>
        new Promise<string>((resolve) => {
          firstSignal = signal
          releaseFirst = resolve
        }),
    )
    const second = runner.run(async () => 'new')
    releaseFirst('old')
    expect(await first).toBeUndefined()
    expect(await second).toEqual({ value: 'new' })
    expect((firstSignal as AbortSignal | null)?.aborted).toBe(true)
  })

  it('passes on the error of the newest run, swallows those of runs superseded', async () => {
    const runner = latestOnly()
    const old = runner.run(() => Promise.reject(new Error('late')))
    const current = runner.run(() => Promise.reject(new Error('now')))
    expect(await old).toBeUndefined()
    await expect(current).rejects.toThrow('now')
  })

  it('cancel() makes a pending run return nothing', async () => {
    const runner = latestOnly()
    const pending = runner.run(async () => 'x')
    runner.cancel()
    expect(await pending).toBeUndefined()
  })
})

describe('reasons in the user language', () => {
  const names = (code: string) => ({ 'accident.fire': '火灾' })[code] ?? code

  it('rewrites the matcher reason of a duplicate in Chinese, without the place keys', () => {
    expect(
      explainReason(
        'same category within 12 m and 7 min; text 0.67 (both name 331126209000/官塘中心学校)',
        'zh-CN',
        names,
      ),
    ).toBe('同类别，相距 12 米，相差 7 分钟，文本相似度 0.67（均提及 官塘中心学校）')
    expect(explainReason('possible duplicate: related category same town (no point) and 3 min; text 0.40', 'zh-CN')).toBe(
      '疑似重复：相关类别，同镇（无坐标），相差 3 分钟，文本相似度 0.40',
    )
    expect(explainReason('no open incident of a related category in the window', 'zh-CN')).toBe(
      '时空窗口内没有相关类别的在办事件',
    )
    expect(explainReason('joined by duty_officer', 'zh-CN')).toBe('由 duty_officer 并入')
  })

  it('rewrites the level reason with the category name', () => {
    expect(
      explainReason(
        'no threshold reached (dead+missing 0 < 3, injured 0 < 10) → IV (一般), default of accident.fire',
        'zh-CN',
        names,
      ),
    ).toBe('未达到分级阈值 (死亡+失联 0 < 3, 受伤 0 < 10) → IV (一般)，「火灾」的默认等级')
  })

  it('keeps the English wording in English, only naming the category and dropping place keys', () => {
    expect(explainReason('same category within 0 m and 0 min; text 0.67 (both name 331126209000/X)', 'en')).toBe(
      'same category within 0 m and 0 min; text 0.67 (both name X)',
    )
    expect(explainReason('default of accident.fire', 'en', names)).toBe('default of 火灾')
    expect(explainReason(null, 'zh-CN')).toBe('')
  })
})

describe('the draft kept in the browser', () => {
  beforeEach(() => localStorage.clear())

  it('comes back for the same officer with its idempotency key, and for no one else', () => {
    keepDraft('user-a', filled(), 'desk-abc-12345678')
    expect(readDraft('user-a')).toEqual({ form: filled(), externalId: 'desk-abc-12345678' })
    expect(readDraft('user-b')).toBeNull()
  })

  it('a blank form removes it, and sign-out forgets every officer\'s draft', () => {
    keepDraft('user-a', filled(), 'desk-1')
    keepDraft('user-a', emptyForm('hotline_119'), 'desk-1')
    expect(readDraft('user-a')).toBeNull()
    keepDraft('user-a', filled(), 'desk-1')
    keepDraft('user-b', filled(), 'desk-2')
    localStorage.setItem('yingji.locale', 'en')
    forgetDrafts()
    expect(readDraft('user-a')).toBeNull()
    expect(readDraft('user-b')).toBeNull()
    expect(localStorage.getItem('yingji.locale')).toBe('en')
  })

  it('reads back only well-formed fields', () => {
    expect(parseKeptDraft('nonsense')).toBeNull()
    expect(parseKeptDraft({ form: { text: '着火' }, externalId: 'not-ours' })).toBeNull()
    const read = parseKeptDraft({
      form: { channel: 'evil', text: '着火', lon: 119, lat: 'x', casualties: { trapped: -3, injured: 2 } },
      externalId: 'desk-1',
    })
    expect(read?.form.channel).toBe('manual')
    expect(read?.form.lon).toBeNull()
    expect(read?.form.casualties).toEqual({ dead: 0, injured: 2, missing: 0, trapped: 0 })
  })

  it('the channel alone is not a draft', () => {
    expect(isBlank(emptyForm('hotline_119'))).toBe(true)
    const f = emptyForm()
    f.casualties.trapped = 1
    expect(isBlank(f)).toBe(false)
  })
})
