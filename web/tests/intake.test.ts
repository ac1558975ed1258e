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
import { i18n } from '@/i18n'
import { wordsOf, type Translator } from '@/utils/words'

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
  const zh = () => {
    i18n.global.locale.value = 'zh-CN'
    return wordsOf(i18n.global as unknown as Translator)
  }
  const en = () => {
    i18n.global.locale.value = 'en'
    return wordsOf(i18n.global as unknown as Translator)
  }
  const evidence = {
    code: 'match.evidence',
    params: {
      affinity: 'same',
      distance_m: 12,
      named_place: false,
      minutes: 7,
      text: 0.67,
      names: [{ kind: 'both_name', names: ['官塘中心学校'] }],
      evidence: { text: 6.2, place: 7.0, time: 6.9, names: 0.9, category: 0, prior: -15 },
    },
  }

  it('words the matcher evidence of a join in Chinese', () => {
    expect(zh().reasonText({ code: 'match.join', params: { score: 0.93, evidence } })).toBe(
      '并入已有事件（相似度 0.93）：同类别；相距 12 米；相差 7 分钟；文本相似度 0.67；均提及 官塘中心学校；' +
        '证据权重：文本 +6.2，地点 +7.0，时间 +6.9，地名 +0.9，类别 0.0，基准 -15.0',
    )
    expect(zh().reasonText({ code: 'match.none', params: {} })).toBe('时空范围内没有相关类别的在办事件，新立一案')
    expect(zh().reasonText({ code: 'match.joined_by', params: { person: '王芳' } })).toBe('由 王芳 并入')
  })

  it('words the level reason with the measure and the level', () => {
    const reason = {
      code: 'level.default',
      params: {
        level: 'IV',
        category: 'accident.fire',
        below: [
          { measure: ['dead', 'missing'], value: 0, minimum: 3 },
          { measure: ['injured'], value: 0, minimum: 10 },
        ],
      },
    }
    expect(zh().reasonText(reason)).toBe(
      '未达到分级标准（死亡+失联 0 人（标准 3 人）；重伤 0 人（标准 10 人）），按该类事件的默认等级定为 Ⅳ级 一般',
    )
    expect(en().reasonText(reason)).toBe(
      'no threshold reached (dead+missing 0 (threshold 3); seriously injured 0 (threshold 10)): ' +
        'the category’s default, Level IV (general)',
    )
  })

  it('falls back to the text for a reason stored before codes, and to nothing without one', () => {
    expect(zh().reasonText(null, 'old words')).toBe('old words')
    expect(zh().reasonText({ code: 'legacy', params: { text: '旧原因' } })).toBe('旧原因')
    expect(zh().reasonText(undefined)).toBe('')
  })

  it('words a timeline entry from its code, and shows the summary of a legacy one', () => {
    const issued = {
      code: 'dispatch.order_issued',
      params: { unit: '庆元县消防救援大队', role: 'lead', why: { code: 'routing.rule', params: { note: '火灾：消防主办' } } },
      summary: 'x',
    }
    expect(zh().timelineText(issued)).toBe('派单 庆元县消防救援大队（主办）：派单规则：火灾：消防主办')
    expect(zh().timelineText({ code: 'legacy', params: null, summary: '处置中 responding' })).toBe('处置中 responding')
    expect(zh().timelineText({ code: 'incidents.level_changed', params: { from: 'IV', to: 'III', reason: '3人被困' }, summary: '' })).toBe(
      'Ⅳ级 一般 → Ⅲ级 较大：3人被困',
    )
    const ended = {
      code: 'dispatch.order_closed_with_incident',
      params: { unit: '庆元县消防救援大队', from_stage: 'issued', incident_state: 'closed' },
      summary: 'x',
    }
    expect(zh().timelineText(ended)).toBe('庆元县消防救援大队 的派单随事件结束（事件已办结）')
  })
})

describe('live events in words', () => {
  const words = () => {
    i18n.global.locale.value = 'zh-CN'
    return wordsOf(i18n.global as unknown as Translator)
  }

  it('names the incident by its number and the unit by its name, never by an id', () => {
    const payload = {
      order: { id: '01a24d9b-3e7a-7de0-b947-4db9ca055bb6' },
      incident: { id: '01a24d9b-0000-7de0-b947-4db9ca055bb6', number: '20261207-4D8D3D' },
      params: { unit: '庆元县消防救援大队' },
    }
    expect(words().eventText('dispatch.order_signed', payload)).toBe('签收 · 事件 20261207-4D8D3D · 庆元县消防救援大队')
    expect(words().eventText('org.unit.updated', { before: { name: '竹口镇' }, after: { name: '竹口镇' } })).toBe(
      '修改联动单位 · 竹口镇',
    )
    expect(words().eventText('something.unknown', {})).toBe('其他动态')
  })

  it('says what changed in the audit log in words', () => {
    expect(words().changesText({ state: 'verified', level: 'IV' }, { state: 'responding', level: 'III' })).toEqual([
      '状态：已核实 → 处置中',
      '级别：Ⅳ级 一般 → Ⅲ级 较大',
    ])
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
