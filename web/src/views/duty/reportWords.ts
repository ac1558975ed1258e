/** Words of statutory reporting shared by the board, the inbox and the editor. */
import type { ReportKind } from '@/api/reporting'

type Translate = (key: string, params?: Record<string, unknown>) => string

/** 首报, 第2次续报 …: a report's kind with its sequence where it has one. */
export function kindLabel(t: Translate, kind: ReportKind, seq: number): string {
  return kind === 'followup' ? t('reporting.kindSeq', { seq }) : t(`reporting.kind.${kind}`)
}
