/**
 * What the browser keeps for one signed-in user (localStorage): each key names its kind and the
 * user's id, so a colleague signing in at the same desk never reads it. Storage may be
 * unavailable (private mode, quota): reads then find nothing and writes are dropped.
 */
const PREFIX = 'yingji.'

export function userKey(kind: string, userId: string): string {
  return `${PREFIX}${kind}.${userId}`
}

function storage(): Storage | null {
  try {
    return typeof localStorage === 'undefined' ? null : localStorage
  } catch {
    return null
  }
}

export function readUserItem(kind: string, userId: string): unknown {
  try {
    const raw = storage()?.getItem(userKey(kind, userId))
    return raw ? (JSON.parse(raw) as unknown) : null
  } catch {
    return null
  }
}

export function writeUserItem(kind: string, userId: string, value: unknown): void {
  try {
    storage()?.setItem(userKey(kind, userId), JSON.stringify(value))
  } catch {
    // storage full or unavailable: nothing kept
  }
}

export function removeUserItem(kind: string, userId: string): void {
  try {
    storage()?.removeItem(userKey(kind, userId))
  } catch {
    // unavailable
  }
}

/** Drop every user's items of a kind (at sign-out, for what must not outlive the session). */
export function forgetKind(kind: string): void {
  const s = storage()
  if (!s) return
  try {
    const start = `${PREFIX}${kind}.`
    const keys = Array.from({ length: s.length }, (_, i) => s.key(i)).filter(
      (k): k is string => !!k && k.startsWith(start),
    )
    keys.forEach((k) => s.removeItem(k))
  } catch {
    // unavailable
  }
}
