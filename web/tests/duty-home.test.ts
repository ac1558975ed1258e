import { describe, expect, it } from 'vitest'
import { deskDivision, handoverStep } from '@/api/duty'
import { visibleNav } from '@/router/nav'

describe('the duty home', () => {
  it('offers the next signature of a handover to the right person', () => {
    expect(handoverStep({ state: 'open', signed_out_by: null }, 'u1')).toBe('sign_out')
    expect(handoverStep({ state: 'signed_out', signed_out_by: 'u1' }, 'u1')).toBe('wait_other')
    expect(handoverStep({ state: 'signed_out', signed_out_by: 'u1' }, 'u2')).toBe('sign_in')
    expect(handoverStep({ state: 'signed', signed_out_by: 'u1' }, 'u2')).toBe('done')
  })
  it('works for the division at the end of the desk path', () => {
    expect(deskDivision('330000/331126/')).toBe('331126')
    expect(deskDivision(null)).toBeNull()
    expect(deskDivision('')).toBeNull()
  })
  it('is in the side menu for those who read duty only', () => {
    const paths = (perms: string[]) => visibleNav((p) => !p || perms.includes(p)).flatMap((g) => g.items.map((i) => i.path))
    expect(paths(['duty.read'])).toEqual(['/duty', '/duty/roster', '/duty/attendance', '/duty/reports', '/duty/inbox'])
    expect(paths(['incident.read'])).not.toContain('/duty')
  })
})
