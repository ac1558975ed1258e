/** Words of the attendance page that depend on codes: a seat's name, a state's colour. */
export interface Translate {
  t: (key: string, params?: Record<string, unknown>) => string
}

export const POSITIONS = ['leader', 'chief', 'officer', 'professional'] as const

/** 带班领导 / 值班长 / 值班员 2 / 专业值班人员（水利）: a seat as the duty office names it. */
export function seatName(words: Translate, position: string, label: string, seat: number): string {
  const known = (POSITIONS as readonly string[]).includes(position)
  let name = known ? words.t(`attendance.positions.${position}`) : position
  if (label) name += `（${label}）`
  if (seat > 1) name += ` ${seat}`
  return name
}

export function stateType(state: string): 'success' | 'danger' | 'info' {
  if (state === 'checked_in') return 'success'
  if (state === 'missed') return 'danger'
  return 'info'
}
