import { describe, expect, it } from 'vitest'
import { visibleNav } from '@/router/nav'
import { routes } from '@/router'

const paths = (perms: string[]) =>
  visibleNav((p) => !p || perms.includes(p)).flatMap((g) => g.items.map((i) => i.path))

describe('side navigation by permission', () => {
  it('shows an administrator everything', () => {
    expect(paths(['org.read', 'user.manage', 'audit.read', 'events.read'])).toEqual([
      '/map',
      '/admin/divisions',
      '/admin/units',
      '/admin/users',
      '/admin/audit',
    ])
  })
  it('hides users and audit from a duty officer, everything from nobody', () => {
    expect(paths(['org.read', 'events.read'])).toEqual(['/map', '/admin/divisions', '/admin/units'])
    expect(paths([])).toEqual([])
  })
  it('every nav entry is a route that demands the same permission', () => {
    const children = routes.find((r) => r.path === '/')!.children!
    for (const group of visibleNav(() => true)) {
      for (const item of group.items) {
        const route = children.find((c) => `/${c.path}` === item.path)
        expect(route, item.path).toBeDefined()
        expect(route!.meta?.permission).toBe(item.permission)
      }
    }
  })
})
