import { describe, expect, it } from 'vitest'
import { visibleNav } from '@/router/nav'
import { routes } from '@/router'

const paths = (perms: string[]) =>
  visibleNav((p) => !p || perms.includes(p)).flatMap((g) => g.items.map((i) => i.path))

describe('side navigation by permission', () => {
  const READ = ['org.read', 'events.read', 'incident.read', 'kpi.read']
  it('shows an administrator everything', () => {
    const all = [...READ, 'incident.write', 'dispatch.write', 'order.act', 'user.manage', 'audit.read']
    expect(paths(all)).toEqual([
      '/map',
      '/service-cases',
      '/intake',
      '/inbox',
      '/supervision',
      '/kpi',
      '/admin/divisions',
      '/admin/units',
      '/admin/users',
      '/admin/routing',
      '/admin/deadlines',
      '/admin/audit',
    ])
  })
  it('gives a duty officer the desk and the board, a liaison the inbox, nobody nothing', () => {
    expect(paths([...READ, 'incident.write', 'dispatch.write', 'report.create'])).toEqual([
      '/map',
      '/service-cases',
      '/intake',
      '/supervision',
      '/kpi',
      '/admin/divisions',
      '/admin/units',
      '/admin/routing',
      '/admin/deadlines',
    ])
    expect(paths([...READ, 'order.act', 'report.create'])).toContain('/inbox')
    expect(paths([...READ, 'order.act', 'report.create'])).not.toContain('/intake')
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
