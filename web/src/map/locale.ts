/**
 * MapLibre's own words (control titles, aria labels, the cooperative-gestures hint "Use Ctrl +
 * scroll to zoom the map") in the user's language: pass `locale: mapLocale()` to `new Map`.
 */
import { i18n } from '@/i18n'

const KEYS = [
  'AttributionControl.ToggleAttribution',
  'AttributionControl.MapFeedback',
  'FullscreenControl.Enter',
  'FullscreenControl.Exit',
  'GeolocateControl.FindMyLocation',
  'GeolocateControl.LocationNotAvailable',
  'LogoControl.Title',
  'Map.Title',
  'Marker.Title',
  'NavigationControl.ResetBearing',
  'NavigationControl.ZoomIn',
  'NavigationControl.ZoomOut',
  'Popup.Close',
  'ScaleControl.Feet',
  'ScaleControl.Meters',
  'ScaleControl.Kilometers',
  'ScaleControl.Miles',
  'ScaleControl.NauticalMiles',
  'GlobeControl.Enable',
  'GlobeControl.Disable',
  'TerrainControl.Enable',
  'TerrainControl.Disable',
  'CooperativeGesturesHandler.WindowsHelpText',
  'CooperativeGesturesHandler.MacHelpText',
  'CooperativeGesturesHandler.MobileHelpText',
] as const

export function mapLocale(): Record<string, string> {
  const { t, te } = i18n.global
  const out: Record<string, string> = {}
  for (const key of KEYS) {
    const message = `words.mapUi.${key.replace('.', '_')}`
    if (te(message)) out[key] = t(message)
  }
  return out
}
