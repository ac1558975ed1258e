import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { flushPromises, mount } from '@vue/test-utils'
import { createPinia, setActivePinia } from 'pinia'
import LoginView from '@/views/LoginView.vue'
import { router } from '@/router'
import { i18n } from '@/i18n'
import { useAuthStore } from '@/stores/auth'
import { setCsrfToken } from '@/api/client'

function jsonResponse(status: number, body: unknown) {
  return new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } })
}

async function mountLogin() {
  const pinia = createPinia()
  setActivePinia(pinia)
  useAuthStore().loaded = true // signed out, nothing to ask the server
  await router.push('/login')
  await router.isReady()
  return mount(LoginView, { global: { plugins: [pinia, i18n, router] }, attachTo: document.body })
}

beforeEach(() => {
  i18n.global.locale.value = 'zh-CN'
  setCsrfToken(null)
})
afterEach(() => {
  vi.unstubAllGlobals()
  document.body.innerHTML = ''
})

describe('sign-in page', () => {
  it('has labelled inputs and a submit button in a form (Enter submits)', async () => {
    const w = await mountLogin()
    const user = w.get('input[name="username"]')
    const pass = w.get('input[name="password"]')
    expect(user.element.closest('label')?.textContent).toContain('用户名')
    expect(pass.element.closest('label')?.textContent).toContain('密码')
    expect(pass.attributes('type')).toBe('password')
    expect(w.get('form button[type="submit"]').text()).toBe('登录')
  })

  it('shows the translated message for invalid credentials', async () => {
    const fetchMock = vi.fn(async () =>
      jsonResponse(401, { error: { code: 'invalid_credentials', message: 'bad', details: null } }),
    )
    vi.stubGlobal('fetch', fetchMock)
    const w = await mountLogin()
    await w.get('input[name="username"]').setValue('zhang')
    await w.get('input[name="password"]').setValue('wrong')
    await w.get('form').trigger('submit')
    await flushPromises()
    expect(fetchMock).toHaveBeenCalledTimes(1)
    expect(w.get('[data-testid="login-error"]').text()).toBe('用户名或密码错误')
    expect(w.text()).not.toContain('{')
    expect(router.currentRoute.value.name).toBe('login')
  })

  it('shows the seconds to wait when throttled', async () => {
    vi.stubGlobal(
      'fetch',
      vi.fn(async () =>
        jsonResponse(429, { error: { code: 'too_many_attempts', message: 'x', details: { retry_after: 30 } } }),
      ),
    )
    i18n.global.locale.value = 'en'
    const w = await mountLogin()
    await w.get('input[name="username"]').setValue('zhang')
    await w.get('input[name="password"]').setValue('pw')
    await w.get('form').trigger('submit')
    await flushPromises()
    expect(w.get('[data-testid="login-error"]').text()).toBe('Too many attempts; try again in 30 s')
  })

  it('signs in and sends an administrator to the units table', async () => {
    const me = {
      id: 'u1',
      username: 'admin',
      display_name: '管理员',
      roles: ['admin'],
      permissions: ['org.read', 'user.manage', 'audit.read', 'events.read'],
      scope: { everything: true, division_path: null, unit_id: null },
      unit_id: null,
    }
    const fetchMock = vi.fn(async (_url: RequestInfo | URL, _init?: RequestInit) =>
      jsonResponse(200, { user: me, csrf_token: 't' }),
    )
    vi.stubGlobal('fetch', fetchMock)
    const w = await mountLogin()
    // don't load the admin screens in this test: just see where the page sends us
    const replace = vi.spyOn(router, 'replace').mockResolvedValue(undefined)
    await w.get('input[name="username"]').setValue(' admin ')
    await w.get('input[name="password"]').setValue('secret')
    await w.get('form').trigger('submit')
    await flushPromises()
    expect(replace).toHaveBeenCalledWith({ name: 'admin-units' })
    expect(router.resolve({ name: 'admin-units' }).fullPath).toBe('/admin/units')
    const [url, init] = fetchMock.mock.calls[0]
    expect(String(url)).toBe('/api/v1/auth/login')
    expect(JSON.parse(String(init?.body))).toEqual({ username: 'admin', password: 'secret' })
    expect(useAuthStore().isAdmin).toBe(true)
  })

  it('sends a duty officer to the intake desk, or back where they came from', async () => {
    const me = {
      id: 'u2',
      username: 'duty',
      display_name: '值班员',
      roles: ['duty_officer'],
      permissions: ['org.read', 'events.read'],
      scope: { everything: false, division_path: '/1/', unit_id: null },
      unit_id: null,
    }
    vi.stubGlobal('fetch', vi.fn(async () => jsonResponse(200, { user: me, csrf_token: 't' })))
    const w = await mountLogin()
    const replace = vi.spyOn(router, 'replace').mockResolvedValue(undefined)
    await w.get('input[name="username"]').setValue('duty')
    await w.get('input[name="password"]').setValue('pw')
    await w.get('form').trigger('submit')
    await flushPromises()
    expect(replace).toHaveBeenCalledWith({ name: 'intake' })

    replace.mockClear()
    useAuthStore().forget()
    await router.push({ path: '/login', query: { redirect: '//evil.example/x' } })
    expect(router.currentRoute.value.query.redirect).toBe('//evil.example/x')
    await w.get('input[name="username"]').setValue('duty')
    await w.get('input[name="password"]').setValue('pw')
    await w.get('form').trigger('submit')
    await flushPromises()
    expect(replace).toHaveBeenCalledWith({ name: 'intake' }) // never an off-site redirect

    replace.mockClear()
    useAuthStore().forget()
    await router.push({ path: '/login', query: { redirect: '/admin/divisions' } })
    await w.get('input[name="password"]').setValue('pw')
    await w.get('form').trigger('submit')
    await flushPromises()
    expect(replace).toHaveBeenCalledWith('/admin/divisions')
  })
})
