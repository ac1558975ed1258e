import { it, expect } from 'vitest'
import f from '@/i18n/features/incident'
function keys(o: unknown, p = ''): string[] {
  return Object.entries(o as Record<string, unknown>).flatMap(([k, v]) =>
    v && typeof v === 'object' ? keys(v, `${p}${k}.`) : [`${p}${k}`],
  )
}
it('has every incident message in both zh-CN and en', () => {
  expect(keys(f.en).sort()).toEqual(keys(f['zh-CN']).sort())
})
