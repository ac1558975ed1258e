/**
 * Feature message files: each exports `{ 'zh-CN': {...}, en: {...} }` and is owned by one
 * screen (or, for `domain`, shared by all). They are deep-merged over the base messages, so a
 * feature may add keys to a shared namespace such as `errors`.
 */
import domain from './domain'
import incident from './incident'
import inbox from './inbox'
import supervision from './supervision'
import kpi from './kpi'
import intake from './intake'
import admin from './admin'
import board from './board'
import words from './words'
import allocation from './allocation'
import resources from './resources'
import warning from './warning'
import reporting from './reporting'
import archive from './archive'
import roster from './roster'
import duty from './duty'
import callerLocation from './callerLocation'
import attendance from './attendance'
import serviceCases from './serviceCases'

type Messages = Record<string, unknown>
export interface FeatureMessages {
  'zh-CN': Messages
  en: Messages
}

export const FEATURES: FeatureMessages[] = [domain, incident, inbox, supervision, kpi, intake, admin, board, allocation, words, resources, warning, reporting, archive, roster, duty, callerLocation, attendance, serviceCases]

function isPlainObject(value: unknown): value is Messages {
  return !!value && typeof value === 'object' && !Array.isArray(value)
}

/** Merge `extra` into a copy of `base`, recursing into objects; `extra` wins on leaves. */
export function deepMerge<T extends Messages>(base: T, extra: Messages): T {
  const out: Messages = { ...base }
  for (const [key, value] of Object.entries(extra)) {
    const current = out[key]
    out[key] = isPlainObject(current) && isPlainObject(value) ? deepMerge(current, value) : value
  }
  return out as T
}

export function withFeatures<T extends Messages>(base: T, locale: keyof FeatureMessages): T {
  return FEATURES.reduce((acc, feature) => deepMerge(acc, feature[locale]), base)
}
