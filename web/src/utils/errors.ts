import { isApiError } from '@/api/client'
import { i18n } from '@/i18n'

/**
 * A message for the user: translated by the error's `code` when we know it, else the server's
 * own `message`; never raw JSON.
 */
export function errorText(error: unknown): string {
  const { t, te } = i18n.global
  if (isApiError(error)) {
    if (error.code === 'too_many_attempts') {
      const seconds = error.retryAfter
      return seconds !== null
        ? t('errors.too_many_attempts', { seconds })
        : t('errors.too_many_attempts_nosec')
    }
    const key = `errors.${error.code}`
    if (te(key)) return t(key)
    if (error.message) return error.message
    return t('errors.unknown')
  }
  if (error instanceof Error && error.message) return error.message
  return t('errors.unknown')
}
