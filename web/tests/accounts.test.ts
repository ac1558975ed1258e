import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { flushPromises, mount } from '@vue/test-utils'
import { createPinia, setActivePinia } from 'pinia'
import { ApiError, setCsrfToken } from '@/api/client'
import { i18n } from '@/i18n'
import { passwordProblems, saveError } from '@/components/admin/feedback'
import { useAuthStore } from '@/stores/auth'
import { router } from '@/router'
import AppShell from '@/layouts/AppShell.vue'

function jsonResponse(status: number, body: unknown) {
  return new Response(body === null ? null : JSON.stringify(body), {
    status,
    headers: { 'content-type': 'application/json' },
  })
}

const weak = new ApiError(422, 'weak_password', 'the password is too weak: too_short, contains_username', {
  reasons: ['too_short', 'contains_username'],
  min_length: 10,
})

beforeEach(() => {
  i18n.global.locale.value = 'zh-CN'
  setCsrfToken(null)
})
afterEach(() => {
  vi.unstubAllGlobals()
  document.body.innerHTML = ''
})

describe('account errors', () => {
  it('names each reason a password was refused for, in Chinese and English', () => {
    expect(saveError(weak)).toBe('密码强度不足：少于 10 个字符；包含用户名')
    i18n.global.locale.value = 'en'
    expect(passwordProblems(weak)).toBe(
      'The password is too weak: shorter than 10 characters; contains the user name',
    )
    expect(passwordProblems(new ApiError(409, 'username_taken', 'x'))).toBeNull()
  })

  it('translates the refusals of account changes', () => {
    const cases: [string, string, string][] = [
      ['cannot_deactivate_self', '不能停用自己的账号', 'You cannot deactivate your own account'],
      ['cannot_demote_self', '不能取消自己的角色或改变自己的管辖范围', 'You cannot take roles or scope from your own account'],
      ['last_administrator', '此操作会使系统没有启用的全局管理员，请先设置另一名全局管理员', 'This would leave no active administrator of everything; make another one first'],
      ['role_needs_unit', '联络员和网格员必须指定所属单位', 'Liaisons and field workers need a unit'],
      ['acting_needs_unit', '只有指令所属单位或指挥中心可以处理该指令', "Only the order's unit or the command centre may act on this order"],
    ]
    for (const [code, zh, en] of cases) {
      i18n.global.locale.value = 'zh-CN'
      expect(saveError(new ApiError(403, code, 'server text'))).toBe(zh)
      i18n.global.locale.value = 'en'
      expect(saveError(new ApiError(403, code, 'server text'))).toBe(en)
    }
  })
})

describe('user menu', () => {
  it('signs out everywhere after a confirmation and goes to the sign-in page', async () => {
    const calls: string[] = []
    vi.stubGlobal(
      'fetch',
      vi.fn(async (url: string) => {
        calls.push(String(url))
        return jsonResponse(204, null)
      }),
    )
    const pinia = createPinia()
    setActivePinia(pinia)
    const auth = useAuthStore()
    auth.me = {
      id: 'u1',
      username: 'zhang',
      display_name: '张三',
      roles: ['viewer'],
      permissions: [],
      scope: { everything: false, division_path: '331126/', unit_id: null },
      unit_id: null,
    } as never
    auth.loaded = true
    await router.push('/')
    await router.isReady()
    const w = mount(AppShell, { global: { plugins: [pinia, i18n, router] }, attachTo: document.body })
    const button = w.get('[data-testid="sign-out-everywhere"]')
    expect(button.text()).toBe('退出所有设备')
    await button.trigger('click')
    await flushPromises()
    const confirm = document.querySelector('.el-message-box') as HTMLElement
    expect(confirm.textContent).toContain('将结束本账号在所有设备上的登录')
    const ok = [...confirm.querySelectorAll('button')].find((b) => b.textContent?.includes('退出所有设备'))
    ok!.click()
    await flushPromises()
    await vi.waitFor(() => expect(calls.some((u) => u.endsWith('/api/v1/auth/logout-all'))).toBe(true))
    await vi.waitFor(() => expect(router.currentRoute.value.name).toBe('login'))
    expect(router.currentRoute.value.query.signedOutEverywhere).toBe('1')
    expect(auth.signedIn).toBe(false)
    w.unmount()
  })
})
