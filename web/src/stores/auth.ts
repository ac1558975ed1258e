/** Who is signed in (`/auth/me`), and what they may do. */
import { defineStore } from 'pinia'
import { computed, ref } from 'vue'
import * as endpoints from '@/api/endpoints'
import { isApiError } from '@/api/client'
import type { Me } from '@/api/types'
import { forgetDrafts } from '@/views/intake/draft'

export const ADMIN_ROLE = 'admin'

export const useAuthStore = defineStore('auth', () => {
  const me = ref<Me | null>(null)
  /** True once we asked the server who we are (whatever the answer). */
  const loaded = ref(false)
  let pending: Promise<Me | null> | null = null

  const signedIn = computed(() => me.value !== null)
  const isAdmin = computed(() => !!me.value?.roles.includes(ADMIN_ROLE))
  const permissions = computed(() => new Set(me.value?.permissions ?? []))

  function can(permission: string | undefined): boolean {
    if (!permission) return true
    return permissions.value.has(permission)
  }

  /** Ask the server who we are; null when not signed in. Concurrent callers share one request. */
  function refresh(): Promise<Me | null> {
    pending ??= endpoints
      .fetchMe()
      .then((user) => {
        me.value = user
        return user
      })
      .catch((e: unknown) => {
        if (isApiError(e) && e.status === 401) {
          me.value = null
          return null
        }
        throw e
      })
      .finally(() => {
        loaded.value = true
        pending = null
      })
    return pending
  }

  async function ensureLoaded(): Promise<Me | null> {
    if (loaded.value) return me.value
    return refresh()
  }

  async function login(username: string, password: string): Promise<Me> {
    const res = await endpoints.login(username, password)
    me.value = res.user
    loaded.value = true
    return res.user
  }

  async function logout(): Promise<void> {
    try {
      await endpoints.logout()
    } catch {
      // signed out locally either way
    }
    forgetDrafts() // a shared desk keeps no caller's details past a sign-out
    forget()
  }

  /** Sign out on every device: ends all sessions and tokens of the account (退出所有设备). */
  async function logoutEverywhere(): Promise<void> {
    await endpoints.logoutAll()
    forgetDrafts()
    forget()
  }

  /** Drop the local session (after a 401 or sign-out). */
  function forget() {
    me.value = null
    loaded.value = true
  }

  return {
    me,
    loaded,
    signedIn,
    isAdmin,
    can,
    refresh,
    ensureLoaded,
    login,
    logout,
    logoutEverywhere,
    forget,
  }
})
