/**
 * The situation board's incidents: one page of the list and every point of the map, under the
 * same filters, kept current from the live events (`/ws`) one incident at a time — an event
 * names an incident, the store fetches that one incident and places it (or takes it away);
 * nothing is reloaded wholesale.
 */
import { defineStore } from 'pinia'
import { ref, shallowRef } from 'vue'
import type { LiveEvent } from '@/api/types'
import { isApiError } from '@/api/client'
import {
  emptyFilters,
  getIncident,
  incidentsGeojson,
  listIncidents,
  type Incident,
  type IncidentFilters,
  type IncidentPoint,
} from '@/api/incidents'
import { isAlerting, severity } from '@/map/incidents'
import { useLiveEvents, type LiveEvents } from '@/composables/useLiveEvents'

export const PAGE_SIZE = 50
export const HIGHLIGHT_MS = 12_000
/** How long a load may be joined by a second `load({ reuse: true })` of the same filters. */
export const REUSE_LOAD_MS = 5_000

/** The incident an event is about, if any: incident events and reports joined to an incident. */
export function incidentIdOfEvent(event: LiveEvent): string | null {
  if (event.subject_type === 'incident' && event.subject_id) return event.subject_id
  const p = event.payload as Record<string, unknown> | null
  if ((event.subject_type === 'report' || event.subject_type === 'order') && p && typeof p === 'object') {
    const id = p.incident_id
    if (typeof id === 'string' && id) return id
  }
  return null
}

/** Does `code` lie within the division `filter` (6-digit county, 12-digit town …000 or village)? */
export function divisionCovers(filter: string, code: string | null | undefined): boolean {
  if (!code) return false
  if (filter.length === 6) return code.startsWith(filter)
  if (filter.endsWith('000')) return code.startsWith(filter.slice(0, 9))
  return code === filter
}

/** The backend's filter (`incidents.service._filtered`) for one incident, in the browser. */
export function matchesFilters(inc: Incident, f: IncidentFilters, withText: boolean): boolean {
  if (f.states.length && !f.states.includes(inc.state as never)) return false
  if (f.levels.length && !f.levels.includes(inc.level as never)) return false
  if (f.category) {
    const c = inc.category_code ?? ''
    if (c !== f.category && !c.startsWith(`${f.category}.`)) return false
  }
  if (f.division && !divisionCovers(f.division, inc.division_adcode)) return false
  if (f.since && Date.parse(inc.last_reported_at) < Date.parse(f.since)) return false
  if (f.until && Date.parse(inc.first_reported_at) > Date.parse(f.until)) return false
  const q = f.q?.trim()
  if (withText && q) {
    const hit = inc.title.includes(q) || (inc.address ?? '').includes(q) || inc.number === q
    if (!hit) return false
  }
  return true
}

/** A whole enough incident from an event's snapshot to draw it, or null when fields are missing. */
export function fromSnapshot(id: string, snap: Partial<Incident>): Incident | null {
  const needed = ['number', 'title', 'state', 'level', 'first_reported_at', 'last_reported_at'] as const
  if (needed.some((key) => typeof snap[key] !== 'string')) return null
  return {
    id,
    address: null,
    category_code: null,
    division_adcode: null,
    lon: null,
    lat: null,
    report_count: 1,
    ...snap,
  } as Incident
}

export function toPoint(inc: Incident): IncidentPoint | null {
  if (inc.lon === null || inc.lat === null) return null
  return {
    type: 'Feature',
    id: inc.id,
    geometry: { type: 'Point', coordinates: [inc.lon, inc.lat] },
    properties: {
      id: inc.id,
      number: inc.number,
      title: inc.title,
      level: inc.level,
      state: inc.state,
      category_code: inc.category_code,
      last_reported_at: inc.last_reported_at,
      report_count: inc.report_count,
    },
  }
}

/** Newest activity first, then id: the backend's order. */
function before(a: Incident, b: Incident): boolean {
  const ta = Date.parse(a.last_reported_at)
  const tb = Date.parse(b.last_reported_at)
  return ta !== tb ? ta > tb : a.id < b.id
}

/**
 * The page after one incident changed: replaced in place, placed by its order (only on the
 * first page, where a new incident belongs at the top), or taken out.
 */
export function placeInPage(
  items: Incident[],
  inc: Incident,
  belongs: boolean,
  firstPage: boolean,
  size = PAGE_SIZE,
): { items: Incident[]; delta: number } {
  const at = items.findIndex((i) => i.id === inc.id)
  if (!belongs) {
    if (at < 0) return { items, delta: 0 }
    return { items: items.filter((i) => i.id !== inc.id), delta: -1 }
  }
  const rest = at >= 0 ? items.filter((i) => i.id !== inc.id) : items
  if (at < 0 && !firstPage) return { items, delta: 1 }
  let pos = rest.findIndex((i) => before(inc, i))
  if (pos < 0) pos = rest.length
  if (at < 0 && pos >= size) return { items, delta: 1 }
  const next = [...rest.slice(0, pos), inc, ...rest.slice(pos)]
  if (next.length > size) next.length = size
  return { items: next, delta: at < 0 ? 1 : 0 }
}

export type PointChange = { upsert?: IncidentPoint; remove?: string }
export type PointsListener = (change: PointChange | 'reset') => void

export const useIncidentsStore = defineStore('incidents', () => {
  const filters = ref<IncidentFilters>(emptyFilters())
  const offset = ref(0)
  const items = shallowRef<Incident[]>([])
  const total = ref(0)
  const listLoading = ref(false)
  const listError = ref<unknown>(null)
  const mapError = ref<unknown>(null)
  const pointCount = ref(0)
  /** The points of the current filters have arrived at least once. */
  const pointsReady = ref(false)
  /** id → until when (ms) it is highlighted */
  const highlighted = ref<Record<string, number>>({})

  /** every point on the map, by incident id (not reactive: the map is told of changes) */
  const points = new Map<string, IncidentPoint>()
  const listeners = new Set<PointsListener>()
  const alertListeners = new Set<(inc: Incident) => void>()
  let listAbort: AbortController | null = null
  let mapAbort: AbortController | null = null
  const inFlight = new Map<string, boolean>() // id → refetch again when done
  let live: LiveEvents | null = null

  function notify(change: PointChange | 'reset') {
    for (const fn of listeners) fn(change)
  }

  function onPoints(fn: PointsListener): () => void {
    listeners.add(fn)
    return () => listeners.delete(fn)
  }

  function onAlert(fn: (inc: Incident) => void): () => void {
    alertListeners.add(fn)
    return () => alertListeners.delete(fn)
  }

  function collection() {
    return { type: 'FeatureCollection' as const, features: [...points.values()] }
  }

  async function loadList() {
    listAbort?.abort()
    const abort = (listAbort = new AbortController())
    listLoading.value = true
    try {
      const page = await listIncidents(filters.value, { offset: offset.value, limit: PAGE_SIZE }, abort.signal)
      if (abort.signal.aborted) return
      items.value = page.items
      total.value = page.total
      listError.value = null
    } catch (e) {
      if (abort.signal.aborted) return
      listError.value = e
    } finally {
      if (!abort.signal.aborted) listLoading.value = false
    }
  }

  async function loadPoints() {
    mapAbort?.abort()
    const abort = (mapAbort = new AbortController())
    try {
      const fc = await incidentsGeojson(filters.value, abort.signal)
      if (abort.signal.aborted) return
      points.clear()
      for (const f of fc.features) points.set(f.properties.id, f)
      pointCount.value = points.size
      pointsReady.value = true
      mapError.value = null
      notify('reset')
    } catch (e) {
      if (abort.signal.aborted) return
      mapError.value = e
    }
  }

  let lastLoad: { key: string; at: number; promise: Promise<unknown> } | null = null

  /**
   * (Re)load list and map for the current filters. With `reuse`, a load of the same filters
   * started less than REUSE_LOAD_MS ago (the router's preload) is joined instead of repeated.
   */
  function load(options: { reuse?: boolean } = {}): Promise<unknown> {
    const key = JSON.stringify([filters.value, offset.value])
    const now = Date.now()
    if (options.reuse && lastLoad && lastLoad.key === key && now - lastLoad.at < REUSE_LOAD_MS) {
      return lastLoad.promise
    }
    const promise = Promise.all([loadList(), loadPoints()])
    lastLoad = { key, at: now, promise }
    return promise
  }

  function setFilters(next: IncidentFilters) {
    filters.value = next
    offset.value = 0
    return load()
  }

  function setOffset(next: number) {
    offset.value = Math.max(0, next)
    return loadList()
  }

  function highlight(id: string, now = Date.now()) {
    highlighted.value = { ...highlighted.value, [id]: now + HIGHLIGHT_MS }
    setTimeout(() => {
      const rest = { ...highlighted.value }
      if ((rest[id] ?? 0) <= Date.now()) {
        delete rest[id]
        highlighted.value = rest
      }
    }, HIGHLIGHT_MS + 50)
  }

  /**
   * Place one incident as it now is; `null` means it is gone from this user's view. With
   * `insert: false` a row not yet in the list is not added (a partial incident from an event).
   */
  function apply(id: string, inc: Incident | null, insert = true) {
    const known = points.get(id)
    const belongsOnMap = !!inc && matchesFilters(inc, filters.value, false)
    const point = inc && belongsOnMap ? toPoint(inc) : null
    if (point) {
      points.set(id, point)
      notify({ upsert: point })
    } else if (known) {
      points.delete(id)
      notify({ remove: id })
    }
    pointCount.value = points.size

    const belongsInList = !!inc && matchesFilters(inc, filters.value, true)
    const inPage = items.value.some((i) => i.id === id)
    if (inc && (inPage || insert)) {
      const placed = placeInPage(items.value, inc, belongsInList, offset.value === 0)
      if (placed.items !== items.value) items.value = placed.items
    } else if (!inc && inPage) {
      items.value = items.value.filter((i) => i.id !== id)
    }
    // counted in the total before: on this page, or on the map (same filters but the keyword)
    const wasCounted = inPage || (!!known && (!filters.value.q?.trim() || belongsInList))
    if (inc || wasCounted) total.value = Math.max(0, total.value + Number(belongsInList) - Number(wasCounted))

    if (inc && (belongsOnMap || belongsInList) && isAlerting(inc.level)) {
      const was = known?.properties
      const fresh = !was
      const worse = !!was && severity(inc.level) > severity(was.level)
      const moved = !!was && was.state !== inc.state
      if (fresh || worse || moved) {
        highlight(id)
        for (const fn of alertListeners) fn(inc)
      }
    }
  }

  /**
   * An incident event carries the incident's new state, level and place (and its title and
   * times): a known incident is redrawn from it at once, and a new one is drawn from it, before
   * the fetch of the whole incident confirms it.
   */
  function patchFromEvent(id: string, event: LiveEvent) {
    const snap = (event.payload as { incident?: Partial<Incident> } | null)?.incident
    if (!snap || typeof snap !== 'object') return
    const row = items.value.find((i) => i.id === id)
    const point = points.get(id)
    if (!row && !point) {
      const whole = fromSnapshot(id, snap)
      if (whole) apply(id, whole, true)
      return
    }
    const base: Incident =
      row ??
      ({
        ...point!.properties,
        lon: point!.geometry.coordinates[0],
        lat: point!.geometry.coordinates[1],
        first_reported_at: point!.properties.last_reported_at,
        address: null,
        division_adcode: null,
      } as unknown as Incident)
    const pick: Partial<Incident> = {}
    for (const key of ['state', 'level', 'lon', 'lat', 'report_count', 'category_code', 'division_adcode', 'last_reported_at'] as const) {
      if (key in snap) (pick as Record<string, unknown>)[key] = snap[key]
    }
    apply(id, { ...base, ...pick }, false)
  }

  /** Fetch one incident and place it; calls for the same id while one is running coalesce. */
  async function refresh(id: string): Promise<void> {
    if (inFlight.has(id)) {
      inFlight.set(id, true)
      return
    }
    inFlight.set(id, false)
    try {
      for (;;) {
        let inc: Incident | null
        try {
          inc = await getIncident(id)
        } catch (e) {
          if (isApiError(e) && (e.status === 404 || e.status === 403)) inc = null
          else throw e
        }
        apply(id, inc)
        if (!inFlight.get(id)) break
        inFlight.set(id, false)
      }
    } catch (e) {
      console.warn('incident refresh failed', id, e)
    } finally {
      inFlight.delete(id)
    }
  }

  /** Handle the events that arrived since the last call, oldest first. */
  function consume(fresh: LiveEvent[]) {
    const ids = new Set<string>()
    for (const ev of fresh) {
      const id = incidentIdOfEvent(ev)
      if (!id) continue
      if (ev.subject_type === 'incident') patchFromEvent(id, ev)
      ids.add(id)
    }
    for (const id of ids) void refresh(id)
  }

  /** Start following the live events (call once the board is shown). */
  function startLive() {
    live?.stop()
    // events may have been missed (a reconnect): the list and the map are fetched again
    live = useLiveEvents(consume, { flush: 'sync', onGap: () => void load() })
  }

  function stopLive() {
    live?.stop()
    live = null
    lastLoad = null // what was loaded is no longer followed: the next load fetches again
    listAbort?.abort()
    mapAbort?.abort()
  }

  return {
    filters,
    offset,
    items,
    total,
    listLoading,
    listError,
    mapError,
    pointCount,
    pointsReady,
    highlighted,
    points,
    collection,
    onPoints,
    onAlert,
    load,
    loadList,
    loadPoints,
    setFilters,
    setOffset,
    apply,
    patchFromEvent,
    refresh,
    consume,
    startLive,
    stopLive,
  }
})
