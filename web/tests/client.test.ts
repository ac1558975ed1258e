import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import {
  ApiError,
  api,
  buildUrl,
  CSRF_HEADER,
  getCsrfToken,
  onUnauthorized,
  setCsrfToken,
} from '@/api/client'
import { login } from '@/api/endpoints'
import { errorText } from '@/utils/errors'
import { i18n } from '@/i18n'

type Call = { url: string; init: RequestInit }

function jsonResponse(status: number, body: unknown, headers: Record<string, string> = {}) {
  return new Response(body === undefined ? null : JSON.stringify(body), {
    status,
    headers: { 'content-type': 'application/json', ...headers },
  })
}

function mockFetch(...responses: Array<Response | (() => Response | Promise<Response>)>) {
  const calls: Call[] = []
  const fn = vi.fn(async (url: RequestInfo | URL, init?: RequestInit) => {
    calls.push({ url: String(url), init: init ?? {} })
    const next = responses.shift()
    if (!next) throw new Error(`unexpected fetch ${String(url)}`)
    return typeof next === 'function' ? next() : next
  })
  vi.stubGlobal('fetch', fn)
  return calls
}

function header(call: Call, name: string): string | undefined {
  const h = call.init.headers as Record<string, string> | undefined
  if (!h) return undefined
  const key = Object.keys(h).find((k) => k.toLowerCase() === name.toLowerCase())
  return key ? h[key] : undefined
}

function clearCookies() {
  for (const c of document.cookie.split(';')) {
    const name = c.split('=')[0].trim()
    if (name) document.cookie = `${name}=; expires=Thu, 01 Jan 1970 00:00:00 GMT; path=/`
  }
}

beforeEach(() => {
  setCsrfToken(null)
  clearCookies()
  i18n.global.locale.value = 'zh-CN'
})
afterEach(() => {
  vi.unstubAllGlobals()
})

describe('CSRF header', () => {
  it('is sent on POST with the token the server gave us, with same-origin credentials', async () => {
    setCsrfToken('tok-123')
    const calls = mockFetch(jsonResponse(200, { ok: true }))
    await api.post('/things', { a: 1 })
    expect(calls).toHaveLength(1)
    expect(calls[0].url).toBe('/api/v1/things')
    expect(calls[0].init.method).toBe('POST')
    expect(calls[0].init.credentials).toBe('same-origin')
    expect(header(calls[0], CSRF_HEADER)).toBe('tok-123')
    expect(header(calls[0], 'Content-Type')).toBe('application/json')
    expect(calls[0].init.body).toBe('{"a":1}')
  })

  it('falls back to the yingji_csrf cookie', async () => {
    document.cookie = 'other=1; path=/'
    document.cookie = 'yingji_csrf=from%20cookie; path=/'
    expect(getCsrfToken()).toBe('from cookie')
    const calls = mockFetch(jsonResponse(204, undefined), jsonResponse(204, undefined), jsonResponse(204, undefined))
    await api.put('/x', {})
    await api.patch('/x', {})
    await api.delete('/x')
    for (const c of calls) expect(header(c, CSRF_HEADER)).toBe('from cookie')
  })

  it('is not sent on GET', async () => {
    setCsrfToken('tok-123')
    const calls = mockFetch(jsonResponse(200, { items: [], total: 0 }))
    const res = await api.get<{ total: number }>('/units', { tier: 1, q: '', division: undefined })
    expect(res.total).toBe(0)
    expect(header(calls[0], CSRF_HEADER)).toBeUndefined()
    expect(calls[0].url).toBe('/api/v1/units?tier=1')
  })

  it('login stores the returned token and later POSTs use it', async () => {
    const me = { id: 'u1', username: 'a', display_name: 'A', roles: ['admin'], permissions: [] }
    const calls = mockFetch(jsonResponse(200, { user: me, csrf_token: 'fresh' }), jsonResponse(204, undefined))
    const res = await login('a', 'pw')
    expect(res.user.username).toBe('a')
    await api.post('/auth/logout')
    expect(JSON.parse(calls[0].init.body as string)).toEqual({ username: 'a', password: 'pw' })
    expect(header(calls[1], CSRF_HEADER)).toBe('fresh')
  })

  it('refreshes a stale token once on csrf_failed and retries', async () => {
    setCsrfToken('stale')
    const calls = mockFetch(
      jsonResponse(403, { error: { code: 'csrf_failed', message: 'bad token', details: null } }),
      jsonResponse(200, { id: 'u1', csrf_token: 'renewed' }),
      jsonResponse(200, { done: true }),
    )
    const res = await api.post<{ done: boolean }>('/things', {})
    expect(res.done).toBe(true)
    expect(calls.map((c) => c.url)).toEqual(['/api/v1/things', '/api/v1/auth/me', '/api/v1/things'])
    expect(header(calls[0], CSRF_HEADER)).toBe('stale')
    expect(header(calls[2], CSRF_HEADER)).toBe('renewed')
  })
})

describe('ApiError', () => {
  it('is built from the error envelope', async () => {
    mockFetch(
      jsonResponse(429, {
        error: { code: 'too_many_attempts', message: 'slow down', details: { retry_after: 41.2 } },
      }),
    )
    const err = await api.post('/auth/login', {}).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(ApiError)
    const e = err as ApiError
    expect(e.status).toBe(429)
    expect(e.code).toBe('too_many_attempts')
    expect(e.message).toBe('slow down')
    expect(e.details).toEqual({ retry_after: 41.2 })
    expect(e.retryAfter).toBe(42)
  })

  it('copes with a body that is not the envelope', async () => {
    mockFetch(jsonResponse(404, { detail: 'Not Found' }), new Response('<html>oops</html>', { status: 502 }))
    const a = (await api.get('/nope').catch((e: unknown) => e)) as ApiError
    expect(a).toBeInstanceOf(ApiError)
    expect([a.status, a.code, a.message]).toEqual([404, 'http_404', 'Not Found'])
    const b = (await api.get('/nope').catch((e: unknown) => e)) as ApiError
    expect([b.status, b.code]).toEqual([502, 'http_502'])
    expect(b.message).not.toContain('<html>')
  })

  it('turns a network failure into network_error', async () => {
    vi.stubGlobal('fetch', vi.fn(async () => Promise.reject(new TypeError('Failed to fetch'))))
    const e = (await api.get('/units').catch((x: unknown) => x)) as ApiError
    expect(e).toBeInstanceOf(ApiError)
    expect([e.status, e.code]).toEqual([0, 'network_error'])
  })

  it('is translated by code, with the server message as fallback', () => {
    expect(errorText(new ApiError(401, 'invalid_credentials', 'bad'))).toBe('用户名或密码错误')
    expect(errorText(new ApiError(429, 'too_many_attempts', 'x', { retry_after: 30 }))).toBe(
      '尝试次数过多，请 30 秒后再试',
    )
    expect(errorText(new ApiError(400, 'some_new_code', 'A server message'))).toBe('A server message')
    // the server's outage answers are words too, never its English message
    expect(errorText(new ApiError(503, 'server_busy', 'the server is too busy'))).toBe('系统繁忙，请稍后再试')
    expect(errorText(new ApiError(503, 'database_unavailable', 'the database'))).toBe('数据库暂不可用，请稍后再试')
    expect(errorText(new ApiError(500, 'internal_error', 'an internal error'))).toBe('服务器内部错误，已记录')
    i18n.global.locale.value = 'en'
    expect(errorText(new ApiError(401, 'invalid_credentials', 'bad'))).toBe('Wrong username or password')
    expect(errorText(new ApiError(429, 'too_many_attempts', 'x', { retry_after: 5 }))).toBe(
      'Too many attempts; try again in 5 s',
    )
  })
})

describe('401 handling', () => {
  it('notifies the handlers and throws not_authenticated', async () => {
    const seen: ApiError[] = []
    const off = onUnauthorized((e) => seen.push(e))
    try {
      mockFetch(jsonResponse(401, { error: { code: 'not_authenticated', message: 'sign in', details: null } }))
      const err = (await api.get('/units').catch((e: unknown) => e)) as ApiError
      expect(err).toBeInstanceOf(ApiError)
      expect(err.status).toBe(401)
      expect(err.code).toBe('not_authenticated')
      expect(seen).toHaveLength(1)
      expect(seen[0].code).toBe('not_authenticated')
    } finally {
      off()
    }
  })

  it('stays quiet for quiet401 requests (sign-in, who-am-I) and after unsubscribing', async () => {
    const handler = vi.fn()
    const off = onUnauthorized(handler)
    mockFetch(
      jsonResponse(401, { error: { code: 'invalid_credentials', message: 'no', details: null } }),
      jsonResponse(401, { error: { code: 'not_authenticated', message: 'no', details: null } }),
    )
    const e = (await login('a', 'b').catch((x: unknown) => x)) as ApiError
    expect(e.code).toBe('invalid_credentials')
    expect(handler).not.toHaveBeenCalled()
    off()
    await api.get('/units').catch(() => undefined)
    expect(handler).not.toHaveBeenCalled()
  })
})

describe('buildUrl', () => {
  it('skips empty values and encodes the rest', () => {
    expect(buildUrl('/divisions', { parent: '110101', level: 'town', q: '', x: null })).toBe(
      '/api/v1/divisions?parent=110101&level=town',
    )
    expect(buildUrl('/units', { q: '消防 队&' })).toBe('/api/v1/units?q=%E6%B6%88%E9%98%B2+%E9%98%9F%26')
  })
})
