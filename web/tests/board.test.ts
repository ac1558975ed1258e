import { beforeEach, describe, expect, it, vi } from 'vitest'
import { createPinia, setActivePinia } from 'pinia'
import type { LiveEvent } from '@/api/types'
import type { Incident, IncidentFilters } from '@/api/incidents'
import { emptyFilters, filterParams } from '@/api/incidents'
import {
  divisionCovers,
  incidentIdOfEvent,
  matchesFilters,
  placeInPage,
  toPoint,
  useIncidentsStore,
  type PointChange,
} from '@/stores/incidents'
import { clusterLabel, isAlerting, levelColor, severity } from '@/map/incidents'
import { setBaseLayer } from '@/map/style'
import { fromShanghaiLocal, toShanghaiLocal } from '@/components/board/time'
import { useEventsStore } from '@/stores/events'

const getIncident = vi.fn<(id: string) => Promise<Incident>>()
const listIncidents = vi.fn()
const incidentsGeojson = vi.fn()
vi.mock('@/api/incidents', async (original) => ({
  ...(await original<typeof import('@/api/incidents')>()),
  getIncident: (id: string) => getIncident(id),
  listIncidents: (...args: unknown[]) => listIncidents(...args),
  incidentsGeojson: (...args: unknown[]) => incidentsGeojson(...args),
}))

function inc(id: string, over: Partial<Incident> = {}): Incident {
  return {
    id,
    number: `N-${id}`,
    title: `仓库起火 ${id}`,
    kind: 'emergency',
    category_code: 'accident.fire',
    level: 'IV',
    level_reason: null,
    level_why: null,
    state: 'reported',
    division_adcode: '331126101201',
    lon: 119.05,
    lat: 27.55,
    address: '竹口镇老街',
    first_reported_at: '2026-12-01T01:00:00Z',
    last_reported_at: '2026-12-01T01:00:00Z',
    report_count: 1,
    dead: 0,
    injured: 0,
    missing: 0,
    trapped: 0,
    verified_at: null,
    closed_at: null,
    cancel_reason: null,
    merged_into_id: null,
    first_report_due_at: null,
    first_report_at: null,
    ...over,
  }
}

function ev(id: number, over: Partial<LiveEvent>): LiveEvent {
  return {
    id: String(id),
    type: 'incidents.level_changed',
    subject_type: 'incident',
    subject_id: 'a',
    payload: {},
    occurred_at: '2026-12-01T01:00:00Z',
    ...over,
  }
}

describe('which incident an event is about', () => {
  it('takes incident events by subject and reports and orders by their incident', () => {
    expect(incidentIdOfEvent(ev(1, { subject_id: 'x' }))).toBe('x')
    expect(
      incidentIdOfEvent(ev(2, { type: 'intake.report_received', subject_type: 'report', subject_id: 'r', payload: { incident_id: 'y' } })),
    ).toBe('y')
    expect(incidentIdOfEvent(ev(3, { subject_type: 'report', subject_id: 'r', payload: { incident_id: null } }))).toBeNull()
    expect(incidentIdOfEvent(ev(4, { type: 'org.unit.updated', subject_type: 'unit', subject_id: 'u' }))).toBeNull()
  })
})

describe('the filters in the browser agree with the backend', () => {
  const f = (over: Partial<IncidentFilters>): IncidentFilters => ({ ...emptyFilters(), ...over })
  it('filters by state, level, category prefix, division, time and text', () => {
    const i = inc('a', { level: 'III', category_code: 'accident.fire' })
    expect(matchesFilters(i, emptyFilters(), true)).toBe(true)
    expect(matchesFilters(i, f({ states: ['closed'] }), true)).toBe(false)
    expect(matchesFilters(i, f({ levels: ['I', 'II'] }), true)).toBe(false)
    expect(matchesFilters(i, f({ levels: ['III'] }), true)).toBe(true)
    expect(matchesFilters(i, f({ category: 'accident' }), true)).toBe(true)
    expect(matchesFilters(i, f({ category: 'accid' }), true)).toBe(false)
    expect(matchesFilters(i, f({ division: '331126' }), true)).toBe(true)
    expect(matchesFilters(i, f({ division: '331126101000' }), true)).toBe(true)
    expect(matchesFilters(i, f({ division: '331126102000' }), true)).toBe(false)
    expect(matchesFilters(i, f({ since: '2026-12-01T09:30:00+08:00' }), true)).toBe(false)
    expect(matchesFilters(i, f({ until: '2026-12-01T08:00:00+08:00' }), true)).toBe(false)
    expect(matchesFilters(i, f({ q: '老街' }), true)).toBe(true)
    expect(matchesFilters(i, f({ q: '洪水' }), true)).toBe(false)
    expect(matchesFilters(i, f({ q: '洪水' }), false)).toBe(true) // the map ignores the keyword
  })
  it('sends several states and levels as repeated parameters', () => {
    const p = filterParams(f({ levels: ['I', 'II'], q: ' 老街 ' }), true)
    expect(p.getAll('state')).toEqual(['reported', 'verified', 'responding', 'controlled'])
    expect(p.getAll('level')).toEqual(['I', 'II'])
    expect(p.get('q')).toBe('老街')
    expect(filterParams(f({ q: '老街' }), false).has('q')).toBe(false)
  })
  it('covers a town by its first nine digits', () => {
    expect(divisionCovers('331126101000', '331126101201')).toBe(true)
    expect(divisionCovers('331126101201', '331126101202')).toBe(false)
    expect(divisionCovers('331126', null)).toBe(false)
  })
})

describe('a page of the list after one change', () => {
  const a = inc('a', { last_reported_at: '2026-12-01T03:00:00Z' })
  const b = inc('b', { last_reported_at: '2026-12-01T02:00:00Z' })
  it('puts a new incident at its place on the first page and drops the last row when full', () => {
    const n = inc('n', { last_reported_at: '2026-12-01T04:00:00Z' })
    expect(placeInPage([a, b], n, true, true).items.map((i) => i.id)).toEqual(['n', 'a', 'b'])
    const full = placeInPage([a, b], n, true, true, 2)
    expect(full.items.map((i) => i.id)).toEqual(['n', 'a'])
    expect(full.delta).toBe(1)
  })
  it('replaces a changed row in place and removes one that no longer matches', () => {
    const changed = { ...b, level: 'II' }
    const placed = placeInPage([a, b], changed, true, true)
    expect(placed.items[1]).toBe(changed)
    expect(placed.delta).toBe(0)
    expect(placeInPage([a, b], b, false, true)).toEqual({ items: [a], delta: -1 })
  })
  it('counts a new incident but leaves later pages as they are', () => {
    const n = inc('n', { last_reported_at: '2026-12-01T04:00:00Z' })
    const items = [a, b]
    expect(placeInPage(items, n, true, false)).toEqual({ items, delta: 1 })
  })
})

describe('the incidents store', () => {
  beforeEach(() => {
    setActivePinia(createPinia())
    getIncident.mockReset()
  })

  it('joins the load the router started for the same filters instead of fetching twice', async () => {
    listIncidents.mockReset().mockResolvedValue({ items: [inc('a')], total: 1 })
    incidentsGeojson.mockReset().mockResolvedValue({ type: 'FeatureCollection', features: [toPoint(inc('a'))] })
    const store = useIncidentsStore()
    const resets: string[] = []
    store.onPoints((c) => c === 'reset' && resets.push('reset'))
    const preload = store.load({ reuse: true }) // the router, before the board mounts
    const mounted = store.load({ reuse: true }) // the board, once mounted
    await Promise.all([preload, mounted])
    expect(store.pointsReady).toBe(true)
    expect(store.points.has('a')).toBe(true)
    expect(listIncidents).toHaveBeenCalledTimes(1)
    expect(incidentsGeojson).toHaveBeenCalledTimes(1)
    await store.load() // an explicit reload always fetches
    expect(incidentsGeojson).toHaveBeenCalledTimes(2)
    store.stopLive() // the board was left: what it loaded is no longer followed
    await store.load({ reuse: true })
    expect(incidentsGeojson).toHaveBeenCalledTimes(3)
    void store.setFilters({ ...store.filters, levels: ['I'] }) // other filters: a new load
    expect(incidentsGeojson).toHaveBeenCalledTimes(4)
    expect(resets.length).toBe(3)
  })

  it('adds a new incident to map and list, and alerts for level III and above only', () => {
    const store = useIncidentsStore()
    const changes: PointChange[] = []
    const alerts: string[] = []
    store.onPoints((c) => c !== 'reset' && changes.push(c))
    store.onAlert((i) => alerts.push(i.id))
    store.apply('a', inc('a', { level: 'IV' }))
    store.apply('b', inc('b', { level: 'III' }))
    expect(changes.map((c) => c.upsert?.id)).toEqual(['a', 'b'])
    expect(store.items.map((i) => i.id).sort()).toEqual(['a', 'b'])
    expect(store.total).toBe(2)
    expect(alerts).toEqual(['b'])
    expect(store.highlighted.b).toBeGreaterThan(Date.now())
    expect(store.highlighted.a).toBeUndefined()
    // raised from IV to II: alert again; a note on a II incident: no alert
    store.apply('a', inc('a', { level: 'II' }))
    store.apply('a', inc('a', { level: 'II' }))
    expect(alerts).toEqual(['b', 'a'])
  })

  it('takes an incident away when it leaves the filters or the user can no longer see it', () => {
    const store = useIncidentsStore()
    const changes: PointChange[] = []
    store.onPoints((c) => c !== 'reset' && changes.push(c))
    store.apply('a', inc('a'))
    store.apply('a', inc('a', { state: 'closed' })) // the default filter shows open incidents
    expect(changes.at(-1)).toEqual({ remove: 'a' })
    expect(store.items).toEqual([])
    expect(store.total).toBe(0)
    store.apply('b', inc('b'))
    store.apply('b', null)
    expect(store.points.has('b')).toBe(false)
  })

  it('fetches only the incident a live event names, once for a burst of events about it', async () => {
    const store = useIncidentsStore()
    const events = useEventsStore()
    store.startLive()
    let resolve!: (i: Incident) => void
    getIncident.mockImplementation(() => new Promise((r) => (resolve = r)))
    events.ingest(ev(1, { subject_id: 'a' }))
    events.ingest(ev(2, { type: 'intake.report_received', subject_type: 'report', subject_id: 'r', payload: { incident_id: 'a' } }))
    events.ingest(ev(3, { type: 'org.unit.updated', subject_type: 'unit', subject_id: 'u' }))
    expect(getIncident).toHaveBeenCalledTimes(1)
    expect(getIncident).toHaveBeenCalledWith('a')
    resolve(inc('a', { level: 'I' }))
    await vi.waitFor(() => expect(getIncident).toHaveBeenCalledTimes(2)) // the second event came mid-flight
    resolve(inc('a', { level: 'I', report_count: 2 }))
    await vi.waitFor(() => expect(store.items[0]?.report_count).toBe(2))
    expect(store.points.get('a')?.properties.level).toBe('I')
    store.stopLive()
    events.ingest(ev(4, { subject_id: 'b' }))
    expect(getIncident).toHaveBeenCalledTimes(2)
  })

  it('redraws a known incident from the event at once, then confirms it with the fetched one', async () => {
    const store = useIncidentsStore()
    const events = useEventsStore()
    store.apply('a', inc('a', { level: 'IV' }))
    store.startLive()
    let resolve!: (i: Incident) => void
    getIncident.mockImplementation(() => new Promise((r) => (resolve = r)))
    const alerts: string[] = []
    store.onAlert((i) => alerts.push(i.id))
    events.ingest(ev(1, { subject_id: 'a', payload: { incident: { level: 'II', state: 'verified' } } }))
    expect(store.points.get('a')?.properties.level).toBe('II') // before the fetch answered
    expect(store.items[0].state).toBe('verified')
    expect(alerts).toEqual(['a'])
    resolve(inc('a', { level: 'II', state: 'verified', title: '已核实的火情' }))
    await vi.waitFor(() => expect(store.items[0].title).toBe('已核实的火情'))
    expect(alerts).toEqual(['a']) // one change, one alert
    // an incident never seen is not made up from the event
    events.ingest(ev(2, { subject_id: 'zz', payload: { incident: { level: 'I' } } }))
    expect(store.points.has('zz')).toBe(false)
  })

  it('draws a new incident from its event at once when the event carries enough of it', async () => {
    const store = useIncidentsStore()
    const events = useEventsStore()
    store.startLive()
    getIncident.mockImplementation(() => new Promise(() => {})) // the fetch never answers here
    const whole = inc('n', { level: 'III' })
    const { id: _id, ...snapshot } = whole
    events.ingest(ev(1, { type: 'incidents.opened', subject_id: 'n', payload: { incident: snapshot } }))
    expect(store.points.get('n')?.geometry.coordinates).toEqual([119.05, 27.55])
    expect(store.items.map((i) => i.id)).toEqual(['n'])
    expect(store.items[0].title).toBe(whole.title)
    expect(getIncident).toHaveBeenCalledWith('n') // the fetch still confirms it
  })

  it('keeps the total when an incident counted but not on this page changes', () => {
    const store = useIncidentsStore()
    store.apply('a', inc('a'))
    expect(store.total).toBe(1)
    store.items = [] // e.g. the user is looking at another page
    store.apply('a', inc('a', { level: 'III' }), false)
    expect(store.total).toBe(1)
    store.apply('a', inc('a', { state: 'closed' }), false)
    expect(store.total).toBe(0)
  })

  it('builds map points only for incidents with a location', () => {
    expect(toPoint(inc('a', { lon: null, lat: null }))).toBeNull()
    expect(toPoint(inc('a'))?.geometry.coordinates).toEqual([119.05, 27.55])
  })
})

describe('map styling of incidents', () => {
  it('uses the warning colours and alerts from level III up', () => {
    expect(levelColor('I')).toBe('#d9001b')
    expect(levelColor('IV')).toBe('#1e6fd9')
    expect(levelColor('X')).toBe('#909399')
    expect(['I', 'II', 'III', 'IV'].map(severity)).toEqual([4, 3, 2, 1])
    expect(['I', 'II', 'III', 'IV'].map(isAlerting)).toEqual([true, true, true, false])
  })
  it('shortens large cluster counts', () => {
    expect([7, 999, 1000, 1250, 12_400].map(clusterLabel)).toEqual(['7', '999', '1k', '1.3k', '12k'])
  })
  it('switches base layers on a running map, falling back to the offline look', () => {
    const calls: unknown[][] = []
    const fake = {
      getLayer: (id: string) => (id.startsWith('base-') ? {} : undefined),
      setLayoutProperty: (...a: unknown[]) => calls.push(['layout', ...a]),
      setPaintProperty: (...a: unknown[]) => calls.push(['paint', ...a]),
    }
    setBaseLayer(fake, 2, 1)
    expect(calls).toContainEqual(['layout', 'base-0', 'visibility', 'none'])
    expect(calls).toContainEqual(['layout', 'base-1', 'visibility', 'visible'])
    expect(calls).toContainEqual(['paint', 'background', 'background-color', '#ffffff'])
    calls.length = 0
    setBaseLayer(fake, 2, -1)
    expect(calls).toContainEqual(['layout', 'base-1', 'visibility', 'none'])
    expect(calls).toContainEqual(['paint', 'background', 'background-color', '#eef2f6'])
  })
})

describe('time range inputs in Asia/Shanghai', () => {
  it('reads and writes wall time at +08:00 whatever the browser zone', () => {
    expect(fromShanghaiLocal('2026-12-01T09:30')).toBe('2026-12-01T09:30:00+08:00')
    expect(fromShanghaiLocal('')).toBeNull()
    expect(toShanghaiLocal('2026-12-01T01:30:00Z')).toBe('2026-12-01T09:30')
    expect(toShanghaiLocal(null)).toBe('')
  })
})
