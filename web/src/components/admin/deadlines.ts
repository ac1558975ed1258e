/** What differs between the two deadline tables that `DeadlineTable.vue` edits. */
import type { Problems } from '@/api/admin'

export interface DeadlineRow {
  id: number
  category_prefix?: string | null
  level?: string | null
}

export interface DeadlineDraft {
  category_prefix?: string
  level?: string
}

export interface DeadlineSpec<Row extends DeadlineRow, Draft extends DeadlineDraft> {
  /** Prefix of the table's test ids: `${testid}-table`, `${testid}-${row.id}-${field}`, … */
  testid: string
  /** i18n key of the line above the table. */
  hint: string
  /** The live event that says another administrator changed the table. */
  event: string
  /** Whether a row may apply to every level (level ''). */
  anyLevel: boolean
  /** The minute columns: the field and its i18n key under `admin.deadlines`. */
  minutes: readonly { field: keyof Draft & keyof Row & string; label: string }[]
  list(): Promise<Row[]>
  save(draft: Draft): Promise<Row>
  check(draft: Draft): Problems
  /** The row's identity (the server keys rows by it). */
  key(row: Row | Draft): string
  /** The editable copy of a row. */
  copy(row: Row): Draft
  /** A new row's first values. */
  blank(): Draft
  /** The row's name after its category, for the inputs' labels (e.g. `IV / 任一档`). */
  describe(row: Row): string
}

/**
 * The reporting table's bounds beyond the minutes, as the server schema has them
 * (`ReportingDeadlineIn`): a jurisdiction is '' (everywhere) or a 6- or 12-digit adcode, the
 * 续报 cadence 1–720 hours, the 终报 1–365 days after closing; either may be empty (not owed).
 */
export const REPORTING_EXTRA_LIMITS = { followup_hours: 720, final_days: 365 } as const

export interface ReportingExtra {
  division_adcode?: string
  followup_hours?: number | null
  final_days?: number | null
}

export function checkReportingExtra(row: ReportingExtra): Problems {
  const problems: Problems = {}
  if (!/^(\d{6}(\d{6})?)?$/.test(row.division_adcode ?? '')) problems.division_adcode = 'division'
  for (const [field, max] of Object.entries(REPORTING_EXTRA_LIMITS)) {
    const v = row[field as keyof typeof REPORTING_EXTRA_LIMITS]
    if (v === null || v === undefined) continue
    if (!Number.isInteger(v)) problems[field] = 'integer'
    else if (v < 1 || v > max) problems[field] = field === 'followup_hours' ? 'hoursRange' : 'daysRange'
  }
  return problems
}

/** A reporting rule's identity: the server keys rows by jurisdiction × category prefix × level. */
export const reportingRuleKey = (r: { division_adcode?: string; category_prefix?: string; level: string }) =>
  `${r.division_adcode ?? ''}|${r.category_prefix ?? ''}|${r.level}`
