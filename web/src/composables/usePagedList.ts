import { onBeforeUnmount, ref, shallowRef } from 'vue'
import type { Page } from '@/api/types'
import { errorText } from '@/utils/errors'

/** Loading, error and offset/limit paging for a table backed by a `{items, total}` endpoint. */
export function usePagedList<T>(
  fetchPage: (q: { offset: number; limit: number }, signal: AbortSignal) => Promise<Page<T>>,
  pageSize = 50,
) {
  const items = shallowRef<T[]>([])
  const total = ref(0)
  const page = ref(1)
  const size = ref(pageSize)
  const loading = ref(false)
  const error = ref<string | null>(null)
  let controller: AbortController | null = null

  async function load() {
    controller?.abort()
    const mine = new AbortController()
    controller = mine
    loading.value = true
    error.value = null
    try {
      const res = await fetchPage({ offset: (page.value - 1) * size.value, limit: size.value }, mine.signal)
      if (controller !== mine) return
      items.value = res.items ?? []
      total.value = res.total ?? items.value.length
    } catch (e) {
      if (controller !== mine || (e instanceof DOMException && e.name === 'AbortError')) return
      items.value = []
      total.value = 0
      error.value = errorText(e)
    } finally {
      if (controller === mine) loading.value = false
    }
  }

  function reset() {
    page.value = 1
    return load()
  }

  onBeforeUnmount(() => controller?.abort())

  return { items, total, page, size, loading, error, load, reset }
}
