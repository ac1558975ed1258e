/**
 * 主叫定位 — a 110/119/120 caller's location drawn as the circle of its accuracy radius: a
 * handset's fix is a small circle, a base station's cell a wide one.
 */
export interface CallerCircle {
  lon: number
  lat: number
  /** metres */
  accuracy_m: number
  /** handset (AML/GNSS) or base_station */
  source: string
}

const EARTH_RADIUS_M = 6_371_008.8

/** A closed ring of `steps` + 1 [lon, lat] points at `radius` metres around (lon, lat). */
export function circleRing(lon: number, lat: number, radius: number, steps = 64): [number, number][] {
  const ring: [number, number][] = []
  const phi = (lat * Math.PI) / 180
  const angular = radius / EARTH_RADIUS_M
  for (let i = 0; i <= steps; i++) {
    const bearing = ((i % steps) / steps) * 2 * Math.PI
    const lat2 = Math.asin(Math.sin(phi) * Math.cos(angular) + Math.cos(phi) * Math.sin(angular) * Math.cos(bearing))
    const lon2 =
      (lon * Math.PI) / 180 +
      Math.atan2(Math.sin(bearing) * Math.sin(angular) * Math.cos(phi), Math.cos(angular) - Math.sin(phi) * Math.sin(lat2))
    ring.push([(lon2 * 180) / Math.PI, (lat2 * 180) / Math.PI])
  }
  return ring
}

/** The circle as a GeoJSON feature collection (empty without a circle), for a map source. */
export function circleFeatures(circle: CallerCircle | null): GeoJSON.FeatureCollection {
  if (!circle) return { type: 'FeatureCollection', features: [] }
  return {
    type: 'FeatureCollection',
    features: [
      {
        type: 'Feature',
        properties: { source: circle.source, accuracy_m: circle.accuracy_m },
        geometry: { type: 'Polygon', coordinates: [circleRing(circle.lon, circle.lat, circle.accuracy_m)] },
      },
    ],
  }
}

/** A stored report's caller location as a circle, or null when the call carried none. */
export function callerCircleOf(report: {
  caller_lon?: number | null
  caller_lat?: number | null
  caller_accuracy_m?: number | null
  caller_source?: string | null
}): CallerCircle | null {
  if (report.caller_lon == null || report.caller_lat == null || report.caller_accuracy_m == null) return null
  return {
    lon: report.caller_lon,
    lat: report.caller_lat,
    accuracy_m: report.caller_accuracy_m,
    source: report.caller_source ?? 'base_station',
  }
}
