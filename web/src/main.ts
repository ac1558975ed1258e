import { createApp } from 'vue'
import { createPinia } from 'pinia'
import App from './App.vue'
import { router } from './router'
import { i18n, currentLocale } from './i18n'
import { onUnauthorized } from './api/client'
import { useAuthStore } from './stores/auth'
import { useEventsStore } from './stores/events'
import './styles/base.css'

const app = createApp(App)
const pinia = createPinia()
app.use(pinia).use(i18n).use(router)
document.documentElement.lang = currentLocale()

// Any 401 from the API means the session is gone: drop it and go to the sign-in page.
onUnauthorized(() => {
  const auth = useAuthStore(pinia)
  if (!auth.signedIn) return
  auth.forget()
  const events = useEventsStore(pinia)
  events.disconnect()
  events.clear()
  const current = router.currentRoute.value
  if (!current.meta.public) {
    void router.replace({ name: 'login', query: { redirect: current.fullPath, expired: '1' } })
  }
})

// After a redeploy an open tab may ask for a chunk that no longer exists: reload once.
router.onError((error, to) => {
  const msg = error instanceof Error ? error.message : String(error)
  if (/dynamically imported module|Importing a module script failed|error loading dynamically/i.test(msg)) {
    const key = 'yingji.chunkReload'
    if (sessionStorage.getItem(key) !== to.fullPath) {
      sessionStorage.setItem(key, to.fullPath)
      window.location.assign(to.fullPath)
    }
  }
})

app.mount('#app')
