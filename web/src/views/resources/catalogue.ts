/**
 * The catalogue of kinds (`GET /resources/kinds`), read once per page load and shared by the
 * resources screens; a failed read is tried again by the next screen that asks.
 */
import { shallowRef } from 'vue'
import { resources, type KindCatalogue, type KindSpec } from '@/api/resources'

const catalogue = shallowRef<KindCatalogue | null>(null)
let pending: Promise<KindCatalogue> | null = null

export function loadCatalogue(): Promise<KindCatalogue> {
  if (catalogue.value) return Promise.resolve(catalogue.value)
  pending ??= resources
    .kinds()
    .then((c) => {
      catalogue.value = c
      return c
    })
    .finally(() => {
      pending = null
    })
  return pending
}

export function useCatalogue() {
  const specOf = (kind: string): KindSpec | undefined => catalogue.value?.kinds.find((k) => k.kind === kind)
  return { catalogue, specOf, loadCatalogue }
}
