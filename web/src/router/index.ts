import { createRouter, createWebHistory, type RouteLocationRaw, type RouteRecordRaw } from 'vue-router'
import { useAuthStore } from '@/stores/auth'
import { i18n } from '@/i18n'
import { PERMISSIONS } from './nav'

declare module 'vue-router' {
  interface RouteMeta {
    /** Reachable without signing in. */
    public?: boolean
    /** Permission the route needs (the backend checks again). */
    permission?: string
    titleKey?: string
  }
}

/** Where a signed-in user lands: administrators on the units table, everyone else on the map. */
export function homeFor(auth: ReturnType<typeof useAuthStore>): RouteLocationRaw {
  if (auth.isAdmin) return { name: 'admin-units' }
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
        meta: { permission: PERMISSIONS.orgRead, titleKey: 'nav.map' },
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
