import { createRouter, createWebHistory, type RouteLocationRaw, type RouteRecordRaw } from 'vue-router'
import { useAuthStore } from '@/stores/auth'
import { i18n } from '@/i18n'
import { PERMISSIONS } from './nav'
import { preloadBoard } from '@/map/preload'

declare module 'vue-router' {
  interface RouteMeta {
    /** Reachable without signing in. */
    public?: boolean
    /** Permission the route needs (the backend checks again). */
    permission?: string
    titleKey?: string
  }
}

/**
 * Where a signed-in user lands: administrators on the units table, a duty officer on the intake
 * desk, a unit liaison or field worker on their inbox, everyone else on the situation board.
 */
export function homeFor(auth: ReturnType<typeof useAuthStore>): RouteLocationRaw {
  if (auth.isAdmin) return { name: 'admin-units' }
  const roles = auth.me?.roles ?? []
  if (roles.includes('duty_officer')) return { name: 'intake' }
  if (roles.includes('unit_liaison') || roles.includes('field_worker')) return { name: 'inbox' }
  return { name: 'map' }
}

export const routes: RouteRecordRaw[] = [
  {
    path: '/login',
    name: 'login',
    component: () => import('@/views/LoginView.vue'),
    meta: { public: true, titleKey: 'auth.title' },
  },
  {
    // 叫应确认 on a phone: the token in the link is the secret, no sign-in
    path: '/ack/:token',
    name: 'ack',
    component: () => import('@/views/AckView.vue'),
    props: true,
    meta: { public: true, titleKey: 'ack.title' },
  },
  {
    path: '/',
    component: () => import('@/layouts/AppShell.vue'),
    children: [
      {
        path: '',
        name: 'home',
        component: () => import('@/views/NotFoundView.vue'),
        beforeEnter: () => homeFor(useAuthStore()),
      },
      {
        path: 'map',
        name: 'map',
        component: () => import('@/views/MapView.vue'),
        meta: { permission: PERMISSIONS.incidentRead, titleKey: 'nav.map' },
        // MapLibre and the incidents start loading beside the board's own chunk
        beforeEnter: () => {
          preloadBoard()
        },
      },
      {
        path: 'intake',
        name: 'intake',
        component: () => import('@/views/intake/IntakeDeskView.vue'),
        meta: { permission: PERMISSIONS.incidentWrite, titleKey: 'nav.intake' },
      },
      {
        path: 'service-cases',
        name: 'service-cases',
        component: () => import('@/views/service/ServiceCasesView.vue'),
        meta: { permission: PERMISSIONS.incidentRead, titleKey: 'nav.serviceCases' },
      },
      {
        path: 'incidents/:id',
        name: 'incident',
        component: () => import('@/views/incidents/IncidentView.vue'),
        props: true,
        meta: { permission: PERMISSIONS.incidentRead, titleKey: 'nav.incident' },
      },
      {
        path: 'inbox',
        name: 'inbox',
        component: () => import('@/views/inbox/InboxView.vue'),
        meta: { permission: PERMISSIONS.orderAct, titleKey: 'nav.inbox' },
      },
      {
        path: 'supervision',
        name: 'supervision',
        component: () => import('@/views/supervision/SupervisionView.vue'),
        meta: { permission: PERMISSIONS.dispatchWrite, titleKey: 'nav.supervision' },
      },
      {
        path: 'kpi',
        name: 'kpi',
        component: () => import('@/views/kpi/KpiView.vue'),
        meta: { permission: PERMISSIONS.kpiRead, titleKey: 'nav.kpi' },
      },
      {
        path: 'resources/requests',
        name: 'resource-requests',
        component: () => import('@/views/resources/RequestsView.vue'),
        meta: { permission: PERMISSIONS.resourceRequest, titleKey: 'nav.requests' },
      },
      {
        path: 'resources',
        name: 'resources',
        component: () => import('@/views/resources/ResourcesView.vue'),
        meta: { permission: PERMISSIONS.resourceRead, titleKey: 'nav.resources' },
      },
      {
        path: 'resources/:kind',
        name: 'resources-kind',
        component: () => import('@/views/resources/ResourcesView.vue'),
        props: true,
        meta: { permission: PERMISSIONS.resourceRead, titleKey: 'nav.resources' },
      },
      {
        path: 'resources/warehouse/:id/stock',
        name: 'resource-stock',
        component: () => import('@/views/resources/StockView.vue'),
        props: true,
        meta: { permission: PERMISSIONS.resourceRead, titleKey: 'nav.resourceStock' },
      },
      {
        // 值班值守: who is on duty, the handover, the duty log, reports due
        path: 'duty',
        name: 'duty',
        component: () => import('@/views/duty/DutyHomeView.vue'),
        meta: { permission: PERMISSIONS.dutyRead, titleKey: 'nav.duty' },
      },
      {
        path: 'warnings',
        name: 'warnings',
        component: () => import('@/views/warnings/WarningsView.vue'),
        meta: { permission: PERMISSIONS.warningRead, titleKey: 'nav.warnings' },
      },
      {
        path: 'warnings/new',
        name: 'warning-new',
        component: () => import('@/views/warnings/WarningEditView.vue'),
        meta: { permission: PERMISSIONS.warningDraft, titleKey: 'warning.new' },
      },
      {
        path: 'warnings/call-plans',
        name: 'warning-call-plans',
        component: () => import('@/views/warnings/CallPlansView.vue'),
        meta: { permission: PERMISSIONS.warningManage, titleKey: 'nav.callPlans' },
      },
      {
        path: 'warnings/:id',
        name: 'warning',
        component: () => import('@/views/warnings/WarningView.vue'),
        props: true,
        meta: { permission: PERMISSIONS.warningRead, titleKey: 'nav.warning' },
      },
      {
        path: 'warnings/:id/edit',
        name: 'warning-edit',
        component: () => import('@/views/warnings/WarningEditView.vue'),
        props: true,
        meta: { permission: PERMISSIONS.warningDraft, titleKey: 'warning.edit' },
      },
      {
        path: 'duty/reports',
        name: 'duty-reports',
        component: () => import('@/views/duty/ReportsBoardView.vue'),
        meta: { permission: PERMISSIONS.dutyRead, titleKey: 'nav.reports' },
      },
      {
        path: 'duty/inbox',
        name: 'duty-inbox',
        component: () => import('@/views/duty/ReportsInboxView.vue'),
        meta: { permission: PERMISSIONS.dutyRead, titleKey: 'nav.reportsInbox' },
      },
      {
        path: 'duty/reports/:id',
        name: 'duty-report',
        component: () => import('@/views/duty/ReportEditorView.vue'),
        meta: { permission: PERMISSIONS.dutyRead, titleKey: 'nav.reports' },
      },
      {
        path: 'duty/roster',
        name: 'duty-roster',
        component: () => import('@/views/duty/RosterView.vue'),
        meta: { permission: PERMISSIONS.dutyRead, titleKey: 'nav.roster' },
      },
      {
        path: 'duty/attendance',
        name: 'duty-attendance',
        component: () => import('@/views/duty/AttendanceView.vue'),
        meta: { permission: PERMISSIONS.dutyRead, titleKey: 'nav.attendance' },
      },
      {
        path: 'notifications',
        name: 'notifications',
        component: () => import('@/views/NotificationsView.vue'),
        meta: { titleKey: 'notifications.title' },
      },
      { path: 'admin', redirect: { name: 'admin-units' } },
      {
        path: 'admin/divisions',
        name: 'admin-divisions',
        component: () => import('@/views/admin/DivisionsView.vue'),
        meta: { permission: PERMISSIONS.orgRead, titleKey: 'nav.divisions' },
      },
      {
        path: 'admin/units',
        name: 'admin-units',
        component: () => import('@/views/admin/UnitsView.vue'),
        meta: { permission: PERMISSIONS.orgRead, titleKey: 'nav.units' },
      },
      {
        path: 'admin/users',
        name: 'admin-users',
        component: () => import('@/views/admin/UsersView.vue'),
        meta: { permission: PERMISSIONS.userManage, titleKey: 'nav.users' },
      },
      {
        path: 'admin/routing',
        name: 'admin-routing',
        component: () => import('@/views/admin/RoutingView.vue'),
        meta: { permission: PERMISSIONS.orgRead, titleKey: 'nav.routing' },
      },
      {
        path: 'admin/deadlines',
        name: 'admin-deadlines',
        component: () => import('@/views/admin/DeadlinesView.vue'),
        meta: { permission: PERMISSIONS.orgRead, titleKey: 'nav.deadlines' },
      },
      {
        path: 'admin/audit',
        name: 'admin-audit',
        component: () => import('@/views/admin/AuditView.vue'),
        meta: { permission: PERMISSIONS.auditRead, titleKey: 'nav.audit' },
      },
      {
        path: 'forbidden',
        name: 'forbidden',
        component: () => import('@/views/ForbiddenView.vue'),
        meta: { titleKey: 'pages.forbidden' },
      },
      {
        path: ':pathMatch(.*)*',
        name: 'not-found',
        component: () => import('@/views/NotFoundView.vue'),
        meta: { titleKey: 'pages.notFound' },
      },
    ],
  },
]

export const router = createRouter({
  history: createWebHistory(import.meta.env.BASE_URL),
  routes,
})

router.beforeEach(async (to) => {
  const auth = useAuthStore()
  try {
    await auth.ensureLoaded()
  } catch {
    // Backend unreachable: treat as signed out; the sign-in page shows the error when used.
  }
  if (to.meta.public) {
    if (to.name === 'login' && auth.signedIn) return homeFor(auth)
    return true
  }
  if (!auth.signedIn) {
    return { name: 'login', query: to.fullPath !== '/' ? { redirect: to.fullPath } : {} }
  }
  if (to.meta.permission && !auth.can(to.meta.permission)) return { name: 'forbidden' }
  return true
})

export function updateTitle(titleKey: string | undefined) {
  const { t } = i18n.global
  document.title = titleKey ? `${t(titleKey)} · ${t('app.name')}` : t('app.name')
}

router.afterEach((to) => updateTitle(to.meta.titleKey))
