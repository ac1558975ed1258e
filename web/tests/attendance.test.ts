import { describe, expect, it } from 'vitest'
import { importProblems, ownDivision } from '@/api/attendance'
import { seatName, stateType } from '@/views/duty/attendanceWords'
import messages from '@/i18n/features/attendance'

const zh = messages['zh-CN'].attendance
const words = {
  t: (key: string) => {
    const position = key.replace('attendance.positions.', '')
    return zh.positions[position] ?? key
  },
}

describe('the attendance page', () => {
  it('names a seat as the duty office does', () => {
    expect(seatName(words, 'leader', '', 1)).toBe('带班领导')
    expect(seatName(words, 'officer', '', 2)).toBe('值班员 2')
    expect(seatName(words, 'professional', '水利', 1)).toBe('专业值班人员（水利）')
  })

  it('colours missed shifts apart from checked-in ones', () => {
    expect(stateType('missed')).toBe('danger')
    expect(stateType('checked_in')).toBe('success')
    expect(stateType('scheduled')).toBe('info')
  })

  it('reads its own division from the scope path', () => {
    expect(ownDivision('330000/331126/')).toBe('331126')
    expect(ownDivision(null)).toBeNull()
  })

  it('lists the rows of a refused import, and nothing from other errors', () => {
    const errors = [{ line: 4, field: 'G', code: 'person_unknown', params: { value: '王五' } }]
    expect(importProblems({ errors })).toEqual(errors)
    expect(importProblems({ permission: 'duty.roster' })).toEqual([])
    expect(importProblems(null)).toEqual([])
  })

  it('words every problem an import can give in both languages', () => {
    const codes = Object.keys(zh.problem)
    expect(Object.keys(messages.en.attendance.problem).sort()).toEqual(codes.sort())
  })
})
