import { describe, expect, it } from 'vitest'
import { framesUntil, nextMoment, placed } from '@/components/incident/replay'

const frames = [
  { at: '2026-07-14T02:00:00Z', kind: 'report', lon: 119.0, lat: 27.5 },
  { at: '2026-07-14T02:05:00Z', kind: 'timeline', lon: null, lat: null },
  { at: '2026-07-14T02:05:00Z', kind: 'timeline', lon: null, lat: null },
  { at: '2026-07-14T09:00:00Z', kind: 'arrival', lon: 119.1, lat: 27.6 },
]

describe('replay', () => {
  it('shows the frames up to the moment', () => {
    expect(framesUntil(frames, Date.parse('2026-07-14T02:05:00Z'))).toHaveLength(3)
    expect(framesUntil(frames, Date.parse('2026-07-14T01:00:00Z'))).toHaveLength(0)
  })
  it('places only frames with a point', () => {
    expect(placed(frames).map((f) => f.kind)).toEqual(['report', 'arrival'])
  })
  it('steps by frames, skipping the quiet night, and ends', () => {
    const start = Date.parse('2026-07-14T02:05:00Z')
    expect(nextMoment(frames, start)).toBe(Date.parse('2026-07-14T09:00:00Z'))
    expect(nextMoment(frames, Date.parse('2026-07-14T09:00:00Z'))).toBeNull()
  })
})
