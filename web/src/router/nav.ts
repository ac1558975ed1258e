/** Side navigation; each entry shows only when the user holds its permission. */
export const PERMISSIONS = {
  orgRead: 'org.read',
  eventsRead: 'events.read',
  userManage: 'user.manage',
  auditRead: 'audit.read',
  incidentRead: 'incident.read',
  incidentWrite: 'incident.write',
  reportCreate: 'report.create',
  dispatchWrite: 'dispatch.write',
  orderAct: 'order.act',
  kpiRead: 'kpi.read',
  resourceRequest: 'resource.request',
  resourceRead: 'resource.read',
  warningRead: 'warning.read',
  warningDraft: 'warning.draft',
  warningManage: 'warning.manage',
  dutyRead: 'duty.read',
} as const

export interface NavItem {
  path: string
  labelKey: string
  permission?: string
  icon:
    | 'map'
    | 'intake'
    | 'inbox'
    | 'supervision'
    | 'kpi'
    | 'divisions'
    | 'units'
    | 'users'
    | 'audit'
    | 'routing'
    | 'deadlines'
    | 'requests'
    | 'resources'
    | 'warnings'
    | 'callPlans'
    | 'roster'
    | 'duty'
}

export interface NavGroup {
  labelKey: string | null
  items: NavItem[]
}

export const NAV: NavGroup[] = [
  {
    labelKey: null,
    items: [
      { path: '/map', labelKey: 'nav.map', permission: PERMISSIONS.incidentRead, icon: 'map' },
      { path: '/service-cases', labelKey: 'nav.serviceCases', permission: PERMISSIONS.incidentRead, icon: 'inbox' },
      { path: '/intake', labelKey: 'nav.intake', permission: PERMISSIONS.incidentWrite, icon: 'intake' },
      { path: '/inbox', labelKey: 'nav.inbox', permission: PERMISSIONS.orderAct, icon: 'inbox' },
      { path: '/supervision', labelKey: 'nav.supervision', permission: PERMISSIONS.dispatchWrite, icon: 'supervision' },
      { path: '/kpi', labelKey: 'nav.kpi', permission: PERMISSIONS.kpiRead, icon: 'kpi' },
    ],
  },
  {
    labelKey: 'nav.dutyGroup',
    items: [
      { path: '/duty', labelKey: 'nav.duty', permission: PERMISSIONS.dutyRead, icon: 'duty' },
      { path: '/duty/roster', labelKey: 'nav.roster', permission: PERMISSIONS.dutyRead, icon: 'roster' },
      { path: '/duty/attendance', labelKey: 'nav.attendance', permission: PERMISSIONS.dutyRead, icon: 'deadlines' },
      { path: '/duty/reports', labelKey: 'nav.reports', permission: PERMISSIONS.dutyRead, icon: 'deadlines' },
      { path: '/duty/inbox', labelKey: 'nav.reportsInbox', permission: PERMISSIONS.dutyRead, icon: 'inbox' },
    ],
  },
  {
    labelKey: 'nav.resourcesGroup',
    items: [
      { path: '/resources', labelKey: 'nav.resources', permission: PERMISSIONS.resourceRead, icon: 'resources' },
      { path: '/resources/requests', labelKey: 'nav.requests', permission: PERMISSIONS.resourceRequest, icon: 'requests' },
    ],
  },
  {
    labelKey: 'nav.warningsGroup',
    items: [
      { path: '/warnings', labelKey: 'nav.warnings', permission: PERMISSIONS.warningRead, icon: 'warnings' },
      { path: '/warnings/call-plans', labelKey: 'nav.callPlans', permission: PERMISSIONS.warningManage, icon: 'callPlans' },
    ],
  },
  {
    labelKey: 'nav.admin',
    items: [
      { path: '/admin/divisions', labelKey: 'nav.divisions', permission: PERMISSIONS.orgRead, icon: 'divisions' },
      { path: '/admin/units', labelKey: 'nav.units', permission: PERMISSIONS.orgRead, icon: 'units' },
      { path: '/admin/users', labelKey: 'nav.users', permission: PERMISSIONS.userManage, icon: 'users' },
      { path: '/admin/routing', labelKey: 'nav.routing', permission: PERMISSIONS.orgRead, icon: 'routing' },
      { path: '/admin/deadlines', labelKey: 'nav.deadlines', permission: PERMISSIONS.orgRead, icon: 'deadlines' },
      { path: '/admin/audit', labelKey: 'nav.audit', permission: PERMISSIONS.auditRead, icon: 'audit' },
    ],
  },
]

export function visibleNav(can: (permission?: string) => boolean): NavGroup[] {
  return NAV.map((g) => ({ ...g, items: g.items.filter((i) => can(i.permission)) })).filter(
    (g) => g.items.length > 0,
  )
}
