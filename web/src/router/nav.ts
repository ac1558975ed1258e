/** Side navigation; each entry shows only when the user holds its permission. */
export const PERMISSIONS = {
  orgRead: 'org.read',
  eventsRead: 'events.read',
  userManage: 'user.manage',
  auditRead: 'audit.read',
} as const

export interface NavItem {
  path: string
  labelKey: string
  permission?: string
  icon: 'map' | 'divisions' | 'units' | 'users' | 'audit'
}

export interface NavGroup {
  labelKey: string | null
  items: NavItem[]
}

export const NAV: NavGroup[] = [
  {
    labelKey: null,
    items: [{ path: '/map', labelKey: 'nav.map', permission: PERMISSIONS.orgRead, icon: 'map' }],
  },
  {
    labelKey: 'nav.admin',
    items: [
      { path: '/admin/divisions', labelKey: 'nav.divisions', permission: PERMISSIONS.orgRead, icon: 'divisions' },
      { path: '/admin/units', labelKey: 'nav.units', permission: PERMISSIONS.orgRead, icon: 'units' },
      { path: '/admin/users', labelKey: 'nav.users', permission: PERMISSIONS.userManage, icon: 'users' },
      { path: '/admin/audit', labelKey: 'nav.audit', permission: PERMISSIONS.auditRead, icon: 'audit' },
    ],
  },
]

export function visibleNav(can: (permission?: string) => boolean): NavGroup[] {
  return NAV.map((g) => ({ ...g, items: g.items.filter((i) => can(i.permission)) })).filter(
    (g) => g.items.length > 0,
  )
}
