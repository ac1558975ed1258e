/** Success toasts and form error text shared by the administration screens. */
import { ElMessage, ElMessageBox } from 'element-plus'
import 'element-plus/es/components/message/style/css'
import 'element-plus/es/components/message-box/style/css'
import { isApiError } from '@/api/client'
import { i18n } from '@/i18n'
import { errorText } from '@/utils/errors'

export function toast(message: string): void {
  ElMessage({ message, type: 'success', duration: 2500, grouping: true })
}

/**
 * Why the server refused a password (`weak_password`, `details.reasons`), translated: e.g.
 * "密码强度不足：少于 10 个字符；包含用户名". Null for any other error.
 */
export function passwordProblems(error: unknown): string | null {
  if (!isApiError(error) || error.code !== 'weak_password') return null
  const { t, te } = i18n.global
  const details = (error.details ?? {}) as { reasons?: unknown; min_length?: unknown }
  const reasons = Array.isArray(details.reasons) ? details.reasons.map(String) : []
  const min = typeof details.min_length === 'number' ? details.min_length : 10
  const parts = reasons.map((r) => (te(`passwordReasons.${r}`) ? t(`passwordReasons.${r}`, { min }) : r))
  if (!parts.length) return errorText(error)
  return t('admin.users.weakPassword', { reasons: parts.join(t('admin.users.reasonSeparator')) })
}

/**
 * The translated message of a failed save; for a request the server rejected as malformed
 * (`validation_failed`) the fields it named are added, so the user knows what to mend; a
 * refused password names each reason.
 */
export function saveError(error: unknown): string {
  const weak = passwordProblems(error)
  if (weak) return weak
  const text = withDetails(error) ?? errorText(error)
  if (isApiError(error) && error.code === 'validation_failed' && Array.isArray(error.details)) {
    const fields = (error.details as { loc?: unknown[] }[])
      .map((d) => (Array.isArray(d.loc) ? d.loc.filter((p) => p !== 'body').join('.') : ''))
      .filter(Boolean)
    if (fields.length) return `${text}: ${[...new Set(fields)].join(', ')}`
  }
  return text
}

/**
 * A refusal whose message names what it refers to: the division a boundary check names in its
 * details (`parent_adcode`, `sibling_adcode`, `child_adcode`) becomes the message's `{adcode}`.
 */
function withDetails(error: unknown): string | null {
  if (!isApiError(error) || !error.details || typeof error.details !== 'object' || Array.isArray(error.details)) return null
  const details = error.details as Record<string, unknown>
  const adcode = details.sibling_adcode ?? details.parent_adcode ?? details.child_adcode
  const { t, te } = i18n.global
  const key = `errors.${error.code}`
  if (typeof adcode !== 'string' || !te(key)) return null
  return t(key, { adcode })
}

/** Ask before a destructive action; resolves true when confirmed. */
export async function confirm(message: string): Promise<boolean> {
  const { t } = i18n.global
  try {
    await ElMessageBox.confirm(message, {
      type: 'warning',
      confirmButtonText: t('admin.delete'),
      cancelButtonText: t('admin.cancel'),
    })
    return true
  } catch {
    return false
  }
}
