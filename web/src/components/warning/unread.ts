/** A tiny signal between the notifications list and the bell: "the unread count changed". */
type Listener = () => void
const listeners = new Set<Listener>()

export const unreadChanged = {
  on(listener: Listener): () => void {
    listeners.add(listener)
    return () => listeners.delete(listener)
  },
  emit(): void {
    for (const l of listeners) l()
  },
}
