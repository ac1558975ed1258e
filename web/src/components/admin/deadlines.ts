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
