/**
 * The resources databases (资源): the catalogue of the ten kinds, the registry itself, stock of
 * warehouses, and file imports (a durable job the console polls), templates and exports.
 */
import { api, ApiError, buildUrl, CSRF_HEADER, errorFromResponse, getCsrfToken } from '@/api/client'
import type { components } from '@/api/schema'
import type { Page } from '@/api/types'

type S = components['schemas']

export type FieldType = 'text' | 'int' | 'number' | 'bool' | 'date' | 'choice' | 'list' | 'url'

/** One field of a kind (in `attrs`) or a common column, as `GET /resources/kinds` describes it. */
export type ResourceField = Omit<S['FieldRead'], 'type'> & { type: FieldType | string }
export type KindSpec = Omit<S['KindRead'], 'fields'> & { fields: ResourceField[] }
export interface KindCatalogue {
  common: ResourceField[]
  kinds: KindSpec[]
}
export type Resource = S['ResourceRead']
export type ResourceKind = S['ResourceKind']
export type ResourceCreate = S['ResourceCreate']
export type ResourceUpdate = S['ResourceUpdate']
export type GeoPolygon = NonNullable<ResourceCreate['area']>

export interface ResourceQuery {
  kind?: string
  division?: string
  status?: string
  q?: string
  tag?: string
  bbox?: string
  offset?: number
  limit?: number
}

/** 物资目录: one item of the supplies catalogue. */
export type SupplyItem = S['SupplyItemRead']
export type SupplyItemCreate = S['SupplyItemCreate']
/** One batch (批次) of an item in a warehouse. */
export type StockBatch = S['StockBatchRead']
/** An item's totals in a warehouse (quantity, reserved, available, minimum). */
export type StockTotal = S['StockTotalRead']
export type Stock = S['StockRead']
export type StockReceive = S['BatchReceive']
/** 盘点更正: the counted quantity with the quantity read before (compare-and-set). */
export type StockCorrection = S['BatchCorrection']
export type CorrectionReason = StockCorrection['reason']
export const CORRECTION_REASONS: readonly CorrectionReason[] = ['stocktake', 'damaged', 'expired', 'lost', 'found', 'entry_error']

export type ImportState = S['ImportRead']['state']

/** An import job (`kind` is a resource kind or `stock`); `errors` may be the first of `error_count`. */
export type ImportJob = S['ImportRead']
/** A problem of one cell (or of the whole file, line 0) of an import. */
export type ImportError = ImportJob['errors'][number]

/** The sheet kind of a warehouse's stock (batches of items) in imports and templates. */
export const STOCK_SHEET = 'stock'

export const FINISHED: readonly ImportState[] = ['done', 'failed']

export const resources = {
  kinds: (signal?: AbortSignal) => api.get<KindCatalogue>('/resources/kinds', undefined, { signal }),
  list: (query: ResourceQuery, signal?: AbortSignal) =>
    api.get<Page<Resource>>('/resources', { ...query }, { signal }),
  get: (id: string, signal?: AbortSignal) => api.get<Resource>(`/resources/${id}`, undefined, { signal }),
  create: (body: ResourceCreate) => api.post<Resource>('/resources', body),
  update: (id: string, body: ResourceUpdate) => api.patch<Resource>(`/resources/${id}`, body),
  remove: (id: string) => api.delete<void>(`/resources/${id}`),
  importJob: (id: string, signal?: AbortSignal) =>
    api.get<ImportJob>(`/resources/imports/${id}`, undefined, { signal }),
}

export const supplies = {
  items: (query: { q?: string; limit?: number } = {}, signal?: AbortSignal) =>
    api.get<Page<SupplyItem>>('/supply-items', { limit: 500, ...query }, { signal }),
  addItem: (body: SupplyItemCreate) => api.post<SupplyItem>('/supply-items', body),
  stock: (warehouseId: string, signal?: AbortSignal) =>
    api.get<Stock>(`/resources/${warehouseId}/stock`, undefined, { signal }),
  receive: (warehouseId: string, body: StockReceive) =>
    api.post<StockBatch>(`/resources/${warehouseId}/stock`, body),
  correct: (warehouseId: string, batchId: string, body: StockCorrection) =>
    api.patch<StockBatch>(`/resources/${warehouseId}/stock/${batchId}`, body),
  /** The warehouse's minimums, replaced whole (an item left out has none). */
  setMinimums: (warehouseId: string, items: { item_id: string; minimum: number }[]) =>
    api.put<unknown>(`/resources/${warehouseId}/minimums`, { items }),
}

/**
 * Upload a sheet to `POST /resources:import` (multipart `kind` + `file`), reporting upload
 * progress (0–100). Resolves with the queued job; the caller polls {@link resources.importJob}.
 */
export function startImport(
  kind: string,
  file: File,
  onProgress: (percent: number) => void = () => {},
): Promise<ImportJob> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest()
    xhr.open('POST', buildUrl('/resources:import'))
    xhr.withCredentials = true
    xhr.setRequestHeader('Accept', 'application/json')
    const token = getCsrfToken()
    if (token) xhr.setRequestHeader(CSRF_HEADER, token)
    xhr.upload.onprogress = (e) => {
      if (e.lengthComputable && e.total > 0) onProgress(Math.round((e.loaded / e.total) * 100))
    }
    xhr.onerror = () => reject(new ApiError(0, 'network_error', 'the upload did not reach the server'))
    xhr.onload = () => {
      onProgress(100)
      if (xhr.status >= 200 && xhr.status < 300) {
        try {
          resolve(JSON.parse(xhr.responseText) as ImportJob)
        } catch {
          reject(new ApiError(xhr.status, 'bad_response', 'the server sent malformed JSON'))
        }
        return
      }
      const response = new Response(xhr.responseText || null, {
        status: xhr.status,
        headers: { 'content-type': xhr.getResponseHeader('content-type') ?? 'application/json' },
      })
      void errorFromResponse(response).then(reject)
    }
    const form = new FormData()
    form.append('kind', kind)
    form.append('file', file, file.name)
    xhr.send(form)
  })
}

/** The share of an import job done, 0–100 (a finished job is 100). */
export function importPercent(job: Pick<ImportJob, 'state' | 'total' | 'done'>): number {
  if (job.state === 'done' || job.state === 'failed') return 100
  if (!job.total) return 0
  return Math.max(0, Math.min(99, Math.floor((job.done / job.total) * 100)))
}

/** The query string of the list filters, as the export takes them. */
export function exportQuery(
  kind: string,
  format: 'xlsx' | 'csv' | 'geojson',
  filters: Omit<ResourceQuery, 'kind' | 'offset' | 'limit'>,
): Record<string, string> {
  const out: Record<string, string> = { kind, format }
  for (const [key, value] of Object.entries(filters)) {
    if (value !== undefined && value !== null && String(value).trim() !== '') out[key] = String(value).trim()
  }
  return out
}
