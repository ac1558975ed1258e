/**
 * The one HTTP client for `/api/v1`.
 *
 * - same-origin cookies (`yingji_session` is HttpOnly; we never see it);
 * - every unsafe request carries `X-CSRF-Token` (token from the login / me response, or the
 *   readable `yingji_csrf` cookie);
 * - every failure becomes an {@link ApiError} built from the backend's
 *   `{"error": {"code", "message", "details"}}` envelope, so screens show a translated message
 *   keyed by `code` and never raw JSON;
 * - a 401 tells the registered handlers (the app sends the user to the sign-in page).
 */

export const API_BASE = '/api/v1'
export const CSRF_COOKIE = 'yingji_csrf'
export const CSRF_HEADER = 'X-CSRF-Token'

const UNSAFE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE'])

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE'
export type QueryValue = string | number | boolean | null | undefined
export type Query = Record<string, QueryValue>

export class ApiError extends Error {
  readonly status: number
  readonly code: string
  readonly details: unknown

  constructor(status: number, code: string, message: string, details: unknown = null) {
    super(message)
    this.name = 'ApiError'
    this.status = status
    this.code = code
    this.details = details
  }

  /** `details.retry_after` (seconds) of a throttled request, when the server sent one. */
  get retryAfter(): number | null {
    const d = this.details
    if (d && typeof d === 'object' && 'retry_after' in d) {
      const n = Number((d as { retry_after: unknown }).retry_after)
      return Number.isFinite(n) ? Math.ceil(n) : null
    }
    return null
  }
}

export function isApiError(e: unknown): e is ApiError {
  return e instanceof ApiError
}

// ---- CSRF token -------------------------------------------------------------------------------

let csrfToken: string | null = null

export function setCsrfToken(token: string | null | undefined): void {
  csrfToken = token || null
}

export function readCookie(name: string): string | null {
  if (typeof document === 'undefined' || !document.cookie) return null
  for (const part of document.cookie.split(';')) {
    const eq = part.indexOf('=')
    if (eq < 0) continue
    if (part.slice(0, eq).trim() === name) {
      const raw = part.slice(eq + 1).trim()
      try {
        return decodeURIComponent(raw)
      } catch {
        return raw
      }
    }
  }
  return null
}

/** The token to send: the one the server last gave us, else the readable cookie. */
export function getCsrfToken(): string | null {
  return csrfToken ?? readCookie(CSRF_COOKIE)
}

// ---- 401 handling -----------------------------------------------------------------------------

type UnauthorizedHandler = (error: ApiError) => void
const unauthorizedHandlers = new Set<UnauthorizedHandler>()

/** Called on every 401 (except for requests made with `quiet401`). Returns an unsubscribe. */
export function onUnauthorized(handler: UnauthorizedHandler): () => void {
  unauthorizedHandlers.add(handler)
  return () => unauthorizedHandlers.delete(handler)
}

// ---- requests ---------------------------------------------------------------------------------

export interface RequestOptions {
  query?: Query
  body?: unknown
  signal?: AbortSignal
  headers?: Record<string, string>
  /** Do not notify the 401 handlers (used by `auth/me` and `auth/login`). */
  quiet401?: boolean
}

export function buildUrl(path: string, query?: Query): string {
  const url = path.startsWith(API_BASE) ? path : `${API_BASE}${path.startsWith('/') ? '' : '/'}${path}`
  if (!query) return url
  const params = new URLSearchParams()
  for (const [key, value] of Object.entries(query)) {
    if (value === undefined || value === null || value === '') continue
    params.append(key, String(value))
  }
  const qs = params.toString()
  return qs ? `${url}?${qs}` : url
}

/** Turn a failed response into an ApiError, whatever its body looks like. */
export async function errorFromResponse(response: Response): Promise<ApiError> {
  let body: unknown = null
  try {
    const text = await response.text()
    body = text ? JSON.parse(text) : null
  } catch {
    body = null
  }
  const envelope =
    body && typeof body === 'object' && 'error' in body ? (body as { error: unknown }).error : null
  if (envelope && typeof envelope === 'object') {
    const e = envelope as { code?: unknown; message?: unknown; details?: unknown }
    const code = typeof e.code === 'string' && e.code ? e.code : `http_${response.status}`
    const message = typeof e.message === 'string' && e.message ? e.message : response.statusText || code
    return new ApiError(response.status, code, message, e.details ?? null)
  }
  // FastAPI's own errors (e.g. a 404 for an unknown route) look like {"detail": ...}.
  const detail =
    body && typeof body === 'object' && 'detail' in body ? (body as { detail: unknown }).detail : null
  const code = `http_${response.status}`
  return new ApiError(
    response.status,
    code,
    typeof detail === 'string' ? detail : response.statusText || code,
    detail,
  )
}

async function send(method: HttpMethod, path: string, options: RequestOptions): Promise<Response> {
  const headers: Record<string, string> = { Accept: 'application/json', ...options.headers }
  let body: BodyInit | undefined
  if (options.body !== undefined) {
    headers['Content-Type'] = 'application/json'
    body = JSON.stringify(options.body)
  }
  if (UNSAFE_METHODS.has(method)) {
    const token = getCsrfToken()
    if (token) headers[CSRF_HEADER] = token
  }
  try {
    return await fetch(buildUrl(path, options.query), {
      method,
      headers,
      body,
      credentials: 'same-origin',
      signal: options.signal,
    })
  } catch (e) {
    if (e instanceof DOMException && e.name === 'AbortError') throw e
    throw new ApiError(0, 'network_error', e instanceof Error ? e.message : String(e))
  }
}

async function parseBody<T>(response: Response): Promise<T> {
  if (response.status === 204) return undefined as T
  const text = await response.text()
  if (!text) return undefined as T
  const type = response.headers.get('content-type') ?? ''
  if (type.includes('json') || /^[[{]/.test(text.trimStart())) {
    try {
      return JSON.parse(text) as T
    } catch {
      throw new ApiError(response.status, 'bad_response', 'the server sent malformed JSON')
    }
  }
  return text as T
}

export async function request<T>(
  method: HttpMethod,
  path: string,
  options: RequestOptions = {},
): Promise<T> {
  let response = await send(method, path, options)

  // A stale CSRF token (e.g. the session was renewed in another tab): refresh it once and retry.
  if (response.status === 403 && UNSAFE_METHODS.has(method)) {
    const error = await errorFromResponse(response.clone())
    if (error.code === 'csrf_failed') {
      setCsrfToken(null)
      const me = await send('GET', '/auth/me', {})
      if (me.ok) {
        const data = (await parseBody<{ csrf_token?: string }>(me)) ?? {}
        setCsrfToken(data.csrf_token)
        response = await send(method, path, options)
      }
    }
  }

  if (!response.ok) {
    const error = await errorFromResponse(response)
    if (response.status === 401 && !options.quiet401) {
      for (const handler of unauthorizedHandlers) {
        try {
          handler(error)
        } catch (e) {
          console.error('unauthorized handler failed', e)
        }
      }
    }
    throw error
  }
  return parseBody<T>(response)
}

export const api = {
  get: <T>(path: string, query?: Query, options: Omit<RequestOptions, 'query' | 'body'> = {}) =>
    request<T>('GET', path, { ...options, query }),
  post: <T>(path: string, body?: unknown, options: Omit<RequestOptions, 'body'> = {}) =>
    request<T>('POST', path, { ...options, body }),
  put: <T>(path: string, body?: unknown, options: Omit<RequestOptions, 'body'> = {}) =>
    request<T>('PUT', path, { ...options, body }),
  patch: <T>(path: string, body?: unknown, options: Omit<RequestOptions, 'body'> = {}) =>
    request<T>('PATCH', path, { ...options, body }),
  delete: <T>(path: string, options: RequestOptions = {}) => request<T>('DELETE', path, options),
}
